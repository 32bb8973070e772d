"""Weight interpolation between a checkpoint and one trained on from it (WiSE-FT, Wortsman et al.,
CVPR 2022): a model fine-tuned on new generators keeps more of what it knew, at no inference cost.

    python -m training.interpolate OUT --start CHECKPOINT --end CHECKPOINT --alpha 0.5

``end`` is trained on from ``start`` (``[training] init_from``), or both were trained from one
initialisation on similar data (a "model soup", Wortsman et al., ICML 2022: two fusions with one seed
over experts that are mostly the same), under the same detector config.
Each tensor the checkpoints hold moves ``alpha`` of the way from start to end (``torch.lerp``, so a
tensor both share stays bit for bit). A LoRA is interpolated as the weight update it makes,
``(1 - alpha) B1 A1 + alpha B2 A2``, not factor by factor (the product of interpolated factors is not
the interpolated product). That sum has rank up to twice the LoRA's, so it is stored as its best
rank-r approximation (truncated SVD): the output keeps the config, and so still imports as an SEF
expert. What the truncation dropped, as a share of each changed update's energy, is in
``interpolation.json``. A LoRA both checkpoints hold alike (an SEF fusion's frozen experts), and every
tensor at alpha 0 or 1, is copied as it is. Where a layer is narrower than the rank, the factors are
padded with zero directions: the same update, but slots that a later training run cannot revive.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .checkpoint import CONFIG_FILE, INCLUDES_BACKBONE, WEIGHTS_FILE, CheckpointError, read_config
from .config import DetectorConfig

RECORD_FILE = "interpolation.json"
_A, _B = ".lora_A.weight", ".lora_B.weight"


def _checked_config(start: Path, end: Path) -> DetectorConfig:
    config, other = read_config(start), read_config(end)
    differing = [f.name for f in fields(DetectorConfig) if f.name != "name" and getattr(config, f.name) != getattr(other, f.name)]
    if differing:
        raise CheckpointError(f"{end} was made by another detector config than {start} (it differs in {', '.join(differing)})")
    if config.adapter != "lora":
        raise CheckpointError(f"interpolation handles LoRA checkpoints; {start} has adapter {config.adapter!r}")
    return config


def _includes_backbone(directory: Path) -> str:
    with safe_open(str(directory / WEIGHTS_FILE), framework="pt") as handle:
        return (handle.metadata() or {}).get(INCLUDES_BACKBONE, "0")


def _low_rank(delta: torch.Tensor, rank: int, scaling: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Factors ``B [out, r]``, ``A [r, in]`` with ``B @ A * scaling`` closest to ``delta`` (Eckart-Young),
    split evenly as ``U sqrt(S)`` and ``sqrt(S) V^T``; and the share of the energy left out."""
    u, s, vh = torch.linalg.svd(delta.double(), full_matrices=False)
    total = float(s.square().sum())
    dropped = float(s[rank:].square().sum()) / total if total > 0 else 0.0
    root = (s[:rank] / scaling).sqrt()
    b, a = u[:, :rank] * root, root[:, None] * vh[:rank]
    if b.shape[1] < rank:  # a layer narrower than the rank: pad with zero directions
        b = torch.nn.functional.pad(b, (0, rank - b.shape[1]))
        a = torch.nn.functional.pad(a, (0, 0, 0, rank - a.shape[0]))
    return b, a, dropped


def interpolate(start: str | Path, end: str | Path, alpha: float, out: str | Path) -> dict:
    """Write the checkpoint ``alpha`` of the way from ``start`` to ``end`` into ``out``; returns its record."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    start, end, out = Path(start), Path(end), Path(out)
    if (out / WEIGHTS_FILE).exists():
        raise CheckpointError(f"{out} already holds a checkpoint: give a new folder")
    config = _checked_config(start, end)
    first, last = load_file(str(start / WEIGHTS_FILE)), load_file(str(end / WEIGHTS_FILE))
    if set(first) != set(last) or _includes_backbone(start) != _includes_backbone(end):
        raise CheckpointError(f"{start} and {end} hold different tensors: not one model trained on from the other")
    unpaired = sorted({key.removesuffix(_A) for key in first if key.endswith(_A)}
                      ^ {key.removesuffix(_B) for key in first if key.endswith(_B)})
    if unpaired:
        raise CheckpointError(f"{start}: LoRA layers without both factors: {unpaired[:3]}")
    scaling = config.lora.alpha / config.lora.rank
    mixed: dict[str, torch.Tensor] = {}
    dropped: dict[str, float] = {}
    for key in sorted(first):
        a, b = first[key], last[key]
        if a.shape != b.shape or a.dtype != b.dtype:
            raise CheckpointError(f"{key}: {tuple(a.shape)} {a.dtype} in {start}, {tuple(b.shape)} {b.dtype} in {end}")
        if not a.is_floating_point() and not torch.equal(a, b):
            raise CheckpointError(f"{key}: a non-float tensor that differs between the checkpoints")
    for key in sorted(first):
        a, b = first[key], last[key]
        layer = key.removesuffix(_A)
        if alpha in (0.0, 1.0) or torch.equal(a, b) and not key.endswith((_A, _B)):
            mixed[key] = a if alpha == 0.0 or torch.equal(a, b) else b
        elif key.endswith(_B):
            continue  # handled with its A
        elif key.endswith(_A) and torch.equal(a, b) and torch.equal(first[layer + _B], last[layer + _B]):
            mixed[key], mixed[layer + _B] = a, first[layer + _B]  # a LoRA both hold alike
        elif key.endswith(_A):
            delta = torch.lerp(first[layer + _B].double() @ a.double(), last[layer + _B].double() @ b.double(), alpha)
            new_b, new_a, dropped[layer] = _low_rank(delta * scaling, a.shape[0], scaling)
            mixed[key], mixed[layer + _B] = new_a.to(a.dtype).contiguous(), new_b.to(a.dtype).contiguous()
        else:
            mixed[key] = torch.lerp(a.double(), b.double(), alpha).to(a.dtype).contiguous()
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(config.to_json() + "\n")
    save_file(mixed, str(out / WEIGHTS_FILE), metadata={INCLUDES_BACKBONE: _includes_backbone(start)})
    shares = list(dropped.values()) or [0.0]
    record = {"start": str(start), "end": str(end), "alpha": alpha, "lora_layers_interpolated": len(dropped),
              "dropped_energy_max": max(shares), "dropped_energy_mean": sum(shares) / len(shares)}
    (out / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.interpolate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="folder for the interpolated checkpoint")
    parser.add_argument("--start", required=True, help="the checkpoint END was trained on from (alpha 0)")
    parser.add_argument("--end", required=True, help="the checkpoint trained on from START (alpha 1)")
    parser.add_argument("--alpha", type=float, required=True, help="how far from start to end, 0..1")
    args = parser.parse_args(argv)
    try:
        record = interpolate(args.start, args.end, args.alpha, args.out)
    except (CheckpointError, ValueError, OSError) as error:
        print(f"python -m training.interpolate: {error}", file=sys.stderr)
        return 2
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
