"""Heads on top of an encoder's features: a linear classifier, or GAMMA's segmentation heads with
a reverse cross-attention in which the class token reads the segmentation features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones.base import Features

MAP_STRIDE = 8  # GAMMA's maps: one cell per 8 x 8 crop pixels


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
    """GAMMA: head 1 says per cell whether it was manipulated, head 2 which domain it came from;
    the class token then attends to the segmentation features (reverse cross-attention) before
    the classifier, so pixel-level evidence can correct the image-level decision.

    A light decoder draws both maps at 1/8 of the crop, not at the backbone's coarse grid (1/32
    for EfficientNet: 3 x 3 cells on a 96 px crop, too coarse to show where an inpaint is): the
    grid's segmentation features are upsampled bilinearly, added to a projection of the
    backbone's stride-8 map where it has one, and refined by two 3 x 3 convolutions."""

    def __init__(self, dim: int, seg_dim: int, num_domains: int, attention_heads: int = 1,
                 fine_channels: int = 0, feature_stride: int = 8):
        super().__init__()
        self.seg_neck = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, seg_dim), nn.GELU())
        self.fine_projection = nn.Conv2d(fine_channels, seg_dim, 1) if fine_channels else None
        self.upscale = max(1, round(feature_stride / MAP_STRIDE))  # used where there is no stride-8 map
        self.decoder = nn.Sequential(nn.Conv2d(seg_dim, seg_dim, 3, padding=1), nn.GELU(),
                                     nn.Conv2d(seg_dim, seg_dim, 3, padding=1), nn.GELU())
        self.manipulation_head = nn.Conv2d(seg_dim, 1, 1)
        self.domain_head = nn.Conv2d(seg_dim, num_domains, 1)
        # The attention runs at the segmentation width, so its cost does not grow with the backbone's.
        self.query = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, seg_dim))
        self.reverse_attention = nn.MultiheadAttention(seg_dim, attention_heads, batch_first=True)
        self.correction = nn.Linear(seg_dim, dim)
        self.classifier = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 1))

    def forward(self, features: Features) -> dict[str, torch.Tensor]:
        seg = tokens_to_map(self.seg_neck(features.patch_tokens), features.grid)
        if self.fine_projection is not None and features.fine is not None:
            seg = F.interpolate(seg, size=features.fine.shape[-2:], mode="bilinear", align_corners=False)
            seg = seg + self.fine_projection(features.fine)
        elif self.upscale > 1:
            seg = F.interpolate(seg, scale_factor=self.upscale, mode="bilinear", align_corners=False)
        seg = self.decoder(seg)
        query = self.query(features.cls_token).unsqueeze(1)
        cells = seg.flatten(2).transpose(1, 2)
        attended, _ = self.reverse_attention(query, cells, cells, need_weights=False)
        cls_token = features.cls_token + self.correction(attended.squeeze(1))
        return {
            "logit": self.classifier(cls_token).squeeze(-1),
            "artifact_map": self.manipulation_head(seg),
            "domain_map": self.domain_head(seg),
        }
