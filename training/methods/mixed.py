"""``mixed``: the frozen backbone with one LoRA (or MoLE) trained on all fakes at once; the baseline."""

from __future__ import annotations

import torch
from torch import nn

from ..adapters import freeze_except_adapters, mole_balance_loss
from ..backbones.base import Backbone
from .output import EncoderOutput


class MixedEncoder(nn.Module):
    stages = ("train",)

    def __init__(self, backbone: Backbone):
        super().__init__()
        self.backbone = backbone

    def set_stage(self, stage: str) -> None:
        if stage not in self.stages:
            raise ValueError(f"mixed has one stage, 'train'; got {stage!r}")
        freeze_except_adapters(self.backbone)

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        features = self.backbone(x)
        balance = mole_balance_loss(self.backbone)
        return EncoderOutput(features, aux_losses={} if balance is None else {"mole_balance": balance})
