"""What the forge's own adversarially trained networks (the autoencoders of train_autoencoder,
the super-resolution GAN of train_sr_gan) share: a trainer base with the discriminator, both
optimisers and a cosine schedule; the command-line flags of a time budget; and the budgeted
loop (CPU minutes of this process, a wall-clock cap, periodic checkpoints, the adversarial loss
switched on after a warm-up counted over all runs of a resumed network).

CPU time rather than wall time is the budget so that a busy shared machine does not shorten
training; the clocks are injectable so that the loop's decisions can be tested exactly."""
from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.data.forge import gan_losses

DISCRIMINATOR_FILE = "discriminator.safetensors"


class GanTrainer:
    """A generator `model` (with a `last_layer` for the adaptive GAN weight), a PatchGAN
    discriminator, their optimisers; subclasses add `step(batch..., adversarial) -> logs`."""

    def __init__(self, model: nn.Module, lr: float, betas: tuple[float, float], perceptual: gan_losses.PerceptualLoss | None,
                 perceptual_weight: float, adversarial_weight: float, discriminator: nn.Module | None = None):
        self.model = model.train()
        self.perceptual, self.perceptual_weight = perceptual, perceptual_weight
        self.adversarial_weight = adversarial_weight
        self.discriminator = discriminator if discriminator is not None else gan_losses.PatchDiscriminator()
        self.optimiser = torch.optim.AdamW(model.parameters(), lr=lr, betas=betas, weight_decay=0.0)
        self.d_optimiser = torch.optim.AdamW(self.discriminator.parameters(), lr=4e-4, betas=(0.5, 0.9), weight_decay=0.0)
        self.base_lr = lr

    def set_progress(self, progress: float) -> None:
        """Cosine decay of the generator's learning rate over the budget, so training ends annealed."""
        for group in self.optimiser.param_groups:
            group["lr"] = self.base_lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def add_arguments(parser: argparse.ArgumentParser, *, minutes: float, max_wall_minutes: float, checkpoint_minutes: float,
                  lr: float, perceptual_weight: float, adversarial_weight: float, crop_help: str = "") -> None:
    """The flags every such command takes (corpus and output, budget, batch, losses, threads, seed, val)."""
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=minutes, help="CPU minutes of training (this run)")
    parser.add_argument("--gan-start-minutes", type=float, help="CPU minutes (all runs together) before the "
                        "adversarial loss switches on; default 40%% of --minutes")
    parser.add_argument("--max-wall-minutes", type=float, default=max_wall_minutes, help="stop by this wall time too")
    parser.add_argument("--checkpoint-minutes", type=float, default=checkpoint_minutes,
                        help="save to --out every this many CPU minutes")
    parser.add_argument("--resume", help="a saved network folder to continue from")
    parser.add_argument("--state", help="folder for the discriminator (read on --resume, written at the end)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=64, help=crop_help or None)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--perceptual-weight", type=float, default=perceptual_weight)
    parser.add_argument("--adversarial-weight", type=float, default=adversarial_weight)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-limit", type=int, help="evaluate on at most this many val images")


def load_split(corpus: str, split: str, limit: int | None = None) -> list[np.ndarray]:
    from training.data.corpus import read_manifest
    from training.data.imageformat import decode_rgb

    entries = [e for e in read_manifest(corpus) if e["split"] == split][:limit]
    return [decode_rgb((Path(corpus) / e["path"]).read_bytes()) for e in entries]


