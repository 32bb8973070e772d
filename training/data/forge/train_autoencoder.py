"""Train one of the forge's small autoencoders on the corpus's train split (CPU, time-budgeted).

Every folder training/data/weights/<design>/ with an autoencoder.json is drawn by the
reconstruct domain. Bundled, PSNR / SSIM on the centre 512 px of the first 20 val photos, raw and
after the forge's global colour map (`python -m training.data.forge.autoencoder_sheet FOLDERS
--corpus C --limit 20 [--colour-calibrated]`, corpus of 444 photos):
  kl-f4-nearest       28 CPU-min from scratch                       raw 29.7 / 0.855, calibrated 30.5 / 0.868
  kl-f8-nearest       50 CPU-min from scratch (SD's design, 4 ch)   raw 23.7 / 0.724, calibrated 26.7 / 0.768
  kl-f8-pixelshuffle  25 CPU-min from the f4's outer layers (16 ch) raw 22.0 / 0.696, calibrated 25.4 / 0.727
  vq-f8               25 CPU-min from the f4's outer layers         raw 23.0 / 0.724, calibrated 25.9 / 0.750
The f8 ones are softer than the f4 and than SD's own VAE: fine text smears, local colour (a green
pepper on a pizza) fades. That is the kind of loss an f8 latent decoder leaves, stronger; the
processed reals (blur, resizes, denoising) are label 0 so that softness alone does not read as fake.
Trained with `scripts/train_autoencoders.sh` (its header has the commands).

OMP_WAIT_POLICY=PASSIVE matters on a shared machine: with torch's spinning threads, 2
threads spent ~3x the CPU time per step of 1 thread; passive waiting brings it back to ~1.1x.

--minutes is CPU time of this process (all its threads), so a busy shared machine does not
shorten training; --resume continues from a saved autoencoder (and from the discriminator in
--state, when there is one; optimizer states restart). A checkpoint is written to --out every
--checkpoint-minutes, so a killed run loses little.

Loss: L1 + L1 on image gradients + a perceptual L1 on frozen EfficientNet-Lite0 features +
(after --gan-start-minutes of warm-up) a PatchGAN hinge loss, its weight balanced against
the reconstruction loss at the decoder's last layer as in taming-transformers; plus a tiny
KL term (kl) or the commitment loss (vq). A blurry autoencoder would teach the detector
"blur = fake"; the perceptual and adversarial terms keep the reconstructions sharp.
Reports PSNR/SSIM on val (centre 512x512 crops, mean latent / nearest code).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training.data.forge import autoencoder, gan_losses, gan_training

KL_WEIGHT = 1e-6

DESIGNS = {
    "kl-f4-nearest": autoencoder.AutoencoderConfig(channels=(32, 64, 96)),
    "kl-f8-nearest": autoencoder.AutoencoderConfig(channels=(32, 64, 96, 128)),
    # 16 latent channels as in SD3's and FLUX's f8 VAEs: SD's 4 channels are kl-f8-nearest's, and at
    # this size and budget those stay blurry (22.4 dB after 30 CPU-minutes, 22.6 after 50)
    "kl-f8-pixelshuffle": autoencoder.AutoencoderConfig(channels=(32, 64, 96, 128), latent_channels=16,
                                                        decoder="pixelshuffle"),
    # product VQ: four codebooks of 512 over 4 channels each, 36 bits per 8x8 pixels (LDM's vq-f8: 14;
    # two codebooks, 18 bits, reached 19 dB in a 12-minute trial)
    "vq-f8": autoencoder.AutoencoderConfig(channels=(32, 64, 96, 128), latent_channels=16, quantiser="vq",
                                           codebook_size=512, codebook_groups=4),
}


def random_crops(images: list[np.ndarray], batch: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    crops = [gan_training.random_crop(images, size, rng) for _ in range(batch)]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    def dx(t):
        return t[..., :, 1:] - t[..., :, :-1]

    def dy(t):
        return t[..., 1:, :] - t[..., :-1, :]

    return (dx(a) - dx(b)).abs().mean() + (dy(a) - dy(b)).abs().mean()


def regulariser_weight(model: autoencoder.Autoencoder) -> float:
    return KL_WEIGHT if model.config.quantiser == "kl" else 1.0  # vq: the commitment is weighted in the model


def reconstruction_terms(model, x, perceptual: gan_losses.PerceptualLoss | None = None, perceptual_weight: float = 1.0):
    """(reconstruction, pixel + perceptual loss, regulariser loss) for one batch."""
    recon, _, penalty = model(x)
    loss = F.l1_loss(recon, x) + gradient_l1(recon, x)
    if perceptual is not None and perceptual_weight > 0:
        loss = loss + perceptual_weight * perceptual(recon, x)
    return recon, loss, regulariser_weight(model) * penalty


def loss_fn(model, x, perceptual: gan_losses.PerceptualLoss | None = None):
    """The full non-adversarial loss of one batch."""
    _, loss, regulariser = reconstruction_terms(model, x, perceptual)
    return loss + regulariser


@torch.inference_mode()
def reconstruct_array(model: autoencoder.Autoencoder, image: np.ndarray) -> np.ndarray:
    """Full-image round trip through the mean latent (kl) or nearest codes (vq); pads to the
    downsampling multiple. (channels_last input: about a third faster on CPU for full-resolution photos)"""
    factor = model.config.downsampling
    h, w = image.shape[:2]
    pad_h, pad_w = (-h) % factor, (-w) % factor
    padded = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    x = torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    y = model(x.contiguous(memory_format=torch.channels_last), sample=False)[0][0, :, :h, :w]
    return ((y.clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(1, 2, 0).numpy()


def centre_crop(image: np.ndarray, size: int = 512) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return image[top : top + size, left : left + size]


def evaluate(model, images: list[np.ndarray], colour_calibrated: bool = False) -> dict:
    """Mean PSNR/SSIM of mean-latent reconstructions (centre 512x512 of each image, at most);
    `colour_calibrated`: after the forge's global colour map, as the reconstruct domain writes them."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from training.data.forge.reconstruct import calibrate_colour

    if not images:
        return {"images": 0}
    was_training = model.training
    model.eval()
    psnrs, ssims = [], []
    for image in map(centre_crop, images):
        recon = reconstruct_array(model, image)
        if colour_calibrated:
            recon = calibrate_colour(image, recon)[0]
        psnrs.append(peak_signal_noise_ratio(image, recon))
        ssims.append(structural_similarity(image, recon, channel_axis=2))
    model.train(was_training)
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": len(images)}


