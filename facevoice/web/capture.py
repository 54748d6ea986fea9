"""POST /take_photo and /record_voice: the page's photo and voice samples."""

from __future__ import annotations

from flask import Blueprint

from facevoice.storage.attempts import SIGN_UP
from facevoice.web.requests import (
    answer,
    base64_field,
    flow_field,
    optional_int_field,
    read_fields,
    username_field,
)
from facevoice.web.security import rate_limited
from facevoice.web.services import services
from facevoice.web.session import current_attempt

bp = Blueprint("capture", __name__)


@bp.post("/take_photo")
@rate_limited()
def take_photo():  # type: ignore[no-untyped-def]
    """Embed the photo's single face into this session's attempt."""
    data = read_fields()
    username, flow = username_field(data), flow_field(data)
    image = base64_field(data, "image")
    services().accounts.take_photo(current_attempt(username, flow), image)
    return answer(200, "Photo taken.")


@bp.post("/record_voice")
@rate_limited()
def record_voice():  # type: ignore[no-untyped-def]
    """Embed the recording's speaker into this session's attempt."""
    data = read_fields()
    username, flow = username_field(data), flow_field(data)
    audio = base64_field(data, "audio")
    phrase = optional_int_field(data, "phrase", 1, services().settings.max_enroll_phrases)
    phrases = services().accounts.record_voice(current_attempt(username, flow), audio, phrase)
    if flow == SIGN_UP:
        return answer(
            200, f"Voice recorded ({phrases} phrase{'s' * (phrases != 1)}).", phrases=phrases
        )
    return answer(200, "Voice recorded.")
