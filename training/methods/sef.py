"""``sef``: Separate Expert Fusion.

Stage ``expert:<name>``: only that expert's LoRA and its own linear head are
trainable and only its adapter is applied, so each expert learns one fake
domain alone. Stage ``fusion``: every expert is frozen; a gating network looks
at the experts' class tokens (or at the plain backbone's) and outputs softmax
weights over experts, which mix the experts' class and patch tokens for the
detector's head. The experts' passes run as one batched backbone call over
``E * B`` images, each chunk of the batch through its own adapter.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..adapters import active_adapter, adapter_layers, batched_adapters
from ..backbones.base import Backbone, Features
from ..input_residual import apply_input_residual
from .output import EncoderOutput

FUSION = "fusion"
EXPERT_PREFIX = "expert:"


class SefEncoder(nn.Module):
    def __init__(self, backbone: Backbone, experts: tuple[str, ...], gate_input: str, gate_hidden: int = 0,
                 expert_verdicts: bool = False, expert_inputs: dict[str, str] | None = None):
        super().__init__()
        self.expert_inputs = dict(expert_inputs or {})
        self.expert_verdicts = expert_verdicts
        self.backbone = backbone
        self.experts = tuple(experts)
        self.gate_input = gate_input
        dim, count = backbone.embed_dim, len(experts)
        gate_in = dim * count if gate_input == "experts" else dim
        if gate_hidden:
            self.gate = nn.Sequential(nn.Linear(gate_in, gate_hidden), nn.GELU(), nn.Linear(gate_hidden, count))
        else:
            self.gate = nn.Linear(gate_in, count)
        self.expert_heads = nn.ModuleDict({name: nn.Linear(dim, 1) for name in experts})
        self.stage = FUSION
        # For inference only (export): one copy of the backbone per chunk with that expert's LoRA
        # folded into its weights, run one after the other instead of the batched adapter pass.
        self.merged_backbones: nn.ModuleList | None = None
        # For fusion training (fold_frozen_experts): the same folded copies, kept out of the module
        # tree (a plain list), so they are never saved, loaded or moved.
        self._fusion_copies: list[nn.Module] | None = None

    @property
    def stages(self) -> tuple[str, ...]:
        return (FUSION,) + tuple(EXPERT_PREFIX + name for name in self.experts)

    def set_stage(self, stage: str) -> None:
        """Freeze everything but what ``stage`` trains; the detector's head trains only in fusion."""
        if self.merged_backbones is not None and stage != FUSION:
            raise ValueError("the experts are merged for inference: only the fusion stage runs")
        if stage not in self.stages:
            raise ValueError(f"unknown SEF stage {stage!r}; known: {self.stages}")
        self.stage = stage
        self._fusion_copies = None
        self.requires_grad_(False)
        if stage == FUSION:
            self.gate.requires_grad_(True)
            if self.expert_verdicts:  # their LoRAs stay frozen; their verdicts are recalibrated beside each other
                self.expert_heads.requires_grad_(True)
            return
        name = stage.removeprefix(EXPERT_PREFIX)
        self.expert_heads[name].requires_grad_(True)
        for layer in adapter_layers(self.backbone):
            if name in layer.adapters:  # an expert with its own targets sits in some layers only
                layer.adapters[name].requires_grad_(True)

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        if self.stage != FUSION:
            name = self.stage.removeprefix(EXPERT_PREFIX)
            with active_adapter(self.backbone, name):
                features = self.backbone(self._input(name, x))
            return EncoderOutput(features, expert_logit=self.expert_heads[name](features.cls_token).squeeze(-1))
        return self._fuse(x)

    def _fuse(self, x: torch.Tensor) -> EncoderOutput:
        batch = x.shape[0]
        chunks = self._chunks()
        backbones = self.merged_backbones if self.merged_backbones is not None else self._fusion_copies
        if backbones is not None:
            stacked = _concatenate([backbone(self._input(name, x)) for name, backbone in zip(chunks, backbones, strict=True)])
        else:
            with batched_adapters(self.backbone, chunks):
                stacked = self.backbone(torch.cat([self._input(name, x) for name in chunks]))
        cls_tokens = stacked.cls_token.reshape(len(chunks), batch, -1)
        patch_tokens = stacked.patch_tokens.reshape(len(chunks), batch, *stacked.patch_tokens.shape[1:])
        if self.gate_input == "backbone":
            gate_in, cls_tokens, patch_tokens = cls_tokens[0], cls_tokens[1:], patch_tokens[1:]
        else:
            gate_in = cls_tokens.transpose(0, 1).reshape(batch, -1)
        weights = self.gate(gate_in).softmax(dim=-1)
        fine = None
        if stacked.fine is not None:  # the experts' stride-8 maps, mixed by the same weights
            fine = stacked.fine.reshape(len(chunks), batch, *stacked.fine.shape[1:])
            if self.gate_input == "backbone":
                fine = fine[1:]
            fine = torch.einsum("be,ebchw->bchw", weights, fine)
        fused = Features(
            torch.einsum("be,ebd->bd", weights, cls_tokens),
            torch.einsum("be,ebnd->bnd", weights, patch_tokens),
            stacked.grid,
            fine,
        )
        verdict = None
        if self.expert_verdicts:
            logits = torch.stack([self.expert_heads[name](cls_tokens[i]).squeeze(-1)
                                  for i, name in enumerate(self.experts)], dim=-1)
            verdict = (weights * logits).sum(dim=-1)
        return EncoderOutput(fused, expert_weights=weights, verdict_logit=verdict)

    def _input(self, name: str | None, x: torch.Tensor) -> torch.Tensor:
        """What expert ``name``'s pass sees of ``x`` (the plain backbone's chunk, None, has no input of its own)."""
        return apply_input_residual(self.expert_inputs.get(name, ""), x)

    def _chunks(self) -> list[str | None]:
        """The fused pass's backbone chunks: one per expert, after one through the plain backbone
        (None) where the gate reads it."""
        return ([None] if self.gate_input == "backbone" else []) + list(self.experts)

    @torch.no_grad()
    def _folded_copies(self) -> list[nn.Module]:
        """One backbone copy per chunk of the fused pass (the plain backbone first where the gate reads
        it), each with its expert's LoRA folded in: the batched pass's outputs at bare backbone cost."""
        copies = []
        for name in self._chunks():
            backbone = copy.deepcopy(self.backbone)
            for layer in adapter_layers(backbone):
                layer.active_adapters = [] if name is None else [name]
                if name is not None:
                    layer.merge([name])
            copies.append(backbone)
        return copies

    def merge_experts(self) -> None:
        """Inference (export, scoring): the fused pass runs on folded copies. Training afterwards is refused."""
        self.merged_backbones = nn.ModuleList(self._folded_copies())
        self.stage = FUSION

    def fold_frozen_experts(self) -> None:
        """Fusion training, where the backbone and every expert are frozen: run the fused pass on
        folded copies (in eval mode) instead of the batched adapters, the same features at about a
        third of the cost. Only exact with LoRA dropout 0 (a frozen adapter's dropout in train mode
        would otherwise differ); ``set_stage`` drops the copies, so call it after moving the model."""
        if self.stage != FUSION:
            raise ValueError("experts are folded for the fusion stage only")
        self._fusion_copies = [backbone.eval() for backbone in self._folded_copies()]


def _concatenate(parts: list[Features]) -> Features:
    fine = None if parts[0].fine is None else torch.cat([part.fine for part in parts])
    return Features(torch.cat([part.cls_token for part in parts]), torch.cat([part.patch_tokens for part in parts]),
                    parts[0].grid, fine)
