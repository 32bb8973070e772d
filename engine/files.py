"""Finding image files by their content, not their extension."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

# Leading bytes of the formats the decoder reads. (offset, signature)
_SIGNATURES = (
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"BM"),
    (0, b"II*\x00"),  # TIFF little-endian
    (0, b"MM\x00*"),  # TIFF big-endian
)
_RIFF_WEBP = (b"RIFF", b"WEBP")
_ISO_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"heif", b"mif1", b"msf1", b"hevc")


def sniff_image(head: bytes) -> bool:
    """True when the first bytes look like an image format SynthSpot reads."""
    if any(head[offset:offset + len(sig)] == sig for offset, sig in _SIGNATURES):
        return True
    if head[:4] == _RIFF_WEBP[0] and head[8:12] == _RIFF_WEBP[1]:
        return True
    return head[4:8] == b"ftyp" and head[8:12] in _ISO_BRANDS


def is_image_file(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as handle:
            return sniff_image(handle.read(32))
    except OSError:
        return False


def expand_paths(paths: Iterable[str | os.PathLike], recursive: bool = True) -> Iterator[Path]:
    """Files named directly are yielded as they are (a bad one gets an error result);
    folders yield the image files inside them, found by content, in a stable order."""
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        walker = os.walk(path) if recursive else [(str(path), [], [e.name for e in os.scandir(path) if e.is_file()])]
        for folder, subfolders, names in walker:
            subfolders.sort()
            for name in sorted(names):
                candidate = Path(folder) / name
                if candidate.is_file() and is_image_file(candidate):
                    yield candidate
