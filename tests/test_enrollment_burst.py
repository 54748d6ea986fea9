"""Issue 13 §2: sign-up enrolls the mean face of a short burst's usable frames."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.biometrics import quality
from facevoice.biometrics.face import MODEL_SIZE, face_distance, mean_embedding
from facevoice.biometrics.models import Biometrics
from tests import media
from tests.conftest import Visitor

# Five frames over about a second, as the sign-up page takes them (29.97 frames a second).
BURST = [148 + 7 * i for i in range(5)]  # facing the camera, within 15° (yaw)


def burst_fields(frames: list[np.ndarray]) -> list[str]:
    """The frames as the page sends them: Base64 JPEGs."""
    return [media.b64(media.jpeg(rgb)) for rgb in frames]


def sign_up_with_burst(visitor: Visitor, frames: list[np.ndarray]):  # type: ignore[no-untyped-def]
    """POST /take_photo with a sign-up burst."""
    return visitor.post(
        "/take_photo", username="hamilton", flow="sign_up", frames=burst_fields(frames)
    )


def test_the_mean_of_one_face_is_that_face(models: Biometrics) -> None:
    rgb = media.clip_frames([media.FRONTAL_FRAME])[0]
    embedding = models.face.embed(rgb)
    assert np.allclose(mean_embedding([embedding, embedding]), embedding, atol=1e-6)


def test_the_mean_keeps_each_model_half_of_unit_length(models: Biometrics) -> None:
    mean = mean_embedding([models.face.embed(rgb) for rgb in media.clip_frames(BURST)])
    halves = mean[:MODEL_SIZE], mean[MODEL_SIZE:]
    assert [round(float(np.linalg.norm(h)), 5) for h in halves] == [1.0, 1.0]


def test_a_burst_template_is_closer_to_later_frames_than_its_first_frame(
    models: Biometrics,
) -> None:
    frames = media.clip_frames(BURST)
    first, mean = (
        models.face.embed(frames[0]),
        mean_embedding([models.face.embed(rgb) for rgb in frames]),
    )
    probes = [models.face.embed(rgb) for rgb in media.clip_frames([84, 96, 100, 184])]
    assert np.mean([face_distance(mean, p) for p in probes]) < np.mean(
        [face_distance(first, p) for p in probes]
    )


def test_a_sign_up_burst_enrolls_and_logs_in(visitor: Visitor) -> None:
    answer = sign_up_with_burst(visitor, media.clip_frames(BURST))
    assert (answer.status_code, answer.json["frames_used"]) == (200, 5)
    for index in range(3):
        assert visitor.record_voice("hamilton", "sign_up", media.phrase(media.SPEAKER_A, index))
    assert visitor.post("/sign_up", username="hamilton").status_code == 201
    later = media.jpeg(media.clip_frames([96])[0])
    answer = visitor.log_in("hamilton", later, media.phrase(media.SPEAKER_A, 3))
    assert answer.status_code == 200, answer.json


def test_poor_frames_of_a_burst_are_left_out(visitor: Visitor) -> None:
    frames = media.clip_frames(BURST)
    frames[1], frames[3] = media.darkened(frames[1]), media.darkened(frames[3])
    answer = sign_up_with_burst(visitor, frames)
    assert (answer.status_code, answer.json["frames_used"]) == (200, 3)


def test_a_burst_without_a_usable_frame_is_422_with_advice(visitor: Visitor) -> None:
    frames = [media.darkened(rgb) for rgb in media.clip_frames(BURST)]
    answer = sign_up_with_burst(visitor, frames)
    assert (answer.status_code, answer.json["message"]) == (422, quality.TOO_DARK)


@pytest.mark.parametrize("frames", [[], ["not base64"], [1, 2], "one"])
def test_malformed_sign_up_bursts_are_400(visitor: Visitor, frames: object) -> None:
    answer = visitor.post("/take_photo", username="hamilton", flow="sign_up", frames=frames)
    assert answer.status_code == 400
