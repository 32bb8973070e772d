"""The selected picture at its file's own resolution, one region at a time, for the zoomed detail view.

The detail view's picture is decoded to 1,600 px: a 12,000 px photo's 96 px crops are a few of its pixels
there, and the artifacts the model saw are gone. Zoomed past that picture, the view asks for the region it
shows; one worker decodes the file once (kept while the same file stays selected) and answers with that
region, no larger than the screen shows it, so panning costs a crop, not a decode.
"""

from __future__ import annotations

import math
import os
import threading

from PIL import Image
from PySide6.QtCore import QObject, QRectF, QSize, Signal, Slot
from PySide6.QtGui import QImage

from desktop.memory import release_freed_memory
from desktop.thumbnails import decode_for_display, qimage_of

# decode_for_display's side for "the whole image": the engine's 100 MP cap bounds it long before this.
FULL_RESOLUTION = 1 << 20


def region_box(region: QRectF, width: int, height: int) -> tuple[int, int, int, int]:
    """``region`` (fractions of the image) as a pixel box, outward to whole pixels, inside the image."""
    left = max(0, min(width - 1, math.floor(region.left() * width)))
    top = max(0, min(height - 1, math.floor(region.top() * height)))
    right = max(left + 1, min(width, math.ceil(region.right() * width)))
    bottom = max(top + 1, min(height, math.ceil(region.bottom() * height)))
    return left, top, right, bottom


def read_region(image: Image.Image, region: QRectF, device_size: QSize) -> tuple[QRectF, QImage]:
    """The part of ``image`` under ``region``, reduced to ``device_size`` where it holds more pixels than
    that (never enlarged: the view shows the file's pixels as squares), and the region it truly covers."""
    left, top, right, bottom = region_box(region, image.width, image.height)
    part = image.crop((left, top, right, bottom))
    wanted = (max(1, device_size.width()), max(1, device_size.height()))
    # Outward rounding makes the box a pixel or two wider than asked: within 2% it stays the file's pixels
    # (resampled by 0.998, one-pixel stripes turn into a grey moiré).
    if part.width > wanted[0] * 1.02 or part.height > wanted[1] * 1.02:
        part.thumbnail(wanted, Image.Resampling.LANCZOS)
    covered = QRectF(left / image.width, top / image.height,
                     (right - left) / image.width, (bottom - top) / image.height)
    return covered, qimage_of(part)


class RegionReader(QObject):
    """``request(path, region, device_size)``; ``regionReady(path, region, image, native_size)`` follows,
    with a null image where the file cannot be read. Only the newest request is served: a drag across a
    photo asks many times and wants only where it stopped."""

    regionReady = Signal(object, QRectF, QImage, QSize)  # the path as a Python object: see thumbnails.ImageCache
    _answered = Signal(object, QRectF, QImage, QSize)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._condition = threading.Condition()
        self._wanted: tuple[str, QRectF, QSize] | None = None
        self._release = False
        self._stopping = False
        self._answered.connect(self._deliver)
        self._thread = threading.Thread(target=self._work, name="synthspot-regions", daemon=True)
        self._thread.start()

    def request(self, path: str, region: QRectF, device_size: QSize) -> None:
        with self._condition:
            self._wanted = (path, QRectF(region), QSize(device_size))
            self._condition.notify()

    def release(self) -> None:
        """Forget the decoded file (another image was selected): a 48 MP photo holds 150 MB."""
        with self._condition:
            self._wanted = None
            self._release = True
            self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()

    def _work(self) -> None:
        decoded: tuple[tuple[object, ...], Image.Image | None] | None = None
        while True:
            with self._condition:
                while self._wanted is None and not self._release and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                release, self._release = self._release, False
                wanted, self._wanted = self._wanted, None
            if release:
                decoded = None
                release_freed_memory()  # a 90 MP picture is 270 MB: back to the system, not kept in the heap
            if wanted is None:
                continue
            path, region, device_size = wanted
            try:
                info = os.stat(path)
                # The file's identity and version: an edited or replaced file is decoded again.
                version: tuple[object, ...] = (path, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
            except OSError:
                version = (path,)
            if decoded is None or decoded[0] != version:
                decoded = None  # the old picture's memory goes before the new one is decoded
                decoded = (version, _decode_whole(path))
                release_freed_memory()  # what the old picture and the decoder's buffers held, back to the system
            image = decoded[1]
            if image is None:
                answer = (QRectF(), QImage(), QSize())
            else:
                covered, pixels = read_region(image, region, device_size)
                answer = (covered, pixels, QSize(image.width, image.height))
            image = None  # only ``decoded`` holds the picture: release() lets it go
            with self._condition:
                if self._stopping:
                    return
            try:
                self._answered.emit(path, *answer)
            except RuntimeError:  # the window closed while the region was read
                return

    @Slot(str, QRectF, QImage, QSize)
    def _deliver(self, path: str, region: QRectF, image: QImage, native_size: QSize) -> None:
        self.regionReady.emit(path, region, image, native_size)


def _decode_whole(path: str) -> Image.Image | None:
    """The file at full resolution in sRGB, as the detail view's picture is made; None when it cannot be."""
    try:
        image = decode_for_display(path, FULL_RESOLUTION)
        # Crops of a palette image resized as palette indices would be noise: one colour mode for all.
        transparent = "A" in image.getbands() or image.has_transparency_data
        return image.convert("RGBA" if transparent else "RGB")
    except Exception:  # untrusted bytes: the view keeps the picture it has
        return None
