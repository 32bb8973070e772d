"""Evaluate a detector on a manifest or a reader layout, scoring images exactly as the engine does.

    python -m training.evaluate --checkpoint RUN/checkpoint --data MANIFEST_OR_FOLDER [--split test]
        [--calibration RUN/calibration.json] [--perturbations all] [--out RUN/eval_test]

Every image is decoded as the engine decodes it (``engine.decode``), cut into the engine's crop plan (``engine.contract.plan_for`` /
``extract_crops``), the crops' logits are combined by ``aggregate_logits``, and
metrics are computed per generator (its fakes against all reals of the split) and
overall, on clean images and under each perturbation (applied to the whole image
before cropping, as a re-shared photo would arrive).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, Protocol
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageFilter

from engine.contract import (AGGREGATIONS, DEFAULT_MAX_CROPS, INPUT_IMAGE, KEY_AGGREGATION, KEY_CROP_PLAN, KEY_CROP_SIZE,
                             KEY_EARLY_EXIT, KEY_MAX_CROPS, OUTPUT_LOGIT, LogitScaling, ModelMetadata, Thresholds,
                             aggregate_logits, decided_early, extract_crops, first_stage, plan_for, sigmoid)
# The app's verdict rule and what it reads of a file: evaluation reports the verdicts people see.
from engine.decode import DecodedImage, DecodeError, decode_image
from engine.result import REASON_KINDS, ImageTraits, decide_verdict, fine_detail, reason_kind
from training.arguments import at_least
from training.data import manifest, readers


class CropScorer(Protocol):
    crop_size: int

    def __call__(self, crops: np.ndarray) -> np.ndarray: ...


class TorchScorer:
    """A training ``Detector`` on uint8 NHWC crops, normalised as the exported graph does. It scores
    a copy with LoRA folded in, in channels-last layout: outputs within 1e-5 of the training graph's,
    at 1.5x (mixed) to 3x (SEF with GAMMA) its speed on the CPU, which bounds an ablation run's
    calibration and evaluation."""

    def __init__(self, detector, batch: int = 32):
        import torch

        from training.detector import merged_for_inference

        self.torch = torch
        self.detector = merged_for_inference(detector.eval()).to(memory_format=torch.channels_last)
        self.crop_size = detector.input_spec.crop_size
        self.batch = batch

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        torch = self.torch
        logits = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch):
                x = torch.from_numpy(crops[start:start + self.batch]).permute(0, 3, 1, 2).float().div(255.0)
                logits.append(self.detector(self.detector.normalize(x)).logit.reshape(-1).numpy())
        return np.concatenate(logits)


class OnnxScorer:
    """A contract ``.onnx`` file run with ONNX Runtime on the CPU."""

    def __init__(self, path: str | os.PathLike, batch: int = 32, threads: int | None = None):
        import onnxruntime as ort

        from engine.model import session_options

        self.session = ort.InferenceSession(str(path), sess_options=session_options(threads or 0),
                                            providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        self.crop_size = int(props[KEY_CROP_SIZE])
        self.batch = batch

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        return np.concatenate([self.session.run([OUTPUT_LOGIT], {INPUT_IMAGE: crops[s:s + self.batch]})[0].reshape(-1)
                               for s in range(0, len(crops), self.batch)])


def _reencode(rgb: np.ndarray, fmt: str, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _resize(rgb: np.ndarray, factor: float, resample: Image.Resampling) -> np.ndarray:
    image = Image.fromarray(rgb)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return np.asarray(image.resize(size, resample))


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "jpeg95": lambda rgb: _reencode(rgb, "JPEG", 95),
    "jpeg75": lambda rgb: _reencode(rgb, "JPEG", 75),
    "jpeg50": lambda rgb: _reencode(rgb, "JPEG", 50),
    "blur1": lambda rgb: np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(1.0))),
    "downscale0.5": lambda rgb: _resize(rgb, 0.5, Image.LANCZOS),
    # a real photo blown up by an ordinary editor: the false alarm an upsampling detector must not raise
    "upscale2": lambda rgb: _resize(rgb, 2.0, Image.BICUBIC),
    "webp80": lambda rgb: _reencode(rgb, "WEBP", 80),
}


def parse_perturbations(text: str) -> list[str]:
    """A command line's comma list of PERTURBATIONS ('all' for every one, 'none' for none)."""
    if text == "all":
        return list(PERTURBATIONS)
    names = [name.strip() for name in text.split(",") if name.strip() and name.strip() != "none"]
    if unknown := [name for name in names if name not in PERTURBATIONS]:
        raise ValueError(f"unknown perturbation(s) {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}")
    return names


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


