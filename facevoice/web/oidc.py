"""The OpenID Connect provider's routes: discovery, JWKS, authorize, token, UserInfo, logout.

The views hand requests to the Authlib server (``facevoice.oidc.server``) and ask the
log-in record (``login_record``) and the policy (``facevoice.oidc.policy``) whether the
log-in is fresh and strong enough; they never look at the factors themselves.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Blueprint, Flask, Response, jsonify, redirect, render_template, request, session
from flask_login import current_user

from facevoice.oidc import policy
from facevoice.oidc.server import (
    OFFLINE,
    OPENID,
    PROFILE,
    SCOPES,
    TOKEN_AUTH_METHODS,
    Provider,
    Subject,
)
from facevoice.storage import oidc as store
from facevoice.storage.database import User
from facevoice.web.security import (
    CONTENT_SECURITY_POLICY,
    end_session,
    login_record,
    rate_limited,
    start_login_session,
)
from facevoice.web.services import services

bp = Blueprint("oidc", __name__)

EXTENSION = "facevoice.oidc"
PENDING = "oidc_pending"  # the authorization request waiting for a log-in, in the session
PENDING_SECONDS = 600  # an abandoned authorization request does not hijack a later log-in
AUTHORIZE_PATH = "/oidc/authorize"
SCOPE_TEXT = {
    OPENID: "A random identifier of your account (never your username)",
    PROFILE: "Your username",
    OFFLINE: "Access while you are away (until you revoke it)",
}


class UnmetAuthenticationRequirements(OAuth2Error):
    """The requested ``acr_values`` cannot be met by any log-in here."""

    error = "unmet_authentication_requirements"


def init_oidc(app: Flask) -> None:
    """Build the provider for this app and exempt machine-to-machine POSTs from CSRF."""
    from facevoice import csrf

    current = app.extensions["facevoice"]
    app.extensions[EXTENSION] = Provider(app, current.settings, current.database, end_session)
    for view in (token, userinfo, logout):
        csrf.exempt(view)


def provider() -> Provider:
    """The provider of the current app."""
    from flask import current_app

    return current_app.extensions[EXTENSION]


def endpoint_url(path: str) -> str:
    """An absolute URL under the issuer."""
    return services().settings.oidc_issuer + path


@bp.get("/.well-known/openid-configuration")
def discovery():  # type: ignore[no-untyped-def]
    """The discovery document (OpenID Connect Discovery 1.0)."""
    return jsonify(
        issuer=services().settings.oidc_issuer,
        authorization_endpoint=endpoint_url(AUTHORIZE_PATH),
        token_endpoint=endpoint_url("/oidc/token"),
        userinfo_endpoint=endpoint_url("/oidc/userinfo"),
        jwks_uri=endpoint_url("/oidc/jwks"),
        end_session_endpoint=endpoint_url("/oidc/logout"),
        scopes_supported=list(SCOPES),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=["RS256"],
        token_endpoint_auth_methods_supported=list(TOKEN_AUTH_METHODS),
        code_challenge_methods_supported=["S256"],
        claims_supported=[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "amr",
            "acr",
            "preferred_username",
        ],
        acr_values_supported=list(policy.ACR_VALUES),
        prompt_values_supported=["none", "login", "consent"],
        claims_parameter_supported=False,
        request_parameter_supported=False,
        request_uri_parameter_supported=False,
    )


@bp.get("/oidc/jwks")
def jwks():  # type: ignore[no-untyped-def]
    """The public signing keys; an old key stays here until its tokens have expired."""
    response = jsonify(provider().keys.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route(AUTHORIZE_PATH, methods=["GET", "POST"])
@rate_limited()
def authorize():  # type: ignore[no-untyped-def]
    """The authorization endpoint: log-in if needed, consent if needed, then a code."""
    server = provider().server
    subject = current_subject()
    try:
        grant = server.get_consent_grant(end_user=subject)
        acr = required_acr(grant.redirect_uri)
        if needs_log_in(subject, acr, grant.redirect_uri):
            return send_to_log_in(acr)
        assert subject is not None
        if needs_consent(subject, grant):
            if request.method == "GET":
                return consent_page(grant)
            if request.form.get("decision") != "allow":
                return server.create_authorization_response(grant=grant, grant_user=None)
            store.remember_consent(
                services().database,
                subject.user_id,
                grant.client.get_client_id(),
                set(scope_to_list(grant.request.scope) or []),
            )
    except OAuth2Error as error:
        return error_answer(error)
    session.pop(PENDING, None)
    return server.create_authorization_response(grant=grant, grant_user=subject)


def current_subject() -> Subject | None:
    """The logged-in user with what the log-in proved, or None."""
    record = login_record()
    if record is None or not current_user.is_authenticated:
        return None
    login_at, factors = record
    with services().database.session() as db:
        user = db.query(User).filter_by(public_id=current_user.id).one_or_none()
        if user is None:
            return None
        return Subject(
            user.id,
            user.public_id,
            user.username,
            int(login_at),
            list(factors),
            policy.acr_of(factors),
        )


def required_acr(redirect_uri: str) -> str:
    """The level the client asks for (``acr_values``), or empty; refused if unknown or unmet.

    Never silently downgraded: an unknown value is ``invalid_request``, a level no log-in
    here can reach is ``unmet_authentication_requirements``.
    """
    state = request.values.get("state")
    wanted = (request.values.get("acr_values") or "").split()
    unknown = [value for value in wanted if not policy.is_known(value)]
    if unknown:
        raise InvalidRequestError(
            f"Unknown acr_values: {' '.join(unknown)}", redirect_uri=redirect_uri, state=state
        )
    passkeys = services().accounts.passkey.enabled
    attainable = [value for value in wanted if policy.is_attainable(value, passkeys)]
    if wanted and not attainable:
        raise UnmetAuthenticationRequirements(
            "No log-in here can reach the requested acr_values.",
            redirect_uri=redirect_uri,
            state=state,
        )
    return attainable[0] if attainable else ""


def max_age_seconds(redirect_uri: str) -> int | None:
    """The request's ``max_age``, or None; ``invalid_request`` if it is not a number."""
    raw = request.values.get("max_age")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidRequestError(
            "Invalid 'max_age'", redirect_uri=redirect_uri, state=request.values.get("state")
        )
    return int(raw)


