"""Passkey routes: add one at sign-up or on the account page, prove one at log-in.

Every ceremony has two steps: ``.../options`` answers the options for the browser's
``navigator.credentials.create`` or ``get`` and keeps their challenge server-side (single
use, short-lived, bound to this session and username); the second step sends the browser's
answer (``credential``, the ``PublicKeyCredential`` as JSON) to be verified against it.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, session
from flask_login import login_required

from facevoice.auth.factors import PASSKEY
from facevoice.auth.passkey import credentials_of
from facevoice.auth.policy import amr_of, decide
from facevoice.errors import (
    BadInput,
    ChallengeMissing,
    MissingSample,
    PasskeyRefused,
    PasskeysOff,
    UsernameTaken,
)
from facevoice.storage.attempts import SIGN_UP, username_key
from facevoice.storage.database import is_registered
from facevoice.web.account import account_user, require_fresh_login
from facevoice.web.oidc import log_in_and_resume
from facevoice.web.requests import answer, client_ip, read_fields, username_field
from facevoice.web.security import prove_passkey, rate_limited
from facevoice.web.services import services
from facevoice.web.session import find_attempt

bp = Blueprint("passkeys", __name__)

CHALLENGE_KEY = "passkey_challenge"
CEREMONY = "webauthn"
SIGN_UP_CEREMONY, ACCOUNT_CEREMONY, LOG_IN_CEREMONY = "sign_up", "account", "log_in"
EXPIRED = "This passkey request expired or was used already. Try again."


def keep_challenge(challenge: str, ceremony: str, username: str) -> None:
    """Keep a ceremony's challenge for this session (the previous one ends)."""
    value = json.dumps(
        {"challenge": challenge, "ceremony": ceremony, "for": username_key(username)}
    )
    session[CHALLENGE_KEY] = services().challenges.issue(
        {CEREMONY: value}, session.get(CHALLENGE_KEY)
    )


def take_challenge(ceremony: str, username: str) -> str:
    """This session's challenge of ``ceremony`` for ``username``; it cannot be used again."""
    try:
        kept = json.loads(services().challenges.take(session.get(CHALLENGE_KEY), CEREMONY))
    except ChallengeMissing:
        raise PasskeyRefused(EXPIRED) from None
    if kept["ceremony"] != ceremony or kept["for"] != username_key(username):
        raise PasskeyRefused(EXPIRED)
    return str(kept["challenge"])


def credential_field(fields: Any) -> dict[str, Any]:
    """The checked ``credential`` field: the browser's ``PublicKeyCredential`` as JSON."""
    value = fields.get("credential")
    if not isinstance(value, dict):
        raise BadInput("'credential' is missing: send the passkey's answer as a JSON object.")
    return value


def require_enabled() -> None:
    """``PasskeysOff`` (404) when the operator set ``FACEVOICE_PASSKEYS=off``."""
    if not services().accounts.passkey.enabled:
        raise PasskeysOff()


def options_answer(options: str, message: str, **extra: Any):  # type: ignore[no-untyped-def]
    """A 200 answer carrying the browser's options (``publicKey``)."""
    return answer(200, message, options=json.loads(options), **extra)


# --- Sign-up: a passkey after the photo and the voice, kept until the account exists.


@bp.post("/sign_up/passkey/options")
@rate_limited()
def sign_up_options():  # type: ignore[no-untyped-def]
    """Options to make a passkey for the account being signed up."""
    require_enabled()
    username = username_field(read_fields())
    if is_registered(services().database, username):
        raise UsernameTaken()
    options, challenge = services().accounts.passkey.registration_options(username, [])
    keep_challenge(challenge, SIGN_UP_CEREMONY, username)
    return options_answer(options, "Create a passkey on this device.")


@bp.post("/sign_up/passkey")
@rate_limited()
def sign_up_passkey():  # type: ignore[no-untyped-def]
    """Verify the new passkey and keep it with this session's sign-up."""
    require_enabled()
    fields = read_fields()
    username = username_field(fields)
    credential = credential_field(fields)
    attempt = find_attempt(username, SIGN_UP)
    if attempt is None:
        raise MissingSample("Take your photo and record your voice first.")
    challenge = take_challenge(SIGN_UP_CEREMONY, username)
    new = services().accounts.passkey.verify_registration(credential, challenge, fields.get("name"))
    attempt.save_passkey(new.to_json())
    return answer(200, "Passkey added. Finish the sign-up to keep it.")


