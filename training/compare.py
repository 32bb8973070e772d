"""Two evaluations side by side, for choosing between models (issue "A detector that detects"):

    python -m training.compare BASE CANDIDATE [--manifest MANIFEST] [--out FILE.md]

BASE and CANDIDATE are ``python -m training.evaluate --out`` folders scored on the same images (same
data, split and perturbations). For every condition: AP, AUC, ECE, the mean AP over families and over
generators, the verdict shares by score and, clean, as the app shows them, and the worst false-positive
rate over the kinds of real photo; then each family's clean AP. With ``--manifest`` (the evaluations'
data), the clean scores are also sliced by the quality each image was stored at (JPEG), the photos the
app's heavy-compression rule is about. Prints a markdown table (candidate minus base in the last column).

With ``--bootstrap N`` (and ``--manifest``), a second table says how sure the mean generator and family
AP's differences are: the source photos of the split are resampled N times with replacement (a real photo
with every fake and copy made from it), both models scored on each resample; the 95% interval of each
difference, and the share of resamples where the candidate is ahead (a tie is not ahead). On a split of
a few dozen photos a difference of 0.01 is often noise.

With ``--group NAME=REGEX`` (repeatable), each condition also gets the mean AP over the generators whose
name matches REGEX (``re.search``), e.g. ``--group unseen=upscalerjs-(esrgan-thick|gans)`` for a family
kept out of training next to the ones trained on.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from training.arguments import at_least
from training.metrics import detection_metrics, mean_ap, paired_bootstrap_mean_ap, percentile_interval

BANDS = ("likely_ai", "uncertain", "likely_real")
# Stored JPEG quality slices: [low, high); 101 stands for "not a JPEG".
QUALITY_SLICES = ((0, 50), (50, 60), (60, 75), (75, 101), (101, 102))


class NotComparable(ValueError):
    pass


def load(folder: str | Path) -> tuple[dict, dict]:
    """(metrics.json, scores.npz as a dict) of one evaluation folder."""
    folder = Path(folder)
    try:
        payload = json.loads((folder / "metrics.json").read_text())
        with np.load(folder / "scores.npz") as scores:
            return payload, {name: scores[name] for name in scores.files}
    except FileNotFoundError as error:
        raise NotComparable(f"{folder} is not a finished evaluation: {error.filename} is missing") from None


def condition_rows(entry: dict) -> dict[str, float]:
    """One condition's figures, by row name."""
    rows = {name: entry["overall"][key] for name, key in (("AP", "ap"), ("AUC", "auc"), ("ECE", "ece"))}
    rows["mean family AP"] = mean_ap(entry.get("per_family", {}))
    rows["mean generator AP"] = mean_ap(entry["per_generator"])
    for source, label in (("verdicts", "score"), ("app_verdicts", "app")):
        for side in ("fake", "real"):
            for band in BANDS:
                if source in entry:
                    rows[f"{label}: {side}s {band.replace('_', ' ')}"] = entry[source][side][band]
    kinds = [k for k in entry.get("verdicts", {}) if k.startswith("real/")]
    if kinds:
        rows["worst FPR over real kinds"] = max(entry["verdicts"][k]["likely_ai"] for k in kinds)
    return rows


def quality_rows(scores: dict, quality: np.ndarray) -> dict[str, float]:
    """Clean AP of the images stored in each JPEG quality slice (where it holds reals and fakes)."""
    labels, logits = scores["labels"], scores["clean"]
    rows = {}
    for low, high in QUALITY_SLICES:
        chosen = (quality >= low) & (quality < high)
        if labels[chosen].min(initial=1) == labels[chosen].max(initial=0):
            continue  # one class or none: no AP
        name = "not JPEG" if low == 101 else f"JPEG q{low}-{high - 1}"
        counts = f"{int((labels[chosen] == 0).sum())} reals, {int(labels[chosen].sum())} fakes"
        rows[f"clean AP, stored {name} ({counts})"] = detection_metrics(labels[chosen], logits[chosen], 0.0)["ap"]
    return rows


def split_records(manifest: str | Path, split: str, labels: np.ndarray) -> list:
    """The split's records in the evaluation's own order, checked to be the evaluations' images."""
    from training.records import load_records

    records, _ = load_records(manifest, split=split)
    if len(records) != len(labels) or not np.array_equal([r.label for r in records], labels):
        raise NotComparable(f"{manifest}'s {split} images ({len(records)}) are not the evaluations' "
                            f"({len(labels)}, in their order): not their data")
    return records


def stored_quality(records: list) -> np.ndarray:
    return np.array([r.jpeg_quality if r.format == "JPEG" and r.jpeg_quality else 101 for r in records])


