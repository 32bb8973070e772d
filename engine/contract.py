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

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from collections.abc import Mapping
from typing import Final

import numpy as np

from engine.paths import printable

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
KEY_MAX_CROPS = KEY_PREFIX + "max_crops"
KEY_CROP_PLAN = KEY_PREFIX + "crop_plan"
KEY_LOGIT_SCALING = KEY_PREFIX + "logit_scaling"
KEY_EARLY_EXIT = KEY_PREFIX + "early_exit"

REQUIRED_KEYS = (KEY_SCHEMA_VERSION, KEY_NAME, KEY_VERSION, KEY_CROP_SIZE, KEY_AGGREGATION, KEY_THRESHOLDS)

# How per-crop logits become one image logit (see aggregate_logits). "top_half_mean" sits between
# mean and max: a partial fake (an inpaint) found by a few crops is not diluted by all the others.
AGGREGATIONS = ("mean", "max", "prob_mean", "top2_mean", "top_half_mean")
# numpy.pad mode for images smaller than the crop: mirrored content, no artificial edges.
CROP_PAD_MODE: Final = "symmetric"
# "grid": evenly spread edge to edge; "texture": the most textured non-overlapping windows
# (flat sky and walls carry little evidence). Models without the key were calibrated on "grid".
CROP_PLANS = ("grid", "texture")
DEFAULT_MAX_CROPS = 8
PRECISIONS = ("fp32", "fp16", "int8")


class ContractError(ValueError):
    """A model file does not follow the contract; the message names what is wrong."""


def _unsupported_schema(version: int) -> ContractError:
    newer = isinstance(version, int) and version > SCHEMA_VERSION
    return ContractError(f"metadata schema version {version} is not supported (this app reads {SCHEMA_VERSION})"
                         + ("; the model was made for a newer SynthSpot: update SynthSpot to use it" if newer else ""))


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
class LogitScaling:
    """Platt scaling, ``scale * logit + offset``, fitted on validation images so that probabilities mean
    what they say (a raw head trained beside hard negatives tends to squeeze them toward 0.5). Monotone:
    it moves the probabilities and the thresholds together and changes no verdict."""

    scale: float = 1.0
    offset: float = 0.0

    def validate(self) -> None:
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale > 0):
            raise ContractError(f"logit scale {self.scale!r} must be a positive number")
        if not (isinstance(self.offset, (int, float)) and math.isfinite(self.offset)):
            raise ContractError(f"logit offset {self.offset!r} must be a finite number")

    def apply(self, logits):
        return self.scale * np.asarray(logits, dtype=np.float64) + self.offset


