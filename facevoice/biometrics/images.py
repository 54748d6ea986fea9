"""Decoding photos into RGB arrays, safely.

The format is recognised from the file's first bytes, and only Pillow's plugin for that
format reads it: no other of Pillow's many formats (GIF, TIFF, BMP, EPS...) is ever tried.
Photos are decoded in memory: nothing is written to disk.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facevoice.errors import BadInput, TooLarge, UnsupportedMedia

# Pillow's formats a plugin may report for each accepted kind (a JPEG with a second image
# for a phone's depth map opens as MPO, whose first image is the photo).
ACCEPTED_FORMATS = {"JPEG": {"JPEG", "MPO"}, "PNG": {"PNG"}, "WEBP": {"WEBP"}}
HEADER_BYTES = 12
# What Pillow raises on a file whose header it knows but whose data is broken.
DAMAGED = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)
DAMAGED_MESSAGE = "The picture is damaged or incomplete. Take it again."
UNSUPPORTED_MESSAGE = "This is not a picture we can read: send a JPEG or PNG."

ImageSource = str | Path | bytes | BinaryIO


def sniff_image_format(header: bytes) -> str | None:
    """The format a picture's first bytes announce (a key of ``ACCEPTED_FORMATS``), or None."""
    if header[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if header[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "WEBP"
    return None


@contextmanager
def open_image(source: ImageSource, max_pixels: int) -> Iterator[Image.Image]:
    """Open a JPEG, PNG or WebP, reading only its header: nothing is decoded yet.

    Raises ``UnsupportedMedia`` for data of any other kind, ``TooLarge`` past
    ``max_pixels``, and ``BadInput`` for a damaged header.
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    elif isinstance(source, str | Path):
        source = io.BytesIO(Path(source).read_bytes())
    start = source.tell()
    kind = sniff_image_format(source.read(HEADER_BYTES))
    source.seek(start)
    if kind is None:
        raise UnsupportedMedia(UNSUPPORTED_MESSAGE)
    try:
        with warnings.catch_warnings():
            # Our own pixel cap below is stricter than Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source, formats=[kind])
    except Image.DecompressionBombError:
        raise TooLarge(
            f"The picture has too many pixels; at most {max_pixels:,} are accepted."
        ) from None
    except (UnidentifiedImageError, *DAMAGED):
        # The first bytes said this format, but its own plugin cannot read the header.
        raise BadInput(DAMAGED_MESSAGE) from None
    with image:
        if image.format not in ACCEPTED_FORMATS[kind]:
            raise UnsupportedMedia(UNSUPPORTED_MESSAGE)
        width, height = image.size
        if width * height > max_pixels:
            raise TooLarge(
                f"The picture has {width}×{height} pixels; at most {max_pixels:,} are accepted."
            )
        yield image


def image_size(source: ImageSource, max_pixels: int) -> tuple[int, int]:
    """(width, height) of a picture from its header alone, with the checks of ``open_image``."""
    with open_image(source, max_pixels) as image:
        return image.size


def load_image(source: ImageSource, max_pixels: int) -> np.ndarray:
    """Decode a JPEG, PNG or WebP into an upright RGB ``uint8`` array of shape (H, W, 3).

    EXIF orientation is applied and any alpha channel dropped. Raises ``UnsupportedMedia``
    for other data (told by its first bytes), ``TooLarge`` past ``max_pixels`` (checked
    before decoding, so an image bomb costs nothing), and ``BadInput`` for a damaged or
    truncated file.
    """
    with open_image(source, max_pixels) as image:
        try:
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
            return np.asarray(rgb)
        except (*DAMAGED, Image.DecompressionBombError):
            raise BadInput(DAMAGED_MESSAGE) from None


def scaled_copy(rgb: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """Return ``rgb`` shrunk to ``width`` pixels wide (never enlarged) and the scale used."""
    height_px, width_px = rgb.shape[:2]
    if width_px <= width:
        return rgb, 1.0
    scale = width / width_px
    size = (width, max(1, round(height_px * scale)))
    small = Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(small), scale
