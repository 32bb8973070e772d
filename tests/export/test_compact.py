import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from export.compact import share_weights


def _graph_with_copies():
    """x @ W for four weights: a base, a low-rank change of it (an expert's folded LoRA), an exact copy
    (a layer no LoRA touches) and an unrelated one."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((96, 80)).astype(np.float32)
    lora = (rng.standard_normal((96, 2)) @ rng.standard_normal((2, 80))).astype(np.float32)
    weights = {"base": base, "expert": base + lora, "copy": base.copy(),
               "other": rng.standard_normal((96, 80)).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["x", name], [f"y_{name}"]) for name in weights]
    nodes += [helper.make_node("Concat", [f"y_{name}" for name in weights], ["y"], axis=1)]
    graph = helper.make_graph(nodes, "copies", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 96])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 320])],
                              [numpy_helper.from_array(value, name) for name, value in weights.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _run(model, x):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]


def test_copies_are_stored_once_and_the_outputs_do_not_change():
    model = _graph_with_copies()
    x = np.random.default_rng(1).standard_normal((5, 96)).astype(np.float32)
    expected = _run(model, x)
    report = share_weights(model)
    onnx.checker.check_model(model)
    assert (report.duplicates, report.low_rank) == (1, 1)
    full = {tensor.name for tensor in model.graph.initializer if list(tensor.dims) == [96, 80]}
    assert full == {"base", "other"}  # the unrelated weight is not forced into a low-rank form
    assert {"expert::u", "expert::v"} <= {tensor.name for tensor in model.graph.initializer}
    assert report.bytes_after < 0.6 * report.bytes_before
    np.testing.assert_allclose(_run(model, x), expected, rtol=1e-5, atol=1e-4)


def test_a_weight_that_is_not_a_low_rank_change_is_left_whole():
    model = _graph_with_copies()
    for tensor in model.graph.initializer:
        if tensor.name == "expert":  # now the base plus a full-rank change
            noise = np.random.default_rng(2).standard_normal((96, 80)).astype(np.float32)
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) + noise, "expert"))
    report = share_weights(model)
    assert (report.duplicates, report.low_rank) == (1, 0)
    assert "expert" in {tensor.name for tensor in model.graph.initializer}