def bootstrap_rows(conditions, records: list, base_scores: dict, cand_scores: dict, resamples: int) -> list[str]:
    """The second table: each condition's mean generator and family AP difference, resampled by source photo."""
    from training.records import family_name, group_name

    photos = np.array([r.source_id for r in records])
    groupings = (("generator", np.array([group_name(r) for r in records])),
                 ("family", np.array([family_name(r) for r in records])))
    lines = [f"| {len(set(photos))} source photos resampled {resamples} times | 2.5% | 97.5% | candidate ahead |",
             "|---|---|---|---|"]
    for condition in conditions:
        for name, groups in groupings:
            differences = paired_bootstrap_mean_ap(base_scores["labels"], groups, photos, base_scores[condition],
                                                   cand_scores[condition], resamples)
            low, high = percentile_interval(differences)
            lines.append(f"| {condition}: mean {name} AP difference | {low:+.4f} | {high:+.4f} | "
                         f"{np.mean(differences > 0):.3f} |")
    return lines


def group_rows(entry: dict, groups: dict[str, str]) -> dict[str, float]:
    """Mean generator AP over each named group of generators (a pattern no generator matches is refused)."""
    rows = {}
    for name, pattern in groups.items():
        chosen = {g: m for g, m in entry["per_generator"].items() if re.search(pattern, g)}
        if not chosen:
            raise NotComparable(f"--group {name}={pattern} matches no generator of the evaluation")
        rows[f"mean generator AP, {name} ({len(chosen)})"] = mean_ap(chosen)
    return rows


def compare(base: str | Path, candidate: str | Path, manifest: str | Path | None = None, bootstrap: int = 0,
            groups: dict[str, str] | None = None) -> str:
    (base_payload, base_scores), (cand_payload, cand_scores) = load(base), load(candidate)
    if base_payload["split"] != cand_payload["split"] or not np.array_equal(base_scores["labels"], cand_scores["labels"]):
        raise NotComparable("the two evaluations scored different images (split or data differ)")
    # Conditions (clean, blur1, jpeg75...) scored by both are compared; the others are named, not a refusal
    # (evaluate scores every perturbation unless told otherwise, so one run with --perturbations none stopped it).
    common = [condition for condition in base_payload["metrics"] if condition in cand_payload["metrics"]]
    only_one = sorted(set(base_payload["metrics"]) ^ set(cand_payload["metrics"]))
    if "clean" not in common:
        raise NotComparable("the clean images were not scored by both evaluations")
    lines = [f"| {base_payload['split']} | base | candidate | difference |", "|---|---|---|---|"]

    def add(name: str, old: float, new: float) -> None:
        lines.append(f"| {name} | {old:.4f} | {new:.4f} | {new - old:+.4f} |")

    for condition in common:
        entry = base_payload["metrics"][condition]
        lines.append(f"| **{condition}** | | | |")
        other = condition_rows(cand_payload["metrics"][condition]) | group_rows(cand_payload["metrics"][condition], groups or {})
        for name, value in (condition_rows(entry) | group_rows(entry, groups or {})).items():
            if name in other:
                add(name, value, other[name])
    families = cand_payload["metrics"]["clean"].get("per_family", {})
    for family, figures in sorted(base_payload["metrics"]["clean"].get("per_family", {}).items()):
        if family in families:
            add(f"clean AP, family {family}", figures["ap"], families[family]["ap"])
    if manifest is not None:
        records = split_records(manifest, base_payload["split"], base_scores["labels"])
        quality = stored_quality(records)
        cand_quality = quality_rows(cand_scores, quality)
        for name, value in quality_rows(base_scores, quality).items():
            add(name, value, cand_quality[name])
        if bootstrap:
            try:
                lines += ["", *bootstrap_rows(common, records, base_scores, cand_scores, bootstrap)]
            except ValueError as error:
                raise NotComparable(f"no intervals: {error}") from None
    if only_one:
        lines += ["", f"Scored by only one of them, left out: {', '.join(only_one)} (evaluate both with the same "
                      "--perturbations to compare them)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="a training.evaluate --out folder (the model to beat)")
    parser.add_argument("candidate", help="a training.evaluate --out folder on the same images")
    parser.add_argument("--manifest", help="the evaluations' data: adds AP by stored JPEG quality")
    parser.add_argument("--bootstrap", type=at_least(0), default=0, metavar="N",
                        help="with --manifest: resample the source photos N times for 95%% intervals of the "
                             "mean generator and family AP differences")
    parser.add_argument("--group", action="append", default=[], metavar="NAME=REGEX",
                        help="a row per condition: the mean AP of the generators matching REGEX (repeatable)")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.bootstrap and not args.manifest:
        parser.error("--bootstrap needs --manifest (which photo each image was made from)")
    groups = {}
    for spec in args.group:
        name, _, pattern = spec.partition("=")
        if not name or not pattern:
            parser.error(f"--group takes NAME=REGEX, got {spec!r}")
        try:
            re.compile(pattern)
        except re.error as error:
            parser.error(f"--group {name}: {pattern!r} is not a regular expression ({error})")
        groups[name] = pattern
    try:
        table = compare(args.base, args.candidate, args.manifest, args.bootstrap, groups)
    except NotComparable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table, end="")
    if args.out:
        Path(args.out).write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
