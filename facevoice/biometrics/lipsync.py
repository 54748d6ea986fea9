"""Lip–audio sync: the mouth seen in the frames opens and closes with the speech heard.

A replayed or prepared video of the user, dubbed with a recording of the digits (the user's
own, cloned or synthetic), shows a mouth that moves with some other speech. Over the spoken
part of a capture, the change of the mouth's opening from frame to frame is correlated with
the change of the speech band's loudness at the frame times, at the best delay of the sound
after the mouth within a short physiological window (the lips part before the sound comes).
First differences are used because the mouth's resting opening and the room's loudness say
nothing about sync; their changes do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facevoice.biometrics.audio import SAMPLE_RATE, speech_activity

# MediaPipe FaceMesh points: inner lips at the middle, and forehead and chin for the face's
# height, which a head turn to the side hardly changes (the width between the eyes would).
UPPER_LIP, LOWER_LIP = 13, 14
FOREHEAD, CHIN = 10, 152
# Loudness of the band where voiced speech carries most energy, every 10 ms over 32 ms.
ENVELOPE_WINDOW = 512
ENVELOPE_HOP = 160
ENVELOPE_BAND_HZ = (100.0, 1500.0)
SPEECH_HOP_MS = 10  # speech_activity's frame step

TOO_FEW_FRAMES = "too_few_frames"
MOUTH_STILL = "mouth_still"
OUT_OF_SYNC = "out_of_sync"
ADVICE = {
    TOO_FEW_FRAMES: "We could not see your mouth while you spoke. Keep your face in view and "
    "say the digits while facing the camera.",
    MOUTH_STILL: "We did not see your mouth move while you spoke. Say the digits yourself, "
    "facing the camera, with nothing covering your mouth.",
    OUT_OF_SYNC: "Your mouth did not move with the digits we heard. Say the digits yourself "
    "while facing the camera, with nothing covering your mouth.",
}


@dataclass(frozen=True)
class SyncRules:
    """How closely the mouth must follow the speech."""

    # bench/lip_sync.py: the clip with its own sound scores 0.14 to 0.29 by frame rate, but
    # so do most shifted or other sounds over it: this refuses only unrelated movement.
    min_score: float = 0.1
    min_frames: int = 12  # frames with a face while the speech lasts
    # Spread (standard deviation) of the opening while the speech lasts, in face heights.
    # bench/lip_sync.py: the clip's speaking mouth 0.031; printed photos 0.0016 (median)
    # to 0.0143.
    min_mouth_movement: float = 0.015
    earliest_delay_ms: int = -100  # the sound before the mouth: clock skew of the capture
    latest_delay_ms: int = 300  # the sound after the mouth (the lips part first)
    delay_step_ms: int = 20


@dataclass(frozen=True)
class SyncResult:
    """The sync score (a correlation, -1 to 1) at its best delay of the sound after the mouth,
    over ``frames`` frames whose mouth opening spread by ``movement``; ``reason`` is empty
    when it passed."""

    passed: bool
    score: float
    delay_ms: int
    frames: int
    movement: float
    reason: str

    @property
    def advice(self) -> str:
        """What to do differently, for a result that did not pass."""
        return ADVICE.get(self.reason, "")


def mouth_opening(mesh: np.ndarray) -> float:
    """The gap between the inner lips as a share of the face's height (forehead to chin)."""
    height = float(np.linalg.norm(mesh[FOREHEAD, :2] - mesh[CHIN, :2]))
    gap = float(np.linalg.norm(mesh[UPPER_LIP, :2] - mesh[LOWER_LIP, :2]))
    return gap / height if height > 0 else 0.0


def speech_envelope(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The speech band's loudness in dB every 10 ms, and the times (ms) of its windows."""
    if samples.size < ENVELOPE_WINDOW:
        samples = np.pad(samples, (0, ENVELOPE_WINDOW - samples.size))
    windows = np.lib.stride_tricks.sliding_window_view(samples, ENVELOPE_WINDOW)[::ENVELOPE_HOP]
    power = np.abs(np.fft.rfft(windows * np.hanning(ENVELOPE_WINDOW), axis=1)) ** 2
    frequencies = np.fft.rfftfreq(ENVELOPE_WINDOW, 1 / SAMPLE_RATE)
    band = (frequencies >= ENVELOPE_BAND_HZ[0]) & (frequencies < ENVELOPE_BAND_HZ[1])
    level = 10 * np.log10(power[:, band].sum(axis=1) + 1e-10)
    times = (np.arange(len(windows)) * ENVELOPE_HOP + ENVELOPE_WINDOW / 2) * 1000 / SAMPLE_RATE
    return times, level


def spoken_span_ms(samples: np.ndarray) -> tuple[float, float] | None:
    """From the first to the last moment of speech in a recording, in ms; None without any."""
    speech = np.flatnonzero(speech_activity(samples).speech)
    if speech.size == 0:
        return None
    return float(speech[0] * SPEECH_HOP_MS), float((speech[-1] + 1) * SPEECH_HOP_MS)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's correlation, 0 when either side does not vary."""
    a, b = a - a.mean(), b - b.mean()
    scale = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    return float(np.dot(a, b)) / scale if scale > 0 else 0.0


def check_sync(
    openings: Sequence[float | None],
    frame_times_ms: Sequence[float],
    samples: np.ndarray,
    rules: SyncRules,
) -> SyncResult:
    """Whether the mouth follows the speech of a recording (16 kHz, from its first sample).

    ``openings`` holds each frame's ``mouth_opening`` (None where no face was seen) and
    ``frame_times_ms`` each frame's time on the recording's clock. Only the frames while
    the speech lasts count.
    """
    span = spoken_span_ms(samples)
    times = np.asarray(frame_times_ms, dtype=np.float64)
    seen = np.array([o is not None for o in openings], dtype=bool)
    if span is not None:
        seen &= (times >= span[0]) & (times <= span[1])
    count = int(seen.sum())
    if count < rules.min_frames:
        return SyncResult(False, 0.0, 0, count, 0.0, TOO_FEW_FRAMES)
    opening = np.array([o for o, s in zip(openings, seen, strict=True) if s], dtype=float)
    movement = float(opening.std())
    if movement < rules.min_mouth_movement:
        return SyncResult(False, 0.0, 0, count, movement, MOUTH_STILL)
    mouth = np.diff(opening)
    envelope_times, level = speech_envelope(samples)
    best_score, best_delay = -1.0, 0
    for delay in range(rules.earliest_delay_ms, rules.latest_delay_ms + 1, rules.delay_step_ms):
        sound = np.diff(np.interp(times[seen] + delay, envelope_times, level))
        score = _correlation(mouth, sound)
        if score > best_score:
            best_score, best_delay = score, delay
    passed = best_score >= rules.min_score
    reason = "" if passed else OUT_OF_SYNC
    return SyncResult(passed, best_score, best_delay, count, movement, reason)
