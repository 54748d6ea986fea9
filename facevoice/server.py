"""The production server: gunicorn with N worker processes, each with its own models."""

from __future__ import annotations

import logging
import os
from ipaddress import ip_address
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from facevoice.config import Settings
from facevoice.errors import ConfigurationError
from facevoice.web.security import trusted_networks

log = logging.getLogger(__name__)

# Inherited by every worker before torch or numpy start their thread pools.
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
AUTO_WORKERS = 0
BEHIND_A_PROXY = (
    "facevoice serve belongs behind a reverse proxy (nginx, see docs/deploying.md): "
    "its sync workers serve one connection each, so a few slow or idle clients reaching it "
    "directly can make it stop answering."
)
MEMORY_LIMITS_REFUSED = (
    "FACEVOICE_WORKERS={workers} with rate limits in memory would count them in each worker "
    "({workers} times the limit per client). Set FACEVOICE_RATELIMIT_STORAGE_URL=redis://... to "
    "share them, or leave FACEVOICE_WORKERS unset (one worker), or set "
    "FACEVOICE_RATELIMIT_STORAGE_URL=memory:// explicitly to accept per-worker limits."
)


class FacevoiceServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn running ``create_app()`` in each worker (no preloading: models load per worker)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Hand our options to gunicorn."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Build the app inside the worker process."""
        from facevoice import create_app

        return create_app()


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(settings: Settings, cores: int | None = None) -> int:
    """How many workers to run; ``ConfigurationError`` when that would be unsafe.

    Automatic (``FACEVOICE_WORKERS`` unset or 0): one per core, but one while rate limits
    are counted in memory by default, since each worker would count its own. Several workers
    with that implicit default are refused; an explicit ``memory://`` is the operator's choice.
    """
    if settings.workers < 0:
        raise ConfigurationError(f"FACEVOICE_WORKERS={settings.workers}: use 0 (auto) or more")
    implicit_memory = settings.ratelimit and not settings.ratelimit_storage_url
    if settings.workers == AUTO_WORKERS:
        return 1 if implicit_memory else cores or available_cores()
    if settings.workers > 1 and implicit_memory:
        raise ConfigurationError(MEMORY_LIMITS_REFUSED.format(workers=settings.workers))
    return settings.workers


def startup_notes(settings: Settings, workers: int) -> list[str]:
    """What an operator should know about this configuration, printed as the server starts."""
    notes = [BEHIND_A_PROXY]
    if not _is_loopback(settings.host):
        notes.append(
            f"listening on {settings.host}, not only on this machine: make sure only the "
            "reverse proxy can reach that port."
        )
    if settings.ratelimit_per_process and workers > 1:
        notes.append(
            f"rate limits are counted in each of the {workers} workers (memory://): a client "
            f"gets {workers} times each limit. Use FACEVOICE_RATELIMIT_STORAGE_URL=redis://..."
        )
    elif settings.ratelimit_per_process and settings.workers == AUTO_WORKERS:
        notes.append(
            "one worker, because rate limits are counted in memory: set "
            "FACEVOICE_RATELIMIT_STORAGE_URL=redis://... to run one worker per core."
        )
    return notes


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """Gunicorn settings for a facevoice installation."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": worker_count(settings),
        "worker_class": "sync",  # CPU-bound requests: one at a time per worker, one per core
        "timeout": settings.request_timeout_seconds,
        "graceful_timeout": 30,
        "accesslog": "-",
        "errorlog": "-",
        # gunicorn believes X-Forwarded-Proto from the same proxies the app trusts, only.
        "forwarded_allow_ips": _trusted_proxy_list(settings),
        # No ~/.gunicorn/gunicorn.ctl: nothing uses it, and it could change the worker count.
        "control_socket_disable": True,
    }


def hide_server_banner() -> None:
    """Make gunicorn send no ``Server`` header: it would tell scanners what to try."""
    from gunicorn.http import wsgi

    default_headers = wsgi.Response.default_headers
    if getattr(default_headers, "without_banner", False):
        return

    def without_server(response: Any) -> list[str]:
        return [line for line in default_headers(response) if not line.startswith("Server:")]

    without_server.without_banner = True  # type: ignore[attr-defined]
    wsgi.Response.default_headers = without_server


def migrate_before_forking(settings: Settings) -> None:
    """Migrate the schema once in the master, so workers start on it; never fatal."""
    from facevoice.storage.database import Database
    from facevoice.storage.folders import make_dirs

    make_dirs(settings.data_dir)
    database = Database(settings.database_url, settings.database_timeout_seconds)
    try:
        if not database.upgrade_when_reachable():
            log.warning("starting anyway: each worker migrates once the database answers")
    finally:
        database.dispose()  # no connection may be shared with the forked workers


def serve(settings: Settings) -> None:
    """Run gunicorn in the foreground until stopped (``ConfigurationError`` if unsafe)."""
    options = gunicorn_options(settings)
    for note in startup_notes(settings, options["workers"]):
        log.warning("%s", note)
    for name, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(name, value)
    migrate_before_forking(settings)
    hide_server_banner()
    FacevoiceServer(options).run()


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _trusted_proxy_list(settings: Settings) -> str:
    if not settings.proxy_hops:
        return ""
    return ",".join(str(network) for network in trusted_networks(settings.trusted_proxies))
