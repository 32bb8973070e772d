"""The model contract: the one seam between training/export and the app.

An exported SynthSpot model is one ``.onnx`` file with

* input ``image``: ``uint8 [N, S, S, 3]`` RGB crops at native resolution
  (normalisation lives inside the graph);
* output ``fake_logit``: ``float32 [N]``;
* optional ``expert_weights``: ``float32 [N, E]`` and ``artifact_map``:
  ``float32 [N, 1, h, w]``;
* metadata in ``metadata_props`` under the keys below.

This module is torch-free and onnx-free on purpose: ``export`` imports it to
stamp models and ``engine.model`` uses it to validate them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Mapping

SCHEMA_VERSION = 1

INPUT_IMAGE = "image"
OUTPUT_LOGIT = "fake_logit"
OUTPUT_EXPERT_WEIGHTS = "expert_weights"
OUTPUT_ARTIFACT_MAP = "artifact_map"
OPTIONAL_OUTPUTS = (OUTPUT_EXPERT_WEIGHTS, OUTPUT_ARTIFACT_MAP)

KEY_PREFIX = "synthspot."
KEY_SCHEMA_VERSION = KEY_PREFIX + "schema_version"
KEY_NAME = KEY_PREFIX + "name"
KEY_VERSION = KEY_PREFIX + "version"
KEY_CROP_SIZE = KEY_PREFIX + "crop_size"
KEY_AGGREGATION = KEY_PREFIX + "aggregation"
KEY_THRESHOLDS = KEY_PREFIX + "thresholds"
KEY_EXPERT_NAMES = KEY_PREFIX + "expert_names"
KEY_TRAINING = KEY_PREFIX + "training"
KEY_METRICS = KEY_PREFIX + "metrics"
KEY_PRECISION = KEY_PREFIX + "precision"

REQUIRED_KEYS = (KEY_SCHEMA_VERSION, KEY_NAME, KEY_VERSION, KEY_CROP_SIZE, KEY_AGGREGATION, KEY_THRESHOLDS)

# How per-crop logits become one image logit.
AGGREGATIONS = ("mean", "max", "logit_mean", "top2_mean")
PRECISIONS = ("fp32", "fp16", "int8")


class ContractError(ValueError):
    """A model file does not follow the contract; the message names what is wrong."""


@dataclass(frozen=True)
class Thresholds:
    """Probability bands, calibrated on held-out real photos.

    ``p >= likely_ai`` is "likely AI", ``p <= likely_real`` is "likely real",
    anything between is "uncertain". ``fpr`` is the false-positive rate on
    real photos that ``likely_ai`` was calibrated at.
    """

    likely_ai: float = 0.8
    likely_real: float = 0.3
    fpr: float | None = None

    def validate(self) -> None:
        for name in ("likely_ai", "likely_real"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0 and math.isfinite(value)):
                raise ContractError(f"threshold {name}={value!r} must be a probability in [0, 1]")
        if self.likely_real > self.likely_ai:
            raise ContractError(
                f"threshold likely_real={self.likely_real} is above likely_ai={self.likely_ai}"
            )


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    version: str
    crop_size: int
    aggregation: str = "mean"
    thresholds: Thresholds = field(default_factory=Thresholds)
    expert_names: tuple[str, ...] = ()
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    precision: str = "fp32"
    schema_version: int = SCHEMA_VERSION

    @property
    def model_id(self) -> str:
        """Identifies results in the cache: a different model means a new scan."""
        return f"{self.name}@{self.version}"

    def validate(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise ContractError(
                f"metadata schema version {self.schema_version} is not supported (this app reads {SCHEMA_VERSION})"
            )
        if not self.name:
            raise ContractError("metadata 'name' is empty")
        if not isinstance(self.crop_size, int) or not 16 <= self.crop_size <= 4096:
            raise ContractError(f"crop size {self.crop_size!r} must be an integer between 16 and 4096")
        if self.aggregation not in AGGREGATIONS:
            raise ContractError(f"aggregation {self.aggregation!r} is not one of {', '.join(AGGREGATIONS)}")
        if self.precision not in PRECISIONS:
            raise ContractError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        self.thresholds.validate()

    def to_props(self) -> dict[str, str]:
        """The metadata as ONNX ``metadata_props`` (all strings)."""
        self.validate()
        return {
            KEY_SCHEMA_VERSION: str(self.schema_version),
            KEY_NAME: self.name,
            KEY_VERSION: self.version,
            KEY_CROP_SIZE: str(self.crop_size),
            KEY_AGGREGATION: self.aggregation,
            KEY_THRESHOLDS: json.dumps(asdict(self.thresholds)),
            KEY_EXPERT_NAMES: json.dumps(list(self.expert_names)),
            KEY_TRAINING: json.dumps(self.training),
            KEY_METRICS: json.dumps(self.metrics),
            KEY_PRECISION: self.precision,
        }

    @classmethod
    def from_props(cls, props: Mapping[str, str]) -> "ModelMetadata":
        missing = [key for key in REQUIRED_KEYS if key not in props]
        if missing:
            raise ContractError(f"metadata is missing {', '.join(missing)}")
        try:
            schema_version = int(props[KEY_SCHEMA_VERSION])
        except ValueError:
            raise ContractError(f"metadata {KEY_SCHEMA_VERSION}={props[KEY_SCHEMA_VERSION]!r} is not an integer") from None
        if schema_version != SCHEMA_VERSION:
            raise ContractError(
                f"metadata schema version {schema_version} is not supported (this app reads {SCHEMA_VERSION})"
            )
        try:
            crop_size = int(props[KEY_CROP_SIZE])
        except ValueError:
            raise ContractError(f"metadata {KEY_CROP_SIZE}={props[KEY_CROP_SIZE]!r} is not an integer") from None
        thresholds_raw = _json_prop(props, KEY_THRESHOLDS, {})
        if not isinstance(thresholds_raw, dict):
            raise ContractError(f"metadata {KEY_THRESHOLDS} must be a JSON object")
        unknown = set(thresholds_raw) - {"likely_ai", "likely_real", "fpr"}
        if unknown:
            raise ContractError(f"metadata {KEY_THRESHOLDS} has unknown keys {sorted(unknown)}")
        meta = cls(
            name=props[KEY_NAME],
            version=props[KEY_VERSION],
            crop_size=crop_size,
            aggregation=props[KEY_AGGREGATION],
            thresholds=Thresholds(**thresholds_raw),
            expert_names=tuple(_json_prop(props, KEY_EXPERT_NAMES, [])),
            training=_json_prop(props, KEY_TRAINING, {}),
            metrics=_json_prop(props, KEY_METRICS, {}),
            precision=props.get(KEY_PRECISION, "fp32"),
            schema_version=schema_version,
        )
        meta.validate()
        return meta


def _json_prop(props: Mapping[str, str], key: str, default):
    if key not in props or props[key] == "":
        return default
    try:
        return json.loads(props[key])
    except json.JSONDecodeError as exc:
        raise ContractError(f"metadata {key} is not valid JSON: {exc.msg}") from None
