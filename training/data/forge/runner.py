"""Forge a corpus into an aligned set: one job per real photo, resumable and parallel.

A photo is forged whole (`crops_per_photo=0`) or as many aligned crops cut at native
resolution (training.data.forge.crops); each unit (the photo, or one crop) gets a real, one
fake per requested domain, optional perturbed copies of all of them, and optional processed
reals (training.data.forge.processing: label 0, the hard negatives).

Layout of OUT (UNIT is "" for whole photos, "c0", "c1", ... for crops):
    OUT/<split>/<variant>/<domain>/<source_id>[-UNIT].<ext>   variant = "aligned" or "p0", "p1", ...
    OUT/<split>/aligned/processed/<source_id>[-UNIT]-<k>.<ext> processed reals
    OUT/<split>/<variant>/inpaint/<name>.mask.png / .domains.png
    OUT/rows/<source_id>/[UNIT.]<variant>.<domain>.json         one finished output (record + timing)
    OUT/cache/<source_id>/[UNIT.]<domain>.npy (+ .json)          raw pixels of domains that others use
    OUT/manifest.jsonl                                          all rows, rebuilt at the end of a run
A job skips outputs whose row file exists; the row is written last, after the image and masks,
so an interrupted job is simply redone. A domain needed only as another's input (the fill
domains of inpaint) is read from the cache when an earlier run made it, not regenerated.
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
from training.data.forge import FILL_DOMAINS, GENERATOR_DOMAINS, create_domain, crops, perturb, processing
from training.data.forge.base import Generated
from training.data.imageformat import EncodeSpec, decode_rgb, encode, encode_spec_for

ROWS = "rows"
CACHE = "cache"
PROCESSED = "processed"  # the "domain" slot of a processed real in row names and folders


@dataclass(frozen=True)
class ForgeOptions:
    corpus: str
    out: str
    domains: tuple[str, ...]
    seed: int = 0
    perturb_variants: int = 0
    domain_options: dict = field(default_factory=dict)
    crops_per_photo: int = 0  # 0: forge whole photos
    crop_sizes: tuple[int, int] = (256, 512)
    processed_per_unit: int = 0  # processed reals per photo or crop


def rng_for(seed: int, source_id: str, *names: object) -> np.random.Generator:
    """Independent of job order and worker: a hash of (seed, photo, purpose)."""
    digest = hashlib.sha256("|".join(map(str, (seed, source_id, *names))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def variants(options: ForgeOptions) -> list[str]:
    return ["aligned"] + [f"p{k}" for k in range(options.perturb_variants)]


def row_path(out: str | Path, source_id: str, variant: str, domain: str, unit: str = "") -> Path:
    prefix = f"{unit}." if unit else ""
    return Path(out) / ROWS / source_id / f"{prefix}{variant}.{domain}.json"


def units(entry: dict, options: ForgeOptions) -> list[crops.Crop | None]:
    """None for the whole photo; else the photo's crop plan (a pure function of seed and photo)."""
    if options.crops_per_photo <= 0:
        return [None]
    rng = rng_for(options.seed, entry["id"], "crop-plan")
    return crops.plan(entry["width"], entry["height"], options.crops_per_photo, options.crop_sizes, rng)


def _outputs(options: ForgeOptions) -> list[tuple[str, str]]:
    wanted = ["real", *[d for d in GENERATOR_DOMAINS if d in options.domains]]
    outputs = [(v, d) for v in variants(options) for d in wanted]
    return outputs + [("aligned", f"{PROCESSED}{k}") for k in range(options.processed_per_unit)]


def pending(entry: dict, options: ForgeOptions) -> list[tuple[crops.Crop | None, str, str]]:
    return [
        (unit, v, d)
        for unit in units(entry, options)
        for v, d in _outputs(options)
        if not row_path(options.out, entry["id"], v, d, unit.unit if unit else "").exists()
    ]


def _perturbed_spec(spec: EncodeSpec, ops: list[dict]) -> EncodeSpec:
    final = perturb.final_encoding(ops)
    if final["op"] == "jpeg":
        return EncodeSpec("JPEG", spec.mode, jpeg_quality=final["quality"], qtables=None, subsampling=2)
    if final["op"] == "webp":
        return EncodeSpec("WEBP", spec.mode, webp_quality=final["quality"])
    return spec


_domains: dict = {}


