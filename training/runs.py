"""Run configs (TOML: a ``[detector]`` and a ``[training]`` table) and run folders.

A run folder holds ``run_config.json`` (everything resolved), ``train.log``,
``metrics.jsonl`` (one line per epoch), ``resume.pt`` (the state to continue from)
and, when training ends, ``checkpoint/`` (``training.checkpoint`` format).
"""

from __future__ import annotations

import json
import logging
import os
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from training.augment import AugmentConfig
from training.config import ConfigError, DetectorConfig
from training.domains import MIN_MANIPULATED

RUN_CONFIG = "run_config.json"
RESUME_FILE = "resume.pt"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "train.log"
CHECKPOINT_DIR = "checkpoint"


AUTOCAST_DTYPES = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(requested: str | None, device_type: str, cpu_bf16_native: bool | None = None) -> torch.dtype | None:
    """The dtype a run autocasts to here. bf16 on a CPU without native bf16 (AVX512-BF16 or AMX) is
    emulated: a Lite0 training step ran 7-8 crops/s against 70-99 in fp32 on an AVX2-only EPYC, so
    such a CPU trains in fp32 (None) instead."""
    dtype = AUTOCAST_DTYPES[requested]
    if dtype is torch.bfloat16 and device_type == "cpu":
        native = torch.ops.mkldnn._is_mkldnn_bf16_supported() if cpu_bf16_native is None else cpu_bf16_native
        return dtype if native else None
    return dtype


# Training fields that say how a run executes, not what it computes: a resumed run may change them.
RUNTIME_FIELDS = ("workers", "threads", "device", "cache_decoded")


@dataclass(frozen=True)
class TrainConfig:
    manifest: str = ""
    train_domains: tuple[str, ...] | None = None  # fake domains trained on; None: every domain present
    exclude_generators: tuple[str, ...] = ()  # substrings of Record.generator kept out of training
    variants: tuple[str, ...] | None = None  # None: aligned and perturbed copies
    epochs: int = 2  # single-stage methods, and SEF's fusion stage
    expert_epochs: int = 2  # SEF stage 1, per expert
    # SEF experts taken from trained single-LoRA checkpoints instead of trained here:
    # {expert name: checkpoint directory}; their ``expert:`` stages are skipped.
    expert_init: dict[str, str] = field(default_factory=dict)
    # A checkpoint of this same detector to start from (a warm restart: new schedule, fresh optimiser).
    init_from: str = ""
    # A checkpoint whose probabilities the classification loss also matches (training.distill): a
    # cheaper student taught by it; distill_weight is that term's share, the labels' is the rest.
    distill_from: str = ""
    distill_weight: float = 0.5
    distill_temperature: float = 1.0
    steps_per_epoch: int | None = None  # cap, for small budgets
    batch_size: int = 16  # global: split across processes under torchrun
    accumulate: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    seed: int = 0
    workers: int = 0
    threads: int | None = None
    device: str = "auto"
    gamma_weight: float = 1.0  # weight of GAMMA's two segmentation losses
    # Mixed precision for the forward pass ("bf16" or "fp16"; weights and optimiser stay fp32).
    # bf16 roughly doubles CPU throughput where the CPU has bf16 instructions (AVX512-BF16, AMX).
    autocast: str | None = None
    min_manipulated: float = MIN_MANIPULATED  # share of an inpaint crop that must be manipulated for label 1
    channels_last: bool = True  # NHWC activations: faster convolutions on CPU and GPU alike
    cache_decoded: bool = False  # keep decoded training images in memory (with workers = 0)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.accumulate < 1 or self.epochs < 1 or self.expert_epochs < 1:
            raise ConfigError("batch_size, accumulate, epochs and expert_epochs must be >= 1")
        if self.lr <= 0:
            raise ConfigError("lr must be > 0")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ConfigError("steps_per_epoch must be >= 1 (leave it out for whole epochs)")
        if self.weight_decay < 0 or self.gamma_weight < 0 or self.workers < 0 or (self.threads or 0) < 0:
            raise ConfigError("weight_decay, gamma_weight, workers and threads must be >= 0")
        if not (0 <= self.warmup_fraction < 1 and 0 <= self.min_manipulated <= 1):
            raise ConfigError("warmup_fraction must be in [0, 1), min_manipulated in [0, 1]")
        if not (0 <= self.distill_weight <= 1 and self.distill_temperature > 0):
            raise ConfigError("distill_weight must be in [0, 1], distill_temperature > 0")
        if self.autocast not in AUTOCAST_DTYPES:
            raise ConfigError(f"autocast must be one of {sorted(k for k in AUTOCAST_DTYPES if k)} or absent")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown training fields: {sorted(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        defaults = cls()
        for name, value in values.items():  # a number written as text ("4") fails here, by name
            wanted = type(getattr(defaults, name))
            accepted = (int, float) if wanted is float else (wanted,)
            if wanted in (bool, int, float, str) and (type(value) not in accepted):
                raise ConfigError(f"training.{name} must be {wanted.__name__}, not {value!r}")
        if isinstance(values.get("augment"), dict):
            values["augment"] = AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                 for k, v in values["augment"].items()})
        return cls(**values)


