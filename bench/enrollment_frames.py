"""Genuine face distances after enrolling one frame or the mean of a short burst.

    .venv/bin/python bench/enrollment_frames.py

Clip: ``short_hamilton_clip.mp4``'s man on stage (frames 84-208). Each enrollment is a burst
as the sign-up page takes it, 5 frames over about a second (every 7th frame at 29.97 fps),
starting every 8 frames; "one frame" enrolls the burst's first frame (the page's former
single photo), "burst" the mean of the burst's frames that pass the quality checks, as the
server does (``Accounts.take_enrollment_burst``). The probes are every 2nd frame of the man
outside the burst, checked as log-in frames; the impostor probes are the audience member's
frames (212-240), embedded without the quality checks (too dark and blurred, the server
refuses every one of them). Photo sets: for each person of ``eval/persons.json`` with 3
photos or more, each photo in turn is the probe; "one photo" enrolls each other photo alone,
"several" the mean of all the others. Distances are the fused ones the server compares with
``face_max_fused_distance``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facevoice.biometrics.face import face_distance, get_face_model, mean_embedding
from facevoice.biometrics.images import load_image
from facevoice.biometrics.quality import check_photo_quality
from facevoice.config import Settings
from facevoice.errors import Unusable
from tests import media

ROOT = Path(__file__).resolve().parents[1]
STAGE, AUDIENCE = range(84, 209), range(212, 241)
BURST_FRAMES, BURST_GAP = 5, 7


def embed(rgb: np.ndarray, enrollment: bool, checked: bool = True) -> np.ndarray | None:
    """The server's embedding of a frame, or None when it would refuse it."""
    model = get_face_model(Settings().face_detect_width_px)
    try:
        face = model.single_face(rgb)
        if checked:
            check_photo_quality(rgb, face, enrollment=enrollment)
    except Unusable:
        return None
    return model.descriptor(rgb, face)


def summary(label: str, distances: list[float], limit: float) -> str:
    """Count, mean, 95th percentile, worst, and how many are over the limit."""
    d = np.asarray(distances)
    over = int(np.sum(d > limit))
    return (
        f"{label:<26} n={d.size:>4}  mean {d.mean():.3f}  p95 {np.percentile(d, 95):.3f}  "
        f"max {d.max():.3f}  over {limit:g}: {over}"
    )


def clip(limit: float) -> None:
    """One frame against a 5-frame burst, on the clip."""
    frames = dict(zip(STAGE, media.clip_frames(list(STAGE)), strict=True))
    audience = [embed(rgb, False, checked=False) for rgb in media.clip_frames(list(AUDIENCE)[::2])]
    impostors = [e for e in audience if e is not None]
    single: list[float] = []
    burst: list[float] = []
    impostor_single: list[float] = []
    impostor_burst: list[float] = []
    used = []
    for start in range(STAGE.start, STAGE.stop - BURST_GAP * (BURST_FRAMES - 1), 8):
        window = [start + BURST_GAP * i for i in range(BURST_FRAMES)]
        enrolled = [embed(frames[i], True) for i in window]
        good = [e for e in enrolled if e is not None]
        if enrolled[0] is None or not good:
            continue  # the page's single photo would have been refused: no comparison
        used.append(len(good))
        template = mean_embedding(good)
        for index in range(STAGE.start, STAGE.stop, 2):
            if window[0] <= index <= window[-1]:
                continue
            probe = embed(frames[index], False)
            if probe is not None:
                single.append(face_distance(enrolled[0], probe))
                burst.append(face_distance(template, probe))
        for probe in impostors:
            impostor_single.append(face_distance(enrolled[0], probe))
            impostor_burst.append(face_distance(template, probe))
    print(f"clip: {len(used)} enrollments, {sum(used)} burst frames used of {5 * len(used)}")
    print(summary("  genuine, one frame", single, limit))
    print(summary("  genuine, burst mean", burst, limit))
    print(
        f"  closest impostor: one frame {min(impostor_single):.3f}, burst {min(impostor_burst):.3f}"
    )


def photos(limit: float) -> None:
    """One photo against the mean of the person's other photos."""
    persons = json.loads((ROOT / "eval" / "persons.json").read_text())["persons"]
    single: list[float] = []
    several: list[float] = []
    for person in persons:
        paths = [(ROOT / "eval" / p).resolve() for p in person["faces"]]
        found = [embed(load_image(p, 10**8), True) for p in paths]
        faces = [e for e in found if e is not None]
        if len(faces) < 3:
            continue
        for i, probe in enumerate(faces):
            others = [e for j, e in enumerate(faces) if j != i]
            single += [face_distance(e, probe) for e in others]
            several.append(face_distance(mean_embedding(others), probe))
    print("photos (leave one out):")
    print(summary("  genuine, one photo", single, limit))
    print(summary("  genuine, mean of others", several, limit))


def main() -> None:
    limit = Settings.from_env().face_max_fused_distance
    clip(limit)
    photos(limit)


if __name__ == "__main__":
    main()