def _domain_options(name: str, options: ForgeOptions) -> dict:
    """What one domain is built from; inpaint fills from the requested fill domains only."""
    domain_options = dict(options.domain_options)
    if name == "inpaint" and not domain_options.get("fill_domains"):
        domain_options["fill_domains"] = [d for d in FILL_DOMAINS if d in options.domains] or ["upsample", "reconstruct"]
    return domain_options


def _domain(name: str, options: ForgeOptions):
    """One instance per worker process and per configuration (models load once)."""
    domain_options = _domain_options(name, options)
    key = (name, json.dumps(domain_options, sort_keys=True, default=str))
    if key not in _domains:
        _domains[key] = create_domain(name, **domain_options)
    return _domains[key]


def _generation_order(names: set[str], options: ForgeOptions) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        for dependency in _domain(name, options).requires:
            visit(dependency)
        if name not in order:
            order.append(name)

    for name in GENERATOR_DOMAINS:
        if name in names:
            visit(name)
    return order


def _cache_paths(out: Path, source_id: str, domain: str, unit: str) -> tuple[Path, Path]:
    folder = out / CACHE / source_id
    stem = f"{unit}.{domain}" if unit else domain
    return folder / f"{stem}.npy", folder / f"{stem}.json"


def _cache_key(domain, seed: int) -> str:
    """Cached pixels are reused only for the same plug-in version, weights and seed."""
    return f"{domain.version}|{getattr(domain, 'identity', '')}|{seed}"


def _cached(out: Path, source_id: str, domain: str, unit: str, version: str) -> Generated | None:
    pixels_path, meta_path = _cache_paths(out, source_id, domain, unit)
    if not (pixels_path.exists() and meta_path.exists()):
        return None
    try:  # a cache entry cut short (a crash, a full disk) is made again, never an error
        meta = json.loads(meta_path.read_text())
        if meta["version"] != version:
            return None
        return Generated(np.load(pixels_path), meta["generator"], params=meta["params"],
                         network=meta.get("network", ""), family=meta.get("family", ""),
                         lineage=tuple(meta.get("lineage", ())))
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _store(out: Path, source_id: str, domain: str, unit: str, version: str, made: Generated) -> None:
    pixels_path, meta_path = _cache_paths(out, source_id, domain, unit)
    pixels_path.parent.mkdir(parents=True, exist_ok=True)
    # Each file whole or not at all (written beside, then renamed), the pixels before the metadata that
    # makes them count: a crash between leaves an entry that is simply made again.
    partial = pixels_path.with_name(pixels_path.name + ".partial")
    with open(partial, "wb") as handle:
        np.save(handle, made.pixels)
    os.replace(partial, pixels_path)
    partial = meta_path.with_name(meta_path.name + ".partial")
    partial.write_text(json.dumps({"version": version, "generator": made.generator, "params": made.params,
                                   "network": made.network, "family": made.family, "lineage": list(made.lineage)}))
    os.replace(partial, meta_path)


def _save_png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path, "PNG", compress_level=6)


def _write_row(out: Path, source_id: str, variant: str, domain: str, unit: str, record: manifest.Record,
               seconds: float, pixels: int) -> None:
    row = row_path(out, source_id, variant, domain, unit)
    row.parent.mkdir(parents=True, exist_ok=True)
    tmp = row.with_suffix(".tmp")
    tmp.write_text(json.dumps({"record": json.loads(record.to_json()), "seconds": seconds, "pixels": pixels}))
    os.replace(tmp, row)


def _processed_real(entry: dict, rgb: np.ndarray, crop: crops.Crop | None, k: int, options: ForgeOptions,
                    spec: EncodeSpec) -> tuple[bytes, list[dict]]:
    """A processed copy of the unit: processed from a window large enough that a resize
    still covers the unit's size, then cut back to that size around the unit's centre."""
    unit = crop.unit if crop else ""
    ops = processing.draw(rng_for(options.seed, entry["id"], unit, PROCESSED, k))
    height, width = rgb.shape[:2]
    whole = crop or crops.Crop(0, 0, 0, max(height, width))
    side = processing.source_window(whole.size, ops) if crop else max(height, width)
    x, y, w, h = crops.window_around(whole, side, width, height) if crop else (0, 0, width, height)
    pixels = processing.apply_pixels(rgb[y : y + h, x : x + w], ops)
    if crop:
        size = min(crop.size, pixels.shape[0], pixels.shape[1])
        top, left = (pixels.shape[0] - size) // 2, (pixels.shape[1] - size) // 2
        pixels = np.ascontiguousarray(pixels[top : top + size, left : left + size])
    return processing.encode(pixels, ops, spec.mode), ops


