"""An fp16 model on the CPU: ONNX Runtime 1.32's last optimisation level (the NCHWc layout) killed the process
on the default model converted to fp16 (a segfault: `scan` and `serve` ended with exit 139 and no word)."""

import dataclasses
import subprocess
import sys
import warnings

import numpy as np
import onnx

from engine.contract import ModelMetadata
from engine.models import EMBEDDED_DIR
from export.metadata import stamp
from export.onnx_export import _to_fp16

SCORE = """
import sys
import numpy as np
from engine.model import Detector
detector = Detector(sys.argv[1], "cpu", threads=1)
rng = np.random.default_rng(0)
print(" ".join(f"{v:.4f}" for v in detector.run(rng.integers(0, 256, (4, 96, 96, 3), dtype=np.uint8)).logits))
"""


def scores(path) -> np.ndarray:
    done = subprocess.run([sys.executable, "-c", SCORE, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return np.array([float(v) for v in done.stdout.split()])


def test_the_default_model_in_fp16_loads_and_scores_on_the_cpu_as_in_fp32(tmp_path):
    shipped = EMBEDDED_DIR / "synthspot-lite0-fp32.onnx"
    model = onnx.load(shipped)
    metadata = ModelMetadata.from_props({prop.key: prop.value for prop in model.metadata_props})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the converter warns of every weight below fp16's range
        half = _to_fp16(model)
    del half.metadata_props[:]
    stamp(half, dataclasses.replace(metadata, precision="fp16"))
    onnx.save(half, tmp_path / "fp16.onnx")
    assert np.abs(scores(tmp_path / "fp16.onnx") - scores(shipped)).max() < 0.05
