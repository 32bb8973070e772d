"""What a detector returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..backbones.base import Features


@dataclass
class EncoderOutput:
    """Features for the head; SEF adds its gate weights (and, with ``expert_verdicts``, the experts'
    own logits mixed by them, ``verdict_logit``), or, while training one expert, that expert's logit."""

    features: Features
    expert_weights: torch.Tensor | None = None
    expert_logit: torch.Tensor | None = None
    verdict_logit: torch.Tensor | None = None
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class DetectorOutput:
    """``logit [B]`` (fake if > 0); ``expert_weights [B, E]`` (SEF, sums to one); ``artifact_map [B, 1, h, w]``
    (GAMMA, manipulation logits at 1/8 of the crop); ``domain_map [B, C, h, w]`` (GAMMA, logits over
    ``config.gamma.domains``); ``aux_losses``: unweighted extra losses (``mole_balance``)."""

    logit: torch.Tensor
    expert_weights: torch.Tensor | None = None
    artifact_map: torch.Tensor | None = None
    domain_map: torch.Tensor | None = None
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
