"""GET /sign_up (the page, or whether a name is taken) and POST /sign_up."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from facevoice.storage.attempts import SIGN_UP
from facevoice.storage.database import is_registered
from facevoice.web.requests import answer, client_ip, read_fields, username_field, wants_json
from facevoice.web.security import rate_limited
from facevoice.web.services import services
from facevoice.web.session import concluding, find_attempt

bp = Blueprint("sign_up", __name__)


def is_name_check() -> bool:
    """Whether this GET /sign_up asks if a name is taken, rather than for the page."""
    return "username" in request.args and wants_json()


@bp.get("/sign_up")
@rate_limited(exempt_when=lambda: not is_name_check())
def page():  # type: ignore[no-untyped-def]
    """The sign-up page, or with ``?username=`` and a JSON Accept header, whether it is taken."""
    if is_name_check():
        username = username_field(request.args)
        return jsonify(username=username, registered=is_registered(services().database, username))
    return render_template("sign_up.html", max_phrases=services().settings.max_enroll_phrases)


@bp.post("/sign_up")
@rate_limited()
def sign_up():  # type: ignore[no-untyped-def]
    """Create the user from this session's photo and voice phrases; answer its recovery codes.

    The codes are in this answer only (the server keeps their hashes).
    """
    username = username_field(read_fields())
    attempt = find_attempt(username, SIGN_UP)
    with concluding(attempt):
        _, codes = services().accounts.sign_up(username, attempt, client_ip())
    return answer(
        201,
        f"Welcome, {username}! You can now log in with your face and voice. Keep your "
        "recovery codes somewhere safe: they are shown only now.",
        recovery_codes=codes,
    )
