"""What a file says about itself (text chunks, XMP, EXIF), read where the format puts it, never by decoding pixels.

Pillow's ``PngImageFile.text`` decodes the whole image to reach text after the pixel data,
and for an APNG it seeks through every frame; ``getexif()`` on a PNG decodes too. PNG is
therefore walked chunk by chunk here; for other formats Pillow's header parse (``Image.open``)
already holds the metadata. Everything is bounded: a hostile file gets a few MB of text at most.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TEXT_BYTES = 1 << 20  # one text value, after decompression
MAX_TEXT_CHUNKS = 64
MAX_XMP_PACKETS = 4
MAX_PNG_CHUNKS = 1_000_000  # an APNG of 200,000 frames has 400,000; walking one costs a struct.unpack
XMP_KEYWORD = "XML:com.adobe.xmp"
EXIF_IFD = 0x8769


@dataclass
class FileMetadata:
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks and Pillow's text-like info keys
    xmp: list[bytes] = field(default_factory=list)  # XMP packets, from where the format stores them
    ifd0: dict[int, object] = field(default_factory=dict)  # EXIF main tags: Software, Make, Model, ...
    exif_ifd: dict[int, object] = field(default_factory=dict)  # the Exif sub-IFD: UserComment, ...


def read_metadata(data: bytes) -> FileMetadata:
    if data.startswith(PNG_SIGNATURE):
        return read_png_metadata(data)
    meta = FileMetadata()
    with Image.open(io.BytesIO(data)) as image:  # parses the header and metadata; decodes nothing
        info = image.info
        for key, value in info.items():
            if isinstance(key, str) and isinstance(value, (str, bytes)) and key not in ("exif", "xmp", "icc_profile"):
                meta.text[key] = _as_text(value[:MAX_TEXT_BYTES])
        xmp = info.get("xmp")
        if isinstance(xmp, (bytes, str)) and xmp:
            meta.xmp.append(xmp.encode("utf-8", "replace") if isinstance(xmp, str) else bytes(xmp))
        # Not PNG, so getexif() parses info["exif"] (or a TIFF's own tags) without decoding pixels.
        _take_exif(meta, image.getexif)
    return meta


def read_png_metadata(data: bytes) -> FileMetadata:
    """tEXt, zTXt, iTXt and eXIf from every part of a PNG (before and after the pixel data, between APNG frames)."""
    meta = FileMetadata()
    raw_exif = b""
    offset, chunks = len(PNG_SIGNATURE), 0
    while offset + 8 <= len(data) and chunks < MAX_PNG_CHUNKS:
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        offset += 12 + length
        chunks += 1
        if kind == b"IEND":
            break
        if kind in (b"tEXt", b"zTXt", b"iTXt") and len(meta.text) < MAX_TEXT_CHUNKS:
            parsed = _png_text(kind, body)
            if parsed is None:
                continue
            keyword, value = parsed
            if keyword == XMP_KEYWORD:
                if len(meta.xmp) < MAX_XMP_PACKETS:
                    meta.xmp.append(value.encode("utf-8"))
            elif keyword == "Raw profile type exif":
                raw_exif = raw_exif or _imagemagick_raw_profile(value)
            else:
                meta.text.setdefault(keyword, value)
        elif kind == b"eXIf" and not raw_exif:
            raw_exif = bytes(body)
    if raw_exif:
        _take_exif(meta, lambda: _exif_from_bytes(raw_exif))
    return meta


def _exif_from_bytes(raw: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(raw)  # accepts the "Exif\0\0" prefix too
    return exif


def _take_exif(meta: FileMetadata, load) -> None:
    """EXIF is best effort: a damaged block (the fuzzer makes many) loses its hints, never the others'."""
    try:
        exif = load()
        meta.ifd0 = dict(exif)
        meta.exif_ifd = dict(exif.get_ifd(EXIF_IFD))
    except Exception:
        pass


def _png_text(kind: bytes, body: bytes) -> tuple[str, str] | None:
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or not keyword:
        return None
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return name, rest[:MAX_TEXT_BYTES].decode("latin-1")
    if kind == b"zTXt":
        return (name, _inflate(rest[1:]).decode("latin-1")) if rest[:1] == b"\x00" else None
    # iTXt: compression flag, method, language tag\0, translated keyword\0, UTF-8 text
    if len(rest) < 2:
        return None
    flag, method, rest = rest[0], rest[1], rest[2:]
    _language, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if flag:
        if method != 0:
            return None
        text = _inflate(text)
    return name, text[:MAX_TEXT_BYTES].decode("utf-8", "replace")


def _inflate(compressed: bytes) -> bytes:
    """zlib, stopping at MAX_TEXT_BYTES: a 1 KB chunk can claim gigabytes."""
    try:
        return zlib.decompressobj().decompress(compressed, MAX_TEXT_BYTES)
    except zlib.error:
        return b""


def _imagemagick_raw_profile(value: str) -> bytes:
    """ImageMagick's "Raw profile type exif": a name line, a length line, then the bytes in hex."""
    lines = value.strip().split("\n", 2)
    try:
        return bytes.fromhex("".join(lines[2].split())) if len(lines) == 3 else b""
    except ValueError:
        return b""


def _as_text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
