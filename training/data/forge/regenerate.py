"""Regeneration: the real photo redrawn at its own size by a neural image-to-image network
(a denoiser after added camera noise, a frame interpolator between the photo and a shifted
copy). Every pixel comes out of a network, but nothing is resampled: a trace that neither
upsampling nor an autoencoder leaves."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from training.data.forge.base import Generated, Regenerator


class Regenerate:
    name = "regenerate"
    version = "1"
    requires: tuple[str, ...] = ()

    def __init__(self, networks: Sequence[Regenerator]):
        if not networks:
            raise ValueError("the regenerate domain needs at least one network")
        self.networks = list(networks)
        self.identity = ",".join(n.identity for n in self.networks)

    def generate(self, rgb: np.ndarray, rng: np.random.Generator, made: Mapping[str, Generated]) -> Generated:
        network = self.networks[rng.integers(len(self.networks))]
        pixels, params = network.regenerate(rgb, rng)
        if pixels.shape != rgb.shape or pixels.dtype != np.uint8:
            raise RuntimeError(f"{network.name} returned {pixels.shape} {pixels.dtype} for {rgb.shape} uint8")
        return Generated(pixels, network.identity, network=network.name, family=network.family,
                         params={"network": network.name, **params})