@dataclass(frozen=True)
class EarlyExit:
    """A cascade of crops: score the plan's first ``first_crops`` crops, and where their aggregated
    probability lies more than ``margin`` beyond a threshold (clearly real, clearly AI), decide on them
    alone; otherwise score the rest. The texture plan is greedy, so its first crops are the best ones.
    ``first_crops`` 0 (models from before it) scores every crop."""

    first_crops: int = 0
    margin: float = 0.1

    def validate(self) -> None:
        if not isinstance(self.first_crops, int) or isinstance(self.first_crops, bool) or self.first_crops < 0:
            raise ContractError(f"early exit first_crops {self.first_crops!r} must be a whole number, 0 for none")
        if not (isinstance(self.margin, (int, float)) and math.isfinite(self.margin) and 0 <= self.margin < 1):
            raise ContractError(f"early exit margin {self.margin!r} must be a probability margin in [0, 1)")


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
    max_crops: int = DEFAULT_MAX_CROPS
    crop_plan: str = "grid"
    logit_scaling: LogitScaling = field(default_factory=LogitScaling)  # identity in models from before it
    early_exit: EarlyExit = field(default_factory=EarlyExit)  # off in models from before it
    schema_version: int = SCHEMA_VERSION

    @property
    def model_id(self) -> str:
        """Identifies results in the cache: a different model means a new scan."""
        return f"{self.name}@{self.version}"

    @property
    def verdict_fingerprint(self) -> str:
        """A digest of everything in the metadata that turns crop logits into a verdict: a file exported again
        under the same name and version with other thresholds (a recalibration) must not be served the
        verdicts cached for the last one."""
        deciding = {"crop_size": self.crop_size, "aggregation": self.aggregation, "max_crops": self.max_crops,
                    "crop_plan": self.crop_plan, "thresholds": asdict(self.thresholds),
                    "logit_scaling": asdict(self.logit_scaling), "early_exit": asdict(self.early_exit)}
        return hashlib.sha256(json.dumps(deciding, sort_keys=True).encode()).hexdigest()[:12]

    def validate(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise _unsupported_schema(self.schema_version)
        if not self.name:
            raise ContractError("metadata 'name' is empty")
        # Names are shown in terminals, windows and exports, and key the results' cache: a control character
        # there (an escape sequence, a newline) is no name to show.
        for label, text in (("name", self.name), ("version", self.version),
                            *(("expert name", expert) for expert in self.expert_names)):
            if printable(text) != text:
                raise ContractError(f"metadata {label} {printable(text)!r} holds control characters")
        if not isinstance(self.crop_size, int) or not 16 <= self.crop_size <= 4096:
            raise ContractError(f"crop size {self.crop_size!r} must be an integer between 16 and 4096")
        if self.aggregation not in AGGREGATIONS:
            raise ContractError(f"aggregation {self.aggregation!r} is not one of {', '.join(AGGREGATIONS)}")
        if not isinstance(self.max_crops, int) or not 1 <= self.max_crops <= 256:
            raise ContractError(f"max_crops {self.max_crops!r} must be an integer between 1 and 256")
        if self.crop_plan not in CROP_PLANS:
            raise ContractError(f"crop plan {self.crop_plan!r} is not one of {', '.join(CROP_PLANS)}")
        if self.precision not in PRECISIONS:
            raise ContractError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        self.thresholds.validate()
        self.logit_scaling.validate()
        self.early_exit.validate()

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
            KEY_MAX_CROPS: str(self.max_crops),
            KEY_CROP_PLAN: self.crop_plan,
            KEY_LOGIT_SCALING: json.dumps(asdict(self.logit_scaling)),
            **({KEY_EARLY_EXIT: json.dumps(asdict(self.early_exit))} if self.early_exit.first_crops else {}),
        }

    @classmethod
    def from_props(cls, props: Mapping[str, str]) -> ModelMetadata:
        if not any(key.startswith(KEY_PREFIX) for key in props):
            raise ContractError("it is an ONNX model, but not a SynthSpot detector (it carries none of SynthSpot's "
                                "metadata; `python -m export` makes one)")
        missing = [key for key in REQUIRED_KEYS if key not in props]
        if missing:
            raise ContractError(f"metadata is missing {', '.join(missing)}")
        try:
            schema_version = int(props[KEY_SCHEMA_VERSION])
        except ValueError:
            raise ContractError(
                f"metadata {KEY_SCHEMA_VERSION}={props[KEY_SCHEMA_VERSION]!r} is not an integer") from None
        if schema_version != SCHEMA_VERSION:
            raise _unsupported_schema(schema_version)
        crop_size = _int_prop(props, KEY_CROP_SIZE)
        max_crops = _int_prop(props, KEY_MAX_CROPS, DEFAULT_MAX_CROPS)
        thresholds_raw = _json_prop(props, KEY_THRESHOLDS, {})
        if not isinstance(thresholds_raw, dict):
            raise ContractError(f"metadata {KEY_THRESHOLDS} must be a JSON object")
        unknown = set(thresholds_raw) - {"likely_ai", "likely_real", "fpr"}
        if unknown:
            raise ContractError(f"metadata {KEY_THRESHOLDS} has unknown keys {sorted(unknown)}")
        scaling_raw = _json_prop(props, KEY_LOGIT_SCALING, {})
        if not isinstance(scaling_raw, dict) or set(scaling_raw) - {"scale", "offset"}:
            raise ContractError(f"metadata {KEY_LOGIT_SCALING} must be a JSON object with 'scale' and 'offset'")
        early_raw = _json_prop(props, KEY_EARLY_EXIT, {})
        if not isinstance(early_raw, dict) or set(early_raw) - {"first_crops", "margin"}:
            raise ContractError(f"metadata {KEY_EARLY_EXIT} must be a JSON object with 'first_crops' and 'margin'")
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
            max_crops=max_crops,
            crop_plan=props.get(KEY_CROP_PLAN, "grid"),
            logit_scaling=LogitScaling(**scaling_raw),
            early_exit=EarlyExit(**early_raw),
            schema_version=schema_version,
        )
        meta.validate()
        return meta


