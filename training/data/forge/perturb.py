"""Semantics-preserving perturbations (GAMMA): downscale 0.5-0.9x, Gaussian blur, slight
colour and gamma shifts, then a final JPEG (quality range) or WebP encode. One parameter draw
is applied identically to a real photo and to each of its fakes, and recorded on each."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


def draw(rng: np.random.Generator) -> list[dict]:
    """An ordered list of operations; the last one always says how the file is encoded."""
    ops: list[dict] = []
    if rng.random() < 0.35:
        ops.append({"op": "downscale", "factor": round(float(rng.uniform(0.5, 0.9)), 3)})
    if rng.random() < 0.3:
        ops.append({"op": "gaussian_blur", "sigma": round(float(rng.uniform(0.3, 1.5)), 3)})
    if rng.random() < 0.5:
        ops.append({
            "op": "colour",
            "brightness": round(float(rng.uniform(0.95, 1.05)), 3),
            "saturation": round(float(rng.uniform(0.9, 1.1)), 3),
            "gamma": round(float(rng.uniform(0.9, 1.1)), 3),
        })
    codec = rng.random()
    if codec < 0.55:
        ops.append({"op": "jpeg", "quality": int(rng.integers(65, 101))})
    elif codec < 0.8:
        ops.append({"op": "webp", "quality": int(rng.integers(70, 101))})
    else:
        ops.append({"op": "keep_format"})
    return ops


def scaled_size(width: int, height: int, ops: list[dict]) -> tuple[int, int]:
    for op in ops:
        if op["op"] == "downscale":
            return max(1, round(width * op["factor"])), max(1, round(height * op["factor"]))
    return width, height


def apply_pixels(rgb: np.ndarray, ops: list[dict]) -> np.ndarray:
    """Every pixel operation (the encode is the caller's: see final_encoding)."""
    image = Image.fromarray(rgb)
    for op in ops:
        if op["op"] == "downscale":
            image = image.resize(scaled_size(image.width, image.height, [op]), Image.LANCZOS)
        elif op["op"] == "gaussian_blur":
            image = image.filter(ImageFilter.GaussianBlur(op["sigma"]))
        elif op["op"] == "colour":
            image = ImageEnhance.Brightness(image).enhance(op["brightness"])
            image = ImageEnhance.Color(image).enhance(op["saturation"])
            lut = [min(255, round(255 * (i / 255) ** op["gamma"])) for i in range(256)] * 3
            image = image.point(lut)
    return np.asarray(image)


def apply_mask(mask: np.ndarray, ops: list[dict]) -> np.ndarray:
    """Masks follow geometry only (nearest neighbour keeps them binary / coded)."""
    size = scaled_size(mask.shape[1], mask.shape[0], ops)
    if size == (mask.shape[1], mask.shape[0]):
        return mask
    return np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))


def final_encoding(ops: list[dict]) -> dict:
    return ops[-1]
