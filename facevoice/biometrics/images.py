"""Decoding photos into RGB arrays, safely."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facevoice.errors import BadInput, TooLarge, UnsupportedMedia

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
# What Pillow raises on a file whose header it knows but whose data is broken.
DAMAGED = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)
DAMAGED_MESSAGE = "The picture is damaged or incomplete. Take it again."

ImageSource = str | Path | bytes | BinaryIO


def load_image(source: ImageSource, max_pixels: int) -> np.ndarray:
    """Decode a JPEG, PNG or WebP into an upright RGB ``uint8`` array of shape (H, W, 3).

    EXIF orientation is applied and any alpha channel dropped. Raises ``UnsupportedMedia``
    for other data, ``TooLarge`` past ``max_pixels`` (checked before decoding, so an image
    bomb costs nothing), and ``BadInput`` for a damaged or truncated file.
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            # Our own pixel cap below is stricter than Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source)
    except Image.DecompressionBombError:
        raise TooLarge(
            f"The picture has too many pixels; at most {max_pixels:,} are accepted."
        ) from None
    except (UnidentifiedImageError, ValueError):
        raise UnsupportedMedia("This is not a picture we can read: send a JPEG or PNG.") from None
    except DAMAGED:
        raise BadInput(DAMAGED_MESSAGE) from None
    with image:
        if image.format not in ACCEPTED_FORMATS:
            raise UnsupportedMedia(
                f"{image.format} pictures are not supported: send a JPEG or PNG."
            )
        width, height = image.size
        if width * height > max_pixels:
            raise TooLarge(
                f"The picture has {width}×{height} pixels; at most {max_pixels:,} are accepted."
            )
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
