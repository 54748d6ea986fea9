"""Lip–audio sync: the mouth seen in the frames opens and closes with the speech heard.

A replayed or prepared video of the user, dubbed with a recording of the digits (the user's
own, cloned or synthetic), shows a mouth that moves with some other speech. Over the spoken
part of a capture, the mouth's opening (the area inside the lips) is correlated with the
loudness of the band where speech carries its vowels, at the frame times: the mouth is open
while a vowel sounds and closes in the pauses. Two rules follow:

- the correlation at the best delay of the sound after the mouth, within a short window
  (the lips part a little before the sound; the page's clock is the recording's), must be
  high enough;
- and no delay far from that window may fit clearly better: a sound that follows the mouth
  best a second later is the right speech played at the wrong time, as a dubbed or replayed
  video is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facevoice.biometrics.audio import SAMPLE_RATE, speech_activity

# MediaPipe FaceMesh points: the inner lips' ring, and forehead and chin for the face's
# height, which a head turn to the side hardly changes (the width between the eyes would).
UPPER_LIP, LOWER_LIP = 13, 14  # the inner lips at the middle
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)  # corner to corner
LOWER_INNER_LIP = (324, 318, 402, 317, 14, 87, 178, 88, 95)  # and back
INNER_LIPS = UPPER_INNER_LIP + LOWER_INNER_LIP
FOREHEAD, CHIN = 10, 152
# Loudness of the band of the vowels' formants, every 10 ms over 32 ms.
ENVELOPE_WINDOW = 512
ENVELOPE_HOP = 160
ENVELOPE_BAND_HZ = (300.0, 3000.0)
SPEECH_HOP_MS = 10  # speech_activity's frame step
MIN_SHARE_WITHIN_RECORDING = 0.75  # of the frames, for a delay to be scored

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
    """How closely the mouth must follow the speech (bench/lip_sync.py measures them)."""

    # The clip's speaking mouth with its own sound scores 0.38 to 0.58 by frame rate; the
    # same frames with the sound shifted, reversed or replaced mostly under 0.35.
    min_score: float = 0.35
    # The best score at a delay at least ``far_gap_ms`` outside the window may exceed the
    # window's by at most this much (the clip with its own sound: at most 0.03 above it).
    max_far_excess: float = 0.05
    min_frames: int = 12  # frames with a face while the speech lasts
    # Spread (standard deviation) of the mouth's opening while the speech lasts, in face
    # heights. bench/lip_sync.py: the clip's speaking mouth 0.031; printed photos 0.0016
    # (median) to 0.0143.
    min_mouth_movement: float = 0.015
    earliest_delay_ms: int = -100  # the sound before the mouth: clock skew of the capture
    latest_delay_ms: int = 200  # the sound after the mouth (the lips part first)
    far_gap_ms: int = 400  # how far outside the window "elsewhere" starts
    reach_ms: int = 2500  # how far the other delays are searched, either way
    delay_step_ms: int = 20


@dataclass(frozen=True)
class SyncResult:
    """The sync score (a correlation, -1 to 1) at its best delay of the sound after the mouth
    within the window, the best score far from it (``elsewhere``), over ``frames`` frames
    whose mouth opening spread by ``movement``; ``reason`` is empty when it passed."""

    passed: bool
    score: float
    delay_ms: int
    frames: int
    movement: float
    reason: str
    elsewhere: float = -1.0

    @property
    def advice(self) -> str:
        """What to do differently, for a result that did not pass."""
        return ADVICE.get(self.reason, "")


@dataclass(frozen=True)
class Mouth:
    """What a frame's landmarks show of the mouth: the gap between the inner lips at the
    middle (in face heights), which tells a still mouth, and the area inside the lips (in
    squared face heights), which follows the speech more closely."""

    opening: float
    area: float


def mouth_of(mesh: np.ndarray) -> Mouth:
    """The mouth of one face's landmarks."""
    return Mouth(mouth_opening(mesh), mouth_area(mesh))