def random_crop(images: list[np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size window of a random image, mirrored half of the time."""
    image = images[rng.integers(len(images))]
    h, w = image.shape[:2]
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    crop = image[y : y + size, x : x + size]
    return np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop)


def prepare(args: argparse.Namespace) -> tuple[np.random.Generator, list[np.ndarray], list[np.ndarray]]:
    """Seeds and threads as asked; the corpus's train photos (at least a crop big) and val photos."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train = [image for image in load_split(args.corpus, "train") if min(image.shape[:2]) >= args.crop]
    return np.random.default_rng(args.seed), train, load_split(args.corpus, "val", args.val_limit)


@dataclass(frozen=True)
class Budget:
    minutes: float
    gan_start_minutes: float | None
    max_wall_minutes: float
    checkpoint_minutes: float
    max_steps: int = 10**9

    @classmethod
    def from_args(cls, args: argparse.Namespace, max_steps: int = 10**9) -> Budget:
        return cls(args.minutes, args.gan_start_minutes, args.max_wall_minutes, args.checkpoint_minutes, max_steps)

    @property
    def gan_start_seconds(self) -> float:
        return (0.4 * self.minutes if self.gan_start_minutes is None else self.gan_start_minutes) * 60


@dataclass
class Progress:
    """Counters of this run, added to the resumed network's own (`previous`) in `totals`."""
    steps: int = 0
    gan_steps: int = 0
    cpu_seconds: float = 0.0

    def totals(self, previous: dict) -> dict:
        return {"steps": self.steps + previous.get("steps", 0), "gan_steps": self.gan_steps + previous.get("gan_steps", 0),
                "train_cpu_seconds": round(self.cpu_seconds) + previous.get("train_cpu_seconds", 0)}


def train_within_budget(trainer: GanTrainer, next_batch: Callable[[], tuple], budget: Budget, previous: dict,
                        save_partial: Callable[[Progress], None], cpu_clock: Callable[[], float] = time.process_time,
                        wall_clock: Callable[[], float] = time.monotonic) -> Progress:
    """Step `trainer` on `next_batch()` until the CPU, wall or step budget is spent; `save_partial`
    runs every `checkpoint_minutes` of CPU time, so a killed run loses little."""
    progress = Progress()
    cpu_budget, wall_budget = budget.minutes * 60, budget.max_wall_minutes * 60
    previous_cpu = previous.get("train_cpu_seconds", 0)
    cpu_start, wall_start = cpu_clock(), wall_clock()
    next_checkpoint = budget.checkpoint_minutes * 60
    while progress.steps < budget.max_steps:
        elapsed, wall = cpu_clock() - cpu_start, wall_clock() - wall_start
        if elapsed >= cpu_budget or wall >= wall_budget:
            break
        trainer.set_progress(max(elapsed / cpu_budget, wall / wall_budget))
        adversarial = previous_cpu + elapsed >= budget.gan_start_seconds
        logs = trainer.step(*next_batch(), adversarial)  # type: ignore[attr-defined]
        progress.steps += 1
        progress.gan_steps += adversarial
        progress.cpu_seconds = elapsed
        if progress.steps % 50 == 0:
            print(f"step {progress.steps} " + " ".join(f"{k} {v:.4f}" for k, v in logs.items()) + f" elapsed {elapsed:.0f}s",
                  flush=True)
        if elapsed >= next_checkpoint:
            save_partial(progress)
            next_checkpoint += budget.checkpoint_minutes * 60
    progress.cpu_seconds = cpu_clock() - cpu_start
    return progress


def train_and_save(trainer: GanTrainer, next_batch: Callable[[], tuple], budget: Budget, previous: dict,
                   metrics: Callable[[Progress, bool], dict], save: Callable[[dict], None], state: str | None) -> dict:
    """The budgeted loop with partial saves, then the final save (with val figures) and the
    discriminator's state; prints and returns the final metrics."""
    progress = train_within_budget(trainer, next_batch, budget, previous, lambda partial: save(metrics(partial, False)))
    final = metrics(progress, True)
    save(final)
    save_discriminator_state(trainer.discriminator, state)
    print(json.dumps(final))
    return final


def load_discriminator_state(discriminator: nn.Module, state: str | None, resuming: bool) -> None:
    if resuming and state and (Path(state) / DISCRIMINATOR_FILE).exists():
        gan_losses.load_discriminator(discriminator, Path(state) / DISCRIMINATOR_FILE)


def save_discriminator_state(discriminator: nn.Module, state: str | None) -> None:
    if state:
        Path(state).mkdir(parents=True, exist_ok=True)
        gan_losses.save_discriminator(discriminator, Path(state) / DISCRIMINATOR_FILE)
