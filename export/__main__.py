"""``python -m export``: a training checkpoint -> contract ONNX files, thresholds from calibration stamped in.

    python -m export --checkpoint RUN/checkpoint --calibration RUN/calibration.json \
        --out engine/models --name synthspot-lite0 --version 1 --precisions fp32,fp16,int8 \
        [--parity-data MANIFEST] [--metrics RUN/eval/metrics.json] [--max-crops N --aggregation A --crop-plan P]

The scoring recipe (max crops, aggregation, crop plan) defaults to the one the calibration was
fitted with; export refuses a recipe that differs from it, since the thresholds would not hold.

Writes ``<out>/<name>-<precision>.onnx`` for each precision; each export runs the parity
check against torch on crops of real photos (from ``--parity-data``'s val split, else from the
photographs scikit-image ships), on every output the model has, and fails above the tolerance
(``export.onnx_export``: the current exporter is tried first, then the TorchScript one). int8 is
static: its activation ranges come from crops of ``--parity-data``'s train split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from engine.contract import AGGREGATIONS, DEFAULT_MAX_CROPS, ModelMetadata, extract_crops, plan_for
from training.checkpoint import WEIGHTS_FILE


def photo_crops(data: str | None, crop_size: int, count: int = 32, split: str = "val") -> np.ndarray:
    """Crops of photos from ``split`` of ``data`` (four of each of ``count // 4`` images spread evenly over the
    split, so that many photos come: a forged manifest keeps each photo's hundreds of rows together); without
    data, of scikit-image's sample photographs."""
    if data is None:
        from export.onnx_export import sample_photo_crops

        return sample_photo_crops(crop_size, count)
    from training.records import load_records
    from training.scoring import read_image
    from training.data import manifest

    records, base = load_records(data, split)
    crops = []
    wanted = max(1, count // 4)
    for record in records[:: max(1, len(records) // wanted)][:wanted]:
        rgb = read_image(manifest.resolve(base, record.path)).rgb  # as the engine decodes it
        crops.append(extract_crops(rgb, plan_for(rgb, crop_size, 4, "texture")))
    return np.concatenate(crops)[:count]


def default_version(checkpoint: str, calibration: str) -> str:
    """A version that changes whenever the weights or the calibration do: results are cached by name@version,
    and the same weights calibrated again give other verdicts (version 13's thresholds moved from 0.995 to
    0.960 with its weights unchanged)."""
    digest = hashlib.sha256((Path(checkpoint) / WEIGHTS_FILE).read_bytes())
    digest.update(Path(calibration).read_bytes())
    return digest.hexdigest()[:8]


def stamped_metrics(path: str, likely_ai: float) -> dict:
    """The evaluation's summary for the model's metadata, with the shares of fakes and reals the app calls
    likely AI: the figures a person reads on the card. They hold only at the threshold they were measured at,
    so an evaluation made with another calibration is refused (a card once said 37% of fakes were flagged
    from the TPR at 1% FPR, where the shipped threshold flagged 14%)."""
    payload = json.loads(Path(path).read_text())
    measured_at = payload.get("threshold")
    if measured_at is None or abs(measured_at - likely_ai) > 1e-9:
        raise SystemExit(f"python -m export: --metrics {path} was measured with likely AI at {measured_at}, the "
                         f"calibration's threshold is {likely_ai}: evaluate with this --calibration")
    clean = payload["metrics"]["clean"]
    metrics = {"split": payload["split"],
               **{k: round(clean["overall"][k], 4) for k in ("ap", "auc", "acc_balanced", "tpr_at_1fpr")}}
    verdicts = clean.get("app_verdicts") or clean["verdicts"]
    metrics["fakes_likely_ai"] = round(verdicts["fake"]["likely_ai"], 4)
    metrics["reals_likely_ai"] = round(verdicts["real"]["likely_ai"], 4)
    return metrics


def build_metadata(args, detector) -> ModelMetadata:
    from training.calibrate import Calibration

    try:
        calibration = Calibration.load(args.calibration)
    except (OSError, ValueError, TypeError) as error:
        raise SystemExit(f"python -m export: --calibration {args.calibration} is not a calibration.json "
                         f"({error})") from None
    metrics = stamped_metrics(args.metrics, calibration.likely_ai) if args.metrics else {}
    training = {"backbone": detector.config.backbone, "method": detector.config.method,
                "adapter": detector.config.adapter, "gamma": detector.config.gamma.enabled,
                "calibration": {"split": calibration.split, "n_real": calibration.n_real,
                                "real_quantile": calibration.real_quantile, "weighting": calibration.weighting}}
    if args.training_note:
        training["data"] = args.training_note
    crop_size = detector.input_spec.crop_size
    aggregation = args.aggregation or calibration.aggregation or "mean"
    max_crops = args.max_crops or calibration.max_crops or DEFAULT_MAX_CROPS
    crop_plan = args.crop_plan or calibration.crop_plan or "grid"
    mismatches = calibration.mismatches(crop_size, max_crops, aggregation, crop_plan)
    if mismatches:
        raise SystemExit("the calibration's thresholds do not hold for this model's scoring (recalibrate, or export "
                         "with the calibration's recipe): " + "; ".join(mismatches))
    version = args.version or default_version(args.checkpoint, args.calibration)
    return ModelMetadata(name=args.name, version=version, crop_size=crop_size, aggregation=aggregation,
                         thresholds=calibration.thresholds(), training=training, metrics=metrics,
                         max_crops=max_crops, crop_plan=crop_plan, logit_scaling=calibration.scaling())


def main(argv: list[str] | None = None) -> int:
    from training.arguments import at_least

    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--calibration", required=True, help="calibration.json from `python -m training calibrate`")
    parser.add_argument("--out", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", help="default: the first 8 hex digits of the SHA-256 of the checkpoint's "
                                           "weights and the calibration file, so that a retrained or recalibrated "
                                           "model never reuses results cached for the last one")
    parser.add_argument("--precisions", default="fp32,fp16")
    parser.add_argument("--max-crops", type=at_least(1), help="default: the calibration's (8 if it records none)")
    parser.add_argument("--aggregation", choices=AGGREGATIONS,
                        help="default: the calibration's (mean if it records none)")
    parser.add_argument("--crop-plan", choices=("grid", "texture"),
                        help="default: the calibration's (grid if it records none)")
    parser.add_argument("--parity-data", help="manifest or folder whose val-split photos give the parity crops "
                                              "(default: scikit-image's sample photographs)")
    parser.add_argument("--metrics", help="metrics.json from `python -m training.evaluate` (summary stamped in)")
    parser.add_argument("--training-note", default="", help="one line on the training data, stamped in")
    args = parser.parse_args(argv)

    from export.onnx_export import ExportError, export_detector
    from training.arguments import load_checkpoint_or_exit

    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    if not precisions:
        parser.error("--precisions names none (e.g. fp32,fp16)")
    detector = load_checkpoint_or_exit(parser, args.checkpoint)
    metadata = build_metadata(args, detector)
    crops = photo_crops(args.parity_data, detector.input_spec.crop_size)
    # int8's activation ranges are measured on training crops, never on the crops that check it
    ranges = (photo_crops(args.parity_data, detector.input_spec.crop_size, 128, "train")
              if "int8" in precisions and args.parity_data else None)  # None: export's own range photos
    failed = []
    for precision in precisions:
        path = Path(args.out) / f"{args.name}-{precision}.onnx"
        try:
            report = export_detector(detector, path, metadata, precision, parity_crops=crops,
                                     calibration_crops=ranges)
        except ExportError as exc:  # one precision that does not hold must not stop the others
            print(f"{path}: NOT exported: {exc}", file=sys.stderr)
            failed.append(precision)
            continue
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB): {report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
