"""Capture quality: is a photo or a recording good enough to enroll or compare?

Each check measures one thing a person can fix (distance to the camera, light, focus,
pose, a covered eye; loudness, clipping, background noise) and, when it fails, raises
``PoorCapture`` (422) with the one piece of advice that fits. Checks run in a fixed order,
most basic first, and stop at the first failure: a face too small to measure is not also
called blurred, a dark face is not also called blurred (darkness lowers sharpness too),
a face lit from one side is told to face the light rather than that it is dark.

The limits were chosen on ``../shared/data`` so that none of its good photos and
recordings is refused; ``bench/quality_margins.py`` measures them on the good samples and
on degraded copies (docs/capture-quality.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facevoice.biometrics.audio import frame_signal, speech_activity
from facevoice.biometrics.face import FaceObservation
from facevoice.biometrics.liveness import yaw_degrees
from facevoice.errors import PoorCapture

# The face box is measured on a copy of this size, so that sharpness does not depend on
# how many pixels the face has (that is the size check's business).
FACE_SIDE_PX = 128

MOVE_CLOSER = "Your face is too small in the picture: move closer to the camera."
TOO_DARK = "Your face is too dark: turn on a light in front of you, or face a window."
TOO_BRIGHT = (
    "Your face is too bright: move away from the strong light, or turn the camera away from it."
)
SIDE_LIGHT = "One side of your face is in shadow: face the light, or put a lamp in front of you."
BLURRED = "The picture is blurred: hold still, and wipe the camera lens."
EYES_HIDDEN = "We cannot see both your eyes: take off sunglasses and move hair away from them."
TURNED = "Look straight at the camera: your head is turned to the side."
TOO_SHORT = "We heard too little speech: read the whole sentence, from the start."
CLIPPED = "The recording is clipped: move the microphone away from your mouth, or speak softer."
TOO_QUIET = "The recording is too quiet: speak louder, or come closer to the microphone."
NOISY = "There is too much background noise: move somewhere quieter, then record again."


@dataclass(frozen=True)
class PhotoLimits:
    """What a photo's single face must show; pixels are of the photo as sent."""

    min_face_px: int = 48  # width of the face box; our smallest good face is 54 px
    min_brightness: float = 60.0  # mean grey level (0-255) of the face box
    max_brightness: float = 210.0
    # Brighter cheek over darker cheek (median grey levels, under each eye).
    max_side_light_ratio: float = 1.5
    # Variance of the Laplacian of the face box resized to FACE_SIDE_PX × FACE_SIDE_PX.
    min_sharpness: float = 40.0
    # Standard deviation of grey levels around each eye: an open eye has edges, a lens
    # of sunglasses or a hand over it is flat.
    min_eye_contrast: float = 8.0
    max_yaw_degrees: float = 30.0  # enrollment only


@dataclass(frozen=True)
class RecordingLimits:
    """What a recording (16 kHz mono float samples, before trimming) must hold."""

    min_speech_seconds: float = 1.0
    clip_level: float = 0.98  # a sample this close to full scale is counted as clipped
    max_clipped_fraction: float = 0.001
    # 90th percentile of the speech frames' level, dB below full scale.
    min_speech_dbfs: float = -45.0
    # That speech level over the median level of the frames without speech.
    min_snr_db: float = 3.0


@dataclass(frozen=True)
class PhotoMeasures:
    """What ``measure_photo`` found on one face (units as in ``PhotoLimits``)."""

    face_px: float
    brightness: float
    side_light_ratio: float
    sharpness: float
    eye_contrast: float
    yaw_degrees: float


@dataclass(frozen=True)
class RecordingMeasures:
    """What ``measure_recording`` found (units as in ``RecordingLimits``)."""

    speech_seconds: float
    clipped_fraction: float
    speech_dbfs: float
    snr_db: float


def _patch(gray: np.ndarray, centre: np.ndarray, radius: int) -> np.ndarray:
    """The square of grey levels around a point, cut at the image's edges."""
    x, y = round(float(centre[0])), round(float(centre[1]))
    height, width = gray.shape
    rows = slice(max(0, y - radius), min(height, y + radius + 1))
    columns = slice(max(0, x - radius), min(width, x + radius + 1))
    return gray[rows, columns]


