"""The 3-D structure check on the real clip and on printed photos, flat or bent.

Genuine: the clip's person turning to their right and back (the log-in capture's frames), and
its mirror; and every shorter part of that turn from its start that already reaches the head
turn check's 20° (the smallest turn a log-in accepts). Attacks: every still photo under
../shared/data/faces in which the landmarker finds one face, printed and held before the
camera: still, moved, turned flat to 20°, 35°, 50° or 60° either way, or bent on a cylinder
(across its width or its height, radius 200 or 400 px in the 640×480 frame, edges away from
the camera) and turned to 35° either way. Prints the depth each shows and how many pass the
default ``StructureRules``, and how many of those the head-turn check passes too (either
side: the attacker turns the print whichever way is asked), as a log-in would need.

Run: .venv/bin/python bench/structure_attacks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from facevoice.biometrics.face import FaceModel, get_face_model  # noqa: E402
from facevoice.biometrics.landmarks import FaceMesh, get_face_mesh  # noqa: E402
from facevoice.biometrics.liveness import (  # noqa: E402
    SIDES,
    FaceChallenge,
    HeadTurnRules,
    read_burst,
    read_frame,
)
from facevoice.biometrics.structure import StructureRules, check_structure  # noqa: E402
from tests import media  # noqa: E402

FLAT_DEGREES = (20, 35, 50, 60)
BENDS = [(radius, axis) for radius in (200, 400) for axis in ("vertical", "horizontal")]
BENT_DEGREES = 35
FRAMES = 10  # per attack burst
MIN_TURN_DEGREES = 20.0


def meshes_of(mesh: FaceMesh, frames: list[np.ndarray]) -> list[np.ndarray | None]:
    """Each frame's mesh, None where the landmarker does not find exactly one face."""
    found = [mesh.faces(np.asarray(frame)) for frame in frames]
    return [faces[0] if len(faces) == 1 else None for faces in found]


def still_photos(mesh: FaceMesh) -> list[str]:
    """The photos under faces/ in which the landmarker finds one face, framed as a webcam."""
    names = []
    for path in sorted(media.FACES.rglob("*")):
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
            continue
        name = str(path.relative_to(media.FACES))
        if len(mesh.faces(np.asarray(media.webcam_photo(name)))) == 1:
            names.append(name)
    return names


def attack_bursts(name: str) -> dict[str, list[np.ndarray]]:
    """The printed-photo presentations of one photo, by kind."""
    bursts: dict[str, list[np.ndarray]] = {
        "still": media.photo_burst(name, FRAMES),
        "moved": media.photo_burst(name, FRAMES, moved=True),
    }
    for degrees in FLAT_DEGREES:
        for sign in (1, -1):
            bursts[f"flat {sign * degrees:+d}°"] = media.turned_photo_burst(
                name, FRAMES, sign * degrees
            )
    for radius, axis in BENDS:
        for sign in (1, -1):
            bursts[f"bent {axis} r{radius} {sign * BENT_DEGREES:+d}°"] = media.bent_photo_burst(
                name, radius, axis, sign * BENT_DEGREES, FRAMES
            )
    return bursts


def genuine(mesh: FaceMesh, rules: StructureRules) -> None:
    """The clip's turn, whole and in every part from its start that reaches 20°."""
    model = get_face_model()
    for mirror in (False, True):
        frames = media.clip_frames(media.CAPTURE_FRAMES, mirror=mirror)
        meshes = meshes_of(mesh, frames)
        whole = check_structure(meshes, rules)
        outcome = whole.reason or "pass"
        print(f"clip{' mirrored' if mirror else ''}: depth {whole.depth:.3f} ({outcome})")
        passed, tried, lowest = 0, 0, 1.0
        for end in range(rules.min_frames, len(frames) + 1):
            yaws = [read_frame(rgb, model)[0].yaw for rgb in frames[:end]]
            turned = max((abs(y) for y in yaws if y is not None), default=0.0)
            if turned < MIN_TURN_DEGREES:
                continue
            result = check_structure(meshes[:end], rules)
            passed += result.passed
            tried += 1
            lowest = min(lowest, result.depth)
        print(
            f"  parts of the turn reaching {MIN_TURN_DEGREES:g}°: {passed}/{tried} pass "
            f"(lowest depth {lowest:.3f})"
        )


def passes_a_turn(model: FaceModel, frames: list[np.ndarray]) -> bool:
    """Whether the head-turn check (template-free) passes the frames for either side."""
    rules = HeadTurnRules()
    return any(
        read_burst(frames, model, FaceChallenge(side), rules).frontal is not None for side in SIDES
    )


def attacks(mesh: FaceMesh, rules: StructureRules) -> None:
    """Every printed-photo presentation of every still photo."""
    model = get_face_model()
    photos = still_photos(mesh)
    print(f"{len(photos)} still photos with one face: {', '.join(photos)}")
    tally: dict[str, list[int]] = {}
    depths: dict[str, list[float]] = {}
    for name in photos:
        for kind, frames in attack_bursts(name).items():
            family = kind.split(" ")[0] if kind.startswith("flat") else kind.rsplit(" ", 1)[0]
            result = check_structure(meshes_of(mesh, frames), rules)
            both = result.passed and passes_a_turn(model, frames)
            counts = tally.setdefault(family, [0, 0, 0])
            counts[0] += result.passed
            counts[1] += both
            counts[2] += 1
            depths.setdefault(family, []).append(result.depth)
    total = [0, 0, 0]
    for family, counts in tally.items():
        values = depths[family]
        print(
            f"{family:22} depth passes {counts[0]}/{counts[2]}, depth and turn {counts[1]}/"
            f"{counts[2]}; depth median {np.median(values):.3f}, highest {max(values):.3f}"
        )
        total = [t + c for t, c in zip(total, counts, strict=True)]
    print(
        f"all printed photos: depth passes {total[0]}/{total[2]}, depth and turn "
        f"{total[1]}/{total[2]} (rule: depth at least {rules.min_depth})"
    )


def main() -> None:
    """Print the genuine and the attack figures."""
    rules = StructureRules()
    mesh = get_face_mesh()
    print(f"rules: {rules}")
    genuine(mesh, rules)
    attacks(mesh, rules)


if __name__ == "__main__":
    main()
