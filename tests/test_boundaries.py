"""The import rules of docs/architecture.md, checked in a fresh interpreter for each entry point:
the engine never imports Qt or the training stack; the app never imports the training stack."""
import json
import subprocess
import sys

import pytest

TRAINING_STACK = ("torch", "training", "export", "onnx", "onnxconverter_common", "safetensors", "timm", "diffusers")
QT = ("PySide6", "shiboken6")

RULES = {
    "engine": TRAINING_STACK + QT,
    "engine.cli": TRAINING_STACK + QT,
    "engine.bridge": TRAINING_STACK + QT,
    "engine.bridge.server": TRAINING_STACK + QT,
    "desktop.app": TRAINING_STACK,
    "desktop.ui.main_window": TRAINING_STACK,
    "desktop.selftest": TRAINING_STACK,
}

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("module", sorted(RULES))
def test_entry_point_imports_nothing_it_must_not(module):
    done = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    forbidden = sorted(loaded & set(RULES[module]))
    assert not forbidden, f"importing {module} loads {forbidden}"
    assert module.split(".")[0] in loaded  # the probe really imported it
