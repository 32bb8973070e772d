"""Can a trivial statistic of the file tell real from fake? If so, the detector will learn it.

    python -m training.data.audit DIR/manifest.jsonl [--fidelity CORPUS --split val]

For each statistic: how many fakes differ from their own real (same source photo and
variant), and the ROC AUC of the statistic alone as a real/fake score over the whole manifest
(0.5 = useless to a detector; 0 or 1 = a perfect shortcut). Also per fake domain."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from collections import defaultdict

import numpy as np
from sklearn.metrics import roc_auc_score

from training.data import manifest

STATISTICS = ("format", "width", "height", "mode", "jpeg_quality", "bytes_per_pixel")


def _value(record: manifest.Record, statistic: str):
    if statistic == "bytes_per_pixel":
        return record.bytes / (record.width * record.height)
    return getattr(record, statistic)


def _auc(records: list[manifest.Record], statistic: str) -> float:
    labels = [r.label for r in records]
    if len(set(labels)) < 2:
        return float("nan")
    values = [_value(r, statistic) for r in records]
    if not all(isinstance(v, (int, float)) for v in values):
        codes = {v: i for i, v in enumerate(sorted(set(map(str, values))))}
        values = [codes[str(v)] for v in values]
    return float(roc_auc_score(labels, np.asarray(values, dtype=np.float64)))


def unit_key(record: manifest.Record) -> tuple:
    """What a fake is aligned with: its source photo, variant and crop window (None: whole photo)."""
    return record.source_id, record.variant, record.crop["index"] if record.crop else None


def separability(records: list[manifest.Record]) -> dict:
    # a fake's partner is the unprocessed real of its own unit (processed reals differ by design)
    reals = {unit_key(r): r for r in records if r.label == 0 and not r.processing}
    fakes = [r for r in records if r.label == 1 and unit_key(r) in reals]
    report = {}
    for statistic in STATISTICS:
        differences = sum(_value(f, statistic) != _value(reals[unit_key(f)], statistic) for f in fakes)
        entry = {"paired_differences": int(differences) if statistic != "bytes_per_pixel" else None, "auc": _auc(records, statistic)}
        by_domain = defaultdict(list)
        for f in fakes:
            by_domain[f.domain].append(f)
        entry["auc_by_domain"] = {d: _auc(list(reals.values()) + fs, statistic) for d, fs in sorted(by_domain.items())}
        if statistic == "bytes_per_pixel":
            ratios = [f.bytes / reals[unit_key(f)].bytes for f in fakes]
            entry["fake_to_real_bytes_median"] = {d: float(np.median([f.bytes / reals[unit_key(f)].bytes for f in fs])) for d, fs in sorted(by_domain.items())}
            entry["fake_to_real_bytes_median_all"] = float(np.median(ratios)) if ratios else float("nan")
        report[statistic] = entry
    return report


def fidelity(manifest_path: str, corpus: str, split: str = "val") -> dict:
    """PSNR/SSIM of each generator's raw output (before the final encode, from the forge's
    cache) against its real photo, with a bicubic baseline for upsampling at the same factor."""
    from PIL import Image
    from skimage.metrics import peak_signal_noise_ratio as psnr
    from skimage.metrics import structural_similarity as ssim

    from training.data.imageformat import decode_rgb

    out = Path(manifest_path).parent
    photo = functools.lru_cache(maxsize=4)(lambda path: decode_rgb((Path(corpus) / path).read_bytes()))  # crops of one photo
    scores = defaultdict(lambda: defaultdict(list))
    for r in manifest.read(manifest_path):
        if r.split != split or r.variant or r.domain not in ("upsample", "reconstruct"):
            continue
        unit = f"c{r.crop['index']}." if r.crop else ""
        cached = out / "cache" / r.source_id / f"{unit}{r.domain}.npy"
        if not cached.exists():
            continue
        real = photo(r.source_path)
        if r.crop:
            x, y, size = r.crop["x"], r.crop["y"], r.crop["size"]
            real = real[y : y + size, x : x + size]
        fake = np.load(cached)
        fidelity_psnr, fidelity_ssim = psnr(real, fake), ssim(real, fake, channel_axis=2)
        # the domain's figure, and each autoencoder's own
        for name in (r.domain, f"reconstruct:{r.network}") if r.domain == "reconstruct" else (r.domain,):
            scores[name]["psnr"].append(fidelity_psnr)
            scores[name]["ssim"].append(fidelity_ssim)
        if r.domain == "upsample":
            factor = r.params["factor"]
            h, w = real.shape[:2]
            small = Image.fromarray(real).resize((max(w // factor, 1), max(h // factor, 1)), Image.LANCZOS)
            scores["bicubic_baseline"]["psnr"].append(psnr(real, np.asarray(small.resize((w, h), Image.BICUBIC))))
            scores[f"upsample:{r.params['network']}"]["psnr"].append(scores["upsample"]["psnr"][-1])
    return {name: {k: round(float(np.mean(v)), 3) for k, v in values.items()} | {"images": len(values["psnr"])}
            for name, values in sorted(scores.items())}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training.data.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", help="a forged set's manifest.jsonl")
    parser.add_argument("--fidelity", metavar="CORPUS", help="also report generator PSNR/SSIM on a split")
    parser.add_argument("--split", default="val")
    args = parser.parse_args(argv)
    if not Path(args.manifest).is_file():
        parser.error(f"no manifest at {args.manifest}")
    if args.fidelity and not Path(args.fidelity, "manifest.jsonl").is_file():
        parser.error(f"--fidelity {args.fidelity} is not a corpus (no manifest.jsonl there)")
    try:
        records = manifest.read(args.manifest)
    except (ValueError, TypeError, KeyError) as error:  # a corpus's manifest, or another file
        parser.error(f"{args.manifest} is not a forged set's manifest ({error})")
    if not any(r.label == 1 for r in records) or not any(r.label == 0 for r in records):
        parser.error(f"{args.manifest} needs real and fake images to compare")
    report = {"separability": separability(records)}
    if args.fidelity:
        report["fidelity"] = fidelity(args.manifest, args.fidelity, args.split)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