def load_run_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> tuple[DetectorConfig, TrainConfig]:
    """Read a TOML or JSON run config; ``overrides`` replace ``[training]`` fields (CLI flags)."""
    path = Path(path)
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    unknown = sorted(set(data) - {"detector", "training"})
    if unknown:  # a misspelt table ([detektor]) would otherwise train on every default
        raise ConfigError(f"unknown config tables: {unknown} (there are [detector] and [training])")
    training = dict(data.get("training", {}))
    training.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return DetectorConfig.from_dict(data.get("detector", {})), TrainConfig.from_dict(training)


def set_aside(path: str | os.PathLike) -> Path | None:
    """Move a started run out of the way of a new one (``RUN.previous-YYYYmmdd-HHMMSS``) so that starting over
    loses nothing and mixes no logs; None when there is nothing at ``path``."""
    path = Path(path)
    if not (path / RUN_CONFIG).is_file():  # not a run (nothing, or a folder of runs): nothing to set aside
        return None
    aside = path.with_name(f"{path.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
    log = logging.getLogger(_logger_name(path))
    for handler in list(log.handlers):  # an open log file would follow the folder it was moved with
        log.removeHandler(handler)
        handler.close()
    path.rename(aside)
    return aside


def _logger_name(path: Path) -> str:
    return f"synthspot.run.{path.resolve()}"


def _same_file(key: str, old: Any, new: Any) -> bool:
    """A path spelled another way (relative, absolute, through a link) names the same file."""
    is_path = key in ("training.manifest", "training.init_from", "training.distill_from") or key.startswith("training.expert_init.")
    return is_path and isinstance(old, str) and isinstance(new, str) and bool(old) and Path(old).resolve() == Path(new).resolve()


class RunFolder:
    def __init__(self, path: str | os.PathLike, write: bool = True):
        self.path = Path(path)
        self.write = write
        if write:
            self.path.mkdir(parents=True, exist_ok=True)

    def save_config(self, detector: DetectorConfig, training: TrainConfig) -> None:
        if self.write:
            scratch = self.path / (RUN_CONFIG + ".tmp")
            scratch.write_text(json.dumps(_config_payload(detector, training), indent=2, sort_keys=True) + "\n")
            os.replace(scratch, self.path / RUN_CONFIG)  # other processes of the run may be reading it

    def config_changes(self, detector: DetectorConfig, training: TrainConfig) -> list[str]:
        """How ``detector``/``training`` differ from the run's ``run_config.json`` (``[]`` without one),
        as ``"section.field: saved -> now"`` lines; ``RUNTIME_FIELDS`` may differ."""
        path = self.path / RUN_CONFIG
        if not path.is_file():
            return []
        saved = json.loads(path.read_text())
        now = json.loads(json.dumps(_config_payload(detector, training)))  # tuples -> lists, as saved
        for payload in (saved, now):
            for name in RUNTIME_FIELDS:
                payload.get("training", {}).pop(name, None)
        # A field added to the code after the run started is absent from its file: at its default, the
        # run is the same run (a stopped ablation run must resume after such a change).
        defaults = dict(_leaves(json.loads(json.dumps(_config_payload(DetectorConfig(), TrainConfig())))))
        return [f"{key}: {_show(old)} -> {_show(new)}" for key, old, new in _differences(saved, now)
                if not (old is _MISSING and key in defaults and defaults[key] == new) and not _same_file(key, old, new)]

    def logger(self) -> logging.Logger:
        log = logging.getLogger(_logger_name(self.path))
        log.setLevel(logging.INFO)
        if self.write and not log.handlers:
            handler = logging.FileHandler(self.path / LOG_FILE)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            log.addHandler(handler)
        return log

    def append_metrics(self, row: dict[str, Any]) -> None:
        if self.write:
            with open(self.path / METRICS_FILE, "a") as handle:
                handle.write(json.dumps(row, sort_keys=True) + "\n")

    def save_resume(self, state: dict[str, Any]) -> None:
        if self.write:
            scratch = self.path / (RESUME_FILE + ".tmp")
            torch.save(state, scratch)
            os.replace(scratch, self.path / RESUME_FILE)  # an interrupted save leaves the last good one

    def was_started(self) -> bool:
        """Whether a run was started in this folder (it has saved its config)."""
        return (self.path / RUN_CONFIG).is_file()

    def load_resume(self) -> dict[str, Any] | None:
        path = self.path / RESUME_FILE
        return torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR


def _config_payload(detector: DetectorConfig, training: TrainConfig) -> dict[str, Any]:
    return {"detector": detector.to_dict(), "training": training.to_dict()}


_MISSING = object()


def _differences(old: Any, new: Any, prefix: str = ""):
    """(dotted key, old, new) for every leaf that differs; a key only one side has is ``_MISSING`` on the other."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from _differences(old.get(key, _MISSING), new.get(key, _MISSING), f"{prefix}{key}.")
    elif old != new:
        yield prefix.rstrip("."), old, new


def _leaves(payload: Any, prefix: str = ""):
    """(dotted key, value) for every leaf, keyed as ``_differences`` names them."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), payload


def _show(value: Any) -> str:
    return "(absent)" if value is _MISSING else json.dumps(value)
