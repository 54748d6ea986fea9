"""Every error becomes an answer with a message a person can act on.

JSON for the pages' own requests and for API clients; a page in the site's layout for a
browser that asks for a page (a mistyped address, a server failure while loading a page).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, make_response, render_template
from flask_wtf.csrf import CSRFError
from redis import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from facevoice.errors import FacevoiceError, PoorCapture, ServiceUnavailable, short_reason
from facevoice.web.requests import answer, wants_page

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "The request is malformed.",
    404: "There is no such page.",
    405: "This address does not accept that method.",
    413: "The upload is too large.",
    415: "This content type is not supported.",
    429: "Too many attempts. Wait a little and try again.",
}
UNEXPECTED = "Something went wrong on our side. Please try again."
# The headings of the error pages (a browser's view of the status).
PAGE_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Page not found",
    405: "Not available this way",
    413: "Too large",
    415: "Not supported",
    429: "Too many tries",
    500: "Something went wrong",
    503: "Temporarily unavailable",
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


def error_answer(
    status: int, message: str, headers: Iterable[tuple[str, str]] = (), **extra: Any
) -> Response:
    """The answer to an error: a page in the site's layout for a browser asking for a page,
    else the JSON answer with any ``extra`` fields; ``headers`` (``Retry-After``, ``Allow``)
    go with either."""
    response = error_page(status, message) if wants_page() else None
    if response is None:
        response, _ = answer(status, message, **extra)
        response.status_code = status
    for name, value in headers:
        response.headers[name] = value
    return response


def error_page(status: int, message: str) -> Response | None:
    """The HTML error page, or None if even that cannot be made (then JSON answers)."""
    try:
        # Past 500 the user is not looked up: the database may be what failed.
        html = render_template(
            "error.html",
            status=status,
            title=PAGE_TITLES.get(status, "Something went wrong"),
            message=message,
            server_failure=status >= 500,
        )
    except Exception:
        log.exception("the error page for %s could not be made", status)
        return None
    return make_response(html, status)


def register(app: Flask) -> None:
    """Install the error handlers on the app."""
    outages = OutageLog()

    @app.errorhandler(FacevoiceError)
    def facevoice_error(error: FacevoiceError):  # type: ignore[no-untyped-def]
        retry_after = getattr(error, "retry_after_seconds", None)
        headers = [] if retry_after is None else [("Retry-After", str(retry_after))]
        # A poor capture's message is the one fix that fits: the page shows it alone.
        fields = {"quality": True} if isinstance(error, PoorCapture) else {}
        return error_answer(error.status, error.message, headers, **fields)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        return answer(400, f"Security check failed ({error.description}) Reload the page.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if error.code is None or error.code < 400:
            return error  # not an error: a redirect Werkzeug raises
        # Keep headers the exception carries (Retry-After on 429, Allow on 405).
        headers = [(n, v) for n, v in error.get_headers() if n.lower() != "content-type"]
        message = HTTP_MESSAGES.get(error.code, error.description or error.name)
        return error_answer(error.code, message, headers)

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
        return error_answer(500, UNEXPECTED)