def forge_photo(entry: dict, options: ForgeOptions) -> dict[str, float]:
    """Make every pending output of one real photo; returns seconds spent per generator domain."""
    todo = pending(entry, options)
    if not todo:
        return {}
    seconds: dict[str, float] = {}
    data = (Path(options.corpus) / entry["path"]).read_bytes()
    spec = encode_spec_for(data)
    photo = decode_rgb(data)
    out = Path(options.out)
    by_unit: dict[str, list] = {}
    for crop, variant, domain in todo:
        by_unit.setdefault(crop.unit if crop else "", []).append((crop, variant, domain))
    for unit_name, unit_todo in by_unit.items():
        crop = unit_todo[0][0]
        rgb = crop.cut(photo) if crop else photo
        purpose = (unit_name,) if unit_name else ()
        made: dict[str, Generated] = {}
        requested = {d for _, _, d in unit_todo if d in GENERATOR_DOMAINS}
        order = _generation_order(requested, options)
        used_by_others = set(_domain("inpaint", options).requires)  # cached for a later inpaint run too
        unit_seconds: dict[str, float] = {}
        for name in order:
            domain = _domain(name, options)
            key = _cache_key(domain, options.seed)
            if name not in requested and (cached := _cached(out, entry["id"], name, unit_name, key)) is not None:
                made[name] = cached
                continue
            start = time.perf_counter()
            made[name] = domain.generate(rgb, rng_for(options.seed, entry["id"], *purpose, name), made)
            unit_seconds[name] = time.perf_counter() - start
            seconds[name] = seconds.get(name, 0.0) + unit_seconds[name]
            if name in used_by_others:
                _store(out, entry["id"], name, unit_name, key, made[name])
        stem = f"{entry['id']}-{unit_name}" if unit_name else entry["id"]
        crop_facts = crop.as_dict() if crop else None
        for _, variant, domain in unit_todo:
            start = time.perf_counter()
            if domain.startswith(PROCESSED):
                k = int(domain[len(PROCESSED):])
                encoded, ops = _processed_real(entry, photo, crop, k, options, spec)
                folder = out / entry["split"] / "aligned" / PROCESSED
                folder.mkdir(parents=True, exist_ok=True)
                image_path = folder / f"{stem}-{k}{_extension(encoded)}"
                image_path.write_bytes(encoded)
                record = manifest.Record(
                    path=str(image_path.relative_to(out)), label=0, domain="real", source_id=entry["id"],
                    split=entry["split"], source_path=entry["path"], processing=ops, seed=options.seed,
                    domain_version=processing.VERSION, crop=crop_facts, **manifest.describe_file(encoded),
                )
                _write_row(out, entry["id"], variant, domain, unit_name, record, time.perf_counter() - start, int(rgb.shape[0] * rgb.shape[1]))
                continue
            ops = perturb.draw(rng_for(options.seed, entry["id"], *purpose, "perturb", variant)) if variant != "aligned" else []
            pixels = rgb if domain == "real" else made[domain].pixels
            if ops:
                pixels = perturb.apply_pixels(pixels, ops)
            variant_spec = _perturbed_spec(spec, ops) if ops else spec
            encoded = encode(pixels, variant_spec)
            folder = out / entry["split"] / variant / domain
            folder.mkdir(parents=True, exist_ok=True)
            image_path = folder / f"{stem}{variant_spec.extension}"
            image_path.write_bytes(encoded)
            fake = made.get(domain) if domain != "real" else None
            record = manifest.Record(
                path=str(image_path.relative_to(out)),
                label=0 if fake is None else 1,
                domain=domain,
                source_id=entry["id"],
                split=entry["split"],
                source_path=entry["path"],
                domain_version="" if fake is None else _domain(domain, options).version,
                generator="" if fake is None else fake.generator,
                network="" if fake is None else fake.network,
                family="" if fake is None else fake.family,
                lineage=[] if fake is None else list(fake.lineage or ((fake.network,) if fake.network else ())),
                perturbations=ops,
                variant="" if variant == "aligned" else variant,
                params={} if fake is None else fake.params,
                seed=options.seed,
                crop=crop_facts,
                **manifest.describe_file(encoded),
            )
            if fake is not None and fake.mask is not None:
                mask = perturb.apply_mask(fake.mask.astype(np.uint8) * 255, ops)
                domain_map = perturb.apply_mask(fake.domain_map, ops)
                _save_png(folder / f"{stem}.mask.png", mask)
                _save_png(folder / f"{stem}.domains.png", domain_map)
                record = replace(record, mask_path=str((folder / f"{stem}.mask.png").relative_to(out)),
                                 domain_map_path=str((folder / f"{stem}.domains.png").relative_to(out)))
            elapsed = time.perf_counter() - start + (unit_seconds.get(domain, 0.0) if variant == "aligned" else 0.0)
            _write_row(out, entry["id"], variant, domain, unit_name, record, elapsed, int(rgb.shape[0] * rgb.shape[1]))
    return seconds


