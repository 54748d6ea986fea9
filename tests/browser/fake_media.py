"""Files for Chromium's fake camera (Y4M) and fake microphone (WAV), made from ../shared/data.

Chromium plays them through ``--use-file-for-fake-video-capture`` and
``--use-file-for-fake-audio-capture`` (see ../shared/BROWSER-TESTING.md for the traps: the
video must be 4:2:0 with an even size and the page's 4:3 aspect; the audio 16-bit PCM).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dlib
import numpy as np
from PIL import Image

from facevoice.biometrics.audio import SAMPLE_RATE
from tests import media

VIDEO_WIDTH, VIDEO_HEIGHT = 640, 480  # what the page asks the camera for
VIDEO_FPS = 15
FACE_SHARE_OF_HEIGHT = 0.42  # how tall the face box is in the frame, as at a webcam
MIC_RATE = 48_000


def webcam_frame(photo: Path) -> Image.Image:
    """A 640×480 frame of a portrait photo, cropped around its face as a webcam would show it."""
    image = Image.open(photo).convert("RGB")
    faces = dlib.get_frontal_face_detector()(np.asarray(image), 1)
    assert len(faces) == 1, f"{photo.name} should show exactly one face, found {len(faces)}"
    face = faces[0]
    height = min(face.height() / FACE_SHARE_OF_HEIGHT, image.height, image.width * 3 / 4)
    width = height * 4 / 3
    center_x = (face.left() + face.right()) / 2
    center_y = (face.top() + face.bottom()) / 2 + 0.05 * height  # eyes a little above centre
    left = min(max(center_x - width / 2, 0), image.width - width)
    top = min(max(center_y - height / 2, 0), image.height - height)
    box = (round(left), round(top), round(left + width), round(top + height))
    return image.crop(box).resize((VIDEO_WIDTH, VIDEO_HEIGHT), Image.Resampling.LANCZOS)


def empty_room_frame(seed: int = 0) -> Image.Image:
    """A 640×480 frame without any face: a wall with a lamp-lit gradient and some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:VIDEO_HEIGHT, 0:VIDEO_WIDTH].astype(np.float32)
    light = 1.0 - 0.5 * np.hypot(x - 450, y - 120) / np.hypot(VIDEO_WIDTH, VIDEO_HEIGHT)
    base = np.array([196, 184, 160], dtype=np.float32)
    pixels = light[..., None] * base + rng.normal(0, 4, (VIDEO_HEIGHT, VIDEO_WIDTH, 3))
    pixels[330:, :] = light[330:, :, None] * np.array([120, 92, 70]) + 6  # a table top
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_y4m(frame: Image.Image, path: Path, frames: int = 2) -> Path:
    """Write a still picture as a Y4M video of a few frames."""
    return write_y4m_video([(frame, frames)], path, VIDEO_FPS)


