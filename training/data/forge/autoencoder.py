"""Small convolutional autoencoders in the style of Stable Diffusion's VAE and of VQGAN
(ResNet blocks with GroupNorm + SiLU, strided-conv downsampling), scaled down to train on a CPU.

Two choices make the designs differ in the traces they leave:

- `quantiser`: "kl" is a diagonal Gaussian latent (SD's AutoencoderKL, a tiny KL term in
  training); "vq" is a vector-quantised latent (VQGAN / LDM's VQ-f8): nearest-codebook
  lookup with a straight-through gradient, a commitment loss, the codebook learned by an
  exponential moving average of its assigned encoder outputs (dead codes restarted from the
  batch). `codebook_groups` > 1 splits the latent channels into groups with a codebook each
  (product quantisation: codebook_size ** groups codes per latent pixel).
- `decoder`: "nearest" is SD's nearest-neighbour upsample + 3x3 conv; "pixelshuffle" is a
  3x3 conv to 4x channels + PixelShuffle(2) (ICNR-initialised, so it starts out as a nearest
  upsample and its checkerboard is whatever training leaves).

Configs saved before these options existed (no such keys in autoencoder.json) load as
quantiser="kl", decoder="nearest", the only design there was."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

QUANTISERS = ("kl", "vq")
DECODERS = ("nearest", "pixelshuffle")
DEAD_CODE_FRACTION = 0.1  # a code chosen under a tenth as often as the average one is restarted


@dataclass(frozen=True)
class AutoencoderConfig:
    channels: tuple[int, ...] = (32, 64, 96)  # one entry per resolution; len-1 downsamplings
    latent_channels: int = 4
    groups: int = 8  # GroupNorm groups
    quantiser: str = "kl"  # "kl" | "vq"
    decoder: str = "nearest"  # "nearest" | "pixelshuffle"
    codebook_size: int = 512  # vq only: codes per codebook
    codebook_groups: int = 1  # vq only: latent channels split into this many codebooks
    commitment: float = 0.25  # vq only: weight of |z_e - sg(z_q)|^2

    def __post_init__(self):
        if self.quantiser not in QUANTISERS:
            raise ValueError(f"quantiser must be one of {QUANTISERS}, got {self.quantiser!r}")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.latent_channels % self.codebook_groups:
            raise ValueError("latent_channels must be a multiple of codebook_groups")

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.channels) - 1)

    @property
    def network(self) -> str:
        """Short name: "synthspot-kl-f8", "synthspot-kl-f8-pixelshuffle", "synthspot-vq-f8"."""
        return f"synthspot-{self.quantiser}-f{self.downsampling}" + ("" if self.decoder == "nearest" else f"-{self.decoder}")

    @property
    def family(self) -> str:
        return "vq" if self.quantiser == "vq" else f"kl-{self.decoder}"


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


def icnr_(weight: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """ICNR init (Aitken et al. 2017) of a conv feeding PixelShuffle(scale): the sub-pixel
    kernels start identical, so the shuffle starts out as a nearest-neighbour upsample."""
    out_channels = weight.shape[0] // scale**2
    base = torch.empty(out_channels, *weight.shape[1:])
    nn.init.kaiming_normal_(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(scale**2, dim=0))
    return weight


def upsample_block(channels: int, decoder: str) -> list[nn.Module]:
    if decoder == "nearest":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(channels, channels, 3, padding=1)]
    conv = nn.Conv2d(channels, 4 * channels, 3, padding=1)
    icnr_(conv.weight)
    nn.init.zeros_(conv.bias)
    return [conv, nn.PixelShuffle(2)]


class VectorQuantiser(nn.Module):
    """EMA vector quantiser over `groups` codebooks of `size` codes (each latent_channels/groups wide).

    forward(z) -> (z_q with a straight-through gradient, commitment loss, code indices). The
    codebooks are buffers updated by EMA in training mode (not by the optimiser); the EMA
    statistics are not saved (resuming restarts them from the codebook)."""

    def __init__(self, channels: int, size: int, groups: int = 1, commitment: float = 0.25, decay: float = 0.99):
        super().__init__()
        self.size, self.groups, self.dim = size, groups, channels // groups
        self.commitment, self.decay = commitment, decay
        self.register_buffer("codebook", torch.randn(groups, size, self.dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(groups, size), persistent=False)
        self.register_buffer("ema_sum", self.codebook.clone(), persistent=False)
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool), persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        with torch.no_grad():  # a loaded codebook is trained: restart the EMA statistics from it
            self.ema_count.fill_(1.0)
            self.ema_sum.copy_(self.codebook)
            self.initialised.fill_(True)

    def lookup(self, flat: torch.Tensor) -> torch.Tensor:
        """flat: (groups, M, dim) -> indices (groups, M)."""
        distances = (flat.pow(2).sum(-1, keepdim=True) - 2 * flat @ self.codebook.transpose(1, 2)
                     + self.codebook.pow(2).sum(-1)[:, None, :])
        return distances.argmin(-1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, c, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.groups, self.dim).transpose(0, 1)  # (G, M, d)
        if self.training and not bool(self.initialised):
            self._initialise(flat.detach())
        indices = self.lookup(flat.detach())
        quantised = torch.gather(self.codebook, 1, indices[..., None].expand(-1, -1, self.dim))
        if self.training:
            self._ema_update(flat.detach(), indices)
        z_q = quantised.transpose(0, 1).reshape(n, h, w, c).permute(0, 3, 1, 2)
        commitment = self.commitment * F.mse_loss(z, z_q.detach())
        z_q = z + (z_q - z).detach()  # straight-through estimator: the decoder's gradient reaches the encoder
        return z_q, commitment, indices.transpose(0, 1).reshape(n, h, w, self.groups)

    @torch.no_grad()
    def _initialise(self, flat: torch.Tensor) -> None:
        for g in range(self.groups):
            picks = torch.randint(flat.shape[1], (self.size,), device=flat.device)
            self.codebook[g] = flat[g, picks] + 1e-3 * torch.randn_like(flat[g, picks])
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        one_hot = F.one_hot(indices, self.size).type(flat.dtype)  # (G, M, K)
        count = one_hot.sum(1)
        self.ema_count.mul_(self.decay).add_(count, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(one_hot.transpose(1, 2) @ flat, alpha=1 - self.decay)
        total = self.ema_count.sum(-1, keepdim=True)
        smoothed = (self.ema_count + 1e-5) / (total + self.size * 1e-5) * total  # Laplace smoothing
        self.codebook.copy_(self.ema_sum / smoothed[..., None])
        # dead codes (almost never chosen lately) restart at random encoder outputs of this batch
        dead = self.ema_count < DEAD_CODE_FRACTION * self.ema_count.mean(-1, keepdim=True)
        for g in range(self.groups):
            number = int(dead[g].sum())
            if number:
                picks = torch.randint(flat.shape[1], (number,), device=flat.device)
                self.codebook[g, dead[g]] = flat[g, picks] + 1e-3 * torch.randn_like(flat[g, picks])
                self.ema_sum[g, dead[g]] = self.codebook[g, dead[g]]
                self.ema_count[g, dead[g]] = 1.0


class Autoencoder(nn.Module):
    """Input and output in [-1, 1], NCHW; H and W must be multiples of `downsampling`.

    forward(x, sample) -> (reconstruction, latent, penalty): the latent is the Gaussian's mean
    (kl) or the encoder output before quantisation (vq); the penalty is the KL divergence to
    N(0, 1) (kl, unweighted) or the commitment loss (vq, weighted by config.commitment)."""

    def __init__(self, config: AutoencoderConfig = AutoencoderConfig()):
        super().__init__()
        self.config = config
        c, g = config.channels, config.groups
        encoder: list[nn.Module] = [nn.Conv2d(3, c[0], 3, padding=1)]
        for level, width in enumerate(c):
            encoder.append(ResnetBlock(c[max(level - 1, 0)] if level else c[0], width, g))
            if level < len(c) - 1:
                encoder.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        moments = 2 * config.latent_channels if config.quantiser == "kl" else config.latent_channels
        encoder += [ResnetBlock(c[-1], c[-1], g), nn.GroupNorm(g, c[-1]), nn.SiLU(), nn.Conv2d(c[-1], moments, 3, padding=1)]
        self.encoder = nn.Sequential(*encoder)
        if config.quantiser == "vq":
            self.quantiser = VectorQuantiser(config.latent_channels, config.codebook_size, config.codebook_groups, config.commitment)
        decoder: list[nn.Module] = [nn.Conv2d(config.latent_channels, c[-1], 3, padding=1), ResnetBlock(c[-1], c[-1], g)]
        for level in reversed(range(len(c))):
            decoder.append(ResnetBlock(c[min(level + 1, len(c) - 1)], c[level], g))
            if level > 0:
                decoder += upsample_block(c[level], config.decoder)
        decoder += [nn.GroupNorm(g, c[0]), nn.SiLU(), nn.Conv2d(c[0], 3, 3, padding=1)]
        self.decoder = nn.Sequential(*decoder)

    @property
    def last_layer(self) -> torch.Tensor:
        """The decoder's output conv weight (where the GAN loss's adaptive weight is measured)."""
        return self.decoder[-1].weight

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """kl: (mean, logvar); vq: (encoder output, an empty tensor)."""
        if self.config.quantiser == "vq":
            return self.encoder(x), x.new_zeros(0)
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor, sample: bool = True):
        if self.config.quantiser == "vq":
            z_e = self.encoder(x)
            z_q, commitment, _ = self.quantiser(z_e)
            return self.decode(z_q), z_e, commitment
        mean, logvar = self.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
        return self.decode(z), mean, kl


def transplant(source: Autoencoder, target: Autoencoder) -> list[str]:
    """Copy the trained full-resolution layers of `source` into `target` (e.g. a KL-f4 into a new
    KL-f8): the encoder's modules from the input on and the decoder's from the output back, as long
    as each module's tensors have the same shapes. Those layers draw the fine texture, which an f8
    learns slowest on a CPU budget. Returns the names copied into `target`'s state."""
    copied: list[str] = []
    for part, from_output in (("encoder", False), ("decoder", True)):
        mine, theirs = getattr(target, part), getattr(source, part)
        pairs = list(zip(reversed(mine), reversed(theirs), strict=False) if from_output else zip(mine, theirs, strict=False))
        offset = len(mine) - len(theirs) if from_output else 0
        for index, (into, out_of) in enumerate(pairs):
            into_state, from_state = into.state_dict(), out_of.state_dict()
            if into_state.keys() != from_state.keys() or any(into_state[k].shape != from_state[k].shape for k in into_state):
                break
            into.load_state_dict(from_state)
            position = len(theirs) - 1 - index + offset if from_output else index
            copied += [f"{part}.{position}.{name}" for name in into_state]
    return copied


KLAutoencoder = Autoencoder  # the name from when KL was the only quantiser


def save(model: Autoencoder, directory: str | Path, metrics: dict | None = None) -> None:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, directory / "autoencoder.safetensors")
    config = asdict(model.config)
    (directory / "autoencoder.json").write_text(json.dumps({"config": config, "metrics": metrics or {}}, indent=1))


def read_config(directory: str | Path) -> AutoencoderConfig:
    meta = json.loads((Path(directory) / "autoencoder.json").read_text())
    return AutoencoderConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})


def load(directory: str | Path) -> Autoencoder:
    from safetensors.torch import load_file

    directory = Path(directory)
    model = Autoencoder(read_config(directory))
    model.load_state_dict({k: v.float() for k, v in load_file(directory / "autoencoder.safetensors").items()})
    return model.eval()
