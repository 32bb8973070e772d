"""Readers for the layouts users bring, all producing the forge's manifest (manifest.Record).

- GenImage:           ROOT/<generator>/.../{train,val}/{ai,nature}/*
- ForenSynths/UnivFD: ROOT/<generator or split>/.../{0_real,1_fake}/*
- flat:               ROOT/real/*, ROOT/fake/*

No reader knows which real a fake was made from, so each file is its own source_id (first 16
hex of its sha256). The split is taken from the path (train / val / test folder names) when
there is one, else from a hash of the source_id.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from collections.abc import Iterator

from training.data import manifest
from training.data.sources import FOLDER_SUFFIXES
from training.data.splits import split_for

SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def _images(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in FOLDER_SUFFIXES and path.is_file():
            yield path


def _record(root: Path, path: Path, label: int, domain: str, split: str | None) -> manifest.Record:
    data = path.read_bytes()
    source_id = hashlib.sha256(data).hexdigest()[:16]
    return manifest.Record(
        path=str(path.relative_to(root)),
        label=label,
        domain="real" if label == 0 else domain,
        source_id=source_id,
        split=split or split_for(source_id),
        **manifest.describe_file(data),
    )


def _split_in(parts: tuple[str, ...]) -> str | None:
    for part in reversed(parts):
        if part.lower() in SPLIT_NAMES:
            return SPLIT_NAMES[part.lower()]
    return None


def read_genimage(root: str | os.PathLike) -> list[manifest.Record]:
    root = Path(root)
    records = []
    for class_dir in sorted(p for p in root.rglob("*") if p.is_dir() and p.name in ("ai", "nature")):
        relative = class_dir.relative_to(root).parts
        if len(relative) < 2 or relative[-2] not in ("train", "val"):
            continue
        generator = relative[0] if len(relative) > 2 else "fake"
        label = 1 if class_dir.name == "ai" else 0
        records += [_record(root, p, label, generator, SPLIT_NAMES[relative[-2]]) for p in _images(class_dir)]
    return records


def read_forensynths(root: str | os.PathLike) -> list[manifest.Record]:
    root = Path(root)
    records = []
    for class_dir in sorted(p for p in root.rglob("*") if p.is_dir() and p.name in ("0_real", "1_fake")):
        relative = class_dir.relative_to(root).parts[:-1]
        split = _split_in(relative)
        names = [p for p in relative if p.lower() not in SPLIT_NAMES]
        generator = names[0] if names else "fake"
        label = 1 if class_dir.name == "1_fake" else 0
        records += [_record(root, p, label, generator, split) for p in _images(class_dir)]
    return records


def read_flat(root: str | os.PathLike, fake_domain: str = "fake") -> list[manifest.Record]:
    root = Path(root)
    records = [_record(root, p, 0, "real", None) for p in _images(root / "real")]
    records += [_record(root, p, 1, fake_domain, None) for p in _images(root / "fake")]
    return records


READERS = {"genimage": read_genimage, "forensynths": read_forensynths, "flat": read_flat}


def detect_layout(root: str | os.PathLike) -> str:
    root = Path(root)
    if (root / "real").is_dir() and (root / "fake").is_dir():
        return "flat"
    names = {p.name for p in root.rglob("*") if p.is_dir()}
    if names & {"0_real", "1_fake"}:
        return "forensynths"
    if names & {"ai", "nature"}:
        return "genimage"
    raise ValueError(f"{root}: no GenImage, ForenSynths/UnivFD or flat real/fake layout found")


def write_manifest_for(root: str | os.PathLike, layout: str | None = None) -> Path:
    """Read ROOT in its layout and write ROOT/manifest.jsonl; paths stay relative to ROOT."""
    records = READERS[layout or detect_layout(root)](root)
    out = Path(root) / manifest.MANIFEST_NAME
    manifest.write(records, out)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training.data.readers", description="Write a manifest for a folder of real/fake images.")
    parser.add_argument("root")
    parser.add_argument("--layout", choices=sorted(READERS))
    args = parser.parse_args(argv)
    path = write_manifest_for(args.root, args.layout)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
