"""Face embeddings on the real dlib and SFace models and real photos."""

from __future__ import annotations

import pytest

from facevoice.biometrics.face import (
    MODEL_SIZE,
    cosine_distance,
    create_embedding,
    max_distance_for,
    model_distances,
    verify_face,
)
from facevoice.config import Settings
from facevoice.errors import NoFaceFound, TooManyFaces
from tests import media

CAP = 40_000_000
THRESHOLD = Settings().face_max_fused_distance
LEGACY_THRESHOLD = Settings().face_max_cosine_distance


@pytest.fixture(scope="module")
def obama(models):  # type: ignore[no-untyped-def]
    """Embedding of obama.jpg."""
    return create_embedding(media.FACES / "obama.jpg", models.face, CAP)


def test_embedding_is_dlib_then_sface_each_a_unit_128_vector(obama) -> None:  # type: ignore[no-untyped-def]
    assert obama.shape == (2 * MODEL_SIZE,)
    for half in (obama[:MODEL_SIZE], obama[MODEL_SIZE:]):
        assert float((half**2).sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "photo",
    [
        "obama2.jpg",
        "obama3.jpg",
        "obama-240p.jpg",
        "obama-1080p.jpg",
        "32bit.png",
        "people/test_obama1.jpg",
    ],
)
def test_other_photos_of_the_same_person_match(models, obama, photo: str) -> None:  # type: ignore[no-untyped-def]
    probe = create_embedding(media.FACES / photo, models.face, CAP)
    assert verify_face(obama, probe, THRESHOLD).matched


@pytest.mark.parametrize(
    "photo",
    [
        "biden.jpg",
        "people/alex_lacamoire/img1.jpg",
        "people/kit_harington/john1.jpeg",
        "people/rose_leslie/img1.jpg",
    ],
)
def test_other_people_do_not_match(models, obama, photo: str) -> None:  # type: ignore[no-untyped-def]
    probe = create_embedding(media.FACES / photo, models.face, CAP)
    result = verify_face(obama, probe, THRESHOLD)
    assert not result.matched
    assert result.distance > 1.3 * THRESHOLD


def test_each_model_alone_tells_obama2_from_biden(models, obama) -> None:  # type: ignore[no-untyped-def]
    same = model_distances(obama, create_embedding(media.FACES / "obama2.jpg", models.face, CAP))
    other = model_distances(obama, create_embedding(media.FACES / "biden.jpg", models.face, CAP))
    for model in ("dlib", "sface"):
        assert same[model] < other[model] / 2


def test_a_legacy_dlib_template_is_verified_by_dlib_alone(models, obama) -> None:  # type: ignore[no-untyped-def]
    legacy = obama[:MODEL_SIZE]
    limit = max_distance_for(legacy, THRESHOLD, LEGACY_THRESHOLD)
    assert limit == LEGACY_THRESHOLD
    same = create_embedding(media.FACES / "obama2.jpg", models.face, CAP)
    other = create_embedding(media.FACES / "biden.jpg", models.face, CAP)
    matched = verify_face(legacy, same, limit)
    assert matched.matched
    assert matched.distance == pytest.approx(model_distances(obama, same)["dlib"], abs=1e-6)
    assert not verify_face(legacy, other, limit).matched


def test_two_faces_are_refused(models) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TooManyFaces):
        create_embedding(media.FACES / "two_people.jpg", models.face, CAP)


def test_small_faces_in_a_large_group_photo_are_still_found(models) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TooManyFaces):
        create_embedding(media.FACES / "people/test_obama_and_biden.jpg", models.face, CAP)


def test_picture_without_a_face_is_refused(models) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NoFaceFound, match="No face found"):
        create_embedding(media.picture(), models.face, CAP)


def test_cosine_distance_is_zero_for_the_same_vector(obama) -> None:  # type: ignore[no-untyped-def]
    assert cosine_distance(obama, obama) == pytest.approx(0.0, abs=1e-6)
