"""Who is logged in (Flask-Login), and which attempt belongs to this client's session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, redirect, session
from flask_login import LoginManager, UserMixin
from werkzeug.wrappers import Response

from facevoice.errors import MissingSample
from facevoice.storage.attempts import Attempt
from facevoice.storage.database import User
from facevoice.web.services import services

ATTEMPT_KEY = "attempt"

login_manager = LoginManager()


class LoginUser(UserMixin):
    """The logged-in person as Flask-Login sees them."""

    def __init__(self, user_id: int, username: str) -> None:
        self.id = str(user_id)
        self.username = username

    @classmethod
    def of(cls, user: User) -> LoginUser:
        """The login identity of a stored user."""
        return cls(user.id, user.username)


def init_login(app: Flask) -> None:
    """Attach Flask-Login to the app."""
    login_manager.init_app(app)
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> LoginUser | None:
    """The logged-in user of a session, if the account still exists."""
    if not user_id.isdigit():
        return None
    with services().database.session() as db:
        user = db.get(User, int(user_id))
        return LoginUser.of(user) if user is not None else None


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """Pages for logged-in users send everyone else to the log-in page."""
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