def _extension(encoded: bytes) -> str:
    if encoded[4:8] == b"ftyp":  # ISO base media: the brand says which
        return ".avif" if encoded[8:12] in (b"avif", b"avis") else ".heic"  # heic, heix (greyscale), mif1
    return {b"\xff\xd8": ".jpg", b"\x89P": ".png", b"RI": ".webp"}[encoded[:2]]


def collect(out: str | Path, sources: list[str] | None = None) -> list[dict]:
    """The finished rows (rows are replaced whole: none is half-written), of ``sources``' photos only if given."""
    folders = [Path(out) / ROWS / source for source in sources] if sources is not None else [Path(out) / ROWS]
    pattern = "*.json" if sources is not None else "*/*.json"
    return [json.loads(p.read_text()) for folder in folders for p in sorted(folder.glob(pattern))]


def write_manifest(out: str | Path, corpus: str | Path | None = None) -> int:
    """All finished rows; with `corpus`, only those of photos it still holds (a photo dropped
    from the corpus after it was forged, e.g. by a stricter filter, leaves no trace)."""
    rows = collect(out)
    if corpus is not None:
        from training.data.corpus import read_manifest

        kept = {entry["id"] for entry in read_manifest(corpus)}
        rows = [row for row in rows if row["record"]["source_id"] in kept]
    return manifest.write([manifest.Record(**row["record"]) for row in rows], Path(out) / manifest.MANIFEST_NAME)


def snapshot(entries: list[dict], options: ForgeOptions, target: str | Path) -> tuple[int, int]:
    """A manifest at ``target`` (a folder) of the photos in ``entries`` whose every output is forged: work
    can start on them while a long forge goes on, since the forge rebuilds its own manifest only when its
    run ends. ``options`` must be the forge's own (the same flags), or no photo counts as finished. Paths
    are absolute: ``target`` lies outside the forged folder. (photos, rows) written."""
    out = Path(options.out).resolve()
    finished = [entry for entry in entries if not pending(entry, options)]
    rows = [row["record"] for row in collect(out, [entry["id"] for entry in finished])]
    for row in rows:
        for key in ("path", "mask_path", "domain_map_path"):
            if row.get(key) and not os.path.isabs(row[key]):
                row[key] = str(out / row[key])
    Path(target).mkdir(parents=True, exist_ok=True)
    count = manifest.write([manifest.Record(**row) for row in rows], Path(target) / manifest.MANIFEST_NAME)
    return len(finished), count


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one photo per core: parallelism comes from the pool


def _job(args: tuple[dict, ForgeOptions]) -> dict[str, float]:
    return forge_photo(*args)


OPTIONS_FILE = "forge_options.json"
# What a domain's rows were made with: a later run into the same folder must make them alike.
DOMAIN_OPTION_KEYS = {"upsample": ("super_resolvers",), "regenerate": ("regenerators",), "reconstruct": ("vae", "weights")}


# The libraries whose versions change a row's bytes (Pillow's encoders above all) or its pixels.
RECORDED_DISTRIBUTIONS = ("pillow", "pillow-heif", "numpy", "scipy", "scikit-image", "PyWavelets", "torch")


