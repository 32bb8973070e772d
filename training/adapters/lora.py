"""LoRA layers in the peft style: the wrapped module stays as ``base_layer``, adapters live in
module dicts keyed by name, and the output is ``base(x) + (alpha / rank) * B(A(dropout(x)))``.

A 1x1 convolution is a linear map over channels, so both kinds share one
low-rank module; on NCHW input it runs as two 1x1 convolutions, which keeps
the feature maps in the layout the backbone's own convolutions are fast on.
A spatial convolution (k x k, strided, grouped: a stem, a depthwise filter) carries a LoRA on its
weight seen as an ``[out, in/groups * k * k]`` matrix, as peft's Conv2d LoRA factors a kernel; it
runs as the layer itself with the update added to its weight, so the layer's own padding
(e.g. TensorFlow "same") and stride stay exactly as they are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call


def is_pointwise(module: nn.Module) -> bool:
    """Linear layers and plain 1x1 convolutions (stride 1, no groups): maps over channels alone."""
    if isinstance(module, nn.Linear):
        return True
    return (
        isinstance(module, nn.Conv2d)
        and tuple(module.kernel_size) == (1, 1)
        and tuple(module.stride) == (1, 1)
        and module.groups == 1
    )


def is_adaptable(module: nn.Module) -> bool:
    """What can carry a LoRA: Linear layers and every Conv2d (spatial ones through their weight)."""
    return isinstance(module, (nn.Linear, nn.Conv2d))


def layer_dims(module: nn.Module) -> tuple[int, int]:
    """(in, out) of the layer's weight as a matrix: a k x k kernel counts in/groups * k * k inputs."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if is_pointwise(module):
        return module.in_channels, module.out_channels
    return module.weight[0].numel(), module.out_channels


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
            raise TypeError(f"LoRA needs a Linear or a Conv2d, got {base_layer}")
        self.base_layer = base_layer
        self.is_conv = isinstance(base_layer, nn.Conv2d)
        self.spatial = not is_pointwise(base_layer)  # runs with the update folded into its weight
        self.in_features, self.out_features = layer_dims(base_layer)
        self.adapters = nn.ModuleDict()
        self.active_adapters: list[str] = []
        self.merged_adapters: list[str] = []
        # SEF's batched mode: the batch is len(batch_adapters) equal chunks, chunk i gets adapter i (None: base only).
        self.batch_adapters: list[str | None] | None = None

    def add_adapter(self, name: str, rank: int, alpha: float, dropout: float = 0.0) -> None:
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} already exists")
        if self.spatial and dropout > 0:
            raise ValueError(f"a LoRA on a spatial convolution has no input dropout (got {dropout} for {name!r})")
        self.adapters[name] = LowRank(self.in_features, self.out_features, rank, alpha, dropout)
        self.active_adapters.append(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spatial:
            return self._spatial_forward(x)
        result = self.base_layer(x)
        if self.batch_adapters is not None:
            chunks, results = self._batch_chunks(x), result.unflatten(0, (len(self.batch_adapters), -1))
            deltas = [
                self.adapters[name](chunk) if name in self.adapters else torch.zeros_like(r)
                for name, chunk, r in zip(self.batch_adapters, chunks, results, strict=True)
            ]
            return result + torch.cat(deltas)
        for name in self._applied():
            result = result + self.adapters[name](x)
        return result

    def _applied(self) -> list[str]:
        """Active adapters this layer holds (an expert with its own targets sits in some layers only)
        whose update is not already folded into the weight."""
        return [name for name in self.active_adapters if name in self.adapters and name not in self.merged_adapters]

    def _batch_chunks(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as ``[len(batch_adapters), B, ...]``; unflatten, not chunk: chunk's sizes are not
        symbolic, so an export would fix the batch size."""
        if self.merged_adapters:
            raise RuntimeError("batched adapters need unmerged weights")
        count = len(self.batch_adapters)
        if x.shape[0] % count:
            raise ValueError(f"batch of {x.shape[0]} does not split into {count} equal chunks")
        return x.unflatten(0, (count, -1))

    def _spatial_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layer with each applied adapter's update added to its weight (conv is linear in it)."""
        if self.batch_adapters is not None:
            return torch.cat([self._with_updates(chunk, [name] if name in self.adapters else [])
                              for name, chunk in zip(self.batch_adapters, self._batch_chunks(x), strict=True)])
        return self._with_updates(x, self._applied())

    def _with_updates(self, x: torch.Tensor, names: list[str]) -> torch.Tensor:
        if not names:
            return self.base_layer(x)
        weight = self.base_layer.weight + sum(self._delta_weight(name) for name in names)
        return functional_call(self.base_layer, {"weight": weight}, (x,))

    def _delta_weight(self, name: str) -> torch.Tensor:
        delta = self.adapters[name].delta_weight()
        if self.spatial:
            return delta.reshape(self.base_layer.weight.shape)
        return delta[:, :, None, None] if self.is_conv else delta

    @torch.no_grad()
    def merge(self, names: list[str] | None = None) -> None:
        """Fold adapters into ``base_layer.weight``; refuses updates that are not finite."""
        for name in names if names is not None else self.active_adapters:
            if name in self.merged_adapters or name not in self.adapters:  # not every expert sits in every layer
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
