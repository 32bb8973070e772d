"""Any decoded Pillow image to 8-bit RGB, strip by strip, into one preallocated array.

Converting the whole image at once costs several full-size copies (a float64 array alone is
8 bytes a pixel); a hostile 100 MP file then needs gigabytes. Here the only full-size buffers
are Pillow's decoded image and the uint8 result; every intermediate is one strip of rows.
"""

from __future__ import annotations

import warnings
from typing import cast

import numpy as np
from PIL import Image

# About 4M pixels a strip: intermediates stay under ~100 MB whatever the image size, and strips are long
# enough that the per-strip overhead does not show (1M-pixel strips were measurably slower).
STRIP_PIXELS = 1 << 22

_ALPHA_MODES = ("RGBA", "LA", "La", "RGBa", "PA")
_GREY_16 = ("I;16", "I;16B", "I;16L", "I;16N")

# What Pillow keeps in memory for one pixel of each mode (RGB and the 3-channel modes are stored as 4 bytes).
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, **{m: 2 for m in _GREY_16}}


def stored_bytes_per_pixel(mode: str) -> int:
    return _STORED_BYTES.get(mode, 4)


def to_rgb_array(image: Image.Image, strip_pixels: int = STRIP_PIXELS) -> np.ndarray:
    """uint8 [H, W, 3] from a loaded image of any mode, converted on purpose rather than by Pillow's defaults:
    transparency on white (what a viewer shows), 16- and 32-bit grey scaled to 8 bits instead of clipped."""
    width, height = image.size
    out = np.empty((height, width, 3), np.uint8)
    mode = image.mode
    if mode == "P":
        palette_on_white = _palette_on_white(image)
    elif mode in _ALPHA_MODES:
        convert = _on_white
    elif mode in _GREY_16:
        convert = _grey16
    elif mode == "I":
        convert = _grey32_converter(image)
    elif mode == "F":
        convert = _float_converter(image, strip_pixels)
    elif mode == "RGB":
        convert = _rgb_bytes
    else:  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX: Pillow's conversions are the right ones
        def convert(strip):
            return np.asarray(strip.convert("RGB"))
    for top, strip in _strips(image, strip_pixels):
        target = out[top:top + strip.size[1]]
        if mode == "P":  # straight into the result: no strip-sized RGB copy at all
            np.take(palette_on_white, np.asarray(strip), axis=0, out=target)
            continue
        rgb = convert(strip)
        target[...] = rgb if rgb.ndim == 3 else rgb[..., None]
    return out


def _strips(image: Image.Image, strip_pixels: int):
    width, height = image.size
    rows = max(1, strip_pixels // max(width, 1))
    if rows >= height:  # one strip: the image itself, not a copy of it
        yield 0, image
        return
    for top in range(0, height, rows):
        yield top, image.crop((0, top, width, min(top + rows, height)))


def _rgb_bytes(strip: Image.Image) -> np.ndarray:
    """The pixels np.asarray would give, without its overheads: Pillow's raw RGB bytes, viewed."""
    width, height = strip.size
    return np.frombuffer(strip.tobytes(), np.uint8).reshape(height, width, 3)


def _palette_on_white(image: Image.Image) -> np.ndarray:
    """A palette pixel's colour depends on its index alone, so composite the 256 palette entries
    on white once ([256, 3]) and look every pixel up: 1 byte a pixel in, 3 out, nothing in between."""
    swatch = Image.frombytes("P", (256, 1), bytes(range(256)))
    entries = image.getpalette(None)  # the decoder's own palette, in its own mode (RGB or RGBA)
    if entries:
        swatch.putpalette(entries, image.im.getpalettemode())
    if "transparency" in image.info:
        swatch.info["transparency"] = image.info["transparency"]
    return _on_white(swatch.convert("RGBA"))[0]


def _on_white(strip: Image.Image) -> np.ndarray:
    rgba = np.asarray(strip.convert("RGBA")).astype(np.uint16)
    alpha = rgba[..., 3:4]
    # Integer "over" on an opaque white background, rounded: rgb*a/255 + 255*(1 - a/255).
    return ((rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _grey16(strip: Image.Image) -> np.ndarray:
    grey = np.asarray(strip).astype(np.uint32)
    return ((grey * 255 + 32767) // 65535).astype(np.uint8)


def _grey_extrema(image: Image.Image) -> tuple[float, float]:
    """The lowest and highest value of a one-band image (Pillow types it for every mode)."""
    low, high = cast(tuple[float, float], image.getextrema())
    return low, high


def _grey32_converter(image: Image.Image):
    """32-bit grey holds 8-bit or 16-bit data in practice: scale by the range that fits the content."""
    low, high = _grey_extrema(image)
    peak = 65535 if high > 255 else 255

    def convert(strip):
        grey = np.clip(np.asarray(strip), 0, peak).astype(np.int64)
        return ((grey * 255 + peak // 2) // peak).astype(np.uint8)
    return convert


def _float_converter(image: Image.Image, strip_pixels: int):
    """Floating-point grey has no fixed range: stretch the finite values present to 0..255 (NaN becomes 0)."""
    low, high = _grey_extrema(image)  # C speed; NaN and infinities send it to the numpy path below
    if np.isfinite(low) and np.isfinite(high):
        scale = 255.0 / (high - low) if high > low else 0.0
        offset = 0.5 - low * scale  # the +0.5 makes Pillow's truncation to 8 bits a rounding

        def stretch(strip):
            return np.asarray(strip.point(lambda v: v * scale + offset).convert("L"))
        return stretch
    low, high = np.inf, -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN strip
        for _, strip in _strips(image, strip_pixels):
            values = np.asarray(strip)
            finite = values[np.isfinite(values)]
            if finite.size:
                low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    if not np.isfinite(low):
        low = high = 0.0
    step = np.float32(255.0 / (high - low)) if high > low else np.float32(0.0)

    def convert(strip):
        values = np.nan_to_num(np.asarray(strip), nan=low, posinf=high, neginf=low)
        return np.clip((values - np.float32(low)) * step + np.float32(0.5), 0, 255).astype(np.uint8)
    return convert
