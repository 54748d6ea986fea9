"""Every error becomes a JSON answer with a message a person can act on."""

from __future__ import annotations

import logging

from flask import Flask
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from facevoice.errors import FacevoiceError
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


def register(app: Flask) -> None:
    """Install the error handlers on the app."""

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

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unexpected error")
        return answer(500, "Something went wrong on our side. Please try again.")
