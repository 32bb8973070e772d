"""A small convolutional KL autoencoder in the style of Stable Diffusion's VAE
(ResNet blocks with GroupNorm + SiLU, strided-conv downsampling, nearest-upsample + conv
in the decoder, a diagonal Gaussian latent), scaled down to train on a CPU."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class AutoencoderConfig:
    channels: tuple[int, ...] = (32, 64, 96)  # one entry per resolution; len-1 downsamplings
    latent_channels: int = 4
    groups: int = 8

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.channels) - 1)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, groups: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(groups, in_channels), nn.SiLU(), nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.GroupNorm(groups, out_channels), nn.SiLU(), nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


class KLAutoencoder(nn.Module):
    """Input and output in [-1, 1], NCHW; H and W must be multiples of `downsampling`."""

    def __init__(self, config: AutoencoderConfig = AutoencoderConfig()):
        super().__init__()
        self.config = config
        c, g = config.channels, config.groups
        encoder: list[nn.Module] = [nn.Conv2d(3, c[0], 3, padding=1)]
        for level, width in enumerate(c):
            encoder.append(ResnetBlock(c[max(level - 1, 0)] if level else c[0], width, g))
            if level < len(c) - 1:
                encoder.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        encoder += [ResnetBlock(c[-1], c[-1], g), nn.GroupNorm(g, c[-1]), nn.SiLU(), nn.Conv2d(c[-1], 2 * config.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*encoder)
        decoder: list[nn.Module] = [nn.Conv2d(config.latent_channels, c[-1], 3, padding=1), ResnetBlock(c[-1], c[-1], g)]
        for level in reversed(range(len(c))):
            decoder.append(ResnetBlock(c[min(level + 1, len(c) - 1)], c[level], g))
            if level > 0:
                decoder += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c[level], c[level], 3, padding=1)]
        decoder += [nn.GroupNorm(g, c[0]), nn.SiLU(), nn.Conv2d(c[0], 3, 3, padding=1)]
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor, sample: bool = True):
        mean, logvar = self.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        return self.decode(z), mean, logvar


def save(model: KLAutoencoder, directory: str | Path, metrics: dict | None = None) -> None:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, directory / "autoencoder.safetensors")
    config = asdict(model.config)
    (directory / "autoencoder.json").write_text(json.dumps({"config": config, "metrics": metrics or {}}, indent=1))


def load(directory: str | Path) -> KLAutoencoder:
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = json.loads((directory / "autoencoder.json").read_text())
    config = AutoencoderConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
    model = KLAutoencoder(config)
    model.load_state_dict({k: v.float() for k, v in load_file(directory / "autoencoder.safetensors").items()})
    return model.eval()
