"""What an administrator does from the command line: users, the audit log, template keys."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from facevoice.auth.recovery_codes import RecoveryCodes
from facevoice.config import Settings
from facevoice.storage.attempts import username_key
from facevoice.storage.database import (
    AuditEvent,
    Database,
    LoginFailures,
    LoginSession,
    PasskeyCredential,
    RecoveryCode,
    RecoveryFailures,
    User,
    get_user,
    record_event,
)
from facevoice.storage.folders import make_dirs
from facevoice.storage.lockout import LockoutPolicy, reset_failures
from facevoice.storage.oidc import delete_user_rows
from facevoice.storage.sessions import end_user_sessions
from facevoice.storage.templates import (
    FACE,
    VOICE,
    TemplateCipher,
    TemplateKeyError,
    load_cipher,
    new_key_text,
    parse_key,
    parse_keys,
    write_key_file,
)

AUDIT_FIELDS = (
    "at",
    "event",
    "username",
    "client_ip",
    "outcome",
    "face_distance",
    "voice_similarity",
    "factors",
)
DELETED = "(deleted account)"  # the audit log's name for an account once it is deleted
CLI_ADDRESS = "cli"  # the audit log's client address of changes made from the command line


@dataclass(frozen=True)
class UserRow:
    """A registered user as the administrator sees it (never the templates)."""

    username: str
    created_at: dt.datetime
    consecutive_failures: int
    disabled: bool


def list_users(database: Database) -> list[UserRow]:
    """Every registered user with its failure count, by name."""
    with database.session() as session:
        rows = session.execute(
            select(User, LoginFailures)
            .outerjoin(LoginFailures, LoginFailures.username_key == User.username_key)
            .order_by(User.username_key)
        ).all()
        return [
            UserRow(
                user.username,
                user.created_at,
                failures.consecutive if failures else 0,
                bool(failures and failures.disabled),
            )
            for user, failures in rows
        ]


def delete_user(database: Database, username: str, client_ip: str = CLI_ADDRESS) -> bool:
    """Delete a user with all their data: templates, recovery codes, sessions, both failure
    counters, audit entries, OpenID Connect codes, tokens and consents.

    Every session of the user ends at once. The deletion itself is audited without the
    name (``DELETED``), so nothing about the person is left. Returns whether a registered
    user was deleted (the other data goes either way). The account page and the
    ``facevoice users delete`` command both call this.
    """
    key = username_key(username)
    with database.session() as session:
        for counter in (LoginFailures, RecoveryFailures):
            session.execute(delete(counter).where(counter.username_key == key))
        session.execute(delete(AuditEvent).where(func.lower(AuditEvent.username) == key))
        user = get_user(session, username)
        if user is None:
            return False
        # The foreign keys cascade too; deleting here does not depend on them being enforced.
        for table in (LoginSession, RecoveryCode, PasskeyCredential):
            session.execute(delete(table).where(table.user_id == user.id))
        delete_user_rows(session, user.id)
        session.delete(user)
        record_event(database, "account", DELETED, client_ip, "deleted", session=session)
        return True


def new_recovery_codes(database: Database, username: str) -> list[str] | None:
    """A fresh set of recovery codes for a user (the old set stops working); None if no user.

    For an operator helping someone who lost both their codes and their way in by face and
    voice, once they proved who they are another way.
    """
    with database.session() as session:
        user = get_user(session, username)
    if user is None:
        return None
    return RecoveryCodes(database, LockoutPolicy()).replace(user, CLI_ADDRESS)


def activity(database: Database, username: str, limit: int = 20) -> list[AuditEvent]:
    """A user's own audit entries (any letter case of the name), newest first."""
    with database.session() as session:
        query = (
            select(AuditEvent)
            .where(func.lower(AuditEvent.username) == username_key(username))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
        return list(session.scalars(query))


def log_out_everywhere(database: Database, username: str) -> int | None:
    """End every session of a user; how many ended, or None if there is no such user."""
    return end_user_sessions(database, username)


def enable_user(database: Database, username: str) -> bool:
    """Re-enable log-in (biometric and recovery code) of a locked or disabled username;
    whether either was locked."""
    biometric = reset_failures(database, username)
    recovery = reset_failures(database, username, counter=RecoveryFailures)
    return biometric or recovery


def audit_events(
    database: Database, username: str | None = None, limit: int | None = None
) -> list[AuditEvent]:
    """Audit entries, newest first, optionally of one username."""
    with database.session() as session:
        query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        if username:
            query = query.where(AuditEvent.username == username)
        if limit:
            query = query.limit(limit)
        return list(session.scalars(query))


def export_audit(events: Iterable[AuditEvent], fmt: str) -> str:
    """Audit entries as CSV or JSON text."""
    rows = [{name: _plain(getattr(event, name)) for name in AUDIT_FIELDS} for event in events]
    if fmt == "json":
        return json.dumps(rows, indent=2)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=AUDIT_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def reencrypt_templates(database: Database, cipher: TemplateCipher) -> int:
    """Seal every template again with the cipher's current key; return how many users."""
    count = 0
    with database.session() as session:
        for user in session.scalars(select(User)):
            face = cipher.open(user.face_template, user.username_key, FACE)
            voice = cipher.open(user.voice_template, user.username_key, VOICE)
            user.face_template = cipher.seal(face, user.username_key, FACE)
            user.voice_template = cipher.seal(voice, user.username_key, VOICE)
            count += 1
    return count


def rotate_template_key(settings: Settings, database: Database, new_key: str = "") -> int:
    """Replace the template key with a new one and re-encrypt every template.

    With a key file: the new key is added first (so a crash leaves every template readable),
    templates are re-encrypted, then the old key is dropped. With ``FACEVOICE_TEMPLATE_KEY``
    the caller passes ``new,old`` there and updates it to ``new`` afterwards.
    """
    if settings.template_key:
        keys = parse_keys(settings.template_key)
        if len(keys) < 2:
            raise TemplateKeyError(
                "FACEVOICE_TEMPLATE_KEY holds one key: set it to 'NEW,OLD' to rotate"
            )
        return reencrypt_templates(database, TemplateCipher(keys[0], tuple(keys[1:])))
    path = settings.template_key_path
    old = load_cipher("", path).keys
    fresh = parse_key(new_key or new_key_text())
    write_key_file(path, [fresh, *old])
    count = reencrypt_templates(database, TemplateCipher(fresh, tuple(old)))
    write_key_file(path, [fresh])
    return count


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def database_of(settings: Settings) -> Database:
    """The database of these settings, upgraded to the current schema.

    The data folder is made first: on a fresh installation the CLI may run before the site.
    """
    make_dirs(settings.data_dir)
    database = Database(settings.database_url, settings.database_timeout_seconds)
    database.upgrade()
    return database
