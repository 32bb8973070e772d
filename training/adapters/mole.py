"""MoLE: a mixture of low-rank experts on one frozen layer.

``out = base(x) + shared(x) + sum_e g_e(x) * expert_e(x)`` where ``g(x)`` is a
per-token softmax router (optionally kept to its top-k, renormalised). Each
layer keeps its last router weights and a Switch-Transformer load-balancing
loss ``E * sum_e f_e * P_e`` (``f_e``: the share of the dispatched weight that
went to expert e, ``P_e``: its mean router probability), which is 1 at its
minimum, a uniform router.
"""

from __future__ import annotations

import torch
from torch import nn

from .lora import LowRank, is_pointwise, layer_dims, linear_or_pointwise


def route(logits: torch.Tensor, top_k: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Router logits ``[..., E]`` -> (probabilities, dispatch weights); both sum to one over E."""
    probs = logits.softmax(dim=-1)
    if top_k is None or top_k >= probs.shape[-1]:
        return probs, probs
    kept = torch.zeros_like(probs).scatter(-1, probs.topk(top_k, dim=-1).indices, 1.0)
    weights = probs * kept
    return probs, weights / weights.sum(dim=-1, keepdim=True)


def balance_loss(probs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``E * sum_e f_e * P_e`` over all tokens; 1 for a uniform router, up to E when one expert takes all."""
    num_experts = probs.shape[-1]
    dispatch = weights.reshape(-1, num_experts).mean(dim=0)
    importance = probs.reshape(-1, num_experts).mean(dim=0)
    return num_experts * (dispatch * importance).sum()


class MoleLayer(nn.Module):
    def __init__(
        self,
        base_layer: nn.Module,
        num_experts: int,
        rank: int,
        alpha: float,
        dropout: float = 0.0,
        top_k: int | None = None,
    ):
        super().__init__()
        if not is_pointwise(base_layer):
            raise TypeError(f"MoLE needs a Linear or a 1x1 Conv2d, got {base_layer}")
        self.base_layer = base_layer
        self.is_conv = isinstance(base_layer, nn.Conv2d)
        in_features, out_features = layer_dims(base_layer)
        self.shared = LowRank(in_features, out_features, rank, alpha, dropout)
        self.experts = nn.ModuleList(LowRank(in_features, out_features, rank, alpha, dropout) for _ in range(num_experts))
        # A near-uniform start that still breaks ties, so top-k does not always pick the first experts.
        self.router = nn.Linear(in_features, num_experts)
        nn.init.normal_(self.router.weight, std=1e-3)
        nn.init.zeros_(self.router.bias)
        self.top_k = top_k
        self.last_router_weights: torch.Tensor | None = None
        self.last_balance_loss: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Tokens are the last axis of a ViT's [B, N, C] or the pixels of a CNN's [B, C, H, W].
        channel_axis = 1 if self.is_conv else -1
        logits = linear_or_pointwise(x, self.router.weight, self.router.bias).movedim(channel_axis, -1)
        probs, weights = route(logits, self.top_k)
        self.last_router_weights = weights
        self.last_balance_loss = balance_loss(probs, weights)
        weights = weights.movedim(-1, channel_axis)
        out = self.base_layer(x) + self.shared(x)
        for index, expert in enumerate(self.experts):
            out = out + weights.narrow(channel_axis, index, 1) * expert(x)
        return out
