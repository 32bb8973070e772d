"""Where models live: the embedded ones beside this file, and the user's own.

An embedded model is any ``*.onnx`` in this folder; ``default.json`` names the
default for each provider (the fastest precision that keeps the accuracy; today int8 on
the CPU, fp32 on CUDA). A user's models go in ``<data dir>/models`` or are passed by path.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


from engine.contract import ContractError, ModelMetadata
from engine.model import ModelLoadError, load_failure_text, metadata_props, resolve_provider
from engine.store import default_data_dir

EMBEDDED_DIR = Path(__file__).resolve().parent
DEFAULTS_FILE = EMBEDDED_DIR / "default.json"
MODEL_ENV = "SYNTHSPOT_MODEL"


class NoModelError(ModelLoadError):
    """No model was named and none is installed: a load error that callers may show as its own state."""


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    embedded: bool
    metadata: ModelMetadata | None
    problem: str | None = None  # why it cannot be used, when metadata is None


def user_models_dir() -> Path:
    return default_data_dir() / "models"


def read_metadata(path: Path) -> ModelMetadata:
    """Metadata only, without building a full session's kernels."""
    if not path.is_file():  # a pipe named *.onnx would block the read for ever
        raise ValueError("not a model file (a folder, a device or a pipe)")
    return ModelMetadata.from_props(metadata_props(path))


def list_models() -> list[ModelInfo]:
    found = []
    for folder, embedded in ((EMBEDDED_DIR, True), (user_models_dir(), False)):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.onnx")):
            try:
                found.append(ModelInfo(path, embedded, read_metadata(path)))
            except (ContractError, ValueError) as exc:  # off-contract, or no file to read: our own words
                found.append(ModelInfo(path, embedded, None, str(exc)))
            except Exception as exc:  # a broken file (not ONNX) must not hide the others; said as loading says it
                found.append(ModelInfo(path, embedded, None, load_failure_text(path.name, exc)))
    return found


def builtin_model_available() -> bool:
    """Whether the model that comes with SynthSpot is there (a source checkout without it has none)."""
    if not DEFAULTS_FILE.is_file():
        return False
    return any((EMBEDDED_DIR / name).is_file() for name in json.loads(DEFAULTS_FILE.read_text()).values() if name)


def default_model_path(provider: str = "cpu") -> Path:
    """The model to use when none is named: $SYNTHSPOT_MODEL, else the embedded default."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV])
    if DEFAULTS_FILE.is_file():
        defaults = json.loads(DEFAULTS_FILE.read_text())
        name = defaults.get(provider) or defaults.get("cpu")
        if name and (EMBEDDED_DIR / name).is_file():
            return EMBEDDED_DIR / name
    raise NoModelError(
        "no detector model is installed yet: pass --model PATH to an exported SynthSpot .onnx file "
        f"(or set {MODEL_ENV}); see the README's training section"
    )


def resolve_model(path: str | os.PathLike | None, provider: str = "auto") -> Path:
    """The model file to load: ``path`` when one is named, else the default for the provider that will
    run it (``auto`` resolved first, so a machine without CUDA never gets the CUDA entry's file)."""
    return Path(path) if path else default_model_path(resolve_provider(provider))
