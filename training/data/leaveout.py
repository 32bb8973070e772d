"""The generalisation protocol: leave one generator (or one family of generators) out.

    python -m training.data.leaveout --manifest DIR/manifest.jsonl --by family --list
    python -m training.data.leaveout --manifest DIR/manifest.jsonl --by family [--held-out srmd]

A fold keeps the per-photo splits and removes the held-out generator from everything a model
learns from or is tuned on:
    train  train-split reals (processed ones included) and fakes with no held-out pixel
    val    val-split reals and fakes with no held-out pixel (model selection on seen generators)
    test   test-split reals and the test-split fakes that contain held-out pixels
"Contains" follows the lineage: an inpaint filled by the held-out network is held out too.
Each fold is written as DIR/folds/<by>-<name>.jsonl, an ordinary manifest (paths relative to
it), so every training and evaluation command takes it as it is."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections import Counter
from pathlib import Path
from collections.abc import Iterable

from training.data import manifest

BY = ("generator", "family")
FOLDS = "folds"


def held_names(record: manifest.Record, by: str) -> set[str]:
    """The generators (or families) whose pixels are in this file; empty for reals."""
    if record.label == 0:
        return set()
    if by == "generator":
        return {n for n in (record.network, *record.lineage) if n}
    fillers = record.params.get("filler_families", []) if isinstance(record.params, dict) else []
    return {f for f in (record.family, *fillers) if f}


def names(records: Iterable[manifest.Record], by: str) -> Counter:
    """How many fakes each generator (or family) has a hand in."""
    counts: Counter = Counter()
    for record in records:
        counts.update(held_names(record, by))
    return counts


def fold(records: Iterable[manifest.Record], by: str, held_out: str) -> list[manifest.Record]:
    if by not in BY:
        raise ValueError(f"--by must be one of {', '.join(BY)}")
    kept = []
    for record in records:
        contains = held_out in held_names(record, by)
        if record.label == 0 or (record.split == "test") == contains:
            kept.append(record)
    return kept


def write_fold(manifest_path: str | os.PathLike, by: str, held_out: str) -> Path:
    manifest_path = Path(manifest_path)
    records = manifest.read(manifest_path)
    if held_out not in names(records, by):
        raise ValueError(f"no fake in {manifest_path} has {by} {held_out!r}; known: {', '.join(sorted(names(records, by)))}")
    kept = fold(records, by, held_out)
    if not any(r.label == 1 and r.split == "test" for r in kept):  # it would evaluate to NaN
        raise ValueError(f"{by} {held_out!r} has no fake in the test split: a fold of it could not be evaluated")
    # A name may hold a path separator ("org/model"): the fold's file name may not.
    target = manifest_path.parent / FOLDS / f"{by}-{held_out.replace('/', '_').replace(os.sep, '_')}.jsonl"
    target.parent.mkdir(exist_ok=True)
    relocated = [dataclasses.replace(r, path=_relocate(r.path), mask_path=_relocate(r.mask_path),
                                     domain_map_path=_relocate(r.domain_map_path)) for r in kept]
    manifest.write(relocated, target)
    return target


def _relocate(path: str | None) -> str | None:
    """Paths stay relative: a fold lives one folder below the manifest it was cut from."""
    if path is None or os.path.isabs(path):
        return path
    return os.path.join("..", path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.leaveout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--by", choices=BY, default="family")
    parser.add_argument("--held-out", help="one generator or family (default: one fold for each)")
    parser.add_argument("--list", action="store_true", help="print the names and their fake counts, write nothing")
    args = parser.parse_args(argv)
    if not Path(args.manifest).is_file():
        parser.error(f"no manifest at {args.manifest}")
    counts = names(manifest.read(args.manifest), args.by)
    if not counts:
        parser.error(f"no fake in {args.manifest} names its {args.by}: nothing to hold out")
    if args.list:
        print(json.dumps(dict(sorted(counts.items())), indent=1))
        return 0
    written, skipped = {}, []
    for name in [args.held_out] if args.held_out else sorted(counts):
        try:
            written[name] = str(write_fold(args.manifest, args.by, name))
        except ValueError as error:
            if args.held_out:
                parser.error(str(error))
            skipped.append(str(error))  # one fold for each: those that cannot be evaluated are said, not written
    for reason in skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(json.dumps(written, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
