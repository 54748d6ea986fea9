"""Decoding recordings to 16 kHz mono, and finding the speech in them."""

from __future__ import annotations

from typing import Any

import av
import numpy as np
import pytest

from facevoice.biometrics import audio
from facevoice.biometrics.audio import (
    SAMPLE_RATE,
    decode_audio,
    speech_activity,
    speech_samples,
    wav_bytes,
)
from facevoice.errors import BadAudio, BadInput, UnsupportedMedia
from tests import media

PHRASE = media.utterance(media.SPEAKER_A)[: 3 * SAMPLE_RATE]
ACCEPTED = [
    ("webm", "libopus"),
    ("ogg", "libopus"),
    ("flac", "flac"),
    ("mp3", "libmp3lame"),
    ("wav", "pcm_s16le"),
]
# Text that FFmpeg, left to guess, reads as a network session or a list of other inputs.
SDP = (
    b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=probe\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    b"m=audio 47000 RTP/AVP 0\r\n"
)
FFCONCAT = b"ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://127.0.0.1:9/x.wav'\n"
HLS = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n"
M3U = b"#EXTM3U\n#EXTINF:123,Sample\nfile:///etc/passwd\n"
TEXT_INPUTS = [SDP, FFCONCAT, HLS, M3U, b"concat:/etc/passwd|/etc/hosts", b"file:/etc/passwd"]


