"""python -m training.data.forge --corpus CORPUS --out DIR [--domains upsample,reconstruct,regenerate,inpaint[,perturb]]
                               [--crops-per-photo N --crop-sizes 256,512 --processed K]"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from collections import Counter

from training.arguments import at_least
from training.data.corpus import read_manifest
from training.data.forge import ALL_DOMAINS
from training.data.forge.runner import ForgeOptions, ForgeOptionsError, collect, run, snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.forge", description="Forge aligned fakes from a real-photo corpus.")
    parser.add_argument("--corpus", help="a folder made by `python -m training.data.corpus` (required)")
    parser.add_argument("--out", help="the forged set's folder (required)")
    parser.add_argument("--domains", default="upsample,reconstruct,regenerate,inpaint", help=f"comma list of {','.join(ALL_DOMAINS)}")
    parser.add_argument("--crops-per-photo", type=at_least(0), default=0, help="aligned crops cut at native resolution per photo (0: whole photos)")
    parser.add_argument("--crop-sizes", default="256,512", help="smallest,largest crop side in pixels (multiples of 16)")
    parser.add_argument("--processed", type=at_least(0), default=0, help="processed reals (label 0: resized, blurred, recompressed...) per photo or crop")
    parser.add_argument("--super-resolvers", help="comma list of upsample network names (default: every network drawn by default; --list-networks shows the opt-in ones too)")
    parser.add_argument("--regenerators", help="comma list of regenerate network names (default: all)")
    parser.add_argument("--list-networks", action="store_true", help="print every network by domain and family, then exit")
    parser.add_argument("--perturb-variants", type=at_least(0), default=1, help="perturbed copies per photo when 'perturb' is listed")
    parser.add_argument("--workers", type=at_least(1), default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", default="train,val,test")
    parser.add_argument("--limit", type=at_least(1), help="only the first N photos (by id) of the chosen splits")
    parser.add_argument("--vae", help="a diffusers AutoencoderKL directory to use for 'reconstruct' (needs diffusers)")
    parser.add_argument("--ae-weights", help="folder with autoencoder.safetensors/.json (default: the bundled one)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--snapshot", metavar="DIR",
                        help="forge nothing: write DIR/manifest.jsonl of the photos already finished (with the "
                             "forge's own flags), to start on them while the forge goes on")
    args = parser.parse_args(argv)

    if args.list_networks:
        from training.data.forge import registry

        drawn = {r.name for r in registry.super_resolvers()}
        listing = {"upsample": {r.name: {"family": r.family, "factor": r.factor, "identity": r.identity, "drawn_by_default": r.name in drawn}
                                for r in registry.super_resolvers(opt_in=True)},
                   "regenerate": {r.name: {"family": r.family, "identity": r.identity} for r in registry.regenerators()}}
        print(json.dumps(listing, indent=1))
        return 0
    if not args.corpus or not args.out:
        parser.error("--corpus and --out are required (only --list-networks goes without them)")
    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    unknown = set(domains) - set(ALL_DOMAINS)
    if unknown:
        parser.error(f"unknown domains: {', '.join(sorted(unknown))}")
    for flag, value, domain in (("--super-resolvers", args.super_resolvers, "upsample"),
                                ("--regenerators", args.regenerators, "regenerate")):
        if value is not None and not _names(value):  # an empty list would quietly mean "all"
            parser.error(f"{flag} names no network (got {value!r}); leave it out for the default draw")
        if value and domain not in domains:
            parser.error(f"{flag} is for the {domain} domain, which --domains leaves out")
    try:
        sizes = tuple(int(v) for v in args.crop_sizes.split(","))
    except ValueError:
        parser.error(f"--crop-sizes takes two integers, got {args.crop_sizes!r}")
    if len(sizes) != 2 or not 16 <= sizes[0] <= sizes[1] or any(size % 16 for size in sizes):
        parser.error(f"--crop-sizes takes smallest,largest, multiples of 16 with 16 <= smallest <= largest, "
                     f"got {args.crop_sizes!r}")
    if not Path(args.corpus, "manifest.jsonl").exists():
        parser.error(f"no corpus at {args.corpus} (make one with `python -m training.data.corpus build`)")
    if Path(args.out).resolve() == Path(args.corpus).resolve() or Path(args.out, "images").is_dir():
        parser.error(f"--out {args.out} is a corpus: the forge writes a manifest of its own there (give another folder)")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        parser.error(f"--out {args.out} is not a folder")
    splits = {split.strip() for split in args.splits.split(",") if split.strip()}
    if not splits or splits - {"train", "val", "test"}:
        parser.error(f"--splits is a comma list of train, val and test, got {args.splits!r}")
    entries = sorted((e for e in read_manifest(args.corpus) if e["split"] in splits), key=lambda e: e["id"])[: args.limit]
    from training.data.forge import registry

    try:  # a misspelt network is one line now, not a failure on every photo
        for names, select in ((args.super_resolvers, registry.super_resolvers), (args.regenerators, registry.regenerators)):
            if names:
                select(_names(names))
    except ValueError as error:
        parser.error(str(error))
    if not entries:
        parser.error(f"the corpus {args.corpus} has no photo in the splits {', '.join(sorted(splits))}")
    options = ForgeOptions(
        corpus=args.corpus,
        out=args.out,
        domains=domains,
        seed=args.seed,
        perturb_variants=args.perturb_variants if "perturb" in domains else 0,
        domain_options={"vae": args.vae, "weights": args.ae_weights, "super_resolvers": _names(args.super_resolvers),
                        "regenerators": _names(args.regenerators)},
        crops_per_photo=args.crops_per_photo,
        crop_sizes=sizes,
        processed_per_unit=args.processed,
    )
    if args.snapshot:
        if Path(args.snapshot).resolve() == Path(args.out).resolve():
            parser.error("--snapshot needs a folder of its own: the forged folder's manifest is the forge's")
        photos, rows = snapshot(entries, options, args.snapshot)
        print(json.dumps({"finished_photos": photos, "of": len(entries), "manifest_rows": rows,
                          "manifest": str(Path(args.snapshot) / "manifest.jsonl")}, indent=1))
        return 0
    try:
        count, failed = run(entries, options, args.workers, progress=not args.no_progress)
    except (ForgeOptionsError, ValueError) as error:  # another run's options in --out; an unknown network name
        parser.error(str(error))
    except KeyboardInterrupt:
        print("forge: interrupted; what was forged is kept, rerun the same command to go on", file=sys.stderr)
        return 130
    rows = collect(args.out)
    counts = Counter((r["record"]["split"], r["record"]["variant"] or "aligned",
                      "processed" if r["record"].get("processing") else r["record"]["domain"]) for r in rows)
    print(json.dumps({"manifest_rows": count, "counts": {"/".join(k): v for k, v in sorted(counts.items())}}, indent=1))
    for source_id, reason in failed:
        print(f"forge: photo {source_id} failed: {reason}", file=sys.stderr)
    return 1 if failed else 0


def _names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


if __name__ == "__main__":
    raise SystemExit(main())
