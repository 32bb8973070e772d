import numpy as np
import onnx
import pytest
import torch

from engine import contract
from engine.contract import ModelMetadata, Thresholds
from engine.model import Detector
from export.onnx_export import ContractWrapper, ExportError, export_detector
from training.config import DetectorConfig, GammaConfig, SefConfig
from training.detector import create_detector


@pytest.fixture(scope="module")
def crops(real_photo):
    return contract.extract_crops(real_photo, contract.plan_crops(*real_photo.shape[:2], 32, max_crops=12))


def metadata():
    return ModelMetadata(name="export-test", version="1", crop_size=32, thresholds=Thresholds(0.7, 0.2, 0.01))


def randomised(detector):
    """Non-zero adapters and heads, so parity compares something other than zeros."""
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in detector.parameters():
            if parameter.requires_grad or parameter.ndim == 2:
                parameter.add_(torch.randn_like(parameter) * 0.05)
    return detector


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_mixed_export_matches_torch_and_loads_in_the_engine(tmp_path, crops, precision):
    detector = randomised(create_detector(DetectorConfig(backbone="tiny_vit")))
    path = tmp_path / f"m_{precision}.onnx"
    report = export_detector(detector, path, metadata(), precision, parity_crops=crops)
    assert report.crops == len(crops) and report.verdict_agreement >= 0.9
    engine_detector = Detector(path)
    assert engine_detector.metadata.precision == precision
    assert engine_detector.metadata.thresholds == Thresholds(0.7, 0.2, 0.01)
    with torch.no_grad():
        expected = ContractWrapper(detector)(torch.from_numpy(crops))[0].numpy()
    tolerance = {"fp32": 1e-4, "fp16": 0.05, "int8": 0.5}[precision]
    assert engine_detector.run(crops).logits == pytest.approx(expected, abs=tolerance)


def test_sef_gamma_export_has_every_contract_output(tmp_path, crops):
    config = DetectorConfig(backbone="tiny_vit", method="sef", sef=SefConfig(experts=("upsample", "reconstruct")),
                            gamma=GammaConfig(enabled=True, domains=("real", "upsample", "reconstruct")))
    detector = randomised(create_detector(config))
    path = tmp_path / "sef_gamma.onnx"
    export_detector(detector, path, metadata(), parity_crops=crops)
    engine_detector = Detector(path)
    assert engine_detector.metadata.expert_names == ("upsample", "reconstruct")
    outputs = engine_detector.run(crops[:3])
    assert outputs.expert_weights.shape == (3, 2)
    assert outputs.expert_weights.sum(axis=1) == pytest.approx(1.0, abs=1e-5)
    assert outputs.artifact_map.shape[:2] == (3, 1)


def test_normalisation_lives_inside_the_graph(tmp_path):
    detector = create_detector(DetectorConfig(backbone="tiny_vit"))
    path = tmp_path / "m.onnx"
    export_detector(detector, path, metadata())
    graph = onnx.load(path).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert {"Cast", "Sub", "Div", "Transpose"} <= {node.op_type for node in graph.node}


def test_export_fails_and_removes_the_file_above_tolerance(tmp_path, crops):
    detector = randomised(create_detector(DetectorConfig(backbone="tiny_vit")))
    path = tmp_path / "strict.onnx"
    with pytest.raises(ExportError, match="above the tolerance"):
        export_detector(detector, path, metadata(), "int8", parity_crops=crops, tolerance=1e-9)
    assert not path.exists()


def test_fp16_export_of_a_vit_whose_position_embeddings_are_resized(tmp_path, real_photo):
    """A crop grid other than the pretrained one puts float->float casts around the resize in the graph."""
    detector = randomised(create_detector(DetectorConfig(backbone="tiny_vit", crop_size=48)))
    crops = contract.extract_crops(real_photo, contract.plan_crops(*real_photo.shape[:2], 48, max_crops=6))
    path = tmp_path / "resized_fp16.onnx"
    report = export_detector(detector, path, metadata(), "fp16", parity_crops=crops)
    assert report.max_abs_logit_diff < 0.05
    assert Detector(path).metadata.crop_size == 48
