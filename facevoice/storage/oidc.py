"""Tables of the OpenID Connect provider: clients, codes, tokens and consents.

Everything lives in the database, so several machines behind one issuer share it. Client
secrets, codes, access and refresh tokens are kept only as SHA-256 hashes: they are long
random strings, so a copy of the database holds nothing that works.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from facevoice.storage.database import Base, Database, utcnow

CLIENT_ID_BYTES = 16
SECRET_BYTES = 32
MAX_SECRET_CHARS = 128  # longer than anything we hand out: refuse without hashing


def secret_hash(value: str) -> str:
    """What the database keeps of a secret, code or token: its SHA-256, in hex."""
    return hashlib.sha256(value.encode()).hexdigest()


class OidcClient(Base):
    """A relying party registered with ``facevoice clients add``."""

    __tablename__ = "oidc_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))  # None: a public client
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris_json: Mapped[str] = mapped_column(Text)
    post_logout_redirect_uris_json: Mapped[str] = mapped_column(Text, default="[]")
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def redirect_uris(self) -> list[str]:
        """The registered redirect URIs, compared exactly."""
        return list(json.loads(self.redirect_uris_json))

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        """Where RP-initiated logout may send the browser back to."""
        return list(json.loads(self.post_logout_redirect_uris_json or "[]"))

    @property
    def public(self) -> bool:
        """Whether the client has no secret (it must prove PKCE alone)."""
        return self.secret_hash is None


class OidcCode(Base):
    """An authorization code: valid briefly, once; later uses revoke what it issued."""

    __tablename__ = "oidc_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oidc_clients.client_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[int] = mapped_column(Integer)
    amr: Mapped[str] = mapped_column(String(200))  # space-separated RFC 8176 values
    acr: Mapped[str] = mapped_column(String(200))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class OidcToken(Base):
    """An access token and its refresh token; a family is everything one code led to."""

    __tablename__ = "oidc_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family: Mapped[str] = mapped_column(String(64), index=True)  # the code's hash
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oidc_clients.client_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    access_expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    refresh_used: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    auth_time: Mapped[int] = mapped_column(Integer)
    amr: Mapped[str] = mapped_column(String(200))
    acr: Mapped[str] = mapped_column(String(200))


class OidcConsent(Base):
    """A user's yes to a client, remembered until revoked."""

    __tablename__ = "oidc_consents"

    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oidc_clients.client_id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def new_client_id() -> str:
    """A random client id; never one starting with "-", which a command line takes for an option."""
    while True:
        client_id = secrets.token_urlsafe(CLIENT_ID_BYTES)
        if not client_id.startswith("-"):
            return client_id


def add_client(
    database: Database,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    public: bool = False,
    first_party: bool = False,
) -> tuple[str, str | None]:
    """Register a client; return its id and, for a confidential client, its secret (once)."""
    client_id = new_client_id()
    secret = None if public else secrets.token_urlsafe(SECRET_BYTES)
    with database.session() as session:
        session.add(
            OidcClient(
                client_id=client_id,
                secret_hash=None if secret is None else secret_hash(secret),
                name=name,
                redirect_uris_json=json.dumps(redirect_uris),
                post_logout_redirect_uris_json=json.dumps(post_logout_redirect_uris or []),
                first_party=first_party,
            )
        )
    return client_id, secret


def list_clients(database: Database) -> list[OidcClient]:
    """Every registered client, oldest first."""
    with database.session() as session:
        return list(session.scalars(select(OidcClient).order_by(OidcClient.created_at)))


def get_client(database: Database, client_id: str) -> OidcClient | None:
    """The client with this id, or None."""
    if not client_id or len(client_id) > 64:
        return None
    with database.session() as session:
        return session.get(OidcClient, client_id)


def remove_client(database: Database, client_id: str) -> bool:
    """Delete a client with its codes, tokens and consents; whether it existed."""
    with database.session() as session:
        for table in (OidcCode, OidcToken, OidcConsent):
            session.execute(delete(table).where(table.client_id == client_id))
        result = session.execute(delete(OidcClient).where(OidcClient.client_id == client_id))
        return bool(result.rowcount)


def delete_user_rows(session, user_id: int) -> None:  # type: ignore[no-untyped-def]
    """Delete a user's codes, tokens and consents (account deletion), in ``session``."""
    for table in (OidcCode, OidcToken, OidcConsent):
        session.execute(delete(table).where(table.user_id == user_id))


def save_code(database: Database, code: OidcCode) -> None:
    """Store a new code, deleting codes expired a day ago on the way."""
    with database.session() as session:
        session.execute(
            delete(OidcCode).where(OidcCode.expires_at < utcnow() - dt.timedelta(days=1))
        )
        session.add(code)


