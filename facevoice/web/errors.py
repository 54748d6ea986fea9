"""Every error becomes a JSON answer with a message a person can act on."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask
from flask_wtf.csrf import CSRFError
from redis import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from facevoice.errors import FacevoiceError, ServiceUnavailable, short_reason
from facevoice.web.requests import answer, wants_json

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "The request is malformed.",
    404: "There is no such page.",
    405: "This address does not accept that method.",
    413: "The upload is too large.",
    415: "This content type is not supported.",
    429: "Too many attempts. Wait a little and try again.",
}
OUTAGE_QUIET_SECONDS = 60  # failures closer together than this are one outage


class OutageLog:
    """Logs the first failure of a service in each outage, not every request it fails.

    An outage ends when the service has not failed for ``quiet_seconds``.
    """

    def __init__(
        self,
        quiet_seconds: float = OUTAGE_QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self._last_failure: dict[str, float] = {}
        self._lock = threading.Lock()

    def failed(self, service: str, error: BaseException) -> None:
        """Note a failure of ``service``; log it if it starts an outage."""
        now = self.clock()
        with self._lock:
            last = self._last_failure.get(service)
            self._last_failure[service] = now
        if last is None or now - last > self.quiet_seconds:
            log.error(
                "%s unavailable, answering 503 until it is back: %s", service, short_reason(error)
            )


def outage_service(error: Exception) -> str | None:
    """The service an error says is unreachable ("database", "redis"), or None for a bug."""
    if isinstance(error, RedisError):
        return "redis"
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return "database"
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return "database"
    return None


def register(app: Flask) -> None:
    """Install the error handlers on the app."""
    outages = OutageLog()

    @app.errorhandler(FacevoiceError)
    def facevoice_error(error: FacevoiceError):  # type: ignore[no-untyped-def]
        response, status = answer(error.status, error.message)
        retry_after = getattr(error, "retry_after_seconds", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response, status

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        return answer(400, f"Security check failed ({error.description}) Reload the page.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if not wants_json():
            return error
        status = error.code or 500
        response, status = answer(
            status, HTTP_MESSAGES.get(status, error.description or error.name)
        )
        # Keep headers the exception carries (Retry-After on 429, Allow on 405).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(SQLAlchemyError)
    @app.errorhandler(RedisError)
    def service_error(error: Exception):  # type: ignore[no-untyped-def]
        service = outage_service(error)
        if service is None:
            return unexpected_error(error)
        outages.failed(service, error)
        return facevoice_error(ServiceUnavailable())

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unexpected error")
        return answer(500, "Something went wrong on our side. Please try again.")
