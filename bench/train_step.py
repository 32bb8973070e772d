"""Training-step throughput of each config's model on this machine's device: fp32 beside the config's
autocast, alternated in one process, so load on a shared machine falls on both alike.

    nice -n 10 .venv/bin/python bench/train_step.py configs/ablation-100k/lite0-mixed.toml [more.toml ...]
        [--device auto|cpu|cuda] [--batch N] [--steps 20] [--rounds 3] [--threads 2] [--random-weights]
        [--autocast config|bf16|fp16]

A step is what ``training.train`` runs per batch (the same ``LossModel``, AdamW on the trainable
parameters, channels_last where the config asks, GradScaler for fp16) on random uint8 crops, so it
times the model, not decoding. SEF is timed in its fusion stage (its last, and the one with every
expert), GAMMA with its segmentation losses. ``--random-weights`` skips the packaged backbone weights:
speed does not depend on their values, and a GPU machine may not have the packages. The autocast
column is the dtype ``training.runs.autocast_dtype`` picks here for the config's ``autocast`` (or for
``--autocast``), so a CPU without native bf16 shows "fp32" in both columns. Prints one markdown row
per config: crops/s, fastest of ``--rounds``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import create_detector  # noqa: E402
from training.runs import autocast_dtype, load_run_config  # noqa: E402
from training.train import LossModel, plan_stages  # noqa: E402


def random_batch(detector, batch: int, device: torch.device, generator: torch.Generator) -> dict[str, torch.Tensor]:
    size = detector.crop_size
    crops = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8, generator=generator)
    items = {"image": crops, "label": torch.randint(0, 2, (batch,), generator=generator).float()}
    gamma = detector.config.gamma
    if gamma.enabled:
        items["mask"] = torch.rand(batch, size, size, generator=generator)
        items["domain_map"] = torch.randint(0, len(gamma.domains), (batch, size, size), generator=generator)
    return {key: value.to(device) for key, value in items.items()}


class StepTimer:
    """One config's model, optimiser and batch, stepped under a chosen autocast dtype."""

    def __init__(self, config_path: str, device: torch.device, batch: int | None, random_weights: bool):
        detector_config, train_config = load_run_config(config_path)
        if random_weights:
            detector_config = dataclasses.replace(detector_config, weights="random")
        torch.manual_seed(0)
        detector = create_detector(detector_config).to(device)
        if train_config.channels_last:
            detector = detector.to(memory_format=torch.channels_last)
        detector.set_stage(plan_stages(detector_config, train_config)[-1].name)
        detector.train()
        self.name = detector_config.name
        self.requested = train_config.autocast
        self.batch = batch or train_config.batch_size
        self.device = device
        self.model = LossModel(detector, train_config.gamma_weight)
        params = [p for p in detector.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=1e-4)
        self.inputs = random_batch(detector, self.batch, device, torch.Generator().manual_seed(0))

    def crops_per_second(self, dtype: torch.dtype | None, steps: int) -> float:
        autocast = (torch.autocast(self.device.type, dtype=dtype) if dtype is not None
                    else contextlib.nullcontext())
        scaler = torch.amp.GradScaler(self.device.type, enabled=dtype is torch.float16)
        self._steps(autocast, scaler, 2)  # warm-up: kernels chosen, allocator filled
        self._sync()
        start = time.perf_counter()
        self._steps(autocast, scaler, steps)
        self._sync()
        return steps * self.batch / (time.perf_counter() - start)

    def _steps(self, autocast, scaler, count: int) -> None:
        for _ in range(count):
            with autocast:
                loss, _ = self.model(self.inputs)
            scaler.scale(loss).backward()
            scaler.step(self.optimizer)
            scaler.update()
            self.optimizer.zero_grad(set_to_none=True)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def dtype_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="training configs (TOML with [detector] and [training])")
    parser.add_argument("--device", default="auto", help="auto (CUDA where there is one), cpu or cuda")
    parser.add_argument("--batch", type=int, help="crops per step (default: each config's batch_size)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round and precision")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (the ablation's configs use 2)")
    parser.add_argument("--random-weights", action="store_true", help="skip the packaged backbone weights")
    parser.add_argument("--autocast", choices=("config", "bf16", "fp16"), default="config",
                        help="the precision timed beside fp32 (default: each config's own)")
    args = parser.parse_args()
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    cpu = platform.processor() or platform.machine()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
    print(f"# {where}, torch {torch.__version__}, {args.threads} CPU threads, {args.steps} steps x "
          f"{args.rounds} rounds, fastest round; crops/s")
    print("| config | crop | batch | autocast | fp32 crops/s | autocast crops/s | autocast / fp32 |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for path in args.configs:
        timer = StepTimer(path, device, args.batch, args.random_weights)
        requested = timer.requested if args.autocast == "config" else args.autocast
        chosen = autocast_dtype(requested, device.type)
        best = {None: 0.0, chosen: 0.0}
        for _ in range(args.rounds):
            for dtype in best:  # alternated, so both see the same load
                best[dtype] = max(best[dtype], timer.crops_per_second(dtype, args.steps))
        crop = timer.model.detector.crop_size
        print(f"| {timer.name} | {crop} | {timer.batch} | {dtype_name(chosen)} | {best[None]:.1f} "
              f"| {best[chosen]:.1f} | {best[chosen] / best[None]:.2f} |", flush=True)
        del timer
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
