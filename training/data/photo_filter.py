"""Is this a photograph? Cheap statistics that separate photos from clipart, icons,
diagrams and flat renders: size, tonal richness, flat-area fraction, transparency."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from training.data.imageformat import decode_rgb

MIN_LONG_SIDE = 256
MIN_SHORT_SIDE = 192


@dataclass(frozen=True)
class PhotoVerdict:
    is_photo: bool
    reason: str


def judge(data: bytes) -> PhotoVerdict:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as error:  # unreadable bytes are not a photo we can use
        reason = "not an image Pillow reads" if isinstance(error, UnidentifiedImageError) else str(error)
        return PhotoVerdict(False, f"undecodable: {reason}")
    width, height = image.size
    if max(width, height) < MIN_LONG_SIDE or min(width, height) < MIN_SHORT_SIDE:
        return PhotoVerdict(False, f"too small: {width}x{height}")
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if (alpha < 250).mean() > 0.05:
            return PhotoVerdict(False, "transparent cut-out")
    # 16-bit scaled to 8 (convert("RGB") clips it to white); every other mode exactly as the corpus was judged
    sixteen_bit = image.mode in ("I;16", "I;16B", "I")
    thumbnail = Image.fromarray(decode_rgb(data)) if sixteen_bit else image.convert("RGB")
    thumbnail.thumbnail((256, 256))
    pixels = np.asarray(thumbnail).astype(np.int16)
    grey = pixels.mean(axis=2)
    is_grey = np.abs(pixels - pixels.mean(axis=2, keepdims=True)).max() < 3
    colours = np.unique(pixels.reshape(-1, 3) // 4, axis=0).shape[0]
    if colours < (24 if is_grey else 600):
        return PhotoVerdict(False, f"few colours: {colours}")
    # Clipart and diagrams are mostly perfectly flat; photos have noise almost everywhere.
    flat = (np.abs(np.diff(grey, axis=1))[:-1] == 0) & (np.abs(np.diff(grey, axis=0))[:, :-1] == 0)
    if flat.mean() > 0.5:
        return PhotoVerdict(False, f"flat areas: {flat.mean():.2f}")
    return PhotoVerdict(True, "photo")
