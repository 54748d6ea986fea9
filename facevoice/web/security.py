"""Rate limits, security headers, session lifetime and proxy trust."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, redirect, request, session
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import login_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import RequestRedirect

from facevoice.auth.factors import PASSKEY
from facevoice.config import Settings
from facevoice.errors import BadInput, ConfigurationError
from facevoice.storage.attempts import is_redis_url, redis_options, username_key
from facevoice.storage.database import User
from facevoice.storage.sessions import end_login_session, open_login_session
from facevoice.web.requests import answer, check_json_body, client_ip, is_valid_username, json_body
from facevoice.web.services import services
from facevoice.web.session import LOGIN_SESSION_KEY, LoginUser

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(self), geolocation=(), payment=(), usb=(), display-capture=()"
)
log = logging.getLogger(__name__)

HSTS = "max-age=31536000"
LOGIN_AT, SEEN_AT = "login_at", "seen_at"
PROVEN = "proven"  # our names of factors proven so far by a log-in not yet complete
PROVEN_FOR, PROVEN_AT = "proven_for", "proven_at"  # whose log-in, and since when
PROVEN_SYNCED = "proven_synced"  # the proven passkey is a synced one (amr "swk")
# A proven passkey waits this long for the photo and the voice (or a recovery code).
PROVEN_SECONDS = 600
AMR = "amr"  # RFC 8176 names of the factors this session's log-in proved
FACE_AND_VOICE = ("face", "vbm", "mfa")
CSRF_FIELD = "csrf_token"  # where Flask-WTF keeps its secret in the session
SEEN_RESOLUTION_SECONDS = 60  # refresh the idle clock at most once a minute

# The limiter's own headers would put a Retry-After on every answer; we add one to 429s only.
limiter = Limiter(key_func=client_ip, headers_enabled=False, key_prefix="facevoice")


def init_security(app: Flask, settings: Settings) -> None:
    """Attach rate limiting, security headers, session rules and proxy trust to the app."""
    app.config.update(
        RATELIMIT_ENABLED=settings.ratelimit,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage,
        # If Redis goes away, limit per process rather than fail every request.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        SESSION_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_NAME="__Host-session" if settings.https else "session",
        PREFERRED_URL_SCHEME="https" if settings.https else "http",
    )
    if is_redis_url(settings.ratelimit_storage):
        app.config["RATELIMIT_STORAGE_OPTIONS"] = redis_options(settings.redis_timeout_seconds)
    if settings.proxy_hops:
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, settings.proxy_hops, trusted_networks(settings.trusted_proxies)
        )
    if settings.public_host:
        app.wsgi_app = FixedHost(app.wsgi_app, settings.public_host)  # type: ignore[method-assign]
    app.before_request(keep_redirects_on_this_site)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    app.before_request(enforce_session_lifetime)
    # One guarded parse of a JSON body for every route, before the views and their limiters.
    app.before_request(check_json_body)
    app.after_request(add_security_headers)


def trusted_networks(addresses: str) -> list[IPv4Network | IPv6Network]:
    """The networks of a comma-separated list of addresses and CIDR networks."""
    try:
        parts = [part.strip() for part in addresses.split(",")]
        return [ip_network(part, strict=False) for part in parts if part]
    except ValueError as error:
        raise ConfigurationError(f"FACEVOICE_TRUSTED_PROXIES: {error}") from None


class TrustedProxyFix:
    """ProxyFix for X-Forwarded-For and X-Forwarded-Proto, from trusted proxies only.

    A client that reaches the app directly cannot pose as another address (to escape
    rate limits or fill the audit log): its forwarded headers are ignored. X-Forwarded-Host
    and the rest are never believed; the host comes from ``FixedHost``.
    """

    def __init__(
        self, app: WSGIApplication, hops: int, trusted: list[IPv4Network | IPv6Network]
    ) -> None:
        self.app = app
        self.trusted = trusted
        self.warned = False
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        """Apply the forwarded headers when the peer is a trusted proxy."""
        peer = environ.get("REMOTE_ADDR", "")
        if self.is_trusted(peer):
            return self.fixed(environ, start_response)
        if "HTTP_X_FORWARDED_FOR" in environ and not self.warned:
            # Once per process: a proxy missing from the list would make every client
            # share its address (and its rate limits).
            self.warned = True
            log.warning(
                "ignoring X-Forwarded-For from %s: not in FACEVOICE_TRUSTED_PROXIES (add it "
                "if it is your reverse proxy)",
                peer,
            )
        return self.app(environ, start_response)

    def is_trusted(self, address: str) -> bool:
        """Whether a peer address is one of the trusted proxies."""
        try:
            peer = ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.trusted)


class FixedHost:
    """Serve every request as our own host, whatever its Host header says.

    Redirects and absolute URLs then never point to a host a client chose.
    """

    def __init__(self, app: WSGIApplication, host: str) -> None:
        if not host or any(char in host for char in "/@ "):
            raise ConfigurationError(
                f"FACEVOICE_SERVER_NAME={host!r}: give a host[:port], not a URL"
            )
        self.app = app
        self.host = host

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        """Replace the request's host by ours."""
        environ["HTTP_HOST"] = self.host
        return self.app(environ, start_response)


def keep_redirects_on_this_site() -> Response | None:
    """Routing redirects (``/static//x`` to ``/static/x``) as paths, never to another host."""
    redirect_to = request.routing_exception
    if not isinstance(redirect_to, RequestRedirect):
        return None
    target = urlsplit(redirect_to.new_url)
    return redirect(urlunsplit(("", "", target.path, target.query, "")), redirect_to.code)


