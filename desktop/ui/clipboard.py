"""What pasted or dropped data holds: encoded image bytes to keep as they are, or paths named in text."""

from __future__ import annotations

import os

from PySide6.QtCore import QMimeData, QUrl

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


def paths_in_text(text: str) -> tuple[list[str], bool]:
    """Files and folders here named in text, one per line (a path copied from a terminal or as "Copy as path",
    quoted or not, or a file: URL), and whether a line was a web address instead. Lines that name nothing
    here (a sentence, a path that is gone) are left out."""
    paths: list[str] = []
    web = False
    for line in text.splitlines():
        name = line.strip().strip("'\"")
        if name.startswith("file:"):
            name = QUrl(name).toLocalFile()
        elif name.startswith(("http://", "https://", "data:")):
            web = True
            continue
        name = os.path.expanduser(name)
        if name and os.path.isabs(name) and os.path.exists(name) and name not in paths:
            paths.append(name)
    return paths, web
