"""Size and CPU speed of every backbone x method, side by side in one run.

    nice -n 10 .venv/bin/python bench/model_core.py [--batch 8] [--threads 1] [--backbones a,b] [--methods a,b]

For each detector: total and trainable parameters (trainable in the stage that
trains last: ``train`` for mixed, ``fusion`` for SEF), and the forward time
per image at batch ``--batch`` on ``S x S`` crops (S = the backbone's input
size): the fastest of three or more timed runs (fewer for models where runs
pass ``--max-seconds``) after a one-image warm-up, under ``torch.inference_mode``.
DINOv2 and EfficientNet load their packaged weights; CLIP uses random weights
of the real shape (speed does not depend on the values). SEF runs 3 experts.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import DetectorConfig, GammaConfig, create_detector, list_backbones  # noqa: E402
from training.config import LoraConfig  # noqa: E402

# configs/lite0-upsample-lowlevel.toml's LoRA: also the stem and the first blocks' depthwise filters
LOW_LEVEL = LoraConfig(spatial=True, targets=("_expand_conv", "_project_conv", "_conv_stem",
                                              *(f"_blocks.{i}._depthwise_conv" for i in range(4))))

METHODS = {
    "mixed+lora": {},
    "mixed+lora(low-level)": dict(lora=LOW_LEVEL),  # EfficientNet only
    "mixed+mole": dict(adapter="mole"),
    "sef(3)": dict(method="sef"),
    "mixed+lora+gamma": dict(gamma=GammaConfig(enabled=True)),
    "sef(3)+gamma": dict(method="sef", gamma=GammaConfig(enabled=True)),
}
BACKBONES = [
    "tiny_vit",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "dinov2_vits14",
    "clip_vit_b16",
    "clip_vit_l14",
]


def time_forward(detector, batch: int, min_runs: int, min_seconds: float, max_runs: int,
                 max_seconds: float) -> tuple[float, int]:
    """Fastest milliseconds per image over runs at ``batch``: other load on the machine only ever adds time,
    so the minimum is the steadiest estimate. ``min_runs`` runs and ``min_seconds`` at least, unless
    ``max_seconds`` have passed (big models: a single run can take minutes)."""
    x = torch.randn(batch, 3, detector.crop_size, detector.crop_size)
    with torch.inference_mode():
        detector(x[:1])  # warm-up: one image is enough to initialise kernels and allocators
        runs, start = [], time.perf_counter()
        while not runs or len(runs) < max_runs:
            elapsed = time.perf_counter() - start
            if elapsed >= max_seconds or (len(runs) >= min_runs and elapsed >= min_seconds):
                break
            tick = time.perf_counter()
            detector(x)
            runs.append(time.perf_counter() - tick)
    return 1000 * min(runs) / batch, len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    # One thread by default: on a small shared CPU, torch's spinning pool makes two threads slower and noisy.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--backbones", default=",".join(BACKBONES))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--min-seconds", type=float, default=3.0, help="keep timing small models this long")
    parser.add_argument("--min-runs", type=int, default=3)
    parser.add_argument("--max-runs", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop timing a model after this long")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    backbones = args.backbones.split(",")
    unknown = set(backbones) - set(list_backbones())
    if unknown:
        parser.error(f"unknown backbones {sorted(unknown)}")
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
          f"batch {args.batch}, fp32")
    print("| backbone | method | crop | total params | trainable | trainable % | ms/image | runs |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for backbone in backbones:
        weights = "random" if backbone.startswith("clip") else None
        for method in args.methods.split(","):
            if "low-level" in method and not backbone.startswith("efficientnet"):
                continue  # its targets name EfficientNet's layers
            config = DetectorConfig(name=f"{backbone}-{method}", backbone=backbone, weights=weights, **METHODS[method])
            torch.manual_seed(0)
            detector = create_detector(config)
            total, trainable = detector.parameter_counts()
            ms, runs = time_forward(detector, args.batch, args.min_runs, args.min_seconds, args.max_runs,
                                    args.max_seconds)
            print(
                f"| {backbone} | {method} | {detector.crop_size} | {total / 1e6:.2f} M | {trainable / 1e3:.1f} k "
                f"| {100 * trainable / total:.3f} | {ms:.1f} | {runs} |",
                flush=True,
            )
            del detector


if __name__ == "__main__":
    main()
