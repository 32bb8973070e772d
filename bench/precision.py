"""fp32 vs fp16 vs int8 of one exported model on the CPU provider: images/s and AP side by side.

    .venv/bin/python bench/precision.py --models DIR/synthspot-lite0-{fp32,fp16}.onnx \
        --data MANIFEST [--split test] [--images-1mp 24]

(DIR from `python -m export ... --precisions fp32,fp16 --out DIR`: no fp16 file ships.)

AP is measured on the held-out split exactly as ``python -m training.evaluate`` scores images
(the engine's crop plan and aggregation, the model's own max_crops and early exit). Images/s is the engine end
to end (read + decode + crops + ONNX + store) on 1 MP JPEGs, as bench/engine_throughput.py does.
The CPU default is the fastest precision whose AP is within 0.005 of fp32's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_throughput import SIZES, engine_run, make_photos  # noqa: E402

from engine.model import Detector  # noqa: E402
from training.evaluate import summarize  # noqa: E402
from training.records import load_records
from training.scoring import OnnxScorer, score_records

AP_TOLERANCE = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", required=True, help="the same model at several precisions")
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--images-1mp", type=int, default=24)
    parser.add_argument("--batch-crops", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="end-to-end runs per model, alternating (the median)")
    args = parser.parse_args()

    records, base = load_records(args.data, args.split)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        photos = make_photos(Path(scratch), args.images_1mp, SIZES["1mp"], seed=0)
        for model in args.models:
            meta = Detector(model, provider="cpu").metadata
            scores = score_records(records, base, OnnxScorer(model), meta.max_crops, meta.aggregation,
                                   crop_plan=meta.crop_plan, cascade=meta)  # its early exit, if it has one
            rows.append([meta.precision, Path(model).name, summarize(scores)["clean"]["overall"]["ap"], [],
                         Path(model).stat().st_size / 1e6])
        # One run of a second is at the mercy of whatever else the machine does: the models take turns, each
        # round in a fresh store, and each keeps its median.
        for round_index in range(args.rounds):
            for index, model in enumerate(args.models):
                store = Path(scratch) / f"store{round_index}-{index}.sqlite"
                elapsed, _ = engine_run(Path(model), photos, store, args.batch_crops)
                rows[index][3].append(len(photos) / elapsed)
        rows = [(precision, name, ap, statistics.median(rates), size) for precision, name, ap, rates, size in rows]
    reference = next((r[2] for r in rows if r[0] == "fp32"), rows[0][2])
    print(f"held-out: {args.data} split {args.split}, {len(records)} images; end to end: {args.images_1mp} JPEGs at "
          f"{SIZES['1mp'][0]}x{SIZES['1mp'][1]}, the median of {args.rounds} alternating runs")
    print(f"{'precision':<9} {'file':<36} {'AP':>7} {'dAP':>7} {'img/s':>7} {'MB':>6}")
    for precision, name, ap, rate, size in rows:
        print(f"{precision:<9} {name:<36} {ap:7.4f} {ap - reference:+7.4f} {rate:7.1f} {size:6.1f}")
    eligible = [r for r in rows if r[2] >= reference - AP_TOLERANCE]
    best = max(eligible, key=lambda r: r[3])
    print(f"CPU default: {best[0]} ({best[1]}): the fastest within {AP_TOLERANCE} AP of fp32")


if __name__ == "__main__":
    main()
