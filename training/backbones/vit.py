"""One plain pre-norm Vision Transformer that DINOv2, CLIP and the tiny test model all instantiate.

Module names follow timm (``qkv``, ``proj``, ``fc1``, ``fc2``) so adapters target
the same names on every ViT. Position embeddings are resized (bicubic, as
DINOv2 does) to whatever grid the input crop gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, DataConfig, Features


@dataclass(frozen=True)
class VitArch:
    patch_size: int
    embed_dim: int
    depth: int
    num_heads: int
    pretrain_grid: int  # side of the square grid the position embeddings were trained on
    mlp_ratio: float = 4.0
    layer_scale: bool = False  # DINOv2's per-channel residual scales
    pre_norm: bool = False  # CLIP's ``ln_pre`` after the embeddings
    patch_bias: bool = True
    activation: str = "gelu"  # "gelu" (erf) or "quick_gelu" (OpenAI CLIP)
    norm_eps: float = 1e-6


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, activation: str):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = QuickGELU() if activation == "quick_gelu" else nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, arch: VitArch):
        super().__init__()
        dim = arch.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=arch.norm_eps)
        self.attn = Attention(dim, arch.num_heads)
        self.ls1 = LayerScale(dim) if arch.layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=arch.norm_eps)
        self.mlp = Mlp(dim, int(dim * arch.mlp_ratio), arch.activation)
        self.ls2 = LayerScale(dim) if arch.layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


def resize_pos_embed(patch_pos: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``[1, G*G, D]`` position embeddings of a square grid -> ``[1, h*w, D]`` for ``grid``."""
    side = math.isqrt(int(patch_pos.shape[1]))  # int(): shapes are tensors while the ONNX exporter traces
    if (side, side) == tuple(grid):
        return patch_pos
    dim = patch_pos.shape[-1]
    square = patch_pos.reshape(1, side, side, dim).permute(0, 3, 1, 2)
    resized = F.interpolate(square.float(), size=grid, mode="bicubic", align_corners=False)
    return resized.to(patch_pos.dtype).permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], dim)


class VisionTransformer(Backbone):
    def __init__(self, arch: VitArch, data_config: DataConfig):
        super().__init__()
        self.arch = arch
        self.embed_dim = arch.embed_dim
        self.data_config = data_config
        self.feature_stride = arch.patch_size
        dim = arch.embed_dim
        self.patch_embed = nn.Conv2d(3, dim, arch.patch_size, arch.patch_size, bias=arch.patch_bias)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + arch.pretrain_grid**2, dim))
        self.norm_pre = nn.LayerNorm(dim, eps=arch.norm_eps) if arch.pre_norm else nn.Identity()
        self.blocks = nn.ModuleList(Block(arch) for _ in range(arch.depth))
        self.norm = nn.LayerNorm(dim, eps=arch.norm_eps)
        self._init_random()

    def _init_random(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> Features:
        self.check_input(x)
        patches = self.patch_embed(x)
        grid = (patches.shape[-2], patches.shape[-1])
        tokens = patches.flatten(2).transpose(1, 2)
        pos = torch.cat([self.pos_embed[:, :1], resize_pos_embed(self.pos_embed[:, 1:], grid)], dim=1)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1) + pos
        tokens = self.norm_pre(tokens)
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.norm(tokens)
        return Features(tokens[:, 0], tokens[:, 1:], grid)
