"""Test media built from ../shared/data: photos, voice phrases, and encoded recordings."""

from __future__ import annotations

import base64
import functools
import io
from pathlib import Path

import av
import numpy as np
from PIL import Image

from facevoice.biometrics.audio import SAMPLE_RATE, decode_audio, wav_bytes

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FACES = DATA / "faces"
LIBRISPEECH = DATA / "voices" / "librispeech"
DIGITS = DATA / "voices" / "digits"
PHRASE_SECONDS = 3.0

# Two LibriSpeech speakers with long utterances: four 3 s phrases each.
SPEAKER_A = "103-1240-0000"
SPEAKER_B = "198-126831-0000"


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode()


def photo(name: str) -> bytes:
    """The bytes of a photo under faces/ (``people/obama/obama.jpg`` style names allowed)."""
    return (FACES / name).read_bytes()


@functools.cache
def utterance(speaker: str) -> np.ndarray:
    """A LibriSpeech utterance as 16 kHz samples."""
    return decode_audio(LIBRISPEECH / f"{speaker}.flac", max_seconds=60)


def phrase(speaker: str, index: int) -> bytes:
    """The ``index``-th 3 s part of a speaker's utterance, as WAV bytes."""
    samples = utterance(speaker)
    size = int(PHRASE_SECONDS * SAMPLE_RATE)
    part = samples[index * size : (index + 1) * size]
    assert part.size == size, f"{speaker} has no phrase {index}"
    return wav_bytes(part)


def digits_phrase(speaker: str, digits: str, take: int = 0) -> np.ndarray:
    """Spoken digits of one FSDD speaker, joined into one 16 kHz phrase."""
    parts = [
        decode_audio(DIGITS / f"{d}_{speaker}_{take + i}.wav", 60) for i, d in enumerate(digits)
    ]
    return np.concatenate(parts)


def silence(seconds: float = 3.0) -> bytes:
    """A silent WAV."""
    return wav_bytes(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32))


def noise(seconds: float = 3.0, level: float = 0.2, seed: int = 0) -> bytes:
    """A WAV of white noise."""
    rng = np.random.default_rng(seed)
    return wav_bytes((rng.standard_normal(int(seconds * SAMPLE_RATE)) * level).astype(np.float32))


def encode(samples: np.ndarray, container: str, codec: str, rate: int = 48_000) -> bytes:
    """Encode 16 kHz samples with PyAV into another container and codec."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(
            samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frames = resampler.resample(frame) + resampler.resample(None)
        for chunk in frames:
            for packet in stream.encode(chunk):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return out.getvalue()


def picture(color: tuple[int, int, int] = (120, 160, 200), size=(640, 480), fmt="JPEG") -> bytes:
    """A plain picture without any face."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()
