"""Decoding photos: formats, orientation, alpha, size caps and broken files."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile

from facevoice.biometrics import images
from facevoice.biometrics.images import image_size, load_image, scaled_copy
from facevoice.errors import BadInput, TooLarge, UnsupportedMedia
from tests import media

CAP = 40_000_000
OTHER_FORMATS = ["GIF", "BMP", "TIFF", "ICO", "PPM", "TGA", "PCX", "JPEG2000", "DDS", "SGI"]


def encoded(image: Image.Image, fmt: str, **options) -> bytes:  # type: ignore[no-untyped-def]
    """An image saved to bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def pillow_opens(monkeypatch) -> list[Any]:  # type: ignore[no-untyped-def]
    """The ``formats`` of every ``Image.open`` the decoder makes."""
    calls: list[Any] = []
    real_open = Image.open

    def spy(fp: Any, mode: str = "r", formats: Any = None) -> Image.Image:
        calls.append(formats)
        return real_open(fp, mode, formats)

    monkeypatch.setattr(images.Image, "open", spy)
    return calls


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


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_other_formats_are_refused_before_pillow_reads_them(fmt: str, pillow_opens) -> None:  # type: ignore[no-untyped-def]
    picture = encoded(Image.new("RGB", (64, 64), (200, 100, 50)), fmt)
    with pytest.raises(UnsupportedMedia):
        load_image(picture, CAP)
    assert pillow_opens == []


@pytest.mark.parametrize(
    ("picture", "fmt"),
    [
        (encoded(Image.new("RGB", (32, 32)), "JPEG"), "JPEG"),
        (encoded(Image.new("RGB", (32, 32)), "PNG"), "PNG"),
        (encoded(Image.new("RGB", (32, 32)), "WEBP"), "WEBP"),
    ],
    ids=["JPEG", "PNG", "WEBP"],
)
def test_only_the_plugin_of_the_magic_bytes_reads_a_picture(
    picture: bytes, fmt: str, pillow_opens
) -> None:  # type: ignore[no-untyped-def]
    assert load_image(picture, CAP).shape == (32, 32, 3)
    assert pillow_opens == [[fmt]]


def test_png_magic_before_a_jpeg_body_is_damaged() -> None:
    jpeg = media.photo("obama.jpg")
    with pytest.raises(BadInput, match="damaged"):
        load_image(b"\x89PNG\r\n\x1a\n" + jpeg, CAP)


def test_jpeg_magic_before_a_png_body_is_refused() -> None:
    png = encoded(Image.new("RGB", (32, 32)), "PNG")
    with pytest.raises((BadInput, UnsupportedMedia)):
        load_image(b"\xff\xd8\xff" + png, CAP)


@pytest.mark.parametrize("keep", [2, 3, 8, 12, 30])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_headers_of_every_format_are_4xx(fmt: str, keep: int) -> None:
    picture = encoded(Image.new("RGB", (32, 32), (1, 2, 3)), fmt)
    with pytest.raises((BadInput, UnsupportedMedia)):
        load_image(picture[:keep], CAP)


def test_image_size_reads_the_header_without_decoding(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    picture = encoded(Image.new("RGB", (1921, 1080)), "PNG")

    def no_decoding(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the picture was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert image_size(picture, CAP) == (1921, 1080)
    with pytest.raises(AssertionError, match="decoded"):
        load_image(picture, CAP)