def mouth_opening(mesh: np.ndarray) -> float:
    """The gap between the inner lips as a share of the face's height (forehead to chin)."""
    height = float(np.linalg.norm(mesh[FOREHEAD, :2] - mesh[CHIN, :2]))
    gap = float(np.linalg.norm(mesh[UPPER_LIP, :2] - mesh[LOWER_LIP, :2]))
    return gap / height if height > 0 else 0.0


def mouth_area(mesh: np.ndarray) -> float:
    """The area inside the lips as a share of the squared face height (forehead to chin)."""
    height = float(np.linalg.norm(mesh[FOREHEAD, :2] - mesh[CHIN, :2]))
    ring = mesh[list(INNER_LIPS), :2].astype(np.float64)
    x, y = ring[:, 0], ring[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
    return area / height**2 if height > 0 else 0.0


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
    mouths: Sequence[Mouth | None],
    frame_times_ms: Sequence[float],
    samples: np.ndarray,
    rules: SyncRules,
) -> SyncResult:
    """Whether the mouth follows the speech of a recording (16 kHz, from its first sample).

    ``mouths`` holds each frame's ``mouth_of`` (None where no face was seen) and
    ``frame_times_ms`` each frame's time on the recording's clock. Only the frames while
    the speech lasts count.
    """
    span = spoken_span_ms(samples)
    times = np.asarray(frame_times_ms, dtype=np.float64)
    seen = np.array([m is not None for m in mouths], dtype=bool)
    if span is not None:
        seen &= (times >= span[0]) & (times <= span[1])
    count = int(seen.sum())
    if count < rules.min_frames:
        return SyncResult(False, 0.0, 0, count, 0.0, TOO_FEW_FRAMES)
    spoken = [m for m, s in zip(mouths, seen, strict=True) if s and m is not None]
    movement = float(np.std([m.opening for m in spoken]))
    if movement < rules.min_mouth_movement:
        return SyncResult(False, 0.0, 0, count, movement, MOUTH_STILL)
    area = np.array([m.area for m in spoken], dtype=float)
    scores = delay_scores(area, times[seen], samples, rules)
    in_window = {
        delay: score
        for delay, score in scores.items()
        if rules.earliest_delay_ms <= delay <= rules.latest_delay_ms
    }
    if not in_window:  # the speech at the very edge of the recording
        return SyncResult(False, 0.0, 0, count, movement, OUT_OF_SYNC)
    best_delay = max(in_window, key=in_window.__getitem__)
    best = in_window[best_delay]
    elsewhere = max(
        (
            score
            for delay, score in scores.items()
            if delay < rules.earliest_delay_ms - rules.far_gap_ms
            or delay > rules.latest_delay_ms + rules.far_gap_ms
        ),
        default=-1.0,
    )
    passed = best >= rules.min_score and elsewhere - best <= rules.max_far_excess
    reason = "" if passed else OUT_OF_SYNC
    return SyncResult(passed, best, best_delay, count, movement, reason, elsewhere)


def delay_scores(
    area: np.ndarray, times_ms: np.ndarray, samples: np.ndarray, rules: SyncRules
) -> dict[int, float]:
    """The correlation of the mouth's area with the speech band's loudness at each delay of
    the sound after the mouth, from ``-reach_ms`` to ``reach_ms`` (the window included).

    Only the frames whose delayed time falls within the recording count; a delay that leaves
    fewer than ``min_frames`` of them, or fewer than most, is not scored (the loudness
    beyond the recording is unknown, not the level at its end).
    """
    envelope_times, level = speech_envelope(samples)
    first = min(rules.earliest_delay_ms, -rules.reach_ms)
    last = max(rules.latest_delay_ms, rules.reach_ms)
    delays = np.arange(first, last + 1, rules.delay_step_ms)
    shifted = times_ms[None, :] + delays[:, None]  # one row per delay
    within = (shifted >= envelope_times[0]) & (shifted <= envelope_times[-1])
    sound = np.interp(shifted, envelope_times, level)
    needed = max(rules.min_frames, math.ceil(MIN_SHARE_WITHIN_RECORDING * area.size))
    return {
        int(delay): _correlation(area[inside], row[inside])
        for delay, row, inside in zip(delays, sound, within, strict=True)
        if inside.sum() >= needed
    }