def measure_photo(rgb: np.ndarray, face: FaceObservation) -> PhotoMeasures:
    """Measure a detected face of an RGB ``uint8`` image (H, W, 3)."""
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    height, width = gray.shape
    left, top, right, bottom = face.box
    crop = gray[max(0, top) : min(height, bottom), max(0, left) : min(width, right)]
    if crop.size == 0:
        crop = gray
    square = cv2.resize(crop, (FACE_SIDE_PX, FACE_SIDE_PX), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(square.astype(np.float64), cv2.CV_64F).var())
    # YuNet's points: two eye centres, the nose tip, two mouth corners (same sides as the eyes).
    points = face.detection.landmarks if face.detection is not None else None
    if points is None:
        eyes = [face.landmarks[0:2].mean(axis=0), face.landmarks[2:4].mean(axis=0)]
        mouths = [face.landmarks[4], face.landmarks[4]]
    else:
        eyes, mouths = [points[0], points[1]], [points[3], points[4]]
    radius = max(2, int(0.18 * float(np.linalg.norm(eyes[0] - eyes[1]))))
    eye_contrast = min(float(_patch(gray, eye, radius).std()) for eye in eyes)
    cheeks = [
        float(np.median(_patch(gray, np.array([eye[0], (eye[1] + mouth[1]) / 2]), radius)))
        for eye, mouth in zip(eyes, mouths, strict=True)
    ]
    side = max(cheeks) / max(1.0, min(cheeks))
    return PhotoMeasures(
        face_px=float(right - left),
        brightness=float(crop.mean()),
        side_light_ratio=side,
        sharpness=sharpness,
        eye_contrast=eye_contrast,
        yaw_degrees=yaw_degrees(face.landmarks),
    )


def photo_problem(
    measures: PhotoMeasures, limits: PhotoLimits, enrollment: bool = True
) -> str | None:
    """The advice for the first limit a face's measures fail, or None when all pass."""
    if measures.face_px < limits.min_face_px:
        return MOVE_CLOSER
    # One-sided light first: its dark side also lowers the mean, but its fix is another.
    if measures.side_light_ratio > limits.max_side_light_ratio:
        return SIDE_LIGHT
    if measures.brightness < limits.min_brightness:
        return TOO_DARK
    if measures.brightness > limits.max_brightness:
        return TOO_BRIGHT
    if measures.sharpness < limits.min_sharpness:
        return BLURRED
    if measures.eye_contrast < limits.min_eye_contrast:
        return EYES_HIDDEN
    if enrollment and abs(measures.yaw_degrees) > limits.max_yaw_degrees:
        return TURNED
    return None


def check_photo_quality(
    rgb: np.ndarray,
    face: FaceObservation,
    limits: PhotoLimits | None = None,
    enrollment: bool = True,
) -> PhotoMeasures:
    """Return a face's measures; ``PoorCapture`` with advice when one fails its limit.

    The pose is checked only for ``enrollment``: a log-in face may be a little turned.
    """
    measures = measure_photo(rgb, face)
    problem = photo_problem(measures, limits or PhotoLimits(), enrollment)
    if problem is not None:
        raise PoorCapture(problem)
    return measures


def measure_recording(samples: np.ndarray, clip_level: float = 0.98) -> RecordingMeasures:
    """Measure 16 kHz mono float samples in [-1, 1], silence included (the noise floor)."""
    activity = speech_activity(samples)
    frames = frame_signal(samples)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    level = 20 * np.log10(np.maximum(rms, 1e-10))
    speech = level[activity.speech]
    speech_dbfs = float(np.percentile(speech, 90)) if speech.size else -200.0
    rest = level[~activity.speech]
    # Too few frames without speech to tell a floor: the recording is all speech.
    floor = float(np.median(rest)) if rest.size >= 10 else -200.0
    clipped = float(np.mean(np.abs(samples) >= clip_level)) if samples.size else 0.0
    return RecordingMeasures(activity.speech_seconds, clipped, speech_dbfs, speech_dbfs - floor)


def recording_problem(measures: RecordingMeasures, limits: RecordingLimits) -> str | None:
    """The advice for the first limit a recording's measures fail, or None when all pass."""
    if measures.clipped_fraction > limits.max_clipped_fraction:
        return CLIPPED
    if measures.speech_seconds < limits.min_speech_seconds:
        return TOO_SHORT
    if measures.speech_dbfs < limits.min_speech_dbfs:
        return TOO_QUIET
    if measures.snr_db < limits.min_snr_db:
        return NOISY
    return None


def check_recording_quality(
    samples: np.ndarray, limits: RecordingLimits | None = None
) -> RecordingMeasures:
    """Return a recording's measures; ``PoorCapture`` with advice when one fails its limit."""
    limits = limits or RecordingLimits()
    measures = measure_recording(samples, limits.clip_level)
    problem = recording_problem(measures, limits)
    if problem is not None:
        raise PoorCapture(problem)
    return measures