def y4m_frame(frame: Image.Image) -> bytes:
    """One picture as the planes of a Y4M frame (4:2:0, BT.601 limited range)."""
    rgb = np.asarray(frame.convert("RGB"), dtype=np.float32) / 255.0
    height, width = rgb.shape[:2]
    assert width % 2 == 0 and height % 2 == 0, "Y4M 4:2:0 needs an even width and height"
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    blue = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    red = 128 + 112.0 * r - 93.786 * g - 18.214 * b

    def subsample(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = [luma, subsample(blue), subsample(red)]
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m_video(pictures: list[tuple[Image.Image, int]], path: Path, fps: int) -> Path:
    """Write a Y4M video of pictures, each held for a number of frames."""
    width, height = pictures[0][0].size
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for picture, repeats in pictures:
            out.write((b"FRAME\n" + y4m_frame(picture)) * repeats)
    return path


def write_voice_wav(speaker: str, path: Path) -> Path:
    """Write a LibriSpeech utterance as a 48 kHz 16-bit mono WAV (the fake microphone loops it)."""
    samples = media.utterance(speaker)
    path.write_bytes(media.encode(samples, "wav", "pcm_s16le", rate=MIC_RATE))
    return path


# --- The clip's person (short_hamilton_clip.mp4, 640×360 at 29.97 frames a second).

# In frames 96-152 the person faces the camera, turns to their own right (about −44° of yaw
# at frame 134) and is back facing it by frame 148: see docs/liveness.md.
CLIP_FRONTAL_FRAME = 96
CLIP_TURN_END_FRAME = 152
CLIP_FPS = 30_000 / 1001
# A 4:3 part of the clip's 16:9 frames that holds the face all through the turn (the face
# moves within x 145-316, y 17-199), as a webcam a little closer to the person would show it.
CLIP_CROP = (40, 0, 440, 300)
# The head-turn video: the person faces the camera this long after the page opens it, then
# turns (1.9 s), then faces it again until well after the burst. The page starts the burst
# about 3.1 s after it opens the camera (3-2-1 countdown; test_challenges.py measures it).
# Measured in the browser, the burst passes when it starts from 1.9 s before the turn to at
# least 0.7 s after it (the wrong-side test from 1.7 s before), so this leaves about 1 s for
# the video to fall behind the page (a busy machine may deliver frames late) and 1.4 s for
# the page's timers to run late.
TURN_STARTS_AFTER_SECONDS = 3.8
TURN_HOLD_AFTER_SECONDS = 6.0

# Camera names tests can ask for (besides photos of faces/ and NO_FACE).
CLIP_STILL = "clip-still"  # the clip's person facing the camera, not moving
CLIP_TURNING_RIGHT = "clip-turning-right"  # ... turning to their right, then back
CLIP_TURNING_LEFT = "clip-turning-left"  # the same video mirrored: a turn to their left


def clip_frames(first: int, last: int, mirror: bool = False) -> list[Image.Image]:
    """Frames ``first`` to ``last`` of the clip, cropped to 4:3 and scaled to 640×480."""
    frames = media.clip_frames(list(range(first, last + 1)))
    pictures = [
        Image.fromarray(rgb)
        .crop(CLIP_CROP)
        .resize((VIDEO_WIDTH, VIDEO_HEIGHT), Image.Resampling.LANCZOS)
        for rgb in frames
    ]
    if mirror:
        return [picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for picture in pictures]
    return pictures


def write_head_turn_y4m(path: Path, mirror: bool = False) -> Path:
    """The clip's person facing the camera for TURN_STARTS_AFTER_SECONDS, turning to their
    right (``mirror``: left) and back at the clip's own pace (frames 96-152), then facing it
    for TURN_HOLD_AFTER_SECONDS. Chromium plays it from the start when the page opens the
    camera (and again from the start once it ends)."""
    turn = clip_frames(CLIP_FRONTAL_FRAME, CLIP_TURN_END_FRAME, mirror)
    count = round(len(turn) / CLIP_FPS * VIDEO_FPS)
    pictures = [(turn[0], round(TURN_STARTS_AFTER_SECONDS * VIDEO_FPS))]
    pictures += [(turn[round(i * CLIP_FPS / VIDEO_FPS)], 1) for i in range(count)]
    pictures.append((turn[-1], round(TURN_HOLD_AFTER_SECONDS * VIDEO_FPS)))
    return write_y4m_video(pictures, path, VIDEO_FPS)


def write_still_clip_y4m(path: Path) -> Path:
    """The clip's person facing the camera, still (frame 96)."""
    [frame] = clip_frames(CLIP_FRONTAL_FRAME, CLIP_FRONTAL_FRAME)
    return write_y4m(frame, path)


CAMERAS: dict[str, Callable[[Path], Path]] = {
    CLIP_STILL: write_still_clip_y4m,
    CLIP_TURNING_RIGHT: write_head_turn_y4m,
    CLIP_TURNING_LEFT: lambda path: write_head_turn_y4m(path, mirror=True),
}


# --- FSDD's jackson saying digits (8 kHz recordings of single digits).

DIGITS_SPEAKER = "jackson"
NO_LOOP = "%noloop"  # Chromium plays a microphone file with this suffix once, not in a loop
JACKSON_READING = "jackson-reading"  # 15 s of jackson saying digits, in a loop: a sign-up
SAYS = "jackson-says-"
# The log-in phrase: silence while the page starts recording, jackson saying the digits
# (takes 30-34, held out when the spoken check's threshold was chosen) with short pauses,
# then silence: the fake microphone repeats its last 10 ms once the file ends.
LEAD_SECONDS = 0.5
PAUSE_SECONDS = 0.15
FIRST_TAKE = 30
TAIL_SECONDS = 8.0


# The log-in capture opens the camera and the microphone together; after the 3-2-1
# countdown it films the head turn (3.5 s), then the digits: jackson starts them this long
# after the page opens the microphone, a second into that part (the page starts the capture
# about 3.1 s after opening the devices: tests/browser/test_challenges.py).
CAPTURE_DIGITS_AFTER_SECONDS = 7.6
LATE = "-late"


def jackson_says(digits: str, late: bool = False) -> str:
    """The microphone name of jackson saying ``digits`` once, from when the page opens it
    (``late``: when the log-in capture asks for them)."""
    return f"{SAYS}{digits}{LATE if late else ''}{NO_LOOP}"


def digits_samples(
    digits: str, first_take: int = FIRST_TAKE, lead_seconds: float = LEAD_SECONDS
) -> np.ndarray:
    """jackson saying ``digits`` (one take each, from ``first_take`` on), between silences."""
    takes = list(range(first_take, first_take + len(digits)))
    speech = media.spoken_digits(
        DIGITS_SPEAKER, digits, takes, [PAUSE_SECONDS] * len(digits), lead_seconds
    )
    return np.concatenate([speech, np.zeros(round(TAIL_SECONDS * SAMPLE_RATE), np.float32)])


def reading_samples() -> np.ndarray:
    """jackson saying 0-9 twice (takes 0-19), for three sign-up phrases and more."""
    return np.concatenate(
        [
            media.spoken_digits(DIGITS_SPEAKER, "0123456789", takes, [0.25] * 10, 0.0)
            for takes in (list(range(0, 10)), list(range(10, 20)))
        ]
    )


SILENT = "silent"  # a microphone that is connected and allowed, but hears nothing


def write_microphone(name: str, path: Path) -> Path:
    """Write the WAV of a microphone: JACKSON_READING, ``jackson_says(digits, late)`` (without
    its NO_LOOP suffix), SILENT, or else a LibriSpeech speaker's utterance."""
    if name == JACKSON_READING:
        samples = reading_samples()
    elif name == SILENT:
        samples = np.zeros(round(TAIL_SECONDS * SAMPLE_RATE), np.float32)
    elif name.startswith(SAYS) and name[len(SAYS) :].removesuffix(LATE).isdigit():
        digits = name[len(SAYS) :]
        late = digits.endswith(LATE)
        lead = CAPTURE_DIGITS_AFTER_SECONDS if late else LEAD_SECONDS
        samples = digits_samples(digits.removesuffix(LATE), lead_seconds=lead)
    else:
        return write_voice_wav(name, path)
    path.write_bytes(media.encode(samples, "wav", "pcm_s16le", rate=MIC_RATE))
    return path
