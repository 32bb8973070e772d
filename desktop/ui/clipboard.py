"""What pasted or dropped data holds: encoded image bytes to keep as they are, or paths named in text."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

from PySide6.QtCore import QMimeData, QUrl

from engine.decode import MAX_PIXELS
from engine.paths import display_path

# Encoded images a clipboard or a drop may carry (a browser's "Copy image"), with the suffix they are saved under.
ENCODED_IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif",
                       "image/avif": ".avif", "image/heic": ".heic", "image/bmp": ".bmp", "image/tiff": ".tif"}
# Pixels with no encoded form are saved as PNG at this Qt quality (light compression): the default's full
# compression took 15 s for a 12 MP screenshot, on the window's thread; this about 2.5 s.
PASTED_PNG_QUALITY = 80
# File managers' own formats for copied files, beside or instead of a URL list.
COPIED_FILES_FORMATS = ("x-special/gnome-copied-files", "x-special/KDE-copied-files")


def mime_text(mime: QMimeData) -> str:
    """The text of ``mime`` and of a file manager's copied-files lists, one name per line."""
    parts = [mime.text()] if mime.hasText() else []
    parts += [bytes(mime.data(kind).data()).decode("utf-8", "replace") for kind in COPIED_FILES_FORMATS
              if mime.hasFormat(kind)]
    return "\n".join(parts)


def local_file(url: QUrl) -> str:
    """The file a file: URL names, byte for byte: toLocalFile() made a name that is not UTF-8 (caf%E9.png, from
    an old archive) into "caf\ufffd.png", which names nothing."""
    if sys.platform == "win32" or url.host():  # Windows names are UTF-16; a host is a network share
        return url.toLocalFile()
    return os.fsdecode(unquote_to_bytes(urlsplit(bytes(url.toEncoded().data())).path))


@dataclass(frozen=True)
class NamedInText:
    """What text names, one name per line: files and folders here, names of files that are not (a path copied
    before the file was moved), and whether a line was a web address instead."""

    paths: list[str]
    gone: list[str]
    web: bool


def paths_in_text(text: str) -> NamedInText:
    """Files and folders named in text, one per line (a path copied from a terminal or as "Copy as path",
    quoted or not, or a file: URL). A line that is no absolute path (a sentence) names nothing."""
    paths: list[str] = []
    gone: list[str] = []
    web = False
    for line in text.splitlines():
        name = line.strip().strip("'\"")
        if name.startswith("file:"):
            name = local_file(QUrl(name))
        elif name.startswith(("http://", "https://", "data:")):
            web = True
            continue
        name = os.path.expanduser(name)
        if not name or not os.path.isabs(name) or name in paths or name in gone:
            continue
        (paths if os.path.exists(name) else gone).append(name)
    return NamedInText(paths, gone, web)


@dataclass(frozen=True)
class Intake:
    """What to scan from pasted or dropped data, or, when nothing, what to tell the person and for how long."""

    paths: list[str]
    message: str = ""
    message_ms: int = 0


def take_mime(mime: QMimeData, source: str, saved_path: Callable[[str, str], Path]) -> Intake:
    """The files ``mime`` names, or its image saved where ``saved_path(how, suffix)`` says (so that it can
    be scanned, revealed and kept); ``source`` is "clipboard" for a paste, anything else for a drop."""
    local = [local_file(url) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []
    named = paths_in_text(mime_text(mime))
    if local or named.paths:
        return Intake(local or named.paths)
    how = "pasted" if source == "clipboard" else "dropped"
    encoded = next((kind for kind in ENCODED_IMAGE_TYPES if mime.hasFormat(kind) and mime.data(kind).size()), None)
    if encoded is not None:
        # Saved as they came: nothing decoded or re-encoded on the window's thread (a 12 MP paste froze the
        # window for seconds), and a JPEG keeps its own compression, part of the evidence.
        path = saved_path(how, ENCODED_IMAGE_TYPES[encoded])
        try:
            path.write_bytes(bytes(mime.data(encoded).data()))
        except OSError as exc:
            return Intake([], f"Could not save the image to {path}: {exc.strerror or exc}", 8000)
        return Intake([str(path)])
    if mime.hasImage():
        image = mime.imageData()
        if image is None or image.isNull():
            return Intake([])
        if image.width() * image.height() > MAX_PIXELS:  # the engine refuses it: not written, not waited on
            return Intake([], f"That image is {image.width() * image.height() / 1e6:.0f} MP, above the "
                              f"{MAX_PIXELS // 1_000_000} MP SynthSpot checks.", 10000)
        path = saved_path(how, ".png")
        if not image.save(str(path), "PNG", PASTED_PNG_QUALITY):
            return Intake([], f"Could not save the image to {path}", 8000)
        return Intake([str(path)])
    if named.gone:  # a path copied before its file was moved: not "no image"
        more = f" (and {len(named.gone) - 1} more)" if len(named.gone) > 1 else ""
        return Intake([], f"There is no file at {display_path(named.gone[0])}{more}: it may have been moved, renamed "
                          "or deleted.", 10000)
    if named.web or (mime.hasUrls() and mime.urls()):  # an address on the web, not a file: nothing downloaded
        return Intake([], "That is a web address, not a file on this computer: save the image first, or check "
                          "it in the browser with the SynthSpot extension.", 10000)
    where = "The clipboard holds" if source == "clipboard" else "What was dropped holds"
    return Intake([], f"{where} no image or image files.", 5000)
