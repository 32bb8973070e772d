"""Argument types and argument checks the training, data and export commands share: a bad path or
number is one line from the parser, before minutes of work, never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from training.scoring import CropScorer, ScoringRecipe


def at_least(low: int) -> Callable[[str], int]:
    """argparse type: a whole number >= ``low`` (0 crops, say, would silently mean the default)."""
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value
    return parse


def load_scorer_or_exit(parser: argparse.ArgumentParser, checkpoint: str | None,
                        onnx_path: str | None) -> tuple[CropScorer, ScoringRecipe]:
    """:func:`load_scorer`, a path that is not a model being one line (with a hint for a run folder)."""
    from training.scoring import load_scorer

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
