"""Build the speaker folders of our voice numbers from ../shared/data/voices into OUT.

    .venv/bin/python eval/build_voice_folders.py /tmp/facevoice-voices

writes (16 kHz WAV, never committed):

    OUT/calibration/digits/<speaker>/      FSDD george, jackson, lucas: phrases of 4-6 digits
    OUT/calibration/librispeech/<speaker>/ LibriSpeech speakers with even ids: 3 s parts
    OUT/test/digits/<speaker>/             FSDD nicolas, theo, yweweler
    OUT/test/librispeech/<speaker>/        LibriSpeech speakers with odd ids

Thresholds are chosen on calibration/ and reported on test/: no speaker is in both.
The FSDD split puts one US and one German speaker on each side (speakers_metadata).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facevoice.evaluation.corpora import (
    librispeech_speaker,
    write_digit_speakers,
    write_librispeech_speakers,
)

VOICES = Path(__file__).resolve().parents[2] / "shared" / "data" / "voices"
DIGIT_SPEAKERS = {
    "calibration": ["george", "jackson", "lucas"],
    "test": ["nicolas", "theo", "yweweler"],
}
PHRASE_SEED = 0


def librispeech_split(folder: Path) -> dict[str, list[Path]]:
    """LibriSpeech files by part: even speaker ids calibrate, odd ones test."""
    files = sorted(folder.glob("*.flac"))
    return {
        "calibration": [f for f in files if int(librispeech_speaker(f)) % 2 == 0],
        "test": [f for f in files if int(librispeech_speaker(f)) % 2 == 1],
    }


def main() -> None:
    """Write the four speaker folders and say what is in them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder (e.g. under /tmp)")
    parser.add_argument("--voices", type=Path, default=VOICES, help="the shared voices folder")
    args = parser.parse_args()
    libri = librispeech_split(args.voices / "librispeech")
    for part, speakers in DIGIT_SPEAKERS.items():
        out = args.out / part
        digits = args.voices / "digits"
        phrases = write_digit_speakers(digits, out / "digits", speakers, PHRASE_SEED)
        parts = write_librispeech_speakers(libri[part], out / "librispeech")
        print(f"{out}/digits: {sum(phrases.values())} phrases, {phrases}")
        usable = {s: n for s, n in parts.items() if n}
        print(f"{out}/librispeech: {sum(parts.values())} parts of {len(usable)} speakers")


if __name__ == "__main__":
    main()
