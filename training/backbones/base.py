"""The face every backbone shows: features, blocks, width and its input normalisation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class DataConfig:
    """Preprocessing that travels with the weights.

    ``mean`` and ``std`` are on the 0..1 scale: a backbone takes
    ``(pixels / 255 - mean) / std`` in NCHW float32. Inputs may be any size
    that is a multiple of ``size_multiple`` (the patch size for a ViT), so
    native-resolution crops need no resizing; ``input_size`` is the size the
    weights were trained at and the default crop.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    size_multiple: int

    def normalize(self, pixels01: torch.Tensor) -> torch.Tensor:
        """NCHW float in 0..1 -> the backbone's input."""
        mean = pixels01.new_tensor(self.mean).view(1, 3, 1, 1)
        std = pixels01.new_tensor(self.std).view(1, 3, 1, 1)
        return (pixels01 - mean) / std

    def to_dict(self) -> dict:
        return asdict(self)


class Features(NamedTuple):
    """``cls_token [B, D]``; ``patch_tokens [B, h*w, D]`` in row-major grid order; ``grid (h, w)``;
    ``fine [B, C, H/8, W/8]``: an earlier feature map at stride 8, where the backbone has one
    (convolutional backbones), for decoders that draw maps finer than the grid."""

    cls_token: torch.Tensor
    patch_tokens: torch.Tensor
    grid: tuple[int, int]
    fine: torch.Tensor | None = None


class Backbone(nn.Module):
    """Base class: subclasses set ``embed_dim``, ``data_config`` and ``blocks`` and define ``forward_features``.

    A backbone in a detector is frozen; ``train()`` keeps its own layers in eval mode, so its
    normalisation statistics stay fixed (see ``freeze_statistics``); adapters inside it follow the mode.
    """

    embed_dim: int
    data_config: DataConfig
    blocks: nn.ModuleList
    feature_stride: int  # input pixels per grid cell
    fine_channels: int = 0  # channels of ``Features.fine`` (0: the backbone gives none)

    def train(self, mode: bool = True) -> Backbone:
        freeze_statistics(self, mode)
        self.training = mode
        return self

    def forward_features(self, x: torch.Tensor) -> Features:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> Features:
        return self.forward_features(x)

    def check_input(self, x: torch.Tensor) -> None:
        multiple = self.data_config.size_multiple
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected NCHW RGB input, got shape {tuple(x.shape)}")
        if x.shape[-2] % multiple or x.shape[-1] % multiple:
            raise ValueError(f"input {tuple(x.shape[-2:])} is not a multiple of {multiple}")


def freeze_statistics(backbone: nn.Module, mode: bool = True) -> None:
    """The one rule for a frozen backbone's modes: its own layers stay in eval mode whatever ``mode``
    (batch-norm keeps its pretrained running statistics, its own dropout stays off), while the adapters
    injected into it (LoRA, MoLE: ``LowRank`` modules) follow ``mode``."""
    from training.adapters.lora import LowRank  # adapters import nothing from backbones

    for module in backbone.modules():
        module.training = False
    for module in backbone.modules():
        if isinstance(module, LowRank):
            module.train(mode)
