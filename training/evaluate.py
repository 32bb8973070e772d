"""Evaluate a detector on a manifest or a reader layout, scoring images exactly as the engine does.

    python -m training.evaluate --checkpoint RUN/checkpoint --data MANIFEST_OR_FOLDER [--split test]
        [--calibration RUN/calibration.json] [--perturbations all] [--out RUN/eval_test]

Images are scored as the app scores them (``training.scoring``); metrics are computed per generator
(its fakes against all reals of the split), per family and overall, on clean images and under each
perturbation (``training.perturbations``: applied to the whole image before cropping, as a re-shared
photo would arrive), with the shares of the verdicts the app would show.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from engine.contract import AGGREGATIONS, Thresholds
from engine.result import REASON_KINDS, reason_kind
from training.arguments import at_least, load_scorer_or_exit
from training.data import readers
from training.perturbations import PERTURBATIONS, parse_perturbations
from training.records import load_records
from training.scoring import Scores, UndecodableImage, score_records


def per_group_metrics(labels: np.ndarray, probabilities: np.ndarray, names: Sequence[str], threshold: float = 0.5) -> dict:
    """{name: detection metrics} of each group's fakes against every real of the split."""
    from training.metrics import detection_metrics

    names_arr = np.array(names)
    out = {}
    for name in sorted({n for n, label in zip(names, labels, strict=True) if label == 1}):
        keep = (names_arr == name) | (labels == 0)
        out[name] = detection_metrics(labels[keep], probabilities[keep], threshold)
    return out


def summarize(scores: Scores, threshold: float = 0.5, likely_real: float | None = None) -> dict:
    """{condition: {"overall", "per_generator", "per_family": metrics, "verdicts": band shares}}.

    Each generator or family group is its fakes against every real. ``verdicts`` (with
    ``likely_real``) gives the share of images in each of the app's bands by score alone: for all
    fakes, per family, and for real photos by what was done to them (``real_kinds``: original, resize,
    blur...). ``app_verdicts`` (clean images) gives the shares of the verdicts the app would show, which
    may also call an image "uncertain" for what it is (tiny, few colours, an animation, flat) or, short
    of likely AI, for heavy JPEG compression or crops on both sides of the bands
    (``engine.result.decide_verdict``).
    """
    from training.metrics import band_shares, detection_metrics, verdict_shares

    out = {}
    groups = verdict_groups(scores)
    for condition in scores.logits:
        probabilities = scores.probabilities(condition)
        entry = {"overall": detection_metrics(scores.labels, probabilities, threshold),
                 "per_generator": per_group_metrics(scores.labels, probabilities, scores.groups, threshold)}
        if scores.families:
            entry["per_family"] = per_group_metrics(scores.labels, probabilities, scores.families, threshold)
        if likely_real is not None:
            entry["verdicts"] = {name: verdict_shares(probabilities[chosen], threshold, likely_real)
                                 for name, chosen in groups}
            if condition == "clean" and len(scores.app_views) == len(probabilities):
                thresholds = Thresholds(threshold, likely_real)
                decided = [view.verdict(p, thresholds, scores.scaling, scores.crop_size)
                           for view, p in zip(scores.app_views, probabilities, strict=True)]
                shown = np.array([verdict for verdict, _reasons in decided], dtype=object)
                kinds = [{reason_kind(reason) for reason in reasons} for _verdict, reasons in decided]
                entry["app_verdicts"] = {name: band_shares(shown[chosen]) for name, chosen in groups}
                # Which reasons for "uncertain" fire, as shares of each group (an image may have several).
                entry["app_reasons"] = {
                    name: {kind: float(np.mean([kind in kinds[i] for i in np.flatnonzero(chosen)]))
                           for kind, _start in REASON_KINDS} for name, chosen in groups if chosen.any()}
        out[condition] = entry
    return out


def verdict_groups(scores: Scores) -> list[tuple[str, np.ndarray]]:
    """(name, mask) of the groups verdict shares are reported for: all fakes, all reals, each family's
    fakes, and real photos by what was done to them (``real_kinds``: original, resize, blur...)."""
    groups = [("fake", scores.labels == 1), ("real", scores.labels == 0)]
    for family in sorted({f for f, label in zip(scores.families, scores.labels, strict=True) if label == 1}):
        groups.append((f"fake/{family}", np.array([f == family for f in scores.families])))
    for kind in sorted({k for kinds in scores.real_kinds for k in kinds}):
        groups.append((f"real/{kind}", np.array([kind in kinds for kinds in scores.real_kinds])))
    return groups


def photo_intervals(scores: Scores, photos: Sequence[str], resamples: int) -> dict:
    """Each condition's mean generator and family AP over resamples of the split's source photos: the
    95% percentile interval and the resamples' median. AP over a few dozen photos is lopsided (leaving
    out a real photo that scores high raises it more than drawing it twice lowers it): the median can
    sit above the observed value, and the interval is not centred on it."""
    from training.metrics import bootstrap_mean_aps, percentile_interval

    out: dict = {"resamples": resamples, "sources": len(set(photos)), "images": len(photos)}
    for condition, logits in scores.logits.items():  # AP ranks: logits serve as well as probabilities
        out[condition] = {}
        for key, groups in (("mean_generator_ap", scores.groups), ("mean_family_ap", scores.families)):
            means = bootstrap_mean_aps(scores.labels, groups, photos, [logits], resamples)[:, 0]
            out[condition][key] = {"interval": percentile_interval(means), "median": float(np.median(means))}
    return out