@dataclass(frozen=True)
class ScoringRecipe:
    """How an image becomes one score, as a model's metadata says: what calibration is fitted
    with and what export stamps, so the app scores exactly as the thresholds assume."""

    max_crops: int = DEFAULT_MAX_CROPS
    aggregation: str = "mean"
    crop_plan: str = "grid"
    cascade: ModelMetadata | None = None  # an exported model's metadata where it has a cascade of crops

    def but(self, max_crops: int | None = None, aggregation: str | None = None, crop_plan: str | None = None) -> ScoringRecipe:
        """This recipe with the given fields overridden (None keeps a field)."""
        return ScoringRecipe(max_crops or self.max_crops, aggregation or self.aggregation, crop_plan or self.crop_plan,
                             self.cascade)


def score_image(rgb: np.ndarray, scorer: CropScorer, max_crops: int, aggregation: str, crop_plan: str = "grid",
                cascade: ModelMetadata | None = None) -> float:
    """One image's logit as the engine computes it; with ``cascade`` (a model's metadata), its first crops
    alone where they settle the image (``engine.contract.decided_early``)."""
    return aggregate_logits(crop_logits(rgb, scorer, max_crops, crop_plan, cascade)[0], aggregation)


def crop_logits(rgb: np.ndarray, scorer: CropScorer, max_crops: int, crop_plan: str = "grid",
                cascade: ModelMetadata | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the logits of the crops the engine scores, every crop of the plan): a cascade that settles an
    image on its first crops scores only those."""
    crops = extract_crops(rgb, plan_for(rgb, scorer.crop_size, max_crops, crop_plan))
    if cascade is None:
        return scorer(crops), crops
    first = first_stage(len(crops), cascade)
    logits = scorer(crops[:first])
    if first < len(crops) and not decided_early(logits, cascade):
        logits = np.concatenate([logits, scorer(crops[first:])])
    return logits, crops


@dataclass(frozen=True)
class AppView:
    """What the app reads of an image besides its score, for the verdict it would show (clean images)."""

    crop_logits: np.ndarray
    width: int
    height: int
    jpeg_quality: int | None
    traits: ImageTraits

    def verdict(self, probability: float, thresholds: Thresholds, scaling: LogitScaling,
                crop_size: int) -> tuple[str, list[str]]:
        """The verdict and the reasons for "uncertain", as ``engine.result.score_result`` decides them."""
        crop_probabilities = sigmoid(scaling.apply(self.crop_logits))
        return decide_verdict(probability, thresholds, crop_probabilities, self.width, self.height, crop_size,
                              self.jpeg_quality, self.traits)


class UndecodableImage(ValueError):
    """An image of the data that the engine's decoder refuses (the app could not score it either)."""


def read_image(path: Path) -> DecodedImage:
    """An image as the engine decodes it: its pixels as stored (for an RGB file, training's own), and what
    the app reads of the file (JPEG quality, mode, frames, size as shown)."""
    try:
        return decode_image(Path(path).read_bytes())
    except (DecodeError, OSError) as error:
        raise UndecodableImage(f"{path}: {error}") from error


@dataclass
class Scores:
    labels: np.ndarray
    groups: list[str]
    logits: dict[str, np.ndarray] = field(default_factory=dict)  # condition -> image logits
    families: list[str] = field(default_factory=list)  # per image: family_name (reals: "real")
    real_kinds: list[tuple[str, ...]] = field(default_factory=list)  # per image: real_kinds (fakes: ())
    scaling: LogitScaling = field(default_factory=LogitScaling)  # the calibration's, as the app applies it
    app_views: list[AppView] = field(default_factory=list)  # per image, clean: for the app's verdicts
    crop_size: int = 0

    def probabilities(self, condition: str = "clean") -> np.ndarray:
        return sigmoid(self.scaling.apply(self.logits[condition]))


