"""The passkey (WebAuthn) factor: registering a passkey, proving one, and managing them.

py_webauthn does the ceremonies (stateless functions); this module keeps what it needs
around them: the challenge (in the caller's ``ChallengeStore``, single use and short-lived),
the credentials (``PasskeyCredential``), the audit log. User verification (a PIN or the
device's own unlock) is always required, so a passkey alone is already two factors: the
device and what unlocks it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from facevoice.auth.factors import PASSKEY
from facevoice.config import Settings
from facevoice.errors import ConfigurationError, PasskeyRefused, ServiceUnavailable
from facevoice.storage.database import (
    Database,
    PasskeyCredential,
    User,
    get_user,
    record_event,
    utcnow,
)

OFF, OPTIONAL, REQUIRED = "off", "optional", "required"
MODES = (OFF, OPTIONAL, REQUIRED)
RP_NAME = "facevoice"
TIMEOUT_MS = 120_000
MAX_NAME_CHARS = 64
DEFAULT_NAME = "My passkey"
USER_HANDLE_BYTES = 16
KNOWN_TRANSPORTS = {transport.value for transport in AuthenticatorTransport}


@dataclass(frozen=True)
class NewPasskey:
    """A verified registration, not yet stored (a sign-up keeps it until the account exists)."""

    credential_id: str
    public_key: bytes
    sign_count: int
    transports: str
    backed_up: bool
    name: str = DEFAULT_NAME

    def to_json(self) -> str:
        """The registration as JSON, to wait in a sign-up attempt."""
        return json.dumps({**self.__dict__, "public_key": self.public_key.hex()})

    @classmethod
    def from_json(cls, text: str) -> NewPasskey:
        """A registration kept by :meth:`to_json`."""
        values = json.loads(text)
        return cls(**{**values, "public_key": bytes.fromhex(values["public_key"])})

    def row(self) -> PasskeyCredential:
        """The credential's table row (its user still to set)."""
        return PasskeyCredential(
            credential_id=self.credential_id,
            public_key=self.public_key,
            sign_count=self.sign_count,
            transports=self.transports,
            backed_up=self.backed_up,
            name=self.name,
        )


@dataclass(frozen=True)
class Proof:
    """A passkey that proved itself for a user: ``backed_up`` says synced (``swk``)."""

    user: User
    backed_up: bool


def check_mode(mode: str) -> str:
    """The passkey mode, or ``ConfigurationError`` naming the valid ones."""
    if mode not in MODES:
        raise ConfigurationError(f"FACEVOICE_PASSKEYS={mode!r}: use one of {', '.join(MODES)}")
    return mode


def passkey_name(value: object) -> str:
    """The name a person gave a passkey, trimmed to the column; a default when empty."""
    if not isinstance(value, str) or not value.strip():
        return DEFAULT_NAME
    return " ".join(value.split())[:MAX_NAME_CHARS]


def has_passkey(database: Database, user: User) -> bool:
    """Whether the account has a registered passkey."""
    with database.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(PasskeyCredential)
            .where(PasskeyCredential.user_id == user.id)
        )
    return bool(count)


def credentials_of(database: Database, user: User) -> list[PasskeyCredential]:
    """The user's passkeys, oldest first."""
    with database.session() as session:
        return list(
            session.scalars(
                select(PasskeyCredential)
                .where(PasskeyCredential.user_id == user.id)
                .order_by(PasskeyCredential.id)
            )
        )


