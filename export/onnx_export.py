"""A trained detector -> one contract ``.onnx`` file (fp32, fp16 or int8), checked against torch.

The exported graph takes ``uint8 [N, S, S, 3]`` RGB crops; the cast, the
normalisation and the NHWC->NCHW transpose live inside it, so the engine feeds
decoded pixels as they are.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from engine import contract
from engine.contract import ModelMetadata
from export.metadata import stamp

log = logging.getLogger(__name__)

OPSET = 17
# Largest |logit| difference from torch that export accepts, per precision.
PARITY_TOLERANCE = {"fp32": 1e-3, "fp16": 0.05, "int8": 0.5}


class ExportError(RuntimeError):
    pass


class ContractWrapper(nn.Module):
    """uint8 NHWC crops -> the detector's outputs under the contract's names."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        spec = detector.input_spec
        self.detector = detector
        self.output_names = [contract.OUTPUT_LOGIT]
        if spec.expert_names:
            self.output_names.append(contract.OUTPUT_EXPERT_WEIGHTS)
        if spec.has_artifact_map:
            self.output_names.append(contract.OUTPUT_ARTIFACT_MAP)
        self.register_buffer("mean255", torch.tensor(spec.mean).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std255", torch.tensor(spec.std).view(1, 3, 1, 1) * 255.0)

    def forward(self, image: torch.Tensor):
        x = image.permute(0, 3, 1, 2).to(torch.float32)
        out = self.detector((x - self.mean255) / self.std255)
        values = {contract.OUTPUT_LOGIT: out.logit.reshape(-1),
                  contract.OUTPUT_EXPERT_WEIGHTS: out.expert_weights,
                  contract.OUTPUT_ARTIFACT_MAP: out.artifact_map}
        return tuple(values[name] for name in self.output_names)


@dataclass
class ParityReport:
    precision: str
    crops: int
    max_abs_logit_diff: float
    verdict_agreement: float  # share of crops on the same side of 0.5

    def __str__(self) -> str:
        return (f"parity {self.precision}: {self.crops} crops, max |logit diff| {self.max_abs_logit_diff:.2e}, "
                f"verdict agreement {self.verdict_agreement:.1%}")


def export_detector(detector: nn.Module, path: str | Path, metadata: ModelMetadata, precision: str = "fp32",
                    parity_crops: np.ndarray | None = None, tolerance: float | None = None) -> ParityReport | None:
    """Export ``detector`` to ``path`` at ``precision`` with ``metadata`` stamped; verify it against torch.

    ``parity_crops`` (uint8 [N, S, S, 3], real image crops) are run through both
    torch and ONNX Runtime; export fails when the logits differ by more than
    ``tolerance`` (default per precision). Returns the parity report.
    """
    if precision not in contract.PRECISIONS:
        raise ExportError(f"precision {precision!r} is not one of {contract.PRECISIONS}")
    detector = detector.eval()
    wrapper = ContractWrapper(detector).eval()
    exported = ContractWrapper(_merged_copy(detector)).eval()
    size = detector.input_spec.crop_size
    metadata = replace(metadata, crop_size=size, precision=precision,
                       expert_names=tuple(detector.input_spec.expert_names))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        fp32_path = Path(scratch) / "fp32.onnx"
        _export_fp32(exported, fp32_path, size)
        model = onnx.load(fp32_path)
        if precision == "fp16":
            model = _to_fp16(model)
        elif precision == "int8":
            model = _to_int8(fp32_path, Path(scratch) / "int8.onnx")
        stamp(model, metadata)
        onnx.checker.check_model(model)
        onnx.save(model, path)
    if parity_crops is None:
        return None
    report = check_parity(wrapper, path, parity_crops, precision)
    limit = PARITY_TOLERANCE[precision] if tolerance is None else tolerance
    log.info("%s", report)
    if report.max_abs_logit_diff > limit:
        path.unlink(missing_ok=True)
        raise ExportError(f"{report}; above the tolerance {limit} — the export was removed")
    return report


def _merged_copy(detector: nn.Module) -> nn.Module:
    """A copy with single-adapter LoRA folded into the base weights: the export then costs what the
    bare backbone costs. SEF's per-expert adapters and MoLE's routed ones cannot be folded."""
    from training.adapters import merge_lora

    if detector.config.method != "mixed" or detector.config.adapter != "lora":
        return detector
    merged = copy.deepcopy(detector)
    merge_lora(merged.backbone)
    return merged


def _export_fp32(wrapper: ContractWrapper, path: Path, size: int) -> None:
    example = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    dynamic = {contract.INPUT_IMAGE: {0: "N"}, **{name: {0: "N"} for name in wrapper.output_names}}
    with torch.no_grad():
        torch.onnx.export(wrapper, (example,), str(path), input_names=[contract.INPUT_IMAGE],
                          output_names=wrapper.output_names, dynamic_axes=dynamic, opset_version=OPSET,
                          dynamo=False, do_constant_folding=True)


def _to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxconverter_common import float16

    _detach_consumed_outputs(model)
    _drop_float_to_float_casts(model)
    # keep_io_types: the contract's inputs stay uint8 and outputs float32 at any precision.
    model = float16.convert_float_to_float16(model, keep_io_types=True)
    # The converter retypes the output of our uint8->float Cast to float16 but leaves its `to`
    # attribute at float32; make each Cast produce the type its output is declared as.
    declared = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
    for node in model.graph.node:
        if node.op_type != "Cast":
            continue
        for attribute in node.attribute:
            wanted = declared.get(node.output[0])
            if attribute.name == "to" and wanted == onnx.TensorProto.FLOAT16 and attribute.i == onnx.TensorProto.FLOAT:
                attribute.i = onnx.TensorProto.FLOAT16
    return model


def _drop_float_to_float_casts(model: onnx.ModelProto) -> None:
    """Casts from float32 to float32 (``.float()`` on a float tensor, e.g. around the ViT's position-embedding
    resize) become Identity: the fp16 converter would retype their outputs but keep ``to=float``."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    types.update({init.name: init.data_type for init in model.graph.initializer})
    for node in model.graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type == "Cast" and to == onnx.TensorProto.FLOAT and types.get(node.input[0]) == onnx.TensorProto.FLOAT:
            node.op_type = "Identity"
            del node.attribute[:]


def _detach_consumed_outputs(model: onnx.ModelProto) -> None:
    """Give each graph output that other nodes also read (SEF's expert_weights feed its fusion) its own
    Identity, so the fp16 converter's float32 output cast does not retype what those nodes read."""
    consumed = {name for node in model.graph.node for name in node.input}
    for output in model.graph.output:
        if output.name not in consumed:
            continue
        inner = output.name + "__inner"
        for node in model.graph.node:
            node.output[:] = [inner if name == output.name else name for name in node.output]
            node.input[:] = [inner if name == output.name else name for name in node.input]
        model.graph.node.append(onnx.helper.make_node("Identity", [inner], [output.name]))


def _to_int8(fp32_path: Path, out_path: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8)
    return onnx.load(out_path)


def check_parity(wrapper: ContractWrapper, path: Path, crops: np.ndarray, precision: str) -> ParityReport:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_logits = session.run([contract.OUTPUT_LOGIT], {contract.INPUT_IMAGE: crops})[0].reshape(-1)
    with torch.no_grad():
        torch_logits = wrapper(torch.from_numpy(crops))[0].numpy().reshape(-1)
    diff = float(np.abs(onnx_logits.astype(np.float64) - torch_logits).max())
    agreement = float(np.mean((onnx_logits > 0) == (torch_logits > 0)))
    return ParityReport(precision, len(crops), diff, agreement)
