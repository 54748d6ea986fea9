"""The log-in challenges through HTTP: what is issued, and the attacks, with every check on.

A log-in with a challenge on is one capture (tests/test_capture.py has its contract). Each
attack here runs with all the capture's checks on, and its message says which check refused.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from facevoice import accounts, create_app
from facevoice.biometrics.audio import wav_bytes
from facevoice.biometrics.liveness import check_burst_size
from facevoice.config import Settings
from facevoice.errors import TooLarge
from tests import media
from tests.conftest import CHALLENGE, FIXED, WITHOUT_SYNC, Challenger, failures, send_capture
from tests.media import (
    FRONTAL_FRAME,
    capture_frames,
    jackson_phrase,
    jackson_reading,
    jpeg,
)


def blank_png(width: int, height: int) -> bytes:
    """A plain PNG frame: a few kilobytes however many pixels it has."""
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Challenges on, with a known challenge (only the testing configuration accepts that)."""
    return FIXED


def test_challenges_are_on_by_default() -> None:
    defaults = Settings()
    assert defaults.voice_challenge and defaults.face_challenge
    assert defaults.challenge_seconds == 120


@pytest.mark.parametrize("settings_overrides", [{"voice_challenge": True, "face_challenge": True}])
def test_challenge_gives_digits_a_side_and_a_lifetime(challenger: Challenger) -> None:
    answers = [challenger.challenge() for _ in range(6)]
    for answer in answers:
        digits = answer["challenge"].split()
        assert len(digits) == 5 and set(digits) <= set("12345789")
        assert answer["turn"] in {"left", "right"}
        assert answer["turn"] in answer["instruction"]
        assert answer["expires_in"] == 120
    assert len({a["challenge"] for a in answers}) > 1


@pytest.mark.parametrize(
    "settings_overrides",
    [FIXED, {**FIXED, "voice_challenge": False}, {**FIXED, "face_challenge": False}],
)
def test_log_in_photos_and_recordings_sent_apart_are_refused_while_a_challenge_is_on(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    frontal = jpeg(media.clip_frames([FRONTAL_FRAME])[0])
    for answer in (
        challenger.take_photo(hamilton, "log_in", frontal),
        challenger.turn(hamilton, capture_frames()[:12]),
        challenger.say(hamilton, jackson_reading(CHALLENGE)),
    ):
        assert answer.status_code == 400
        assert "/log_in/capture" in answer.json["message"]


@pytest.mark.parametrize(
    ("settings_overrides", "refusal"),
    [
        (FIXED, "turn as a head does"),  # every check on: the depth check refuses it first
        ({**FIXED, "testing_skip_checks": "depth,sync"}, "Turn your head"),
    ],
)
def test_a_still_picture_is_refused(challenger: Challenger, hamilton: str, refusal: str) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, [capture_frames()[-1]] * 20)
    assert answer.status_code == 422
    assert refusal in answer.json["message"]


# The clip's frames and jackson's digits are not one recording: with every check on, the lips
# refuse such a capture first, so each attack below also runs without the lips, to show the
# check it is about refusing it.
LIPS_FIRST = "did not move with the digits"


@pytest.mark.parametrize(
    ("settings_overrides", "refusal"),
    [(FIXED, LIPS_FIRST), (WITHOUT_SYNC, "side shown")],
)
def test_a_turn_to_the_other_side_is_refused(
    challenger: Challenger, hamilton: str, refusal: str
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, capture_frames(mirror=True))
    assert answer.status_code == 422
    assert refusal in answer.json["message"]


def test_the_replayed_enrollment_recording_is_refused_by_the_digits_check(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, audio=jackson_phrase(0))
    assert answer.status_code == 422
    assert "did not hear the digits" in answer.json["message"]


def test_the_users_voice_saying_other_digits_is_refused(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, audio=jackson_reading("85317"))
    assert answer.status_code == 422
    assert "did not hear the digits" in answer.json["message"]


def printed_photo_turned() -> list[bytes]:
    """A print of the clip's frontal frame (the enrolled face) turned to 45° and back."""
    print_ = Image.fromarray(media.clip_frames([FRONTAL_FRAME])[0])
    angles = 45 * np.sin(np.linspace(0, np.pi, 40))
    return [jpeg(media.turned_photo_frame(print_, float(a))) for a in angles]


