"""Put adapters into a backbone by replacing target modules on their parents (peft's ``inject_adapter``),
and the operations on them: freeze, merge, unmerge, unload, batched expert selection."""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator

import torch
from torch import nn

from .lora import LoraLayer, is_adaptable, is_pointwise
from .mole import MoleLayer

ADAPTER_LAYERS = (LoraLayer, MoleLayer)


def matches_target(name: str, targets: tuple[str, ...]) -> bool:
    """peft's rule: a target names a module by its own name ("_expand_conv") or by a dotted tail of
    its path ("_blocks.0._depthwise_conv"), so one adapter can reach only the first blocks."""
    return any(name == target or name.endswith("." + target) for target in targets)


def _targets(root: nn.Module, targets: tuple[str, ...], adaptable) -> list[tuple[str, nn.Module]]:
    """Unwrapped modules that match a target; already-wrapped layers are found through the wrapper."""
    found = []
    for name, module in root.named_modules():
        if isinstance(module, ADAPTER_LAYERS) or ".base_layer" in name or not matches_target(name, targets):
            continue
        if adaptable(module):
            found.append((name, module))
    return found


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def spatial_targets(root: nn.Module, targets: tuple[str, ...]) -> list[str]:
    """Layers the targets name that are spatial convolutions (adapted only with ``spatial``)."""
    return [name for name, module in _targets(root, targets, adaptable=is_adaptable) if not is_pointwise(module)]


def inject_lora(
    root: nn.Module, targets: tuple[str, ...], adapter_name: str, rank: int, alpha: float, dropout: float = 0.0,
    spatial: bool = False,
) -> list[str]:
    """Add adapter ``adapter_name`` to every target layer of ``root`` (wrapping it on first use); returns their names.

    Targets are Linear layers and 1x1 convolutions; with ``spatial`` also k x k, strided and grouped
    convolutions (a name shared by both kinds never reaches a spatial one by accident)."""
    names = []
    for name, module in root.named_modules():
        if isinstance(module, LoraLayer) and matches_target(name, targets) and (spatial or not module.spatial):
            module.add_adapter(adapter_name, rank, alpha, dropout)
            names.append(name)
    for name, module in _targets(root, targets, adaptable=is_adaptable if spatial else is_pointwise):
        wrapper = LoraLayer(module)
        wrapper.add_adapter(adapter_name, rank, alpha, dropout)
        _replace(root, name, wrapper)
        names.append(name)
    if not names:
        kinds = "Linear or Conv2d" if spatial else "Linear or 1x1 Conv2d"
        raise ValueError(f"no {kinds} named {targets} in {type(root).__name__}")
    return sorted(names)


def inject_mole(
    blocks: nn.ModuleList,
    targets: tuple[str, ...],
    last_blocks: int,
    num_experts: int,
    rank: int,
    alpha: float,
    dropout: float = 0.0,
    top_k: int | None = None,
) -> list[str]:
    """Wrap the target layers of the last ``last_blocks`` blocks with MoLE layers; returns their names."""
    if last_blocks > len(blocks):
        raise ValueError(f"last_blocks={last_blocks} but the backbone has {len(blocks)} blocks")
    names = []
    for index in range(len(blocks) - last_blocks, len(blocks)):
        for name, module in _targets(blocks[index], targets, adaptable=is_pointwise):
            _replace(blocks[index], name, MoleLayer(module, num_experts, rank, alpha, dropout, top_k))
            names.append(f"{index}.{name}")
    if not names:
        raise ValueError(f"no Linear or 1x1 Conv2d named {targets} in the last {last_blocks} blocks")
    return names


def adapter_layers(root: nn.Module) -> Iterator[nn.Module]:
    return (module for module in root.modules() if isinstance(module, ADAPTER_LAYERS))


def adapter_parameters(root: nn.Module) -> Iterator[nn.Parameter]:
    """The adapters' own parameters (never a wrapped ``base_layer``'s)."""
    for layer in adapter_layers(root):
        for name, parameter in layer.named_parameters():
            if not name.startswith("base_layer."):
                yield parameter


def freeze_except_adapters(root: nn.Module) -> None:
    """Freeze by structure: everything in ``root`` except adapter parameters."""
    root.requires_grad_(False)
    for parameter in adapter_parameters(root):
        parameter.requires_grad_(True)


def merge_lora(root: nn.Module, names: list[str] | None = None) -> None:
    for layer in adapter_layers(root):
        if isinstance(layer, LoraLayer):
            layer.merge(names)


def unmerge_lora(root: nn.Module) -> None:
    for layer in adapter_layers(root):
        if isinstance(layer, LoraLayer):
            layer.unmerge()


def unload_adapters(root: nn.Module) -> nn.Module:
    """Put every wrapped layer back on its parent, unmerged: the untouched backbone."""
    wrapped = [(name, layer) for name, layer in root.named_modules() if isinstance(layer, ADAPTER_LAYERS)]
    for name, layer in wrapped:
        if isinstance(layer, LoraLayer):
            layer.unmerge()
        _replace(root, name, layer.base_layer)
    return root


@contextmanager
def batched_adapters(root: nn.Module, names: list[str | None]):
    """Inside the block, a batch of ``len(names) * B`` runs chunk i through adapter ``names[i]`` (None: none)."""
    layers = [layer for layer in adapter_layers(root) if isinstance(layer, LoraLayer)]
    for layer in layers:
        layer.batch_adapters = list(names)
    try:
        yield
    finally:
        for layer in layers:
            layer.batch_adapters = None


@contextmanager
def active_adapter(root: nn.Module, name: str | None):
    """Inside the block only adapter ``name`` (None: no adapter) is applied."""
    layers = [layer for layer in adapter_layers(root) if isinstance(layer, LoraLayer)]
    saved = [layer.active_adapters for layer in layers]
    for layer in layers:
        layer.active_adapters = [] if name is None else [name]
    try:
        yield
    finally:
        for layer, active in zip(layers, saved, strict=True):
            layer.active_adapters = active


def mole_balance_loss(root: nn.Module) -> torch.Tensor | None:
    """Mean load-balancing loss over the MoLE layers of the last forward pass (None without MoLE)."""
    losses = [layer.last_balance_loss for layer in adapter_layers(root) if isinstance(layer, MoleLayer)]
    losses = [loss for loss in losses if loss is not None]
    return torch.stack(losses).mean() if losses else None
