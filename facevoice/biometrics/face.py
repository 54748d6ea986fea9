"""Face embeddings from two models, fused: dlib's ResNet and OpenCV Zoo's SFace.

A photo goes through YuNet (face detection with five landmarks, see ``sface.py``); each
face is then described twice:

- dlib: its 5-point shape predictor, run on a HOG-like square drawn from YuNet's face
  (``predictor_box``), aligns the face for dlib's 128-d
  ResNet descriptor. The dlib landmarks are what ``FaceObservation.landmarks`` holds (the
  head-turn check reads them). Model files come from the installed ``face_recognition_models``
  package (CC0 models only), located without importing it, since its ``__init__`` needs
  ``pkg_resources``.
- SFace: YuNet's five landmarks align the face for SFace's 128-d descriptor.

An embedding is one vector of 256 values: dlib's 128 then SFace's 128, each half
L2-normalised (so the whole has length √2). It is sealed as one face template, as before;
no schema change. A 128-long template is a legacy dlib-only one, enrolled before the second
model: it is compared with the dlib half of the probe, by dlib's cosine distance and the old
threshold (``face_max_cosine_distance``), until the account enrolls again.

The fused distance of two embeddings is the mean of the two models' cosine distances, each
divided by that model's own reference distance (``DLIB_SCALE``, ``SFACE_SCALE``), so both
count alike; a face matches when it is at most ``face_max_fused_distance``.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import dlib
import numpy as np

from facevoice.biometrics.images import ImageSource, load_image
from facevoice.biometrics.sface import Detection, SFaceModel, get_sface_model
from facevoice.biometrics.vectors import cosine_similarity, normalise
from facevoice.errors import NoFaceFound, TooManyFaces

MODEL_SIZE = 128  # each model's descriptor
LEGACY_SIZE = MODEL_SIZE  # a template of dlib alone
EMBEDDING_SIZE = 2 * MODEL_SIZE
MODELS = ("dlib", "sface")
# Each model's cosine distance that counts as one unit of fused distance: dlib's former
# threshold (0.07) and OpenCV Zoo's published SFace threshold (similarity 0.363).
DLIB_SCALE = 0.07
SFACE_SCALE = 0.637


@dataclass(frozen=True)
class FaceObservation:
    """One detected face: its box (left, top, right, bottom) and five landmarks as (x, y).

    Landmarks follow dlib's 5-point model: 0-1 one eye's corners, 2-3 the other's, 4 the
    base of the nose; coordinates are pixels of the original image. ``detection`` holds
    YuNet's own box, score and landmarks (eye centres, nose tip, mouth corners).
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    shape: dlib.full_object_detection
    detection: Detection | None = None


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
    """YuNet detection, dlib's 5-point predictor and ResNet, and SFace, loaded once."""

    def __init__(self, detect_width_px: int = 480) -> None:
        models = model_dir()
        self.detect_width_px = detect_width_px
        self.sface: SFaceModel = get_sface_model(detect_width_px)
        self._predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat")
        )
        # dlib's networks keep per-object scratch buffers: one call at a time per process.
        self._lock = threading.Lock()

    def find_faces(self, rgb: np.ndarray) -> list[FaceObservation]:
        """Detect every face of an RGB image and locate its five landmarks."""
        faces = []
        for detection in self.sface.detect(rgb):
            box = predictor_box(detection)
            with self._lock:
                shape = self._predictor(rgb, box)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            corners = (box.left(), box.top(), box.right(), box.bottom())
            faces.append(FaceObservation(corners, points, shape, detection))
        return faces

    def single_face(self, rgb: np.ndarray) -> FaceObservation:
        """The one face of an image; ``NoFaceFound`` or ``TooManyFaces`` otherwise."""
        faces = self.find_faces(rgb)
        if not faces:
            raise NoFaceFound()
        if len(faces) > 1:
            raise TooManyFaces()
        return faces[0]

    def dlib_descriptor(self, rgb: np.ndarray, face: FaceObservation) -> np.ndarray:
        """dlib's L2-normalised 128-d descriptor of a face."""
        with self._lock:
            vector = np.asarray(self._encoder.compute_face_descriptor(rgb, face.shape))
        return normalise(vector)

    def sface_descriptor(self, rgb: np.ndarray, face: FaceObservation) -> np.ndarray:
        """SFace's L2-normalised 128-d descriptor of a face (the second half of its embedding)."""
        if face.detection is None:
            raise ValueError("a face without a YuNet detection has no SFace descriptor")
        return self.sface.embed(rgb, face.detection)

    def descriptor(
        self, rgb: np.ndarray, face: FaceObservation, sface: np.ndarray | None = None
    ) -> np.ndarray:
        """The face's 256-d embedding: dlib's descriptor then SFace's, each L2-normalised.

        ``sface``: the face's SFace descriptor if already computed (a burst has one per frame).
        """
        if sface is None:
            sface = self.sface_descriptor(rgb, face)
        return np.concatenate([self.dlib_descriptor(rgb, face), sface])

    def embed(self, rgb: np.ndarray) -> np.ndarray:
        """Embedding of the single face in an RGB image."""
        return self.descriptor(rgb, self.single_face(rgb))

    def warm_up(self) -> None:
        """Run every network once so the first request does not pay for page faults."""
        blank = np.zeros((480, 640, 3), dtype=np.uint8)
        self.sface.warm_up()
        shape = self._predictor(blank, dlib.rectangle(200, 120, 440, 360))
        with self._lock:
            self._encoder.compute_face_descriptor(blank, shape)


