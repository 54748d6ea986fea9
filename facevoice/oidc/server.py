"""The Authlib authorization server: code + PKCE S256, refresh tokens, ID tokens, logout.

Composed the Authlib way: an ``AuthorizationServer`` with one grant per rule. Only the
authorization-code grant (with ``CodeChallenge`` limited to S256 and ``OpenIDCode``
requiring a nonce) and the refresh-token grant are registered: no implicit, hybrid or
password grants exist here.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, grants
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc.jwk import KeySet

from facevoice.config import Settings
from facevoice.oidc.keys import ALGORITHM, KeyStore
from facevoice.storage import oidc as store
from facevoice.storage.database import Database, User, utcnow

OPENID, PROFILE, OFFLINE = "openid", "profile", "offline_access"
SCOPES = (OPENID, PROFILE, OFFLINE)
S256 = "S256"
TOKEN_BYTES = 32
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A nonce is stored and compared: printable ASCII of a sane length (PostgreSQL refuses NUL).
NONCE = re.compile(r"[\x21-\x7e]{1,255}")
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")


@dataclass(frozen=True)
class Subject:
    """The logged-in user an authorization is for, with what the log-in proved."""

    user_id: int
    public_id: str
    username: str
    auth_time: int
    amr: list[str] = field(default_factory=list)
    acr: str = ""


class Client(ClientMixin):
    """A registered client as Authlib sees it."""

    def __init__(self, row: store.OidcClient) -> None:
        self.row = row
        self.client_metadata = {"post_logout_redirect_uris": row.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        """The client's id."""
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        """None: every request must name its registered redirect URI."""
        return None

    def get_allowed_scope(self, scope: str) -> str:
        """The requested scopes facevoice knows."""
        return " ".join(s for s in scope_to_list(scope) or [] if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Whether the URI is registered, compared exactly."""
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        """Whether the secret matches the stored hash (confidential clients only)."""
        if self.row.secret_hash is None or len(client_secret) > store.MAX_SECRET_CHARS:
            return False
        return secrets.compare_digest(store.secret_hash(client_secret), self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Public clients authenticate with nothing, confidential ones with their secret."""
        if self.row.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        """Only the code flow."""
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """Codes and refresh tokens only."""
        return grant_type in ("authorization_code", "refresh_token")


class Code(AuthorizationCodeMixin):
    """A stored authorization code as Authlib sees it."""

    def __init__(self, row: store.OidcCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        """The redirect URI the code was issued to."""
        return self.row.redirect_uri

    def get_scope(self) -> str:
        """The granted scopes."""
        return self.row.scope

    def get_nonce(self) -> str:
        """The client's nonce, echoed in the ID token."""
        return self.row.nonce

    def get_auth_time(self) -> int:
        """When the user logged in."""
        return self.row.auth_time

    def get_acr(self) -> str:
        """The level the log-in reached."""
        return self.row.acr

    def get_amr(self) -> list[str]:
        """The factors the log-in proved."""
        return self.row.amr.split()


class RefreshToken:
    """A stored token row, found by its refresh token, as Authlib sees it."""

    def __init__(self, row: store.OidcToken) -> None:
        self.row = row

    def check_client(self, client: Client) -> bool:
        """Whether the token belongs to this client."""
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        """The scopes of the token."""
        return self.row.scope


class S256CodeChallenge(CodeChallenge):
    """PKCE required of every client, with S256 only: ``plain`` (and no method) is refused.

    Authlib's default allows ``plain``; ASVS 5.0 §10.4.6 does not.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = S256
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = [S256]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Any]] = {S256: compare_s256_code_challenge}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """Refuse an authorization request without an S256 code challenge."""
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE S256 is required.")
        if data.get("code_challenge_method") != S256:
            raise InvalidRequestError("Unsupported 'code_challenge_method': use S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """Require the verifier from confidential clients too."""
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class CodeGrant(grants.AuthorizationCodeGrant):
    """The authorization-code grant, codes stored hashed, valid briefly and once."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(TOKEN_AUTH_METHODS)

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Store the code's hash with what the log-in proved."""
        subject: Subject = request.user
        provider: Provider = self.server.provider
        data = request.payload.data
        store.save_code(
            provider.database,
            store.OidcCode(
                code_hash=store.secret_hash(code),
                client_id=request.client.get_client_id(),
                user_id=subject.user_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce", ""),
                auth_time=subject.auth_time,
                amr=" ".join(subject.amr),
                acr=subject.acr,
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                expires_at=utcnow() + dt.timedelta(seconds=provider.settings.oidc_code_seconds),
            ),
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        """The live code, used up by this call; a reused code revokes its tokens."""
        row = store.claim_code(self.server.provider.database, code, client.get_client_id())
        return Code(row) if row is not None else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Keep the used code: a later use of it must still be recognised."""

    def authenticate_user(self, authorization_code: Code) -> Subject | None:
        """The user the code was issued for, if the account still exists."""
        row = authorization_code.row
        return self.server.provider.subject(row.user_id, row.auth_time, row.amr.split(), row.acr)


class RefreshGrant(grants.RefreshTokenGrant):
    """Refresh tokens that rotate on every use; a reused one revokes its family."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(TOKEN_AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        """The live token of a refresh token, used up by this call."""
        client_id = self.request.client.get_client_id()
        row = store.claim_refresh_token(self.server.provider.database, refresh_token, client_id)
        return RefreshToken(row) if row is not None else None

    def authenticate_user(self, refresh_token: RefreshToken) -> Subject | None:
        """The user of the token, with the log-in it came from."""
        row = refresh_token.row
        return self.server.provider.subject(row.user_id, row.auth_time, row.amr.split(), row.acr)

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Nothing left to do: the old refresh token was used up when it was accepted."""


class IdToken(OpenIDCode):
    """ID tokens signed with the newest key, nonce required."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def validate_openid_authorization_request(self, grant: Any, redirect_uri: str) -> None:
        """Require a nonce we can store: printable ASCII, at most 255 characters."""
        nonce = grant.request.payload.data.get("nonce")
        if nonce and not NONCE.fullmatch(nonce):
            raise InvalidRequestError("Invalid 'nonce'", redirect_uri=redirect_uri)
        super().validate_openid_authorization_request(grant, redirect_uri)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Whether this client already used the nonce: a replayed request."""
        return store.nonce_used(self.provider.database, request.payload.client_id, nonce)

    def resolve_client_private_key(self, client: Client) -> Any:
        """The signing key."""
        return self.provider.keys.signing_key().key

    def get_client_algorithm(self, client: Client) -> str:
        """RS256."""
        return ALGORITHM

    def get_encode_header(self, client: Client) -> dict[str, str]:
        """The header names the key, so verifiers pick it from the JWKS."""
        return {"alg": ALGORITHM, "kid": self.provider.keys.signing_key().kid}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        """``iss``, ``aud`` and ``exp``."""
        return {
            "iss": self.provider.settings.oidc_issuer,
            "aud": client.get_client_id(),
            "exp": int(time.time()) + self.provider.settings.oidc_id_token_seconds,
        }

    def generate_user_info(self, user: Subject, scope: str) -> UserInfo:
        """The user's claims for these scopes."""
        return self.provider.user_info(user, scope)


class EndSession(EndSessionEndpoint):
    """RP-initiated logout: ``post_logout_redirect_uri`` must be registered for the client."""

    def __init__(self, provider: Provider, end_session: Any) -> None:
        super().__init__()
        self.provider = provider
        self._end_session = end_session

    def get_server_jwks(self) -> KeySet:
        """Our published keys, to check ``id_token_hint``."""
        return self.provider.keys.public_key_set()

    def end_session(self, end_session_request: Any) -> None:
        """Log the browser out."""
        self._end_session()


class Provider:
    """The OpenID Connect provider of one app: its Authlib server, keys and storage."""

    def __init__(self, app: Any, settings: Settings, database: Database, end_session: Any) -> None:
        self.settings = settings
        self.database = database
        self.keys = KeyStore(settings.oidc_signing_key_path)
        self.keys.keys()  # made now (once per data folder), not on the first log-in
        self.server = AuthorizationServer(
            app, query_client=self.query_client, save_token=self.save_token
        )
        self.server.provider = self  # type: ignore[attr-defined]
        self.server.scopes_supported = list(SCOPES)
        self.server.register_token_generator("default", self.generate_token)
        self.server.register_grant(CodeGrant, [S256CodeChallenge(required=True), IdToken(self)])
        self.server.register_grant(RefreshGrant)
        self.server.register_endpoint(EndSession(self, end_session))

    def query_client(self, client_id: str) -> Client | None:
        """The registered client with this id."""
        if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
            return None  # never a query with bytes the database refuses
        row = store.get_client(self.database, client_id)
        return Client(row) if row is not None else None

    def subject(self, user_id: int, auth_time: int, amr: list[str], acr: str) -> Subject | None:
        """The subject of a stored code or token, if its user still exists."""
        with self.database.session() as session:
            user = session.get(User, user_id)
            if user is None:
                return None
            return Subject(user.id, user.public_id, user.username, auth_time, amr, acr)

    def user_info(self, user: Subject, scope: str) -> UserInfo:
        """``sub`` (the random public id, never the username), and the profile if granted."""
        info = UserInfo(sub=user.public_id)
        if PROFILE in scope_to_list(scope):
            info["preferred_username"] = user.username
        return info

    def generate_token(
        self,
        grant_type: str,
        client: Client,
        user: Subject | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """A bearer token; a refresh token only with scope ``offline_access``."""
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(TOKEN_BYTES),
            "expires_in": expires_in or self.settings.oidc_access_token_seconds,
            "scope": scope or "",
        }
        if include_refresh_token and OFFLINE in (scope_to_list(scope) or []):
            token["refresh_token"] = secrets.token_urlsafe(TOKEN_BYTES)
        return token

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store the token's hashes, in the family of the code (or refresh token) behind it."""
        subject: Subject = request.user
        now = utcnow()
        if request.authorization_code is not None:
            family = request.authorization_code.row.code_hash
        else:
            family = request.refresh_token.row.family
        refresh = token.get("refresh_token")
        store.save_token(
            self.database,
            store.OidcToken(
                family=family,
                client_id=request.client.get_client_id(),
                user_id=subject.user_id,
                access_token_hash=store.secret_hash(token["access_token"]),
                refresh_token_hash=store.secret_hash(refresh) if refresh else None,
                scope=token.get("scope", ""),
                issued_at=now,
                access_expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
                refresh_expires_at=(
                    now + dt.timedelta(seconds=self.settings.oidc_refresh_token_seconds)
                    if refresh
                    else None
                ),
                auth_time=subject.auth_time,
                amr=" ".join(subject.amr),
                acr=subject.acr,
            ),
        )
