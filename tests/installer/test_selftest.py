"""`synthspot-app --selftest` unfrozen: it runs every check for real and its exit status tells the truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop import selftest
from engine import models

REPO = Path(__file__).resolve().parents[2]
CHECKS = ("runtime", "c2pa", "heif", "colour", "model", "scan", "bridge", "window")


def run_app_selftest(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    env.pop("SYNTHSPOT_MODEL", None)
    return subprocess.run([sys.executable, "-m", "desktop.app", "--selftest", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def check_lines(output: str) -> dict[str, str]:
    """{check name: status} from the report's lines, e.g. 'PASS        scan: 4 images ...'."""
    found = {}
    for line in output.splitlines():
        for status in (selftest.PASSED, selftest.FAILED, selftest.NOT_CHECKED):
            if line.startswith(status + " "):
                found[line[len(status):].strip().split(":")[0]] = status
    return found


def test_selftest_passes_every_check_with_a_model(brightness_model_path, tmp_path):
    done = run_app_selftest("--model", str(brightness_model_path), tmp_path=tmp_path)
    assert done.returncode == selftest.EXIT_OK, done.stdout + done.stderr
    assert check_lines(done.stdout) == {name: selftest.PASSED for name in CHECKS}
    samples = selftest.sample_images()
    assert f"scan: {len(samples)} images on " in done.stdout
    assert all(path.name in done.stdout for path in samples)
    assert "self-test: all checks passed" in done.stdout


def test_selftest_fails_when_the_model_cannot_load(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    done = run_app_selftest("--model", str(broken), tmp_path=tmp_path)
    assert done.returncode == selftest.EXIT_FAILED, done.stdout + done.stderr
    lines = check_lines(done.stdout)
    assert lines["model"] == selftest.FAILED
    assert lines["bridge"] == selftest.PASSED  # the other checks still ran
    assert "self-test: FAILED" in done.stdout


def test_without_a_model_the_model_checks_say_not_checked(monkeypatch, tmp_path):
    monkeypatch.delenv(models.MODEL_ENV, raising=False)
    monkeypatch.setattr(models, "DEFAULTS_FILE", tmp_path / "no-default.json")
    with pytest.raises(selftest.NotChecked, match="no model in this build"):
        selftest.find_model_path()


def test_exit_status_is_incomplete_when_something_was_not_checked():
    passed = selftest.Outcome("bridge", selftest.PASSED, "")
    not_checked = selftest.Outcome("model", selftest.NOT_CHECKED, "")
    failed = selftest.Outcome("scan", selftest.FAILED, "")
    assert selftest.exit_status([passed]) == selftest.EXIT_OK
    assert selftest.exit_status([passed, not_checked]) == selftest.EXIT_INCOMPLETE
    assert selftest.exit_status([passed, not_checked, failed]) == selftest.EXIT_FAILED


def test_samples_cover_every_decoder_path_and_stay_small():
    samples = selftest.sample_images()
    assert {path.suffix for path in samples} == {".jpg", ".png", ".webp", ".heic"}
    assert sum(path.stat().st_size for path in samples) < 300_000
