"""Forge a corpus into an aligned set: one job per real photo, resumable and parallel.

Layout of OUT:
    OUT/<split>/<variant>/<domain>/<source_id>.<ext>   variant = "aligned" or "p0", "p1", ...
    OUT/<split>/<variant>/inpaint/<source_id>.mask.png / .domains.png
    OUT/rows/<source_id>/<variant>.<domain>.json        one finished output (record + timing)
    OUT/cache/<source_id>/<domain>.npy (+ .json)        raw pixels of domains that others use
    OUT/manifest.jsonl                                  all rows, rebuilt at the end of a run
A job skips outputs whose row file exists; the row is written last, after the image and masks,
so an interrupted job is simply redone. A domain needed only as another's input (upsample and
reconstruct for inpaint) is read from the cache when an earlier run made it, not regenerated.
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
CACHE = "cache"


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
    """One instance per worker process and per configuration (models load once)."""
    key = (name, json.dumps(domain_options, sort_keys=True, default=str))
    if key not in _domains:
        _domains[key] = create_domain(name, **domain_options)
    return _domains[key]


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


def _cache_paths(out: Path, source_id: str, domain: str) -> tuple[Path, Path]:
    folder = out / CACHE / source_id
    return folder / f"{domain}.npy", folder / f"{domain}.json"


def _cache_key(domain, seed: int) -> str:
    """Cached pixels are reused only for the same plug-in version, weights and seed."""
    return f"{domain.version}|{getattr(domain, 'identity', '')}|{seed}"


def _cached(out: Path, source_id: str, domain: str, version: str) -> Generated | None:
    pixels_path, meta_path = _cache_paths(out, source_id, domain)
    if not (pixels_path.exists() and meta_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    if meta["version"] != version:
        return None
    return Generated(np.load(pixels_path), meta["generator"], params=meta["params"])


def _store(out: Path, source_id: str, domain: str, version: str, made: Generated) -> None:
    pixels_path, meta_path = _cache_paths(out, source_id, domain)
    pixels_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(pixels_path, made.pixels)
    meta_path.write_text(json.dumps({"version": version, "generator": made.generator, "params": made.params}))


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
    out = Path(options.out)
    requested = {d for _, d in todo if d != "real"}
    used_by_others = {r for d in GENERATOR_DOMAINS for r in _domain(d, options.domain_options).requires}
    for name in _generation_order(requested, options.domain_options):
        domain = _domain(name, options.domain_options)
        key = _cache_key(domain, options.seed)
        if name not in requested and (cached := _cached(out, entry["id"], name, key)) is not None:
            made[name] = cached
            continue
        start = time.perf_counter()
        made[name] = domain.generate(rgb, rng_for(options.seed, entry["id"], name), made)
        seconds[name] = time.perf_counter() - start
        if name in used_by_others:
            _store(out, entry["id"], name, key, made[name])
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
