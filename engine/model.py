"""Loading and running a contract model with ONNX Runtime."""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from engine import contract
from engine.contract import ContractError, ModelMetadata

log = logging.getLogger(__name__)

PROVIDER_CHOICES = ("auto", "cuda", "cpu")
_ORT_NAMES = {"cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}


class ModelLoadError(RuntimeError):
    """The model cannot be used: missing, not ONNX, off the contract, or on a provider this machine lacks.
    The one error :class:`Detector` raises while loading; the message says why, in words for the user."""


@dataclass(frozen=True)
class ModelOutputs:
    logits: np.ndarray  # float32 [N]
    expert_weights: np.ndarray | None  # float32 [N, E]
    artifact_map: np.ndarray | None  # float32 [N, 1, h, w]


def available_providers() -> list[str]:
    """The provider choices this machine's onnxruntime can actually run."""
    found = set(ort.get_available_providers())
    return [name for name, ort_name in _ORT_NAMES.items() if ort_name in found]


def resolve_provider(choice: str) -> str:
    """``auto`` picks CUDA when onnxruntime exposes it, else the CPU."""
    choice = (choice or "auto").lower()
    if choice not in PROVIDER_CHOICES:
        raise ModelLoadError(f"provider {choice!r} is not one of {', '.join(PROVIDER_CHOICES)}")
    available = available_providers()
    if choice == "auto":
        return "cuda" if "cuda" in available else "cpu"
    if choice not in available:
        raise ModelLoadError(
            f"the {choice.upper()} provider is not available in this onnxruntime build "
            f"(available: {', '.join(available)}); choose 'cpu', or for CUDA install onnxruntime-gpu and the CUDA "
            "libraries (a pip install of SynthSpot; the CPU bundle has no CUDA)"
        )
    return choice


def load_failure_text(name: str, error: Exception) -> str:
    """Why ONNX Runtime refused a file, for a person: a file that is not ONNX at all is said plainly,
    other refusals keep ONNX Runtime's reason without its "[ONNXRuntimeError] : 7 : CODE :" prefix."""
    text = str(error)
    if "No graph was found in the protobuf" in text:  # what ONNX Runtime says of an empty file
        return f"{name} is not a loadable ONNX model: the file is empty"
    if "INVALID_PROTOBUF" in text or "Protobuf parsing failed" in text:
        return (f"{name} is not a loadable ONNX model: the file is not an ONNX model, or it is damaged or "
                "only partly downloaded")
    reason = re.sub(r"^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : ", "", text).strip()
    return f"{name} is not a loadable ONNX model: {reason or type(error).__name__}"


def metadata_props(path: str | os.PathLike) -> dict[str, str]:
    """A model file's metadata, read without optimising its graph (50 ms for the default model)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def session_options(threads: int = 0, precision: str = "fp32") -> ort.SessionOptions:
    """ONNX Runtime's options for scoring as the app scores (training's evaluation uses them too)."""
    options = ort.SessionOptions()
    # The last level adds the CPU's NCHWc layout, whose transformer (ONNX Runtime 1.32) kills the process on
    # some fp16 graphs, version 12's among them: a segfault, no exception to catch.
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if precision == "fp16"
                                        else ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    options.log_severity_level = 3
    # Idle intra-op threads sleep instead of spinning: a spinning thread takes the core that decodes and
    # crops the next images (end to end 1.5x faster on 2 cores); scores are the same either way.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return options


class Detector:
    """A contract model on one execution provider.

    ``Detector(path, provider="auto")`` validates the file, then builds the
    session; whatever stops it raises :class:`ModelLoadError`. ``provider`` is
    what was asked for; ``active_provider`` is what onnxruntime actually runs on
    (CUDA can fall back to the CPU at load time).
    """

    def __init__(self, path: str | os.PathLike, provider: str = "auto", threads: int = 0,
                 cpu_if_unavailable: bool = False):
        """``cpu_if_unavailable``: a provider this onnxruntime build lacks runs on the CPU, as one that fails
        to start does (the app, whose saved choice may come from another machine), instead of refusing (a
        command line's explicit ``--provider``)."""
        if not str(path).strip():
            raise ModelLoadError("no model file given")
        self.path = Path(path)
        if not self.path.is_file():
            if self.path.is_symlink() and not os.path.exists(self.path):
                raise ModelLoadError(f"a broken or looping link, not a model file: {self.path}")
            raise ModelLoadError(f"not a model file (a folder, a device or a pipe): {self.path}"
                                 if os.path.exists(self.path) else f"model file not found: {self.path}"
                                 + ("" if self.path.suffix else " (a model is named by its file's path, as "
                                    "`synthspot models` lists it)"))
        try:
            self.requested_provider = runs_on = resolve_provider(provider)
        except ModelLoadError:
            if not cpu_if_unavailable or provider.lower() not in PROVIDER_CHOICES:
                raise
            self.requested_provider, runs_on = provider.lower(), "cpu"
        providers = [_ORT_NAMES[runs_on]]
        if runs_on != "cpu":
            providers.append(_ORT_NAMES["cpu"])
        try:
            precision = metadata_props(self.path).get(contract.KEY_PRECISION, "fp32")
            self._session = ort.InferenceSession(str(self.path), sess_options=session_options(threads, precision),
                                                 providers=providers)
        except Exception as exc:
            log.info("ONNX Runtime could not load %s: %s", self.path, exc)  # the error below says it in words
            raise ModelLoadError(load_failure_text(self.path.name, exc)) from None
        try:
            self.metadata = validate_session(self._session)
        except ContractError as exc:
            raise ModelLoadError(f"{self.path.name} does not follow SynthSpot's model contract: {exc}") from None
        active = self._session.get_providers()[0]
        self.active_provider = "cuda" if active == _ORT_NAMES["cuda"] else "cpu"
        if self.active_provider != self.requested_provider:
            log.warning("%s could not start on %s; running on %s", self.path.name,
                        self.requested_provider.upper(), self.active_provider.upper())
        self.output_names = [o.name for o in self._session.get_outputs() if o.name in _KNOWN_OUTPUTS]
        # ORT's run is thread-safe, but one run at a time keeps intra-op threads from oversubscribing.
        self._lock = threading.Lock()

    @property
    def crop_size(self) -> int:
        return self.metadata.crop_size

    @property
    def has_experts(self) -> bool:
        return contract.OUTPUT_EXPERT_WEIGHTS in self.output_names

    @property
    def has_artifact_map(self) -> bool:
        return contract.OUTPUT_ARTIFACT_MAP in self.output_names

    def run(self, crops: np.ndarray) -> ModelOutputs:
        """Run uint8 [N, S, S, 3] crops through the model."""
        size = self.crop_size
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
            raise ValueError(f"crops must be uint8 [N, {size}, {size}, 3], got {crops.dtype} {list(crops.shape)}")
        with self._lock:
            values = self._session.run(self.output_names, {contract.INPUT_IMAGE: crops})
        named = dict(zip(self.output_names, values, strict=True))
        logits = np.asarray(named[contract.OUTPUT_LOGIT], dtype=np.float32).reshape(-1)
        if logits.shape[0] != crops.shape[0]:
            raise ContractError(f"model returned {logits.shape[0]} logits for {crops.shape[0]} crops")
        experts = named.get(contract.OUTPUT_EXPERT_WEIGHTS)
        artifact = named.get(contract.OUTPUT_ARTIFACT_MAP)
        return ModelOutputs(
            logits=logits,
            expert_weights=None if experts is None else np.asarray(experts, dtype=np.float32),
            artifact_map=None if artifact is None else np.asarray(artifact, dtype=np.float32),
        )


_KNOWN_OUTPUTS = (contract.OUTPUT_LOGIT, *contract.OPTIONAL_OUTPUTS)
_FLOAT_TYPES = ("tensor(float)",)


def validate_session(session: ort.InferenceSession) -> ModelMetadata:
    """Check the graph's inputs, outputs and metadata against the contract."""
    props = session.get_modelmeta().custom_metadata_map
    metadata = ModelMetadata.from_props(props)
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != contract.INPUT_IMAGE:
        names = ", ".join(i.name for i in inputs) or "none"
        raise ContractError(f"model must have exactly one input named '{contract.INPUT_IMAGE}' (found: {names})")
    image = inputs[0]
    if image.type != "tensor(uint8)":
        raise ContractError(f"input '{image.name}' must be uint8 RGB crops, not {image.type}")
    shape = image.shape
    if len(shape) != 4:
        raise ContractError(f"input '{image.name}' must have shape [N, S, S, 3], not {shape}")
    size = metadata.crop_size
    for axis, expected in ((1, size), (2, size), (3, 3)):
        if isinstance(shape[axis], int) and shape[axis] != expected:
            raise ContractError(
                f"input '{image.name}' has shape {shape}, expected [N, {size}, {size}, 3] "
                f"(crop size {size} from metadata)"
            )
    outputs = {o.name: o for o in session.get_outputs()}
    if contract.OUTPUT_LOGIT not in outputs:
        raise ContractError(f"model has no '{contract.OUTPUT_LOGIT}' output (found: {', '.join(outputs) or 'none'})")
    expected_ranks = {contract.OUTPUT_LOGIT: 1, contract.OUTPUT_EXPERT_WEIGHTS: 2, contract.OUTPUT_ARTIFACT_MAP: 4}
    for name, rank in expected_ranks.items():
        if name not in outputs:
            continue
        output = outputs[name]
        if output.type not in _FLOAT_TYPES:
            raise ContractError(f"output '{name}' must be float32, not {output.type}")
        if output.shape is not None and len(output.shape) != rank:
            raise ContractError(f"output '{name}' must have rank {rank}, has shape {output.shape}")
    if contract.OUTPUT_EXPERT_WEIGHTS in outputs:
        experts = outputs[contract.OUTPUT_EXPERT_WEIGHTS].shape[1]
        if isinstance(experts, int) and metadata.expert_names and experts != len(metadata.expert_names):
            raise ContractError(
                f"output '{contract.OUTPUT_EXPERT_WEIGHTS}' has {experts} experts but metadata names "
                f"{len(metadata.expert_names)}"
            )
    return metadata
