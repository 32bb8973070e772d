"""Give an exported model a cascade of crops, or take it away (issue "A detector that detects": speed).

    python -m export.cascade --model MODEL.onnx --first-crops 4 --margin 0.4 --out FAST.onnx
    python -m export.cascade --model FAST.onnx --first-crops 0 --out MODEL.onnx      # off again

The engine then scores each image's first ``--first-crops`` crops and stops there when their probability
lies more than ``--margin`` beyond the model's bands (``engine.contract.decided_early``). A step after
export because it reads the thresholds the export stamped; the graph and its weights are copied as
they are. Choose the margin on validation data (``python -m training.evaluate --onnx FAST.onnx --split
val``): scores of the images it decides early come from fewer crops.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from engine.contract import ContractError, EarlyExit, ModelMetadata
from export.metadata import stamp

CASCADE_SUFFIX = "+cascade"  # of the version: a cascade scores some images differently


def with_cascade(source: Path, target: Path, first_crops: int, margin: float,
                 version: str | None = None) -> ModelMetadata:
    """A copy of ``source`` with the cascade stamped. It scores some images differently, so it is another
    version (the results store keys cached verdicts by name and version): ``version``, or the old one with
    "+cascade" (and without it when the cascade is switched off)."""
    model = onnx.load(str(source))
    metadata = ModelMetadata.from_props({p.key: p.value for p in model.metadata_props})
    base = metadata.version.removesuffix(CASCADE_SUFFIX)
    version = version or (base + CASCADE_SUFFIX if first_crops else base)
    updated = dataclasses.replace(metadata, early_exit=EarlyExit(first_crops, margin), version=version)
    if first_crops >= updated.max_crops:
        raise ContractError(f"a first stage of {first_crops} crops is the whole plan (max_crops {updated.max_crops})")
    stamp(model, updated)  # validates
    Path(target).parent.mkdir(parents=True, exist_ok=True)  # as python -m export makes its --out folder
    onnx.save(model, str(target))
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.cascade", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--first-crops", required=True, type=int, help="crops scored first; 0 switches it off")
    parser.add_argument("--margin", type=float, default=0.4,
                        help="how far beyond a band the first crops must lie (default 0.4: version 12's, from val)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--version", help='the copy\'s version (default: the model\'s with "+cascade")')
    args = parser.parse_args(argv)
    try:
        metadata = with_cascade(args.model, args.out, args.first_crops, args.margin, args.version)
    except (ContractError, OSError, DecodeError) as error:  # off the contract, unreadable, not ONNX
        print(f"export.cascade: {error}", file=sys.stderr)
        return 2
    cascade = metadata.early_exit
    state = "off"
    if cascade.first_crops:
        state = f"first {cascade.first_crops} of {metadata.max_crops} crops, margin {cascade.margin}"
    print(f"{args.out}: {metadata.name} {metadata.version}, cascade {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
