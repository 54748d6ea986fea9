"""How many good and degraded samples of ../shared/data the capture-quality checks refuse.

    .venv/bin/python bench/quality_margins.py

Good photos: every photo under faces/ with exactly one face, checked as an enrollment photo
(pose included), and every 4th frame of the clip's man on stage (frames 84-208), checked
as log-in frames (no pose check: they turn up to 40°; as enrollment frames the pose check
refuses the turned ones, counted apart). Good recordings: the 40 LibriSpeech utterances and
30 FSDD log-in readings (5 digits, 5 per speaker, with pauses). Each good sample is then
degraded (tests/media.py says how) and checked again. A degraded sample counts as refused
whether the quality check or the detector (no face, no speech) refuses it; the counts of
each advice follow.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facevoice.biometrics.audio import decode_audio, speech_samples
from facevoice.biometrics.face import FaceModel, get_face_model
from facevoice.biometrics.images import load_image
from facevoice.biometrics.quality import (
    PhotoLimits,
    RecordingLimits,
    check_photo_quality,
    check_recording_quality,
)
from facevoice.config import Settings
from facevoice.errors import Unusable
from tests import media

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
DIGITS = "4719258036"


def good_photos() -> list[tuple[str, np.ndarray, bool]]:
    """(name, RGB, checked as enrollment) of every good photo and clip frame."""
    photos = []
    for path in sorted(media.FACES.rglob("*")):
        if path.suffix.lower() in {".jpg", ".jpeg", ".png"}:
            photos.append((str(path.relative_to(media.FACES)), load_image(path, 10**8), True))
    frames = list(range(84, 209, 4))
    photos += [
        (f"clip {i}", rgb, False) for i, rgb in zip(frames, media.clip_frames(frames), strict=True)
    ]
    return photos


def good_recordings() -> list[tuple[str, np.ndarray]]:
    """(name, 16 kHz samples) of every good recording."""
    recordings = [(p.stem, decode_audio(p, 60)) for p in sorted(media.LIBRISPEECH.glob("*.flac"))]
    for speaker in SPEAKERS:
        for n in range(5):
            digits = DIGITS[n : n + 5]
            takes = [5 * n + i for i in range(5)]
            recordings.append(
                (f"{speaker} {digits}", media.spoken_digits(speaker, digits, takes, media.PAUSES))
            )
    return recordings


def photo_verdict(model: FaceModel, rgb: np.ndarray, enrollment: bool) -> str:
    """What the server says of a photo: "ok", or the message refusing it."""
    try:
        face = model.single_face(rgb)
        check_photo_quality(rgb, face, PhotoLimits(), enrollment)
    except Unusable as error:
        return error.message
    return "ok"


def recording_verdict(samples: np.ndarray, limits: RecordingLimits) -> str:
    """What the server says of a recording: "ok", or the message refusing it."""
    try:
        speech_samples(samples, limits.min_speech_seconds)
        check_recording_quality(samples, limits)
    except Unusable as error:
        return error.message
    return "ok"


def report(name: str, verdicts: list[str]) -> None:
    """Print how many were refused, and with which advice."""
    refused = [v for v in verdicts if v != "ok"]
    print(f"{name:<34} refused {len(refused):>3} / {len(verdicts)}")
    for message, count in Counter(refused).most_common():
        print(f"    {count:>3}  {message}")


def main() -> None:
    model = get_face_model(Settings().face_detect_width_px)
    photos = []
    for name, rgb, enrollment in good_photos():
        faces = model.find_faces(rgb)
        if len(faces) == 1:  # group photos are refused for that, not for quality
            photos.append((name, rgb, enrollment, faces[0]))
    report("good photos", [photo_verdict(model, rgb, e) for _, rgb, e, _ in photos])
    clip = [(rgb, f) for name, rgb, e, f in photos if not e]
    report(
        "clip frames checked as enrollment", [photo_verdict(model, rgb, True) for rgb, _ in clip]
    )
    degradations: dict[str, Callable[[np.ndarray, object], np.ndarray]] = {
        "darkened (x0.35)": lambda rgb, f: media.darkened(rgb),
        "blurred (sigma 1/30 face width)": lambda rgb, f: media.blurred(rgb, f.box),
        "downscaled (x0.25)": lambda rgb, f: media.downscaled(rgb),
        "side-lit (-85 % across face)": lambda rgb, f: media.side_lit(rgb, f.box),
        "eyes covered": lambda rgb, f: media.eyes_covered(rgb, f.detection.landmarks[:2]),
    }
    for label, degrade in degradations.items():
        verdicts = [photo_verdict(model, degrade(rgb, f), e) for _, rgb, e, f in photos]
        report(label, verdicts)

    limits = RecordingLimits(min_speech_seconds=Settings().min_speech_seconds)
    recordings = good_recordings()
    report("good recordings", [recording_verdict(x, limits) for _, x in recordings])
    for label, change in {
        "clipped (x4 past full scale)": media.clipped,
        "quiet (-20 dB)": lambda x: media.made_quiet(x, 20),
        "quiet (-40 dB)": media.made_quiet,
        "noisy (white noise, 5 dB SNR)": lambda x: media.noisy(x, 5),
        "noisy (white noise, 0 dB SNR)": media.noisy,
    }.items():
        report(label, [recording_verdict(change(x), limits) for _, x in recordings])


if __name__ == "__main__":
    main()
