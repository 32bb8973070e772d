"""The oldest PySide6 that pyproject.toml allows runs the app's Qt code (slow: installs that release).

``desktop/results_model.py`` filters with ``beginFilterChange`` (Qt 6.9) and
``endFilterChange(Direction)`` (Qt 6.10). Under PySide6 6.10.0, 6.10.3 and 6.11.0,
``QAction.menu()`` hands back an already-deleted menu (tests/desktop/test_main_window.py);
6.11.3 passes every Qt test, so it is the floor. Run with
``pytest -m slow tests/installer/test_qt_floor.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
QT_TESTS = ["tests/desktop/test_results_model.py", "tests/desktop/test_main_window.py"]


def declared_floor() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirement = next(Requirement(line) for line in project["dependencies"]
                       if Requirement(line).name.lower() == "pyside6-essentials")
    floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    assert len(floors) == 1, f"PySide6-Essentials needs exactly one '>=' floor, has {requirement.specifier}"
    return floors[0]


def test_the_floor_is_at_least_what_the_app_calls():
    assert Version(declared_floor()) >= Version("6.10")  # QSortFilterProxyModel.endFilterChange(Direction)


@pytest.mark.slow
def test_the_app_qt_tests_pass_on_the_oldest_allowed_pyside6(tmp_path):
    floor = declared_floor()
    target = tmp_path / "pyside"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    f"PySide6-Essentials=={floor}", f"shiboken6=={floor}"], check=True, timeout=900)
    env = {**os.environ, "PYTHONPATH": str(target), "QT_QPA_PLATFORM": "offscreen"}
    probe = subprocess.run([sys.executable, "-c", "import PySide6; print(PySide6.__version__)"], env=env,
                           capture_output=True, text=True, check=True)
    assert Version(probe.stdout.strip()) == Version(floor)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *QT_TESTS], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
