"""Replace the LoRA of one expert of a trained SEF fusion by another of the same shape, keeping the
gate and every head (the expert's own verdict head too: the fusion trained it) as they were trained:
SEF's experts are modular, so a retrained or interpolated expert (``training.interpolate``) can be
tried in the shipped fusion before paying for a new one. Swapping in the expert the fusion was built
on gives the fusion back, bit for bit.

    python -m training.swap_expert OUT --fusion CHECKPOINT --expert upsample --from CHECKPOINT

The gate learnt the old expert's features: the result must be calibrated and scored again like any
candidate (its scores move, so a calibration is never carried over).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .checkpoint import WEIGHTS_FILE, CheckpointError, import_expert, load_checkpoint, save_checkpoint

RECORD_FILE = "swap.json"


def swap_expert(fusion: str | Path, expert: str, source: str | Path, out: str | Path) -> Path:
    """Write ``fusion`` with the LoRA of SEF expert ``expert`` taken from checkpoint ``source`` into ``out``."""
    out = Path(out)
    if (out / WEIGHTS_FILE).exists():
        raise CheckpointError(f"{out} already holds a checkpoint: give a new folder")
    detector = load_checkpoint(fusion)
    head = f"encoder.expert_heads.{expert}."
    trained_head = {key: value.clone() for key, value in detector.state_dict().items() if key.startswith(head)}
    import_expert(detector, expert, source)
    detector.load_state_dict(trained_head, strict=False)
    save_checkpoint(detector, out)
    (out / RECORD_FILE).write_text(json.dumps({"fusion": str(fusion), "expert": expert, "from": str(source)}, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.swap_expert", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder for the new checkpoint")
    parser.add_argument("--fusion", required=True, help="a trained SEF checkpoint")
    parser.add_argument("--expert", required=True, help="which of its experts to replace")
    parser.add_argument("--from", dest="source", required=True, help="checkpoint holding the new expert's LoRA")
    args = parser.parse_args(argv)
    try:
        print(swap_expert(args.fusion, args.expert, args.source, args.out))
    except (CheckpointError, OSError) as error:
        print(f"python -m training.swap_expert: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
