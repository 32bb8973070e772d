"""OpenAI CLIP image towers (ViT-B/16, ViT-L/14) from a checkpoint file the user supplies.

Accepted files: OpenAI's released ``.pt`` (a TorchScript archive or a plain
state dict) and open_clip checkpoints (``open_clip_pytorch_model.bin``, or a
training checkpoint with ``state_dict`` and ``module.`` prefixes). Only the
``visual.`` tower is read. Features are ``ln_post`` applied to every token; the
``visual.proj`` projection into the text space is not used.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Mapping

import torch

from .base import CLIP_MEAN, CLIP_STD, DataConfig
from .vit import VisionTransformer, VitArch


def clip_arch(patch_size: int, width: int, layers: int, heads: int, image_size: int, quick_gelu: bool = True):
    return VitArch(
        patch_size=patch_size,
        embed_dim=width,
        depth=layers,
        num_heads=heads,
        pretrain_grid=image_size // patch_size,
        pre_norm=True,
        patch_bias=False,
        activation="quick_gelu" if quick_gelu else "gelu",
        norm_eps=1e-5,
    )


CLIP_ARCHS = {
    "clip_vit_b16": dict(patch_size=16, width=768, layers=12, heads=12, image_size=224),
    "clip_vit_l14": dict(patch_size=14, width=1024, layers=24, heads=16, image_size=224),
}

_BLOCK_RENAMES = {
    "ln_1": "norm1",
    "attn.in_proj": "attn.qkv",
    "attn.out_proj": "attn.proj",
    "ln_2": "norm2",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
}


class ClipWeightsError(ValueError):
    """The checkpoint is missing, unreadable or not the named CLIP image tower."""


def clip_state_dict_from_checkpoint(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Pure mapping: an OpenAI or open_clip state dict -> a ``VisionTransformer`` state dict."""
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    visual = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("visual."):
            visual[key.removeprefix("visual.")] = value
    if not visual:
        raise ClipWeightsError("no 'visual.' keys: this is not an OpenAI or open_clip CLIP checkpoint")
    out = {}
    for key, value in visual.items():
        if key == "conv1.weight":
            out["patch_embed.weight"] = value
        elif key == "class_embedding":
            out["cls_token"] = value.reshape(1, 1, -1)
        elif key == "positional_embedding":
            out["pos_embed"] = value.unsqueeze(0)
        elif key.startswith(("ln_pre.", "ln_post.")):
            out[key.replace("ln_pre.", "norm_pre.").replace("ln_post.", "norm.")] = value
        elif key.startswith("transformer.resblocks."):
            index, rest = key.removeprefix("transformer.resblocks.").split(".", 1)
            for src, dst in _BLOCK_RENAMES.items():
                if rest.startswith(src):
                    # in_proj_weight -> qkv.weight; c_fc.weight -> fc1.weight
                    kind = rest.removeprefix(src).lstrip("._")
                    out[f"blocks.{index}.{dst}.{kind}"] = value
                    break
            else:
                raise ClipWeightsError(f"unexpected CLIP block key 'visual.{key}'")
        elif key == "proj":
            continue
        else:
            raise ClipWeightsError(f"unexpected CLIP key 'visual.{key}'")
    return {name: tensor.float() for name, tensor in out.items()}


def read_checkpoint(path: Path) -> Mapping[str, torch.Tensor]:
    if not path.is_file():
        raise ClipWeightsError(f"CLIP checkpoint not found: {path} (pass --weights PATH to an OpenAI or open_clip file)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as plain_error:  # OpenAI's released files are TorchScript archives
        try:
            return torch.jit.load(str(path), map_location="cpu").state_dict()
        except Exception:
            raise ClipWeightsError(f"cannot read {path} as a CLIP checkpoint: {plain_error}") from plain_error


def load_clip_weights(model: VisionTransformer, state: Mapping[str, torch.Tensor], name: str) -> None:
    mapped = clip_state_dict_from_checkpoint(state)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(mapped))
    unexpected = sorted(set(mapped) - set(expected))
    wrong = [
        f"{key} {tuple(mapped[key].shape)} != {tuple(expected[key].shape)}"
        for key in expected
        if key in mapped and mapped[key].shape != expected[key].shape
    ]
    if missing or unexpected or wrong:
        detail = "; ".join(
            part
            for part in (
                f"missing {missing[:4]}" if missing else "",
                f"unexpected {unexpected[:4]}" if unexpected else "",
                f"shape {wrong[:4]}" if wrong else "",
            )
            if part
        )
        raise ClipWeightsError(f"checkpoint does not match {name}: {detail}")
    model.load_state_dict(mapped, assign=True)


def create_clip(name: str, weights: str | Path | None, quick_gelu: bool = True, **arch_overrides) -> VisionTransformer:
    """``weights``: a checkpoint path (required) or ``"random"``. ``quick_gelu=False`` for open_clip models
    trained with plain GELU (OpenAI's own weights use QuickGELU)."""
    arch = clip_arch(**{**CLIP_ARCHS.get(name, {}), **arch_overrides}, quick_gelu=quick_gelu)
    data_config = DataConfig(CLIP_MEAN, CLIP_STD, arch.pretrain_grid * arch.patch_size, arch.patch_size)
    if weights == "random":
        return VisionTransformer(arch, data_config)
    if weights is None:
        raise ClipWeightsError(f"{name} has no bundled weights: pass --weights PATH to an OpenAI or open_clip checkpoint")
    state = read_checkpoint(Path(weights))
    with torch.device("meta"):  # shapes only: every tensor comes from the checkpoint
        model = VisionTransformer(arch, data_config)
    load_clip_weights(model, state, name)
    return model
