"""Autoencoder reconstruction (SEF): a round trip through a KL autoencoder, the trace that
latent-diffusion decoders leave. Either the small autoencoder trained here
(training/data/weights, see train_autoencoder.py) or a user's diffusers AutoencoderKL
directory (e.g. a local copy of the SD 2.1 VAE) given with --vae."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from training.data.forge import autoencoder
from training.data.forge.base import Generated

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


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
        self.generator = f"synthspot-kl-f{self.model.config.downsampling}:{_fingerprint(directory / 'autoencoder.safetensors')}"
        # a KL autoencoder with an SD-style decoder (nearest upsample + conv)
        self.network, self.family = f"synthspot-kl-f{self.model.config.downsampling}", "kl-nearest"

    def reconstruct(self, rgb: np.ndarray) -> np.ndarray:
        return self._reconstruct(self.model, rgb)


class Reconstruct:
    name = "reconstruct"
    version = "1"
    requires: tuple[str, ...] = ()

    def __init__(self, weights: str | Path | None = None, vae: str | Path | None = None, colour_calibration: bool | None = None):
        self.weights = Path(weights) if weights else DEFAULT_WEIGHTS
        self.vae = Path(vae) if vae else None
        # on for the small bundled autoencoder, off for a user's full-scale VAE (faithful colour)
        self.colour_calibration = (self.vae is None) if colour_calibration is None else colour_calibration
        self._backend = None

    @property
    def backend(self):
        if self._backend is None:
            self._backend = _DiffusersVAE(self.vae) if self.vae else _SmallVAE(self.weights)
        return self._backend

    @property
    def identity(self) -> str:
        return f"{self.backend.generator}|colour_calibration={self.colour_calibration}"

    def generate(self, rgb: np.ndarray, rng: np.random.Generator, made: Mapping[str, Generated]) -> Generated:
        pixels = self.backend.reconstruct(rgb)
        names = {"network": self.backend.network, "family": self.backend.family}
        if not self.colour_calibration:
            return Generated(pixels, self.backend.generator, **names)
        pixels, matrix = calibrate_colour(rgb, pixels)
        return Generated(pixels, self.backend.generator + "+colour-calibrated", params={"colour_matrix": matrix}, **names)
