"""Where the forge cuts its aligned crops: many distinct windows per photo, at native
resolution (never resized), on the photo's 16-pixel grid so that a JPEG crop keeps the
original's 8x8 block (and 2x2 chroma) alignment when it is written with the real's tables."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = 16
MAX_OVERLAP = 0.35  # intersection over the smaller window: crops share at most this much
TRIES_PER_CROP = 40


@dataclass(frozen=True)
class Crop:
    index: int
    x: int
    y: int
    size: int

    @property
    def unit(self) -> str:
        return f"c{self.index}"

    def as_dict(self) -> dict:
        return {"index": self.index, "x": self.x, "y": self.y, "size": self.size}

    def cut(self, rgb: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(rgb[self.y : self.y + self.size, self.x : self.x + self.size])


def _overlap(a: Crop, x: int, y: int, size: int) -> float:
    width = max(0, min(a.x + a.size, x + size) - max(a.x, x))
    height = max(0, min(a.y + a.size, y + size) - max(a.y, y))
    return width * height / min(a.size, size) ** 2


def plan(width: int, height: int, count: int, sizes: tuple[int, int], rng: np.random.Generator) -> list[Crop]:
    """Up to `count` square crops with sides in `sizes` (inclusive, multiples of GRID), placed
    at random grid positions, each overlapping every other by at most MAX_OVERLAP. A photo too
    small for the smallest size gives one crop of its largest grid-aligned square."""
    low, high = (max(GRID, s // GRID * GRID) for s in sizes)
    fit = min(width, height) // GRID * GRID
    if fit < GRID:
        return []
    crops: list[Crop] = []
    for _ in range(count * TRIES_PER_CROP):
        if len(crops) == count:
            break
        size = min(fit, int(rng.integers(low // GRID, high // GRID + 1)) * GRID)
        x = int(rng.integers(0, (width - size) // GRID + 1)) * GRID
        y = int(rng.integers(0, (height - size) // GRID + 1)) * GRID
        if all(_overlap(c, x, y, size) <= MAX_OVERLAP for c in crops):
            crops.append(Crop(len(crops), x, y, size))
        if size == fit and fit < low:  # the photo holds only one window of this size
            break
    return crops


def window_around(crop: Crop, side: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a window of up to `side` pixels centred on the crop, inside the photo."""
    w, h = min(side, width), min(side, height)
    x = min(max(0, crop.x + crop.size // 2 - w // 2), width - w)
    y = min(max(0, crop.y + crop.size // 2 - h // 2), height - h)
    return x, y, w, h
