"""Lockout after repeated failed log-ins (NIST SP 800-63B-4 §3.2.3), kept in the database.

Counters live in SQL, so they survive restarts and hold across worker processes and
machines. They are kept per username whether or not the name is registered.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from facevoice.storage.attempts import username_key
from facevoice.storage.database import Database, LoginFailures, utcnow

UPSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


@dataclass(frozen=True)
class LockoutPolicy:
    """When failed log-ins slow an account down, and when they disable it."""

    wait_after: int = 5
    wait_seconds: int = 30
    disable_after: int = 50


@dataclass(frozen=True)
class LockoutState:
    """Whether a log-in may be tried now, and if not, for how long or why."""

    allowed: bool
    retry_after_seconds: int = 0
    disabled: bool = False
    consecutive_failures: int = 0


def lockout_state(
    database: Database, username: str, policy: LockoutPolicy, now: dt.datetime | None = None
) -> LockoutState:
    """May ``username`` try to log in now?"""
    now = now or utcnow()
    with database.session() as session:
        row = session.get(LoginFailures, username_key(username))
        if row is None:
            return LockoutState(allowed=True)
        count, last, disabled = row.consecutive, row.last_failed_at, row.disabled
    if disabled or count >= policy.disable_after:
        return LockoutState(allowed=False, disabled=True, consecutive_failures=count)
    if count >= policy.wait_after and last is not None:
        waited = (now - _aware(last)).total_seconds()
        if waited < policy.wait_seconds:
            retry = max(1, math.ceil(policy.wait_seconds - waited))
            return LockoutState(
                allowed=False, retry_after_seconds=retry, consecutive_failures=count
            )
    return LockoutState(allowed=True, consecutive_failures=count)


def record_failure(
    database: Database, username: str, policy: LockoutPolicy, now: dt.datetime | None = None
) -> int:
    """Count one more consecutive failure; return the new count."""
    now = now or utcnow()
    key = username_key(username)
    with database.session() as session:
        dialect = session.get_bind().dialect.name
        if dialect in UPSERTS:
            # One atomic statement, so concurrent workers never lose a count.
            statement = UPSERTS[dialect](LoginFailures).values(
                username_key=key, consecutive=1, last_failed_at=now, disabled=False
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[LoginFailures.username_key],
                    set_={"consecutive": LoginFailures.consecutive + 1, "last_failed_at": now},
                )
            )
        else:
            row = session.get(LoginFailures, key, with_for_update=True)
            if row is None:
                session.add(
                    LoginFailures(
                        username_key=key, consecutive=1, last_failed_at=now, disabled=False
                    )
                )
            else:
                row.consecutive += 1
                row.last_failed_at = now
            session.flush()
        count = session.scalar(
            select(LoginFailures.consecutive).where(LoginFailures.username_key == key)
        )
        if count is not None and count >= policy.disable_after:
            session.execute(
                update(LoginFailures).where(LoginFailures.username_key == key).values(disabled=True)
            )
        return int(count or 0)


def reset_failures(database: Database, username: str) -> bool:
    """Clear the failures of a username (after a success, or by an administrator).

    Returns whether there was anything to clear.
    """
    with database.session() as session:
        row = session.get(LoginFailures, username_key(username))
        if row is None:
            return False
        session.delete(row)
        return True


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
