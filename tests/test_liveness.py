"""Head-turn liveness on the real face model: real turns pass; photos and wrong turns fail."""

from __future__ import annotations

import random

import numpy as np
import pytest

from facevoice.biometrics.liveness import (
    FACE_CHANGED,
    FACE_MISMATCH,
    NO_RETURN,
    NO_TURN,
    SEVERAL_FACES,
    STILL_PICTURE,
    WRONG_SIDE,
    FaceChallenge,
    HeadTurnResult,
    check_head_turn,
    face_changes,
    new_face_challenge,
    yaw_degrees,
)
from facevoice.biometrics.models import Biometrics
from facevoice.config import Settings
from facevoice.errors import BadInput
from tests import media
from tests.media import FRONTAL_FRAME, TURN_TO_THE_RIGHT

OTHER_PERSON_TURNED = [228, 252]  # the clip's other person, turned about 18° and 25°

PEAK_OF_THE_TURN = 134  # of TURN_TO_THE_RIGHT: about 45° to the person's right
MAX_DISTANCE = Settings().face_max_fused_distance


@pytest.fixture(scope="module")
def clip_template(models: Biometrics) -> np.ndarray:
    """The clip's person enrolled from a frontal frame outside the turn."""
    return models.face.embed(media.clip_frames([FRONTAL_FRAME])[0])


@pytest.fixture(scope="module")
def obama_template(models: Biometrics) -> np.ndarray:
    """Obama enrolled from one photo."""
    return models.face.embed(np.asarray(media.webcam_photo("people/obama/obama.jpg")))


def check(
    frames: list[np.ndarray], side: str, template: np.ndarray, models: Biometrics
) -> HeadTurnResult:
    """Check a burst against a challenge to turn to ``side``."""
    return check_head_turn(frames, FaceChallenge(side), template, models.face, MAX_DISTANCE)  # type: ignore[arg-type]


def similarity(points: np.ndarray, scale: float, degrees: float, shift: tuple[float, float]):  # type: ignore[no-untyped-def]
    """Landmarks moved, scaled and rotated in the image plane."""
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return points @ rotation.T * scale + np.array(shift)


def test_new_face_challenge_draws_both_sides() -> None:
    rng = random.Random(5)
    assert {new_face_challenge(rng).side for _ in range(50)} == {"left", "right"}


def test_challenge_to_another_side_is_bad_input() -> None:
    with pytest.raises(BadInput):
        FaceChallenge("up")  # type: ignore[arg-type]


def test_challenge_instruction_names_the_side() -> None:
    assert "left" in FaceChallenge("left").instruction
    assert "right" in FaceChallenge("right").instruction


def test_yaw_is_negative_when_the_head_turns_to_its_right(models: Biometrics) -> None:
    frame = media.clip_frames([PEAK_OF_THE_TURN])[0]
    assert yaw_degrees(models.face.single_face(frame).landmarks) < -30


def test_yaw_changes_sign_in_a_mirrored_frame(models: Biometrics) -> None:
    frame = media.clip_frames([PEAK_OF_THE_TURN], mirror=True)[0]
    assert yaw_degrees(models.face.single_face(frame).landmarks) > 30


def test_yaw_ignores_shift_scale_and_tilt() -> None:
    points = np.array([[330, 200], [310, 201], [260, 202], [280, 201], [300, 240]], float)
    moved = similarity(points, scale=1.7, degrees=12, shift=(-90, 35))
    assert yaw_degrees(moved) == pytest.approx(yaw_degrees(points), abs=1e-6)


def test_head_turn_to_the_requested_side_passes(
    models: Biometrics, clip_template: np.ndarray
) -> None:
    result = check(media.clip_frames(TURN_TO_THE_RIGHT), "right", clip_template, models)
    assert result.passed, result.reasons
    assert result.turn_degrees > 30


def test_mirrored_turn_passes_a_left_challenge(
    models: Biometrics, clip_template: np.ndarray
) -> None:
    frames = media.clip_frames(TURN_TO_THE_RIGHT, mirror=True)
    assert check(frames, "left", clip_template, models).passed


def test_head_turn_returns_the_most_frontal_frames_embedding(
    models: Biometrics, clip_template: np.ndarray
) -> None:
    result = check(media.clip_frames(TURN_TO_THE_RIGHT), "right", clip_template, models)
    assert result.best_frame is not None and result.embedding is not None
    yaws = [abs(f.yaw) for f in result.frames if f.yaw is not None]
    assert abs(result.frames[result.best_frame].yaw or 0.0) == min(yaws)
    assert result.embedding.shape == (256,)


def test_head_turn_to_the_wrong_side_is_refused(
    models: Biometrics, clip_template: np.ndarray
) -> None:
    result = check(media.clip_frames(TURN_TO_THE_RIGHT), "left", clip_template, models)
    assert not result.passed
    assert NO_TURN in result.reasons
    assert WRONG_SIDE in result.reasons


