"""Train SynthSpot's own x2 GAN super-resolution network (own_sr.ESRGANLite) on the corpus's
train split (CPU, time-budgeted), as ESRGAN was trained: first L1 alone (a PSNR-oriented
start), then L1 + a perceptual L1 on frozen EfficientNet-Lite0 features + a PatchGAN hinge
loss (gan_losses), the adversarial weight balanced against the others at the last layer.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python -m training.data.forge.train_sr_gan \
        --corpus ~/synthspot-data/corpus --out training/data/weights/own_sr \
        --state ~/synthspot-data/train-state/own_sr --minutes 30 --threads 2

The bundled weights: --minutes 14 --max-wall-minutes 16 --val-limit 20 (1542 steps, 814 of
them adversarial): val PSNR 31.7 vs bicubic 30.3 (SSIM 0.903 vs 0.876) on 20 val photos;
visibly sharper than bicubic, no checkerboard or colour cast. Continue with
--resume training/data/weights/own_sr (same --out/--state) for the planned 30 minutes.

Pairs: random HR crops of train photos and their antialiased (Lanczos) half-size versions,
exactly the downscale the upsample domain applies before super-resolving. --minutes is CPU
time of this process; --resume continues from a saved generator (and the discriminator in
--state); --gan-start-minutes counts CPU minutes over all runs. Reports val PSNR of the
network and of bicubic on the centre 512x512 of each val photo.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from training.data.forge import gan_losses, gan_training, own_sr


def half(image: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((image.shape[1] // 2, image.shape[0] // 2), Image.LANCZOS))


def random_pairs(images: list[np.ndarray], batch: int, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(LR, HR) float batches in [0, 1], HR size x size, LR half that."""
    lows, highs = [], []
    for _ in range(batch):
        crop = gan_training.random_crop(images, size, rng)
        highs.append(crop)
        lows.append(half(crop))

    def to_tensor(arrays):
        return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0

    return to_tensor(lows), to_tensor(highs)


class SRTrainer(gan_training.GanTrainer):
    def __init__(self, model: own_sr.ESRGANLite, lr: float = 1e-3, perceptual: gan_losses.PerceptualLoss | None = None,
                 perceptual_weight: float = 0.2, adversarial_weight: float = 0.2, discriminator: torch.nn.Module | None = None):
        super().__init__(model, lr, (0.9, 0.99), perceptual, perceptual_weight, adversarial_weight, discriminator)

    def step(self, low: torch.Tensor, high: torch.Tensor, adversarial: bool) -> dict:
        sr = self.model(low)
        fake, real = sr * 2 - 1, high * 2 - 1  # the losses work in [-1, 1]
        loss = F.l1_loss(fake, real)
        logs = {"l1": float(loss.item())}
        if adversarial and self.perceptual is not None and self.perceptual_weight > 0:
            loss = loss + self.perceptual_weight * self.perceptual(fake, real)
        return gan_losses.generator_update(loss, fake, real, self, adversarial, logs)


def evaluate(model: own_sr.ESRGANLite, images: list[np.ndarray]) -> dict:
    """Mean PSNR/SSIM of the network and of bicubic, x2 from the Lanczos half of each val photo's centre 512."""
    from skimage.metrics import peak_signal_noise_ratio as psnr, structural_similarity as ssim

    from training.data.forge.train_autoencoder import centre_crop

    was_training = model.training
    model.eval()
    rows = []
    for image in images:
        real = centre_crop(image)
        real = real[: real.shape[0] // 2 * 2, : real.shape[1] // 2 * 2]
        small = half(real)
        fake = own_sr.upscale_array(model, small)
        bicubic = np.asarray(Image.fromarray(small).resize((real.shape[1], real.shape[0]), Image.BICUBIC))
        rows.append((psnr(real, fake), psnr(real, bicubic), ssim(real, fake, channel_axis=2), ssim(real, bicubic, channel_axis=2)))
    model.train(was_training)
    if not rows:
        return {"images": 0}
    mean = np.mean(rows, axis=0)
    return {"psnr": float(mean[0]), "psnr_bicubic": float(mean[1]), "ssim": float(mean[2]), "ssim_bicubic": float(mean[3]),
            "images": len(images)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    gan_training.add_arguments(parser, minutes=30.0, max_wall_minutes=90.0, checkpoint_minutes=5.0, lr=1e-3,
                               perceptual_weight=0.2, adversarial_weight=0.2, crop_help="HR crop size")
    args = parser.parse_args(argv)

    rng, train, val = gan_training.prepare(args)
    model = own_sr.load(args.resume).train() if args.resume else own_sr.ESRGANLite()
    previous = json.loads((Path(args.resume) / "generator.json").read_text())["metrics"] if args.resume else {}
    discriminator = gan_losses.PatchDiscriminator()
    gan_training.load_discriminator_state(discriminator, args.state, bool(args.resume))
    trainer = SRTrainer(model, args.lr, gan_losses.PerceptualLoss() if args.perceptual_weight > 0 else None,
                        args.perceptual_weight, args.adversarial_weight, discriminator)
    budget = gan_training.Budget.from_args(args)

    def metrics(progress: gan_training.Progress, final: bool) -> dict:
        return {**progress.totals(previous), "batch": args.batch, "crop": args.crop,
                "losses": {"l1": 1.0, "perceptual": args.perceptual_weight, "adversarial": args.adversarial_weight,
                           "gan_start_cpu_seconds": round(budget.gan_start_seconds)},
                "train_images": len(train), **({"val_centre512": evaluate(model, val)} if final else {"partial": True})}

    gan_training.train_and_save(trainer, lambda: random_pairs(train, args.batch, args.crop, rng), budget, previous,
                                metrics, lambda figures: own_sr.save(model, args.out, figures), args.state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
