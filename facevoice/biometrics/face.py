"""Face embeddings with dlib: HOG detection, 5-point alignment, 128-d ResNet descriptor.

Model files come from the installed ``face_recognition_models`` package (CC0 models only),
located without importing it, since its ``__init__`` needs ``pkg_resources``.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import dlib
import numpy as np

from facevoice.biometrics.images import ImageSource, load_image, scaled_copy
from facevoice.biometrics.vectors import cosine_similarity, normalise
from facevoice.errors import NoFaceFound, TooManyFaces

EMBEDDING_SIZE = 128


@dataclass(frozen=True)
class FaceObservation:
    """One detected face: its box (left, top, right, bottom) and five landmarks as (x, y).

    Landmarks follow dlib's 5-point model: 0-1 one eye's corners, 2-3 the other's, 4 the
    base of the nose; coordinates are pixels of the original image.
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    shape: dlib.full_object_detection


@dataclass(frozen=True)
class FaceMatch:
    """Outcome of comparing a face with a template."""

    matched: bool
    distance: float


def model_dir() -> Path:
    """Folder of dlib's model files inside the installed face_recognition_models package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceModel:
    """dlib's detector, 5-point shape predictor and ResNet descriptor, loaded once."""

    def __init__(self, detect_width_px: int = 480) -> None:
        models = model_dir()
        self.detect_width_px = detect_width_px
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat")
        )
        # dlib's networks keep per-object scratch buffers: one call at a time per process.
        self._lock = threading.Lock()

    def find_faces(self, rgb: np.ndarray) -> list[FaceObservation]:
        """Detect every face of an RGB image and locate its five landmarks."""
        small, scale = scaled_copy(rgb, self.detect_width_px)
        with self._lock:
            boxes = self._detector(small, 0)
            if len(boxes) == 0:
                # Small or distant faces: one upsampling pass finds faces down to ~40 px.
                boxes = self._detector(small, 1)
            faces = []
            for box in boxes:
                full = dlib.rectangle(
                    round(box.left() / scale),
                    round(box.top() / scale),
                    round(box.right() / scale),
                    round(box.bottom() / scale),
                )
                shape = self._predictor(rgb, full)
                points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
                faces.append(
                    FaceObservation(
                        (full.left(), full.top(), full.right(), full.bottom()), points, shape
                    )
                )
        return faces

    def single_face(self, rgb: np.ndarray) -> FaceObservation:
        """The one face of an image; ``NoFaceFound`` or ``TooManyFaces`` otherwise."""
        faces = self.find_faces(rgb)
        if not faces:
            raise NoFaceFound()
        if len(faces) > 1:
            raise TooManyFaces()
        return faces[0]

    def descriptor(self, rgb: np.ndarray, face: FaceObservation) -> np.ndarray:
        """The L2-normalised 128-d descriptor of an aligned face."""
        with self._lock:
            vector = np.asarray(self._encoder.compute_face_descriptor(rgb, face.shape))
        return normalise(vector)

    def embed(self, rgb: np.ndarray) -> np.ndarray:
        """Embedding of the single face in an RGB image."""
        return self.descriptor(rgb, self.single_face(rgb))

    def warm_up(self) -> None:
        """Run every network once so the first request does not pay for page faults."""
        blank = np.zeros((480, 640, 3), dtype=np.uint8)
        self.find_faces(blank)
        shape = self._predictor(blank, dlib.rectangle(200, 120, 440, 360))
        with self._lock:
            self._encoder.compute_face_descriptor(blank, shape)


@functools.cache
def get_face_model(detect_width_px: int = 480) -> FaceModel:
    """The process-wide face model."""
    return FaceModel(detect_width_px)


def create_embedding(image: ImageSource, model: FaceModel, max_pixels: int) -> np.ndarray:
    """Embed the single face of a photo (path, bytes or file); raises on no or several faces."""
    return model.embed(load_image(image, max_pixels))


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 minus the cosine of the angle between two embeddings (0 = same direction)."""
    return 1.0 - cosine_similarity(a, b)


def verify_face(template: np.ndarray, probe: np.ndarray, max_distance: float) -> FaceMatch:
    """Match when the cosine distance of probe to template is at most ``max_distance``."""
    distance = cosine_distance(template, probe)
    return FaceMatch(matched=distance <= max_distance, distance=distance)
