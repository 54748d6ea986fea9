"""The production server: gunicorn with N worker processes, each with its own models."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from facevoice.config import Settings

# Inherited by every worker before torch or numpy start their thread pools.
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


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


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """Gunicorn settings for a facevoice installation."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": "sync",  # CPU-bound requests: one at a time per worker, one per core
        "timeout": settings.request_timeout_seconds,
        "graceful_timeout": 30,
        "accesslog": "-",
        "errorlog": "-",
        "forwarded_allow_ips": "*" if settings.proxy_hops else "127.0.0.1",
    }


def serve(settings: Settings) -> None:
    """Run gunicorn in the foreground until stopped."""
    for name, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(name, value)
    FacevoiceServer(gunicorn_options(settings)).run()
