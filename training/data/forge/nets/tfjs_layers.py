"""A TensorFlow.js layers-model (model.json + weight shards) run as a PyTorch module.

UpscalerJS ships its super-resolution networks in this format: a Keras functional graph and
float32 weights (some stored float16 or uint8-quantised). TensorFlow is not a dependency here, so the graph is rebuilt from its JSON with
the few layer kinds these networks use; anything else is refused by name rather than guessed.
Tensors are NCHW inside; Keras' channels-last axes and kernel layouts are translated on load."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

SUPPORTED = ("InputLayer", "Conv2D", "Activation", "Concatenate", "Add", "UpSampling2D", "MultiplyBeta", "PixelShuffle")
_STORED = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "uint8": np.dtype("u1"), "uint16": np.dtype("<u2")}
_ACTIVATIONS = {"linear": lambda x: x, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class UnsupportedModel(ValueError):
    """The model.json uses something this reader does not implement."""


def depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """TensorFlow's depth_to_space on NCHW: input channel (dy*block + dx)*C + c goes to (c, dy, dx).

    torch's pixel_shuffle orders channels c*block*block + dy*block + dx instead, so it would
    scramble these weights' output."""
    n, channels, h, w = x.shape
    c = channels // (block * block)
    return x.view(n, block, block, c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c, h * block, w * block)


