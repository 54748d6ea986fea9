"""The user database: tables, connection, and the queries facevoice makes.

SQLite in ``db/`` by default, any SQLAlchemy URL otherwise (PostgreSQL is tested). The
schema is created and upgraded by the Alembic migrations in ``storage/migrations``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from facevoice.errors import ServiceUnavailable, UsernameTaken, short_reason
from facevoice.storage.attempts import username_key

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_KEY = 0x66616365766F  # "facevo": one advisory lock for schema migrations
PUBLIC_ID_BYTES = 16  # 128 random bits: 22 URL-safe characters
DEFAULT_TIMEOUT_SECONDS = 3.0
# A migration may wait for another worker's and alter whole tables: it gets longer.
MIGRATION_TIMEOUT_SECONDS = 120.0
# The server enforces statement_timeout; this much later the client gives up on its own
# (a frozen server enforces nothing).
CLIENT_GRACE_SECONDS = 1.0
FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS = 1.0, 15.0

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def new_public_id() -> str:
    """A random id for a new user: 22 URL-safe characters, never given out again."""
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


class Base(DeclarativeBase):
    """Base class of facevoice's tables."""


class User(Base):
    """A registered person: the name and both biometric templates, always together.

    ``id`` is internal only: SQLite hands the highest id out again after a delete. Whatever
    outlives a row (a session cookie, an OpenID Connect ``sub``) names the user by
    ``public_id``, random and unique, so it can never point at someone who signs up later.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, index=True, default=new_public_id
    )
    username: Mapped[str] = mapped_column(String(32))
    username_key: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    face_template: Mapped[bytes] = mapped_column(LargeBinary)
    voice_template: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FailureCounter:
    """Consecutive failed log-ins of one username, whether or not it is registered.

    Keeping them for unknown names too means lockout tells nothing about who exists. Each
    way in has its own table of this shape (``facevoice.storage.lockout`` takes the table).
    """

    username_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    consecutive: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginFailures(FailureCounter, Base):
    """Failed biometric (face and voice) log-ins."""

    __tablename__ = "login_failures"


class RecoveryFailures(FailureCounter, Base):
    """Failed recovery-code log-ins: a counter of their own, so neither way locks the other."""

    __tablename__ = "recovery_failures"


class RecoveryCode(Base):
    """One unused recovery code of a user, kept only as a salted scrypt hash.

    The codes of one set share a random salt (``facevoice.auth.recovery_codes`` says why);
    a used code's row is deleted, and a new set deletes the old one.
    """

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    salt: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginSession(Base):
    """One logged-in session, so the server can end it whatever copies of its cookie exist.

    The cookie carries a random token; only its SHA-256 is stored, so a copy of the database
    does not hold live sessions. Deleting the user deletes its sessions (``ON DELETE CASCADE``).
    """

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class AuditEvent(Base):
    """One sign-up, log-in attempt or account change, with its scores; server-side only.

    ``factors`` names the factors a log-in tried, comma-separated (``face,voice``,
    ``recovery_code``; ``facevoice.auth.factors``); the account page shows them, never the
    scores.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(64), index=True)
    client_ip: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    face_distance: Mapped[float | None] = mapped_column(Float)
    voice_similarity: Mapped[float | None] = mapped_column(Float)
    factors: Mapped[str | None] = mapped_column(String(64))


