"""``DetectorConfig``: one validated, JSON-serialisable record that picks backbone, adapter, method and heads.

Every combination the evaluation compares is one config away, and every
checkpoint stores the config it was built from (see ``training.checkpoint``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from training.domains import FAKE_DOMAINS, INPAINT, REAL, RECONSTRUCT, UPSAMPLE
from training.input_residual import INPUT_RESIDUALS

ADAPTERS = ("lora", "mole", "none")
METHODS = ("mixed", "sef")
GATE_INPUTS = ("experts", "backbone")
DEFAULT_DOMAINS = (RECONSTRUCT, UPSAMPLE, INPAINT)  # SEF's experts and GAMMA's classes: training.domains


class ConfigError(ValueError):
    """A detector configuration that cannot be built; the message names the field."""


@dataclass(frozen=True)
class LoraConfig:
    rank: int = 8
    alpha: float = 16.0  # scaling = alpha / rank, as in peft
    dropout: float = 0.0
    targets: tuple[str, ...] = ()  # module names; () = the backbone's defaults (qkv/proj/fc1/fc2, 1x1 convs)
    # True: targets may be spatial convolutions too (a stem, depthwise filters: low-level evidence);
    # False keeps them out, so a target name never reaches a spatial convolution by accident.
    spatial: bool = False

    def validate(self) -> None:
        _check(self.rank >= 1, "lora.rank must be >= 1")
        _check(self.alpha > 0, "lora.alpha must be > 0")
        _check(0.0 <= self.dropout < 1.0, "lora.dropout must be in [0, 1)")


@dataclass(frozen=True)
class MoleConfig:
    """Mixture of low-rank experts in the MLPs of the last ``last_blocks`` blocks."""

    rank: int = 4
    alpha: float = 8.0
    dropout: float = 0.0
    num_experts: int = 4  # routed LoRAs, besides the one shared LoRA
    top_k: int | None = None  # None: dense softmax mix
    last_blocks: int = 2
    balance_weight: float = 0.01  # weight of the load-balancing loss in the training objective
    targets: tuple[str, ...] = ()  # () = the backbone's MLP layers (fc1/fc2, or the MBConv 1x1 convs)

    def validate(self) -> None:
        _check(self.rank >= 1, "mole.rank must be >= 1")
        _check(self.alpha > 0, "mole.alpha must be > 0")
        _check(0.0 <= self.dropout < 1.0, "mole.dropout must be in [0, 1)")
        _check(self.num_experts >= 2, "mole.num_experts must be >= 2")
        _check(self.top_k is None or 1 <= self.top_k <= self.num_experts, "mole.top_k must be in 1..num_experts")
        _check(self.last_blocks >= 1, "mole.last_blocks must be >= 1")
        _check(self.balance_weight >= 0, "mole.balance_weight must be >= 0")


@dataclass(frozen=True)
class SefConfig:
    """Separate Expert Fusion: one LoRA expert per fake domain, fused by a gate."""

    experts: tuple[str, ...] = DEFAULT_DOMAINS
    gate_input: str = "experts"  # "experts": the experts' class tokens; "backbone": the frozen backbone's
    gate_hidden: int = 0  # 0: a linear gate; otherwise a one-hidden-layer MLP
    # True: the final logit also adds the experts' own verdicts (each expert's linear head on its
    # class token) mixed by the gate, and those heads train in fusion; the fused head then learns a
    # correction. False: SEF as published, one head on the fused features only.
    expert_verdicts: bool = False
    # expert -> its own LoRA targets instead of lora.targets, e.g. a low-level expert on the stem and
    # the first blocks (with lora.spatial) by dotted path tails ("_blocks.0._depthwise_conv").
    expert_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # expert -> what its backbone pass sees of each crop, as ``DetectorConfig.input_residual`` (e.g. an
    # upsample expert on the NPR residual beside experts on the pixels); absent: the pixels.
    expert_inputs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "expert_targets", {name: tuple(targets) for name, targets in dict(self.expert_targets).items()})
        object.__setattr__(self, "expert_inputs", dict(self.expert_inputs))

    def validate(self) -> None:
        _check(len(self.experts) >= 2, "sef.experts needs at least two experts")
        unknown = sorted(set(self.expert_targets) - set(self.experts))
        _check(not unknown, f"sef.expert_targets names {unknown}, which are not in sef.experts")
        _check(all(self.expert_targets.values()), "sef.expert_targets: each expert needs at least one target")
        unknown = sorted(set(self.expert_inputs) - set(self.experts))
        _check(not unknown, f"sef.expert_inputs names {unknown}, which are not in sef.experts")
        _check(all(kind in INPUT_RESIDUALS for kind in self.expert_inputs.values()),
               f"sef.expert_inputs: each input must be one of {INPUT_RESIDUALS}")
        _check(len(set(self.experts)) == len(self.experts), "sef.experts must be unique")
        _check(all(name in FAKE_DOMAINS for name in self.experts), f"sef.experts must be fake domains ({', '.join(FAKE_DOMAINS)})")
        _check(self.gate_input in GATE_INPUTS, f"sef.gate_input must be one of {GATE_INPUTS}")
        _check(self.gate_hidden >= 0, "sef.gate_hidden must be >= 0")


@dataclass(frozen=True)
class GammaConfig:
    """GAMMA heads: per-pixel manipulation and domain maps, and a reverse cross-attention."""

    enabled: bool = False
    domains: tuple[str, ...] = (REAL,) + DEFAULT_DOMAINS  # classes of the domain map
    seg_dim: int = 64
    attention_heads: int = 1

    def validate(self) -> None:
        _check(len(self.domains) >= 2, "gamma.domains needs at least two classes")
        _check(len(set(self.domains)) == len(self.domains), "gamma.domains must be unique")
        _check(all(name in (REAL, *FAKE_DOMAINS) for name in self.domains),
               f"gamma.domains must be {REAL!r} or fake domains ({', '.join(FAKE_DOMAINS)})")
        _check(self.seg_dim >= 1 and self.attention_heads >= 1, "gamma.seg_dim and attention_heads must be >= 1")


@dataclass(frozen=True)
class DetectorConfig:
    name: str = "synthspot"
    backbone: str = "tiny_vit"
    weights: str | None = None  # None: packaged weights (or random for tiny_vit); a path; or "random"
    crop_size: int | None = None  # None: the backbone's input size
    adapter: str = "lora"
    lora: LoraConfig = field(default_factory=LoraConfig)
    mole: MoleConfig = field(default_factory=MoleConfig)
    method: str = "mixed"
    sef: SefConfig = field(default_factory=SefConfig)
    gamma: GammaConfig = field(default_factory=GammaConfig)
    # A one-pass (``mixed``) student's estimate of its SEF teacher's expert mix, learned by distillation
    # (``training.distill``): the teacher's experts, in its order, so the app keeps its "kind of artifact".
    expert_mix: tuple[str, ...] = ()
    # What the backbone sees of each crop: "" the pixels; "npr" only their local interdependence
    # (``training.input_residual``: the crop minus a nearest-neighbour re-upsampling of itself).
    input_residual: str = ""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check(isinstance(self.backbone, str) and self.backbone != "", "backbone must be a name")
        _check(self.crop_size is None or self.crop_size >= 1, "crop_size must be positive")
        _check(self.adapter in ADAPTERS, f"adapter must be one of {ADAPTERS}")
        _check(self.method in METHODS, f"method must be one of {METHODS}")
        _check(self.method != "sef" or self.adapter == "lora", "method 'sef' needs adapter 'lora' (one LoRA per expert)")
        _check(self.input_residual in INPUT_RESIDUALS, f"input_residual must be one of {INPUT_RESIDUALS}")
        _check(not (self.input_residual and self.sef.expert_inputs),
               "input_residual (the whole model's input) and sef.expert_inputs (one expert's) exclude each other")
        for part in (self.lora, self.mole, self.sef, self.gamma):
            part.validate()
        if self.expert_mix:
            _check(self.method == "mixed", "expert_mix is for one-pass (method 'mixed') students; SEF has its gate")
            _check(len(self.expert_mix) >= 2 and len(set(self.expert_mix)) == len(self.expert_mix),
                   "expert_mix needs at least two experts, each named once")
            _check(all(name in FAKE_DOMAINS for name in self.expert_mix),
                   f"expert_mix must name fake domains ({', '.join(FAKE_DOMAINS)})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        nested = {"lora": LoraConfig, "mole": MoleConfig, "sef": SefConfig, "gamma": GammaConfig}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        _check(not unknown, f"unknown config fields: {sorted(unknown)}")
        values = {}
        for key, value in data.items():
            if key in nested:
                values[key] = _build_part(nested[key], value)
            elif isinstance(value, list):  # JSON and TOML have lists where the config has tuples
                values[key] = tuple(value)
            else:
                values[key] = value
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> DetectorConfig:
        return cls.from_dict(json.loads(text))


def _build_part(part_cls, value: dict[str, Any]):
    part_fields = {f.name for f in fields(part_cls)}
    unknown = set(value) - part_fields
    _check(not unknown, f"unknown {part_cls.__name__} fields: {sorted(unknown)}")
    return part_cls(**{key: tuple(item) if isinstance(item, list) else item for key, item in value.items()})


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
