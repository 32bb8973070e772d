"""python -m training.data.forge.forget OUT --domain reconstruct

Forget one fake domain's outputs in a forged set so that the next run of the same forge command
makes them again, e.g. after the set of bundled autoencoders changed: the domain's rows, images,
masks and cached pixels go, and the manifest is rewritten without them. Reals, processed reals and
every other domain stay; an inpaint whose fills came from the forgotten outputs stays as it was
made (its row names its fillers)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.data.forge.runner import CACHE, OPTIONS_FILE, ROWS, write_manifest
from training.domains import check_domain

RECORD_FILES = ("path", "mask_path", "domain_map_path")


def _is_domain_file(name: str, domain: str, suffix: str) -> bool:
    """Row and cache names end in "[UNIT.][VARIANT.]<domain><suffix>"."""
    return name == domain + suffix or name.endswith(f".{domain}{suffix}")


def forget(out: str | Path, domain: str) -> dict[str, int]:
    """Removes the domain's outputs from `out`; returns how many rows, files and cache entries went."""
    check_domain(domain)
    out = Path(out)
    if not (out / ROWS).is_dir():
        raise FileNotFoundError(f"{out} is not a forged set (no {ROWS}/ folder)")
    counts = {"rows": 0, "files": 0, "cache": 0}
    for row_path in sorted((out / ROWS).glob("*/*.json")):
        if not _is_domain_file(row_path.name, domain, ".json"):
            continue
        record = json.loads(row_path.read_text())["record"]
        row_path.unlink()  # first: an interrupted forget leaves stray files, never a row without its image
        counts["rows"] += 1
        for key in RECORD_FILES:
            if record.get(key) and (out / record[key]).is_file():
                (out / record[key]).unlink()
                counts["files"] += 1
    for cached in sorted((out / CACHE).glob("*/*")):
        if _is_domain_file(cached.name, domain, ".npy") or _is_domain_file(cached.name, domain, ".json"):
            cached.unlink()
            counts["cache"] += 1
    options = out / OPTIONS_FILE
    if options.is_file():  # the next run may make the domain with other settings (new autoencoders)
        recorded = json.loads(options.read_text())
        recorded.get("domains", {}).pop(domain, None)
        options.write_text(json.dumps(recorded, indent=1) + "\n")
    write_manifest(out)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.forge.forget", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="a forged set (the forge's --out)")
    parser.add_argument("--domain", required=True, help="the fake domain to forget, e.g. reconstruct")
    args = parser.parse_args(argv)
    try:
        counts = forget(args.out, args.domain)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    print(json.dumps({"domain": args.domain, **counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