class Trainer(gan_training.GanTrainer):
    """One autoencoder, its discriminator and optimisers; `step` does one update."""

    def __init__(self, model: autoencoder.Autoencoder, lr: float = 2e-3, perceptual: gan_losses.PerceptualLoss | None = None,
                 perceptual_weight: float = 1.0, adversarial_weight: float = 0.5, discriminator: torch.nn.Module | None = None):
        super().__init__(model, lr, (0.5, 0.9), perceptual, perceptual_weight, adversarial_weight, discriminator)

    def step(self, x: torch.Tensor, adversarial: bool) -> dict:
        recon, reconstruction, regulariser = reconstruction_terms(self.model, x, self.perceptual, self.perceptual_weight)
        logs = {"rec": float(reconstruction.item())}
        return gan_losses.generator_update(reconstruction + regulariser, recon, x, self, adversarial, logs,
                                           balance=reconstruction)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--design", choices=sorted(DESIGNS), default="kl-f8-nearest", help="ignored with --resume")
    gan_training.add_arguments(parser, minutes=12.0, max_wall_minutes=60.0, checkpoint_minutes=3.0, lr=2e-3,
                               perceptual_weight=1.0, adversarial_weight=0.5)
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--init-from", help="a trained autoencoder folder whose full-resolution layers start a new "
                        "design (autoencoder.transplant); ignored with --resume")
    args = parser.parse_args(argv)

    rng, train, val = gan_training.prepare(args)
    model = autoencoder.load(args.resume).train() if args.resume else autoencoder.Autoencoder(DESIGNS[args.design])
    if args.init_from and not args.resume:
        copied = autoencoder.transplant(autoencoder.load(args.init_from), model)
        print(f"--init-from {args.init_from}: {len(copied)} tensors copied", flush=True)
    previous = json.loads((Path(args.resume) / "autoencoder.json").read_text())["metrics"] if args.resume else {}
    discriminator = gan_losses.PatchDiscriminator()
    gan_training.load_discriminator_state(discriminator, args.state, bool(args.resume))
    trainer = Trainer(model, args.lr, gan_losses.PerceptualLoss() if args.perceptual_weight > 0 else None,
                      args.perceptual_weight, args.adversarial_weight, discriminator)
    budget = gan_training.Budget.from_args(args, args.max_steps)

    def metrics(progress: gan_training.Progress, final: bool) -> dict:
        return {"design": args.design if not args.resume else previous.get("design", ""), **progress.totals(previous),
                "batch": args.batch, "crop": args.crop,
                "losses": {"perceptual": args.perceptual_weight, "adversarial": args.adversarial_weight,
                           "gan_start_cpu_seconds": round(budget.gan_start_seconds)},
                "train_images": len(train), **({"val_centre512": evaluate(model, val)} if final else {"partial": True})}

    gan_training.train_and_save(trainer, lambda: (random_crops(train, args.batch, args.crop, rng),), budget, previous,
                                metrics, lambda figures: autoencoder.save(model, args.out, figures), args.state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
