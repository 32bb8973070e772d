"""Side-by-side runs for the benches' ``--compare OLD_TREE``: an older checkout and this one, run
alternately in fresh processes, so that the machine's load falls on both alike."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def run_alternately(script: str, trees: dict[str, Path], rounds: int, root: Path, args: list[str],
                    describe: Callable[[int, str, Path, dict], str],
                    own_args: dict[str, list[str]] | None = None) -> dict[str, list[dict]]:
    """Run ``script --work W --code TREE --json ARGS`` for each tree (and its ``own_args``, e.g. another
    model), ``rounds`` times in turn; the figures are the JSON object on each run's last line.
    ``describe`` prints one line per run."""
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for round_index in range(rounds):
        for name, tree in trees.items():
            work = root / f"{name}-{round_index}"
            output = subprocess.run(
                [sys.executable, script, "--work", str(work), "--code", str(tree), "--json", *args,
                 *(own_args or {}).get(name, [])],
                check=True, capture_output=True, text=True).stdout
            figures = json.loads(output.strip().splitlines()[-1])
            runs[name].append(figures)
            print(describe(round_index, name, tree, figures), flush=True)
    return runs
