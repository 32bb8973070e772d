"""Training augmentations, applied to real and fake crops alike so that no label hides in them.

A random window of up to twice the crop size is cut at native resolution first
(cheap, and enough room for a downscale), then: flips, sometimes a downscale
and a Gaussian blur (the forge's own perturbation code), sometimes a JPEG
re-encode at a random quality; finally the S x S training crop. Masks follow
the geometry (flip, crop, nearest-neighbour resize) and never the pixel filters.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from training.data.dataset import crop_at_native
from training.data.forge import perturb


@dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = True
    flip: bool = True
    resize_prob: float = 0.15  # resampling erases upsampling traces: keep it rare
    resize_range: tuple[float, float] = (0.5, 0.9)
    blur_prob: float = 0.15
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    jpeg_prob: float = 0.4
    jpeg_quality: tuple[int, int] = (65, 100)


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def augment_crop(
    rgb: np.ndarray, masks: list[np.ndarray], size: int, rng: np.random.Generator, config: AugmentConfig,
    anchor: tuple[int, int] | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """uint8 HxWx3 image (+ HxW masks) -> one augmented S x S crop (+ the masks' matching crops).
    ``anchor`` (y, x): the first window cut holds that pixel (a later downscale's crop may not)."""
    if not config.enabled:
        crops = crop_at_native([rgb, *masks], size, rng, anchor)
        return crops[0], crops[1:]
    ops: list[dict] = []
    if rng.random() < config.resize_prob:
        ops.append({"op": "downscale", "factor": float(rng.uniform(*config.resize_range))})
    window = size * 2 if ops else size
    arrays = crop_at_native([rgb, *masks], window, rng, anchor)
    if config.flip and rng.random() < 0.5:
        arrays = [a[:, ::-1] for a in arrays]
    if rng.random() < config.blur_prob:
        ops.append({"op": "gaussian_blur", "sigma": float(rng.uniform(*config.blur_sigma))})
    image = np.ascontiguousarray(arrays[0])
    if ops:
        image = perturb.apply_pixels(image, ops)
        arrays[1:] = [perturb.apply_mask(np.ascontiguousarray(m), ops) for m in arrays[1:]]
    if rng.random() < config.jpeg_prob:
        image = _jpeg(image, int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)))
    crops = crop_at_native([image, *arrays[1:]], size, rng)
    return np.ascontiguousarray(crops[0]), [np.ascontiguousarray(m) for m in crops[1:]]
