"""Server-side login sessions: a cookie is logged in only while its row exists.

A signed cookie alone cannot be taken back: a copy keeps working until it expires. So each
log-in gets a row, found again from a random token in the cookie, and log-out, deleting the
account and "log out everywhere" delete rows; the cookie's idle and absolute lifetimes
(``facevoice.web.security``) still apply on top.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select

from facevoice.storage.database import Database, LoginSession, User, get_user, utcnow

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 64  # longer than any token we hand out: refuse without hashing


def token_hash(token: str) -> str:
    """What the database keeps of a session token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_login_session(database: Database, user: User, max_age_seconds: int) -> str:
    """Record a new session of ``user``; return the token its cookie carries.

    Sessions past their absolute lifetime are deleted on the way, so the table holds only
    sessions that could still be used.
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    with database.session() as session:
        session.execute(
            delete(LoginSession).where(
                LoginSession.created_at < now - dt.timedelta(seconds=max_age_seconds)
            )
        )
        session.add(LoginSession(token_hash=token_hash(token), user_id=user.id, created_at=now))
    return token


def session_user(
    database: Database, public_id: str, token: str, max_age_seconds: int
) -> User | None:
    """The user of a live session: the token's row exists, is young enough and is theirs."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    oldest = utcnow() - dt.timedelta(seconds=max_age_seconds)
    with database.session() as session:
        return session.scalar(
            select(User)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(
                LoginSession.token_hash == token_hash(token),
                LoginSession.created_at >= oldest,
                User.public_id == public_id,
            )
        )


def end_login_session(database: Database, token: str) -> bool:
    """End one session (log-out): no copy of its cookie opens anything again."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return False
    with database.session() as session:
        result = session.execute(
            delete(LoginSession).where(LoginSession.token_hash == token_hash(token))
        )
        return bool(result.rowcount)


def end_user_sessions(database: Database, username: str) -> int | None:
    """End every session of a user ("log out everywhere"); how many, or None if no such user."""
    with database.session() as session:
        user = get_user(session, username)
        if user is None:
            return None
        result = session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        return int(result.rowcount)
