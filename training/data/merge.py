"""One manifest from several forged sets, e.g. the default forge plus fakes made later by opt-in
networks from the same corpus:

    python -m training.data.merge OUT.jsonl FORGED/manifest.jsonl EXTRA/manifest.jsonl

Paths become absolute (the sets stay where they are). A second forge of the same corpus cuts the
same crops and processed reals, so those are the first's again: a real whose photo, crop, variant,
processing and bytes match one already taken is left out, not counted twice. Two files that claim to be the same
real crop but differ in bytes mean two different corpora: that is refused, never merged."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from training.data import manifest


class MergeConflict(ValueError):
    """The manifests disagree about the same real crop."""


def _real_key(record: manifest.Record) -> tuple | None:
    """A real crop's identity: photo, window, variant and what was done to it (processing is seeded,
    so two forges of one corpus make the same processed reals too)."""
    if record.label != 0 or record.domain != "real":
        return None
    crop = record.crop or {}
    return (record.split, record.source_id, record.variant, crop.get("x"), crop.get("y"), crop.get("size"),
            json.dumps(record.processing, sort_keys=True))


def _absolute(path: Path, record: manifest.Record) -> manifest.Record:
    def resolve(value: str | None) -> str | None:
        return None if value is None else str(manifest.resolve(path, value).resolve())

    return replace(record, path=resolve(record.path), mask_path=resolve(record.mask_path), domain_map_path=resolve(record.domain_map_path))


def merge(paths: Sequence[str | Path]) -> tuple[list[manifest.Record], int]:
    """(the merged records, how many duplicate reals were left out)."""
    merged: list[manifest.Record] = []
    reals: dict[tuple, manifest.Record] = {}
    skipped = 0
    for path in map(Path, paths):
        for record in manifest.read(path):
            record = _absolute(path, record)
            key = _real_key(record)
            if key is not None and key in reals:
                first = reals[key]
                if (first.bytes, first.width, first.height, first.source_path) != \
                        (record.bytes, record.width, record.height, record.source_path) or \
                        Path(first.path).read_bytes() != Path(record.path).read_bytes():
                    raise MergeConflict(f"{record.path} and {first.path} are the same real crop of {record.source_id} "
                                        "but differ: were they forged from different corpora?")
                skipped += 1
                continue
            if key is not None:
                reals[key] = record
            merged.append(record)
    return merged, skipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the merged manifest.jsonl to write")
    parser.add_argument("manifests", nargs="+", help="two or more manifest.jsonl files")
    args = parser.parse_args(argv)
    if len(args.manifests) < 2:
        parser.error("give at least two manifests to merge")
    missing = [m for m in args.manifests if not Path(m).is_file()]
    if missing:
        parser.error(f"no manifest at {', '.join(missing)}")
    inputs = [Path(m).resolve() for m in args.manifests]
    if Path(args.out).resolve() in inputs:
        parser.error("the output would overwrite one of the inputs")
    if len(set(inputs)) < len(inputs):
        parser.error("a manifest is given twice: its fakes would count twice")
    try:
        records, skipped = merge(args.manifests)
    except MergeConflict as error:
        print(f"merge: {error}", file=sys.stderr)
        return 1
    count = manifest.write(records, args.out)
    print(f"{args.out}: {count} rows ({skipped} duplicate reals left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
