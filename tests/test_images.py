"""Decoding photos: formats, orientation, alpha, size caps and broken files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facevoice.biometrics.images import load_image, scaled_copy
from facevoice.errors import BadInput, TooLarge, UnsupportedMedia
from tests import media

CAP = 40_000_000


def encoded(image: Image.Image, fmt: str, **options) -> bytes:  # type: ignore[no-untyped-def]
    """An image saved to bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_jpeg_decodes_to_rgb_uint8() -> None:
    rgb = load_image(media.photo("obama.jpg"), CAP)
    assert rgb.dtype == np.uint8
    assert rgb.shape == (1137, 910, 3)


def test_alpha_channel_is_dropped() -> None:
    assert load_image(media.photo("32bit.png"), CAP).shape[2] == 3


def test_exif_orientation_is_applied() -> None:
    upright = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    rotated = load_image(encoded(upright, "JPEG", exif=exif), CAP)
    assert rotated.shape[:2] == (40, 20)


def test_image_over_the_pixel_cap_is_refused() -> None:
    with pytest.raises(TooLarge, match="pixels"):
        load_image(encoded(Image.new("1", (8_000, 6_000)), "PNG"), CAP)


def test_text_is_not_a_picture() -> None:
    with pytest.raises(UnsupportedMedia):
        load_image(b"definitely not a picture", CAP)


def test_gif_is_not_accepted() -> None:
    with pytest.raises(UnsupportedMedia, match="JPEG or PNG"):
        load_image(encoded(Image.new("RGB", (20, 20)), "GIF"), CAP)


@pytest.mark.parametrize("keep", [12, 400, 5_000])
def test_truncated_jpeg_is_damaged(keep: int) -> None:
    with pytest.raises(BadInput, match="damaged"):
        load_image(media.photo("obama.jpg")[:keep], CAP)


def test_scaled_copy_shrinks_to_the_width_and_reports_the_scale() -> None:
    rgb = np.zeros((480, 1280, 3), dtype=np.uint8)
    small, scale = scaled_copy(rgb, 640)
    assert small.shape == (240, 640, 3)
    assert scale == 0.5


def test_scaled_copy_never_enlarges() -> None:
    rgb = np.zeros((100, 200, 3), dtype=np.uint8)
    small, scale = scaled_copy(rgb, 640)
    assert small is rgb and scale == 1.0
