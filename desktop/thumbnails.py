"""Images for the views, decoded off the GUI thread and kept in a small LRU cache.

Views ask with :meth:`ImageCache.get`: a cached pixmap comes back at once;
otherwise ``None``, a request is queued, and ``imageReady(path)`` follows.
Requests are served newest first and the queue is short, so scrolling fast
through 10,000 rows decodes only what is on screen now, not everything passed.
"""

from __future__ import annotations

import collections
import functools
import io
import threading

from PIL import Image, ImageCms, ImageOps
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from engine.decode import MAX_FILE_BYTES, open_image  # (the engine also registers HEIF/AVIF)
from engine.files import read_regular_file
from engine.pixels import to_rgb_array

MAX_QUEUED = 256
_FAILED = object()


def decode_reduced(path: str, longest_side: int) -> Image.Image:
    """The file's image as its decoder gives it for ``longest_side``, through the engine (its 100 MP and
    file-size caps hold for untrusted files here too): a JPEG at 1/2 to 1/8 scale in the decoder itself,
    so a thumbnail of a 48 MP photo never holds the full image. Raises engine.decode.DecodeError or OSError."""
    data = read_regular_file(path, MAX_FILE_BYTES)
    with open_image(data) as opened:
        return ImageOps.exif_transpose(opened.reduced(longest_side))  # a copy: ``opened`` closes its own


def decode_for_display(path: str, longest_side: int) -> Image.Image:
    """``decode_reduced``, scaled to fit ``longest_side``, in sRGB as its colour profile says."""
    image = decode_reduced(path, longest_side)
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # 16-bit, 32-bit and float grey: Pillow's own conversion clips them to white or black (and its
        # resize refuses some); scaled to 8 bits as the model saw them.
        image = Image.fromarray(to_rgb_array(image))
    image.thumbnail((longest_side, longest_side), Image.Resampling.BILINEAR)
    return in_srgb(image)


# Modes littlecms converts from, and the mode each gives in sRGB.
_SRGB_MODES = {"RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB", "L": "RGB"}


@functools.lru_cache(maxsize=8)  # phones and cameras embed the same few profiles
def _to_srgb(profile: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    return ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), mode, _SRGB_MODES[mode])


def in_srgb(image: Image.Image) -> Image.Image:
    """``image`` converted from its embedded colour profile to sRGB, for the screen: a phone's Display P3
    photo shown raw looks dull and a CMYK one garish. Display only (the model scores the pixels as stored,
    as it was trained). Unchanged without a profile, or with one littlecms cannot read or apply."""
    profile = image.info.get("icc_profile")
    if not profile:
        return image
    if image.mode in ("P", "PA", "LA"):  # palette and grey-with-alpha: littlecms takes their RGB(A) form
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode not in _SRGB_MODES:  # 16-bit and float modes: shown as stored
        return image
    try:
        return _to_srgb(bytes(profile), image.mode).apply(image)
    # A damaged profile, one for another colour space, or a Pillow built without littlecms (ImportError on
    # first use): shown as stored, never not at all.
    except (ImageCms.PyCMSError, OSError, ValueError, ImportError):
        return image


def qimage_of(image: Image.Image) -> QImage:
    """A Pillow image in sRGB as a QImage that owns its pixels. Opaque images say so (RGBX): the views show a
    checkerboard only where pixels can be transparent."""
    transparent = "A" in image.getbands() or image.has_transparency_data
    image = image.convert("RGBA" if transparent else "RGBX")
    data = image.tobytes()
    qimage = QImage(data, image.width, image.height, image.width * 4,
                    QImage.Format.Format_RGBA8888 if transparent else QImage.Format.Format_RGBX8888)
    return qimage.copy()  # own the pixels: ``data`` dies with this frame


def load_scaled(path: str, longest_side: int) -> QImage | None:
    """Decode an image file to a QImage no longer than ``longest_side`` on either side; None when it cannot be."""
    try:
        return qimage_of(decode_for_display(path, longest_side))
    except Exception:  # untrusted bytes: beyond DecodeError, damaged EXIF raises its own kinds; the worker goes on
        return None


class ImageCache(QObject):
    # Paths as Python objects: a Qt string drops the lone surrogates of a name that is not UTF-8 ("caf\udce9.png"
    # came back as "caf.png", and its picture stayed "Loading..." for ever).
    imageReady = Signal(object)
    _loaded = Signal(object, object)  # path, QImage | None

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
            return cached if isinstance(cached, QPixmap) else None  # None for _FAILED
        if path:
            self._request(path)
        return None

    def failed(self, path: str) -> bool:
        return self._cache.get(path) is _FAILED

    def forget(self, path: str) -> None:
        """A file just scanned: what was read of it before may be another version (edited, replaced under its
        name) or half a file (still being written), so the next ``get`` reads it again. A rescanned photo kept
        its old picture, with the new crops and heatmap drawn over it."""
        self._cache.pop(path, None)

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
