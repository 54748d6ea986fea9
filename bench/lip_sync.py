"""Lip–audio sync on the real clip: its own sound against shifted, reversed and other speech.

The clip's person speaks on stage (frames 82 to 210 show their face to the landmarker). For
each frame rate a page might film at (30, 15 and 10 frames per second, every phase), the
sync score of those frames is computed with the clip's own sound, the sound shifted by 0.3
to 2 s either way, the sound reversed, and the sound replaced by other speech (40 LibriSpeech
speakers, and the six FSDD speakers saying five digits), and the counts that pass the
default ``SyncRules`` are printed. Then the photos of bench/liveness_rates.py, held still,
moved, or turned up to 30°, 45° or 60° either way, are filmed at 15 frames per second while
FSDD's jackson says the digits: the user's voice laid over a printed face.

Run: .venv/bin/python bench/lip_sync.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.liveness_rates import PHOTO_USERS  # noqa: E402
from facevoice.biometrics.audio import SAMPLE_RATE  # noqa: E402
from facevoice.biometrics.landmarks import get_face_mesh  # noqa: E402
from facevoice.biometrics.lipsync import SyncRules, check_sync, mouth_opening  # noqa: E402
from tests import media  # noqa: E402

SPEAKING = range(82, 211)  # frames showing the speaking person's face
SHIFTS_S = [round(s, 1) for s in np.arange(0.3, 2.01, 0.1)]
DIGIT_SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def clip_openings() -> dict[int, float | None]:
    """The mouth opening of every speaking frame (None where the face is not found)."""
    mesh = get_face_mesh()
    openings: dict[int, float | None] = {}
    for index, rgb in zip(SPEAKING, media.clip_frames(list(SPEAKING)), strict=True):
        faces = mesh.faces(rgb)
        openings[index] = mouth_opening(faces[0]) if len(faces) == 1 else None
    return openings


def placed(speech: np.ndarray, start_ms: int, length: int) -> np.ndarray:
    """``speech`` laid into a recording of ``length`` samples from ``start_ms``."""
    out = np.zeros(length, dtype=np.float32)
    start = int(start_ms * SAMPLE_RATE / 1000)
    part = speech[: max(0, length - start)]
    out[start : start + part.size] = part
    return out


def other_speech(length: int, start_ms: int) -> dict[str, np.ndarray]:
    """Recordings of other speech the length of the clip's sound, by name."""
    recordings = {}
    for path in sorted(media.LIBRISPEECH.glob("*.flac")):
        recordings[f"librispeech {path.stem}"] = placed(media.utterance(path.stem), 0, length)
    for speaker in DIGIT_SPEAKERS:
        digits = media.spoken_digits(speaker, "47192", [30] * 5, media.PAUSES)
        recordings[f"digits {speaker}"] = placed(digits, start_ms, length)
    return recordings


def frame_sets() -> dict[str, list[int]]:
    """The speaking frames as filmed at 30, 15 and 10 frames per second, each phase."""
    frames = list(SPEAKING)
    sets = {"30 fps": frames}
    for step, rate in ((2, 15), (3, 10)):
        for phase in range(step):
            sets[f"{rate} fps, phase {phase}"] = frames[phase::step]
    return sets


def photo_bursts(photo: str) -> dict[str, list[np.ndarray]]:
    """A photo before the camera for 45 frames: still, moved, and turned either way."""
    bursts = {"still": media.photo_burst(photo, count=45)}
    for seed in range(2):
        bursts[f"moved {seed}"] = media.photo_burst(photo, count=45, moved=True, seed=seed)
    for degrees in (30, -30, 45, -45, 60, -60):
        bursts[f"turned {degrees}°"] = media.turned_photo_burst(photo, 45, degrees)
    return bursts


