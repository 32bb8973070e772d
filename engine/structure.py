"""Limits on a file's structure, checked on its bytes before Pillow parses them.

Pillow keeps each JPEG marker segment and each TIFF strip as Python objects when it opens a file, and
libjpeg decodes every progressive scan in turn: a small hostile file (a million empty APP segments, a
million one-row strips, thousands of scans) costs gigabytes or minutes before the pixel caps can
apply. Real cameras and encoders stay far below these limits.
"""

from __future__ import annotations

import re
import struct

MAX_JPEG_SEGMENTS = 10_000  # marker segments in the whole image; an ICC profile takes at most 255, XMP a few dozen
MAX_JPEG_SCANS = 500  # a progressive JPEG has about 10; as libjpeg-turbo's own suggested scan limit
MAX_TIFF_STRIPS = 100_000  # a 100 MP TIFF of one-row strips has 10,000
_TIFF_OFFSET_TAGS = (273, 324)  # StripOffsets, TileOffsets
# A marker with a length: not a stuffed 0x00, TEM, a restart, SOI or a fill byte.
_MARKER = re.compile(rb"\xff[^\x00\x01\xd0-\xd8\xff]")


class StructureError(ValueError):
    """The file's structure is beyond what any real image needs; the message says how."""


def check_structure(data: bytes) -> None:
    if data[:2] == b"\xff\xd8":
        _check_jpeg(data)
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        _check_tiff(data, big=False)
    elif data[:4] in (b"II+\x00", b"MM\x00+"):  # BigTIFF: 8-byte offsets and counts
        _check_tiff(data, big=True)


def _check_jpeg(data: bytes) -> None:
    """Walk the markers: segments by their lengths, scans' entropy-coded data by searching for the next
    marker (inside it an 0xFF is always followed by 0x00 or a restart marker). Stops at the end of image:
    what follows (a motion photo's video) is not read."""
    position, segments, scans = 2, 0, 0
    while match := _MARKER.search(data, position):
        start = match.start()
        marker = data[start + 1]
        if marker == 0xD9 or start + 4 > len(data):
            return
        if marker == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise StructureError(f"the JPEG has more than {MAX_JPEG_SCANS} progressive scans")
        else:
            segments += 1
            if segments > MAX_JPEG_SEGMENTS:
                raise StructureError(f"the JPEG has more than {MAX_JPEG_SEGMENTS:,} marker segments")
        position = start + 2 + struct.unpack(">H", data[start + 2:start + 4])[0]


def _check_tiff(data: bytes, big: bool) -> None:
    """The first directory's strip or tile count (the one Pillow parses at open)."""
    order = "<" if data[:2] == b"II" else ">"
    offset, entries, entry = ("Q", "Q", 20) if big else ("I", "H", 12)
    try:
        (first,) = struct.unpack(order + offset, data[8:16] if big else data[4:8])
        size = struct.calcsize(entries)
        (count_entries,) = struct.unpack(order + entries, data[first:first + size])
        for index in range(min(count_entries, 4096)):
            start = first + size + entry * index
            tag, _type, count = struct.unpack(order + "HH" + offset, data[start:start + 4 + struct.calcsize(offset)])
            if tag in _TIFF_OFFSET_TAGS and count > MAX_TIFF_STRIPS:
                kind = "strips" if tag == 273 else "tiles"
                raise StructureError(f"the TIFF has {count:,} {kind} (at most {MAX_TIFF_STRIPS:,} are read)")
    except struct.error:  # a header cut short: Pillow says what is wrong with it
        return
