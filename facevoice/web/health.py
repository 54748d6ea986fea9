"""GET /healthz (the process answers) and GET /readyz (it can serve log-ins)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from facevoice.web.services import services

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """Liveness: the process is up and answering."""
    return jsonify(ok=True, status="alive")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """Readiness: models loaded, database and Redis (where configured) reachable."""
    checks = {
        "models": services().accounts.models.warmed,
        "database": _database_reachable(),
        **{f"redis:{name}": _redis_reachable(url) for name, url in _redis_urls().items()},
    }
    ready = all(checks.values())
    return jsonify(ok=ready, status="ready" if ready else "not ready", checks=checks), (
        200 if ready else 503
    )


def _database_reachable() -> bool:
    try:
        with services().database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "not reachable"
        log.warning("database not reachable", exc_info=True)
        return False


def _redis_urls() -> dict[str, str]:
    settings = services().settings
    urls = {"ratelimit": settings.ratelimit_storage_url, "attempts": settings.attempt_store_url}
    return {name: url for name, url in urls.items() if url.startswith(("redis", "unix"))}


def _redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        log.warning("redis not reachable at %s", url, exc_info=True)
        return False
