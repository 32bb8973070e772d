"""Region shapes for inpainting: boxes, smooth random blobs, and object-sized shapes taken
from the photo's own edge map (closed contours of plausible object size)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import feature
from skimage.color import rgb2gray

SHAPES = ("box", "blob", "object")


def box(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    bh, bw = int(h * rng.uniform(0.12, 0.4)), int(w * rng.uniform(0.12, 0.4))
    y, x = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
    mask = np.zeros((h, w), bool)
    mask[y : y + bh, x : x + bw] = True
    return mask


def blob(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """The largest connected piece of a thresholded smooth noise field."""
    coarse = ndimage.gaussian_filter(rng.normal(size=(max(h // 16, 8), max(w // 16, 8))), sigma=2.5)
    field = ndimage.zoom(coarse, (h / coarse.shape[0], w / coarse.shape[1]), order=1)[:h, :w]
    field = np.pad(field, ((0, h - field.shape[0]), (0, w - field.shape[1])), mode="edge")
    mask = field > np.quantile(field, 1.0 - rng.uniform(0.05, 0.2))
    labels, count = ndimage.label(mask)
    if count == 0:
        return box(h, w, rng)
    sizes = ndimage.sum(mask, labels, range(1, count + 1))
    return labels == (int(np.argmax(sizes)) + 1)


def object_shape(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A filled closed contour from Canny edges covering 2-30 % of the frame, else a blob."""
    h, w = rgb.shape[:2]
    edges = feature.canny(rgb2gray(rgb), sigma=2.0)
    closed = ndimage.binary_closing(ndimage.binary_dilation(edges, iterations=2), iterations=3)
    filled = ndimage.binary_fill_holes(closed)
    labels, count = ndimage.label(filled)
    if count:
        sizes = ndimage.sum(filled, labels, range(1, count + 1)) / (h * w)
        candidates = [i + 1 for i, s in enumerate(sizes) if 0.02 <= s <= 0.3]
        if candidates:
            return labels == candidates[rng.integers(len(candidates))]
    return blob(h, w, rng)


def draw(shape: str, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    if shape == "box":
        return box(h, w, rng)
    if shape == "blob":
        return blob(h, w, rng)
    return object_shape(rgb, rng)
