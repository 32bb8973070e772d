"""Safe decoding of untrusted image bytes into an RGB array.

Every path out of here is either a :class:`DecodedImage` or a :class:`DecodeError`
with a message a person can read; no Pillow exception escapes.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF through libheif. pi-heif decodes only: no GPL x265 encoder in the app or its installer.
    import pi_heif

    pi_heif.register_heif_opener()
except ImportError:  # pragma: no cover - the plugin is a declared dependency
    pi_heif = None

# 100 megapixels: far above any camera, far below what would exhaust memory
# (3 bytes per pixel plus Pillow's working copies).
MAX_PIXELS = 100_000_000
MAX_FILE_BYTES = 200 * 1024 * 1024

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "AVIF", "HEIF")


class DecodeError(ValueError):
    """The bytes are not an image SynthSpot can read; the message says why."""


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray  # uint8 [H, W, 3], EXIF orientation applied
    format: str  # Pillow's format name, e.g. "JPEG"
    width: int
    height: int
    mode: str  # the mode before conversion to RGB, e.g. "P", "I;16", "CMYK"
    jpeg_quality: int | None  # estimated from the quantisation tables, JPEG only
    frames: int  # >1 for animations; only the first frame is scanned


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    if not data:
        raise DecodeError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise DecodeError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between max_pixels and 2x; we check ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise DecodeError("not an image, or a format SynthSpot cannot read") from None
    except Image.DecompressionBombError:
        raise DecodeError("the image is too large to decode safely") from None
    except Exception as exc:  # Pillow raises a zoo of types on hostile headers
        raise DecodeError(f"the image header is damaged ({type(exc).__name__})") from None

    with image:
        fmt = (image.format or "").upper()
        if fmt not in SUPPORTED_FORMATS:
            raise DecodeError(f"{fmt or 'this'} images are not supported")
        width, height = image.size
        if width < 1 or height < 1:
            raise DecodeError("the image has no pixels")
        if width * height > max_pixels:
            raise DecodeError(
                f"the image is {width}x{height} ({width * height / 1e6:.0f} MP), above the "
                f"{max_pixels / 1e6:.0f} MP safety limit"
            )
        frames = getattr(image, "n_frames", 1)
        quality = estimate_jpeg_quality(image) if fmt in ("JPEG", "MPO") else None
        mode = image.mode
        try:
            image.seek(0)
            image.load()
            rgb_image = _to_rgb(ImageOps.exif_transpose(image))
        except Image.DecompressionBombError:
            raise DecodeError("the image is too large to decode safely") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise DecodeError(f"the image data is truncated or corrupt ({_short(exc)})") from None
        rgb = np.asarray(rgb_image, dtype=np.uint8)
    return DecodedImage(
        rgb=rgb,
        format="JPEG" if fmt == "MPO" else fmt,
        width=rgb.shape[1],
        height=rgb.shape[0],
        mode=mode,
        jpeg_quality=quality,
        frames=frames,
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit RGB on purpose, not by Pillow's defaults."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit/32-bit grey: scale the real range down to 8 bits instead of clipping.
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        grey = np.clip(array * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB")
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        grey = np.clip((array - lo) * scale + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB")
    if mode == "P" or mode == "PA":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa"):
        # Composite on white, the background a viewer shows transparent areas on.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # L, 1, CMYK, YCbCr, LAB, HSV: Pillow's conversions are the right ones.
    return image.convert("RGB")


def estimate_jpeg_quality(image: Image.Image) -> int | None:
    """Estimate the libjpeg quality factor (1-100) from the luminance quantisation table."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables:
        return None
    table = np.asarray(tables[0], dtype=np.float64)
    if table.size != 64:
        return None
    # Standard IJG luminance table (natural order, which is how Pillow reports it since 8.3).
    base = np.asarray(_IJG_LUMINANCE, dtype=np.float64)
    best_quality, best_error = None, float("inf")
    for quality in range(1, 101):
        scale = 5000 / quality if quality < 50 else 200 - 2 * quality
        expected = np.clip(np.floor((base * scale + 50) / 100), 1, 255)
        error = float(np.abs(np.sort(expected) - np.sort(table)).mean())
        if error < best_error:
            best_quality, best_error = quality, error
    return best_quality


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."


_IJG_LUMINANCE = [
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
]
