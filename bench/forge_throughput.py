"""Forge throughput per domain.

    python bench/forge_throughput.py --from /work/data/forged
        summarise a finished forge run from its row files (seconds each output took)
    python bench/forge_throughput.py --corpus /work/data/corpus --limit 8 [--workers 1]
        forge N photos afresh, one domain at a time, into a temporary folder, and time it

Per-output seconds are wall time inside one worker process. Upsample and reconstruct include generation and encoding; inpaint counts
only its own compositing and encoding, because it reuses the upsample and reconstruct
outputs of the same photo (run alone it costs all three). Run on a shared machine the
numbers are lower bounds of what the code can do.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.data.corpus import read_manifest  # noqa: E402
from training.data.forge.runner import ForgeOptions, collect, run  # noqa: E402


def summarise(out: str) -> dict:
    seconds, pixels, count = defaultdict(float), defaultdict(float), defaultdict(int)
    for row in collect(out):
        record = row["record"]
        key = record["domain"] if not record["variant"] else f"{record['domain']}+perturb"
        seconds[key] += row["seconds"]
        pixels[key] += row["pixels"]
        count[key] += 1
    return {
        key: {
            "outputs": count[key],
            "seconds_per_output": round(seconds[key] / count[key], 3),
            "outputs_per_worker_second": round(count[key] / seconds[key], 3),
            "megapixels_per_worker_second": round(pixels[key] / 1e6 / seconds[key], 3),
        }
        for key in sorted(count)
    }


def fresh(corpus: str, limit: int, workers: int, domains: list[str], weights: str | None) -> dict:
    entries = sorted(read_manifest(corpus), key=lambda e: e["id"])[:limit]
    megapixels = sum(e["width"] * e["height"] for e in entries) / 1e6
    results = {}
    for domain in domains:
        with tempfile.TemporaryDirectory() as out:
            options = ForgeOptions(corpus=corpus, out=out, domains=(domain,), domain_options={"weights": weights})
            start = time.perf_counter()
            run(entries, options, workers, progress=False)
            wall = time.perf_counter() - start
        results[domain] = {"photos": len(entries), "wall_seconds": round(wall, 2), "photos_per_second": round(len(entries) / wall, 3),
                           "megapixels_per_second": round(megapixels / wall, 3), "workers": workers,
                           "note": "includes the real's re-encode" + (" and upsample+reconstruct generation" if domain == "inpaint" else "")}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="forged", help="a finished forge output folder")
    parser.add_argument("--corpus")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--domains", default="upsample,reconstruct,inpaint")
    parser.add_argument("--ae-weights")
    args = parser.parse_args(argv)
    if args.forged:
        print(json.dumps(summarise(args.forged), indent=1))
    elif args.corpus:
        print(json.dumps(fresh(args.corpus, args.limit, args.workers, args.domains.split(","), args.ae_weights), indent=1))
    else:
        parser.error("give --from DIR or --corpus DIR")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
