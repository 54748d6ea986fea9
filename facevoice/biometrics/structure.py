"""A head or a picture: the 3-D structure that the landmarks' motion shows during a head turn.

A flat picture turned or moved in front of the camera moves every landmark by one homography
(a plane seen in perspective), however it is turned. A real head turning about the vertical
shows parallax: what the homography leaves of each point's sideways motion grows with the
point's depth, and the nose tip stands out from the rest of the face. A print bent on a
cylinder has depth too, but in one direction only: bent across its width, the nose tip has
the depth of the forehead and the chin above and below it; bent across its height, that of
the cheeks beside it. A face's nose stands out from both. So the check is the nose tip's
parallax against the face's midline and against its sides, the smaller of the two, at the
frame where it is largest. MediaPipe's 468 face points (``landmarks``) give it; dlib's five
points cannot (four of them lie nearly on one line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FACE_POINTS = 468  # the mesh without its ten iris points
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 33, 263
NOSE = (1, 4, 5)  # the nose tip
MIDLINE = (10, 151, 152, 175)  # forehead and chin, above and below it
SIDES = (234, 93, 454, 323)  # the cheeks at the face's edge, beside it

FLAT = "flat_picture"
TOO_FEW_FACES = "too_few_faces"
ADVICE = {
    FLAT: "We could not see your face turn as a head does. Turn your own head, not a picture, "
    "to the side shown, then look back at the camera.",
    TOO_FEW_FACES: "We could not see your face while you turned. Keep your whole face in the "
    "picture, in good light.",
}


@dataclass(frozen=True)
class StructureRules:
    """How much depth a head turn must show (bench/structure_attacks.py)."""

    # The nose tip's parallax, in distances between the eyes: bench/structure_attacks.py
    # measured the clip's head 0.09 to 0.12 once turned 15 to 20°, and printed photos, flat
    # or bent, below this.
    min_depth: float = 0.08
    min_frames: int = 4


@dataclass(frozen=True)
class StructureResult:
    """The nose tip's largest parallax (against both the midline and the sides) seen against
    the most frontal frame, in eye distances; ``reason`` is empty when it passed."""

    passed: bool
    depth: float
    frames: int
    reason: str

    @property
    def advice(self) -> str:
        """What to do differently, for a result that did not pass."""
        return ADVICE.get(self.reason, "")


def _normalising(points: np.ndarray) -> np.ndarray:
    """The similarity moving points to mean 0 and mean distance √2 (Hartley's normalisation)."""
    centre = points.mean(axis=0)
    scale = np.sqrt(2) / max(float(np.linalg.norm(points - centre, axis=1).mean()), 1e-9)
    return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A 3×3 projective transform applied to (n, 2) points."""
    moved = np.c_[points, np.ones(len(points))] @ matrix.T
    return moved[:, :2] / moved[:, 2:3]


def fit_homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The homography taking ``source`` points closest to ``target`` (normalised DLT)."""
    to_unit_source, to_unit_target = _normalising(source), _normalising(target)
    a, b = _apply(to_unit_source, source), _apply(to_unit_target, target)
    x, y, u, v = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    zero, one = np.zeros_like(x), np.ones_like(x)
    rows = np.empty((2 * len(a), 9))
    rows[0::2] = np.stack([-x, -y, -one, zero, zero, zero, u * x, u * y, u], axis=1)
    rows[1::2] = np.stack([zero, zero, zero, -x, -y, -one, v * x, v * y, v], axis=1)
    _, _, vt = np.linalg.svd(rows, full_matrices=False)
    unit = vt[-1].reshape(3, 3)
    return np.linalg.inv(to_unit_target) @ unit @ to_unit_source


def eye_distance(points: np.ndarray) -> float:
    """The distance between the outer eye corners, in pixels."""
    return float(np.linalg.norm(points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]))


def nose_offset(points: np.ndarray) -> float:
    """Where the nose tip sits sideways from the middle of the eyes, in eye distances (its
    sign tells the side the head is turned to)."""
    middle = (points[LEFT_EYE_OUTER] + points[RIGHT_EYE_OUTER]) / 2
    nose = points[list(NOSE)].mean(axis=0)
    return float(nose[0] - middle[0]) / max(eye_distance(points), 1e-9)


def frontalness(points: np.ndarray) -> float:
    """How far the nose tip sits from the middle of the eyes, sideways, in eye distances."""
    return abs(nose_offset(points))


def nose_depth(reference: np.ndarray, face: np.ndarray) -> float:
    """The nose tip's sideways parallax between two views of a face, against the midline and
    against the sides (the smaller), in the reference's eye distances."""
    residual = (face - _apply(fit_homography(reference, face), reference))[:, 0]
    residual /= max(eye_distance(reference), 1e-9)
    nose = residual[list(NOSE)].mean()
    return min(abs(nose - residual[list(MIDLINE)].mean()), abs(nose - residual[list(SIDES)].mean()))


def check_structure(meshes: Sequence[np.ndarray | None], rules: StructureRules) -> StructureResult:
    """Whether the faces of a head-turn capture (one mesh per frame, None where no single face
    was found) move as a head does, rather than as a flat or bent picture."""
    faces = [mesh[:FACE_POINTS, :2].astype(np.float64) for mesh in meshes if mesh is not None]
    if len(faces) < rules.min_frames:
        return StructureResult(False, 0.0, len(faces), TOO_FEW_FACES)
    reference = min(faces, key=frontalness)
    depth = max(nose_depth(reference, face) for face in faces)
    reason = "" if depth >= rules.min_depth else FLAT
    return StructureResult(not reason, depth, len(faces), reason)
