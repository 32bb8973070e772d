"""SynthSpot's training side: backbones, adapters (LoRA, MoLE), methods (mixed, SEF, GAMMA).

The public names load on first use, so ``import training.data`` stays free of torch.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "create_backbone": "training.backbones",
    "list_backbones": "training.backbones",
    "load_checkpoint": "training.checkpoint",
    "save_checkpoint": "training.checkpoint",
    "DetectorConfig": "training.config",
    "GammaConfig": "training.config",
    "LoraConfig": "training.config",
    "MoleConfig": "training.config",
    "SefConfig": "training.config",
    "Detector": "training.detector",
    "InputSpec": "training.detector",
    "create_detector": "training.detector",
    "DetectorOutput": "training.methods.output",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