# --- Log-in: the passkey first, then face and voice; or the passkey alone.


@bp.post("/log_in/passkey/options")
@rate_limited()
def log_in_options():  # type: ignore[no-untyped-def]
    """Options to prove a passkey of ``username``, and whether the account has one."""
    username = username_field(read_fields())
    factor = services().accounts.passkey
    options, challenge, has_passkey = factor.authentication_options(username)
    keep_challenge(challenge, LOG_IN_CEREMONY, username)
    return options_answer(
        options,
        "Confirm your passkey on this device." if has_passkey else "No passkey is needed.",
        has_passkey=has_passkey,
        passkey_only=factor.alone,
    )


def proved_passkey(fields: Any, outcome: str):  # type: ignore[no-untyped-def]
    """The proof of this request's passkey for its username (audited as ``outcome``)."""
    username = username_field(fields)
    credential = credential_field(fields)
    challenge = take_challenge(LOG_IN_CEREMONY, username)
    return services().accounts.passkey.authenticate(
        username, credential, challenge, client_ip(), outcome
    )


@bp.post("/log_in/passkey")
@rate_limited()
def log_in_passkey():  # type: ignore[no-untyped-def]
    """Prove the passkey: the first step of a log-in by face and voice (or recovery code)."""
    fields = read_fields()
    proof = proved_passkey(fields, "passkey_confirmed")
    prove_passkey(proof.user.username, proof.backed_up)
    return answer(200, "Passkey confirmed. Now take your photo and record your voice.")


@bp.post("/log_in/passkey_only")
@rate_limited()
def log_in_passkey_only():  # type: ignore[no-untyped-def]
    """Log in with the passkey alone (user verification on the device), no biometrics."""
    factor = services().accounts.passkey
    if not factor.alone:
        raise PasskeysOff("Logging in with a passkey alone is switched off on this site.")
    proof = proved_passkey(read_fields(), "accepted")
    decision = decide([PASSKEY], has_passkey=True, passkey_alone=factor.alone)
    if not decision.accepted:  # the policy has the last word, though it says yes here
        raise PasskeyRefused()
    target = log_in_and_resume(
        proof.user, amr_of(decision.factors, proof.backed_up), "/protected"
    )
    return answer(200, f"Welcome back, {proof.user.username}.", redirect=target)


# --- The account page: add, rename, remove.


@bp.post("/account/passkeys/options")
@login_required
def account_options():  # type: ignore[no-untyped-def]
    """Options to add a passkey to the logged-in account (needs a recent log-in)."""
    require_enabled()
    user = account_user()
    require_fresh_login(user, "add_passkey")
    existing = credentials_of(services().database, user)
    options, challenge = services().accounts.passkey.registration_options(user.username, existing)
    keep_challenge(challenge, ACCOUNT_CEREMONY, user.username)
    return options_answer(options, "Create a passkey on this device.")


@bp.post("/account/passkeys")
@login_required
def add_passkey():  # type: ignore[no-untyped-def]
    """Verify and store a new passkey of the logged-in account."""
    require_enabled()
    user = account_user()
    require_fresh_login(user, "add_passkey")
    fields = read_fields()
    credential = credential_field(fields)
    challenge = take_challenge(ACCOUNT_CEREMONY, user.username)
    factor = services().accounts.passkey
    factor.add(
        user, factor.verify_registration(credential, challenge, fields.get("name")), client_ip()
    )
    return answer(201, "Passkey added.")


@bp.post("/account/passkeys/<int:passkey_id>/rename")
@login_required
def rename_passkey(passkey_id: int):  # type: ignore[no-untyped-def]
    """Give one of the account's passkeys a new name."""
    user = account_user()
    name = read_fields().get("name")
    if not services().accounts.passkey.rename(user, passkey_id, name, client_ip()):
        return answer(404, "This account has no such passkey.")
    return answer(200, "Passkey renamed.")


@bp.post("/account/passkeys/<int:passkey_id>/delete")
@login_required
def remove_passkey(passkey_id: int):  # type: ignore[no-untyped-def]
    """Remove one of the account's passkeys (needs a recent log-in); it stops working."""
    user = account_user()
    require_fresh_login(user, "remove_passkey")
    if not services().accounts.passkey.remove(user, passkey_id, client_ip()):
        return answer(404, "This account has no such passkey.")
    return answer(200, "Passkey removed. It no longer works for this account.")
