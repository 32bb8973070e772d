"""Choose the scoring recipe (crops per image, aggregation of their logits) on VALIDATION data.

    python -m training.recipe --checkpoint RUN/checkpoint --data MANIFEST [--split val]
        [--max-crops 8,16,28] [--crop-plan texture] [--out RUN/recipe.json]

Each image's crops are scored once per crop count; every aggregation in
``engine.contract.AGGREGATIONS`` is computed from those same crop logits. The table gives AP and
AUC over all fakes and the mean AP over generators (each generator's fakes against every real);
the chosen recipe is the best mean per-generator AP (ties: fewer crops, which is faster).
Never run this on the test split: the recipe is a tuned choice.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from engine.contract import AGGREGATIONS, aggregate_logits, extract_crops, plan_for, sigmoid
from training.data import manifest


def crop_logits(records, base, scorer, max_crops: int, crop_plan: str) -> list[np.ndarray]:
    """Per image, the logits of its crops under the engine's plan, on the pixels the engine decodes
    (CMYK, 16-bit, palette and transparent images differ from a bare ``convert("RGB")``)."""
    from training.scoring import read_image

    out = []
    for record in records:
        rgb = read_image(manifest.resolve(base, record.path)).rgb
        out.append(scorer(extract_crops(rgb, plan_for(rgb, scorer.crop_size, max_crops, crop_plan))))
    return out


def compare(labels: np.ndarray, groups: list[str], logits_per_image: list[np.ndarray]) -> dict[str, dict]:
    """{aggregation: {"ap", "auc", "mean_generator_ap"}} from the same crop logits."""
    from training.evaluate import per_group_metrics
    from training.metrics import detection_metrics, mean_ap

    table = {}
    for aggregation in AGGREGATIONS:
        scores = sigmoid(np.array([aggregate_logits(crop_logits, aggregation) for crop_logits in logits_per_image]))
        overall = detection_metrics(labels, scores)
        per_generator = per_group_metrics(labels, scores, groups)
        table[aggregation] = {"ap": overall["ap"], "auc": overall["auc"],
                              "mean_generator_ap": mean_ap(per_generator)}
    return table


def main(argv: list[str] | None = None) -> int:
    from training.records import group_name, load_records
    from training.scoring import load_scorer

    parser = argparse.ArgumentParser(prog="python -m training.recipe", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint")
    source.add_argument("--onnx")
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--max-crops", default="8,16,28", help="comma list of crop counts to compare")
    parser.add_argument("--crop-plan", default="texture", choices=("grid", "texture"))
    parser.add_argument("--out", help="write the table and the choice as JSON")
    args = parser.parse_args(argv)
    if args.split == "test":
        parser.error("the scoring recipe is tuned: never on the test split")
    scorer, _ = load_scorer(args.checkpoint, args.onnx)
    records, base = load_records(args.data, args.split)
    labels, groups = np.array([r.label for r in records]), [group_name(r) for r in records]
    rows = []
    for count in sorted(int(c) for c in args.max_crops.split(",")):
        for aggregation, metrics in compare(labels, groups, crop_logits(records, base, scorer, count, args.crop_plan)).items():
            rows.append({"max_crops": count, "aggregation": aggregation, **metrics})
            print(json.dumps(rows[-1]), file=sys.stderr)
    best = max(rows, key=lambda r: (round(r["mean_generator_ap"], 3), -r["max_crops"]))
    result = {"split": args.split, "crop_plan": args.crop_plan, "n_images": len(records), "rows": rows, "chosen": best}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(best))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
