"""Decoding recordings to 16 kHz mono float32, and finding the speech in them.

PyAV brings FFmpeg's decoders: WAV, WebM/Opus (Chrome), Ogg/Opus (Firefox), FLAC, MP3.
The container is recognised from its first bytes and FFmpeg is told which one it is: left
to guess, FFmpeg also picks formats that open network sockets (SDP) or other files and URLs
(playlists such as HLS and ffconcat), so such text is refused before FFmpeg sees it.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from facevoice.errors import BadAudio, BadInput, UnsupportedMedia

SAMPLE_RATE = 16_000
FRAME = 480  # 30 ms analysis window
HOP = 160  # 10 ms between frames
# Pitch between 62.5 and 400 Hz, as lags in samples.
MIN_PITCH_LAG = SAMPLE_RATE // 400
MAX_PITCH_LAG = SAMPLE_RATE // 62
SILENCE_DBFS = -55.0  # quieter frames are silence whatever the recording's level
SPEECH_RANGE_DB = 35.0  # frames this far under the loudest 5 % still count as sound
VOICING_MIN_CORRELATION = 0.45  # normalised autocorrelation peak of a voiced frame
SYLLABLE_SPAN_SECONDS = 0.15  # sound this close to a voiced frame belongs to the syllable
TRIM_PAD_SECONDS = 0.1
DECODE_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError, IndexError)
# FFmpeg's names of the demuxers we accept, by what ``sniff_audio_format`` returns.
DEMUXERS = {
    "wav": "wav",
    "matroska": "matroska,webm",
    "ogg": "ogg",
    "flac": "flac",
    "mp3": "mp3",
}
HEADER_BYTES = 12
UNSUPPORTED_MESSAGE = "This is not a recording we can read: send WAV, WebM, Ogg, FLAC or MP3."
DAMAGED_MESSAGE = "The recording is damaged or incomplete. Record it again."

AudioSource = str | Path | bytes | BinaryIO


@dataclass(frozen=True)
class SpeechActivity:
    """Where a recording holds sound and voiced speech, frame by frame (10 ms hop)."""

    sound: np.ndarray
    voiced: np.ndarray
    speech: np.ndarray

    @property
    def speech_seconds(self) -> float:
        """Seconds from the first to the last speech frame: the length after trimming silence."""
        active = np.flatnonzero(self.speech)
        if active.size == 0:
            return 0.0
        return float(active[-1] - active[0]) * HOP / SAMPLE_RATE + FRAME / SAMPLE_RATE


def sniff_audio_format(header: bytes) -> str | None:
    """The container a recording's first bytes announce (a key of ``DEMUXERS``), or None."""
    if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
        return "wav"
    if header[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska and WebM
        return "matroska"
    if header[:4] == b"OggS":
        return "ogg"
    if header[:4] == b"fLaC":
        return "flac"
    if header[:3] == b"ID3" or _is_mpeg_audio_frame(header):
        return "mp3"
    return None


def _is_mpeg_audio_frame(header: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, then a layer other than the reserved 00
    (which is how ADTS AAC starts)."""
    if len(header) < 2 or header[0] != 0xFF:
        return False
    return header[1] & 0xE0 == 0xE0 and header[1] & 0x06 != 0


@contextmanager
def _binary(source: AudioSource) -> Iterator[BinaryIO]:
    """The source as an open binary stream: FFmpeg then reads bytes, never a name or URL."""
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    elif isinstance(source, str | Path):
        with Path(source).open("rb") as stream:
            yield stream
    else:
        yield source


def open_recording(stream: BinaryIO) -> av.container.InputContainer:
    """Open a recording in the container its first bytes announce, and no other.

    FFmpeg may open nothing but local files from it (no network, no playlist, no ``concat``),
    and only the one demuxer. Raises ``UnsupportedMedia`` for data of any other kind.
    """
    start = stream.tell()
    container_format = sniff_audio_format(stream.read(HEADER_BYTES))
    stream.seek(start)
    if container_format is None:
        raise UnsupportedMedia(UNSUPPORTED_MESSAGE)
    options = {"protocol_whitelist": "file", "format_whitelist": DEMUXERS[container_format]}
    try:
        return av.open(
            stream,
            mode="r",
            format=container_format,
            container_options=options,
            metadata_errors="ignore",
        )
    except DECODE_ERRORS:
        raise BadInput(DAMAGED_MESSAGE) from None


def decode_audio(source: AudioSource, max_seconds: float) -> np.ndarray:
    """Decode a recording to 16 kHz mono float32 in [-1, 1].

    Raises ``UnsupportedMedia`` when the data is no WAV, WebM/Matroska, Ogg, FLAC or MP3
    (told by its first bytes), ``BadInput`` when it is damaged, and ``BadAudio`` when it lasts
    longer than ``max_seconds`` (decoding stops there, so a long upload costs no more than
    ``max_seconds`` of audio). Bytes are decoded in memory: nothing is written to disk.
    """
    with _binary(source) as stream, open_recording(stream) as container:
        if not container.streams.audio:
            raise UnsupportedMedia("The file holds no sound.")
        limit = int(max_seconds * SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        total = 0
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(container.streams.audio[0]):
                for chunk in resampler.resample(frame):
                    chunks.append(chunk.to_ndarray().reshape(-1))
                    total += chunks[-1].size
                if total > limit:
                    raise BadAudio(
                        f"The recording is longer than {max_seconds:g} seconds. "
                        "Record a shorter phrase."
                    )
            for chunk in resampler.resample(None):
                chunks.append(chunk.to_ndarray().reshape(-1))
        except DECODE_ERRORS:
            raise BadInput(DAMAGED_MESSAGE) from None
    if not chunks:
        raise BadAudio("The recording is empty. Check your microphone and record again.")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if samples.size > limit:
        raise BadAudio(
            f"The recording is longer than {max_seconds:g} seconds. Record a shorter phrase."
        )
    return np.nan_to_num(np.clip(samples, -1.0, 1.0), copy=False)


def frame_signal(samples: np.ndarray) -> np.ndarray:
    """Overlapping 30 ms frames every 10 ms, as a (frames, 480) view."""
    if samples.size < FRAME:
        samples = np.pad(samples, (0, FRAME - samples.size))
    return np.lib.stride_tricks.sliding_window_view(samples, FRAME)[::HOP]


def speech_activity(samples: np.ndarray) -> SpeechActivity:
    """Mark frames that hold sound, voiced sound, and speech.

    Voicing is a strong pitch-range autocorrelation peak after pre-emphasis, which steady
    noise of any colour lacks; speech is sound within a syllable's reach of voicing.
    """
    frames = frame_signal(samples)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    level = 20 * np.log10(np.maximum(rms, 1e-10))
    loud = float(np.percentile(level, 95))
    sound = level > max(SILENCE_DBFS, loud - SPEECH_RANGE_DB)

    emphasised = np.diff(samples, prepend=samples[:1]) if samples.size else samples
    spectra = np.fft.rfft(frame_signal(emphasised) * np.hanning(FRAME), n=2 * FRAME)
    correlation = np.fft.irfft(np.abs(spectra) ** 2)[:, : MAX_PITCH_LAG + 1]
    window_correlation = np.correlate(np.hanning(FRAME), np.hanning(FRAME), "full")[FRAME - 1 :]
    correlation = correlation / window_correlation[: MAX_PITCH_LAG + 1]
    peak = correlation[:, MIN_PITCH_LAG:].max(axis=1) / np.maximum(correlation[:, 0], 1e-12)
    voiced = sound & (peak > VOICING_MIN_CORRELATION)

    reach = int(SYLLABLE_SPAN_SECONDS * SAMPLE_RATE / HOP)
    spread = np.convolve(voiced.astype(np.int32), np.ones(2 * reach + 1, dtype=np.int32))
    near_voicing = spread[reach : reach + voiced.size] > 0
    return SpeechActivity(sound=sound, voiced=voiced, speech=sound & near_voicing)


def speech_samples(samples: np.ndarray, min_speech_seconds: float) -> np.ndarray:
    """The recording with leading and trailing silence cut off.

    Raises ``BadAudio``, with advice, when it holds less than ``min_speech_seconds`` of speech.
    """
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak < 10 ** (SILENCE_DBFS / 20):
        raise BadAudio(
            "We heard nothing: the recording is silent. Check that your microphone is "
            "connected, not muted, and allowed for this site."
        )
    activity = speech_activity(samples)
    if not activity.voiced.any():
        raise BadAudio(
            "We heard sound but no voice. Speak clearly, close to the microphone, away from noise."
        )
    if activity.speech_seconds < min_speech_seconds:
        raise BadAudio(
            f"We heard only {activity.speech_seconds:.1f} s of speech; at least "
            f"{min_speech_seconds:g} s is needed. Speak the whole phrase, a little louder."
        )
    active = np.flatnonzero(activity.speech)
    pad = int(TRIM_PAD_SECONDS * SAMPLE_RATE)
    start = max(0, int(active[0]) * HOP - pad)
    end = min(samples.size, int(active[-1]) * HOP + FRAME + pad)
    return samples[start:end]


def load_speech(source: AudioSource, max_seconds: float, min_speech_seconds: float) -> np.ndarray:
    """Decode a recording and cut it to its speech, as every upload is before embedding."""
    return speech_samples(decode_audio(source, max_seconds), min_speech_seconds)


def pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as little-endian 16-bit PCM bytes."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono float samples as the bytes of a 16-bit PCM WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm16(samples))
    return buffer.getvalue()
