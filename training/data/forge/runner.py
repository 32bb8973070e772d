"""Forge a corpus into an aligned set: one job per real photo, resumable and parallel.

Layout of OUT:
    OUT/<split>/<variant>/<domain>/<source_id>.<ext>   variant = "aligned" or "p0", "p1", ...
    OUT/<split>/<variant>/inpaint/<source_id>.mask.png / .domains.png
    OUT/rows/<source_id>/<variant>.<domain>.json        one finished output (record + timing)
    OUT/manifest.jsonl                                  all rows, rebuilt at the end of a run
A job skips outputs whose row file exists; the row is written last, after the image and masks,
so an interrupted job is simply redone.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from training.data import manifest
from training.data.forge import GENERATOR_DOMAINS, create_domain, perturb
from training.data.forge.base import Generated
from training.data.imageformat import EncodeSpec, decode_rgb, encode, encode_spec_for

ROWS = "rows"


@dataclass(frozen=True)
class ForgeOptions:
    corpus: str
    out: str
    domains: tuple[str, ...]
    seed: int = 0
    perturb_variants: int = 0
    domain_options: dict = field(default_factory=dict)


def rng_for(seed: int, source_id: str, *names: object) -> np.random.Generator:
    """Independent of job order and worker: a hash of (seed, photo, purpose)."""
    digest = hashlib.sha256("|".join(map(str, (seed, source_id, *names))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def variants(options: ForgeOptions) -> list[str]:
    return ["aligned"] + [f"p{k}" for k in range(options.perturb_variants)]


def row_path(out: str | Path, source_id: str, variant: str, domain: str) -> Path:
    return Path(out) / ROWS / source_id / f"{variant}.{domain}.json"


def pending(entry: dict, options: ForgeOptions) -> list[tuple[str, str]]:
    wanted = ["real", *[d for d in GENERATOR_DOMAINS if d in options.domains]]
    return [(v, d) for v in variants(options) for d in wanted if not row_path(options.out, entry["id"], v, d).exists()]


def _perturbed_spec(spec: EncodeSpec, ops: list[dict]) -> EncodeSpec:
    final = perturb.final_encoding(ops)
    if final["op"] == "jpeg":
        return EncodeSpec("JPEG", spec.mode, jpeg_quality=final["quality"], qtables=None, subsampling=2)
    if final["op"] == "webp":
        return EncodeSpec("WEBP", spec.mode, webp_quality=final["quality"])
    return spec


_domains: dict = {}


def _domain(name: str, domain_options: dict):
    if name not in _domains:
        _domains[name] = create_domain(name, **domain_options)
    return _domains[name]


def _generation_order(names: set[str], domain_options: dict) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        for dependency in _domain(name, domain_options).requires:
            visit(dependency)
        if name not in order:
            order.append(name)

    for name in GENERATOR_DOMAINS:
        if name in names:
            visit(name)
    return order


def _save_png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path, "PNG", compress_level=6)


def forge_photo(entry: dict, options: ForgeOptions) -> dict[str, float]:
    """Make every pending output of one real photo; returns seconds spent per domain."""
    todo = pending(entry, options)
    if not todo:
        return {}
    seconds: dict[str, float] = {}
    data = (Path(options.corpus) / entry["path"]).read_bytes()
    spec = encode_spec_for(data)
    rgb = decode_rgb(data)
    made: dict[str, Generated] = {}
    for name in _generation_order({d for _, d in todo if d != "real"}, options.domain_options):
        start = time.perf_counter()
        made[name] = _domain(name, options.domain_options).generate(rgb, rng_for(options.seed, entry["id"], name), made)
        seconds[name] = time.perf_counter() - start
    out = Path(options.out)
    for variant, domain in todo:
        start = time.perf_counter()
        ops = perturb.draw(rng_for(options.seed, entry["id"], "perturb", variant)) if variant != "aligned" else []
        pixels = rgb if domain == "real" else made[domain].pixels
        if ops:
            pixels = perturb.apply_pixels(pixels, ops)
        variant_spec = _perturbed_spec(spec, ops) if ops else spec
        encoded = encode(pixels, variant_spec)
        folder = out / entry["split"] / variant / domain
        folder.mkdir(parents=True, exist_ok=True)
        image_path = folder / f"{entry['id']}{variant_spec.extension}"
        image_path.write_bytes(encoded)
        record = manifest.Record(
            path=str(image_path.relative_to(out)),
            label=0 if domain == "real" else 1,
            domain=domain,
            source_id=entry["id"],
            split=entry["split"],
            source_path=entry["path"],
            domain_version="" if domain == "real" else _domain(domain, options.domain_options).version,
            generator="" if domain == "real" else made[domain].generator,
            perturbations=ops,
            variant="" if variant == "aligned" else variant,
            params={} if domain == "real" else made[domain].params,
            seed=options.seed,
            **manifest.describe_file(encoded),
        )
        if domain != "real" and made[domain].mask is not None:
            mask = perturb.apply_mask(made[domain].mask.astype(np.uint8) * 255, ops)
            domain_map = perturb.apply_mask(made[domain].domain_map, ops)
            _save_png(folder / f"{entry['id']}.mask.png", mask)
            _save_png(folder / f"{entry['id']}.domains.png", domain_map)
            record = replace(record, mask_path=str((folder / f"{entry['id']}.mask.png").relative_to(out)),
                             domain_map_path=str((folder / f"{entry['id']}.domains.png").relative_to(out)))
        elapsed = time.perf_counter() - start + (seconds.get(domain, 0.0) if variant == "aligned" else 0.0)
        row = row_path(out, entry["id"], variant, domain)
        row.parent.mkdir(parents=True, exist_ok=True)
        tmp = row.with_suffix(".tmp")
        tmp.write_text(json.dumps({"record": json.loads(record.to_json()), "seconds": elapsed, "pixels": int(rgb.shape[0] * rgb.shape[1])}))
        os.replace(tmp, row)
    return seconds


def collect(out: str | Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(out) / ROWS).glob("*/*.json"))]


def write_manifest(out: str | Path) -> int:
    rows = collect(out)
    return manifest.write([manifest.Record(**row["record"]) for row in rows], Path(out) / manifest.MANIFEST_NAME)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one photo per core: parallelism comes from the pool


def _job(args: tuple[dict, ForgeOptions]) -> dict[str, float]:
    return forge_photo(*args)


def run(entries: list[dict], options: ForgeOptions, workers: int, progress: bool = True) -> int:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing

    from tqdm import tqdm

    todo = [e for e in entries if pending(e, options)]
    bar = tqdm(total=len(entries), initial=len(entries) - len(todo), desc="forge", unit="photo", disable=not progress)
    if workers <= 1:
        _init_worker()
        for entry in todo:
            forge_photo(entry, options)
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")  # ncnn and torch thread pools do not survive fork
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            for future in as_completed([pool.submit(_job, (e, options)) for e in todo]):
                future.result()
                bar.update()
    bar.close()
    return write_manifest(options.out)
