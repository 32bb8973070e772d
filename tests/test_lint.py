"""The linter and the type checker CI runs, configured in pyproject.toml: ruff on the packages, bench/ and
tests/ (scripts/ is for ``ruff check .``), mypy on the engine and the app. A few seconds with a warm cache (mypy's lives in the temp folder, outside the tree)."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINTED = ["engine", "desktop", "training", "export", "bench", "tests"]
TYPED = ["engine", "desktop"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def _tool(name: str) -> None:
    if subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True).returncode:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")


def test_ruff_finds_nothing():
    _tool("ruff")
    done = _run("ruff", "check", "--no-cache", "--output-format", "concise", *LINTED)
    assert done.returncode == 0, f"ruff check {' '.join(LINTED)}:\n{done.stdout}{done.stderr}"


def test_mypy_finds_nothing():
    _tool("mypy")
    cache = Path(tempfile.gettempdir()) / f"synthspot-mypy-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"
    done = _run("mypy", "--cache-dir", str(cache), *TYPED)
    assert done.returncode == 0, f"mypy {' '.join(TYPED)}:\n{done.stdout}{done.stderr}"
