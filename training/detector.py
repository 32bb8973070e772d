"""``create_detector(config)``: backbone + adapters + method + head, and what export needs to wrap it."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .adapters import adapter_parameters, inject_lora, inject_mole, merge_lora, spatial_targets
from .backbones import Backbone, backbone_entry
from .config import ConfigError, DetectorConfig
from .input_residual import apply_input_residual
from .methods.heads import GammaHead, LinearHead
from .methods.mixed import MixedEncoder
from .methods.output import DetectorOutput
from .methods.sef import SefEncoder

MIXED_ADAPTER = "default"


@dataclass(frozen=True)
class InputSpec:
    """The input a detector's ``forward`` expects, for export to wrap with uint8 NHWC decoding.

    ``forward`` takes float32 NCHW ``(pixels / 255 - mean) / std`` with ``mean``/``std`` on the
    0..1 scale (multiply by 255 for the 0..255 scale), square ``crop_size`` crops.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_size: int
    size_multiple: int
    expert_names: tuple[str, ...]  # order of ``expert_weights``' columns; () without SEF or an expert mix
    domain_names: tuple[str, ...]  # order of ``domain_map``'s channels; () without GAMMA
    has_artifact_map: bool


class Detector(nn.Module):
    def __init__(self, config: DetectorConfig, encoder: nn.Module, head: nn.Module, crop_size: int):
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.head = head
        # A student's estimate of its SEF teacher's gate (``expert_mix``), read from the class token.
        self.mix_head = nn.Linear(self.backbone.embed_dim, len(config.expert_mix)) if config.expert_mix else None
        self.crop_size = crop_size
        self.stage = ""

    @property
    def backbone(self) -> Backbone:
        return self.encoder.backbone

    @property
    def stages(self) -> tuple[str, ...]:
        return self.encoder.stages

    @property
    def input_spec(self) -> InputSpec:
        data = self.backbone.data_config
        sef, gamma = self.config.method == "sef", self.config.gamma.enabled
        return InputSpec(
            mean=tuple(data.mean),
            std=tuple(data.std),
            crop_size=self.crop_size,
            size_multiple=data.size_multiple,
            expert_names=self.config.sef.experts if sef else self.config.expert_mix,
            domain_names=self.config.gamma.domains if gamma else (),
            has_artifact_map=gamma,
        )

    def normalize(self, pixels01: torch.Tensor) -> torch.Tensor:
        """NCHW float in 0..1 -> ``forward``'s input."""
        return self.backbone.data_config.normalize(pixels01)

    def set_stage(self, stage: str) -> None:
        """Set what trains: ``train`` (mixed), ``expert:<name>`` or ``fusion`` (SEF). The backbone's own weights never do."""
        self.encoder.set_stage(stage)
        self.head.requires_grad_(not stage.startswith("expert:"))
        if self.mix_head is not None:
            self.mix_head.requires_grad_(True)  # a mixed detector's one stage trains everything but the backbone
        self.stage = stage

    def forward(self, x: torch.Tensor) -> DetectorOutput:
        encoded = self.encoder(apply_input_residual(self.config.input_residual, x))
        if encoded.expert_logit is not None:  # SEF, training one expert: its own head, no fusion
            return DetectorOutput(encoded.expert_logit, aux_losses=encoded.aux_losses)
        heads = self.head(encoded.features)
        logit = heads["logit"] if encoded.verdict_logit is None else heads["logit"] + encoded.verdict_logit
        expert_weights = encoded.expert_weights
        if self.mix_head is not None:
            expert_weights = self.mix_head(encoded.features.cls_token).softmax(dim=-1)
        return DetectorOutput(
            logit=logit,
            expert_weights=expert_weights,
            artifact_map=heads.get("artifact_map"),
            domain_map=heads.get("domain_map"),
            aux_losses=encoded.aux_losses,
        )

    def parameter_counts(self) -> tuple[int, int]:
        """(total, trainable in the current stage)."""
        total = sum(p.numel() for p in self.parameters())
        return total, sum(p.numel() for p in self.parameters() if p.requires_grad)

    def pretrained_state_keys(self) -> set[str]:
        """State-dict keys of the backbone's own weights and buffers (everything that is not an adapter)."""
        adapters = {id(p) for p in adapter_parameters(self.backbone)}
        prefix = "encoder.backbone."
        return {
            prefix + key for key, value in self.backbone.state_dict(keep_vars=True).items() if id(value) not in adapters
        }


