"""Backbone registry: ``create_backbone(name, weights=...)``; nothing is downloaded.

``weights`` is None for the weights that ship in an installed package (an
error where none do, e.g. CLIP), a file path, or ``"random"`` for random
initialisation (tests, benchmarks, shape-only models).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from collections.abc import Callable

from .base import Backbone, DataConfig, Features
from .clip import ClipWeightsError, create_clip
from .dinov2 import create_dinov2_vits14
from .efficientnet import create_efficientnet_lite
from .tiny import create_tiny_vit

VIT_LORA_TARGETS = ("qkv", "proj", "fc1", "fc2")
VIT_MLP_TARGETS = ("fc1", "fc2")
# 1x1 convolutions of the MBConv blocks: expansion and projection (the CNN's "MLP").
CNN_LORA_TARGETS = ("_expand_conv", "_project_conv")


@dataclass(frozen=True)
class BackboneEntry:
    build: Callable[..., Backbone]
    lora_targets: tuple[str, ...]
    mlp_targets: tuple[str, ...]  # where MoLE goes
    packaged_weights: bool  # weights=None loads them from an installed package
    random_init: bool = False  # no weights exist: checkpoints must carry the backbone


_REGISTRY: dict[str, BackboneEntry] = {
    "tiny_vit": BackboneEntry(create_tiny_vit, VIT_LORA_TARGETS, VIT_MLP_TARGETS, False, random_init=True),
    "dinov2_vits14": BackboneEntry(create_dinov2_vits14, VIT_LORA_TARGETS, VIT_MLP_TARGETS, True),
    "clip_vit_b16": BackboneEntry(partial(create_clip, "clip_vit_b16"), VIT_LORA_TARGETS, VIT_MLP_TARGETS, False),
    "clip_vit_l14": BackboneEntry(partial(create_clip, "clip_vit_l14"), VIT_LORA_TARGETS, VIT_MLP_TARGETS, False),
    **{
        f"efficientnet_lite{variant}": BackboneEntry(
            partial(create_efficientnet_lite, variant), CNN_LORA_TARGETS, CNN_LORA_TARGETS, True
        )
        for variant in (0, 1, 2)
    },
}


def list_backbones() -> list[str]:
    return sorted(_REGISTRY)


def backbone_entry(name: str) -> BackboneEntry:
    if name not in _REGISTRY:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(list_backbones())}")
    return _REGISTRY[name]


def create_backbone(name: str, weights: str | None = None, **kwargs) -> Backbone:
    """Build a registered backbone; unset keyword arguments keep the entry's defaults."""
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    return backbone_entry(name).build(weights=weights, **kwargs)


__all__ = [
    "Backbone",
    "BackboneEntry",
    "ClipWeightsError",
    "DataConfig",
    "Features",
    "backbone_entry",
    "create_backbone",
    "list_backbones",
]
