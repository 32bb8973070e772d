"""SynthSpot's own GAN super-resolution network (x2), trained here, as a `SuperResolver`
plug-in of the upsample domain: a generator nobody else has, so a detector cannot have met
its traces anywhere but in our data.

The design is ESRGAN's, scaled down for a CPU: a 3x3 conv in, residual-in-residual dense
blocks (RRDB: three residual dense blocks of five convs each, residual scaling 0.2), a conv,
then x2 by a conv to 4x channels + PixelShuffle (ICNR-initialised) where ESRGAN uses
nearest + conv, two more convs; the output is added to a bilinear upsample of the input
(residual learning: far quicker to train on a CPU budget). Trained by train_sr_gan.py, whose
docstring holds the command and the bundled weights' figures (val PSNR 31.7 vs bicubic 30.3).

Weights: training/data/weights/own_sr/generator.safetensors (fp16) + generator.json (config,
metrics). Without them the plug-in group is empty (nothing registered, nothing fails).
Inference is float32 on the CPU in overlapping tiles (bounded memory on any photo size)."""
from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.data import packages
from training.data.forge.autoencoder import icnr_
from training.data.forge.base import SuperResolver
from training.data.forge.tiling import upscale_tiled

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "own_sr"
NAME, FAMILY = "synthspot-esrgan-lite-x2", "synthspot-esrgan"


@dataclass(frozen=True)
class GeneratorConfig:
    features: int = 32
    growth: int = 16  # channels each dense conv adds
    blocks: int = 2  # RRDBs
    factor: int = 2


class ResidualDenseBlock(nn.Module):
    def __init__(self, features: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(features + i * growth, growth if i < 4 else features, 3, padding=1) for i in range(5))
        for conv in self.convs:  # ESRGAN's small init keeps the deep residual stack stable
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(features, 1))
            if i < 4:
                features.append(F.leaky_relu(out, 0.2))
        return x + 0.2 * out


class RRDB(nn.Module):
    def __init__(self, features: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(*(ResidualDenseBlock(features, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.body(x)


class ESRGANLite(nn.Module):
    """NCHW float in [0, 1] in, (factor*H)x(factor*W) out (not clamped)."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        if config.factor != 2:
            raise ValueError("ESRGANLite is a x2 network")
        self.config = config
        f = config.features
        self.conv_first = nn.Conv2d(3, f, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(f, config.growth) for _ in range(config.blocks)))
        self.conv_body = nn.Conv2d(f, f, 3, padding=1)
        self.upsample = nn.Conv2d(f, 4 * f, 3, padding=1)
        icnr_(self.upsample.weight)
        self.conv_hr = nn.Conv2d(f, f, 3, padding=1)
        self.conv_last = nn.Conv2d(f, 3, 3, padding=1)
        nn.init.zeros_(self.conv_last.weight)  # starts as the bilinear upsample
        nn.init.zeros_(self.conv_last.bias)

    @property
    def last_layer(self) -> torch.Tensor:
        return self.conv_last.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.conv_first(x)
        features = first + self.conv_body(self.body(first))
        features = F.leaky_relu(F.pixel_shuffle(self.upsample(features), 2), 0.2)
        residual = self.conv_last(F.leaky_relu(self.conv_hr(features), 0.2))
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) + residual


def save(model: ESRGANLite, directory: str | Path, metrics: dict | None = None) -> None:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}, directory / "generator.safetensors")
    (directory / "generator.json").write_text(json.dumps({"config": asdict(model.config), "metrics": metrics or {}}, indent=1))


def load(directory: str | Path) -> ESRGANLite:
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = json.loads((directory / "generator.json").read_text())
    model = ESRGANLite(GeneratorConfig(**meta["config"]))
    model.load_state_dict({k: v.float() for k, v in load_file(directory / "generator.safetensors").items()})
    return model.eval()


def upscale_array(model: ESRGANLite, small: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> (2H)x(2W)x3 uint8, tile by tile."""
    return upscale_tiled(model, model.config.factor, small, channels_last=True)


class OwnSuperResolver:
    """The bundled generator; the weights load on first use."""

    name, family, factor = NAME, FAMILY, 2

    def __init__(self, directory: str | Path = WEIGHTS):
        self.directory = Path(directory)
        sha = packages.file_sha256(self.directory / "generator.safetensors")[:12]
        self.identity = f"synthspot:own_sr:{NAME}:{sha}"
        self._net: ESRGANLite | None = None
        self._lock = threading.Lock()

    def network(self) -> ESRGANLite:
        with self._lock:
            if self._net is None:
                self._net = load(self.directory).to(memory_format=torch.channels_last)
            return self._net

    def upscale(self, small: np.ndarray) -> np.ndarray:
        if small.ndim != 3 or small.shape[2] != 3 or small.dtype != np.uint8:
            raise ValueError(f"{self.name} takes HxWx3 uint8, got {small.shape} {small.dtype}")
        return upscale_array(self.network(), small)


def resolvers() -> list[SuperResolver]:
    """The registry's factory: the own network if its weights are bundled, else none."""
    return [OwnSuperResolver()] if (WEIGHTS / "generator.safetensors").exists() else []
