"""Files for Chromium's fake camera (Y4M) and fake microphone (WAV), made from ../shared/data.

Chromium plays them through ``--use-file-for-fake-video-capture`` and
``--use-file-for-fake-audio-capture`` (see ../shared/BROWSER-TESTING.md for the traps: the
video must be 4:2:0 with an even size and the page's 4:3 aspect; the audio 16-bit PCM).
"""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
from PIL import Image

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
    """Write a still picture as a Y4M video (4:2:0, BT.601 limited range) of a few frames."""
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
    data = b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)
    header = f"YUV4MPEG2 W{width} H{height} F{VIDEO_FPS}:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + (b"FRAME\n" + data) * frames)
    return path


def write_voice_wav(speaker: str, path: Path) -> Path:
    """Write a LibriSpeech utterance as a 48 kHz 16-bit mono WAV (the fake microphone loops it)."""
    samples = media.utterance(speaker)
    path.write_bytes(media.encode(samples, "wav", "pcm_s16le", rate=MIC_RATE))
    return path
