import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from engine.contract import ContractError
from engine.model import Detector, ModelLoadError, available_providers, resolve_provider
from engine.models import NoModelError
from export.metadata import stamp
from tests.fixtures.synthetic import brightness_model, expected_logit


def test_detector_runs_and_reports_its_provider(brightness_model_path):
    detector = Detector(brightness_model_path)
    assert detector.active_provider in available_providers()
    assert detector.has_experts and detector.has_artifact_map
    crops = np.stack([np.full((32, 32, 3), v, np.uint8) for v in (0, 128, 255)])
    outputs = detector.run(crops)
    assert outputs.logits.shape == (3,)
    assert outputs.logits == pytest.approx([expected_logit(c) for c in crops], abs=1e-4)  # float32 in the graph
    assert outputs.expert_weights.shape == (3, 2)
    assert outputs.expert_weights.sum(axis=1) == pytest.approx(1.0)
    assert outputs.artifact_map.shape == (3, 1, 4, 4)


def test_auto_picks_cuda_only_when_present():
    assert resolve_provider("auto") == ("cuda" if "cuda" in available_providers() else "cpu")
    assert resolve_provider("cpu") == "cpu"
    with pytest.raises(ModelLoadError, match="not one of"):
        resolve_provider("tpu")


def test_every_load_failure_is_one_error_type_with_the_reason(brightness_model_path, tmp_path):
    """Callers catch ModelLoadError alone: a provider name from an old settings file, a file off the contract
    and a missing model are each one, whose message says why."""
    with pytest.raises(ModelLoadError, match="provider 'tpu' is not one of"):
        Detector(brightness_model_path, provider="tpu")
    off_contract = _edited(tmp_path, lambda m: m.metadata_props.__delitem__(slice(None)))
    with pytest.raises(ModelLoadError, match="does not follow SynthSpot's model contract: .*not a SynthSpot detector") as err:
        Detector(off_contract)
    assert not isinstance(err.value, ContractError)
    assert issubclass(NoModelError, ModelLoadError)  # "no model installed" is a load error with its own state


@pytest.mark.skipif("cuda" in available_providers(), reason="this check needs a machine without CUDA")
def test_forcing_missing_cuda_is_a_clear_error(brightness_model_path):
    with pytest.raises(ModelLoadError, match="CUDA provider is not available"):
        Detector(brightness_model_path, provider="cuda")


def test_wrong_crop_shape_is_refused(brightness_model_path):
    detector = Detector(brightness_model_path)
    with pytest.raises(ValueError, match="uint8"):
        detector.run(np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[N, 32, 32, 3\]"):
        detector.run(np.zeros((1, 64, 64, 3), np.uint8))


def test_missing_and_non_onnx_files(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        Detector(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"definitely not protobuf")
    with pytest.raises(ModelLoadError, match="not a loadable ONNX model") as refused:
        Detector(junk)
    # said for a person: no "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF" in what the app shows
    assert "damaged or only partly downloaded" in str(refused.value) and "ONNXRuntimeError" not in str(refused.value)


def test_other_onnx_runtime_refusals_keep_their_reason_without_the_error_code_prefix():
    from engine.model import load_failure_text

    error = RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Load model from m.onnx failed: Unsupported opset 99")
    assert load_failure_text("m.onnx", error) == \
        "m.onnx is not a loadable ONNX model: Load model from m.onnx failed: Unsupported opset 99"
    assert load_failure_text("m.onnx", RuntimeError("")) == "m.onnx is not a loadable ONNX model: RuntimeError"


def _edited(tmp_path, edit, name="edited.onnx"):
    path = brightness_model(tmp_path / "base.onnx", crop_size=32)
    model = onnx.load(path)
    edit(model)
    out = tmp_path / name
    onnx.save(model, out)
    return out


def test_model_without_metadata_is_refused(tmp_path):
    """Any ONNX file that is not SynthSpot's is told so in those words, not as a list of missing keys."""
    path = _edited(tmp_path, lambda m: m.metadata_props.__delitem__(slice(None)))
    with pytest.raises(ModelLoadError, match="an ONNX model, but not a SynthSpot detector"):
        Detector(path)
    partial = _edited(tmp_path, lambda m: m.metadata_props.__delitem__(0))  # one key gone: named
    with pytest.raises(ModelLoadError, match="metadata is missing synthspot"):
        Detector(partial)


def test_wrong_input_name_is_named(tmp_path):
    def rename(model):
        model.graph.input[0].name = "pixels"
        model.graph.node[0].input[0] = "pixels"
    with pytest.raises(ModelLoadError, match="input named 'image'.*pixels"):
        Detector(_edited(tmp_path, rename))


def test_float_input_is_refused(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["fake_logit"], axes=[1, 2, 3], keepdims=0)], "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 32, 32, 3])],
        [helper.make_tensor_value_info("fake_logit", TensorProto.FLOAT, ["N"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    from engine.contract import ModelMetadata
    stamp(model, ModelMetadata(name="f", version="1", crop_size=32))
    path = tmp_path / "float.onnx"
    onnx.save(model, path)
    with pytest.raises(ModelLoadError, match="must be uint8"):
        Detector(path)


def test_crop_size_mismatch_is_named(tmp_path):
    from engine.contract import ModelMetadata
    path = _edited(tmp_path, lambda m: stamp(m, ModelMetadata(name="x", version="1", crop_size=64)))
    with pytest.raises(ModelLoadError, match="crop size 64"):
        Detector(path)


def test_missing_logit_output_is_named(tmp_path):
    def rename(model):
        model.graph.output[0].name = "score"
        model.graph.node[-1].output[0] = "score"
    with pytest.raises(ModelLoadError, match="no 'fake_logit' output.*score"):
        Detector(_edited(tmp_path, rename))


def test_expert_count_must_match_names(tmp_path):
    from engine.contract import ModelMetadata
    path = brightness_model(tmp_path / "e.onnx", crop_size=32, experts=("a", "b"))
    model = onnx.load(path)
    stamp(model, ModelMetadata(name="x", version="1", crop_size=32, expert_names=("a", "b", "c")))
    onnx.save(model, path)
    with pytest.raises(ModelLoadError, match="2 experts but metadata names 3"):
        Detector(path)