def lora_targets(config: DetectorConfig, adapter: str) -> tuple[str, ...]:
    """The layers LoRA ``adapter`` sits in: an SEF expert's own targets, else lora.targets, else the backbone's."""
    own = config.sef.expert_targets.get(adapter) if config.method == "sef" else None
    return own or config.lora.targets or backbone_entry(config.backbone).lora_targets


def _inject(config: DetectorConfig, backbone: Backbone) -> None:
    entry = backbone_entry(config.backbone)
    if config.adapter == "lora":
        lora = config.lora
        names = config.sef.experts if config.method == "sef" else (MIXED_ADAPTER,)
        for name in names:
            targets = lora_targets(config, name)
            explicit = targets != entry.lora_targets
            if explicit and not lora.spatial and (spatial := spatial_targets(backbone, targets)):
                raise ConfigError(f"LoRA targets of {name!r} name spatial convolutions ({', '.join(spatial[:3])}); "
                                  "set lora.spatial = true to adapt them, or name 1x1 layers only")
            inject_lora(backbone, targets, name, lora.rank, lora.alpha, lora.dropout, lora.spatial)
    elif config.adapter == "mole":
        mole = config.mole
        inject_mole(
            backbone.blocks,
            mole.targets or entry.mlp_targets,
            mole.last_blocks,
            mole.num_experts,
            mole.rank,
            mole.alpha,
            mole.dropout,
            mole.top_k,
        )


def create_detector(config: DetectorConfig, weights: str | None = None) -> Detector:
    """Build the detector ``config`` describes; ``weights`` overrides ``config.weights`` (e.g. a CLIP path)."""
    backbone = backbone_entry(config.backbone).build(weights=weights if weights is not None else config.weights)
    data = backbone.data_config
    crop_size = config.crop_size or data.input_size
    if crop_size % data.size_multiple:
        raise ConfigError(f"crop_size {crop_size} is not a multiple of {config.backbone}'s {data.size_multiple}")
    backbone.requires_grad_(False)
    _inject(config, backbone)
    if config.method == "sef":
        encoder = SefEncoder(backbone, config.sef.experts, config.sef.gate_input, config.sef.gate_hidden,
                             config.sef.expert_verdicts, config.sef.expert_inputs)
    else:
        encoder = MixedEncoder(backbone)
    if config.gamma.enabled:
        gamma = config.gamma
        head = GammaHead(backbone.embed_dim, gamma.seg_dim, len(gamma.domains), gamma.attention_heads,
                         backbone.fine_channels, backbone.feature_stride)
    else:
        head = LinearHead(backbone.embed_dim)
    detector = Detector(config, encoder, head, crop_size)
    detector.set_stage("fusion" if config.method == "sef" else "train")
    return detector.eval()


def merged_for_inference(detector: Detector) -> Detector:
    """A copy with LoRA folded into the base weights, so scoring costs what bare backbone passes cost:
    the single adapter of ``mixed``; for SEF, one backbone copy per expert with its adapter folded in
    (``SefEncoder.merge_experts``). MoLE's routed adapters cannot be folded: ``detector`` itself.
    Export and the checkpoint scorer both use it (same outputs within 1e-5; 1.5x a mixed pass and
    3x an SEF pass on the CPU)."""
    if detector.config.adapter != "lora":
        return detector
    merged = copy.deepcopy(detector)
    if detector.config.method == "sef":
        merged.encoder.merge_experts()
    else:
        merge_lora(merged.backbone)
    return merged
