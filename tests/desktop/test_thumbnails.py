"""Thumbnails decode untrusted files through the engine: its caps hold, and big JPEGs decode reduced."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from desktop.thumbnails import decode_for_display, decode_reduced, load_scaled
from engine.decode import DecodeError


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``: what a hostile file does."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_an_image_over_the_engines_pixel_cap_is_refused_before_decoding(tmp_path, qapp):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(12_000, 10_000))  # 120 MP, over the 100 MP cap
    with pytest.raises(DecodeError, match="safety limit"):
        decode_for_display(str(path), 44)
    assert load_scaled(str(path), 44) is None


def test_a_big_jpeg_decodes_reduced_in_the_decoder(tmp_path, qapp):
    width, height = 4000, 3000
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (height // 50, width // 50, 3), dtype=np.uint8)
    path = tmp_path / "camera.jpg"
    Image.fromarray(small).resize((width, height)).save(path, quality=90)
    assert decode_reduced(str(path), 88).size == (width // 8, height // 8)  # DCT scaling: never 12 MP
    assert decode_reduced(str(path), 1600).size == (width // 2, height // 2)  # the detail pane's side
    thumbnail = load_scaled(str(path), 88)
    assert (thumbnail.width(), thumbnail.height()) == (88, 66)


def display_p3_profile() -> bytes:
    from PySide6.QtGui import QColorSpace
    return bytes(QColorSpace(QColorSpace.NamedColorSpace.DisplayP3).iccProfile().data())


def qt_in_srgb(rgb: tuple[int, int, int], profile: bytes) -> tuple[int, int, int]:
    """Qt's own conversion of one colour from ``profile`` to sRGB: a second opinion on littlecms's."""
    from PySide6.QtGui import QColorSpace, QImage
    image = QImage(1, 1, QImage.Format.Format_RGB32)
    image.setPixel(0, 0, (0xFF << 24) | (rgb[0] << 16) | (rgb[1] << 8) | rgb[2])
    image.setColorSpace(QColorSpace.fromIccProfile(profile))
    return image.convertedToColorSpace(QColorSpace(QColorSpace.NamedColorSpace.SRgb)).pixelColor(0, 0).getRgb()[:3]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_display_p3_photo_is_shown_in_srgb_as_its_profile_says(tmp_path, qapp, fmt):
    colour = (200, 100, 50)  # a P3 orange: in sRGB more saturated numbers, about (215, 93, 31)
    profile = display_p3_profile()
    path = tmp_path / f"phone.{fmt.lower()}"
    Image.new("RGB", (64, 48), colour).save(path, fmt, icc_profile=profile, quality=100)
    shown = load_scaled(str(path), 32).pixelColor(16, 12).getRgb()[:3]
    expected = qt_in_srgb(colour, profile)
    assert expected != colour and all(abs(a - b) <= 3 for a, b in zip(shown, expected, strict=True)), (shown, expected)


def test_a_palette_image_with_a_profile_is_shown_in_srgb(tmp_path, qapp):
    colour = (200, 100, 50)
    profile = display_p3_profile()
    path = tmp_path / "palette.png"
    Image.new("RGB", (64, 48), colour).quantize(4).save(path, "PNG", icc_profile=profile)
    shown = load_scaled(str(path), 32).pixelColor(16, 12).getRgb()[:3]
    assert all(abs(a - b) <= 3 for a, b in zip(shown, qt_in_srgb(colour, profile), strict=True)), shown


def test_without_littlecms_a_profiled_photo_still_shows_as_stored(tmp_path, qapp, monkeypatch):
    from desktop import thumbnails

    def no_littlecms(profile, mode):  # what Pillow built without littlecms raises on first use
        raise ImportError("The _imagingcms C module is not installed")

    monkeypatch.setattr(thumbnails, "_to_srgb", no_littlecms)
    path = tmp_path / "phone.png"
    Image.new("RGB", (64, 48), (200, 100, 50)).save(path, "PNG", icc_profile=display_p3_profile())
    assert load_scaled(str(path), 32).pixelColor(16, 12).getRgb()[:3] == (200, 100, 50)


def test_a_photo_with_a_damaged_profile_or_none_is_shown_as_stored(tmp_path, qapp):
    colour = (200, 100, 50)
    for name, profile in (("none.png", None), ("damaged.png", b"not a colour profile" * 10)):
        path = tmp_path / name
        Image.new("RGB", (64, 48), colour).save(path, "PNG", **({"icc_profile": profile} if profile else {}))
        assert load_scaled(str(path), 32).pixelColor(16, 12).getRgb()[:3] == colour


def test_only_images_that_can_be_transparent_are_loaded_with_an_alpha_channel(tmp_path):
    Image.new("RGB", (40, 30), (10, 20, 30)).save(tmp_path / "photo.jpg")
    Image.new("RGBA", (40, 30), (10, 20, 30, 0)).save(tmp_path / "logo.png")
    Image.new("P", (40, 30)).save(tmp_path / "indexed.png", transparency=0)
    assert not load_scaled(str(tmp_path / "photo.jpg"), 64).hasAlphaChannel()
    logo = load_scaled(str(tmp_path / "logo.png"), 64)
    assert logo.hasAlphaChannel() and logo.pixelColor(5, 5).alpha() == 0
    assert load_scaled(str(tmp_path / "indexed.png"), 64).hasAlphaChannel()


@pytest.mark.parametrize("name, dtype, top", [("grey16.png", np.uint16, 50000), ("grey16.tif", np.uint16, 50000),
                                              ("float.tif", np.float32, 0.8)])
def test_16_bit_and_float_grey_images_show_their_picture_not_white_or_black(tmp_path, qapp, name, dtype, top):
    """They showed as a plain file icon in the list and pure white (16-bit) or black (float) in the pane."""
    from engine.decode import decode_image

    path = tmp_path / name
    ramp = np.tile(np.linspace(top / 10, top, 240, dtype=np.float64), (160, 1)).astype(dtype)  # dark to light
    Image.fromarray(ramp).save(path)
    decoded = decode_image(path.read_bytes())  # what the model scored
    assert decoded.mode in ("I;16", "F") and decoded.rgb[0, 0, 0] < decoded.rgb[0, -1, 0]
    for side in (48, 600):  # a list thumbnail, and the detail pane (no resize)
        shown = load_scaled(str(path), side)
        assert shown is not None, side
        for fraction in (0.25, 0.5, 0.75):
            expected = int(decoded.rgb[80, int(fraction * 240), 0])
            x = int(fraction * shown.width())
            assert abs(shown.pixelColor(x, shown.height() // 2).red() - expected) <= 6, (side, fraction)