def score_records(records: Sequence[manifest.Record], base: Path, scorer: CropScorer,
                  max_crops: int = DEFAULT_MAX_CROPS, aggregation: str = "mean",
                  perturbations: Sequence[str] = (), progress: bool = False, crop_plan: str = "grid",
                  cascade: ModelMetadata | None = None) -> Scores:
    conditions = ["clean", *perturbations]
    logits = {c: np.empty(len(records)) for c in conditions}
    views = []
    started = time.perf_counter()
    for index, record in enumerate(records):
        image = read_image(manifest.resolve(base, record.path))
        rgb = image.rgb
        for condition in conditions:
            if condition == "clean":
                scored, crops = crop_logits(rgb, scorer, max_crops, crop_plan, cascade)
                logits[condition][index] = aggregate_logits(scored, aggregation)
                views.append(AppView(scored, image.width, image.height, image.jpeg_quality,
                                     ImageTraits(image.mode, image.animated, fine_detail(crops))))
            else:
                logits[condition][index] = score_image(PERTURBATIONS[condition](rgb), scorer, max_crops, aggregation,
                                                       crop_plan, cascade)
        if progress and (index + 1) % 20 == 0:
            print(f"  {index + 1}/{len(records)} images, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return Scores(np.array([r.label for r in records]), [group_name(r) for r in records], logits,
                  [family_name(r) if r.label else "real" for r in records],
                  [real_kinds(r) if r.label == 0 else () for r in records], app_views=views,
                  crop_size=scorer.crop_size)


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


def load_scorer(checkpoint: str | None, onnx_path: str | None) -> tuple[CropScorer, ScoringRecipe]:
    """(scorer, recipe) from a training checkpoint (default recipe) or an exported model (its own)."""
    if onnx_path:
        scorer = OnnxScorer(onnx_path)
        props = scorer.session.get_modelmeta().custom_metadata_map
        cascade = ModelMetadata.from_props(props) if KEY_EARLY_EXIT in props else None
        return scorer, ScoringRecipe(int(props.get(KEY_MAX_CROPS, DEFAULT_MAX_CROPS)), props[KEY_AGGREGATION],
                                     props.get(KEY_CROP_PLAN, "grid"), cascade)
    from training.checkpoint import load_checkpoint

    return TorchScorer(load_checkpoint(checkpoint)), ScoringRecipe()


def load_scorer_or_exit(parser: argparse.ArgumentParser, checkpoint: str | None,
                        onnx_path: str | None) -> tuple[CropScorer, ScoringRecipe]:
    """:func:`load_scorer`, a path that is not a model being one line (with a hint for a run folder)."""
    try:
        return load_scorer(checkpoint, onnx_path)
    except Exception as error:  # a zoo: safetensors, JSON, protobuf, onnxruntime, a missing file
        exit_unusable(parser, checkpoint or onnx_path or "", "checkpoint" if checkpoint else "ONNX model", error)


def load_checkpoint_or_exit(parser: argparse.ArgumentParser, checkpoint: str):
    """A training checkpoint, or one line saying why the path is not one."""
    from training.checkpoint import load_checkpoint

    try:
        return load_checkpoint(checkpoint)
    except Exception as error:
        exit_unusable(parser, checkpoint, "checkpoint", error)


def exit_unusable(parser: argparse.ArgumentParser, path: str, kind: str, error: Exception) -> NoReturn:
    folder = Path(path)
    hint = f" (did you mean {folder / 'checkpoint'}?)" if kind == "checkpoint" and (folder / "checkpoint").is_dir() else ""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    parser.error(f"{path} is not a usable {kind}{hint}: {first_line}")


def check_out_file(parser: argparse.ArgumentParser, out: str) -> None:
    """Before any scoring: ``out`` must be writable as a file (its folder is made)."""
    path = Path(out)
    if path.is_dir():
        parser.error(f"--out {out} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"--out {out}: {error}")


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
    parser.add_argument("--perturbations", default="all", help="comma list of " + ",".join(PERTURBATIONS) + ", 'all' or 'none'")
    parser.add_argument("--calibration", help="calibration.json: probabilities on its logit scaling, accuracies at "
                                              "its likely_ai threshold (default: raw logits, 0.5)")
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
    if calibration is not None:
        # Thresholds fitted on another crop size or recipe mean nothing here (export refuses the same).
        mismatches = calibration.mismatches(scorer.crop_size, recipe.max_crops, recipe.aggregation, recipe.crop_plan)
        if mismatches:
            parser.error("the calibration does not fit this model and recipe: " + "; ".join(mismatches))
        threshold, likely_real = calibration.likely_ai, calibration.likely_real
    records, base = load_records(args.data, args.split, args.layout)
    try:
        scores = score_records(records, base, scorer, recipe.max_crops, recipe.aggregation, perturbations,
                               progress=True, crop_plan=recipe.crop_plan, cascade=recipe.cascade)
    except UndecodableImage as error:
        parser.error(f"{error} (the app could not score it either: take it out of the data)")
    if calibration is not None:
        scores.scaling = calibration.scaling()
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
