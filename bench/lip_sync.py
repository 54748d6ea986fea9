"""Lip–audio sync on the real clip: its own sound against shifted, reversed and other speech.

The clip's person speaks on stage (frames 82 to 210 show their face to the landmarker). For
each frame rate a page might film at (30, 15 and 10 frames per second, every phase), the
sync score of those frames is computed with the clip's own sound, the sound shifted by 0.3
to 2 s either way, the sound reversed, and the sound replaced by other speech (40 LibriSpeech
speakers, and the six FSDD speakers saying five digits), and the counts that pass the
default ``SyncRules`` are printed. Then the photos of bench/liveness_rates.py, held still,
moved, or turned up to 30°, 45° or 60° either way, are filmed at 15 frames per second while
FSDD's jackson says the digits: the user's voice laid over a printed face. Last, the delay
scan: the clip's score at every delay of its sound from -2.5 to +2.5 s, at the file's own
timing and with the soundtrack's measured lead taken out (``media.CLIP_SOUND_LEAD_MS``).

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
from facevoice.biometrics.lipsync import (  # noqa: E402
    Mouth,
    SyncResult,
    SyncRules,
    check_sync,
    delay_scores,
    mouth_of,
)
from tests import media  # noqa: E402
from tests.media import CLIP_SOUND_LEAD_MS  # noqa: E402

SPEAKING = range(82, 211)  # frames showing the speaking person's face
SHIFTS_S = [round(s, 1) for s in np.arange(0.3, 2.01, 0.1)]
DIGIT_SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def clip_mouths() -> dict[int, Mouth | None]:
    """The mouth of every speaking frame (None where the face is not found)."""
    mesh = get_face_mesh()
    mouths: dict[int, Mouth | None] = {}
    for index, rgb in zip(SPEAKING, media.clip_frames(list(SPEAKING)), strict=True):
        faces = mesh.faces(rgb)
        mouths[index] = mouth_of(faces[0]) if len(faces) == 1 else None
    return mouths


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
                mouths: list[Mouth | None] = []
                for rgb in frames:
                    faces = mesh.faces(rgb)
                    mouths.append(mouth_of(faces[0]) if len(faces) == 1 else None)
                result = check_sync(mouths, times, reading, rules)
                passed += result.passed
                tried += 1
                movements.append(result.movement)
    print(
        f"printed photos with the user's voice: {passed}/{tried} pass; mouth movement "
        f"median {np.median(movements):.4f}, highest {max(movements):.4f} "
        f"(rule: at least {rules.min_mouth_movement})"
    )


def delay_scan(mouths: dict[int, Mouth | None], sound: np.ndarray, times: dict[int, int]) -> None:
    """Print where the clip's mouth (30 fps) follows its sound best, at the file's own timing
    and with the soundtrack's lead taken out."""
    frames = list(SPEAKING)
    area = np.array([mouth.area for i in frames if (mouth := mouths[i]) is not None], float)
    frames = [i for i in frames if mouths[i] is not None]
    for name, lead in (("the file's own timing", 0), ("the lead taken out", CLIP_SOUND_LEAD_MS)):
        frame_times = np.array([times[i] + CLIP_SOUND_LEAD_MS - lead for i in frames], float)
        scores = delay_scores(area, frame_times, sound, SyncRules())
        best = sorted(((score, delay) for delay, score in scores.items()), reverse=True)
        at_zero = max(score for delay, score in scores.items() if -100 <= delay <= 200)
        print(
            f"delay scan, {name}: best within -100..+200 ms {at_zero:+.2f}; best delays: "
            + ", ".join(f"{delay:+d} ms {score:+.2f}" for score, delay in best[:3])
        )


def main() -> None:
    """Print the sync scores and the counts that pass."""
    rules = SyncRules()
    sound, times = media.clip_sound()
    mouths = clip_mouths()
    found = sum(m is not None for m in mouths.values())
    print(f"frames {SPEAKING.start}-{SPEAKING.stop - 1}: a face in {found} of {len(mouths)}")
    print(f"rules: {rules}")
    others = other_speech(sound.size, times[SPEAKING.start])

    def judged(frames: list[int], samples: np.ndarray, shift_ms: int = 0) -> SyncResult:
        return check_sync(
            [mouths[i] for i in frames], [times[i] + shift_ms for i in frames], samples, rules
        )

    kinds = ("genuine", "shifted", "reversed", "other: librispeech", "other: digits")
    totals = {kind: [0, 0] for kind in kinds}

    def count(kind: str, results: list[SyncResult]) -> str:
        totals[kind][0] += sum(r.passed for r in results)
        totals[kind][1] += len(results)
        best = max(results, key=lambda r: r.score)
        return (
            f"{sum(r.passed for r in results)}/{len(results)} pass "
            f"(best {best.score:+.2f}, elsewhere {best.elsewhere:+.2f})"
        )

    movements: list[float] = []
    for name, frames in frame_sets().items():
        own = judged(frames, sound)
        movements.append(own.movement)
        count("genuine", [own])
        shifts_ms = [round(1000 * s * sign) for s in SHIFTS_S for sign in (1, -1)]
        shifted = [judged(frames, sound, shift) for shift in shifts_ms]
        passing = sorted(shift for shift, r in zip(shifts_ms, shifted, strict=True) if r.passed)
        other = {
            kind: [judged(frames, s) for n, s in others.items() if n.startswith(kind)]
            for kind in ("librispeech", "digits")
        }
        print(
            f"{name:18} own sound {own.score:+.2f}, elsewhere {own.elsewhere:+.2f} "
            f"({'pass' if own.passed else 'REFUSED'}); "
            f"shifted: {count('shifted', shifted)}{f' at {passing} ms' if passing else ''}; "
            f"reversed: {count('reversed', [judged(frames, sound[::-1].copy())])}; "
            f"other speech, librispeech: {count('other: librispeech', other['librispeech'])}; "
            f"digits: {count('other: digits', other['digits'])}"
        )
    print("totals (passed/tried):")
    for kind, (passed, tried) in totals.items():
        print(f"  {kind:18} {passed}/{tried}")
    print(f"the clip's mouth movement with its sound: {min(movements):.4f} to {max(movements):.4f}")
    photo_attacks(rules)
    delay_scan(mouths, sound, times)


if __name__ == "__main__":
    main()
