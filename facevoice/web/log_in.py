"""GET /log_in (the page) and POST /log_in (the decision)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, session

from facevoice.auth.factors import BIOMETRIC, PASSKEY, RECOVERY_CODE
from facevoice.auth.policy import amr_of
from facevoice.errors import BadInput
from facevoice.storage.attempts import LOG_IN
from facevoice.web.oidc import PENDING, log_in_and_resume, pending_needs_passkey
from facevoice.web.requests import answer, client_ip, read_fields, username_field
from facevoice.web.security import (
    proven_factors,
    proven_passkey_synced,
    rate_limited,
)
from facevoice.web.services import services
from facevoice.web.session import concluding, find_attempt, issue_challenge

bp = Blueprint("log_in", __name__)

REFUSED = (
    "Log-in failed: we could not confirm it is you. Try again facing the camera in good "
    "light and speaking clearly."
)
CODE_REFUSED = (
    "Log-in failed: this recovery code does not work for this username. Check both; each "
    "code works once."
)
PASSKEY_FIRST = (
    "The application you are logging in to asks for a passkey as well: confirm your passkey "
    "first, then log in. (No passkey yet? Add one on your account page.)"
)


@bp.get("/log_in")
def page():  # type: ignore[no-untyped-def]
    """The log-in page."""
    return render_template(
        "log_in.html",
        passkey_only=services().accounts.passkey.alone,
        passkey_required=pending_needs_passkey(session.get(PENDING)),
    )


@bp.get("/log_in/challenge")
@rate_limited()
def challenge():  # type: ignore[no-untyped-def]
    """A fresh challenge for this session's log-in: digits to say and a side to turn to.

    Each part is used once and lasts ``challenge_seconds``; a part switched off is null.
    With ``?username=``, a name that must wait gets the lockout's answer instead (429 with
    Retry-After, or 403), before any sample is taken: the log-in would be refused anyway.
    """
    if request.args.get("username"):
        services().accounts.may_try(username_field(request.args))
    voice, face = issue_challenge()
    return jsonify(
        challenge=voice.text if voice else None,
        turn=face.side if face else None,
        instruction=face.instruction if face else None,
        expires_in=services().settings.challenge_seconds,
    )


@bp.post("/log_in")
@rate_limited()
def log_in():  # type: ignore[no-untyped-def]
    """Log in when this session's photo and voice both match the user's templates.

    An account with a passkey must have proved it in this session first (401 otherwise), and
    so must every account when the pending OpenID Connect request asks for a passkey; that
    refusal keeps the samples, so the log-in can go on once the passkey is confirmed.
    """
    username = username_field(read_fields())
    attempt = find_attempt(username, LOG_IN)
    proven = proven_factors(username)
    if PASSKEY not in proven and pending_needs_passkey(session.get(PENDING)):
        return answer(401, PASSKEY_FIRST)
    with concluding(attempt):
        user = services().accounts.log_in(username, attempt, client_ip(), proven)
    if user is None:
        return answer(401, REFUSED)
    target = log_in_and_resume(
        user, amr_of([*proven, *BIOMETRIC], proven_passkey_synced()), "/protected"
    )
    return answer(200, f"Welcome back, {user.username}.", redirect=target)


@bp.post("/log_in/recovery")
@rate_limited()
def log_in_with_recovery_code():  # type: ignore[no-untyped-def]
    """Log in with one of the user's recovery codes, which is then used up.

    A wrong code, a used code and an unknown user get one answer. The factors this session
    proved so far (a passkey) go along, so the policy can ask for the passkey first.
    """
    fields = read_fields()
    username = username_field(fields)
    code = fields.get("code")
    if not isinstance(code, str) or not code.strip():
        raise BadInput("'code' is missing: type one of your recovery codes.")
    proven = proven_factors(username)
    user = services().accounts.recovery.log_in(username, code, client_ip(), proven)
    if user is None:
        return answer(401, CODE_REFUSED)
    target = log_in_and_resume(
        user, amr_of([*proven, RECOVERY_CODE], proven_passkey_synced()), "/account"
    )
    return answer(
        200, f"Welcome back, {user.username}. You used a recovery code.", redirect=target
    )
