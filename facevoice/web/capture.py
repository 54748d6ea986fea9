"""POST /take_photo and /record_voice: the page's photo and voice samples."""

from __future__ import annotations

from flask import Blueprint

from facevoice.errors import BadInput
from facevoice.storage.attempts import LOG_IN, SIGN_UP
from facevoice.web.requests import (
    answer,
    base64_field,
    base64_list_field,
    client_ip,
    flow_field,
    optional_int_field,
    read_fields,
    username_field,
)
from facevoice.web.security import proven_factors, rate_limited
from facevoice.web.services import services
from facevoice.web.session import current_attempt

bp = Blueprint("capture", __name__)
USE_THE_CAPTURE = (
    "This site's log-in is one capture while its challenges are on: GET /log_in/challenge, "
    "then POST /log_in/capture with the frames, their times and the recording."
)
# Most frames of a sign-up burst (the page sends 5 over about a second).
ENROLLMENT_MAX_FRAMES = 10


def require_passkey_first(username: str, flow: str) -> None:
    """No log-in sample of an account with a passkey before this session proved it.

    NIST SP 800-63B-4 §3.2.3: with matching on the server, the device is authenticated
    before the biometric sample is captured. ``PasskeyNeeded`` (401) otherwise.
    """
    if flow == LOG_IN:
        services().accounts.require_passkey_first(username, proven_factors(username), client_ip())


def refuse_log_in_samples_while_challenged(flow: str) -> None:
    """``BadInput`` for a log-in photo or recording while a challenge is on.

    A log-in then comes as one capture (``POST /log_in/capture``): a photo and a recording
    sent apart cannot show that the voice comes out of the face.
    """
    settings = services().settings
    if flow == LOG_IN and (settings.face_challenge or settings.voice_challenge):
        raise BadInput(USE_THE_CAPTURE)


@bp.post("/take_photo")
@rate_limited()
def take_photo():  # type: ignore[no-untyped-def]
    """Embed the photo's single face into this session's attempt.

    A sign-up may send ``frames`` (a short burst) instead of ``image``: the mean face of its
    usable frames is enrolled. With a log-in challenge on, log-in photos are refused (400):
    the log-in is one capture.
    """
    data = read_fields()
    username, flow = username_field(data), flow_field(data)
    refuse_log_in_samples_while_challenged(flow)
    require_passkey_first(username, flow)
    accounts = services().accounts
    if flow == SIGN_UP and data.get("frames") is not None:
        # The sign-up page's short burst of frames.
        frames = base64_list_field(data, "frames", ENROLLMENT_MAX_FRAMES)
        used = accounts.take_enrollment_burst(current_attempt(username, flow), frames)
        return answer(200, f"Photo taken ({used} of {len(frames)} frames used).", frames_used=used)
    image = base64_field(data, "image")
    accounts.take_photo(current_attempt(username, flow), image)
    return answer(200, "Photo taken.")


@bp.post("/record_voice")
@rate_limited()
def record_voice():  # type: ignore[no-untyped-def]
    """Embed the recording's speaker into this session's attempt."""
    data = read_fields()
    username, flow = username_field(data), flow_field(data)
    refuse_log_in_samples_while_challenged(flow)
    require_passkey_first(username, flow)
    audio = base64_field(data, "audio")
    phrase = optional_int_field(data, "phrase", 1, services().settings.max_enroll_phrases)
    attempt = current_attempt(username, flow)
    phrases = services().accounts.record_voice(attempt, audio, phrase)
    if flow == SIGN_UP:
        return answer(
            200, f"Voice recorded ({phrases} phrase{'s' * (phrases != 1)}).", phrases=phrases
        )
    return answer(200, "Voice recorded.")
