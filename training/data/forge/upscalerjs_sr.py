"""UpscalerJS' photo super-resolution networks, as `SuperResolver` plug-ins of the upsample domain.

Fourteen networks of two designs from idealo's image-super-resolution, trained on DIV2K photos:
RDN (residual dense network: `esrgan-slim`, `esrgan-medium`, the legacy `div2k` and `psnr-small`)
and RRDN (residual-in-residual dense blocks with a pixel shuffle: `esrgan-thick`, the legacy
`gans`, trained with a GAN loss). They ship as TensorFlow.js layers-models in MIT-licensed npm
packages (`@upscalerjs/*`), fetched into the package cache and run by
training.data.forge.nets.tfjs_layers; each package also holds the output TensorFlow.js gave on
its fixture, which the tests match to one grey level.

Opt-in (training.data.forge.registry.OPT_IN_SUPER_RESOLVER_GROUPS): named with
`--super-resolvers`, never drawn by default, so the committed forges keep their bytes. They
are the first photo-trained GAN-family upsamplers the forge has, the kind of network a
detector meets in the wild; the x8 models are left out (a 256-px crop would start from 32 px).
Inference is float32 on the CPU in overlapping tiles, like the other PyTorch plug-ins."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.data import packages
from training.data.forge.base import SuperResolver
from training.data.forge.nets.tfjs_layers import TfjsLayersModel
from training.data.forge.tiling import upscale_tiled

# UpscalerJS feeds RDN models 0-255 pixels and RRDN models 0-1 (its getESRGANModelDefinition);
# the packages' own fixtures agree, and the other range misses them by up to 140 grey levels.
INPUT_SCALE = {"rdn": 255.0, "rrdn": 1.0}


@dataclass(frozen=True)
class UpscalerJsSpec:
    package: str  # npm name
    model: str  # folder under the package's models/
    name: str
    family: str  # "rdn" or "rrdn"
    factor: int
    fixture: str  # folder under assets/samples/ with TensorFlow.js' result on assets/fixture.png
    colour_cast: bool = False  # shifts a photo's mean colour: a shortcut, so never trained on (see below)


def _sizes(size: str, family: str) -> tuple[UpscalerJsSpec, ...]:
    return tuple(UpscalerJsSpec(f"@upscalerjs/esrgan-{size}", f"x{f}", f"upscalerjs-esrgan-{size}-x{f}", family, f, f"{f}x") for f in (2, 3, 4))


SPECS = (
    *_sizes("slim", "rdn"),
    *_sizes("medium", "rdn"),
    *_sizes("thick", "rrdn"),
    # The legacy DIV2K RDNs move a crop's channel means by 4-5 (x2) and 12-23 (x3, x4) grey levels, in
    # either input range (the others: under 2); a detector trained on them could learn "tinted = fake".
    # Forged for evaluation only.
    *(UpscalerJsSpec("@upscalerjs/esrgan-legacy", f"div2k/x{f}", f"upscalerjs-div2k-rdn-x{f}", "rdn", f, f"div2k/{f}x", colour_cast=True)
      for f in (2, 3, 4)),
    UpscalerJsSpec("@upscalerjs/esrgan-legacy", "psnr-small", "upscalerjs-psnr-small-rdn-x2", "rdn", 2, "psnr-small"),
    UpscalerJsSpec("@upscalerjs/esrgan-legacy", "gans", "upscalerjs-gans-rrdn-x4", "rrdn", 4, "gans"),
)

NAMES = tuple(spec.name for spec in SPECS)  # read by the registry before it fetches the package


def weights_sha256(model_json: Path) -> str:
    """One fingerprint for the graph and its shards together (either changes the network)."""
    digest = hashlib.sha256(model_json.read_bytes())
    for group in json.loads(model_json.read_text())["weightsManifest"]:
        for shard in group["paths"]:
            digest.update(bytes.fromhex(packages.file_sha256(model_json.parent / shard)))
    return digest.hexdigest()


class UpscalerJsSuperResolver:
    """One UpscalerJS network at one scale; the graph is built on first use."""

    def __init__(self, spec: UpscalerJsSpec, folder: Path, version: str):
        self.spec = spec
        self.name, self.family, self.factor = spec.name, spec.family, spec.factor
        self.package_folder = folder / "package"
        self.model_json = self.package_folder / "models" / spec.model / "model.json"
        self.identity = f"npm:{spec.package}=={version}:{spec.model}:{weights_sha256(self.model_json)[:12]}"
        self._net: TfjsLayersModel | None = None

    def network(self) -> TfjsLayersModel:
        if self._net is None:
            self._net = TfjsLayersModel(self.model_json, INPUT_SCALE[self.family]).eval()
        return self._net

    def upscale(self, small: np.ndarray) -> np.ndarray:
        if small.ndim != 3 or small.shape[2] != 3 or small.dtype != np.uint8:
            raise ValueError(f"{self.name} takes HxWx3 uint8, got {small.shape} {small.dtype}")
        with torch.inference_mode():
            return upscale_tiled(self.network(), self.factor, small)


def resolvers() -> list[SuperResolver]:
    unpacked = {package: packages.unpacked("npm", package) for package in dict.fromkeys(s.package for s in SPECS)}
    return [UpscalerJsSuperResolver(spec, *unpacked[spec.package]) for spec in SPECS]