def _read_weights(folder: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        blob = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"], dtype=np.int64))
            stored = _STORED.get((entry.get("quantization") or {}).get("dtype", entry.get("dtype")))
            if entry.get("dtype") != "float32" or stored is None:
                raise UnsupportedModel(f"weight {entry['name']}: {entry.get('dtype')} stored as {stored}; only float32 (plain, float16 or uint8/16-quantised) is supported")
            end = offset + stored.itemsize * count
            if end > len(blob):
                raise UnsupportedModel(f"weight {entry['name']}: the shards hold {len(blob)} bytes, {end} needed")
            values = np.frombuffer(blob, stored, count, offset).astype(np.float32)
            quantization = entry.get("quantization") or {}
            if stored.kind == "u":  # affine: the converter stores round((w - min) / scale)
                values = values * np.float32(quantization["scale"]) + np.float32(quantization["min"])
            weights[entry["name"]] = values.reshape(entry["shape"])
            offset = end
        if offset != len(blob):
            raise UnsupportedModel(f"the shards hold {len(blob) - offset} bytes more than the manifest's weights")
    return weights


def _layer_kind(layer: dict) -> str:
    kind = layer["class_name"]
    return "PixelShuffle" if kind.startswith("PixelShuffle") and kind.endswith("x") else kind


def _conv(config: dict, kernel: np.ndarray, bias: np.ndarray | None) -> nn.Conv2d:
    kh, kw, cin, cout = kernel.shape
    if tuple(config.get("strides", (1, 1))) != (1, 1) or tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or config.get("groups", 1) not in (1, None):
        raise UnsupportedModel(f"Conv2D {config['name']}: only stride 1, dilation 1, groups 1 are supported")
    if config.get("padding") == "same" and (kh % 2 == 0 or kw % 2 == 0):
        raise UnsupportedModel(f"Conv2D {config['name']}: 'same' padding with an even kernel is asymmetric in Keras")
    padding = (kh // 2, kw // 2) if config.get("padding") == "same" else 0
    conv = nn.Conv2d(cin, cout, (kh, kw), padding=padding, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
        if bias is not None:
            conv.bias.copy_(torch.from_numpy(bias.copy()))
    return conv


class TfjsLayersModel(nn.Module):
    """The graph of one model.json, evaluated in its layers' order (Keras lists them topologically).

    `input_scale` is what the network expects for a [0, 1] pixel (255 for models trained on 0-255);
    forward takes and returns [0, 1]."""

    def __init__(self, model_json: Path, input_scale: float = 1.0):
        super().__init__()
        model_json = Path(model_json)
        spec = json.loads(model_json.read_text())
        if spec.get("format") != "layers-model":
            raise UnsupportedModel(f"{model_json}: format {spec.get('format')!r}, expected 'layers-model'")
        graph = spec["modelTopology"]["model_config"]["config"]
        self.input_scale = float(input_scale)
        weights = _read_weights(model_json.parent, spec["weightsManifest"])
        self._plan: list[tuple[str, str, dict, list[str]]] = []  # (kind, name, config, inputs)
        self.convs = nn.ModuleDict()
        used: set[str] = set()
        defined: set[str] = set()
        for layer in graph["layers"]:
            kind, name, config = _layer_kind(layer), layer["name"], layer["config"]
            if kind not in SUPPORTED:
                raise UnsupportedModel(f"{model_json.name}: layer {name} is a {layer['class_name']}; supported: {', '.join(SUPPORTED)}")
            nodes = layer.get("inbound_nodes") or []
            if len(nodes) > 1:
                raise UnsupportedModel(f"layer {name} is applied {len(nodes)} times; shared layers are not supported")
            inputs = [source[0] for source in nodes[0]] if nodes else []
            undefined = [source for source in inputs if source not in defined]
            if undefined:
                raise UnsupportedModel(f"layer {name} reads {', '.join(undefined)} before it is defined (layers out of order)")
            defined.add(name)
            if config.get("data_format", "channels_last") != "channels_last":
                raise UnsupportedModel(f"layer {name}: data_format {config['data_format']!r}; only channels_last is supported")
            if kind == "Conv2D":
                kernel_name, bias_name = f"{name}/kernel", f"{name}/bias"
                if kernel_name not in weights:
                    raise UnsupportedModel(f"Conv2D {name}: no weight {kernel_name} in the shards")
                if config.get("use_bias", True) and bias_name not in weights:
                    raise UnsupportedModel(f"Conv2D {name}: uses a bias, but the shards hold no {bias_name}")
                bias = weights[bias_name] if config.get("use_bias", True) else None
                if config.get("activation", "linear") not in _ACTIVATIONS:
                    raise UnsupportedModel(f"Conv2D {name}: activation {config.get('activation')!r} is not supported")
                self.convs[name] = _conv(config, weights[kernel_name], bias)
                used.update({kernel_name, bias_name} if bias is not None else {kernel_name})
            elif kind == "Activation" and config.get("activation") not in _ACTIVATIONS:
                raise UnsupportedModel(f"Activation {name}: {config.get('activation')!r} is not supported")
            elif kind == "Concatenate" and config.get("axis", -1) not in (-1, 3):
                raise UnsupportedModel(f"Concatenate {name}: only the channel axis is supported")
            elif kind == "UpSampling2D" and config.get("interpolation", "nearest") != "nearest":
                raise UnsupportedModel(f"UpSampling2D {name}: only nearest is supported")
            self._plan.append((kind, name, config, inputs))
        unused = sorted(set(weights) - used)
        if unused:
            raise UnsupportedModel(f"{model_json.name}: weights no layer uses: {', '.join(unused[:5])}")
        self._inputs = [entry[0] for entry in graph["input_layers"]]
        self._outputs = [entry[0] for entry in graph["output_layers"]]
        if len(self._inputs) != 1 or len(self._outputs) != 1:
            raise UnsupportedModel(f"{model_json.name}: one input and one output are supported")
        # free each intermediate after its last reader: dense blocks would otherwise hold them all
        last_read: dict[str, int] = {}
        for step, (_, _, _, inputs) in enumerate(self._plan):
            last_read.update({source: step for source in inputs})
        self._release = [[s for s in dict.fromkeys(inputs) if last_read[s] == step and s != self._outputs[0]]
                         for step, (_, _, _, inputs) in enumerate(self._plan)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {self._inputs[0]: x * self.input_scale}
        for (kind, name, config, inputs), release in zip(self._plan, self._release, strict=True):
            if kind == "InputLayer":
                continue
            args = [values[source] for source in inputs]
            if kind == "Conv2D":
                out = _ACTIVATIONS[config.get("activation", "linear")](self.convs[name](args[0]))
            elif kind == "Activation":
                out = _ACTIVATIONS[config["activation"]](args[0])
            elif kind == "Concatenate":
                out = torch.cat(args, dim=1)
            elif kind == "Add":
                out = sum(args[1:], args[0])
            elif kind == "UpSampling2D":
                out = F.interpolate(args[0], scale_factor=tuple(config["size"]), mode="nearest")
            elif kind == "MultiplyBeta":
                out = args[0] * float(config.get("beta", 0.2))
            else:  # PixelShuffle<k>x: UpscalerJS' custom layer is tf.depthToSpace
                out = depth_to_space(args[0], int(config["scale"]))
            values[name] = out
            for source in release:
                del values[source]
        return values[self._outputs[0]] / self.input_scale