def claim_code(database: Database, code: str, client_id: str) -> OidcCode | None:
    """The live code, marked used in the same step; None otherwise.

    A code used before revokes every token its first use issued (RFC 6749 §4.1.2): someone
    else holds it.
    """
    if not code or len(code) > MAX_SECRET_CHARS:
        return None
    key = secret_hash(code)
    now = utcnow()
    with database.session() as session:
        claimed = session.execute(
            update(OidcCode)
            .where(
                OidcCode.code_hash == key,
                OidcCode.client_id == client_id,
                OidcCode.used_at.is_(None),
                OidcCode.expires_at > now,
            )
            .values(used_at=now)
        )
        if claimed.rowcount:
            return session.get(OidcCode, key)
        found = session.get(OidcCode, key)
        if found is not None and found.used_at is not None:
            revoke_family(session, key)
        return None


def revoke_family(session, family: str) -> None:  # type: ignore[no-untyped-def]
    """Revoke every token one code led to, in ``session``."""
    session.execute(update(OidcToken).where(OidcToken.family == family).values(revoked=True))


def save_token(database: Database, token: OidcToken) -> None:
    """Store a new token row."""
    with database.session() as session:
        session.add(token)


def find_access_token(database: Database, access_token: str) -> OidcToken | None:
    """The live (unrevoked, unexpired) token row of an access token."""
    if not access_token or len(access_token) > MAX_SECRET_CHARS:
        return None
    with database.session() as session:
        return session.scalar(
            select(OidcToken).where(
                OidcToken.access_token_hash == secret_hash(access_token),
                OidcToken.revoked.is_(False),
                OidcToken.access_expires_at > utcnow(),
            )
        )


def claim_refresh_token(database: Database, refresh_token: str, client_id: str) -> OidcToken | None:
    """The live token row of a refresh token, marked used in the same step; None otherwise.

    Refresh tokens rotate: a second use of one means it was copied, so the whole family
    (every token from the same log-in) is revoked.
    """
    if not refresh_token or len(refresh_token) > MAX_SECRET_CHARS:
        return None
    key = secret_hash(refresh_token)
    now = utcnow()
    with database.session() as session:
        claimed = session.execute(
            update(OidcToken)
            .where(
                OidcToken.refresh_token_hash == key,
                OidcToken.client_id == client_id,
                OidcToken.refresh_used.is_(False),
                OidcToken.revoked.is_(False),
                OidcToken.refresh_expires_at > now,
            )
            .values(refresh_used=True)
        )
        found = session.scalar(select(OidcToken).where(OidcToken.refresh_token_hash == key))
        if claimed.rowcount:
            return found
        if found is not None and found.refresh_used:
            revoke_family(session, found.family)
        return None


def consented_scope(database: Database, user_id: int, client_id: str) -> set[str] | None:
    """The scopes a user allowed a client, or None if never asked (or revoked)."""
    with database.session() as session:
        consent = session.get(OidcConsent, (user_id, client_id))
        return None if consent is None else set(consent.scope.split())


def remember_consent(database: Database, user_id: int, client_id: str, scope: set[str]) -> None:
    """Remember that a user allowed a client these scopes (merged with earlier ones)."""
    with database.session() as session:
        consent = session.get(OidcConsent, (user_id, client_id))
        if consent is None:
            session.add(OidcConsent(user_id=user_id, client_id=client_id, scope=" ".join(scope)))
        else:
            consent.scope = " ".join(sorted(scope | set(consent.scope.split())))
            consent.granted_at = utcnow()


def user_consents(database: Database, user_id: int) -> list[tuple[OidcConsent, OidcClient]]:
    """Every client a user allowed, with the consent, for the account page."""
    with database.session() as session:
        rows = session.execute(
            select(OidcConsent, OidcClient)
            .join(OidcClient, OidcClient.client_id == OidcConsent.client_id)
            .where(OidcConsent.user_id == user_id)
            .order_by(OidcClient.name)
        ).all()
        return [(consent, client) for consent, client in rows]


def revoke_consent(database: Database, user_id: int, client_id: str) -> bool:
    """Forget a consent and revoke the client's tokens for this user; whether it existed."""
    with database.session() as session:
        session.execute(
            update(OidcToken)
            .where(OidcToken.user_id == user_id, OidcToken.client_id == client_id)
            .values(revoked=True)
        )
        result = session.execute(
            delete(OidcConsent).where(
                OidcConsent.user_id == user_id, OidcConsent.client_id == client_id
            )
        )
        return bool(result.rowcount)


def nonce_used(database: Database, client_id: str, nonce: str) -> bool:
    """Whether a code was already issued to this client for this nonce (a replay)."""
    with database.session() as session:
        return (
            session.scalar(
                select(OidcCode.code_hash).where(
                    OidcCode.client_id == client_id, OidcCode.nonce == nonce
                )
            )
            is not None
        )