def test_head_turn_that_does_not_come_back_is_refused(
    models: Biometrics, clip_template: np.ndarray
) -> None:
    frames = media.clip_frames(list(range(96, 137, 5)))
    result = check(frames, "right", clip_template, models)
    assert result.reasons == (NO_RETURN,)


def test_still_photo_burst_is_refused(models: Biometrics, obama_template: np.ndarray) -> None:
    result = check(media.photo_burst("obama2.jpg"), "left", obama_template, models)
    assert not result.passed
    assert STILL_PICTURE in result.reasons


def test_photo_moved_scaled_and_tilted_per_frame_is_refused(
    models: Biometrics, obama_template: np.ndarray
) -> None:
    frames = media.photo_burst("obama2.jpg", moved=True, seed=3)
    result = check(frames, "right", obama_template, models)
    assert not result.passed
    assert NO_TURN in result.reasons


def test_photo_turned_in_perspective_is_refused(
    models: Biometrics, obama_template: np.ndarray
) -> None:
    # Since YuNet detects the faces, the landmarks read this photo as a 17° turn (under the
    # 20° asked for) and find no face at its steepest angles; with dlib's HOG boxes it read
    # as a turned head. A narrow margin, not a designed defence.
    frames = media.turned_photo_burst("people/obama/obama.jpg", max_degrees=60)
    assert not check(frames, "left", obama_template, models).passed


def test_another_person_turning_is_refused(models: Biometrics, obama_template: np.ndarray) -> None:
    result = check(media.clip_frames(TURN_TO_THE_RIGHT), "right", obama_template, models)
    assert not result.passed
    assert result.reasons == (FACE_MISMATCH,)


def test_two_people_in_the_frames_are_refused(
    models: Biometrics, obama_template: np.ndarray
) -> None:
    result = check(media.photo_burst("two_people.jpg"), "left", obama_template, models)
    assert SEVERAL_FACES in result.reasons


def test_refusal_advises_turning_further() -> None:
    result = HeadTurnResult(False, (NO_TURN,), (), 5.0, 0.0, None, None)
    assert "Turn your head further" in result.message


def test_too_few_frames_are_bad_input(models: Biometrics, clip_template: np.ndarray) -> None:
    with pytest.raises(BadInput):
        check(media.clip_frames(TURN_TO_THE_RIGHT[:3]), "right", clip_template, models)


def spliced(burst: list[np.ndarray], positions: list[int], frames: list[np.ndarray]):  # type: ignore[no-untyped-def]
    """The burst with the frames at ``positions`` replaced by ``frames``."""
    burst = list(burst)
    for position, frame in zip(positions, frames, strict=True):
        burst[position] = frame
    return burst


def unit(*values: float) -> np.ndarray:
    """A unit vector along the given direction."""
    vector = np.array(values, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def test_genuine_burst_keeps_its_most_turned_frame_as_the_peak(
    models: Biometrics, clip_template: np.ndarray
) -> None:
    result = check(media.clip_frames(TURN_TO_THE_RIGHT), "right", clip_template, models)
    yaws = [f.yaw for f in result.frames if f.yaw is not None]
    assert result.peak_frame is not None
    assert result.frames[result.peak_frame].yaw == min(yaws)


def test_impostor_photo_spliced_into_the_turn_is_refused(
    models: Biometrics, clip_template: np.ndarray
) -> None:
    impostor = np.asarray(media.webcam_photo("biden.jpg"))
    frames = spliced(media.clip_frames(TURN_TO_THE_RIGHT), [2, 3], [impostor, impostor])
    result = check(frames, "right", clip_template, models)
    assert not result.passed
    assert FACE_CHANGED in result.reasons


def test_another_person_turned_spliced_into_the_turn_is_refused(
    models: Biometrics, clip_template: np.ndarray
) -> None:
    frames = spliced(
        media.clip_frames(TURN_TO_THE_RIGHT), [3, 4], media.clip_frames(OTHER_PERSON_TURNED)
    )
    result = check(frames, "right", clip_template, models)
    assert not result.passed
    assert FACE_CHANGED in result.reasons


def test_same_face_throughout_is_no_change() -> None:
    assert not face_changes([unit(1, 0), unit(1, 0.1), unit(1, 0.2)], max_distance=0.1)


def test_one_far_face_mid_burst_is_a_change() -> None:
    assert face_changes([unit(1, 0), unit(0, 1), unit(1, 0)], max_distance=0.5)


def test_frames_without_a_face_are_skipped_over() -> None:
    assert face_changes([unit(1, 0), None, unit(0, 1)], max_distance=0.5)
    assert not face_changes([unit(1, 0), None, unit(1, 0)], max_distance=0.5)


def test_a_distance_at_the_limit_is_no_change() -> None:
    # cosine distance between these two is exactly 1 - 0.6 = 0.4
    assert not face_changes([unit(1, 0), unit(0.6, 0.8)], max_distance=0.4 + 1e-12)