def predictor_box(detection: Detection) -> dlib.rectangle:
    """A box like dlib's HOG detector draws, for its shape predictor, from a YuNet face.

    The predictor was trained on HOG boxes: squares centred between the eyes and the mouth.
    YuNet's are taller; a square as wide as YuNet's box, centred there, keeps the landmarks
    (and the head-turn yaw read from them) within a few degrees of what HOG's box gives.
    """
    left, _, right, _ = detection.box
    points = detection.landmarks
    centre_x, centre_y = (points[:2].mean(axis=0) + points[3:].mean(axis=0)) / 2
    half = (right - left) / 2
    left, top = round(centre_x - half), round(centre_y - half)
    return dlib.rectangle(left, top, round(centre_x + half), round(centre_y + half))


@functools.cache
def get_face_model(detect_width_px: int = 480) -> FaceModel:
    """The process-wide face model."""
    return FaceModel(detect_width_px)


def create_embedding(image: ImageSource, model: FaceModel, max_pixels: int) -> np.ndarray:
    """Embed the single face of a photo (path, bytes or file); raises on no or several faces."""
    return model.embed(load_image(image, max_pixels))


def mean_embedding(embeddings: list[np.ndarray]) -> np.ndarray:
    """One enrollment embedding from several of one face: per model, the L2-normalised mean
    of its L2-normalised halves (so the result has the shape and scale of one embedding)."""
    stacked = np.stack([np.asarray(e, dtype=np.float64).reshape(-1) for e in embeddings])
    halves = [stacked[:, i : i + MODEL_SIZE] for i in range(0, stacked.shape[1], MODEL_SIZE)]
    return np.concatenate(
        [normalise(np.mean([normalise(row) for row in half], axis=0)) for half in halves]
    )


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 minus the cosine of the angle between two vectors (0 = same direction)."""
    return 1.0 - cosine_similarity(a, b)


def is_legacy(template: np.ndarray) -> bool:
    """Whether a face template holds dlib's descriptor alone (enrolled before SFace)."""
    return int(np.asarray(template).size) == LEGACY_SIZE


def model_distances(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Each model's cosine distance between two embeddings (dlib only if either is legacy)."""
    a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
    distances = {"dlib": cosine_distance(a[:MODEL_SIZE], b[:MODEL_SIZE])}
    if a.size == EMBEDDING_SIZE and b.size == EMBEDDING_SIZE:
        distances["sface"] = cosine_distance(a[MODEL_SIZE:], b[MODEL_SIZE:])
    return distances


def fuse(dlib_distance: float, sface_distance: float) -> float:
    """The fused distance: the mean of both cosine distances in units of each model's scale."""
    return (dlib_distance / DLIB_SCALE + sface_distance / SFACE_SCALE) / 2


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The distance a decision uses: fused for two-model embeddings, dlib's if one is legacy."""
    distances = model_distances(a, b)
    if "sface" in distances:
        return fuse(distances["dlib"], distances["sface"])
    return distances["dlib"]


def max_distance_for(template: np.ndarray, max_fused: float, max_legacy: float) -> float:
    """The limit that applies to a template: dlib's old threshold for a legacy one."""
    return max_legacy if is_legacy(template) else max_fused


def verify_face(template: np.ndarray, probe: np.ndarray, max_distance: float) -> FaceMatch:
    """Match when ``face_distance`` of probe to template is at most ``max_distance``.

    Choose ``max_distance`` with ``max_distance_for``: the fused threshold, or dlib's cosine
    threshold for a legacy 128-d template (compared with the probe's dlib half).
    """
    distance = face_distance(template, probe)
    return FaceMatch(matched=distance <= max_distance, distance=distance)
