"""The 3-D structure check: a head turning, against flat and bent pictures of a face."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.biometrics.structure import (
    FLAT,
    TOO_FEW_FACES,
    StructureRules,
    check_structure,
    fit_homography,
)
from tests import media

RULES = StructureRules()


def meshes_of(models, frames: list[np.ndarray]) -> list[np.ndarray | None]:  # type: ignore[no-untyped-def]
    """Each frame's mesh, None where the landmarker does not find exactly one face."""
    found = [models.landmarker().faces(np.asarray(frame)) for frame in frames]
    return [faces[0] if len(faces) == 1 else None for faces in found]


@pytest.mark.parametrize("mirror", [False, True])
def test_the_clips_head_turning_shows_depth(models, mirror: bool) -> None:  # type: ignore[no-untyped-def]
    result = check_structure(
        meshes_of(models, media.clip_frames(media.CAPTURE_FRAMES, mirror=mirror)), RULES
    )
    assert result.passed, result
    assert result.depth > 1.2 * RULES.min_depth


@pytest.mark.parametrize("degrees", [35, -50])
def test_a_flat_print_turned_shows_no_depth(models, degrees: float) -> None:  # type: ignore[no-untyped-def]
    result = check_structure(
        meshes_of(models, media.turned_photo_burst("obama.jpg", 10, degrees)), RULES
    )
    assert not result.passed
    assert result.reason == FLAT
    assert "not a picture" in result.advice


@pytest.mark.parametrize("axis", ["vertical", "horizontal"])
def test_a_print_bent_on_a_cylinder_and_turned_shows_no_depth(models, axis: str) -> None:  # type: ignore[no-untyped-def]
    frames = media.bent_photo_burst("obama.jpg", 300, axis, 35, 8)
    result = check_structure(meshes_of(models, frames), RULES)
    assert not result.passed
    assert result.reason == FLAT


def test_a_still_print_shows_no_depth(models) -> None:  # type: ignore[no-untyped-def]
    result = check_structure(meshes_of(models, media.photo_burst("obama.jpg", 8)), RULES)
    assert not result.passed
    assert result.depth < 0.01


def test_too_few_frames_with_a_face_are_refused_with_their_own_advice() -> None:
    result = check_structure([None] * 10, RULES)
    assert result.reason == TOO_FEW_FACES
    assert "Keep your whole face" in result.advice


# Geometry without rendering: a face's 3-D points (a real mesh, with its depth) seen turned.


def turned_views(points: np.ndarray, degrees: float, count: int = 6) -> list[np.ndarray]:
    """(478, 3) points turned about the vertical through their centre, in perspective."""
    centre = points.mean(axis=0)
    focal = 1000.0
    views = []
    for angle in np.radians(np.linspace(0, degrees, count)):
        x, y, z = (points - centre).T
        turned_x = x * np.cos(angle) + z * np.sin(angle)
        depth = focal - x * np.sin(angle) + z * np.cos(angle)
        views.append(np.stack([focal * turned_x / depth, focal * y / depth, z], axis=1) + 320)
    return views


@pytest.fixture(scope="module")
def face_points(models) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A frontal face's mesh in pixels, depth included."""
    [mesh] = models.landmarker().faces(np.asarray(media.webcam_photo("obama.jpg")))
    return mesh.astype(np.float64)


def test_a_face_shaped_solid_turned_by_20_degrees_shows_depth(face_points: np.ndarray) -> None:
    assert check_structure(turned_views(face_points, 20), RULES).passed


def test_the_same_points_flattened_show_none(face_points: np.ndarray) -> None:
    flat = face_points.copy()
    flat[:, 2] = 0
    result = check_structure(turned_views(flat, 40), RULES)
    assert not result.passed
    assert result.depth < 0.005


@pytest.mark.parametrize("axis", [0, 1])
def test_the_same_points_on_a_cylinder_show_too_little(face_points: np.ndarray, axis: int) -> None:
    bent = face_points.copy()
    across = bent[:, axis] - bent[:, axis].mean()
    bent[:, 2] = across**2 / (2 * 150.0)  # a cylinder of radius 150 px, bent one way only
    result = check_structure(turned_views(bent, 40), RULES)
    assert not result.passed


def test_the_homography_of_a_plane_maps_its_points_exactly() -> None:
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 500, (40, 2))
    truth = np.array([[1.1, 0.05, 12.0], [-0.03, 0.95, -7.0], [2e-4, -1e-4, 1.0]])
    moved = np.c_[source, np.ones(40)] @ truth.T
    target = moved[:, :2] / moved[:, 2:3]
    fitted = fit_homography(source, target)
    assert np.allclose(fitted / fitted[2, 2], truth, atol=1e-6)
