"""Rate limits, security headers, session lifetime and proxy trust."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request, session
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import login_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from facevoice.config import Settings
from facevoice.storage.attempts import username_key
from facevoice.storage.database import User
from facevoice.storage.sessions import end_login_session, open_login_session
from facevoice.web.requests import answer, client_ip, is_valid_username
from facevoice.web.services import services
from facevoice.web.session import LOGIN_SESSION_KEY, LoginUser

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
LOGIN_AT, SEEN_AT = "login_at", "seen_at"
CSRF_FIELD = "csrf_token"  # where Flask-WTF keeps its secret in the session
SEEN_RESOLUTION_SECONDS = 60  # refresh the idle clock at most once a minute

# The limiter's own headers would put a Retry-After on every answer; we add one to 429s only.
limiter = Limiter(key_func=client_ip, headers_enabled=False, key_prefix="facevoice")


def init_security(app: Flask, settings: Settings) -> None:
    """Attach rate limiting, security headers and session rules to the app."""
    app.config.update(
        RATELIMIT_ENABLED=settings.ratelimit,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        # If Redis goes away, limit per process rather than fail every request.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        SESSION_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_NAME="__Host-session" if settings.https else "session",
    )
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.proxy_hops,
            x_proto=settings.proxy_hops,
            x_host=settings.proxy_hops,
        )
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    app.before_request(enforce_session_lifetime)
    app.after_request(add_security_headers)


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
        body = request.get_json(silent=True)
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


def start_login_session(user: User) -> None:
    """Log ``user`` in on a fresh session: nothing from before carries over.

    The session gets a server-side record (``facevoice.storage.sessions``) that log-out
    and account deletion remove, so copies of the cookie stop working with it.
    """
    clear_session()
    now = time.time()
    session[LOGIN_AT] = session[SEEN_AT] = now
    current = services()
    session[LOGIN_SESSION_KEY] = open_login_session(
        current.database, user, current.settings.session_max_seconds
    )
    login_user(LoginUser.of(user))


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
    if services().settings.https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    return response
