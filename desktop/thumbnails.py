"""Images for the views, decoded off the GUI thread and kept in a small LRU cache.

Views ask with :meth:`ImageCache.get`: a cached pixmap comes back at once;
otherwise ``None``, a request is queued, and ``imageReady(path)`` follows.
Requests are served newest first and the queue is short, so scrolling fast
through 10,000 rows decodes only what is on screen now, not everything passed.
"""

from __future__ import annotations

import collections
import threading
import warnings

from PIL import Image, ImageOps
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

import engine.decode  # noqa: F401  (registers the HEIF/AVIF opener with Pillow)

MAX_QUEUED = 256
_FAILED = object()


def load_scaled(path: str, longest_side: int) -> QImage | None:
    """Decode an image file to a QImage no longer than ``longest_side`` on either side."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.draft("RGB", (longest_side, longest_side))  # JPEG decodes at 1/2..1/8 scale
                image = ImageOps.exif_transpose(image)
                image.thumbnail((longest_side, longest_side), Image.Resampling.BILINEAR)
                image = image.convert("RGBA")
                data = image.tobytes()
                qimage = QImage(data, image.width, image.height, image.width * 4, QImage.Format.Format_RGBA8888)
                return qimage.copy()  # own the pixels: ``data`` dies with this frame
    except Exception:
        return None


class ImageCache(QObject):
    imageReady = Signal(str)
    _loaded = Signal(str, object)  # path, QImage | None

    def __init__(self, longest_side: int = 48, capacity: int = 2000, workers: int = 1,
                 device_pixel_ratio: float = 1.0, parent: QObject | None = None):
        super().__init__(parent)
        # Decode at device pixels; the pixmap then reports ``longest_side`` logical pixels.
        self.device_pixel_ratio = device_pixel_ratio
        self.longest_side = round(longest_side * device_pixel_ratio)
        self.capacity = capacity
        self._cache: collections.OrderedDict[str, object] = collections.OrderedDict()
        self._queue: collections.deque[str] = collections.deque()
        self._queued: set[str] = set()
        self._condition = threading.Condition()
        self._stopping = False
        self._loaded.connect(self._store)
        self._threads = [threading.Thread(target=self._work, name=f"synthspot-images-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def get(self, path: str) -> QPixmap | None:
        """The cached pixmap, or None (queued for loading; ``imageReady`` follows)."""
        cached = self._cache.get(path)
        if cached is not None:
            self._cache.move_to_end(path)
            return None if cached is _FAILED else cached
        if path:
            self._request(path)
        return None

    def failed(self, path: str) -> bool:
        return self._cache.get(path) is _FAILED

    def retry_failed(self, path: str) -> None:
        """Forget that this file did not decode (it was still being written), so the next ``get`` tries again."""
        if self._cache.get(path) is _FAILED:
            del self._cache[path]

    def _request(self, path: str) -> None:
        with self._condition:
            if path in self._queued:
                return
            self._queue.append(path)
            self._queued.add(path)
            while len(self._queue) > MAX_QUEUED:  # scrolled past: forget the oldest requests
                self._queued.discard(self._queue.popleft())
            self._condition.notify()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                path = self._queue.pop()  # newest first: what is on screen now
            image = load_scaled(path, self.longest_side)
            with self._condition:
                self._queued.discard(path)
                if self._stopping:
                    return
            try:
                self._loaded.emit(path, image)
            except RuntimeError:  # the window closed while this image was decoding
                return

    @Slot(str, object)
    def _store(self, path: str, image: QImage | None) -> None:
        if image is None:
            self._cache[path] = _FAILED
        else:
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self.device_pixel_ratio)
            self._cache[path] = pixmap
        self._cache.move_to_end(path)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        self.imageReady.emit(path)

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