def photo_attacks(rules: SyncRules) -> None:
    """Print how many printed-photo presentations with the user's voice pass the sync."""
    mesh = get_face_mesh()
    reading = media.spoken_digits("jackson", "47192", [30, 31, 32, 33, 34], media.PAUSES)
    times = [round(t) for t in np.linspace(0, 1000 * reading.size / SAMPLE_RATE - 50, 45)]
    passed, tried, movements = 0, 0, []
    for _, shown in PHOTO_USERS:
        for photo in shown:
            for frames in photo_bursts(photo).values():
                openings = []
                for rgb in frames:
                    faces = mesh.faces(rgb)
                    openings.append(mouth_opening(faces[0]) if len(faces) == 1 else None)
                result = check_sync(openings, times, reading, rules)
                passed += result.passed
                tried += 1
                movements.append(result.movement)
    print(
        f"printed photos with the user's voice: {passed}/{tried} pass; mouth movement "
        f"median {np.median(movements):.4f}, highest {max(movements):.4f} "
        f"(rule: at least {rules.min_mouth_movement})"
    )


def delay_scan(openings: dict[int, float | None], sound: np.ndarray, times: dict[int, int]) -> None:
    """Print the clip's sync score at every delay of its sound from -2 s to +2 s (30 fps).

    The score at the true alignment (the rule's window, -100 to +300 ms) against the best far
    from it shows whether this clip can tell its own sound from the same sound shifted.
    """
    frames = list(SPEAKING)
    opening = [openings[i] for i in frames]
    frame_times = [times[i] for i in frames]
    scores = {}
    for delay in range(-2000, 2001, 20):
        rules = SyncRules(min_score=-1.0, earliest_delay_ms=delay, latest_delay_ms=delay)
        scores[delay] = check_sync(opening, frame_times, sound, rules).score
    window = SyncRules()
    near = max(
        score
        for delay, score in scores.items()
        if window.earliest_delay_ms <= delay <= window.latest_delay_ms
    )
    far = sorted(
        ((score, delay) for delay, score in scores.items() if abs(delay) >= 300), reverse=True
    )
    print(
        f"delay scan (30 fps): best within the rule's window {near:+.2f}; best delays at least "
        "0.3 s away: " + ", ".join(f"{delay:+d} ms {score:+.2f}" for score, delay in far[:5])
    )


def main() -> None:
    """Print the sync scores and the counts that pass."""
    rules = SyncRules()
    sound, times = media.clip_sound()
    openings = clip_openings()
    found = sum(o is not None for o in openings.values())
    print(f"frames {SPEAKING.start}-{SPEAKING.stop - 1}: a face in {found} of {len(openings)}")
    print(f"rules: {rules}")
    others = other_speech(sound.size, times[SPEAKING.start])

    def score(
        frames: list[int], samples: np.ndarray, shift_ms: int = 0
    ) -> tuple[bool, float, float]:
        result = check_sync(
            [openings[i] for i in frames], [times[i] + shift_ms for i in frames], samples, rules
        )
        return result.passed, result.score, result.movement

    totals = {"genuine": [0, 0], "shifted": [0, 0], "reversed": [0, 0], "other": [0, 0]}

    def count(kind: str, passed: bool) -> None:
        totals[kind][0] += passed
        totals[kind][1] += 1

    movements: list[float] = []
    for name, frames in frame_sets().items():
        passed, genuine, movement = score(frames, sound)
        movements.append(movement)
        count("genuine", passed)
        shifted = [
            score(frames, sound, round(1000 * s * sign)) for s in SHIFTS_S for sign in (1, -1)
        ]
        for ok, *_ in shifted:
            count("shifted", ok)
        reversed_ok, reversed_score, _ = score(frames, sound[::-1].copy())
        count("reversed", reversed_ok)
        other = [score(frames, samples) for samples in others.values()]
        for ok, *_ in other:
            count("other", ok)
        print(
            f"{name:18} own sound {genuine:+.2f} ({'pass' if passed else 'REFUSED'}); "
            f"shifted: {sum(ok for ok, *_ in shifted)}/{len(shifted)} pass "
            f"(best {max(s for _, s, _ in shifted):+.2f}); reversed {reversed_score:+.2f}; "
            f"other speech: {sum(ok for ok, *_ in other)}/{len(other)} pass "
            f"(best {max(s for _, s, _ in other):+.2f})"
        )
    print("totals (passed/tried):")
    for kind, (passed, tried) in totals.items():
        print(f"  {kind:9} {passed}/{tried}")
    print(f"the clip's mouth movement with its sound: {min(movements):.4f} to {max(movements):.4f}")
    delay_scan(openings, sound, times)
    photo_attacks(rules)


if __name__ == "__main__":
    main()
