"""GET /log_in (the page) and POST /log_in (the decision)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, session

from facevoice.auth.factors import BIOMETRIC, PASSKEY, RECOVERY_CODE
from facevoice.auth.policy import amr_of
from facevoice.biometrics.capture import MAX_FRAMES, CaptureUpload
from facevoice.errors import BadInput
from facevoice.storage.attempts import LOG_IN
from facevoice.web.capture import require_passkey_first
from facevoice.web.oidc import PENDING, log_in_and_resume, pending_needs_passkey
from facevoice.web.requests import (
    answer,
    base64_field,
    base64_list_field,
    client_ip,
    int_list_field,
    read_fields,
    username_field,
)
from facevoice.web.security import (
    proven_factors,
    proven_passkey_synced,
    rate_limited,
)
from facevoice.web.services import services
from facevoice.web.session import (
    concluding,
    current_attempt,
    find_attempt,
    issue_challenge,
    take_face_challenge,
    take_voice_challenge,
)

bp = Blueprint("log_in", __name__)
# Frame times beyond the longest recording accepted cannot be on the audio's clock.
MAX_FRAME_TIME_MS = 10 * 60 * 1000

REFUSED = (
    "Log-in failed: we could not confirm it is you. Try again facing the camera in good "
    "light and speaking clearly."
)
CODE_REFUSED = (
    "Log-in failed: this recovery code does not work for this username. Check both; each "
    "code works once."
)
NO_CAPTURE_WITHOUT_CHALLENGES = (
    "This server asks for no challenge: log in with a photo (POST /take_photo) and a voice "
    "sample (POST /record_voice), then POST /log_in."
)
PASSKEY_FIRST = (
    "The application you are logging in to asks for a passkey as well: confirm your passkey "
    "first, then log in. (No passkey yet? Add one on your account page.)"
)


@bp.get("/log_in")
def page():  # type: ignore[no-untyped-def]
    """The log-in page."""
    settings = services().settings
    return render_template(
        "log_in.html",
        capture_mode=settings.face_challenge or settings.voice_challenge,
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


@bp.post("/log_in/capture")
@rate_limited()
def capture():  # type: ignore[no-untyped-def]
    """Check this session's one-capture log-in (head turn, digits, lip sync) and keep its
    samples; ``POST /log_in`` then decides.

    Both parts of the challenge are used up by the capture, whatever its outcome. A name that
    must wait is told so before anything is decoded (429 or 403). Without any challenge the
    server runs the photo-then-voice log-in, and a capture is 400.
    """
    accounts, settings = services().accounts, services().settings
    if not (settings.face_challenge or settings.voice_challenge):
        raise BadInput(NO_CAPTURE_WITHOUT_CHALLENGES)
    data = read_fields()
    username = username_field(data)
    require_passkey_first(username, LOG_IN)
    accounts.may_try(username)
    frames = base64_list_field(data, "frames", MAX_FRAMES)
    upload = CaptureUpload(
        frames,
        int_list_field(data, "frame_times_ms", len(frames), MAX_FRAME_TIME_MS),
        base64_field(data, "audio"),
    )
    turn = take_face_challenge() if settings.face_challenge else None
    digits = take_voice_challenge() if settings.voice_challenge else None
    attempt = current_attempt(username, LOG_IN)
    accounts.take_capture(attempt, upload, turn, digits, client_ip())
    return answer(200, "Head turn, digits and lips checked. Now log in.")


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
