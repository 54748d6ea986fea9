"""Face error rates on the video clip's frames: every pair of frames, per model and fused.

    .venv/bin/python bench/face_clip_pairs.py [--step 4]

``short_hamilton_clip.mp4`` shows one man on stage (frames 84 to 208) and then the audience,
where YuNet finds one face (frames 212 to 240, another person; checked by eye). Every frame
of those ranges, ``--step`` apart, with exactly one face is embedded as the server embeds a
log-in frame; every pair of frames of one person is a genuine trial, every pair across the
two an impostor trial. Pairs include frames turned up to ±50°, a harder set than frontal
log-in photos. The fused threshold was chosen on these trials and eval/faces-pairs-tune.csv.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facevoice.biometrics.face import MODELS, face_distance, get_face_model, model_distances
from facevoice.config import Settings
from facevoice.evaluation.cli import face_model_thresholds
from facevoice.evaluation.metrics import Scores
from facevoice.evaluation.report import Evaluation
from tests import media

PERSONS = {"stage": range(84, 209), "audience": range(212, 241)}


def embeddings(step: int) -> dict[str, dict[int, np.ndarray]]:
    """Each person's frames with exactly one face, embedded."""
    model = get_face_model(Settings().face_detect_width_px)
    found: dict[str, dict[int, np.ndarray]] = {}
    for person, frames in PERSONS.items():
        indices = list(frames)[::step]
        found[person] = {}
        for index, rgb in zip(indices, media.clip_frames(indices), strict=True):
            faces = model.find_faces(rgb)
            if len(faces) == 1:
                found[person][index] = model.descriptor(rgb, faces[0])
    return found


def evaluation(found: dict[str, dict[int, np.ndarray]]) -> Evaluation:
    """Every genuine and impostor pair of frames, fused and per model."""
    kinds = ("fused", *MODELS)
    trials: dict[bool, dict[str, list[float]]] = {s: {k: [] for k in kinds} for s in (True, False)}
    people = list(found.values())
    genuine = [itertools.combinations(p.values(), 2) for p in people]
    impostor = [
        itertools.product(a.values(), b.values()) for a, b in itertools.combinations(people, 2)
    ]
    for same, pairs in ((True, itertools.chain(*genuine)), (False, itertools.chain(*impostor))):
        for x, y in pairs:
            for kind, distance in {"fused": face_distance(x, y), **model_distances(x, y)}.items():
                trials[same][kind].append(distance)
    scores = {k: Scores.distances(trials[True][k], trials[False][k]) for k in kinds}
    count = len(trials[True]["fused"]) + len(trials[False]["fused"])
    return Evaluation(count, scores["fused"], models={m: scores[m] for m in MODELS})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step", type=int, default=4, help="Take every n-th frame.")
    args = parser.parse_args()
    found = embeddings(args.step)
    for person, frames in found.items():
        print(f"{person}: {len(frames)} frames with one face ({min(frames)}–{max(frames)})")
    settings = Settings.from_env()
    result = evaluation(found)
    print(result.text(settings.face_max_fused_distance, "frames", face_model_thresholds(settings)))


if __name__ == "__main__":
    main()
