"""Forge throughput per generator.

    python bench/forge_throughput.py --from ~/synthspot-data/forged
        summarise a finished forge run from its row files, per network (and per domain)
    python bench/forge_throughput.py --networks --corpus ~/synthspot-data/corpus [--crops 6 --size 384]
        every registered network on the same crops, one after another in this process (one
        thread), side by side: seconds per crop, megapixels per second, ratio to the fastest

Per-output seconds are wall time inside one worker process and include the encode. An inpaint
row counts only its compositing and encoding: it reuses its unit's other fakes (run alone it
costs those too). Processed reals are classical operations. On a shared machine the figures
are lower bounds; the ratios, measured in one run, are what to compare.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.data.corpus import read_manifest  # noqa: E402
from training.data.forge.runner import collect  # noqa: E402


def _key(record: dict, by: str) -> str:
    if record.get("processing"):
        return "processed-real"
    if record["label"] == 0:
        return "real"
    name = record.get(by) or record["domain"]
    return name if not record["variant"] else f"{name}+perturb"


def summarise(out: str, by: str) -> dict:
    seconds, pixels, count = defaultdict(float), defaultdict(float), defaultdict(int)
    for row in collect(out):
        key = _key(row["record"], by)
        seconds[key] += row["seconds"]
        pixels[key] += row["pixels"]
        count[key] += 1
    total = sum(seconds.values())
    summary = {
        key: {
            "outputs": count[key],
            "seconds_per_output": round(seconds[key] / count[key], 3),
            "megapixels_per_worker_second": round(pixels[key] / 1e6 / max(seconds[key], 1e-9), 3),
            "share_of_cpu": round(seconds[key] / total, 3),
        }
        for key in sorted(count)
    }
    summary["total"] = {"outputs": sum(count.values()), "worker_seconds": round(total),
                        "worker_hours": round(total / 3600, 2)}
    return summary


def _crops(corpus: str, count: int, size: int) -> list[np.ndarray]:
    from training.data.imageformat import decode_rgb

    rng = np.random.default_rng(0)
    entries = [e for e in read_manifest(corpus) if e["split"] == "train" and min(e["width"], e["height"]) >= size]
    crops = []
    for entry in [entries[i] for i in rng.choice(len(entries), size=min(count, len(entries)), replace=False)]:
        rgb = decode_rgb((Path(corpus) / entry["path"]).read_bytes())
        y, x = int(rng.integers(0, rgb.shape[0] - size + 1)), int(rng.integers(0, rgb.shape[1] - size + 1))
        crops.append(np.ascontiguousarray(rgb[y : y + size, x : x + size]))
    return crops


def side_by_side(corpus: str, count: int, size: int, weights: str | None) -> dict:
    import torch

    from training.data.forge import registry
    from training.data.forge.reconstruct import Reconstruct
    from training.data.forge.upsample import super_resolve

    torch.set_num_threads(1)  # as in a forge worker: one photo per core
    crops = _crops(corpus, count, size)
    if not crops:
        raise SystemExit(f"no train photo of at least {size}px in {corpus}")
    reconstruct = Reconstruct(weights=weights)
    jobs = [(f"upsample/{r.name}", r.family, lambda rgb, rng, r=r: super_resolve(rgb, r))
            for r in registry.super_resolvers()]
    jobs += [(f"regenerate/{g.name}", g.family, lambda rgb, rng, g=g: g.regenerate(rgb, rng))
             for g in registry.regenerators()]
    jobs += [("reconstruct/" + getattr(reconstruct.backend, "network", "autoencoder"),
              getattr(reconstruct.backend, "family", ""), lambda rgb, rng: reconstruct.generate(rgb, rng, {}))]
    results = {}
    for name, family, job in jobs:
        job(crops[0][:64, :64], np.random.default_rng(0))  # load weights, warm caches
        start = time.perf_counter()
        for k, crop in enumerate(crops):
            job(crop, np.random.default_rng(k))
        elapsed = (time.perf_counter() - start) / len(crops)
        results[name] = {"family": family, "seconds_per_crop": round(elapsed, 3),
                         "megapixels_per_second": round(size * size / 1e6 / elapsed, 3)}
    fastest = min(r["seconds_per_crop"] for r in results.values())
    for r in results.values():
        r["times_the_fastest"] = round(r["seconds_per_crop"] / fastest, 1)
    return {"crop": f"{size}x{size}", "crops": len(crops), "threads": 1, "networks": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="forged", help="a finished forge output folder")
    parser.add_argument("--by", choices=("network", "family", "domain"), default="network")
    parser.add_argument("--networks", action="store_true", help="time every registered network on the same crops")
    parser.add_argument("--corpus")
    parser.add_argument("--crops", type=int, default=6)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--ae-weights")
    args = parser.parse_args(argv)
    if args.forged:
        print(json.dumps(summarise(args.forged, args.by), indent=1))
    elif args.networks and args.corpus:
        print(json.dumps(side_by_side(args.corpus, args.crops, args.size, args.ae_weights), indent=1))
    else:
        parser.error("give --from DIR, or --networks --corpus DIR")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