@pytest.fixture
def av_opens(monkeypatch) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every call of ``av.open`` by the decoder, with its keyword arguments."""
    calls: list[dict[str, Any]] = []
    real_open = av.open

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(audio.av, "open", spy)
    return calls


@pytest.mark.parametrize(("container", "codec"), ACCEPTED)
def test_browser_and_api_formats_decode_to_16k_mono(container: str, codec: str) -> None:
    decoded = decode_audio(media.encode(PHRASE, container, codec), max_seconds=30)
    assert decoded.dtype == np.float32
    assert abs(decoded.size - PHRASE.size) < 0.1 * SAMPLE_RATE
    # Lossy codecs shift and colour the signal; the speech envelope must survive.
    envelope = [
        np.abs(x[: 2 * SAMPLE_RATE]).reshape(-1, 1600).mean(axis=1) for x in (decoded, PHRASE)
    ]
    assert np.corrcoef(*envelope)[0, 1] > 0.9


def test_8k_wav_is_resampled_to_16k() -> None:
    recording = (media.DIGITS / "3_theo_0.wav").read_bytes()
    decoded = decode_audio(recording, max_seconds=30)
    with_8k_rate = int.from_bytes(recording[24:28], "little")
    assert with_8k_rate == 8000
    assert decoded.size == pytest.approx((len(recording) - 44) / 2 * 2, rel=0.02)


def test_stereo_44k_is_mixed_down_to_mono_16k() -> None:
    stereo = media.encode(PHRASE, "wav", "pcm_s16le", rate=44_100)
    decoded = decode_audio(stereo, max_seconds=30)
    assert decoded.ndim == 1
    assert abs(decoded.size - PHRASE.size) < 0.05 * SAMPLE_RATE


def test_bytes_that_are_no_recording_are_unsupported() -> None:
    with pytest.raises(UnsupportedMedia):
        decode_audio(b"hello, this is not audio at all" * 20, max_seconds=30)


def test_photo_is_not_a_recording() -> None:
    with pytest.raises(UnsupportedMedia):
        decode_audio(media.photo("obama.jpg"), max_seconds=30)


def test_truncated_recording_is_damaged_or_unsupported() -> None:
    flac = media.encode(PHRASE, "flac", "flac")
    with pytest.raises((BadInput, UnsupportedMedia, BadAudio)):
        decode_audio(flac[:60], max_seconds=30)


@pytest.mark.parametrize(
    "text", TEXT_INPUTS, ids=["sdp", "ffconcat", "hls", "m3u", "concat", "url"]
)
def test_session_descriptions_and_playlists_never_reach_ffmpeg(text: bytes, av_opens) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedMedia):
        decode_audio(text, max_seconds=30)
    assert av_opens == []


@pytest.mark.parametrize(("container", "codec"), ACCEPTED)
def test_ffmpeg_opens_the_magic_bytes_format_and_local_files_only(
    container: str, codec: str, av_opens
) -> None:  # type: ignore[no-untyped-def]
    recording = media.encode(PHRASE, container, codec)
    av_opens.clear()  # the encoder's own av.open
    decode_audio(recording, max_seconds=30)
    (call,) = av_opens
    demuxer = {"webm": "matroska"}.get(container, container)
    assert call["format"] == demuxer
    assert call["container_options"]["protocol_whitelist"] == "file"
    assert demuxer in call["container_options"]["format_whitelist"]


@pytest.mark.parametrize("magic", [b"OggS", b"fLaC", b"\x1a\x45\xdf\xa3", b"ID3\x04"])
def test_wav_behind_another_containers_magic_is_refused(magic: bytes) -> None:
    wav = media.encode(PHRASE, "wav", "pcm_s16le")
    with pytest.raises((BadInput, UnsupportedMedia)):
        decode_audio(magic + wav[len(magic) :], max_seconds=30)


def test_wav_header_before_a_session_description_is_refused(av_opens) -> None:  # type: ignore[no-untyped-def]
    wav = wav_bytes(PHRASE)
    with pytest.raises((BadInput, UnsupportedMedia)):
        decode_audio(wav[:12] + SDP, max_seconds=30)
    assert [call["format"] for call in av_opens] == ["wav"]


@pytest.mark.parametrize(("container", "codec"), ACCEPTED)
@pytest.mark.parametrize("keep", [1, 4, 12, 44, 200])
def test_truncated_headers_of_every_format_are_4xx(container: str, codec: str, keep: int) -> None:
    recording = media.encode(PHRASE, container, codec)
    with pytest.raises((BadInput, UnsupportedMedia, BadAudio)):
        decode_audio(recording[:keep], max_seconds=30)


def test_recording_longer_than_the_cap_is_refused_without_decoding_it_all() -> None:
    ten_minutes = wav_bytes(np.zeros(600 * 8_000, dtype=np.float32), sample_rate=8_000)
    with pytest.raises(BadAudio, match="longer than 30 seconds"):
        decode_audio(ten_minutes, max_seconds=30)


def test_silence_is_refused_with_advice() -> None:
    with pytest.raises(BadAudio, match="silent"):
        speech_samples(np.zeros(3 * SAMPLE_RATE, dtype=np.float32), 1.0)


@pytest.mark.parametrize("colour", ["white", "brown"])
def test_steady_noise_is_not_speech(colour: str) -> None:
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(3 * SAMPLE_RATE)
    if colour == "brown":
        noise = np.cumsum(noise)
        noise -= noise.mean()
    noise = (0.3 * noise / np.abs(noise).max()).astype(np.float32)
    with pytest.raises(BadAudio, match="no voice"):
        speech_samples(noise, 1.0)


def test_a_single_spoken_digit_is_too_little_speech() -> None:
    digit = decode_audio(media.DIGITS / "7_jackson_3.wav", max_seconds=30)
    with pytest.raises(BadAudio, match="at least 1 s"):
        speech_samples(digit, 1.0)


def test_leading_and_trailing_silence_are_trimmed() -> None:
    padded = np.concatenate([np.zeros(SAMPLE_RATE), PHRASE, np.zeros(SAMPLE_RATE)]).astype(
        np.float32
    )
    speech = speech_samples(padded, 1.0)
    assert PHRASE.size - 0.3 * SAMPLE_RATE < speech.size < PHRASE.size + 0.3 * SAMPLE_RATE


def test_speech_activity_finds_voicing_in_speech() -> None:
    activity = speech_activity(PHRASE)
    assert activity.voiced.mean() > 0.2
    assert activity.speech_seconds > 2.0


def test_digits_joined_into_a_phrase_count_as_speech() -> None:
    phrase = media.digits_phrase("george", "4725")
    assert speech_samples(phrase, 1.0).size > SAMPLE_RATE
