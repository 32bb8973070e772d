"""SynthSpot's torch-free core: image bytes in, a :class:`Result` out.

The public surface is small, in the manner of onnxruntime's: a :class:`Detector`
built from a model path and a provider, a :class:`Scanner` that queues and batches
scans, the :class:`Store` that caches results, and the :class:`Result` itself.
"""

import os

# ONNX Runtime's official builds send usage events to Microsoft by default (its Privacy.md: a persistent
# device ID, the executable's path, the CPU, session IDs) unless this is set before it initializes.
# SynthSpot promises that nothing leaves the machine: off, unless the user has said otherwise.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from engine.model import Detector, ModelLoadError  # noqa: E402 (after the line above, before ORT loads)
from engine.result import LIKELY_AI, LIKELY_REAL, UNCERTAIN, Result  # noqa: E402
from engine.scanner import Scanner, ScanJob, ScanRequest  # noqa: E402
from engine.store import Store  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Detector", "ModelLoadError", "Result", "Scanner", "ScanJob", "ScanRequest", "Store",
           "LIKELY_AI", "LIKELY_REAL", "UNCERTAIN", "__version__"]
