"""A two-block random ViT: the same code path as the real ones, small enough for tests."""

from __future__ import annotations

from .base import IMAGENET_MEAN, IMAGENET_STD, DataConfig
from .vit import VisionTransformer, VitArch

TINY_VIT = VitArch(patch_size=8, embed_dim=32, depth=2, num_heads=2, pretrain_grid=4, layer_scale=True)


def create_tiny_vit(weights: str | None = None) -> VisionTransformer:
    if weights not in (None, "random"):
        raise ValueError("tiny_vit has no weights: it is randomly initialised (seed torch for repeatability)")
    return VisionTransformer(TINY_VIT, DataConfig(IMAGENET_MEAN, IMAGENET_STD, input_size=32, size_multiple=8))