def _int_prop(props: Mapping[str, str], key: str, default: int | None = None) -> int:
    if key not in props and default is not None:
        return default
    try:
        return int(props[key])
    except ValueError:
        raise ContractError(f"metadata {key}={props[key]!r} is not an integer") from None


def _json_prop(props: Mapping[str, str], key: str, default):
    if key not in props or props[key] == "":
        return default
    try:
        return json.loads(props[key])
    except json.JSONDecodeError as exc:
        raise ContractError(f"metadata {key} is not valid JSON: {exc.msg}") from None


# --- How an image becomes crops and crop logits become one score. -----------------
# Shared by the engine and by training's evaluation, so that both score images the same way.


@dataclass(frozen=True)
class CropBox:
    top: int
    left: int
    size: int  # the crop is size x size; parts beyond the image are padded


def plan_crops(height: int, width: int, crop_size: int, max_crops: int = DEFAULT_MAX_CROPS) -> list[CropBox]:
    """The ``grid`` plan: a deterministic set of crops at native resolution.

    The full grid has ``ceil(H/S) x ceil(W/S)`` crops spaced evenly from edge to
    edge (overlapping where S does not divide the side), so it covers every pixel.
    When that exceeds ``max_crops``, huge images are sampled, never resized: a
    coarser evenly spread grid with the image's aspect. (``plan_for`` picks the
    model's plan; ``texture`` differs only where the full grid does not fit.)
    """
    if height < 1 or width < 1:
        raise ValueError("image has no pixels")
    rows = math.ceil(height / crop_size)
    cols = math.ceil(width / crop_size)
    while rows * cols > max_crops:
        # Drop a row or column from the longer side of the grid first.
        if rows > 1 and (rows >= cols or cols == 1):
            rows -= 1
        else:
            cols -= 1
    tops = _spread(max(height - crop_size, 0), rows)
    lefts = _spread(max(width - crop_size, 0), cols)
    return [CropBox(top, left, crop_size) for top in tops for left in lefts]


def plan_for(rgb: np.ndarray, crop_size: int, max_crops: int, crop_plan: str = "grid") -> list[CropBox]:
    """The crop plan a model's metadata asks for, on a decoded HxWx3 image. The ``texture`` plan lists
    its crops best first, so a cascade's first stage is the most textured part of it."""
    if crop_plan != "texture":
        return plan_crops(rgb.shape[0], rgb.shape[1], crop_size, max_crops)
    shape = (rgb.shape[0], rgb.shape[1])
    luma = luminance(rgb[::TEXTURE_STEP, ::TEXTURE_STEP])
    rows, cols = math.ceil(shape[0] / crop_size), math.ceil(shape[1] / crop_size)
    if rows * cols <= max_crops:  # the full grid fits: all of it, best first
        grid = plan_crops(shape[0], shape[1], crop_size, max_crops)
        tops, lefts = sorted({box.top for box in grid}), sorted({box.left for box in grid})
        totals = _window_totals(luma, tops, lefts, crop_size, TEXTURE_STEP, shape)
        scores = [totals[tops.index(box.top), lefts.index(box.left)] for box in grid]
        return [grid[i] for i in sorted(range(len(grid)), key=lambda i: -scores[i])]  # stable: ties by position
    return texture_crops(luma, crop_size, max_crops, TEXTURE_STEP, shape)


