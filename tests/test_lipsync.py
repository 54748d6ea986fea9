"""Lip–audio sync: the clip's speaking mouth with its own sound, printed photos, and the rules."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facevoice.biometrics.audio import SAMPLE_RATE
from facevoice.biometrics.lipsync import (
    CHIN,
    FOREHEAD,
    LOWER_LIP,
    MOUTH_STILL,
    OUT_OF_SYNC,
    TOO_FEW_FRAMES,
    UPPER_LIP,
    SyncRules,
    check_sync,
    mouth_opening,
)
from tests import media

RULES = SyncRules()


def openings_of(models, frames: list[np.ndarray]) -> list[float | None]:  # type: ignore[no-untyped-def]
    """Each frame's mouth opening, None where the landmarker finds no single face."""
    found = [models.landmarker().faces(rgb) for rgb in frames]
    return [mouth_opening(faces[0]) if len(faces) == 1 else None for faces in found]


def test_the_clips_speaking_mouth_with_its_own_sound_is_in_sync(models) -> None:  # type: ignore[no-untyped-def]
    sound, times = media.clip_sound()
    openings = openings_of(models, media.clip_frames(media.CAPTURE_FRAMES))
    result = check_sync(openings, [times[i] for i in media.CAPTURE_FRAMES], sound, RULES)
    assert result.passed, result
    assert result.frames == len(media.CAPTURE_FRAMES)
    assert result.movement > 2 * RULES.min_mouth_movement


def test_a_printed_photo_turned_while_the_users_voice_says_the_digits_shows_a_still_mouth(
    models,
) -> None:  # type: ignore[no-untyped-def]
    print_ = Image.fromarray(media.clip_frames([media.FRONTAL_FRAME])[0])
    angles = 45 * np.sin(np.linspace(0, np.pi, 40))
    frames = [media.turned_photo_frame(print_, float(a)) for a in angles]
    reading = media.spoken_digits("jackson", "47192", [30] * 5, media.PAUSES)
    times = np.linspace(0, 1000 * reading.size / SAMPLE_RATE - 50, len(frames))
    result = check_sync(openings_of(models, frames), times.tolist(), reading, RULES)
    assert not result.passed
    assert result.reason == MOUTH_STILL
    assert "mouth" in result.advice


# Five spoken digits: (start, end) in seconds.
DIGITS_SPOKEN = [(0.3, 0.75), (1.2, 1.6), (2.1, 2.6), (3.05, 3.4), (3.9, 4.4)]


def synthetic_digits(seconds: float = 4.8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A voiced sound for each of five digits with pauses between them, a mouth open while
    each lasts (filmed at 30 frames a second), and the frames' times in ms."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    loud = np.zeros_like(t)
    for start, end in DIGITS_SPOKEN:
        loud[(t >= start) & (t < end)] = 1.0
    voice = 0.3 * loud * np.sign(np.sin(2 * np.pi * 140 * t)) * np.sin(2 * np.pi * 420 * t)
    frame_times = np.arange(0, 1000 * seconds - 50, 1000 / 30)
    open_at = np.interp(frame_times, 1000 * t, loud)
    return voice.astype(np.float32), 0.02 + 0.05 * open_at, frame_times


def test_a_mouth_opening_with_each_digit_is_in_sync() -> None:
    samples, openings, times = synthetic_digits()
    result = check_sync(openings.tolist(), times.tolist(), samples, RULES)
    assert result.passed
    assert result.score > 0.5
    assert abs(result.delay_ms) <= 40


def test_a_mouth_closing_with_each_digit_is_out_of_sync() -> None:
    samples, openings, times = synthetic_digits()
    result = check_sync((0.09 - openings).tolist(), times.tolist(), samples, RULES)
    assert not result.passed
    assert result.reason == OUT_OF_SYNC
    assert "mouth" in result.advice


def test_frames_outside_the_speech_do_not_count() -> None:
    samples, openings, times = synthetic_digits()
    lead = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)  # two silent seconds: the head turn
    result = check_sync(openings.tolist(), (times + 2000).tolist(), np.r_[lead, samples], RULES)
    assert result.passed
    turn_frames = [0.05] * 60
    everything = check_sync(
        turn_frames + openings.tolist(),
        list(np.arange(0, 2000, 1000 / 30)) + (times + 2000).tolist(),
        np.r_[lead, samples],
        RULES,
    )
    assert everything.frames == result.frames


def test_a_face_lost_while_speaking_gives_too_few_frames() -> None:
    samples, openings, times = synthetic_digits()
    seen: list[float | None] = [None] * len(openings)
    seen[:5] = openings[:5].tolist()
    result = check_sync(seen, times.tolist(), samples, RULES)
    assert not result.passed
    assert result.reason == TOO_FEW_FRAMES
    assert "face in view" in result.advice


@pytest.mark.parametrize("height", [100.0, 400.0])
def test_the_mouth_opening_is_a_share_of_the_faces_height(height: float) -> None:
    mesh = np.zeros((478, 3))
    mesh[FOREHEAD, :2] = (50, 0)
    mesh[CHIN, :2] = (50, height)
    mesh[UPPER_LIP, :2] = (50, 0.7 * height)
    mesh[LOWER_LIP, :2] = (50, 0.75 * height)
    assert mouth_opening(mesh) == pytest.approx(0.05)
