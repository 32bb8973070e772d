"""Which images an evaluation reads, and how its reports group them: per generator, per design family,
and real photos by what was done to them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from training.data import manifest, readers


def load_records(data: str | os.PathLike, split: str | None = "test", layout: str | None = None,
                 variants: Sequence[str] | None = ("",)) -> tuple[list[manifest.Record], Path]:
    """Records of a manifest file, or of a folder in any reader layout; returns them and their base path."""
    data = Path(data)
    if data.is_dir():
        records, base = readers.READERS[layout or readers.detect_layout(data)](data), data / manifest.MANIFEST_NAME
    else:
        records, base = manifest.read(data), data
    kept = [r for r in records if (split is None or r.split == split) and (variants is None or r.variant in variants)]
    if not kept:
        raise ValueError(f"{data}: no images in split {split!r}")
    return kept, base


def group_name(record: manifest.Record) -> str:
    """Per-generator group: domain plus the network's name, e.g. ``upsample/srmd-x3``; without one (reader
    manifests), the generator's last field. (That field is often a weights hash, unreadable in a report.)"""
    if record.label == 0:
        return "real"
    if "[" in record.generator:  # a composite (inpaint fills from other generators): one group per domain
        return record.domain
    short = record.network or (record.generator.split(":")[-1] if record.generator else "")
    return f"{record.domain}/{short}" if short and short != record.domain else record.domain


def family_name(record: manifest.Record) -> str:
    """The fake's design family (``esrgan-rrdb``, ``kl-nearest``, ``inpaint``...), else its domain."""
    return record.family or record.domain


def real_kinds(record: manifest.Record) -> tuple[str, ...]:
    """What was done to a real photo: ``("original",)``, or each processing step's kind
    (``resize``, ``gaussian_blur``..., then its encode, ``jpeg``, ``webp``...)."""
    if not record.processing:
        return ("original",)
    return tuple(dict.fromkeys(step["op"] for step in record.processing))
