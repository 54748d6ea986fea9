"""Test media built from ../shared/data: photos, voice phrases, and encoded recordings."""

from __future__ import annotations

import base64
import functools
import io
import subprocess
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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


# Face liveness material: frames of the video clip, and photos presented to a camera.

CLIP = FACES / "short_hamilton_clip.mp4"
FRAME_SIZE = (640, 480)  # width, height of a webcam frame


def clip_frames(indices: list[int], mirror: bool = False) -> list[np.ndarray]:
    """RGB frames of the clip at the given indices (in that order), optionally mirrored."""
    wanted = set(indices)
    found: dict[int, np.ndarray] = {}
    with av.open(str(CLIP)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number in wanted:
                rgb = frame.to_ndarray(format="rgb24")
                found[number] = np.ascontiguousarray(rgb[:, ::-1]) if mirror else rgb
            if number >= max(wanted):
                break
    return [found[i] for i in indices]


def webcam_photo(name: str) -> Image.Image:
    """A photo under faces/ fitted into a 640×480 frame on a grey background."""
    with Image.open(FACES / name) as image:
        photo = image.convert("RGB")
    photo.thumbnail(FRAME_SIZE, Image.Resampling.LANCZOS)
    frame = Image.new("RGB", FRAME_SIZE, (128, 128, 128))
    frame.paste(photo, ((FRAME_SIZE[0] - photo.width) // 2, (FRAME_SIZE[1] - photo.height) // 2))
    return frame


def photo_burst(name: str, count: int = 8, moved: bool = False, seed: int = 0) -> list[np.ndarray]:
    """A photo held before the camera for ``count`` frames: still, or (``moved``) shifted by up
    to 24 px, scaled by up to ±8 % and tilted by up to ±6° from frame to frame."""
    frame = webcam_photo(name)
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        if not moved:
            frames.append(np.asarray(frame))
            continue
        scale = rng.uniform(0.92, 1.08)
        size = (round(FRAME_SIZE[0] * scale), round(FRAME_SIZE[1] * scale))
        image = frame.resize(size, Image.Resampling.BILINEAR)
        image = image.rotate(rng.uniform(-6, 6), Image.Resampling.BILINEAR, fillcolor=(128,) * 3)
        left, top = (np.subtract(FRAME_SIZE, size) // 2 + rng.integers(-24, 25, size=2)).tolist()
        canvas = Image.new("RGB", FRAME_SIZE, (128, 128, 128))
        canvas.paste(image, (left, top))
        frames.append(np.asarray(canvas))
    return frames


def _perspective_coefficients(corners_out: np.ndarray, corners_in: np.ndarray) -> tuple[float, ...]:
    """PIL's PERSPECTIVE coefficients mapping output pixels to input pixels."""
    rows = []
    for (x, y), (u, v) in zip(corners_out, corners_in, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return tuple(np.linalg.solve(np.array(rows), corners_in.reshape(-1)).tolist())


def turned_photo_frame(frame: Image.Image, degrees: float) -> np.ndarray:
    """A flat photo turned by ``degrees`` about its vertical axis, seen in perspective."""
    width, height = frame.size
    focal = 1.5 * width
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    centred = corners - (width / 2, height / 2)
    angle = np.radians(degrees)
    perspective = focal / (focal + centred[:, 0] * np.sin(angle))
    flat = np.stack([centred[:, 0] * np.cos(angle), centred[:, 1]], axis=1)
    projected = flat * perspective[:, None] + (width / 2, height / 2)
    coefficients = _perspective_coefficients(projected, corners)
    turned = frame.transform(
        frame.size,
        Image.Transform.PERSPECTIVE,
        coefficients,
        Image.Resampling.BILINEAR,
        fillcolor=(128, 128, 128),
    )
    return np.asarray(turned)


def turned_photo_burst(name: str, count: int = 8, max_degrees: float = 45.0) -> list[np.ndarray]:
    """A printed photo turned about its vertical axis to ``max_degrees`` and back, as an
    attacker would turn it to answer a head-turn challenge."""
    frame = webcam_photo(name)
    angles = max_degrees * np.sin(np.linspace(0, np.pi, count))
    return [turned_photo_frame(frame, float(a)) for a in angles]


def espeak(text: str, voice: str = "en-us+m3", words_per_minute: int = 150) -> np.ndarray:
    """``text`` spoken by Debian's espeak-ng synthesiser, as 16 kHz samples."""
    result = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        check=True,
        capture_output=True,
    )
    return decode_audio(result.stdout, max_seconds=60)


def spoken_digits(
    speaker: str, digits: str, takes: list[int], pauses: list[float], lead_seconds: float = 0.2
) -> np.ndarray:
    """Digits of one FSDD speaker, one given take each, joined by the given pauses (seconds)
    after ``lead_seconds`` of silence: a log-in phrase read from the page."""
    parts = [np.zeros(int(lead_seconds * SAMPLE_RATE), dtype=np.float32)]
    for digit, take, pause in zip(digits, takes, pauses, strict=True):
        parts.append(decode_audio(DIGITS / f"{digit}_{speaker}_{take}.wav", 60))
        parts.append(np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32))
    return np.concatenate(parts)


# The clip's person (the man on stage) as a log-in with both challenges on sees them.
TURN_TO_THE_RIGHT = list(range(96, 160, 8))  # frames where they turn to their right and back
FRONTAL_FRAME = 176
PAUSES = [0.15, 0.1, 0.2, 0.12, 0.18]  # between the digits of a log-in reading


def jpeg(rgb: np.ndarray) -> bytes:
    """An RGB frame as JPEG bytes, as the page sends it."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# A one-capture log-in (docs/liveness.md): the clip's person turning to their right and
# back, then facing the camera, filmed at 15 frames per second (the person leaves the
# picture after frame 210).
CAPTURE_FRAMES = list(range(90, 183, 2))


@functools.cache
def capture_frames(mirror: bool = False) -> tuple[bytes, ...]:
    """The frames of a one-capture log-in, as the page sends them."""
    return tuple(jpeg(f) for f in clip_frames(CAPTURE_FRAMES, mirror=mirror))


def frame_times_over(count: int, audio: bytes) -> list[int]:
    """``count`` frame times spread evenly over a recording, in ms from its start."""
    last_ms = 1000 * len(decode_audio(audio, 60)) / SAMPLE_RATE - 50
    return [round(t) for t in np.linspace(0, last_ms, count)]


def jackson_reading(digits: str, first_take: int = 30) -> bytes:
    """FSDD speaker jackson reading digits one after the other, as WAV bytes."""
    takes = list(range(first_take, first_take + len(digits)))
    return wav_bytes(spoken_digits("jackson", digits, takes, PAUSES[: len(digits)]))


def jackson_phrase(index: int) -> bytes:
    """One of jackson's sign-up phrases: four digits of early takes."""
    digits = ["1358", "2479", "3816"][index]
    return wav_bytes(digits_phrase("jackson", digits, take=index * 4))


# Degraded captures, for the quality checks (tests/test_quality.py, bench/quality_margins.py).
# Each takes a good sample and the face box (left, top, right, bottom) where it matters.

Box = tuple[int, int, int, int]


def darkened(rgb: np.ndarray, gain: float = 0.35) -> np.ndarray:
    """The photo in a dim room: every pixel at ``gain`` of its level."""
    return (rgb.astype(np.float32) * gain).astype(np.uint8)


def blurred(rgb: np.ndarray, box: Box, blur: float = 1 / 30) -> np.ndarray:
    """Out of focus: a Gaussian blur of ``blur`` face widths."""
    width = box[2] - box[0]
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(blur * width)))


def downscaled(rgb: np.ndarray, factor: float = 0.25) -> np.ndarray:
    """Far from the camera (or a low-resolution one): both sides scaled by ``factor``."""
    image = Image.fromarray(rgb)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def side_lit(rgb: np.ndarray, box: Box, shadow: float = 0.85) -> np.ndarray:
    """A lamp to one side: light falls off linearly by ``shadow`` across the face."""
    left, _, right, _ = box
    across = np.clip((np.arange(rgb.shape[1]) - left) / max(1, right - left), 0.0, 1.0)
    gain = 1.0 - shadow * across
    return (rgb.astype(np.float32) * gain[None, :, None]).astype(np.uint8)


def eyes_covered(rgb: np.ndarray, eyes: np.ndarray) -> np.ndarray:
    """Sunglasses: a flat dark disc over each eye (``eyes``: two (x, y) centres)."""
    covered = Image.fromarray(rgb)
    draw = ImageDraw.Draw(covered)
    radius = 0.3 * float(np.linalg.norm(eyes[0] - eyes[1]))
    for x, y in eyes:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(15, 15, 15))
    return np.asarray(covered)


