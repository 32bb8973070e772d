"""Files whose structure alone would cost gigabytes or minutes are refused before Pillow parses them;
real files, and what a phone appends after a JPEG, pass."""

import io
import resource
import struct

import numpy as np
import pytest
from PIL import Image

from engine.decode import DecodeError, decode_image
from engine.structure import MAX_JPEG_SCANS, MAX_JPEG_SEGMENTS, MAX_TIFF_STRIPS
from tests.fixtures.jpeg_scans import progressive_jpeg


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def _one_row_strips_tiff(rows: int) -> bytes:
    """A 1-pixel-wide grey TIFF, one strip per row, every strip the same byte (small file, huge strip table)."""
    entries = [(256, 3, 1, struct.pack("<HH", 1, 0)), (257, 4, 1, struct.pack("<I", rows)),
               (258, 3, 1, struct.pack("<HH", 8, 0)), (259, 3, 1, struct.pack("<HH", 1, 0)),
               (262, 3, 1, struct.pack("<HH", 1, 0)), (273, 3, rows, None), (277, 3, 1, struct.pack("<HH", 1, 0)),
               (278, 4, 1, struct.pack("<I", 1)), (279, 3, rows, None)]
    pixel = 8 + 2 + 12 * len(entries) + 4
    offsets, counts = pixel + 2, pixel + 2 + 2 * rows
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = value if value is not None else struct.pack("<I", offsets if tag == 273 else counts)
        ifd += struct.pack("<HHI", tag, kind, count) + value
    return (b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x80\x00"
            + struct.pack("<H", pixel) * rows + struct.pack("<H", 1) * rows)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_jpeg_padded_with_empty_segments_is_refused_before_parsing():
    data = _jpeg()
    padded = data[:2] + b"\xff\xef\x00\x02" * (MAX_JPEG_SEGMENTS + 1) + data[2:]
    with pytest.raises(DecodeError, match="more than 10,000 marker segments"):
        decode_image(padded)
    assert decode_image(data[:2] + b"\xff\xef\x00\x02" * 100 + data[2:]).width == 64  # a few are fine


def test_a_jpeg_of_endless_progressive_scans_is_refused_and_a_long_one_decodes():
    with pytest.raises(DecodeError, match=f"more than {MAX_JPEG_SCANS} progressive scans"):
        decode_image(progressive_jpeg(64, MAX_JPEG_SCANS))
    assert decode_image(progressive_jpeg(64, MAX_JPEG_SCANS - 20)).width == 64


def test_a_tiff_with_a_huge_strip_table_is_refused_without_the_memory_it_would_take():
    before = _peak_mb()
    with pytest.raises(DecodeError, match="the TIFF has 1,000,000 strips"):
        decode_image(_one_row_strips_tiff(1_000_000))
    assert _peak_mb() - before < 100  # Pillow alone takes 320 MB to open it
    assert decode_image(_one_row_strips_tiff(MAX_TIFF_STRIPS // 10)).height == MAX_TIFF_STRIPS // 10


def test_what_follows_the_end_of_a_jpeg_is_not_counted():
    # A motion photo: the video after the JPEG's end holds marker-like bytes by chance.
    data = _jpeg() + b"\xff\xda\x00\x08" * (2 * MAX_JPEG_SCANS) + b"\xff\xef\x00\x02" * (2 * MAX_JPEG_SEGMENTS)
    assert decode_image(data).width == 64


def test_a_bigtiff_is_read_and_its_strip_table_checked_too():
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(buffer, "TIFF", big_tiff=True)
    assert buffer.getvalue()[:4] == b"II+\x00" and decode_image(buffer.getvalue()).width == 30
    rows = MAX_TIFF_STRIPS + 1
    entries = [struct.pack("<HHQQ", tag, kind, count, value)
               for tag, kind, count, value in ((256, 3, 1, 1), (257, 4, 1, rows), (273, 16, rows, 0), (279, 16, rows, 0))]
    bigtiff = (b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + struct.pack("<Q", len(entries)) + b"".join(entries)
               + struct.pack("<Q", 0))
    with pytest.raises(DecodeError, match=f"the TIFF has {rows:,} strips"):
        decode_image(bigtiff)
