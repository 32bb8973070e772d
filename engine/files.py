"""Finding image files by their content, not their extension."""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterable, Iterator

# Leading bytes of the formats the decoder reads. (offset, signature)
_SIGNATURES = (
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"BM"),
    (0, b"II*\x00"),  # TIFF little-endian
    (0, b"MM\x00*"),  # TIFF big-endian
    (0, b"II+\x00"),  # BigTIFF little-endian
    (0, b"MM\x00+"),  # BigTIFF big-endian
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


class NotReadable(OSError):
    """The path is not a regular file SynthSpot can read; the message says why, in words."""


def read_regular_file(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (larger ones are refused unread)."""
    with _open_regular(path) as (fd, size):
        if size > limit:
            raise NotReadable(_too_large(limit))
        chunks, remaining = [], limit + 1  # one byte more shows a file that grew since the fstat
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    if remaining <= 0:
        raise NotReadable(_too_large(limit))
    return b"".join(chunks)


def read_head(path: str | os.PathLike, size: int = 32) -> bytes:
    """The first bytes of a regular file, opened the same safe way."""
    with _open_regular(path) as (fd, _):
        return os.read(fd, size)


def is_image_file(path: str | os.PathLike) -> bool:
    try:
        return sniff_image(read_head(path))
    except OSError:
        return False


@contextmanager
def _open_regular(path: str | os.PathLike) -> Iterator[tuple[int, int]]:
    """Open only a regular file. A FIFO blocks open() and read() forever and a device such as
    /dev/zero never ends, so the stat comes first; O_NONBLOCK makes even a FIFO swapped in after
    the stat open at once, and the fstat of what was really opened decides."""
    _refuse_irregular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        _refuse_irregular(info.st_mode)
        if _NONBLOCK:  # reads of a regular file never block; back to ordinary reads
            os.set_blocking(fd, True)
        yield fd, info.st_size
    finally:
        os.close(fd)


_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # absent on Windows, where opening a pipe name does not wait for a writer
_OPEN_FLAGS = _NONBLOCK | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _refuse_irregular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        kind = "a folder"
    elif stat.S_ISFIFO(mode):
        kind = "a pipe (FIFO)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "a special file"
    raise NotReadable(f"this is {kind}, not an image file")


def _too_large(limit: int) -> str:
    return f"the file is larger than {limit / (1024 * 1024):.0f} MB" if limit >= 1 << 20 else "the file is too large"


# Names that promise an image: such a file that does not read as one is an error result, not a silent skip.
IMAGE_SUFFIXES = frozenset((".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".gif", ".bmp", ".dib",
                            ".tif", ".tiff", ".avif", ".heic", ".heif", ".mpo"))


def name_says_image(name: str) -> bool:
    # "._photo.jpg" is macOS's AppleDouble side file on foreign disks, never an image.
    return not name.startswith("._") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


Skipped = list[tuple[str, str]]  # (path, why), for the summary


def expand_paths(paths: Iterable[str | os.PathLike], recursive: bool = True,
                 skipped: Skipped | None = None) -> Iterator[Path]:
    """Files named directly are yielded as they are (a bad one gets an error result);
    folders yield the image files inside them, found by content, in a stable order, plus
    files whose name says image (so one that does not decode is reported, not lost).
    Symlinked folders are followed once each (a link back up cannot loop). A file named
    twice, or inside a folder also given (``photos photos/2024``), is yielded once. Whatever
    else is passed over lands in ``skipped`` with the reason, when a list is given."""
    visited: set[tuple[int, int]] = set()  # folders walked, over every root
    yielded: set[str] = set()
    for raw in paths:
        path = Path(raw)
        found = _walk(path, recursive, skipped if skipped is not None else [], visited) if _is_folder(path) else [path]
        for file in found:
            where = os.path.abspath(file)  # the same name however it was written, links kept apart
            if where not in yielded:
                yielded.add(where)
                yield file


def _is_folder(path: Path) -> bool:
    """Path.is_dir, where a name too long for the system or a folder that may not be entered is no
    folder: the path is then scanned as a file and gets its error row, and the rest of a drop goes on
    (Path.is_dir raises on ENAMETOOLONG and EACCES)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _walk(root: Path, recursive: bool, skipped: Skipped, visited: set[tuple[int, int]]) -> Iterator[Path]:
    stack = [root]  # depth first, files of a folder before its sub-folders, like os.walk top-down
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in visited:
                continue  # reached again through a symlink: walked once already
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            skipped.append((str(folder), "folder: " + _why(exc)))
            continue
        subfolders = []
        for entry in entries:
            candidate = folder / entry.name
            try:
                if entry.is_dir():  # follows symlinks
                    subfolders.append(candidate)
                    continue
            except OSError as exc:  # a symlink loop: a name that says image gets its error row, as a FIFO does
                if name_says_image(entry.name):
                    yield candidate
                else:
                    skipped.append((str(candidate), _why(exc)))
                continue
            reason = _not_an_image(candidate)
            if reason is None or name_says_image(entry.name):
                yield candidate
            else:
                skipped.append((str(candidate), reason))
        if recursive:
            stack.extend(reversed(subfolders))
        else:  # said, so that images one level down are not missed without a word
            skipped.extend((str(subfolder), "a sub-folder, not searched (no recursion)") for subfolder in subfolders)


def _not_an_image(path: Path) -> str | None:
    try:
        return None if sniff_image(read_head(path)) else "not an image"
    except NotReadable as exc:
        return str(exc).replace("this is ", "").replace(", not an image file", "")
    except OSError as exc:
        return _why(exc)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is longer than the system allows"
    if exc.errno == errno.ENOENT:
        return "a broken link, or gone while listing"
    if exc.errno == errno.ELOOP:
        return "a symbolic link that loops"
    if isinstance(exc, PermissionError):
        return "permission denied"
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]  # said mid-sentence: "2 skipped (2 input/output error)"
