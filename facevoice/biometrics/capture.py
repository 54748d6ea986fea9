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
# The head-turn check's frames, spread over the turn and over the rest of the capture
# (docs/liveness.md, "Head-turn challenge": each costs a detection and an SFace embedding,
# about 34 ms).
MAX_TURN_FRAMES = 16
MAX_LATER_FRAMES = 6


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


def turn_window(noses: Sequence[float | None], most: int, least: int) -> list[int]:
    """``least`` to ``most`` frame indices, evenly spread, over the head turn: from the first
    frame to a little after the nose comes back from the farthest it went.

    ``noses`` holds each frame's sideways nose offset (``structure.nose_offset``; None where no
    single face was seen).
    """
    seen = [i for i, offset in enumerate(noses) if offset is not None]
    if len(seen) < 2:
        return spread_indices(len(noses), most)
    start = noses[seen[0]]
    assert start is not None
    away = {i: abs(noses[i] - start) for i in seen}  # type: ignore[operator]
    peak = max(seen, key=away.__getitem__)
    back = next((i for i in seen if i > peak and away[i] < away[peak] / 3), seen[-1])
    end = back + (back - seen[0]) // 4  # and some frames facing the camera again
    end = min(len(noses) - 1, max(end, seen[0] + least - 1))
    return [seen[0] + i for i in spread_indices(end - seen[0] + 1, most)]


def head_turn_frames(
    noses: Sequence[float | None], turn_frames: int, later_frames: int, least: int
) -> list[int]:
    """The frames the head-turn check reads: up to ``turn_frames`` over the turn, and up to
    ``later_frames`` spread over the rest of the capture (the digits, facing the camera), so
    that the same person is seen from the first frame to the last; the other frames cost only
    their landmarks."""
    turn = turn_window(noses, turn_frames, least)
    rest = range(turn[-1] + 1, len(noses))
    later = [rest[i] for i in spread_indices(len(rest), later_frames)] if rest else []
    return turn + later


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