# Texture is measured on every second pixel: a quarter of the work, and pixel differences of
# the subsampled image still rank windows by their fine detail.
TEXTURE_STEP = 2


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma as float32."""
    # The float32 pixels are ``rgb.astype(np.float32)`` (in the same memory layout: the product's rounding
    # depends on it), copied a channel at a time: a strided view (every second pixel) then converts in
    # long runs instead of runs of 3, several times faster.
    values = np.empty_like(rgb, dtype=np.float32)
    for channel in range(rgb.shape[-1]):
        values[..., channel] = rgb[..., channel]
    return values @ np.array([0.299, 0.587, 0.114], np.float32)


def texture_crops(luma: np.ndarray, crop_size: int, max_crops: int, step: int,
                  shape: tuple[int, int]) -> list[CropBox]:
    """The ``max_crops`` windows with the most high-frequency energy, apart where they fit.

    Candidates sit on a half-crop stride spread edge to edge; each is scored by the mean
    absolute horizontal and vertical pixel difference inside it (a summed-area table makes
    that one pass over the image). Greedy best-first with no overlap spreads the crops
    over the image's content; where no free window is left, later passes allow a quarter,
    a half, then any overlap until ``max_crops`` are chosen. Ties break by position, so the
    plan is deterministic. The crops come best first, so a cascade's first stage is the most
    textured part of the plan.
    ``luma`` is the image sampled every ``step`` pixels, ``shape`` the full size."""
    height, width = shape
    tops = _spread(max(height - crop_size, 0), max(1, math.ceil(2 * max(height - crop_size, 0) / crop_size) + 1))
    lefts = _spread(max(width - crop_size, 0), max(1, math.ceil(2 * max(width - crop_size, 0) / crop_size) + 1))
    totals = _window_totals(luma, tops, lefts, crop_size, step, (height, width))
    # Best first; equal scores by position (top, then left): a stable sort of the candidates in that order.
    order = np.argsort(-totals.ravel(), kind="stable")
    ranked = [(tops[i // len(lefts)], lefts[i % len(lefts)]) for i in order.tolist()]
    chosen: list[tuple[int, int]] = []
    area = crop_size * crop_size
    # Greedy packing can strand space, so later passes accept growing overlap until full.
    for allowed in (0.0, 0.25, 0.5, 1.0):
        for top, left in ranked:
            if len(chosen) == max_crops:
                break
            if (top, left) not in chosen and all(
                    _overlap_area(top, left, other_top, other_left, crop_size) / area <= allowed
                    for other_top, other_left in chosen):
                chosen.append((top, left))
    return [CropBox(top, left, crop_size) for top, left in chosen]  # best first: the cascade's first stage


def _window_totals(luma: np.ndarray, tops: list[int], lefts: list[int], crop_size: int, step: int,
                   shape: tuple[int, int]) -> np.ndarray:
    """[tops, lefts]: the luma gradient summed inside each window of side ``crop_size`` (cut to the image)
    at those corners, on ``luma`` sampled every ``step`` pixels of an image of ``shape``."""
    height, width = shape
    size = min(crop_size, height, width)
    y0 = np.array([top // step for top in tops])
    y1 = np.array([min(top + size, height) // step for top in tops])
    x0 = np.array([left // step for left in lefts])
    x1 = np.array([min(left + size, width) // step for left in lefts])
    rows = np.unique(np.concatenate([y0, y1]))
    energy = _summed_area_rows(luma, rows)  # energy[k, x]: the gradient summed over [0, rows[k]) x [0, x)
    r0, r1 = np.searchsorted(rows, y0), np.searchsorted(rows, y1)
    # The four corners, in the order (a - b - c + d) that fixes every rounding.
    return (energy[r1][:, x1] - energy[r0][:, x1]) - energy[r1][:, x0] + energy[r0][:, x0]


def _summed_area_rows(luma: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (sorted) of the summed-area table of the absolute horizontal plus vertical luma
    differences: float64 [len(rows), W + 1], row k = the sums over [0, rows[k]) x [0, x) for every x.

    Exactly the values of a full table built by cumulative sums down the columns, then along the rows
    (the same float64 additions in the same order), without building the other rows: running column
    sums, added row by row, are read off where a row is asked for."""
    gradient = np.zeros(luma.shape, np.float32)
    gradient[:, 1:] += np.abs(np.diff(luma, axis=1))
    gradient[1:, :] += np.abs(np.diff(luma, axis=0))
    table = np.zeros((len(rows), luma.shape[1] + 1), np.float64)
    column_sums = np.zeros(luma.shape[1], np.float64)
    added = 0
    for k, row in enumerate(rows.tolist()):
        for i in range(added, row):
            column_sums += gradient[i]
        added = row
        if row:
            np.cumsum(column_sums, out=table[k, 1:])
    return table


