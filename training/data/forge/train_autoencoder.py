"""Train the small KL autoencoder on the corpus's train split (CPU, time-budgeted).

    nice -n 10 python -m training.data.forge.train_autoencoder --corpus /work/data/corpus \
        --out training/data/weights --minutes 30

--minutes is CPU time of this process (all its threads), so a busy shared machine does not
shorten training; --resume continues from a saved checkpoint (optimizer state restarts).

Loss: L1 + L1 on image gradients (keeps edges sharp: a blurry autoencoder would teach the
detector "blur = fake") + a tiny KL term, as in the SD VAE. Reports PSNR/SSIM on val.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training.data.corpus import read_manifest
from training.data.forge import autoencoder
from training.data.imageformat import decode_rgb

KL_WEIGHT = 1e-6


def load_split(corpus: str, split: str, limit: int | None = None) -> list[np.ndarray]:
    entries = [e for e in read_manifest(corpus) if e["split"] == split][:limit]
    return [decode_rgb((Path(corpus) / e["path"]).read_bytes()) for e in entries]


def random_crops(images: list[np.ndarray], batch: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    crops = []
    for _ in range(batch):
        image = images[rng.integers(len(images))]
        h, w = image.shape[:2]
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        crop = image[y : y + size, x : x + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crops.append(np.ascontiguousarray(crop))
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]
    return (dx(a) - dx(b)).abs().mean() + (dy(a) - dy(b)).abs().mean()


def loss_fn(model, x):
    recon, mean, logvar = model(x)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
    return F.l1_loss(recon, x) + gradient_l1(recon, x) + KL_WEIGHT * kl


@torch.inference_mode()
def reconstruct_array(model: autoencoder.KLAutoencoder, image: np.ndarray) -> np.ndarray:
    """Full-image round trip through the mean latent; pads to the downsampling multiple.
    (channels_last input: about a third faster on CPU for full-resolution photos)"""
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


def evaluate(model, images: list[np.ndarray]) -> dict:
    """Mean PSNR/SSIM of mean-latent reconstructions (centre 512x512 of each image, at most)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    model.eval()
    psnrs, ssims = [], []
    for image in map(centre_crop, images):
        recon = reconstruct_array(model, image)
        psnrs.append(peak_signal_noise_ratio(image, recon))
        ssims.append(structural_similarity(image, recon, channel_axis=2))
    model.train()
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": len(images)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=30.0, help="CPU minutes of training")
    parser.add_argument("--max-wall-minutes", type=float, default=60.0, help="stop by this wall time too")
    parser.add_argument("--resume", help="a checkpoint folder to continue from")
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    train = [im for im in load_split(args.corpus, "train") if min(im.shape[:2]) >= args.crop]
    val = load_split(args.corpus, "val")
    model = autoencoder.load(args.resume).train() if args.resume else autoencoder.KLAutoencoder()
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    budget = args.minutes * 60
    start = time.process_time()
    step = 0
    wall_start = time.monotonic()
    while (step < args.max_steps and (elapsed := time.process_time() - start) < budget
           and time.monotonic() - wall_start < args.max_wall_minutes * 60):
        # cosine decay over whichever budget runs out first, so training always ends annealed
        progress = min(max(elapsed / budget, (time.monotonic() - wall_start) / (args.max_wall_minutes * 60)), 1.0)
        for group in optimiser.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * progress))
        loss = loss_fn(model, random_crops(train, args.batch, args.crop, rng))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} elapsed {elapsed:.0f}s", flush=True)
    previous = json.loads((Path(args.resume) / "autoencoder.json").read_text())["metrics"] if args.resume else {}
    metrics = {"steps": step + previous.get("steps", 0), "train_cpu_seconds": round(time.process_time() - start) + previous.get("train_cpu_seconds", 0), "batch": args.batch, "crop": args.crop,
               "train_images": len(train), "val_centre512": evaluate(model, val)}
    autoencoder.save(model, args.out, metrics)
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
