"""Active face liveness: a head turn to a side the server chose, seen in a burst of frames.

The page shows a mirrored preview and asks the user to turn the head to their own left or
right, then back to the camera, while it captures a burst of frames (at least 8 over about
3 s). The captured frames are *not* mirrored: they are what the camera sees.

Yaw comes from dlib's five landmarks (points 0-1: the corners of the eye on the image's right,
2-3: the eye on the image's left, 4: the base of the nose). The nose base sits in front of the
eye corners, so when the head turns, its offset along the eye line, divided by the distance
between the eyes, grows like ``NOSE_DEPTH_RATIO * tan(yaw)``. That ratio ignores translation,
scale and in-plane rotation, so a photo moved, zoomed or tilted in front of the camera keeps
one yaw however it is moved. (A photo turned out of its plane is another matter: seen in
perspective it can look like a turned head to the landmark model; see docs/liveness.md.)

Sign convention: a positive yaw is a head turned to the user's own left. In the unmirrored
frames the nose then moves towards the image's right; in the mirrored preview it moves towards
the screen's left, like in a mirror, which is why "turn to your left" reads naturally there.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from facevoice.biometrics.face import FaceModel, FaceObservation, cosine_distance, verify_face
from facevoice.errors import BadInput, TooLarge

Side = Literal["left", "right"]
SIDES: tuple[Side, ...] = ("left", "right")
# Depth of the nose base in front of the eye corners, in inter-eye distances (anthropometric
# average, about 22 mm for 63 mm); only the scale of the degrees depends on it.
NOSE_DEPTH_RATIO = 0.35

# Reasons a burst fails; several may apply at once.
SEVERAL_FACES = "several_faces"
MISSING_FACE = "missing_face"
FACE_MISMATCH = "face_mismatch"
STILL_PICTURE = "still_picture"
NO_TURN = "no_turn"
WRONG_SIDE = "wrong_side"
NO_RETURN = "no_return"
FACE_CHANGED = "face_changed"

ADVICE = {
    SEVERAL_FACES: "Make sure only you are in front of the camera.",
    MISSING_FACE: "Keep your whole face in the picture, in good light, while you turn.",
    NO_TURN: "Turn your head further to the side shown, then back to the camera.",
    WRONG_SIDE: "Turn your head to the side shown on the page, not the other one.",
    NO_RETURN: "After turning, look back at the camera before the capture ends.",
    FACE_CHANGED: "Make sure only you are in front of the camera, from start to end.",
}
GENERIC_ADVICE = "Face the camera, turn your head to the side shown, then look back at it."


def advice_for(reasons: Sequence[str]) -> str:
    """What a user whose burst failed for these reasons should do next."""
    for reason in reasons:
        if reason in ADVICE:
            return ADVICE[reason]
    return GENERIC_ADVICE


@dataclass(frozen=True)
class FaceChallenge:
    """The side (the user's own) to which the head must turn before coming back."""

    side: Side

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise BadInput("A head-turn challenge is to the left or to the right.")

    @property
    def sign(self) -> int:
        """+1 when the requested turn is a positive yaw (the user's left), -1 otherwise."""
        return 1 if self.side == "left" else -1

    @property
    def instruction(self) -> str:
        """What the page tells the user."""
        return f"Turn your head to your {self.side}, then back to the camera."


@dataclass(frozen=True)
class HeadTurnRules:
    """Limits of the head-turn check; degrees are yaw as estimated by ``yaw_degrees``."""

    min_frames: int = 8
    max_frames: int = 40
    # Frames without a face (a turned face can escape the detector), as a share of the burst.
    max_faceless_fraction: float = 0.25
    min_turn_degrees: float = 20.0
    min_return_degrees: float = 10.0
    # Yaw spread under this: the frames show one still picture, however it was moved.
    still_max_spread_degrees: float = 6.0
    # Turned faces embed a little further from a frontal template than frontal ones do.
    turned_distance_factor: float = 1.3
    # SFace cosine distance between consecutive one-face frames (see the module docstring).
    max_neighbour_distance: float = 0.65


@dataclass(frozen=True)
class FrameReading:
    """What one frame showed: how many faces and, for exactly one, its yaw."""

    faces: int
    yaw: float | None = None


@dataclass(frozen=True)
class MotionResult:
    """The head-turn judged without the template: faces, movement, side and return."""

    reasons: tuple[str, ...]
    turn_degrees: float
    return_degrees: float
    best_frame: int | None
    peak_frame: int | None = None

    @property
    def passed(self) -> bool:
        """Whether the burst shows a real turn to the requested side and back."""
        return not self.reasons

    @property
    def message(self) -> str:
        """Advice a refused user can follow."""
        return advice_for(self.reasons)


@dataclass(frozen=True)
class HeadTurnResult:
    """Outcome of a head-turn check, with the embedding of its most frontal frame."""

    passed: bool
    reasons: tuple[str, ...]
    frames: tuple[FrameReading, ...]
    turn_degrees: float
    return_degrees: float
    best_frame: int | None
    embedding: np.ndarray | None
    peak_frame: int | None = None

    @property
    def message(self) -> str:
        """Advice a refused user can follow (never says whether the face matched)."""
        return advice_for(self.reasons)


@dataclass(frozen=True)
class TurnMeasure:
    """Degrees turned towards the requested side from the first frame to the peak, back from
    the peak to the last frame, towards the other side before the peak, and the whole spread.
    """

    turn: float
    back: float
    opposite: float
    spread: float
    peak: int = 0


def new_face_challenge(rng: random.Random | None = None) -> FaceChallenge:
    """A random side to turn to (``secrets`` randomness unless an ``rng`` is given)."""
    return FaceChallenge((rng or secrets.SystemRandom()).choice(SIDES))


def yaw_degrees(landmarks: np.ndarray) -> float:
    """Estimated yaw of a face from dlib's five landmarks; positive: turned to its left."""
    points = np.asarray(landmarks, dtype=np.float64)
    image_right_eye = points[0:2].mean(axis=0)
    image_left_eye = points[2:4].mean(axis=0)
    eye_line = image_right_eye - image_left_eye
    eye_distance = float(np.linalg.norm(eye_line))
    if eye_distance < 1e-6:
        return 0.0
    offset = points[4] - (image_right_eye + image_left_eye) / 2
    ratio = float(np.dot(offset, eye_line)) / eye_distance**2
    return math.degrees(math.atan(ratio / NOSE_DEPTH_RATIO))


def measure_turn(yaws: Sequence[float], sign: int) -> TurnMeasure:
    """How far a yaw sequence turns towards ``sign`` and comes back, in degrees."""
    toward = np.asarray(yaws, dtype=np.float64) * sign
    peak = int(np.argmax(toward))
    return TurnMeasure(
        turn=float(toward[peak] - toward[0]),
        back=float(toward[peak] - toward[-1]),
        opposite=float(toward[0] - toward[: peak + 1].min()),
        spread=float(toward.max() - toward.min()),
        peak=peak,
    )


def read_frame(rgb: np.ndarray, model: FaceModel) -> tuple[FrameReading, FaceObservation | None]:
    """Faces and yaw of one frame, with the face itself if there is exactly one."""
    faces = model.find_faces(rgb)
    if len(faces) != 1:
        return FrameReading(faces=len(faces)), None
    return FrameReading(1, yaw_degrees(faces[0].landmarks)), faces[0]


def face_changes(descriptors: Sequence[np.ndarray | None], max_distance: float) -> bool:
    """Whether two consecutive faces of a burst are further apart than ``max_distance``.

    ``descriptors`` are one L2-normalised vector per frame in capture order (None for a frame
    without a single face, skipped: the faces on either side of it are compared).
    """
    faces = [d for d in descriptors if d is not None]
    return any(
        cosine_distance(before, after) > max_distance
        for before, after in itertools.pairwise(faces)
    )


@dataclass(frozen=True)
class BurstReading:
    """A burst judged without the template, with the fused embeddings the log-in needs:
    ``frontal`` of the most frontal frame, ``turned`` of the peak of the turn."""

    readings: tuple[FrameReading, ...]
    motion: MotionResult
    frontal: np.ndarray | None
    turned: tuple[np.ndarray, ...]
    # The most frontal frame's face as found, for checks on that frame (capture quality).
    frontal_face: FaceObservation | None = None


def judge_burst(
    readings: Sequence[FrameReading],
    sface: Sequence[np.ndarray | None],
    embed: Callable[[int], np.ndarray],
    challenge: FaceChallenge,
    rules: HeadTurnRules,
) -> BurstReading:
    """Judge a burst from its frames' readings and SFace descriptors; ``embed(i)`` gives
    frame ``i``'s fused embedding, asked only for the frontal frame and the peak."""
    motion = judge_motion(readings, challenge, rules)
    if face_changes(sface, rules.max_neighbour_distance):
        motion = replace(motion, reasons=(*motion.reasons, FACE_CHANGED))
    if not motion.passed or motion.best_frame is None:
        return BurstReading(tuple(readings), motion, None, ())
    peak = motion.peak_frame
    turned = (embed(peak),) if peak is not None and peak != motion.best_frame else ()
    return BurstReading(tuple(readings), motion, embed(motion.best_frame), turned)


def read_burst(
    frames_rgb: Sequence[np.ndarray],
    model: FaceModel,
    challenge: FaceChallenge,
    rules: HeadTurnRules,
) -> BurstReading:
    """Read a burst of RGB frames (in capture order) and judge it without the template."""
    read = [read_frame(rgb, model) for rgb in frames_rgb]
    faces = [face for _, face in read]
    sface = [
        model.sface_descriptor(rgb, face) if face is not None else None
        for rgb, face in zip(frames_rgb, faces, strict=True)
    ]

    def embed(index: int) -> np.ndarray:
        face, descriptor = faces[index], sface[index]
        assert face is not None and descriptor is not None  # a frame with one face
        return model.descriptor(frames_rgb[index], face, sface=descriptor)

    burst = judge_burst([reading for reading, _ in read], sface, embed, challenge, rules)
    best = burst.motion.best_frame
    return replace(burst, frontal_face=faces[best] if best is not None else None)


def check_frame_count(count: int, rules: HeadTurnRules) -> None:
    """Raise ``BadInput`` unless a burst holds ``min_frames`` to ``max_frames`` frames."""
    if not rules.min_frames <= count <= rules.max_frames:
        raise BadInput(
            f"The head-turn capture needs {rules.min_frames} to {rules.max_frames} frames; "
            f"{count} were sent. Capture again."
        )


def check_burst_size(
    sizes: Sequence[tuple[int, int]], max_width: int, max_height: int, max_total_pixels: int
) -> None:
    """Raise ``TooLarge`` when a frame of a burst exceeds ``max_width``×``max_height`` (either
    way up, for a phone held upright) or all frames together exceed ``max_total_pixels``.

    ``sizes`` are (width, height) read from the frames' headers: call this before decoding
    any frame, so an oversized burst costs nothing.
    """
    long_side, short_side = max(max_width, max_height), min(max_width, max_height)
    for index, (width, height) in enumerate(sizes):
        if max(width, height) > long_side or min(width, height) > short_side:
            raise TooLarge(
                f"Frame {index + 1} of the head-turn capture has {width}×{height} pixels; "
                f"frames of at most {max_width}×{max_height} are accepted."
            )
    total = sum(width * height for width, height in sizes)
    if total > max_total_pixels:
        raise TooLarge(
            f"The head-turn capture has {total:,} pixels in all; at most {max_total_pixels:,} "
            "are accepted. Send smaller frames or fewer of them."
        )


def burst_matches(
    template: np.ndarray,
    frontal: np.ndarray,
    turned: Sequence[np.ndarray],
    max_distance: float,
    turned_distance_factor: float = HeadTurnRules.turned_distance_factor,
) -> bool:
    """The most frontal face matches the template; every other face within a wider limit."""
    if not verify_face(template, frontal, max_distance).matched:
        return False
    limit = max_distance * turned_distance_factor
    return all(verify_face(template, embedding, limit).matched for embedding in turned)


def _turn_reasons(measure: TurnMeasure, rules: HeadTurnRules) -> list[str]:
    reasons = []
    if measure.spread < rules.still_max_spread_degrees:
        reasons.append(STILL_PICTURE)
    if measure.opposite >= rules.min_turn_degrees:
        reasons.append(WRONG_SIDE)
    if measure.turn < rules.min_turn_degrees:
        reasons.append(NO_TURN)
    elif measure.back < rules.min_return_degrees:
        reasons.append(NO_RETURN)
    return reasons


def check_head_turn(
    frames_rgb: Sequence[np.ndarray],
    challenge: FaceChallenge,
    template: np.ndarray,
    model: FaceModel,
    max_distance: float,
    rules: HeadTurnRules | None = None,
) -> HeadTurnResult:
    """Check a burst of RGB frames (in capture order) against a head-turn challenge.

    Passes when every frame but a ``max_faceless_fraction`` shows exactly one face, each face
    is the same person as the one before it (SFace, ``max_neighbour_distance``), the most
    frontal one matches ``template`` within ``max_distance`` (the peak of the turn within
    ``turned_distance_factor`` times that), the yaw turns towards the requested side by
    ``min_turn_degrees`` from the first frame (without first turning as far the other way), and
    comes back by ``min_return_degrees``. Raises ``BadInput`` for too few or too many frames.
    """
    rules = rules or HeadTurnRules()
    check_frame_count(len(frames_rgb), rules)
    burst = read_burst(frames_rgb, model, challenge, rules)
    return judge_head_turn(burst, template, max_distance, rules)


def judge_motion(
    readings: Sequence[FrameReading], challenge: FaceChallenge, rules: HeadTurnRules
) -> MotionResult:
    """Everything of the head-turn check that needs no template: one face per frame, a
    moving head (not a still picture), a turn to the requested side, and the way back."""
    reasons: list[str] = []
    if any(r.faces > 1 for r in readings):
        reasons.append(SEVERAL_FACES)
    single = [i for i, r in enumerate(readings) if r.yaw is not None]
    faceless = len(readings) - len(single)
    if faceless > rules.max_faceless_fraction * len(readings) or len(single) < 2:
        reasons.append(MISSING_FACE)
    if not single:
        return MotionResult(tuple(reasons), 0.0, 0.0, None)
    yaws = [readings[i].yaw or 0.0 for i in single]
    measure = measure_turn(yaws, challenge.sign)
    reasons += _turn_reasons(measure, rules)
    best = single[int(np.argmin(np.abs(yaws)))]
    return MotionResult(tuple(reasons), measure.turn, measure.back, best, single[measure.peak])


def judge_head_turn(
    burst: BurstReading, template: np.ndarray, max_distance: float, rules: HeadTurnRules
) -> HeadTurnResult:
    """The decision of ``check_head_turn`` from a burst already read with ``read_burst``."""
    motion = burst.motion
    reasons = list(motion.reasons)
    if burst.frontal is not None and not burst_matches(
        template, burst.frontal, burst.turned, max_distance, rules.turned_distance_factor
    ):
        reasons.append(FACE_MISMATCH)
    return HeadTurnResult(
        passed=not reasons,
        reasons=tuple(reasons),
        frames=burst.readings,
        turn_degrees=motion.turn_degrees,
        return_degrees=motion.return_degrees,
        best_frame=motion.best_frame,
        embedding=burst.frontal,
        peak_frame=motion.peak_frame,
    )
