"""GET /healthz (the process answers) and GET /readyz (it can serve log-ins, or why not)."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from facevoice.errors import short_reason
from facevoice.storage.attempts import is_redis_url, redis_options
from facevoice.web.services import services

bp = Blueprint("health", __name__)

PER_PROCESS_LIMITS = (
    "rate limits are counted in each worker process (memory://): with N workers a client "
    "gets N times the limit; share them with FACEVOICE_RATELIMIT_STORAGE_URL=redis://..."
)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """Liveness: the process is up and answering."""
    return jsonify(ok=True, status="alive")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """Readiness: models loaded, database and Redis (where configured) reachable.

    Each check is ``{"ok": ...}``, with a ``reason`` when it fails and a ``warning`` when it
    passes with a caveat.
    """
    checks = {
        "models": _models_check(),
        "database": _database_check(),
        **{f"redis:{name}": _redis_check(url) for name, url in _redis_urls().items()},
        "ratelimit": _ratelimit_check(),
    }
    ready = all(check["ok"] for check in checks.values())
    return jsonify(ok=ready, status="ready" if ready else "not ready", checks=checks), (
        200 if ready else 503
    )


def _passed(**details: Any) -> dict[str, Any]:
    return {"ok": True, **details}


def _failed(reason: str) -> dict[str, Any]:
    return {"ok": False, "reason": reason}


def _models_check() -> dict[str, Any]:
    if services().accounts.models.warmed:
        return _passed()
    return _failed("the models are still loading")


def _database_check() -> dict[str, Any]:
    database = services().database
    if not database.upgrade_when_reachable():
        return _failed(f"not reachable, schema not migrated yet: {database.unavailable_reason}")
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return _failed(f"not reachable: {short_reason(error)}")
    return _passed()


def _redis_urls() -> dict[str, str]:
    settings = services().settings
    urls = {"ratelimit": settings.ratelimit_storage, "attempts": settings.attempt_store_url}
    return {name: url for name, url in urls.items() if is_redis_url(url)}


def _redis_check(url: str) -> dict[str, Any]:
    client = redis.Redis.from_url(url, **redis_options(services().settings.redis_timeout_seconds))
    try:
        client.ping()
    except redis.RedisError as error:
        return _failed(f"not reachable: {short_reason(error)}")
    finally:
        client.close()
    return _passed()


def _ratelimit_check() -> dict[str, Any]:
    settings = services().settings
    if not settings.ratelimit:
        return _passed(warning="rate limiting is off")
    storage = settings.ratelimit_storage.split("://", 1)[0]  # never the URL: it may hold a password
    if settings.ratelimit_per_process:
        return _passed(storage=storage, warning=PER_PROCESS_LIMITS)
    return _passed(storage=storage)
