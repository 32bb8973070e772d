"""Nothing leaves the machine: ONNX Runtime's official builds send usage events to Microsoft by default
(a persistent device ID under ~/.cache/Microsoft, queued events, DNS look-ups of its collector) unless
ORT_DISABLE_TELEMETRY is set before it initializes. A review of the installed app found it doing so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCAN = """
import sys
from engine import Detector
from engine.models import default_model_path
detector = Detector(default_model_path("cpu"), provider="cpu")
import numpy as np
detector.run(np.zeros((1, detector.metadata.crop_size, detector.metadata.crop_size, 3), np.uint8))
"""


def test_loading_and_running_a_model_leaves_no_telemetry_trace(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", SCAN], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    left = [str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if "icrosoft" in str(path)]
    assert left == []
