"""Print a model's logits on the pinned crops, as tests/engine/test_scan_pinned.py's LOGITS holds them.

A new default model changes every pinned logit: run this on it and paste the output over LOGITS, or over
INT8_LOGITS for the int8 file (the windows themselves must not change; test_texture_plan_picks_the_pinned_windows
says so).
    .venv/bin/python scripts/record_pinned_logits.py [--model engine/models/synthspot-lite0-fp32.onnx] [--name LOGITS]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engine")]

import test_scan_pinned as pinned  # noqa: E402  (the images and the names live in the test)

from engine.model import Detector  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=pinned.MODEL)
    parser.add_argument("--name", default="LOGITS", help="the test's dictionary: LOGITS (fp32) or INT8_LOGITS")
    args = parser.parse_args(argv)
    detector = Detector(args.model, provider="cpu")
    print(f"{args.name} = {{")
    for name in sorted(pinned.LOGITS):
        values = [f"{value:.6f}" for value in pinned.pinned_crop_logits(detector, name)]
        print(f'    "{name}": [\n        {", ".join(values[:4])},\n        {", ".join(values[4:])},\n    ],')
    print("}")


if __name__ == "__main__":
    main()
