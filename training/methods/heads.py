"""Heads on top of an encoder's features: a linear classifier, or GAMMA's segmentation heads with
a reverse cross-attention in which the class token reads the segmentation features."""

from __future__ import annotations

import torch
from torch import nn

from ..backbones.base import Features


def tokens_to_map(tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``[B, h*w, C]`` row-major tokens -> ``[B, C, h, w]``."""
    batch, _, channels = tokens.shape
    return tokens.transpose(1, 2).reshape(batch, channels, grid[0], grid[1])


class LinearHead(nn.Module):
    """The baseline: one linear layer on the class token."""

    def __init__(self, dim: int):
        super().__init__()
        self.fc = nn.Linear(dim, 1)

    def forward(self, features: Features) -> dict[str, torch.Tensor]:
        return {"logit": self.fc(features.cls_token).squeeze(-1)}


class GammaHead(nn.Module):
    """GAMMA: head 1 says per patch whether it was manipulated, head 2 which domain it came from;
    the class token then attends to the segmentation features (reverse cross-attention) before
    the classifier, so pixel-level evidence can correct the image-level decision."""

    def __init__(self, dim: int, seg_dim: int, num_domains: int, attention_heads: int = 1):
        super().__init__()
        self.seg_neck = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, seg_dim), nn.GELU())
        self.manipulation_head = nn.Linear(seg_dim, 1)
        self.domain_head = nn.Linear(seg_dim, num_domains)
        # The attention runs at the segmentation width, so its cost does not grow with the backbone's.
        self.query = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, seg_dim))
        self.reverse_attention = nn.MultiheadAttention(seg_dim, attention_heads, batch_first=True)
        self.correction = nn.Linear(seg_dim, dim)
        self.classifier = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 1))

    def forward(self, features: Features) -> dict[str, torch.Tensor]:
        seg = self.seg_neck(features.patch_tokens)
        query = self.query(features.cls_token).unsqueeze(1)
        attended, _ = self.reverse_attention(query, seg, seg, need_weights=False)
        cls_token = features.cls_token + self.correction(attended.squeeze(1))
        return {
            "logit": self.classifier(cls_token).squeeze(-1),
            "artifact_map": tokens_to_map(self.manipulation_head(seg), features.grid),
            "domain_map": tokens_to_map(self.domain_head(seg), features.grid),
        }