def forge_environment() -> dict:
    """What this run encodes and computes with. The fold manifests' SHA-256 tie records to their data; a rebuild
    whose digest differs (thirty-first session: same photos, same test rows) can then be told apart by this."""
    import platform
    from importlib import metadata

    from PIL import features

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "machine": platform.machine(),
            **{name: installed(name) for name in RECORDED_DISTRIBUTIONS},
            **{f"pillow {codec}": features.version(codec) for codec in ("jpg", "webp", "zlib")},
            # Same libraries, other bytes (thirty-third session: an AMD EPYC where torch ran AVX-512 kernels):
            # the processor and the kernels torch chose for it are what else differs.
            "processor": processor_name(), "torch cpu kernels": torch_cpu_capability()}


def processor_name() -> str | None:
    """The CPU's model name as Linux reports it (``platform.processor()`` is empty there); None elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), None)
    except OSError:
        return None


def torch_cpu_capability() -> str | None:
    """The vector instructions torch's CPU kernels use here (e.g. "AVX512", "AVX2"): they round differently."""
    try:
        import torch
    except ImportError:
        return None
    return torch.backends.cpu.get_cpu_capability()


class ForgeOptionsError(ValueError):
    """The output folder holds rows made with other options: a rerun would mix them in silently."""


def check_options(options: ForgeOptions) -> None:
    """Refuse a run into ``options.out`` whose crops (sizes, count, seed) or whose settings for a domain
    already forged there differ from the runs before; then record this run's (domains accumulate)."""
    path = Path(options.out) / OPTIONS_FILE
    now = {"crop_sizes": list(options.crop_sizes), "crops_per_photo": options.crops_per_photo, "seed": options.seed,
           "domains": {domain: {key: options.domain_options.get(key) for key in DOMAIN_OPTION_KEYS.get(domain, ())}
                       for domain in options.domains}}
    before = json.loads(path.read_text()) if path.is_file() else None
    if before is not None:
        changed = [f"{key}: {before[key]} -> {now[key]}" for key in ("crop_sizes", "seed") if before.get(key) != now[key]]
        # More crops per photo add to those made (the same seeded draws come first); fewer, or whole photos
        # instead of crops, would leave rows that the new command does not describe.
        more_crops = 0 < before.get("crops_per_photo", 0) <= now["crops_per_photo"]
        if before.get("crops_per_photo") != now["crops_per_photo"] and not more_crops:
            changed.append(f"crops_per_photo: {before.get('crops_per_photo')} -> {now['crops_per_photo']}")
        changed += [f"{domain}: {before['domains'][domain]} -> {settings}" for domain, settings in now["domains"].items()
                    if domain in before.get("domains", {}) and before["domains"][domain] != settings]
        if changed:
            raise ForgeOptionsError(f"{options.out} was forged with other options ({'; '.join(changed)}): its rows "
                                    "would be kept as they are; forge into another --out")
        now["domains"] = {**before.get("domains", {}), **now["domains"]}
    # Every environment that added rows here, once each: rows made under two are possible, and said.
    made_with = (before or {}).get("made_with", [])
    environment = forge_environment()
    now["made_with"] = made_with if environment in made_with else [*made_with, environment]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(now, indent=1) + "\n")


def run(entries: list[dict], options: ForgeOptions, workers: int,
        progress: bool = True) -> tuple[int, list[tuple[str, str]]]:
    """Forge every photo not yet done; (manifest rows, [(photo id, why it failed)]). A photo that fails is
    said and skipped, not the end of the run; Ctrl-C cancels what has not started, keeping what is done."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing

    from tqdm import tqdm

    check_options(options)
    todo = [e for e in entries if pending(e, options)]
    bar = tqdm(total=len(entries), initial=len(entries) - len(todo), desc="forge", unit="photo", disable=not progress)
    failed: list[tuple[str, str]] = []
    if workers <= 1:
        _init_worker()
        for entry in todo:
            try:
                forge_photo(entry, options)
            except (OSError, ValueError) as error:  # a photo that cannot be read or forged
                failed.append((entry["id"], f"{type(error).__name__}: {error}"))
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")  # ncnn and torch thread pools do not survive fork
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)
        try:
            futures = {pool.submit(_job, (e, options)): e["id"] for e in todo}
            for future in as_completed(futures):
                try:
                    future.result()
                except (OSError, ValueError) as error:
                    failed.append((futures[future], f"{type(error).__name__}: {error}"))
                bar.update()
        except BaseException:  # Ctrl-C: photos not started are cancelled; the workers, interrupted too, keep every row already written
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
    bar.close()
    return write_manifest(options.out, options.corpus), failed