class Database:
    """An engine and its sessions; one per app.

    Every PostgreSQL connect and statement is bounded by ``timeout_seconds``. The schema is
    migrated by :meth:`upgrade`; while the database cannot be reached for that, sessions
    raise ``ServiceUnavailable`` and the migration is retried with a growing delay.
    """

    def __init__(self, url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _tune_sqlite)
        if self.engine.dialect.driver == "psycopg":
            event.listen(self.engine, "do_connect", self._connect_psycopg)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.migrated = False
        self.unavailable_reason = ""
        self._retry_at = 0.0
        self._retry_delay = FIRST_RETRY_SECONDS
        self._migrating = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        self.require_schema()
        with self._sessions() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest migration.

        Several workers or machines may start at once: a lock lets one migrate at a time
        (an advisory lock on PostgreSQL, a file lock beside a SQLite file).
        """
        with self._migration_lock(), self.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch migrations rebuild a SQLite table by copy, drop and rename: enforced
                # foreign keys would make dropping ``users`` delete every login session.
                _sqlite_foreign_keys(connection, on=False)
            try:
                with connection.begin(), _patience(connection, MIGRATION_TIMEOUT_SECONDS):
                    if connection.dialect.name == "postgresql":
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY}
                        )
                    config = alembic_config(self.url)
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            finally:
                if sqlite:
                    _sqlite_foreign_keys(connection, on=True)
        self.migrated = True

    def upgrade_when_reachable(self) -> bool:
        """Migrate unless done; False while the database is unreachable (retried later).

        A failed try waits 1 s before the next, doubling up to 15 s, so an outage costs each
        request nothing but the answer 503.
        """
        if self.migrated:
            return True
        with self._migrating:
            if self.migrated:
                return True
            if time.monotonic() < self._retry_at:
                return False
            try:
                self.upgrade()
            except (OperationalError, InterfaceError) as error:
                self._note_unreachable(error)
                return False
        if self.unavailable_reason:
            log.warning("database reachable again: schema migrated, serving requests")
            self.unavailable_reason = ""
        return True

    def require_schema(self) -> None:
        """Raise ``ServiceUnavailable`` unless the schema is migrated (trying if it is time)."""
        if not self.upgrade_when_reachable():
            raise ServiceUnavailable()

    def _note_unreachable(self, error: Exception) -> None:
        if not self.unavailable_reason:
            log.error(
                "database not reachable, answering 503 and retrying the migration: %s",
                short_reason(error),
            )
        self.unavailable_reason = short_reason(error)
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, MAX_RETRY_SECONDS)

    def _connect_psycopg(self, _dialect, _record, cargs, cparams) -> psycopg.Connection:  # type: ignore[no-untyped-def]
        # statement_timeout makes the server end slow statements; the client-side wait
        # ends the rest (a frozen server, a lost network) without hanging the worker.
        timeout = self.timeout_seconds
        cparams.setdefault("connect_timeout", max(1, round(timeout)))
        statement_timeout = f"-c statement_timeout={int(timeout * 1000)}"
        cparams["options"] = " ".join(filter(None, [cparams.get("options"), statement_timeout]))
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_seconds = timeout + CLIENT_GRACE_SECONDS
        return connection

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        database_file = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not database_file or database_file == ":memory:":
            yield
            return
        with open(f"{database_file}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class BoundedConnection(psycopg.Connection):  # type: ignore[type-arg]
    """A psycopg connection that waits at most ``wait_seconds`` for the server to answer.

    psycopg waits forever by default; when the wait runs out the connection is closed
    (its state is unknown), so the pool discards it, and an ``OperationalError`` is raised.
    """

    wait_seconds: float | None = None

    def wait(self, gen: Any, **options: Any) -> Any:
        """Consume ``gen`` as psycopg does, giving up after ``wait_seconds``."""
        if options.get("timeout") is None:
            options["timeout"] = self.wait_seconds
        try:
            return super().wait(gen, **options)
        except psycopg.errors._WaitTimeout:
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"the database did not answer within {options['timeout']:g} s"
            ) from None


@contextmanager
def _patience(connection: Connection, seconds: float) -> Iterator[None]:
    """Let the statements of this block run up to ``seconds`` each (PostgreSQL)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
    raw = connection.connection.dbapi_connection
    usual = getattr(raw, "wait_seconds", None)
    if isinstance(raw, BoundedConnection):
        raw.wait_seconds = seconds + CLIENT_GRACE_SECONDS
    try:
        yield
    finally:
        if isinstance(raw, BoundedConnection):
            raw.wait_seconds = usual


def alembic_config(url: str) -> Config:
    """Alembic configuration for the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # The pragma is a no-op inside a transaction, so it gets one of its own.
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


def _tune_sqlite(connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers and one writer work at once; busy_timeout waits for a lock
    # instead of failing when several workers write.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_user(session: Session, username: str) -> User | None:
    """The registered user with this name (any letter case), or None."""
    return session.scalar(select(User).where(User.username_key == username_key(username)))


def is_registered(database: Database, username: str) -> bool:
    """Whether a user with this name exists."""
    with database.session() as session:
        return get_user(session, username) is not None


def create_user(
    database: Database,
    username: str,
    face: bytes,
    voice: bytes,
    event: AuditEvent | None = None,
    recovery_codes: Sequence[RecoveryCode] = (),
) -> User:
    """Insert a user with both templates in one transaction; ``UsernameTaken`` if it exists.

    ``event`` (the sign-up's audit entry) and ``recovery_codes`` are written in the same
    transaction: a crash can leave all or nothing, never a user without its entry or codes.
    """
    try:
        with database.session() as session:
            if get_user(session, username) is not None:
                raise UsernameTaken()
            user = User(
                username=username,
                username_key=username_key(username),
                face_template=face,
                voice_template=voice,
            )
            session.add(user)
            if event is not None:
                session.add(event)
            session.flush()
            for code in recovery_codes:
                code.user_id = user.id
                session.add(code)
            return user
    except IntegrityError:
        # Two sign-ups of one name at once: the unique index lets only one through.
        raise UsernameTaken() from None


def audit_event(
    event_name: str,
    username: str,
    client_ip: str,
    outcome: str,
    face_distance: float | None = None,
    voice_similarity: float | None = None,
    factors: Iterable[str] = (),
) -> AuditEvent:
    """One audit entry, not yet written (long values cut to their columns)."""
    return AuditEvent(
        event=event_name,
        username=username[:64],
        client_ip=client_ip[:64],
        outcome=outcome,
        face_distance=face_distance,
        voice_similarity=voice_similarity,
        factors=",".join(factors)[:64] or None,
    )


def record_event(
    database: Database,
    event_name: str,
    username: str,
    client_ip: str,
    outcome: str,
    face_distance: float | None = None,
    voice_similarity: float | None = None,
    session: Session | None = None,
    factors: Iterable[str] = (),
) -> None:
    """Append one attempt to the audit log, in ``session``'s transaction if given."""
    entry = audit_event(
        event_name, username, client_ip, outcome, face_distance, voice_similarity, factors
    )
    if session is not None:
        session.add(entry)
        return
    with database.session() as own:
        own.add(entry)
