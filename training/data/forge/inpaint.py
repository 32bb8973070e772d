"""Inpainting (GAMMA's manipulation domain): one to three regions of the real replaced by
the other domains' generated content for the same photo, blended with a feathered mask.

The binary mask is every pixel whose blend weight is non-zero (so outside it the fake equals
the real exactly, before the final encode); the domain map says what was done to each pixel:
INPAINT where generated content dominates (blend weight >= 0.5), REAL elsewhere. Which
generators filled each region is recorded in params ("regions", "filler_families")."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import ndimage

from training.data.forge import regions
from training.data.forge.base import DOMAIN_CODES, Generated

FEATHER_FLOOR = 0.02  # blend weights below this are cut to 0 so the mask has a hard edge


class Inpaint:
    name = "inpaint"
    version = "3"

    def __init__(self, fill_domains: tuple[str, ...] = ("upsample", "reconstruct")):
        self.requires: tuple[str, ...] = fill_domains

    def generate(self, rgb: np.ndarray, rng: np.random.Generator, made: Mapping[str, Generated]) -> Generated:
        h, w = rgb.shape[:2]
        composite = rgb.astype(np.float32)
        mask = np.zeros((h, w), bool)
        domain_map = np.zeros((h, w), np.uint8)
        placed = []
        for _ in range(int(rng.integers(1, 4))):
            shape = regions.SHAPES[rng.integers(len(regions.SHAPES))]
            region = regions.draw(shape, rgb, rng)
            source = self.requires[rng.integers(len(self.requires))]
            sigma = float(rng.uniform(1.5, 4.0))
            weight = ndimage.gaussian_filter(region.astype(np.float32), sigma)
            weight = np.where(weight < FEATHER_FLOOR, 0.0, np.clip(weight * 1.5, 0.0, 1.0))[..., None]
            composite = composite * (1.0 - weight) + made[source].pixels.astype(np.float32) * weight
            mask |= weight[..., 0] > 0
            domain_map[weight[..., 0] >= 0.5] = DOMAIN_CODES["inpaint"]
            placed.append({"shape": shape, "source": source, "feather_sigma": round(sigma, 3), "area": round(float(region.mean()), 4)})
        pixels = np.clip(np.round(composite), 0, 255).astype(np.uint8)
        fillers = sorted({made[p["source"]].generator for p in placed})
        lineage = tuple(sorted({made[p["source"]].network or made[p["source"]].generator for p in placed}))
        families = sorted({made[p["source"]].family for p in placed if made[p["source"]].family})
        return Generated(pixels, "inpaint[" + ",".join(fillers) + "]", mask=mask, domain_map=domain_map,
                         params={"regions": placed, "filler_families": families}, network="inpaint", family="inpaint",
                         lineage=lineage)