def too_many_requests(error: RateLimitExceeded) -> tuple[Response, int]:
    """429 with a JSON message and the seconds until the breached limit resets."""
    breached = limiter.current_limit
    wait = max(1, math.ceil(breached.reset_at - time.time())) if breached else 60
    response, status = answer(429, f"Too many attempts. Wait {wait} seconds and try again.")
    response.headers["Retry-After"] = str(wait)
    return response, status


def request_username() -> str | None:
    """The username a request names, from its query, JSON body or form, if valid."""
    if request.method == "GET":
        value: Any = request.args.get("username")
    elif request.is_json:
        try:
            body = json_body(services().settings.max_json_depth)
        except BadInput:
            body = None  # too deeply nested: the view refuses it; limit by address only
        value = body.get("username") if isinstance(body, dict) else None
    else:
        value = request.form.get("username")
    return value if is_valid_username(value) else None


def username_bucket() -> str:
    """Rate-limit key of the username a request names."""
    return "user:" + username_key(request_username() or "")


def rate_limited(exempt_when: Callable[[], bool] | None = None) -> Callable[[Any], Any]:
    """Limit a view per client address and per named username (limits from the settings)."""

    def is_exempt() -> bool:
        return exempt_when is not None and exempt_when()

    def decorate(view: Any) -> Any:
        per_ip = limiter.limit(
            lambda: services().settings.ratelimit_per_ip,
            key_func=client_ip,
            exempt_when=is_exempt,
            scope=lambda endpoint: f"ip:{endpoint}",
        )
        per_username = limiter.limit(
            lambda: services().settings.ratelimit_per_username,
            key_func=username_bucket,
            exempt_when=lambda: is_exempt() or request_username() is None,
            scope=lambda endpoint: f"user:{endpoint}",
        )
        return per_ip(per_username(view))

    return decorate


def clear_session() -> None:
    """Empty the session, all but the CSRF secret, so pages already open keep working."""
    csrf_secret = session.get(CSRF_FIELD)
    session.clear()
    if csrf_secret:
        session[CSRF_FIELD] = csrf_secret


def start_login_session(user: User, amr: tuple[str, ...] = FACE_AND_VOICE) -> None:
    """Log ``user`` in on a fresh session: nothing from before carries over.

    ``amr`` names the factors the log-in proved (RFC 8176: ``face``, ``vbm`` for the voice,
    ``hwk``/``swk`` for a passkey, ...); with the log-in time it is what identity features
    (the account page, an OpenID Connect provider) read back through ``login_record``.
    The session gets a server-side record (``facevoice.storage.sessions``) that log-out
    and account deletion remove, so copies of the cookie stop working with it.
    """
    clear_session()
    now = time.time()
    session[LOGIN_AT] = session[SEEN_AT] = now
    session[AMR] = list(amr)
    current = services()
    session[LOGIN_SESSION_KEY] = open_login_session(
        current.database, user, current.settings.session_max_seconds
    )
    login_user(LoginUser.of(user))


def login_record() -> tuple[float, list[str]] | None:
    """When this session logged in (Unix time) and the factors it proved; None if not."""
    if "_user_id" not in session or LOGIN_AT not in session:
        return None
    return float(session[LOGIN_AT]), list(session.get(AMR, FACE_AND_VOICE))


def prove_passkey(username: str, backed_up: bool) -> None:
    """Note that this session proved ``username``'s passkey, towards a log-in to come."""
    session[PROVEN] = [PASSKEY]
    session[PROVEN_FOR] = username_key(username)
    session[PROVEN_AT] = time.time()
    session[PROVEN_SYNCED] = backed_up


def proven_factors(username: str) -> list[str]:
    """Factors this session proved towards ``username``'s log-in not yet complete (a passkey,
    within ``PROVEN_SECONDS``); none for any other name."""
    if session.get(PROVEN_FOR) != username_key(username):
        return []
    proven_at = session.get(PROVEN_AT)
    if not isinstance(proven_at, float) or time.time() - proven_at > PROVEN_SECONDS:
        return []
    return [name for name in session.get(PROVEN, []) if isinstance(name, str)]


def proven_passkey_synced() -> bool:
    """Whether the passkey this session proved is synced between devices (``swk``)."""
    return session.get(PROVEN_SYNCED) is True


def is_fresh_login(max_age_seconds: int) -> bool:
    """Whether this session logged in within the last ``max_age_seconds``."""
    record = login_record()
    return record is not None and time.time() - record[0] <= max_age_seconds


def end_session() -> None:
    """Log out: end the server-side session (every copy of the cookie), then empty this one."""
    token = session.get(LOGIN_SESSION_KEY)
    if isinstance(token, str):
        end_login_session(services().database, token)
    logout_user()
    clear_session()


def enforce_session_lifetime() -> None:
    """Log out sessions idle too long or older than the absolute limit."""
    if "_user_id" not in session:
        return
    settings = services().settings
    now = time.time()
    login_at, seen_at = session.get(LOGIN_AT, 0.0), session.get(SEEN_AT, 0.0)
    if (
        now - seen_at > settings.session_idle_seconds
        or now - login_at > settings.session_max_seconds
    ):
        end_session()
    elif now - seen_at > SEEN_RESOLUTION_SECONDS:
        session[SEEN_AT] = now


def add_security_headers(response: Response) -> Response:
    """Headers that keep the pages in their own origin and out of caches."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    settings = services().settings
    if settings.https:
        hsts = HSTS + ("; includeSubDomains" if settings.hsts_include_subdomains else "")
        headers.setdefault("Strict-Transport-Security", hsts)
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    return response
