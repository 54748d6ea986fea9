"""The account page: recent activity, recovery codes, re-enrollment, log out everywhere,
deleting the account.

Sensitive changes (new codes, re-enrollment, deletion) need a log-in from the last
``reauth_seconds``; every change goes to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from facevoice import admin
from facevoice.auth.factors import (
    AMR,
    BIOMETRIC,
    FACE,
    RECOVERY_CODE,
    VOICE,
    describe,
    parse_factors,
)
from facevoice.errors import BadInput, ReauthenticationRequired
from facevoice.storage.attempts import SIGN_UP, username_key
from facevoice.storage.database import AuditEvent, User, record_event
from facevoice.web.requests import answer, client_ip, read_fields
from facevoice.web.security import end_session, is_fresh_login, login_record
from facevoice.web.services import services
from facevoice.web.session import concluding, find_attempt

bp = Blueprint("account", __name__)

ACTIVITY_ROWS = 20
PARTS = {"face": (FACE,), "voice": (VOICE,), "both": BIOMETRIC}
OUTCOMES = {
    "accepted": "signed in",
    "registered": "account created",
    "refused": "failed",
    "unknown_user": "failed",
    "missing_sample": "incomplete",
    "locked": "refused: too many failures",
    "disabled": "refused: log-in disabled",
    "face_challenge_failed": "failed: head turn not seen",
    "voice_challenge_failed": "failed: digits not heard",
    "passkey_required": "failed: passkey needed first",
    "new_recovery_codes": "new recovery codes made",
    "logged_out_everywhere": "logged out everywhere",
    "stale_log_in": "change refused: log in again first",
    "re_enrolled": "face or voice re-enrolled",
}


@dataclass(frozen=True)
class ActivityRow:
    """One line of the account page's activity table (never a score)."""

    at: str
    client_ip: str
    what: str
    outcome: str
    factors: str


def account_user() -> User:
    """The stored account of the logged-in user."""
    with services().database.session() as session:
        user = session.scalar(select(User).where(User.public_id == current_user.id))
    if user is None:  # deleted by another session in between: log this one out
        end_session()
        raise ReauthenticationRequired("This account no longer exists.")
    return user


def require_fresh_login(user: User, action: str) -> None:
    """Refuse (and audit) a sensitive change unless the log-in is recent enough."""
    if is_fresh_login(services().settings.reauth_seconds):
        return
    audit(user, "stale_log_in", action)
    raise ReauthenticationRequired()


def audit(user: User, outcome: str, action: str = "") -> None:
    """One account change in the audit log (``action`` names a refused change)."""
    record_event(
        services().database,
        "account",
        user.username,
        client_ip(),
        outcome,
        factors=[action] if action else (),
    )


def activity_rows(username: str) -> list[ActivityRow]:
    """The user's own recent audit entries, as the page shows them."""
    return [
        ActivityRow(
            at=f"{event.at:%Y-%m-%d %H:%M:%S} UTC",
            client_ip=event.client_ip,
            what=event.event.replace("_", " "),
            outcome=OUTCOMES.get(event.outcome, event.outcome.replace("_", " ")),
            factors=describe(parse_factors(event.factors)) if event.event == "log_in" else "",
        )
        for event in admin.activity(services().database, username, ACTIVITY_ROWS)
    ]


def last_recovery_use(username: str) -> AuditEvent | None:
    """The newest log-in by recovery code, if any."""
    with services().database.session() as session:
        return session.scalar(
            select(AuditEvent)
            .where(
                AuditEvent.event == "log_in",
                AuditEvent.outcome == "accepted",
                AuditEvent.factors.contains(RECOVERY_CODE),
                func.lower(AuditEvent.username) == username_key(username),
            )
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(1)
        )


@bp.get("/account")
@login_required
def page():  # type: ignore[no-untyped-def]
    """The logged-in user's own page."""
    user = account_user()
    record = login_record()
    amr = record[1] if record else []
    return render_template(
        "account.html",
        username=user.username,
        recovered=AMR[RECOVERY_CODE] in amr,
        recovery_use=last_recovery_use(user.username),
        codes_left=services().accounts.recovery.remaining(user),
        activity=activity_rows(user.username),
        fresh=is_fresh_login(services().settings.reauth_seconds),
        reauth_minutes=max(1, services().settings.reauth_seconds // 60),
    )


@bp.post("/account/recovery_codes")
@login_required
def new_recovery_codes():  # type: ignore[no-untyped-def]
    """A new set of recovery codes; the old set stops working at once."""
    user = account_user()
    require_fresh_login(user, "new_recovery_codes")
    codes = services().accounts.recovery.replace(user, client_ip())
    return answer(
        200, "Here are your new recovery codes. The old ones no longer work.", recovery_codes=codes
    )


@bp.get("/account/re_enroll")
@login_required
def re_enroll_page():  # type: ignore[no-untyped-def]
    """Capture a new photo, new phrases or both, with the sign-up's steps."""
    user = account_user()
    return render_template(
        "re_enroll.html",
        username=user.username,
        fresh=is_fresh_login(services().settings.reauth_seconds),
        reauth_minutes=max(1, services().settings.reauth_seconds // 60),
    )


@bp.post("/account/re_enroll")
@login_required
def re_enroll():  # type: ignore[no-untyped-def]
    """Replace the face, the voice or both from this session's enrollment captures.

    The captures are sent as in a sign-up (``flow: "sign_up"``, the account's username);
    the old templates stay unless every sample asked for is there.
    """
    user = account_user()
    choice = read_fields().get("parts")
    parts = PARTS.get(choice) if isinstance(choice, str) else None
    if parts is None:
        raise BadInput('\'parts\' must be "face", "voice" or "both".')
    require_fresh_login(user, "re_enroll")
    attempt = find_attempt(user.username, SIGN_UP)
    with concluding(attempt):
        services().accounts.biometric.re_enroll(user, attempt, parts, client_ip())
    return answer(200, f"Your new {describe(list(parts))} will be used from your next log-in.")


@bp.post("/account/log_out_everywhere")
@login_required
def log_out_everywhere():  # type: ignore[no-untyped-def]
    """End every session of this account, this one too."""
    user = account_user()
    admin.log_out_everywhere(services().database, user.username)
    audit(user, "logged_out_everywhere")
    end_session()
    return answer(200, "You are logged out on every device.", redirect="/log_in")


@bp.post("/account/delete")
@login_required
def delete_account():  # type: ignore[no-untyped-def]
    """Delete the account and everything kept about it, once the username is confirmed."""
    user = account_user()
    confirm = read_fields().get("confirm")
    if not isinstance(confirm, str) or username_key(confirm) != user.username_key:
        raise BadInput("To delete your account, type your username to confirm.")
    require_fresh_login(user, "delete")
    admin.delete_user(services().database, user.username, client_ip())
    end_session()
    return answer(200, "Your account and all its data are deleted.", redirect="/")