def test_a_printed_photo_turned_while_the_users_voice_says_the_digits_is_refused_as_flat(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, printed_photo_turned())
    assert answer.status_code == 422
    assert "not a picture" in answer.json["message"]
    assert challenger.post("/log_in", username=hamilton).status_code == 400


@pytest.mark.parametrize("settings_overrides", [{**FIXED, "testing_skip_checks": "depth"}])
def test_a_printed_photo_turned_is_also_refused_by_the_lips(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, printed_photo_turned())
    assert answer.status_code == 422
    assert "mouth move" in answer.json["message"]


# The clip's person does not say the digits, so only that check is off in the clip's tests.
CLIP_WITH_ITS_SOUND = {**FIXED, "testing_skip_checks": "digits"}


def send_clip(challenger: Challenger, username: str, sound: np.ndarray, shift_ms: int = 0):  # type: ignore[no-untyped-def]
    """The clip's capture frames with ``sound``, the frames timed ``shift_ms`` later."""
    challenger.challenge()
    frame_times = media.capture_frame_times(shift_ms)
    return challenger.capture(username, list(capture_frames()), frame_times, wav_bytes(sound))


@pytest.mark.parametrize("settings_overrides", [CLIP_WITH_ITS_SOUND])
def test_the_clips_turn_with_its_own_sound_passes_the_lips_and_the_turn(
    challenger: Challenger, hamilton: str
) -> None:
    answer = send_clip(challenger, hamilton, media.clip_sound()[0])
    assert answer.status_code == 200, answer.json


@pytest.mark.parametrize("settings_overrides", [CLIP_WITH_ITS_SOUND])
def test_the_clip_with_its_sound_a_second_late_is_refused_by_the_lips(
    app, challenger: Challenger, hamilton: str
) -> None:  # type: ignore[no-untyped-def]
    answer = send_clip(challenger, hamilton, media.clip_sound()[0], shift_ms=-1000)
    assert answer.status_code == 422
    assert LIPS_FIRST in answer.json["message"]
    assert failures(app, hamilton) == 1


@pytest.mark.parametrize("settings_overrides", [CLIP_WITH_ITS_SOUND])
def test_the_clip_dubbed_with_other_speech_is_refused_by_the_lips(
    challenger: Challenger, hamilton: str
) -> None:
    answer = send_clip(challenger, hamilton, media.dubbed_clip_sound("103-1240-0000"))
    assert answer.status_code == 422
    assert LIPS_FIRST in answer.json["message"]


def test_a_synthetic_voice_saying_the_challenge_over_a_real_turn_is_refused_by_the_lips(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    synthetic = wav_bytes(media.espeak("4 7 1 9 2", "en-us+m3", 140))
    answer = send_capture(challenger, hamilton, audio=synthetic)
    assert answer.status_code == 422
    assert LIPS_FIRST in answer.json["message"]
    assert challenger.client.get("/protected").status_code == 302


@pytest.mark.parametrize("settings_overrides", [WITHOUT_SYNC])
def test_a_synthetic_voice_saying_the_challenge_does_not_log_in(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    synthetic = wav_bytes(media.espeak("4 7 1 9 2", "en-us+m3", 140))
    # Dubbed so that the lips pass, the right digits pass the capture's checks; the speaker
    # check refuses the voice.
    assert send_capture(challenger, hamilton, audio=synthetic).status_code == 200
    assert challenger.post("/log_in", username=hamilton).status_code == 401
    assert challenger.client.get("/protected").status_code == 302


@pytest.mark.parametrize(
    ("settings_overrides", "refusal"),
    [(FIXED, LIPS_FIRST), (WITHOUT_SYNC, "only you")],
)
def test_an_impostor_spliced_into_the_turn_is_refused_and_not_kept(
    challenger: Challenger, hamilton: str, refusal: str
) -> None:
    impostor = jpeg(np.asarray(media.webcam_photo("biden.jpg")))
    frames = list(capture_frames())
    frames[10:16] = [impostor] * 6
    challenger.challenge()
    answer = send_capture(challenger, hamilton, frames)
    assert answer.status_code == 422
    assert refusal in answer.json["message"]
    assert challenger.post("/log_in", username=hamilton).status_code == 400


@pytest.mark.parametrize("settings_overrides", [WITHOUT_SYNC])
def test_another_face_saying_the_digits_after_the_users_turn_is_refused(
    challenger: Challenger, hamilton: str
) -> None:
    # The user's turn replayed, then someone else in front of the camera for the digits.
    impostor = jpeg(np.asarray(media.webcam_photo("biden.jpg")))
    frames = list(capture_frames())
    frames[-12:] = [impostor] * 12
    challenger.challenge()
    answer = send_capture(challenger, hamilton, frames)
    assert answer.status_code == 422
    assert "only you" in answer.json["message"]
    assert challenger.post("/log_in", username=hamilton).status_code == 400


@pytest.mark.parametrize("settings_overrides", [WITHOUT_SYNC])
def test_another_face_turning_is_refused_at_log_in(challenger: Challenger) -> None:
    phrases = [jackson_phrase(i) for i in range(3)]
    assert challenger.sign_up("obama", media.photo("obama.jpg"), phrases).status_code == 201
    challenger.challenge()
    assert send_capture(challenger, "obama").status_code == 200
    assert challenger.post("/log_in", username="obama").status_code == 401


@pytest.mark.parametrize("settings_overrides", [WITHOUT_SYNC])
def test_a_new_challenge_replaces_the_previous_one(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    challenger.challenge()
    assert send_capture(challenger, hamilton).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{**FIXED, "challenge_seconds": 0}])
def test_an_expired_challenge_is_refused(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton)
    assert answer.status_code == 400
    assert "expired" in answer.json["message"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"fixed_voice_challenge": CHALLENGE},
        {"fixed_face_turn": "left"},
        {"testing_skip_checks": "sync"},
        {"testing_skip_checks": "depth"},
    ],
)
def test_fixed_challenges_and_skipped_checks_are_refused_outside_tests(
    data_dir, models, overrides: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="tests only"):
        create_app({"data_dir": str(data_dir), "models": models, "warm_up": False, **overrides})


