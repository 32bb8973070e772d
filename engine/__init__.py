"""SynthSpot's torch-free core: image bytes in, a :class:`Result` out.

The public surface is small, in the manner of onnxruntime's: a :class:`Detector`
built from a model path and a provider, a :class:`Scanner` that queues and batches
scans, the :class:`Store` that caches results, and the :class:`Result` itself.
"""

from engine.model import Detector, ModelLoadError
from engine.result import LIKELY_AI, LIKELY_REAL, UNCERTAIN, Result
from engine.scanner import Scanner, ScanJob, ScanRequest
from engine.store import Store

__version__ = "0.1.0"
__all__ = ["Detector", "ModelLoadError", "Result", "Scanner", "ScanJob", "ScanRequest", "Store",
           "LIKELY_AI", "LIKELY_REAL", "UNCERTAIN", "__version__"]
