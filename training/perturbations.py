"""What happens to an image on its way to a viewer (re-encoding, blur, resizing), applied to the whole
image before cropping: evaluation scores each image clean and under each of these."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter


def _reencode(rgb: np.ndarray, fmt: str, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _resize(rgb: np.ndarray, factor: float, resample: Image.Resampling) -> np.ndarray:
    image = Image.fromarray(rgb)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return np.asarray(image.resize(size, resample))


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "jpeg95": lambda rgb: _reencode(rgb, "JPEG", 95),
    "jpeg75": lambda rgb: _reencode(rgb, "JPEG", 75),
    "jpeg50": lambda rgb: _reencode(rgb, "JPEG", 50),
    "blur1": lambda rgb: np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(1.0))),
    "downscale0.5": lambda rgb: _resize(rgb, 0.5, Image.LANCZOS),
    # a real photo blown up by an ordinary editor: the false alarm an upsampling detector must not raise
    "upscale2": lambda rgb: _resize(rgb, 2.0, Image.BICUBIC),
    "webp80": lambda rgb: _reencode(rgb, "WEBP", 80),
}


def parse_perturbations(text: str) -> list[str]:
    """A command line's comma list of PERTURBATIONS ('all' for every one, 'none' for none)."""
    if text == "all":
        return list(PERTURBATIONS)
    names = [name.strip() for name in text.split(",") if name.strip() and name.strip() != "none"]
    if unknown := [name for name in names if name not in PERTURBATIONS]:
        raise ValueError(f"unknown perturbation(s) {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}")
    return names