def needs_log_in(subject: Subject | None, acr: str, redirect_uri: str) -> bool:
    """Whether this request needs a (fresh) log-in first; ``login_required`` with prompt=none.

    ``prompt=login``, ``max_age`` and a level the current log-in does not reach all ask for a
    new log-in, which the log-in made for this very request satisfies.
    """
    prompts = (request.values.get("prompt") or "").split()
    max_age = max_age_seconds(redirect_uri)
    if subject is None:
        stale = True
    elif just_logged_in_for_this_request():
        if acr and not policy.meets(acr, subject.amr):
            # The log-in made for this request did not reach the level: say so, never downgrade.
            raise UnmetAuthenticationRequirements(
                "The log-in did not reach the requested acr_values (a passkey is needed).",
                redirect_uri=redirect_uri,
                state=request.values.get("state"),
            )
        stale = False
    else:
        stale = (
            "login" in prompts
            or (max_age is not None and time.time() - subject.auth_time > max_age)
            or bool(acr and not policy.meets(acr, subject.amr))
        )
    if stale and "none" in prompts:
        raise LoginRequiredError(redirect_uri=redirect_uri, state=request.values.get("state"))
    return stale


def just_logged_in_for_this_request() -> bool:
    """Whether the session logged in after this same request sent it to the log-in page."""
    pending, record = session.get(PENDING), login_record()
    return (
        isinstance(pending, dict)
        and record is not None
        and pending.get("query") == request.query_string.decode()
        and record[0] >= float(pending.get("at", 0))
    )


def send_to_log_in(acr: str) -> Response:
    """Keep the request (and the level it asks for) in the session; send the browser to the
    log-in page."""
    session[PENDING] = {"query": request.query_string.decode(), "at": time.time(), "acr": acr}
    return redirect("/log_in")


def log_in_and_resume(user: User, amr: tuple[str, ...], default: str) -> str:
    """Log in on a fresh session; where to go next: a pending authorization, else ``default``.

    The fresh session keeps only the OpenID Connect authorization request this log-in was for.
    """
    pending = session.get(PENDING)
    start_login_session(user, amr)
    target = pending_redirect(pending)
    if target is not None:
        session[PENDING] = pending
    return target or default


