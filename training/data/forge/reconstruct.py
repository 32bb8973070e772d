"""Autoencoder reconstruction (SEF): a round trip through an autoencoder, the trace that
latent-diffusion decoders leave. Each image goes through one autoencoder drawn at random
(from the seeded rng) from the small ones trained here (every training/data/weights/<name>/
with an autoencoder.json; designs KL with SD's nearest-upsample decoder, KL with a
pixel-shuffle decoder, VQ; see train_autoencoder.py for which are bundled), plus a user's diffusers
AutoencoderKL directory (e.g. a local copy of the SD 2.1 VAE) when one is given with --vae.
`weights=` replaces the bundled set: a folder with one autoencoder, or a folder of such folders."""
from __future__ import annotations

import hashlib
from pathlib import Path
from collections.abc import Mapping

import numpy as np
import torch

from training.data.forge import autoencoder
from training.data.forge.base import Generated

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"  # holds one folder per bundled autoencoder


def autoencoder_folders(weights: str | Path = DEFAULT_WEIGHTS) -> list[Path]:
    """`weights` itself if it holds an autoencoder.json, else its sub-folders that do (sorted)."""
    weights = Path(weights)
    if (weights / "autoencoder.json").exists():
        return [weights]
    return sorted(p.parent for p in weights.glob("*/autoencoder.json"))


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def calibrate_colour(real: np.ndarray, recon: np.ndarray) -> tuple[np.ndarray, list]:
    """Least-squares 3x3 colour matrix + offset mapping recon onto real, applied to recon.

    A briefly trained small autoencoder leaves a global colour cast (a hue error, not a
    decoder trace); left in, the detector would learn "colour cast = fake". One global affine
    colour map removes the cast and leaves every spatial trace of the decoder in place."""
    x = np.concatenate([recon.reshape(-1, 3).astype(np.float64), np.ones((recon.shape[0] * recon.shape[1], 1))], axis=1)
    y = real.reshape(-1, 3).astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    corrected = np.clip(np.round(x @ coefficients), 0, 255).astype(np.uint8).reshape(recon.shape)
    return corrected, np.round(coefficients, 4).tolist()


class _DiffusersVAE:
    """Thin wrapper so both kinds answer `reconstruct(rgb)`."""

    def __init__(self, directory: Path):
        try:
            from diffusers import AutoencoderKL
        except ImportError as error:
            raise RuntimeError(
                "--vae needs the optional 'diffusers' package: pip install diffusers "
                "(only the AutoencoderKL class is used, loaded from your local directory)"
            ) from error
        self.model = AutoencoderKL.from_pretrained(str(directory), local_files_only=True).eval()
        self.factor = 2 ** (len(self.model.config.block_out_channels) - 1)
        weights = sorted(directory.glob("*.safetensors")) + sorted(directory.glob("*.bin"))
        tag = _fingerprint(weights[0]) if weights else "unknown"
        self.generator = f"diffusers-AutoencoderKL:{directory.name}:{tag}"
        self.network, self.family = f"diffusers-vae-{directory.name}", "diffusers-kl"
        self.colour_calibration = False  # a full-scale VAE keeps colour faithfully

    @torch.no_grad()
    def reconstruct(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        padded = np.pad(rgb, ((0, (-h) % self.factor), (0, (-w) % self.factor), (0, 0)), mode="reflect")
        x = torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        latent = self.model.encode(x).latent_dist.mode()
        y = self.model.decode(latent).sample[0, :, :h, :w]
        return ((y.clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(1, 2, 0).numpy()


class _SmallVAE:
    def __init__(self, directory: Path):
        from training.data.forge.train_autoencoder import reconstruct_array

        self.model = autoencoder.load(directory).to(memory_format=torch.channels_last)
        self._reconstruct = reconstruct_array
        config = self.model.config
        # e.g. "synthspot-kl-f8" (SD-style nearest-upsample decoder), "synthspot-kl-f8-pixelshuffle", "synthspot-vq-f8"
        self.network, self.family = config.network, config.family
        self.generator = f"{self.network}:{_fingerprint(directory / 'autoencoder.safetensors')}"
        self.colour_calibration = True  # a briefly trained small autoencoder leaves a colour cast

    def reconstruct(self, rgb: np.ndarray) -> np.ndarray:
        return self._reconstruct(self.model, rgb)


class Reconstruct:
    name = "reconstruct"
    version = "2"  # 2: one autoencoder per image drawn from several
    requires: tuple[str, ...] = ()

    def __init__(self, weights: str | Path | None = None, vae: str | Path | None = None, colour_calibration: bool | None = None):
        self.weights = Path(weights) if weights else DEFAULT_WEIGHTS
        self.vae = Path(vae) if vae else None
        # None: on for the small autoencoders, off for a user's full-scale VAE (faithful colour)
        self.colour_calibration = colour_calibration
        self._backends = None

    @property
    def backends(self) -> list:
        if self._backends is None:
            backends = [_SmallVAE(folder) for folder in autoencoder_folders(self.weights)]
            if self.vae:
                backends.append(_DiffusersVAE(self.vae))
            if not backends:
                raise FileNotFoundError(f"no autoencoder (autoencoder.json) in {self.weights} or its sub-folders")
            names = [b.network for b in backends]
            if len(set(names)) != len(names):
                raise ValueError(f"two autoencoders share a network name: {sorted(names)}")
            self._backends = backends
        return self._backends

    @property
    def backend(self):
        """The first autoencoder (the only one when `weights` is a single folder)."""
        return self.backends[0]

    def _calibrates(self, backend) -> bool:
        return backend.colour_calibration if self.colour_calibration is None else self.colour_calibration

    @property
    def identity(self) -> str:
        return ",".join(f"{b.generator}|colour_calibration={self._calibrates(b)}" for b in self.backends)

    def generate(self, rgb: np.ndarray, rng: np.random.Generator, made: Mapping[str, Generated]) -> Generated:
        backends = self.backends
        backend = backends[rng.integers(len(backends))] if len(backends) > 1 else backends[0]
        pixels = backend.reconstruct(rgb)
        names = {"network": backend.network, "family": backend.family}
        params = {"autoencoder": backend.network}
        if not self._calibrates(backend):
            return Generated(pixels, backend.generator, params=params, **names)
        pixels, matrix = calibrate_colour(rgb, pixels)
        return Generated(pixels, backend.generator + "+colour-calibrated", params={**params, "colour_matrix": matrix}, **names)