@pytest.fixture
def decoded_frames(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """One entry per photo or frame the log-in decodes."""
    calls: list[int] = []
    real_load_image = accounts.load_image

    def counting(*args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(1)
        return real_load_image(*args, **kwargs)

    monkeypatch.setattr(accounts, "load_image", counting)
    return calls


def test_a_frame_over_full_hd_is_413_before_any_frame_is_decoded(
    challenger: Challenger, hamilton: str, decoded_frames: list[int]
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, [*capture_frames()[:20], blank_png(1921, 1080)])
    assert answer.status_code == 413
    assert "1920×1080" in answer.json["message"]
    assert decoded_frames == []


def test_a_capture_over_the_total_pixel_cap_is_413_before_any_frame_is_decoded(
    challenger: Challenger, hamilton: str, decoded_frames: list[int]
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, [blank_png(1920, 1080)] * 30)  # 62 million
    assert answer.status_code == 413
    assert "pixels in all" in answer.json["message"]
    assert decoded_frames == []


@pytest.mark.parametrize("settings_overrides", [WITHOUT_SYNC])
def test_oversized_captures_are_not_failed_log_ins_of_the_name(
    app, challenger: Challenger, hamilton: str
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(6):
        challenger.challenge()
        assert send_capture(challenger, hamilton, [blank_png(2000, 1200)] * 8).status_code == 413
    assert failures(app, hamilton) == 0
    challenger.challenge()
    assert send_capture(challenger, hamilton).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{**FIXED, "ratelimit_per_ip": "4 per minute"}])
def test_oversized_captures_count_for_the_clients_rate_limit(
    challenger: Challenger, hamilton: str
) -> None:
    # Four oversized captures use the route's four.
    for _ in range(4):
        challenger.challenge()
        assert send_capture(challenger, hamilton, [blank_png(1920, 1080)] * 30).status_code == 413
    assert send_capture(challenger, hamilton).status_code == 429


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (640, 480)])
def test_webcam_and_upright_phone_frames_fit_the_frame_limit(size: tuple[int, int]) -> None:
    check_burst_size([size] * 8, 1920, 1080, 24_000_000)


@pytest.mark.parametrize("size", [(1921, 1080), (1200, 1200), (1080, 1921)])
def test_frames_over_the_frame_limit_either_way_up_are_too_large(size: tuple[int, int]) -> None:
    with pytest.raises(TooLarge):
        check_burst_size([size], 1920, 1080, 24_000_000)


def test_default_limits_fit_the_longest_capture_of_webcam_frames() -> None:
    defaults = Settings()
    assert (defaults.max_frame_width_px, defaults.max_frame_height_px) == (1920, 1080)
    check_burst_size(
        [(640, 480)] * 150,
        defaults.max_frame_width_px,
        defaults.max_frame_height_px,
        defaults.max_capture_pixels,
    )
