"""CPU time of one photo's face work: dlib alone (before SFace) against dlib + SFace (now).

    .venv/bin/python bench/face_cost.py [--repeat 5]

"dlib alone" rebuilds the pipeline facevoice ran before the second model: dlib's HOG
detector on a copy 480 px wide (a second, upsampled pass when it finds nothing), the 5-point
shape predictor and the ResNet descriptor. "dlib + SFace" is ``FaceModel.embed`` as the
server runs it now: YuNet detection (on a copy ``face_detect_width_px`` wide), the shape
predictor, dlib's ResNet and SFace. Both start from the decoded RGB photo (decoding is the
same for both). Each photo's figure is the median CPU time (``time.process_time``, all
threads of the process) of ``--repeat`` runs; OpenCV runs single-threaded, as in the server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facevoice.biometrics.face import FaceModel, get_face_model
from facevoice.biometrics.images import load_image, scaled_copy
from facevoice.config import Settings
from tests import media

SETTINGS = Settings.from_env()  # FACEVOICE_FACE_DETECT_WIDTH_PX sets YuNet's scan width
OLD_DETECT_WIDTH_PX = 480  # what HOG scanned before SFace
# Photos of one face each, from a webcam-sized frame to a 2333×1434 photo.
PHOTOS = (
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama-1080p.jpg",
    "obama_small.jpg",
    "biden.jpg",
    "people/test_obama1.jpg",
    "people/kit_harington/john1.jpeg",
    "people/rose_leslie/img1.jpg",
)
CLIP_FRAMES = (96, 176)  # 640×360 frames of the video clip, like a log-in camera frame


class DlibAlone:
    """The face pipeline before SFace: HOG detection, 5-point alignment, ResNet."""

    def __init__(self, model: FaceModel) -> None:
        self.model = model
        self.detector = dlib.get_frontal_face_detector()

    def embed(self, rgb: np.ndarray) -> np.ndarray:
        """dlib's descriptor of the first face HOG finds (as the old ``FaceModel.embed``)."""
        small, scale = scaled_copy(rgb, OLD_DETECT_WIDTH_PX)
        boxes = self.detector(small, 0)
        if len(boxes) == 0:
            boxes = self.detector(small, 1)
        box = boxes[0]
        full = dlib.rectangle(
            *(round(v / scale) for v in (box.left(), box.top(), box.right(), box.bottom()))
        )
        shape = self.model._predictor(rgb, full)
        return np.asarray(self.model._encoder.compute_face_descriptor(rgb, shape))


def stage_costs(
    model: FaceModel, old: DlibAlone, rgb: np.ndarray, repeat: int
) -> dict[str, float]:
    """Median CPU milliseconds of each stage of both pipelines on one image."""
    face = model.single_face(rgb)
    assert face.detection is not None
    small, _ = scaled_copy(rgb, OLD_DETECT_WIDTH_PX)
    return {
        "HOG": cpu_ms(lambda: old.detector(small, 0), repeat),
        "YuNet": cpu_ms(lambda: model.sface.detect(rgb), repeat),
        "5-point": cpu_ms(lambda: model._predictor(rgb, face.shape.rect), repeat),
        "dlib ResNet": cpu_ms(lambda: model.dlib_descriptor(rgb, face), repeat),
        "SFace": cpu_ms(lambda: model.sface.embed(rgb, face.detection), repeat),
    }


def cpu_ms(work: Callable[[], object], repeat: int) -> float:
    """Median CPU milliseconds of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def images() -> list[tuple[str, np.ndarray]]:
    """The benchmark's decoded photos and frames."""
    photos = [(name, load_image(media.FACES / name, SETTINGS.max_image_pixels)) for name in PHOTOS]
    frames = media.clip_frames(list(CLIP_FRAMES))
    return photos + [(f"clip frame {i}", f) for i, f in zip(CLIP_FRAMES, frames, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    model = get_face_model(SETTINGS.face_detect_width_px)
    model.warm_up()
    old = DlibAlone(model)
    rows = []
    stages: dict[str, list[float]] = {}
    for name, rgb in images():
        for stage, ms in stage_costs(model, old, rgb, args.repeat).items():
            stages.setdefault(stage, []).append(ms)
        old.embed(rgb)
        before = cpu_ms(lambda rgb=rgb: old.embed(rgb), args.repeat)
        now = cpu_ms(lambda rgb=rgb: model.embed(rgb), args.repeat)
        rows.append((name, rgb.shape, before, now))
        print(
            f"{name:34s} {rgb.shape[1]:>5}×{rgb.shape[0]:<5} dlib alone {before:6.1f} ms   "
            f"dlib+SFace {now:6.1f} ms   ratio {now / before:4.2f}",
            flush=True,
        )
    before_total = sum(r[2] for r in rows)
    now_total = sum(r[3] for r in rows)
    print(
        f"{'mean per image':34s} {'':11s} dlib alone {before_total / len(rows):6.1f} ms   "
        f"dlib+SFace {now_total / len(rows):6.1f} ms   ratio {now_total / before_total:4.2f}"
    )
    print("stages, mean over the images (HOG: the 480 px copy's scan only):")
    for stage, values in stages.items():
        mean, low, high = statistics.fmean(values), min(values), max(values)
        print(f"  {stage:12s} {mean:6.1f} ms ({low:.1f}-{high:.1f})")


if __name__ == "__main__":
    main()
