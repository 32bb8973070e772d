"""Checkpoints: a directory with ``config.json`` and ``model.safetensors``.

The safetensors file holds everything that is not the backbone's pretrained
weights: adapters (every SEF expert, trained or frozen), gates and heads. The
backbone is rebuilt from the config's weight source (an installed package or
a user's file) when loading. Where the backbone has no such source (``tiny_vit``,
or ``weights="random"``) the file holds the backbone too, so a loaded detector
always gives the outputs it was saved with.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .adapters import LoraLayer, adapter_layers
from .backbones import backbone_entry
from .config import DetectorConfig
from .detector import MIXED_ADAPTER, Detector, create_detector, lora_targets

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
INCLUDES_BACKBONE = "synthspot.includes_backbone"


class CheckpointError(ValueError):
    """A checkpoint that cannot be saved or does not fit its config."""


def backbone_is_reproducible(config: DetectorConfig) -> bool:
    return config.weights != "random" and not backbone_entry(config.backbone).random_init


def save_checkpoint(detector: Detector, directory: str | Path, include_backbone: bool | None = None) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory``; see the module note for what is kept."""
    if any(isinstance(layer, LoraLayer) and layer.merged_adapters for layer in adapter_layers(detector)):
        raise CheckpointError("unmerge the LoRA adapters before saving: merged weights would be saved twice")
    if include_backbone is None:
        include_backbone = not backbone_is_reproducible(detector.config)
    pretrained = detector.pretrained_state_keys()
    tensors = {
        key: value.detach().contiguous()
        for key, value in detector.state_dict().items()
        if include_backbone or key not in pretrained
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(detector.config.to_json() + "\n")
    save_file(tensors, str(directory / WEIGHTS_FILE), metadata={INCLUDES_BACKBONE: str(int(include_backbone))})
    return directory


def read_config(directory: Path) -> DetectorConfig:
    """The checkpoint's config, after checking that both of its files are there."""
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory} has no {name}")
    return DetectorConfig.from_json((directory / CONFIG_FILE).read_text())


def load_checkpoint(directory: str | Path, weights: str | None = None) -> Detector:
    """Rebuild the detector; ``weights`` points at the backbone's file where the config's path no longer holds."""
    directory = Path(directory)
    config = read_config(directory)
    with safe_open(str(directory / WEIGHTS_FILE), framework="pt") as handle:
        includes_backbone = (handle.metadata() or {}).get(INCLUDES_BACKBONE) == "1"
    detector = create_detector(config, weights="random" if includes_backbone else weights)
    tensors = load_file(str(directory / WEIGHTS_FILE))
    expected = set(detector.state_dict())
    if not includes_backbone:
        expected -= detector.pretrained_state_keys()
    missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
    state = detector.state_dict()
    resized = [key for key in expected & set(tensors) if tensors[key].shape != state[key].shape]
    if missing or unexpected or resized:
        raise CheckpointError(
            f"checkpoint does not fit its config: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"other shapes {sorted(resized)[:5]}"
        )
    detector.load_state_dict(tensors, strict=False)
    return detector.eval()


# Heads a warm restart may add to its donor (``field: prefixes of the weights it brings``): a student
# that gains GAMMA's maps or an expert mix keeps the donor's adapter and starts these afresh.
ADDABLE_HEADS = {"gamma": ("head.",), "expert_mix": ("mix_head.",)}


