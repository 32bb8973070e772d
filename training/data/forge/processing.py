"""Processed reals, the hard negatives: real photos that were only resized, blurred,
sharpened, recompressed, denoised or tone-mapped are still real (label 0).

Without them a detector learns "smooth = fake" or "resampled = fake" and flags every blurred
snapshot and resized web image. Each processed copy is a chain of one to three classical
operations, then an encode (JPEG, double JPEG, WebP, a screenshot-like PNG, or a phone's HEIC or
AVIF), all recorded.

A resize changes the size; the caller passes a window of the photo large enough that the
processed pixels cover the crop size (`source_window`), then cuts the crop from the result."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from training.data.imageformat import heic_encoder

VERSION = "2"  # 2: HEIC and AVIF encodes

RESAMPLERS = {"bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS, "bilinear": Image.BILINEAR, "area": Image.BOX}
PIXEL_OPS = ("resize", "gaussian_blur", "unsharp_mask", "denoise", "tone")
ENCODES = ("jpeg", "double_jpeg", "webp", "png_resave", "heic", "avif")


def draw(rng: np.random.Generator) -> list[dict]:
    """One to three pixel operations in a random order, then one encode."""
    ops: list[dict] = []
    for name in rng.permutation(PIXEL_OPS)[: int(rng.integers(1, 4))]:
        if name == "resize":
            # half the resizes go down, half up: both are everyday processing
            factor = float(rng.uniform(0.5, 1.0)) if rng.random() < 0.5 else float(rng.uniform(1.0, 2.0))
            ops.append({"op": "resize", "factor": round(factor, 3), "resampler": str(rng.choice(list(RESAMPLERS)))})
        elif name == "gaussian_blur":
            ops.append({"op": "gaussian_blur", "sigma": round(float(rng.uniform(0.5, 1.5)), 3)})
        elif name == "unsharp_mask":  # phone cameras sharpen with a small radius and a strong amount
            ops.append({"op": "unsharp_mask", "radius": round(float(rng.uniform(0.8, 2.5)), 2),
                        "percent": int(rng.integers(50, 201)), "threshold": int(rng.integers(0, 4))})
        elif name == "denoise":
            ops.append({"op": "denoise", "method": str(rng.choice(["median3", "wavelet", "tv"]))})
        else:
            ops.append({"op": "tone", "gamma": round(float(rng.uniform(0.7, 1.4)), 3),
                        "contrast": round(float(rng.uniform(0.85, 1.2)), 3)})
    encode = str(rng.choice(ENCODES))
    if encode == "jpeg":
        ops.append({"op": "jpeg", "quality": int(rng.integers(30, 96))})
    elif encode == "double_jpeg":
        ops.append({"op": "double_jpeg", "first": int(rng.integers(60, 96)), "quality": int(rng.integers(30, 96))})
    elif encode == "webp":
        ops.append({"op": "webp", "quality": int(rng.integers(40, 96))})
    elif encode in ("heic", "avif"):  # phones save HEIC; both codecs' in-loop filters smooth like a decoder
        ops.append({"op": encode, "quality": int(rng.integers(40, 91))})
    else:
        ops.append({"op": "png_resave"})
    return ops


def scale(ops: list[dict]) -> float:
    """Output size / input size of the whole chain."""
    factor = 1.0
    for op in ops:
        if op["op"] == "resize":
            factor *= op["factor"]
    return factor


def source_window(size: int, ops: list[dict]) -> int:
    """Side of the input window whose processed result is at least `size` pixels."""
    return int(np.ceil(size / scale(ops))) + 2


def _denoise(image: Image.Image, method: str) -> Image.Image:
    if method == "median3":
        return image.filter(ImageFilter.MedianFilter(3))
    from skimage.restoration import denoise_tv_chambolle, denoise_wavelet

    array = np.asarray(image).astype(np.float32) / 255.0
    if method == "wavelet":  # BayesShrink, as photo editors' "reduce noise" does (a bilateral is 20x slower)
        out = denoise_wavelet(array, channel_axis=-1, rescale_sigma=True, method="BayesShrink", mode="soft")
    else:
        out = denoise_tv_chambolle(array, weight=0.04, channel_axis=-1)
    # BayesShrink's noise estimate is NaN on a channel without detail (a flat sky, a clipped red):
    # such a channel has nothing to denoise, so it keeps its values instead of casting NaN to black
    out = np.where(np.isfinite(out), out, array)
    return Image.fromarray(np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8))


def _tone(image: Image.Image, gamma: float, contrast: float) -> Image.Image:
    levels = np.arange(256, dtype=np.float64) / 255.0
    curve = np.clip(((levels**gamma) - 0.5) * contrast + 0.5, 0.0, 1.0)
    return image.point(list(np.round(curve * 255).astype(int)) * 3)


def apply_pixels(rgb: np.ndarray, ops: list[dict]) -> np.ndarray:
    image = Image.fromarray(rgb)
    for op in ops:
        kind = op["op"]
        if kind == "resize":
            size = (max(1, round(image.width * op["factor"])), max(1, round(image.height * op["factor"])))
            image = image.resize(size, RESAMPLERS[op["resampler"]])
        elif kind == "gaussian_blur":
            image = image.filter(ImageFilter.GaussianBlur(op["sigma"]))
        elif kind == "unsharp_mask":
            image = image.filter(ImageFilter.UnsharpMask(op["radius"], op["percent"], op["threshold"]))
        elif kind == "denoise":
            image = _denoise(image, op["method"])
        elif kind == "tone":
            image = _tone(image, op["gamma"], op["contrast"])
    return np.asarray(image.convert("RGB"))


def encode(rgb: np.ndarray, ops: list[dict], mode: str = "RGB") -> bytes:
    """The chain's final encode; `mode` "L" keeps a greyscale photo greyscale."""
    final = ops[-1]
    image = Image.fromarray(rgb)
    if mode == "L":
        image = image.convert("L")
    buffer = io.BytesIO()
    if final["op"] == "jpeg":
        image.save(buffer, "JPEG", quality=final["quality"])
    elif final["op"] == "double_jpeg":
        first = io.BytesIO()
        image.save(first, "JPEG", quality=final["first"])
        Image.open(first).save(buffer, "JPEG", quality=final["quality"])
    elif final["op"] == "webp":
        image.save(buffer, "WEBP", quality=final["quality"], method=4)
    elif final["op"] == "heic":
        heic_encoder().from_pillow(image).save(buffer, quality=final["quality"])
    elif final["op"] == "avif":
        image.save(buffer, "AVIF", quality=final["quality"])
    elif final["op"] == "png_resave":
        image.save(buffer, "PNG", compress_level=6)
    else:
        raise ValueError(f"the last processing step must be an encode, got {final['op']!r}")
    return buffer.getvalue()