class PasskeyFactor:
    """WebAuthn ceremonies for the configured origin, and the user's stored passkeys."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.mode = check_mode(settings.passkeys)
        self.alone = settings.passkey_only_login
        self.origin = settings.webauthn_origin
        self.rp_id = settings.webauthn_rp_id
        self.database = database

    @property
    def enabled(self) -> bool:
        """Whether new passkeys can be registered (existing ones always work)."""
        return self.mode != OFF

    def registration_options(
        self, username: str, existing: list[PasskeyCredential]
    ) -> tuple[str, str]:
        """Options for ``navigator.credentials.create`` (JSON) and their challenge (base64url).

        The user handle is random: it never tells the username or the account's ids.
        """
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=RP_NAME,
            user_name=username,
            user_id=secrets.token_bytes(USER_HANDLE_BYTES),
            timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=_descriptors(existing),
        )
        return options_to_json(options), bytes_to_base64url(options.challenge)

    def verify_registration(self, response: object, challenge: str, name: object) -> NewPasskey:
        """The verified new passkey of a ``create`` response, with the name the person gave
        it; ``PasskeyRefused`` otherwise."""
        try:
            verified = verify_registration_response(
                credential=response,  # type: ignore[arg-type]
                expected_challenge=_challenge_bytes(challenge),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=True,
            )
        except Exception:  # py_webauthn raises more than its own errors on malformed input
            raise PasskeyRefused("The passkey could not be registered. Try again.") from None
        return NewPasskey(
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=_transports(response),
            backed_up=verified.credential_backed_up,
            name=passkey_name(name),
        )

    def add(self, user: User, new: NewPasskey, client_ip: str) -> None:
        """Store a verified passkey for an existing user; audited. ``PasskeyRefused`` if taken."""
        with self.database.session() as session:
            if session.scalar(_by_credential_id(new.credential_id)) is not None:
                raise PasskeyRefused("This passkey is registered already.")
            row = new.row()
            row.user_id = user.id
            session.add(row)
            record_event(
                self.database,
                "account",
                user.username,
                client_ip,
                "passkey_added",
                session=session,
            )

    def authentication_options(self, username: str) -> tuple[str, str, bool]:
        """Options for ``navigator.credentials.get`` (JSON), their challenge, and whether
        the account has a passkey (an unknown name looks like an account without one)."""
        with self.database.session() as session:
            user = get_user(session, username)
        existing = credentials_of(self.database, user) if user is not None else []
        options = generate_authentication_options(
            rp_id=self.rp_id,
            timeout=TIMEOUT_MS,
            allow_credentials=_descriptors(existing),
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return options_to_json(options), bytes_to_base64url(options.challenge), bool(existing)

    def authenticate(
        self, username: str, response: object, challenge: str, client_ip: str, purpose: str
    ) -> Proof:
        """The proof of a ``get`` response by one of ``username``'s passkeys; audited.

        Another user's passkey, a removed one, a replayed or cloned one (its signature
        counter did not grow), another origin: all ``PasskeyRefused``, with one message.
        """
        try:
            proof = self._verify(username, response, challenge)
        except ServiceUnavailable:
            raise  # the database is down (503): nothing was refused
        except Exception:  # py_webauthn raises more than its own errors on malformed input
            record_event(self.database, "log_in", username, client_ip, "refused", factors=[PASSKEY])
            raise PasskeyRefused() from None
        record_event(self.database, "log_in", username, client_ip, purpose, factors=[PASSKEY])
        return proof

    def _verify(self, username: str, response: object, challenge: str) -> Proof:
        credential_id = response.get("id") if isinstance(response, dict) else None
        if not isinstance(credential_id, str):
            raise ValueError("no credential id")
        with self.database.session() as session:
            user = get_user(session, username)
            row = session.scalar(_by_credential_id(credential_id))
            if user is None or row is None or row.user_id != user.id:
                raise ValueError("not a passkey of this user")
            verified = verify_authentication_response(
                credential=response,  # type: ignore[arg-type]
                expected_challenge=_challenge_bytes(challenge),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=row.public_key,
                credential_current_sign_count=row.sign_count,
                require_user_verification=True,
            )
            row.sign_count = verified.new_sign_count
            row.backed_up = verified.credential_backed_up
            row.last_used_at = utcnow()
            return Proof(user=user, backed_up=verified.credential_backed_up)

    def rename(self, user: User, passkey_id: int, name: object, client_ip: str) -> bool:
        """Give one of the user's passkeys a new name; whether it exists. Audited."""
        with self.database.session() as session:
            row = _own(session, user, passkey_id)
            if row is None:
                return False
            row.name = passkey_name(name)
            record_event(
                self.database,
                "account",
                user.username,
                client_ip,
                "passkey_renamed",
                session=session,
            )
            return True

    def remove(self, user: User, passkey_id: int, client_ip: str) -> bool:
        """Delete one of the user's passkeys; whether it existed. Audited."""
        with self.database.session() as session:
            row = _own(session, user, passkey_id)
            if row is None:
                return False
            session.delete(row)
            record_event(
                self.database,
                "account",
                user.username,
                client_ip,
                "passkey_removed",
                session=session,
            )
            return True


def _own(session, user: User, passkey_id: int) -> PasskeyCredential | None:  # type: ignore[no-untyped-def]
    """The user's passkey of this id, or None (another user's is None too)."""
    row = session.get(PasskeyCredential, passkey_id)
    return row if row is not None and row.user_id == user.id else None


def _by_credential_id(credential_id: str):  # type: ignore[no-untyped-def]
    return select(PasskeyCredential).where(PasskeyCredential.credential_id == credential_id)


def _descriptors(rows: list[PasskeyCredential]) -> list[PublicKeyCredentialDescriptor]:
    """The credentials a ceremony names (to exclude at registration, to allow at log-in)."""
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(row.credential_id),
            transports=[AuthenticatorTransport(t) for t in row.transports.split(",") if t],
        )
        for row in rows
    ]


def _transports(response: object) -> str:
    """The transports a browser reported for a new passkey (known names only)."""
    inner = response.get("response") if isinstance(response, dict) else None
    listed = inner.get("transports") if isinstance(inner, dict) else None
    if not isinstance(listed, list):
        return ""
    return ",".join(t for t in listed if isinstance(t, str) and t in KNOWN_TRANSPORTS)[:128]


def _challenge_bytes(challenge: str) -> bytes:
    """A challenge kept as base64url, as py_webauthn expects it."""
    return base64url_to_bytes(challenge)