def stamped_calibration(scorer):
    """An exported model's own metadata (its thresholds and logit scaling), what the app scores it with; None where
    the file has none to give. Without it an ONNX model was scored at 0.5 and no scaling: not as the app does."""
    from engine.contract import ContractError, ModelMetadata

    try:
        return ModelMetadata.from_props(scorer.session.get_modelmeta().custom_metadata_map)
    except (ContractError, KeyError, ValueError):
        return None

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a training checkpoint directory")
    source.add_argument("--onnx", help="an exported contract model")
    parser.add_argument("--data", required=True, help="a manifest.jsonl, or a folder in a reader layout")
    parser.add_argument("--layout", choices=sorted(readers.READERS))
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-crops", type=at_least(1), help="crops per image (default: the model's)")
    parser.add_argument("--aggregation", choices=AGGREGATIONS, help="default: the model's (mean for checkpoints)")
    parser.add_argument("--crop-plan", choices=("grid", "texture"), help="default: the model's (grid for checkpoints)")
    parser.add_argument("--perturbations", default="all", help="comma list of " + ",".join(PERTURBATIONS)
                        + ", 'all' or 'none' (default: all)")
    parser.add_argument("--calibration", help="calibration.json: probabilities on its logit scaling, accuracies at "
                                              "its likely_ai threshold (default: an --onnx model's own, as the app "
                                              "scores it; for a checkpoint raw logits at 0.5)")
    parser.add_argument("--out", required=True, help="folder for metrics.json, scores.npz, report.md and plots")
    parser.add_argument("--title", default="")
    parser.add_argument("--bootstrap", type=at_least(0), default=0, metavar="N",
                        help="resample the split's source photos (each with every fake and copy made from it; a "
                             "folder's files are their own sources) N times: 95%% intervals of the mean APs")
    args = parser.parse_args(argv)

    try:  # before the model loads: a typo should not cost a minute
        perturbations = parse_perturbations(args.perturbations)
    except ValueError as error:
        parser.error(str(error))
    calibration = None
    if args.calibration:
        from training.calibrate import Calibration

        try:
            calibration = Calibration.load(args.calibration)
        except (OSError, ValueError, TypeError, KeyError) as error:
            parser.error(f"--calibration {args.calibration} is not a calibration.json ({error})")
    if Path(args.out).is_file():
        parser.error(f"--out {args.out} is a file; evaluate writes a folder")
    scorer, recipe = load_scorer_or_exit(parser, args.checkpoint, args.onnx)
    asked = (args.max_crops, args.aggregation, args.crop_plan)
    if calibration is not None:  # it carries the recipe it was fitted with: that, unless asked otherwise
        fitted = (calibration.max_crops, calibration.aggregation, calibration.crop_plan)
        asked = tuple(fitted_value if value is None else value for value, fitted_value in zip(asked, fitted, strict=True))
    recipe = recipe.but(*asked)
    threshold, likely_real = 0.5, None
    stamped = stamped_calibration(scorer) if calibration is None and args.onnx else None
    if calibration is not None:
        # Thresholds fitted on another crop size or recipe mean nothing here (export refuses the same).
        mismatches = calibration.mismatches(scorer.crop_size, recipe.max_crops, recipe.aggregation, recipe.crop_plan)
        if mismatches:
            parser.error("the calibration does not fit this model and recipe: " + "; ".join(mismatches))
        threshold, likely_real = calibration.likely_ai, calibration.likely_real
    elif stamped is not None:  # an exported model carries its own: scored as the app scores it
        threshold, likely_real = stamped.thresholds.likely_ai, stamped.thresholds.likely_real
    records, base = load_records(args.data, args.split, args.layout)
    try:
        scores = score_records(records, base, scorer, recipe.max_crops, recipe.aggregation, perturbations,
                               progress=True, crop_plan=recipe.crop_plan, cascade=recipe.cascade)
    except UndecodableImage as error:
        parser.error(f"{error} (the app could not score it either: take it out of the data)")
    if calibration is not None:
        scores.scaling = calibration.scaling()
    elif stamped is not None:
        scores.scaling = stamped.logit_scaling
    summary = summarize(scores, threshold, likely_real)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"data": str(args.data), "split": args.split, "threshold": threshold, "likely_real": likely_real,
               "max_crops": recipe.max_crops, "aggregation": recipe.aggregation, "crop_plan": recipe.crop_plan,
               "early_exit": None if recipe.cascade is None else dataclasses.asdict(recipe.cascade.early_exit),
               "logit_scaling": {"scale": scores.scaling.scale, "offset": scores.scaling.offset},
               "model": args.checkpoint or args.onnx, "metrics": summary}
    (out / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    np.savez(out / "scores.npz", labels=scores.labels, groups=np.array(scores.groups),
             families=np.array(scores.families), **scores.logits)
    if args.bootstrap:  # after the scores are safe: minutes of resampling, and a split too small for it
        try:
            payload["bootstrap"] = photo_intervals(scores, [r.source_id for r in records], args.bootstrap)
        except ValueError as error:
            print(f"no intervals: {error}", file=sys.stderr)
        (out / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    from training.report import write_report

    write_report(out, scores, payload, args.title or Path(args.checkpoint or args.onnx).name)
    overall = summary["clean"]["overall"]
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in overall.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
