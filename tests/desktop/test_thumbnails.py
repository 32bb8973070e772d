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
