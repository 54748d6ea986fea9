"""GET /log_in (the page) and POST /log_in (the decision)."""

from __future__ import annotations

from flask import Blueprint, render_template, request, session
from flask_login import login_user

from facevoice.errors import MissingSample
from facevoice.storage.attempts import LOG_IN
from facevoice.storage.database import record_event
from facevoice.web.requests import answer, read_fields, username_field
from facevoice.web.services import services
from facevoice.web.session import LoginUser, end_attempt, find_attempt

bp = Blueprint("log_in", __name__)

REFUSED = (
    "Log-in failed: we could not confirm it is you. Try again facing the camera in good "
    "light and speaking clearly."
)


@bp.get("/log_in")
def page():  # type: ignore[no-untyped-def]
    """The log-in page."""
    return render_template("log_in.html")


@bp.post("/log_in")
def log_in():  # type: ignore[no-untyped-def]
    """Log in when this session's photo and voice both match the user's templates."""
    username = username_field(read_fields())
    attempt = find_attempt(username, LOG_IN)
    if attempt is None:
        raise MissingSample()
    # A missing sample raises before any work and keeps the attempt, so it can be added.
    user, result = services().accounts.verification(attempt)
    end_attempt(attempt)
    outcome = "accepted" if result.accepted else ("unknown_user" if user is None else "refused")
    record_event(
        services().database,
        "log_in",
        username,
        request.remote_addr or "",
        outcome,
        result.face.distance,
        result.voice.similarity,
    )
    if not result.accepted or user is None:
        return answer(401, REFUSED)
    session.clear()  # a new session at login: nothing from before carries over
    login_user(LoginUser.of(user))
    return answer(200, f"Welcome back, {user.username}.", redirect="/protected")
