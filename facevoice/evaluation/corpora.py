"""Speaker folders for ``evaluate voice`` built from public corpora.

- Free Spoken Digit Dataset files ``{digit}_{speaker}_{take}.wav``: each speaker's files are
  shuffled and joined into phrases of four to six digits, each file used at most once (a
  remainder of fewer than four is dropped).
- LibriSpeech files ``{speaker}-{chapter}-{utterance}.flac``: each utterance is cut into
  consecutive parts of three seconds (a shorter remainder is dropped).

Folders hold 16 kHz 16-bit WAV files, one sub-folder per speaker.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np

from facevoice.biometrics.audio import SAMPLE_RATE, decode_audio, wav_bytes

DIGIT_FILE = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z]+)_(?P<take>\d+)\.wav$")
PHRASE_DIGITS = (4, 5, 6)
PART_SECONDS = 3.0
SOURCE_MAX_SECONDS = 600.0


def digit_files(folder: Path) -> dict[str, list[Path]]:
    """FSDD recordings by speaker, sorted by name."""
    speakers: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.wav")):
        match = DIGIT_FILE.match(path.name)
        if match:
            speakers.setdefault(match["speaker"], []).append(path)
    return speakers


def compose_phrases(files: list[Path], rng: random.Random) -> list[list[Path]]:
    """Shuffle one speaker's digit files into phrases of 4 to 6 digits (leftovers dropped)."""
    shuffled = list(files)
    rng.shuffle(shuffled)
    phrases = []
    while len(shuffled) >= min(PHRASE_DIGITS):
        size = min(rng.choice(PHRASE_DIGITS), len(shuffled))
        phrases.append(shuffled[:size])
        shuffled = shuffled[size:]
    return phrases


def joined(paths: list[Path]) -> np.ndarray:
    """Recordings decoded to 16 kHz and joined one after another."""
    return np.concatenate([decode_audio(p, SOURCE_MAX_SECONDS) for p in paths])


def split_parts(samples: np.ndarray, seconds: float = PART_SECONDS) -> list[np.ndarray]:
    """Consecutive parts of exactly ``seconds``; a shorter remainder is dropped."""
    size = int(seconds * SAMPLE_RATE)
    return [samples[start : start + size] for start in range(0, samples.size - size + 1, size)]


def write_digit_speakers(
    folder: Path, out: Path, speakers: list[str], seed: int = 0
) -> dict[str, int]:
    """Write each speaker's digit phrases to ``out/<speaker>/``; return phrases per speaker."""
    files = digit_files(folder)
    written = {}
    for speaker in speakers:
        rng = random.Random(f"{seed}-{speaker}")
        target = out / speaker
        target.mkdir(parents=True, exist_ok=True)
        phrases = compose_phrases(files.get(speaker, []), rng)
        for index, phrase in enumerate(phrases):
            digits = "".join(p.name[0] for p in phrase)  # FSDD names start with the digit
            (target / f"{index:03d}_{digits}.wav").write_bytes(wav_bytes(joined(phrase)))
        written[speaker] = len(phrases)
    return written


def librispeech_speaker(path: Path) -> str:
    """The speaker id of a LibriSpeech file name ``speaker-chapter-utterance.flac``."""
    return path.name.split("-", 1)[0]


def write_librispeech_speakers(
    files: list[Path], out: Path, seconds: float = PART_SECONDS
) -> dict[str, int]:
    """Write the 3 s parts of each utterance to ``out/<speaker>/``; return parts per speaker."""
    written: dict[str, int] = {}
    for path in files:
        speaker = librispeech_speaker(path)
        parts = split_parts(decode_audio(path, SOURCE_MAX_SECONDS), seconds)
        for index, part in enumerate(parts):
            (out / speaker).mkdir(parents=True, exist_ok=True)
            (out / speaker / f"{path.stem}_{index}.wav").write_bytes(wav_bytes(part))
        written[speaker] = written.get(speaker, 0) + len(parts)
    return written
