"""LoRA and MoLE adapters, injected into backbones by replacing their target layers."""

from .inject import (
    active_adapter,
    adapter_layers,
    adapter_parameters,
    batched_adapters,
    freeze_except_adapters,
    inject_lora,
    inject_mole,
    merge_lora,
    mole_balance_loss,
    spatial_targets,
    unload_adapters,
    unmerge_lora,
)
from .lora import LoraLayer, LowRank
from .mole import MoleLayer, balance_loss, route

__all__ = [
    "LoraLayer",
    "LowRank",
    "MoleLayer",
    "active_adapter",
    "adapter_layers",
    "adapter_parameters",
    "balance_loss",
    "batched_adapters",
    "freeze_except_adapters",
    "inject_lora",
    "inject_mole",
    "merge_lora",
    "mole_balance_loss",
    "route",
    "spatial_targets",
    "unload_adapters",
    "unmerge_lora",
]
