"""python -m training.data.forge --corpus CORPUS --domains upsample,reconstruct,inpaint[,perturb] --out DIR"""
from __future__ import annotations

import argparse
import json
import os
from collections import Counter

from training.data.corpus import read_manifest
from training.data.forge import ALL_DOMAINS
from training.data.forge.runner import ForgeOptions, collect, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.forge", description="Forge aligned fakes from a real-photo corpus.")
    parser.add_argument("--corpus", required=True, help="a folder made by `python -m training.data.corpus`")
    parser.add_argument("--out", required=True)
    parser.add_argument("--domains", default="upsample,reconstruct,inpaint", help=f"comma list of {','.join(ALL_DOMAINS)}")
    parser.add_argument("--perturb-variants", type=int, default=1, help="perturbed copies per photo when 'perturb' is listed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", default="train,val,test")
    parser.add_argument("--limit", type=int, help="only the first N photos (by id) of the chosen splits")
    parser.add_argument("--vae", help="a diffusers AutoencoderKL directory to use for 'reconstruct' (needs diffusers)")
    parser.add_argument("--ae-weights", help="folder with autoencoder.safetensors/.json (default: the bundled one)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    unknown = set(domains) - set(ALL_DOMAINS)
    if unknown:
        parser.error(f"unknown domains: {', '.join(sorted(unknown))}")
    splits = set(args.splits.split(","))
    entries = sorted((e for e in read_manifest(args.corpus) if e["split"] in splits), key=lambda e: e["id"])[: args.limit]
    options = ForgeOptions(
        corpus=args.corpus,
        out=args.out,
        domains=domains,
        seed=args.seed,
        perturb_variants=args.perturb_variants if "perturb" in domains else 0,
        domain_options={"vae": args.vae, "weights": args.ae_weights},
    )
    count = run(entries, options, args.workers, progress=not args.no_progress)
    rows = collect(args.out)
    counts = Counter((r["record"]["split"], r["record"]["variant"] or "aligned", r["record"]["domain"]) for r in rows)
    print(json.dumps({"manifest_rows": count, "counts": {"/".join(k): v for k, v in sorted(counts.items())}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