def pending_needs_passkey(pending: Any) -> bool:
    """Whether the authorization request waiting for this log-in asks for a passkey."""
    if pending_redirect(pending) is None:
        return False
    acr = pending.get("acr")
    return isinstance(acr, str) and policy.is_known(acr) and policy.needs_passkey(acr)


def pending_redirect(pending: Any) -> str | None:
    """Where a successful log-in continues: the pending authorization (a local path), or None."""
    if not isinstance(pending, dict) or not isinstance(pending.get("query"), str):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    return f"{AUTHORIZE_PATH}?{pending['query']}"


def needs_consent(subject: Subject, grant: Any) -> bool:
    """Whether the user must say yes first; ``consent_required`` with prompt=none."""
    client = grant.client.row
    prompts = (request.values.get("prompt") or "").split()
    if client.first_party and "consent" not in prompts:
        return False
    allowed = store.consented_scope(services().database, subject.user_id, client.client_id)
    scope = set(scope_to_list(grant.request.scope) or [])
    needed = allowed is None or not scope <= allowed or "consent" in prompts
    if needed and "none" in prompts:
        raise ConsentRequiredError(
            redirect_uri=grant.redirect_uri, state=request.values.get("state")
        )
    return needed


def consent_page(grant: Any) -> Response:
    """The consent form; its answer may redirect to the client, so CSP allows that origin."""
    scope = scope_to_list(grant.request.scope) or []
    response = Response(
        render_template(
            "oidc/consent.html",
            client=grant.client.row,
            claims=[SCOPE_TEXT[name] for name in scope if name in SCOPE_TEXT],
        )
    )
    target = urlsplit(grant.redirect_uri)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {target.scheme}://{target.netloc}"
    )
    return response


def error_answer(error: OAuth2Error) -> Response:
    """An OAuth error: to a registered redirect URI, else a page (never to an unknown URI)."""
    if error.redirect_uri:
        return provider().server.handle_error_response(None, error)
    response = Response(
        render_template(
            "oidc/error.html", error=error.error, description=error.get_error_description()
        ),
        status=400,
    )
    return response


@bp.post("/oidc/token")
@rate_limited()
def token():  # type: ignore[no-untyped-def]
    """The token endpoint: a code (with its PKCE verifier) or a refresh token for tokens."""
    return provider().server.create_token_response()


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
@rate_limited()
def userinfo():  # type: ignore[no-untyped-def]
    """The claims of the access token's user (RFC 6750 bearer token)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    found = None
    if scheme.lower() == "bearer":
        found = store.find_access_token(services().database, value.strip())
    if found is None or OPENID not in found.scope.split():
        return invalid_token()
    current = provider()
    subject = current.subject(found.user_id, found.auth_time, found.amr.split(), found.acr)
    if subject is None:
        return invalid_token()
    return jsonify(dict(current.user_info(subject, found.scope)))


def invalid_token() -> Response:
    """401 for a missing, unknown, expired or revoked access token (RFC 6750 §3)."""
    response = jsonify(error="invalid_token")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


@bp.route("/oidc/logout", methods=["GET", "POST"])
@rate_limited()
def logout():  # type: ignore[no-untyped-def]
    """RP-initiated logout: log out, then back to a registered ``post_logout_redirect_uri``."""
    server = provider().server
    try:
        validated = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        error.redirect_uri = None  # never redirect a request we could not validate
        return error_answer(error)
    return server.create_endpoint_response("end_session", validated) or Response(
        render_template("oidc/logged_out.html")
    )


@bp.get("/oidc/consents")
def consents():  # type: ignore[no-untyped-def]
    """The clients the logged-in user allowed, each with a button to revoke it."""
    subject = current_subject()
    if subject is None:
        return redirect("/log_in")
    rows = store.user_consents(services().database, subject.user_id)
    return render_template("oidc/consents.html", rows=rows)


@bp.post("/oidc/consents/revoke")
@rate_limited()
def revoke():  # type: ignore[no-untyped-def]
    """Revoke one consent (and the client's tokens for this user)."""
    subject = current_subject()
    if subject is None:
        return redirect("/log_in")
    client_id = request.form.get("client_id", "")
    store.revoke_consent(services().database, subject.user_id, client_id[:64])
    return redirect("/oidc/consents")
