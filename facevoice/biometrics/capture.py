"""The one-capture log-in: the head turn, then the spoken digits, filmed and recorded at once.

The page records the microphone from the start and films the whole time; each frame carries
its time on the audio's clock (milliseconds from the first sample). The head turn comes first
and the digits after it, so one capture answers both challenges, and the mouth seen while the
digits are said can be matched with the sound (``lipsync``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facevoice.errors import BadInput

MIN_FRAMES = 8
MAX_FRAMES = 150


def check_capture_frame_count(count: int) -> None:
    """Raise ``BadInput`` unless a capture holds ``MIN_FRAMES`` to ``MAX_FRAMES`` frames."""
    if not MIN_FRAMES <= count <= MAX_FRAMES:
        raise BadInput(
            f"The log-in capture needs {MIN_FRAMES} to {MAX_FRAMES} frames; {count} were sent. "
            "Capture again."
        )


def spread_indices(count: int, most: int) -> list[int]:
    """At most ``most`` frame indices out of ``count``, evenly spread, first and last kept."""
    if count <= most:
        return list(range(count))
    return sorted({round(i) for i in np.linspace(0, count - 1, most)})


def check_frames_within_audio(frame_times_ms: Sequence[int], audio_ms: float) -> None:
    """Raise ``BadInput`` when the frames' times run past the end of the recording."""
    if frame_times_ms and frame_times_ms[-1] > audio_ms + 1000:
        raise BadInput(
            f"The last frame is at {frame_times_ms[-1]} ms but the recording lasts "
            f"{audio_ms:.0f} ms: 'frame_times_ms' counts from the start of the audio."
        )


@dataclass(frozen=True)
class CaptureUpload:
    """A log-in capture as sent: JPEG frames in capture order, each frame's time in
    milliseconds from the start of the audio, and the recording."""

    frames: list[bytes]
    frame_times_ms: list[int]
    audio: bytes