def clipped(samples: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """Too close to the microphone: peaks driven ``gain`` times past full scale."""
    peak = max(float(np.abs(samples).max()), 1e-6)
    return np.clip(samples * (gain / peak), -1.0, 1.0).astype(np.float32)


def made_quiet(samples: np.ndarray, decibels: float = 40.0) -> np.ndarray:
    """Far from the microphone: ``decibels`` quieter."""
    return (samples * 10 ** (-decibels / 20)).astype(np.float32)


def noisy(samples: np.ndarray, snr_db: float = 0.0, seed: int = 0) -> np.ndarray:
    """A loud room: white noise at ``snr_db`` under the recording's own level."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    noise = np.random.default_rng(seed).standard_normal(samples.size) * rms * 10 ** (-snr_db / 20)
    return np.clip(samples + noise, -1.0, 1.0).astype(np.float32)


# The clip's own sound, for the lip–audio sync (tests/test_lipsync.py, bench/lip_sync.py).


# The clip's soundtrack runs ahead of its pictures: what the mouth says at a frame is heard
# 1.38 s earlier than the file's own timing puts that frame (its edit lists, which PyAV
# applies). Measured by bench/lip_sync.py's delay scan: the mouth's area follows the sound
# best at that delay with every measure tried (correlation 0.45 against at most 0.28 at the
# file's own timing), and the mouth is closed in the sound's pauses there, not at 0.
CLIP_SOUND_LEAD_MS = 1380


@functools.cache
def clip_sound() -> tuple[np.ndarray, dict[int, int]]:
    """The clip's soundtrack as 16 kHz mono samples, and each video frame's time in ms on
    the soundtrack's clock (from its first sample), by frame index, with the soundtrack's
    lead over the pictures taken out (``CLIP_SOUND_LEAD_MS``)."""
    with av.open(str(CLIP)) as container:
        audio = container.streams.audio[0]
        audio_start = float(audio.start_time * audio.time_base)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        parts = [
            chunk.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for chunk in resampler.resample(frame)
        ]
        parts += [chunk.to_ndarray().reshape(-1) for chunk in resampler.resample(None)]
    with av.open(str(CLIP)) as container:
        times = {
            number: round(1000 * (float(frame.time) - audio_start)) - CLIP_SOUND_LEAD_MS
            for number, frame in enumerate(container.decode(video=0))
        }
    return np.concatenate(parts).astype(np.float32), times


def capture_frame_times(shift_ms: int = 0) -> list[int]:
    """The times of ``CAPTURE_FRAMES`` on the clip's soundtrack's clock, ``shift_ms`` later."""
    _, times = clip_sound()
    return [times[i] + shift_ms for i in CAPTURE_FRAMES]


def dubbed_clip_sound(speaker: str) -> np.ndarray:
    """A soundtrack the clip's length holding another speaker's LibriSpeech utterance."""
    sound = clip_sound()[0]
    dubbed = np.zeros_like(sound)
    speech = utterance(speaker)[: sound.size]
    dubbed[: speech.size] = speech
    return dubbed


# Prints bent on a cylinder, for the 3-D structure check (tests/test_structure.py,
# bench/structure_attacks.py).


def _bent_print_points(
    u: np.ndarray, v: np.ndarray, radius: float, axis: str, degrees: float, focal: float
) -> tuple[np.ndarray, np.ndarray]:
    """Where the print's centred pixel (u, v) shows in the frame (centred): the print bent on
    a cylinder of ``radius`` pixels (its edges away from the camera; ``axis`` "vertical":
    bent across its width, "horizontal": across its height), turned by ``degrees`` about
    the vertical axis, seen in perspective."""
    if axis == "vertical":
        x, y, z = radius * np.sin(u / radius), v, radius * (1 - np.cos(u / radius))
    else:
        x, y, z = u, radius * np.sin(v / radius), radius * (1 - np.cos(v / radius))
    angle = np.radians(degrees)
    turned_x = x * np.cos(angle) + z * np.sin(angle)
    depth = focal - x * np.sin(angle) + z * np.cos(angle)
    return focal * turned_x / depth, focal * y / depth


def bent_photo_frame(frame: Image.Image, degrees: float, radius: float, axis: str) -> np.ndarray:
    """A print of ``frame`` bent on a cylinder and turned (see ``_bent_print_points``): each
    frame pixel is traced back to the print by Gauss-Newton steps, then sampled bilinearly."""
    width, height = frame.size
    focal = 1.5 * width
    source = np.asarray(frame.convert("RGB"), dtype=np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    x, y = x - width / 2, y - height / 2
    u, v = x.copy(), y.copy()
    step = 0.5
    for _ in range(8):
        fx, fy = _bent_print_points(u, v, radius, axis, degrees, focal)
        ux, uy = _bent_print_points(u + step, v, radius, axis, degrees, focal)
        vx, vy = _bent_print_points(u, v + step, radius, axis, degrees, focal)
        a, b = (ux - fx) / step, (vx - fx) / step
        c, d = (uy - fy) / step, (vy - fy) / step
        ex, ey = x - fx, y - fy
        det = a * d - b * c
        det = np.where(np.abs(det) < 1e-9, 1e-9, det)
        u += (d * ex - b * ey) / det
        v += (a * ey - c * ex) / det
    px, py = u + width / 2, v + height / 2
    inside = (px >= 0) & (px <= width - 1) & (py >= 0) & (py <= height - 1)
    px, py = np.clip(px, 0, width - 1.001), np.clip(py, 0, height - 1.001)
    x0, y0 = px.astype(np.int64), py.astype(np.int64)
    fx, fy = (px - x0)[..., None], (py - y0)[..., None]
    top = source[y0, x0] * (1 - fx) + source[y0, x0 + 1] * fx
    bottom = source[y0 + 1, x0] * (1 - fx) + source[y0 + 1, x0 + 1] * fx
    out = top * (1 - fy) + bottom * fy
    out[~inside] = 128
    return out.astype(np.uint8)


def bent_photo_burst(
    name: str, radius: float, axis: str, max_degrees: float = 35.0, count: int = 12
) -> list[np.ndarray]:
    """A print of a photo under faces/ bent on a cylinder, turned to ``max_degrees`` and back."""
    frame = webcam_photo(name)
    angles = max_degrees * np.sin(np.linspace(0, np.pi, count))
    return [bent_photo_frame(frame, float(a), radius, axis) for a in angles]
