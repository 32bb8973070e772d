"""LoRA layers in the peft style: the wrapped module stays as ``base_layer``, adapters live in
module dicts keyed by name, and the output is ``base(x) + (alpha / rank) * B(A(dropout(x)))``.

A 1x1 convolution is a linear map over channels, so both kinds share one
low-rank module; on NCHW input it runs as two 1x1 convolutions, which keeps
the feature maps in the layout the backbone's own convolutions are fast on.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def is_adaptable(module: nn.Module) -> bool:
    """Linear layers and plain 1x1 convolutions (stride 1, no groups) can carry a LoRA."""
    if isinstance(module, nn.Linear):
        return True
    return (
        isinstance(module, nn.Conv2d)
        and module.kernel_size == (1, 1)
        and module.stride == (1, 1)
        and module.groups == 1
    )


def layer_dims(module: nn.Module) -> tuple[int, int]:
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    return module.in_channels, module.out_channels


def linear_or_pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``weight [out, in]`` applied to tokens ``[..., in]`` or to the channels of NCHW maps."""
    if x.dim() == 4:
        return F.conv2d(x, weight[:, :, None, None], bias)
    return F.linear(x, weight, bias)


class LowRank(nn.Module):
    """One low-rank update ``B(A(dropout(x))) * scaling``; ``B`` starts at zero so the update starts at zero."""

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: float, dropout: float):
        super().__init__()
        self.lora_A = nn.Linear(in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, out_features, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = alpha / rank
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        down = linear_or_pointwise(self.dropout(x), self.lora_A.weight)
        return linear_or_pointwise(down, self.lora_B.weight) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """``[out, in]`` weight that the update adds when merged."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling


class LoraLayer(nn.Module):
    def __init__(self, base_layer: nn.Module):
        super().__init__()
        if not is_adaptable(base_layer):
            raise TypeError(f"LoRA needs a Linear or a 1x1 Conv2d, got {base_layer}")
        self.base_layer = base_layer
        self.is_conv = isinstance(base_layer, nn.Conv2d)
        self.in_features, self.out_features = layer_dims(base_layer)
        self.adapters = nn.ModuleDict()
        self.active_adapters: list[str] = []
        self.merged_adapters: list[str] = []
        # SEF's batched mode: the batch is len(batch_adapters) equal chunks, chunk i gets adapter i (None: base only).
        self.batch_adapters: list[str | None] | None = None

    def add_adapter(self, name: str, rank: int, alpha: float, dropout: float = 0.0) -> None:
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} already exists")
        self.adapters[name] = LowRank(self.in_features, self.out_features, rank, alpha, dropout)
        self.active_adapters.append(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        if self.batch_adapters is not None:
            if self.merged_adapters:
                raise RuntimeError("batched adapters need unmerged weights")
            count = len(self.batch_adapters)
            if x.shape[0] % count:
                raise ValueError(f"batch of {x.shape[0]} does not split into {count} equal chunks")
            # unflatten, not chunk: chunk's sizes are not symbolic, so an export would fix the batch size
            chunks, results = x.unflatten(0, (count, -1)), result.unflatten(0, (count, -1))
            deltas = [
                torch.zeros_like(r) if name is None else self.adapters[name](chunk)
                for name, chunk, r in zip(self.batch_adapters, chunks, results, strict=True)
            ]
            return result + torch.cat(deltas)
        for name in self.active_adapters:
            if name not in self.merged_adapters:
                result = result + self.adapters[name](x)
        return result

    def _delta_weight(self, name: str) -> torch.Tensor:
        delta = self.adapters[name].delta_weight()
        return delta[:, :, None, None] if self.is_conv else delta

    @torch.no_grad()
    def merge(self, names: list[str] | None = None) -> None:
        """Fold adapters into ``base_layer.weight``; refuses updates that are not finite."""
        for name in names if names is not None else self.active_adapters:
            if name in self.merged_adapters:
                continue
            merged = self.base_layer.weight + self._delta_weight(name)
            if not torch.isfinite(merged).all():
                raise ValueError(f"adapter {name!r} would merge non-finite weights")
            self.base_layer.weight.copy_(merged)
            self.merged_adapters.append(name)

    @torch.no_grad()
    def unmerge(self) -> None:
        while self.merged_adapters:
            self.base_layer.weight.sub_(self._delta_weight(self.merged_adapters.pop()))

    def extra_repr(self) -> str:
        return f"adapters={list(self.adapters)}, active={self.active_adapters}, merged={self.merged_adapters}"
