"""Who is logged in (Flask-Login), and which attempt belongs to this client's session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, redirect, request, session
from flask_login import LoginManager, UserMixin
from werkzeug.wrappers import Response

from facevoice.biometrics.liveness import FaceChallenge, new_face_challenge
from facevoice.biometrics.speech import Challenge, new_challenge
from facevoice.errors import MissingSample
from facevoice.storage.attempts import Attempt
from facevoice.storage.challenges import FACE as FACE_PART
from facevoice.storage.challenges import VOICE as VOICE_PART
from facevoice.storage.database import User
from facevoice.storage.sessions import session_user
from facevoice.web.requests import answer
from facevoice.web.services import services

ATTEMPT_KEY = "attempt"
CHALLENGE_KEY = "challenge"
LOGIN_SESSION_KEY = "login_session"  # the token of the server-side login session

login_manager = LoginManager()


class LoginUser(UserMixin):
    """The logged-in person as Flask-Login sees them.

    Flask-Login's user id is the account's ``public_id``, never the reusable row id: a
    cookie of a deleted account can then never name whoever signs up next.
    """

    def __init__(self, public_id: str, username: str) -> None:
        self.id = public_id
        self.username = username

    @classmethod
    def of(cls, user: User) -> LoginUser:
        """The login identity of a stored user."""
        return cls(user.public_id, user.username)


def init_login(app: Flask) -> None:
    """Attach Flask-Login to the app."""
    login_manager.init_app(app)
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> LoginUser | None:
    """The logged-in user of a session, while its server-side login session lives.

    Checked on every request, so log-out, deleting the account and "log out everywhere"
    end every copy of the cookie at once.
    """
    token = session.get(LOGIN_SESSION_KEY)
    if not isinstance(token, str):
        return None  # a session from before server-side sessions, or none at all
    current = services()
    user = session_user(current.database, user_id, token, current.settings.session_max_seconds)
    return LoginUser.of(user) if user is not None else None


@login_manager.unauthorized_handler
def unauthorized() -> Response | tuple[Response, int]:
    """Pages for logged-in users send everyone else to the log-in page; POSTs answer 401."""
    if request.method != "GET":
        return answer(401, "Log in first.", redirect="/log_in")
    return redirect("/log_in")


def current_attempt(username: str, flow: str) -> Attempt:
    """This session's attempt for ``username`` in ``flow``, started if need be."""
    attempt = services().attempts.begin(session.get(ATTEMPT_KEY), username, flow)
    session[ATTEMPT_KEY] = attempt.id
    return attempt


def find_attempt(username: str, flow: str) -> Attempt | None:
    """This session's live attempt, if it is the one of ``username`` in ``flow``."""
    attempt = services().attempts.find(session.get(ATTEMPT_KEY))
    return attempt if attempt is not None and attempt.belongs_to(username, flow) else None


def end_attempt(attempt: Attempt) -> None:
    """Delete the attempt and forget it in the session."""
    services().attempts.end(attempt)
    session.pop(ATTEMPT_KEY, None)


@contextmanager
def concluding(attempt: Attempt | None) -> Iterator[None]:
    """End the attempt when the block is done, whatever the outcome, except a missing
    sample: then the attempt stays so the client can add what is missing."""
    missing = False
    try:
        yield
    except MissingSample:
        missing = True
        raise
    finally:
        if attempt is not None and not missing:
            end_attempt(attempt)


def issue_challenge() -> tuple[Challenge | None, FaceChallenge | None]:
    """A new log-in challenge for this session (what is switched on); the previous one ends."""
    settings = services().settings
    voice = face = None
    if settings.voice_challenge:
        voice = (
            Challenge(settings.fixed_voice_challenge)
            if settings.fixed_voice_challenge
            else new_challenge()
        )
    if settings.face_challenge:
        face = (
            FaceChallenge(settings.fixed_face_turn)
            if settings.fixed_face_turn
            else new_face_challenge()
        )  # type: ignore[arg-type]
    parts = {}
    if voice is not None:
        parts[VOICE_PART] = voice.digits
    if face is not None:
        parts[FACE_PART] = face.side
    session[CHALLENGE_KEY] = services().challenges.issue(parts, session.get(CHALLENGE_KEY))
    return voice, face


def take_voice_challenge() -> Challenge:
    """The digits this session's log-in recording must say; they cannot be used again."""
    return Challenge(services().challenges.take(session.get(CHALLENGE_KEY), VOICE_PART))


def take_face_challenge() -> FaceChallenge:
    """The side this session's head-turn burst must show; it cannot be used again."""
    side = services().challenges.take(session.get(CHALLENGE_KEY), FACE_PART)
    return FaceChallenge(side)  # type: ignore[arg-type]
