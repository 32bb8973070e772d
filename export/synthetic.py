"""Small contract models built with the ONNX helper API, for tests and benchmarks.

They follow the model contract exactly but detect nothing: the "brightness"
model's logit is ``gain * (mean pixel / 255 - 0.5)``, so a test can predict
every score from the pixels it feeds in. Never ship one as a detector.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.contract import (
    INPUT_IMAGE, OUTPUT_ARTIFACT_MAP, OUTPUT_EXPERT_WEIGHTS, OUTPUT_LOGIT, ModelMetadata, Thresholds,
)
from export.metadata import stamp

OPSET = 18  # ReduceMean takes axes as an input from 18 on


def brightness_model(
    path: str | Path,
    crop_size: int = 32,
    gain: float = 8.0,
    experts: tuple[str, ...] = (),
    artifact_map_cells: int = 0,
    aggregation: str = "mean",
    thresholds: Thresholds = Thresholds(likely_ai=0.8, likely_real=0.3, fpr=0.01),
    max_crops: int = 8,
    name: str = "test-brightness",
    version: str = "1",
    extra_conv_layers: int = 0,
    conv_channels: int = 32,
    fixed_crop_size: bool = True,
) -> Path:
    """Write a contract model whose outputs are simple functions of pixel brightness.

    * ``fake_logit = gain * (mean(x) / 255 - 0.5)``
    * ``expert_weights`` (when ``experts``): softmax over the mean of the first
      E channels (R, G, B repeated), so a red crop leans on expert 1.
    * ``artifact_map`` (when ``artifact_map_cells``): per-cell brightness logits
      on a cells x cells grid.
    * ``extra_conv_layers``: a side branch of 3x3 convolutions whose result is
      multiplied by zero, to give benchmarks a model with real compute.
    """
    size = crop_size if fixed_crop_size else "S"
    nodes = [
        helper.make_node("Cast", [INPUT_IMAGE], ["x_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x_float", "inv255"], ["x_unit"]),
        helper.make_node("Transpose", ["x_unit"], ["x_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("ReduceMean", ["x_nchw", "axes_chw"], ["mean_all"], keepdims=0),
        helper.make_node("Sub", ["mean_all", "half"], ["centered"]),
        helper.make_node("Mul", ["centered", "gain"], ["logit_raw"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array(1.0 / 255.0, np.float32), "inv255"),
        numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes_chw"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(gain, np.float32), "gain"),
    ]
    if extra_conv_layers:
        rng = np.random.default_rng(0)
        previous, channels = "x_nchw", 3
        for index in range(extra_conv_layers):
            weight = rng.normal(0, 0.1, (conv_channels, channels, 3, 3)).astype(np.float32)
            initializers.append(numpy_helper.from_array(weight, f"conv{index}_w"))
            nodes.append(helper.make_node("Conv", [previous, f"conv{index}_w"], [f"conv{index}"], pads=[1, 1, 1, 1],
                                          strides=[2, 2] if index == 0 else [1, 1]))
            nodes.append(helper.make_node("Relu", [f"conv{index}"], [f"relu{index}"]))
            previous, channels = f"relu{index}", conv_channels
        initializers.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
        nodes += [
            helper.make_node("ReduceMean", [previous, "axes_chw"], ["branch_mean"], keepdims=0),
            helper.make_node("Mul", ["branch_mean", "zero"], ["branch_zero"]),
            helper.make_node("Add", ["logit_raw", "branch_zero"], [OUTPUT_LOGIT]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["logit_raw"], [OUTPUT_LOGIT]))
    outputs = [helper.make_tensor_value_info(OUTPUT_LOGIT, TensorProto.FLOAT, ["N"])]

    if experts:
        channel_index = np.array([i % 3 for i in range(len(experts))], np.int64)
        initializers += [
            numpy_helper.from_array(np.array([2, 3], np.int64), "axes_hw"),
            numpy_helper.from_array(channel_index, "expert_channels"),
            numpy_helper.from_array(np.array(gain, np.float32), "expert_gain"),
        ]
        nodes += [
            helper.make_node("ReduceMean", ["x_nchw", "axes_hw"], ["channel_means"], keepdims=0),
            helper.make_node("Gather", ["channel_means", "expert_channels"], ["expert_means"], axis=1),
            helper.make_node("Mul", ["expert_means", "expert_gain"], ["expert_scores"]),
            helper.make_node("Softmax", ["expert_scores"], [OUTPUT_EXPERT_WEIGHTS], axis=1),
        ]
        outputs.append(helper.make_tensor_value_info(OUTPUT_EXPERT_WEIGHTS, TensorProto.FLOAT, ["N", len(experts)]))

    if artifact_map_cells:
        if crop_size % artifact_map_cells:
            raise ValueError("crop_size must be a multiple of artifact_map_cells")
        pool = crop_size // artifact_map_cells
        initializers.append(numpy_helper.from_array(np.array([1], np.int64), "axis_c"))
        nodes += [
            helper.make_node("ReduceMean", ["x_nchw", "axis_c"], ["grey"], keepdims=1),
            helper.make_node("AveragePool", ["grey"], ["cells"], kernel_shape=[pool, pool], strides=[pool, pool]),
            helper.make_node("Sub", ["cells", "half"], ["cells_centered"]),
            helper.make_node("Mul", ["cells_centered", "gain"], [OUTPUT_ARTIFACT_MAP]),
        ]
        outputs.append(helper.make_tensor_value_info(
            OUTPUT_ARTIFACT_MAP, TensorProto.FLOAT, ["N", 1, artifact_map_cells, artifact_map_cells]))

    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(INPUT_IMAGE, TensorProto.UINT8, ["N", size, size, 3])],
        outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="synthspot-tests")
    model.ir_version = 9
    metadata = ModelMetadata(name=name, version=version, crop_size=crop_size, aggregation=aggregation,
                             thresholds=thresholds, expert_names=tuple(experts), max_crops=max_crops,
                             training={"note": "synthetic brightness model for tests; detects nothing"})
    stamp(model, metadata)
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, path)
    return path


def expected_logit(crop: np.ndarray, gain: float = 8.0) -> float:
    """What :func:`brightness_model` returns for one uint8 crop."""
    return gain * (float(crop.astype(np.float64).mean()) / 255.0 - 0.5)
