"""Lip–audio sync: the clip's speaking mouth with its own sound, printed photos, and the rules."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facevoice.biometrics.audio import SAMPLE_RATE
from facevoice.biometrics.lipsync import (
    CHIN,
    FOREHEAD,
    INNER_LIPS,
    LOWER_LIP,
    MOUTH_STILL,
    OUT_OF_SYNC,
    TOO_FEW_FRAMES,
    UPPER_LIP,
    Mouth,
    SyncRules,
    check_sync,
    mouth_area,
    mouth_of,
    mouth_opening,
)
from tests import media

RULES = SyncRules()


def mouths_of(models, frames: list[np.ndarray]) -> list[Mouth | None]:  # type: ignore[no-untyped-def]
    """Each frame's mouth, None where the landmarker finds no single face."""
    found = [models.landmarker().faces(rgb) for rgb in frames]
    return [mouth_of(faces[0]) if len(faces) == 1 else None for faces in found]


def opening_and_area(values: np.ndarray | list[float]) -> list[Mouth | None]:
    """Mouths whose opening and area are both ``values`` (synthetic frames)."""
    return [Mouth(float(v), float(v)) for v in values]


@pytest.fixture(scope="module")
def clip_mouths(models) -> list[Mouth | None]:  # type: ignore[no-untyped-def]
    """The mouth area in the capture's frames of the clip (15 frames a second, speaking)."""
    return mouths_of(models, media.clip_frames(media.CAPTURE_FRAMES))


def clip_sync(mouths: list[Mouth | None], sound: np.ndarray, shift_ms: int = 0):  # type: ignore[no-untyped-def]
    """The sync of the clip's capture frames with ``sound``, its frames ``shift_ms`` later."""
    return check_sync(mouths, media.capture_frame_times(shift_ms), sound, RULES)


def test_the_clips_speaking_mouth_with_its_own_sound_is_in_sync(
    clip_mouths: list[Mouth | None],
) -> None:
    result = clip_sync(clip_mouths, media.clip_sound()[0])
    assert result.passed, result
    assert result.frames == len(media.CAPTURE_FRAMES)
    assert result.movement > 2 * RULES.min_mouth_movement
    assert result.score >= result.elsewhere


@pytest.mark.parametrize("shift_ms", [-1000, -500, 500, 1000])
def test_the_clips_mouth_with_its_own_sound_shifted_is_out_of_sync(
    clip_mouths: list[Mouth | None], shift_ms: int
) -> None:
    result = clip_sync(clip_mouths, media.clip_sound()[0], shift_ms)
    assert not result.passed, result
    assert result.reason == OUT_OF_SYNC


def test_the_clips_mouth_with_its_own_sound_reversed_is_out_of_sync(
    clip_mouths: list[Mouth | None],
) -> None:
    result = clip_sync(clip_mouths, media.clip_sound()[0][::-1].copy())
    assert not result.passed, result
    assert result.reason == OUT_OF_SYNC


@pytest.mark.parametrize("speaker", ["103-1240-0000", "1034-121119-0000"])
def test_the_clips_mouth_with_other_speech_is_out_of_sync(
    clip_mouths: list[Mouth | None], speaker: str
) -> None:
    result = clip_sync(clip_mouths, media.dubbed_clip_sound(speaker))
    assert not result.passed, result
    assert result.reason == OUT_OF_SYNC


def test_a_printed_photo_turned_while_the_users_voice_says_the_digits_shows_a_still_mouth(
    models,
) -> None:  # type: ignore[no-untyped-def]
    print_ = Image.fromarray(media.clip_frames([media.FRONTAL_FRAME])[0])
    angles = 45 * np.sin(np.linspace(0, np.pi, 40))
    frames = [media.turned_photo_frame(print_, float(a)) for a in angles]
    reading = media.spoken_digits("jackson", "47192", [30] * 5, media.PAUSES)
    times = np.linspace(0, 1000 * reading.size / SAMPLE_RATE - 50, len(frames))
    result = check_sync(mouths_of(models, frames), times.tolist(), reading, RULES)
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
    result = check_sync(opening_and_area(openings), times.tolist(), samples, RULES)
    assert result.passed
    assert result.score > 0.5
    assert abs(result.delay_ms) <= 40


def test_a_mouth_closing_with_each_digit_is_out_of_sync() -> None:
    samples, openings, times = synthetic_digits()
    result = check_sync(opening_and_area(0.09 - openings), times.tolist(), samples, RULES)
    assert not result.passed
    assert result.reason == OUT_OF_SYNC
    assert "mouth" in result.advice


def test_frames_outside_the_speech_do_not_count() -> None:
    samples, openings, times = synthetic_digits()
    lead = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)  # two silent seconds: the head turn
    result = check_sync(
        opening_and_area(openings), (times + 2000).tolist(), np.r_[lead, samples], RULES
    )
    assert result.passed
    turn_frames = opening_and_area([0.05] * 60)
    everything = check_sync(
        turn_frames + opening_and_area(openings),
        list(np.arange(0, 2000, 1000 / 30)) + (times + 2000).tolist(),
        np.r_[lead, samples],
        RULES,
    )
    assert everything.frames == result.frames


def test_a_face_lost_while_speaking_gives_too_few_frames() -> None:
    samples, openings, times = synthetic_digits()
    seen: list[Mouth | None] = [None] * len(openings)
    seen[:5] = opening_and_area(openings[:5])
    result = check_sync(seen, times.tolist(), samples, RULES)
    assert not result.passed
    assert result.reason == TOO_FEW_FRAMES
    assert "face in view" in result.advice


@pytest.mark.parametrize("height", [100.0, 400.0])
def test_the_mouth_area_is_a_share_of_the_squared_face_height(height: float) -> None:
    mesh = np.zeros((478, 3))
    mesh[FOREHEAD, :2] = (50, 0)
    mesh[CHIN, :2] = (50, height)
    radius = 0.1 * height  # the inner lips on a circle, in ring order
    angles = np.linspace(0, 2 * np.pi, len(INNER_LIPS), endpoint=False)
    ring = np.c_[50 + radius * np.cos(angles), 0.7 * height + radius * np.sin(angles)]
    mesh[list(INNER_LIPS), :2] = ring
    polygon = len(INNER_LIPS) / 2 * np.sin(2 * np.pi / len(INNER_LIPS)) * 0.1**2
    assert mouth_area(mesh) == pytest.approx(polygon)


@pytest.mark.parametrize("height", [100.0, 400.0])
def test_the_mouth_opening_is_a_share_of_the_faces_height(height: float) -> None:
    mesh = np.zeros((478, 3))
    mesh[FOREHEAD, :2] = (50, 0)
    mesh[CHIN, :2] = (50, height)
    mesh[UPPER_LIP, :2] = (50, 0.7 * height)
    mesh[LOWER_LIP, :2] = (50, 0.75 * height)
    assert mouth_opening(mesh) == pytest.approx(0.05)


def test_closed_lips_have_no_area() -> None:
    mesh = np.zeros((478, 3))
    mesh[CHIN, :2] = (0, 200)
    mesh[list(INNER_LIPS), :2] = np.c_[np.linspace(40, 60, len(INNER_LIPS)), np.full(20, 140)]
    assert mouth_area(mesh) == 0.0
