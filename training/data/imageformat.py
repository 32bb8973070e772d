"""File-format alignment: a fake is written exactly the way its real is written.

Policy (chosen to keep real and fake indistinguishable by container statistics):
- JPEG reals: both the real and each fake are encoded once more with the real's own
  quantisation tables and chroma subsampling (so the same "quality" bit-exactly, even for
  camera tables that no IJG quality reproduces). The IJG-equivalent quality estimated from
  the luminance table is recorded. Both then carry one final encode on an identical 8x8
  grid; the real also carries its original encode, which at identical tables is close to
  idempotent, and that is the residual difference we accept.
- Lossy WebP reals: both re-encoded as WebP at a fixed quality (no table to read back).
- HEIC and AVIF reals (phones): both re-encoded in the real's own format at a fixed quality, so the
  codec's traces are on the fakes too, not only on the real.
- Everything else (PNG, lossless WebP, TIFF, BMP, GIF): both written as PNG.
- Pixel mode follows the real: a greyscale real gets greyscale fakes.
"""
from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field

import numpy as np
import pi_heif
from PIL import Image, JpegImagePlugin

# Phones save HEIC: photos added to the corpus and processed reals come in it, and every reader of
# them (the photo filter, the forge, the manifest's records) opens bytes through this module.
pi_heif.register_heif_opener()

WEBP_QUALITY = 90
LOSSY_QUALITY = 90  # HEIC and AVIF reals and their fakes


def heic_encoder():
    """pillow-heif, the training extra that carries libheif's x265 encoder (the app's pi-heif only
    decodes, to keep GPL code out of the installer)."""
    try:
        import pillow_heif
    except ImportError as error:
        raise RuntimeError("writing HEIC needs pillow-heif: pip install -e '.[train]'") from error
    return pillow_heif


@dataclass(frozen=True)
class EncodeSpec:
    """How a real photo (and therefore each of its fakes) is written to disk."""

    format: str  # "JPEG", "WEBP", "HEIF", "AVIF" or "PNG"
    mode: str  # "RGB" or "L"
    jpeg_quality: int | None = None  # IJG-equivalent estimate, recorded for every sample
    qtables: tuple | None = field(default=None, compare=False, repr=False)  # None: use jpeg_quality
    subsampling: int = -1
    webp_quality: int = WEBP_QUALITY

    @property
    def extension(self) -> str:
        return {"JPEG": ".jpg", "WEBP": ".webp", "HEIF": ".heic", "AVIF": ".avif", "PNG": ".png"}[self.format]


@functools.lru_cache(maxsize=1)
def _ijg_luma_tables() -> dict[int, np.ndarray]:
    """Luminance tables that libjpeg writes at each quality, in Pillow's own ordering."""
    tables = {}
    probe = Image.new("L", (8, 8))
    for quality in range(1, 101):
        buffer = io.BytesIO()
        probe.save(buffer, "JPEG", quality=quality)
        tables[quality] = np.array(Image.open(buffer).quantization[0], dtype=np.float64)
    return tables


def estimate_jpeg_quality(image: Image.Image) -> int:
    """IJG quality whose luminance table is closest to the image's (least squares)."""
    luma = np.array(image.quantization[0], dtype=np.float64)
    errors = {q: float(np.mean((table - luma) ** 2)) for q, table in _ijg_luma_tables().items()}
    return min(errors, key=errors.get)


def _is_lossy_webp(data: bytes) -> bool:
    # A lossless WebP stores a VP8L chunk; a lossy one VP8 (possibly inside VP8X).
    return b"VP8 " in data[:4096]


def encode_spec_for(data: bytes) -> EncodeSpec:
    """Read a real photo's bytes and decide how it and its fakes are written."""
    image = Image.open(io.BytesIO(data))
    mode = "L" if image.mode in ("L", "I;16", "I", "1", "LA") else "RGB"
    if image.format == "JPEG":
        return EncodeSpec(
            "JPEG",
            mode,
            jpeg_quality=estimate_jpeg_quality(image),
            qtables=tuple(tuple(t) for t in image.quantization.values()),
            subsampling=JpegImagePlugin.get_sampling(image),
        )
    if image.format == "WEBP" and _is_lossy_webp(data):
        return EncodeSpec("WEBP", mode)
    if image.format in ("HEIF", "AVIF"):
        return EncodeSpec(image.format, mode)
    return EncodeSpec("PNG", mode)


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode to HxWx3 uint8 RGB (alpha composited on white, 16-bit reduced to 8-bit)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    if image.mode in ("I;16", "I;16B", "I"):
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(array / max(array.max(), 1) * 255, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"))


def encode(pixels: np.ndarray, spec: EncodeSpec) -> bytes:
    """Write pixels the way `spec` says: the real's own JPEG tables when it has them."""
    image = Image.fromarray(pixels)
    if spec.mode == "L":
        image = image.convert("L")
    buffer = io.BytesIO()
    if spec.format == "JPEG":
        subsampling = spec.subsampling if spec.subsampling >= 0 else 0
        if spec.qtables is None:
            image.save(buffer, "JPEG", quality=spec.jpeg_quality, subsampling=subsampling)
        else:
            image.save(buffer, "JPEG", qtables=[list(t) for t in spec.qtables], subsampling=subsampling)
    elif spec.format == "WEBP":
        image.save(buffer, "WEBP", quality=spec.webp_quality, method=4)
    elif spec.format == "HEIF":
        heic_encoder().from_pillow(image).save(buffer, quality=LOSSY_QUALITY)
    elif spec.format == "AVIF":
        image.save(buffer, "AVIF", quality=LOSSY_QUALITY)
    else:
        image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def read_jpeg_quality(data: bytes) -> int | None:
    """Estimated quality of encoded bytes, or None when they are not JPEG."""
    image = Image.open(io.BytesIO(data))
    return estimate_jpeg_quality(image) if image.format == "JPEG" else None
