"""GET /log_in (the page) and POST /log_in (the decision)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, session

from facevoice.storage.attempts import LOG_IN
from facevoice.web.oidc import PENDING, pending_redirect
from facevoice.web.requests import answer, client_ip, read_fields, username_field
from facevoice.web.security import rate_limited, start_login_session
from facevoice.web.services import services
from facevoice.web.session import concluding, find_attempt, issue_challenge

bp = Blueprint("log_in", __name__)

REFUSED = (
    "Log-in failed: we could not confirm it is you. Try again facing the camera in good "
    "light and speaking clearly."
)


@bp.get("/log_in")
def page():  # type: ignore[no-untyped-def]
    """The log-in page."""
    return render_template("log_in.html")


@bp.get("/log_in/challenge")
@rate_limited()
def challenge():  # type: ignore[no-untyped-def]
    """A fresh challenge for this session's log-in: digits to say and a side to turn to.

    Each part is used once and lasts ``challenge_seconds``; a part switched off is null.
    """
    voice, face = issue_challenge()
    return jsonify(
        challenge=voice.text if voice else None,
        turn=face.side if face else None,
        instruction=face.instruction if face else None,
        expires_in=services().settings.challenge_seconds,
    )


@bp.post("/log_in")
@rate_limited()
def log_in():  # type: ignore[no-untyped-def]
    """Log in when this session's photo and voice both match the user's templates."""
    username = username_field(read_fields())
    attempt = find_attempt(username, LOG_IN)
    with concluding(attempt):
        user = services().accounts.log_in(username, attempt, client_ip())
    if user is None:
        return answer(401, REFUSED)
    # A fresh session keeps only the authorization request this log-in was for.
    pending = session.get(PENDING)
    start_login_session(user)
    target = pending_redirect(pending)
    if target is not None:
        session[PENDING] = pending
    return answer(200, f"Welcome back, {user.username}.", redirect=target or "/protected")
