"""Issue 13 §3: poor photos and recordings are refused with the one piece of advice that fits."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.biometrics import quality
from facevoice.biometrics.audio import decode_audio, wav_bytes
from facevoice.biometrics.images import load_image
from facevoice.biometrics.models import Biometrics
from facevoice.biometrics.quality import (
    PhotoLimits,
    check_photo_quality,
    check_recording_quality,
    measure_photo,
)
from facevoice.errors import PoorCapture
from tests import media
from tests.conftest import Challenger, Visitor, send_capture

TURNED_FRAME = 136  # the clip's man with his head turned about 40° (yaw from the landmarks)


def photo_rgb(name: str = "obama.jpg") -> np.ndarray:
    """A good photo of ../shared/data as RGB."""
    return load_image(media.FACES / name, 10**8)


def advice_for_photo(models: Biometrics, rgb: np.ndarray, enrollment: bool = True) -> str:
    """The advice a photo is refused with (fails the test when it passes)."""
    with pytest.raises(PoorCapture) as refused:
        check_photo_quality(rgb, models.face.single_face(rgb), enrollment=enrollment)
    return refused.value.message


def advice_for_recording(samples: np.ndarray) -> str:
    """The advice a recording is refused with (fails the test when it passes)."""
    with pytest.raises(PoorCapture) as refused:
        check_recording_quality(samples)
    return refused.value.message


def phrase_samples() -> np.ndarray:
    """A good 3 s LibriSpeech phrase, as 16 kHz samples."""
    return decode_audio(media.phrase(media.SPEAKER_A, 0), 60)


@pytest.mark.parametrize("name", ["obama.jpg", "obama-240p.jpg", "people/rose_leslie/img1.jpg"])
def test_good_photos_pass(models: Biometrics, name: str) -> None:
    rgb = photo_rgb(name)
    measures = check_photo_quality(rgb, models.face.single_face(rgb))
    assert measures.face_px >= PhotoLimits().min_face_px


def test_a_dark_face_is_told_to_turn_on_a_light(models: Biometrics) -> None:
    assert advice_for_photo(models, media.darkened(photo_rgb())) == quality.TOO_DARK


def test_a_blurred_face_is_told_to_hold_still(models: Biometrics) -> None:
    rgb = photo_rgb()
    blurred = media.blurred(rgb, models.face.single_face(rgb).box)
    assert advice_for_photo(models, blurred) == quality.BLURRED


def test_a_small_face_is_told_to_move_closer(models: Biometrics) -> None:
    assert advice_for_photo(models, media.downscaled(photo_rgb(), 0.15)) == quality.MOVE_CLOSER


def test_a_face_lit_from_one_side_is_told_to_face_the_light(models: Biometrics) -> None:
    rgb = photo_rgb()
    side_lit = media.side_lit(rgb, models.face.single_face(rgb).box)
    assert advice_for_photo(models, side_lit) == quality.SIDE_LIGHT


def test_covered_eyes_are_told_to_show_both_eyes(models: Biometrics) -> None:
    rgb = photo_rgb()
    face = models.face.single_face(rgb)
    assert face.detection is not None
    covered = media.eyes_covered(rgb, face.detection.landmarks[:2])
    assert advice_for_photo(models, covered) == quality.EYES_HIDDEN


def test_a_turned_head_is_refused_for_enrollment_only(models: Biometrics) -> None:
    rgb = media.clip_frames([TURNED_FRAME])[0]
    face = models.face.single_face(rgb)
    assert abs(measure_photo(rgb, face).yaw_degrees) > PhotoLimits().max_yaw_degrees
    assert advice_for_photo(models, rgb, enrollment=True) == quality.TURNED
    check_photo_quality(rgb, face, enrollment=False)


@pytest.mark.parametrize("speaker", [media.SPEAKER_A, media.SPEAKER_B])
def test_good_recordings_pass(speaker: str) -> None:
    samples = decode_audio(media.phrase(speaker, 0), 60)
    assert check_recording_quality(samples).speech_seconds > 1.0


def test_a_good_log_in_reading_passes() -> None:
    reading = media.spoken_digits("theo", "47192", [0, 1, 2, 3, 4], media.PAUSES)
    assert check_recording_quality(reading).clipped_fraction == 0.0


def test_a_clipped_recording_is_told_to_move_the_microphone_away() -> None:
    assert advice_for_recording(media.clipped(phrase_samples())) == quality.CLIPPED


def test_a_quiet_recording_is_told_to_speak_louder() -> None:
    assert advice_for_recording(media.made_quiet(phrase_samples(), 20)) == quality.TOO_QUIET


def test_a_too_short_recording_is_told_to_read_the_whole_sentence() -> None:
    half_a_second = phrase_samples()[: media.SAMPLE_RATE // 2]
    assert advice_for_recording(half_a_second) == quality.TOO_SHORT


# Through HTTP: the 422 and its advice, before anything is kept.


def test_a_dark_photo_is_422_with_its_advice(visitor: Visitor) -> None:
    answer = visitor.take_photo("obama", "sign_up", media.jpeg(media.darkened(photo_rgb())))
    assert answer.status_code == 422
    assert answer.json == {"ok": False, "message": quality.TOO_DARK, "quality": True}


def test_a_clipped_recording_is_422_with_its_advice(visitor: Visitor) -> None:
    audio = wav_bytes(media.clipped(phrase_samples()))
    answer = visitor.record_voice("obama", "sign_up", audio)
    assert answer.status_code == 422
    assert answer.json["message"] == quality.CLIPPED


def test_a_refused_photo_keeps_nothing(visitor: Visitor) -> None:
    visitor.take_photo("obama", "sign_up", media.jpeg(media.darkened(photo_rgb())))
    for index in range(3):
        visitor.record_voice("obama", "sign_up", media.phrase(media.SPEAKER_A, index))
    assert visitor.post("/sign_up", username="obama").status_code == 400


def test_a_turned_photo_is_refused_at_sign_up_but_not_at_log_in(
    visitor: Visitor, enrolled: str
) -> None:
    turned = media.jpeg(media.clip_frames([TURNED_FRAME])[0])
    answer = visitor.take_photo("someone", "sign_up", turned)
    assert (answer.status_code, answer.json["message"]) == (422, quality.TURNED)
    assert visitor.take_photo(enrolled, "log_in", turned).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"quality_checks": False}])
def test_quality_checks_can_be_switched_off(visitor: Visitor) -> None:
    dark = media.jpeg(media.darkened(photo_rgb()))
    assert visitor.take_photo("obama", "sign_up", dark).status_code == 200


TURN = {
    "voice_challenge": False,
    "face_challenge": True,
    "fixed_face_turn": "right",
    "testing_skip_checks": "sync",
}


@pytest.mark.parametrize("settings_overrides", [TURN])
def test_a_dark_log_in_capture_is_422_with_its_advice(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    dark = [media.jpeg(media.darkened(rgb)) for rgb in media.clip_frames(media.CAPTURE_FRAMES)]
    answer = send_capture(challenger, hamilton, dark)
    assert (answer.status_code, answer.json["message"]) == (422, quality.TOO_DARK)