def _overlap_area(top: int, left: int, other_top: int, other_left: int, size: int) -> int:
    rows = max(0, min(top, other_top) + size - max(top, other_top))
    cols = max(0, min(left, other_left) + size - max(left, other_left))
    return rows * cols


def _spread(span: int, count: int) -> list[int]:
    if count == 1:
        return [span // 2]
    return [round(i * span / (count - 1)) for i in range(count)]


def crops_for_coverage(crop_size: int, fraction: float = 0.25, megapixels: float = 1.0) -> int:
    """How many crops cover ``fraction`` of an image of ``megapixels``."""
    return max(1, math.ceil(fraction * megapixels * 1e6 / crop_size**2))


def extract_crops(rgb: np.ndarray, boxes: list[CropBox]) -> np.ndarray:
    """uint8 [N, S, S, 3] crops; an image smaller than S is padded by mirroring."""
    size = boxes[0].size
    height, width = rgb.shape[:2]
    if height < size or width < size:
        rgb = np.pad(
            rgb, ((0, max(size - height, 0)), (0, max(size - width, 0)), (0, 0)), mode=CROP_PAD_MODE
        )
    crops = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    for index, box in enumerate(boxes):
        crops[index] = rgb[box.top : box.top + size, box.left : box.left + size]
    return crops


def aggregate_logits(logits: np.ndarray, method: str) -> float:
    """One image logit from its crops' logits, as the model's metadata says."""
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    if logits.size == 0:
        raise ValueError("no crop logits to aggregate")
    if method == "mean":
        return float(logits.mean())
    if method == "max":
        return float(logits.max())
    if method == "top2_mean":
        return float(np.sort(logits)[-2:].mean())
    if method == "top_half_mean":  # the larger half, the middle crop included when the count is odd
        return float(np.sort(logits)[-math.ceil(logits.size / 2):].mean())
    if method == "prob_mean":
        probability = float(np.clip(sigmoid(logits).mean(), 1e-7, 1 - 1e-7))
        return math.log(probability / (1 - probability))
    raise ValueError(f"unknown aggregation {method!r}")


def sigmoid(x):
    """The probability of a logit, in float64. The engine's image probability, its crop scores and all of
    training use this one function, so their figures agree to the bit. A very negative logit overflows
    ``exp`` to infinity and gives exactly 0, the limit: not worth a warning."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def first_stage(box_count: int, meta: ModelMetadata) -> int:
    """How many of an image's ``box_count`` crops the cascade scores first (all of them without one)."""
    first = meta.early_exit.first_crops
    return first if 0 < first < box_count else box_count


def decided_early(first_logits, meta: ModelMetadata) -> bool:
    """Whether the cascade's first crops settle the image: their aggregated, scaled probability lies more
    than the margin below ``likely_real`` or above ``likely_ai``. The engine and training's evaluation
    both ask this, so that they score images alike."""
    logits = np.asarray(first_logits, dtype=np.float64).reshape(-1)
    if not meta.early_exit.first_crops or logits.size < meta.early_exit.first_crops:
        return False
    probability = float(sigmoid(meta.logit_scaling.apply(aggregate_logits(logits, meta.aggregation))))
    margin, bands = meta.early_exit.margin, meta.thresholds
    return probability <= bands.likely_real - margin or probability >= bands.likely_ai + margin