def warm_start(detector: Detector, source: str | Path) -> tuple[str, ...]:
    """Start ``detector`` from the weights of checkpoint ``source``, made by the same detector
    config (its name aside), or by one that lacks heads ``detector`` adds (GAMMA, an expert mix): a
    trained model trains on under a new schedule. The optimiser's state is not in a checkpoint, so
    this is a warm restart, not a resume. Returns the config fields whose heads start afresh."""
    source = Path(source)
    donor = read_config(source)
    added = tuple(name for name in ADDABLE_HEADS
                  if _head_enabled(detector.config, name) and not _head_enabled(donor, name))
    differing = [f.name for f in fields(DetectorConfig)
                 if f.name not in ("name", *added) and getattr(donor, f.name) != getattr(detector.config, f.name)]
    if differing:
        raise CheckpointError(f"{source} was made by another detector config (it differs in {', '.join(differing)})")
    fresh = tuple(prefix for name in added for prefix in ADDABLE_HEADS[name])
    tensors = {key: value for key, value in load_file(str(source / WEIGHTS_FILE)).items() if not key.startswith(fresh)}
    trainable = set(detector.state_dict()) - detector.pretrained_state_keys()
    missing = sorted(key for key in trainable - set(tensors) if not key.startswith(fresh))
    if missing:
        raise CheckpointError(f"{source} lacks weights this detector trains: {missing[:5]}")
    detector.load_state_dict(tensors, strict=False)  # with the backbone, where the checkpoint holds one
    return added


def _head_enabled(config: DetectorConfig, name: str) -> bool:
    return config.gamma.enabled if name == "gamma" else bool(getattr(config, name))


def _lora_shape(config: DetectorConfig, adapter: str) -> tuple:
    """What must agree (lora.spatial need not: the layers each side wrapped are compared by their keys)."""
    lora = config.lora
    return lora.rank, lora.alpha, lora.dropout, lora_targets(config, adapter)


def import_expert(detector: Detector, expert: str, source: str | Path) -> None:
    """Make SEF expert ``expert`` of ``detector`` the LoRA trained in the checkpoint ``source``: an
    expert trained once serves every fusion built on it, as SEF intends. The donor is a ``mixed``
    single-LoRA checkpoint (with or without GAMMA heads: a LoRA trained under GAMMA's pixel
    supervision is how an inpaint expert learns at all) or an SEF checkpoint with that expert.
    Its linear head, where it has one, becomes the expert's own head."""
    source = Path(source)
    try:
        donor = read_config(source)
    except CheckpointError as error:
        raise CheckpointError(f"expert {expert!r}: {error}") from None
    target = detector.config
    if target.method != "sef" or expert not in target.sef.experts:
        raise CheckpointError(f"{expert!r} is not an SEF expert of this detector")
    if donor.adapter != "lora" or (donor.method == "sef" and expert not in donor.sef.experts):
        raise CheckpointError(f"expert {expert!r}: {source} has no such LoRA to give "
                              f"(method {donor.method}, adapter {donor.adapter})")
    adapter = expert if donor.method == "sef" else MIXED_ADAPTER
    differing = [field for field in ("backbone", "weights", "crop_size") if getattr(donor, field) != getattr(target, field)]
    # the LoRA itself must be the same shape in the same layers; other experts' targets may differ
    if _lora_shape(donor, adapter) != _lora_shape(target, expert):
        differing.append("lora")
    if differing:
        raise CheckpointError(f"expert {expert!r}: {source} differs from this detector in {', '.join(differing)}")
    head = f"encoder.expert_heads.{expert}." if donor.method == "sef" else "head.fc."
    renamed = {}
    for key, value in load_file(str(source / WEIGHTS_FILE)).items():
        if f".adapters.{adapter}." in key:
            renamed[key.replace(f".adapters.{adapter}.", f".adapters.{expert}.")] = value
        elif key.startswith(head):
            renamed[f"encoder.expert_heads.{expert}.{key.removeprefix(head)}"] = value
    keys = detector.state_dict().keys()
    wanted = {key for key in keys if f".adapters.{expert}." in key}
    if not donor.gamma.enabled or donor.method == "sef":
        wanted |= {key for key in keys if key.startswith(f"encoder.expert_heads.{expert}.")}
    missing, unexpected = sorted(wanted - set(renamed)), sorted(set(renamed) - wanted)
    if missing or unexpected:
        raise CheckpointError(f"expert {expert!r}: {source} does not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if donor.gamma.enabled and donor.method != "sef":  # no linear head to give: the expert's verdict starts neutral
        with torch.no_grad():
            for parameter in detector.encoder.expert_heads[expert].parameters():
                parameter.zero_()
    detector.load_state_dict(renamed, strict=False)
