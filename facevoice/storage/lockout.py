"""Lockout after repeated failed log-ins (NIST SP 800-63B-4 §3.2.3), kept in the database.

Counters live in SQL, so they survive restarts and hold across worker processes and
machines. They are kept per username whether or not the name is registered, and per way
in: every function takes the counter table (``LoginFailures`` for face and voice, the
default; ``RecoveryFailures`` for recovery codes), so one way's lockout never blocks another.

A log-in reserves its try with :func:`reserve_attempt` before any comparison: one atomic
statement checks the lockout and counts the try as a failure, and a success clears it. A
separate check and count would let parallel log-ins all pass the check before any counts.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from facevoice.storage.attempts import username_key
from facevoice.storage.database import Database, FailureCounter, LoginFailures, utcnow

UPSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
Counter = type[FailureCounter]


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
    database: Database,
    username: str,
    policy: LockoutPolicy,
    now: dt.datetime | None = None,
    counter: Counter = LoginFailures,
) -> LockoutState:
    """May ``username`` try to log in now? (A read only: :func:`reserve_attempt` decides.)"""
    now = now or utcnow()
    with database.session() as session:
        return _state_of(session.get(counter, username_key(username)), policy, now)


def reserve_attempt(
    database: Database,
    username: str,
    policy: LockoutPolicy,
    now: dt.datetime | None = None,
    counter: Counter = LoginFailures,
) -> LockoutState:
    """Check the lockout and count one try as a failure, in one atomic step.

    Allowed means the try was counted (clear it with :func:`reset_failures` on success);
    otherwise nothing changed and the state says for how long or why. However many log-ins
    run at once, on any number of workers, at most ``policy.wait_after`` are allowed, and
    then one per ``wait_seconds``. The wait runs from the reservation of the last try.
    """
    now = now or utcnow()
    key = username_key(username)
    with database.session() as session:
        dialect = session.get_bind().dialect.name
        reserve = _reserve_by_upsert if dialect in UPSERTS else _reserve_by_row_lock
        count = reserve(session, key, policy, now, counter)
    if count is not None:
        return LockoutState(allowed=True, consecutive_failures=count)
    state = lockout_state(database, username, policy, now, counter)
    if state.allowed:
        # The wait ended between the two statements: this try still was not counted.
        return LockoutState(
            allowed=False, retry_after_seconds=1, consecutive_failures=state.consecutive_failures
        )
    return state


def _may_try(policy: LockoutPolicy, now: dt.datetime, counter: Counter) -> ColumnElement[bool]:
    """The rule of :func:`_state_of` in SQL, on the stored row."""
    waited_since = now - dt.timedelta(seconds=policy.wait_seconds)
    return and_(
        counter.disabled.is_(False),
        counter.consecutive < policy.disable_after,
        or_(
            counter.consecutive < policy.wait_after,
            counter.last_failed_at.is_(None),
            counter.last_failed_at <= waited_since,
        ),
    )


def _reserve_by_upsert(
    session: Session, key: str, policy: LockoutPolicy, now: dt.datetime, counter: Counter
) -> int | None:
    # INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING: PostgreSQL locks the row and
    # evaluates the WHERE on its newest version; SQLite runs the statement under its write
    # lock. Either way no two tries see the same count.
    statement = UPSERTS[session.get_bind().dialect.name](counter).values(
        username_key=key,
        consecutive=1,
        last_failed_at=now,
        disabled=policy.disable_after <= 1,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[counter.username_key],
        set_={
            "consecutive": counter.consecutive + 1,
            "last_failed_at": now,
            "disabled": counter.consecutive + 1 >= policy.disable_after,
        },
        where=_may_try(policy, now, counter),
    ).returning(counter.consecutive)
    count = session.execute(statement).scalar()
    return None if count is None else int(count)


def _reserve_by_row_lock(
    session: Session, key: str, policy: LockoutPolicy, now: dt.datetime, counter: Counter
) -> int | None:
    # Other databases: SELECT ... FOR UPDATE holds the row until the transaction ends.
    row = session.get(counter, key, with_for_update=True)
    if row is None:
        row = counter(username_key=key, consecutive=0, disabled=False)
        session.add(row)
    elif not _state_of(row, policy, now).allowed:
        return None
    row.consecutive += 1
    row.last_failed_at = now
    row.disabled = row.consecutive >= policy.disable_after
    session.flush()
    return row.consecutive


def _state_of(row: FailureCounter | None, policy: LockoutPolicy, now: dt.datetime) -> LockoutState:
    """The lockout state a counter row stands for."""
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
    database: Database,
    username: str,
    policy: LockoutPolicy,
    now: dt.datetime | None = None,
    counter: Counter = LoginFailures,
) -> int:
    """Count one more consecutive failure; return the new count.

    For failures found outside a reserved log-in (a liveness challenge not met at capture).
    """
    now = now or utcnow()
    key = username_key(username)
    with database.session() as session:
        dialect = session.get_bind().dialect.name
        if dialect in UPSERTS:
            # One atomic statement, so concurrent workers never lose a count.
            statement = UPSERTS[dialect](counter).values(
                username_key=key, consecutive=1, last_failed_at=now, disabled=False
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[counter.username_key],
                    set_={"consecutive": counter.consecutive + 1, "last_failed_at": now},
                )
            )
        else:
            row = session.get(counter, key, with_for_update=True)
            if row is None:
                session.add(
                    counter(username_key=key, consecutive=1, last_failed_at=now, disabled=False)
                )
            else:
                row.consecutive += 1
                row.last_failed_at = now
            session.flush()
        count = session.scalar(select(counter.consecutive).where(counter.username_key == key))
        if count is not None and count >= policy.disable_after:
            session.execute(
                update(counter).where(counter.username_key == key).values(disabled=True)
            )
        return int(count or 0)


def reset_failures(database: Database, username: str, counter: Counter = LoginFailures) -> bool:
    """Clear the failures of a username (after a success, or by an administrator).

    Returns whether there was anything to clear.
    """
    with database.session() as session:
        row = session.get(counter, username_key(username))
        if row is None:
            return False
        session.delete(row)
        return True


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
