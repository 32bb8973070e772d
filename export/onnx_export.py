"""A trained detector -> one contract ``.onnx`` file (fp32, fp16 or int8), checked against torch.

The exported graph takes ``uint8 [N, S, S, 3]`` RGB crops; the cast, the
normalisation and the NHWC->NCHW transpose live inside it, so the engine feeds
decoded pixels as they are.

Two exporters are tried in ``EXPORTERS`` order and the first file that passes the parity
check is kept: torch's current one (``dynamo``: ``torch.export``, fp16 exported from a
half-precision copy of the model) and the legacy TorchScript tracer (``torchscript``: fp16 by
onnxconverter-common plus three graph patches). Parity compares every output the model has
(``fake_logit``, ``expert_weights``, ``artifact_map``) with torch's fp32 outputs, in ONNX
Runtime with the engine's session options, in a child process (a graph that crashes ONNX
Runtime fails the check instead of the export). Before the check, the SEF experts' backbone copies
are stored as one tensor plus low-rank differences (``export.compact``), which ONNX Runtime folds
back when it loads the file.
"""

from __future__ import annotations

import copy
import logging
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Sequence

import numpy as np
import onnx
import torch
from torch import nn

from engine import contract
from engine.contract import ModelMetadata
from export.compact import share_weights
from export.metadata import stamp
from training.detector import merged_for_inference

log = logging.getLogger(__name__)

OPSET = 17  # the TorchScript exporter's
DYNAMO_OPSET = 18  # the current exporter's (its lowest)
EXPORTERS = ("dynamo", "torchscript")  # tried in this order; the first whose file passes parity is kept
# Largest |difference| from torch's fp32 outputs that export accepts, per precision and output
# (logits for fake_logit and artifact_map, probabilities for expert_weights): the largest over the
# parity crops for fp32 and fp16, the mean for int8, whose rounding moves a few crops far and is
# judged by held-out AP instead (bench/precision.py), with PARITY_INT8_AGREEMENT of verdicts kept.
PARITY_TOLERANCE = {
    "fp32": {contract.OUTPUT_LOGIT: 1e-3, contract.OUTPUT_EXPERT_WEIGHTS: 1e-4, contract.OUTPUT_ARTIFACT_MAP: 1e-3},
    "fp16": {contract.OUTPUT_LOGIT: 0.05, contract.OUTPUT_EXPERT_WEIGHTS: 0.02, contract.OUTPUT_ARTIFACT_MAP: 0.05},
    "int8": {contract.OUTPUT_LOGIT: 0.5, contract.OUTPUT_EXPERT_WEIGHTS: 0.1, contract.OUTPUT_ARTIFACT_MAP: 0.5},
}
PARITY_INT8_AGREEMENT = 0.9
# Real photographs shipped inside scikit-image (a training requirement): the parity crops when none are given,
# and other ones for int8's activation ranges, so that a check never runs on the crops it was fitted to.
SAMPLE_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")
RANGE_PHOTOS = ("stereo_motorcycle", "hubble_deep_field")  # the first: two views of a street scene


class ExportError(RuntimeError):
    pass


class ContractWrapper(nn.Module):
    """uint8 NHWC crops -> the detector's outputs under the contract's names (always float32).

    ``dtype`` is the precision the detector computes in: the wrapper of a ``.half()`` copy casts the
    pixels to float16 and its outputs back to float32, so the graph keeps the contract's types."""

    def __init__(self, detector: nn.Module, dtype: torch.dtype = torch.float32):
        super().__init__()
        spec = detector.input_spec
        self.detector = detector
        self.output_names = [contract.OUTPUT_LOGIT]
        if spec.expert_names:
            self.output_names.append(contract.OUTPUT_EXPERT_WEIGHTS)
        if spec.has_artifact_map:
            self.output_names.append(contract.OUTPUT_ARTIFACT_MAP)
        self.register_buffer("mean255", (torch.tensor(spec.mean).view(1, 3, 1, 1) * 255.0).to(dtype))
        self.register_buffer("std255", (torch.tensor(spec.std).view(1, 3, 1, 1) * 255.0).to(dtype))

    def forward(self, image: torch.Tensor):
        x = image.permute(0, 3, 1, 2).to(self.mean255.dtype)
        out = self.detector((x - self.mean255) / self.std255)
        values = {contract.OUTPUT_LOGIT: out.logit.reshape(-1),
                  contract.OUTPUT_EXPERT_WEIGHTS: out.expert_weights,
                  contract.OUTPUT_ARTIFACT_MAP: out.artifact_map}
        if self.mean255.dtype != torch.float32:
            return tuple(values[name].float() for name in self.output_names)
        return tuple(values[name] for name in self.output_names)


@dataclass
class ParityReport:
    precision: str
    exporter: str
    crops: int
    max_abs_diff: dict[str, float]  # per output, against torch's fp32 outputs
    verdict_agreement: float  # share of crops on the same side of 0.5
    mean_abs_diff: dict[str, float] = field(default_factory=dict)

    @property
    def max_abs_logit_diff(self) -> float:
        return self.max_abs_diff[contract.OUTPUT_LOGIT]

    def over(self, limits: dict[str, float]) -> list[str]:
        """What exceeds ``limits``: the largest differences, or for int8 the mean ones and the agreement."""
        if self.precision != "int8":
            return [f"{name} max {diff:.2e} > {limits[name]:g}"
                    for name, diff in self.max_abs_diff.items() if diff > limits[name]]
        over = [f"{name} mean {diff:.2e} > {limits[name]:g}"
                for name, diff in self.mean_abs_diff.items() if diff > limits[name]]
        if self.verdict_agreement < PARITY_INT8_AGREEMENT:
            over.append(f"verdict agreement {self.verdict_agreement:.1%} < {PARITY_INT8_AGREEMENT:.0%}")
        return over

    def __str__(self) -> str:
        diffs = ", ".join(f"{name} {diff:.2e}" for name, diff in self.max_abs_diff.items())
        means = ", ".join(f"{name} {diff:.2e}" for name, diff in self.mean_abs_diff.items())
        return (f"parity {self.precision} ({self.exporter} exporter): {self.crops} crops, max |diff| {diffs}, "
                f"mean |diff| {means}, verdict agreement {self.verdict_agreement:.1%}")


def sample_photo_crops(crop_size: int, count: int = 16, photos: Sequence[str] = SAMPLE_PHOTOS) -> np.ndarray:
    """Crops of real photographs scikit-image ships (``photos``), cut by the engine's texture plan."""
    from skimage import data

    images = []
    for name in photos:
        image = getattr(data, name)()
        views = image[:2] if isinstance(image, tuple) else (image,)  # stereo pairs: (left, right, disparity)
        images += [np.asarray(view)[..., :3] for view in views]
    per_photo = -(-count // len(images))
    crops = [contract.extract_crops(rgb, contract.plan_for(rgb, crop_size, per_photo, "texture")) for rgb in images]
    return np.ascontiguousarray(np.concatenate(crops)[:count])


def export_detector(detector: nn.Module, path: str | Path, metadata: ModelMetadata, precision: str = "fp32",
                    parity_crops: np.ndarray | None = None, tolerance: float | None = None,
                    exporters: Sequence[str] = EXPORTERS, calibration_crops: np.ndarray | None = None) -> ParityReport:
    """Export ``detector`` to ``path`` at ``precision`` with ``metadata`` stamped; verify it against torch.

    ``parity_crops`` (uint8 [N, S, S, 3], real image crops; default ``sample_photo_crops``) go
    through torch (fp32) and ONNX Runtime; each exporter in ``exporters`` is tried in turn and the
    first file whose every output is within ``PARITY_TOLERANCE`` (or ``tolerance``, for all
    outputs) is written. Raises ``ExportError`` (and leaves no file) when none is; returns the
    kept file's parity report. int8 measures its activation ranges on ``calibration_crops``
    (default: crops of ``RANGE_PHOTOS``; give crops other than the parity crops).
    """
    if precision not in contract.PRECISIONS:
        raise ExportError(f"precision {precision!r} is not one of {contract.PRECISIONS}")
    unknown = set(exporters) - set(EXPORTERS)
    if unknown or not exporters:
        raise ExportError(f"exporters must be some of {EXPORTERS}, got {tuple(exporters)}")
    detector = detector.eval()
    size = detector.input_spec.crop_size
    crops = sample_photo_crops(size) if parity_crops is None else parity_crops
    with torch.no_grad():
        wrapper = ContractWrapper(detector).eval()
        outputs = wrapper(torch.from_numpy(crops))
        reference = {name: value.numpy() for name, value in zip(wrapper.output_names, outputs, strict=True)}
    merged = merged_for_inference(detector)
    metadata = replace(metadata, crop_size=size, precision=precision,
                       expert_names=tuple(detector.input_spec.expert_names))
    limits = PARITY_TOLERANCE[precision] if tolerance is None else dict.fromkeys(reference, tolerance)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        for exporter in exporters:
            candidate = Path(scratch) / f"{exporter}-{precision}.onnx"
            try:
                model = _build(exporter, merged, precision, size, Path(scratch), calibration_crops)
                log.info("%s exporter, %s: %s", exporter, precision, share_weights(model))
                _drop_build_traces(model)
                stamp(model, metadata)
                onnx.checker.check_model(model)
                _check_batch_axis(model)
                onnx.save(model, candidate)
                report = check_parity(candidate, crops, reference, precision, exporter)
            except Exception as error:  # an exporter that fails is one that did not pass
                first_line = (str(error).strip().splitlines() or [""])[0][:300]
                failures.append(f"{exporter}: {type(error).__name__}: {first_line}")
                log.info("%s exporter, %s: %s", exporter, precision, failures[-1])
                continue
            log.info("%s", report)
            over = report.over(limits)
            if not over:
                shutil.move(candidate, path)
                return report
            failures.append(f"{report}: {'; '.join(over)} above the tolerance")
    # An earlier file at ``path`` is left as it was (a failed export loses nothing), and said to be earlier.
    kept = f"; {path.name} there is an earlier export, not this model's" if path.exists() else ""
    raise ExportError(f"no exporter passed the parity check, nothing was written{kept}: " + " | ".join(failures))


def _build(exporter: str, detector: nn.Module, precision: str, size: int, scratch: Path,
           calibration_crops: np.ndarray | None = None) -> onnx.ModelProto:
    if exporter == "dynamo" and precision == "fp16":  # the model itself in half precision: no converter
        half_path = scratch / "dynamo-fp16-raw.onnx"
        _export_dynamo(ContractWrapper(copy.deepcopy(detector).half(), torch.float16).eval(), half_path, size)
        return onnx.load(half_path)
    fp32_path = scratch / f"{exporter}-fp32-raw.onnx"
    wrapper = ContractWrapper(detector).eval()
    (_export_dynamo if exporter == "dynamo" else _export_torchscript)(wrapper, fp32_path, size)
    if precision == "fp16":
        return _to_fp16(onnx.load(fp32_path))
    if precision == "int8":
        crops = sample_photo_crops(size, 64, RANGE_PHOTOS) if calibration_crops is None else calibration_crops
        return _to_int8(fp32_path, scratch / f"{exporter}-int8-raw.onnx", crops)
    return onnx.load(fp32_path)


def _drop_build_traces(model: onnx.ModelProto) -> None:
    """torch's exporter leaves on every node its Python stack trace, FX node and module path (0.9 MB of the
    default model, full of this machine's paths): nothing ONNX Runtime reads, and not the bundle's to ship."""
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            del node.metadata_props[:]
            node.doc_string = ""
            for attribute in node.attribute:  # an If's or a Loop's bodies
                graphs.extend([attribute.g] if attribute.HasField("g") else [])
                graphs.extend(attribute.graphs)
    for function in model.functions:
        for node in function.node:
            del node.metadata_props[:]
            node.doc_string = ""


def _check_batch_axis(model: onnx.ModelProto) -> None:
    """The batch axis of the input and of every output must stay symbolic: an exporter that could not keep
    it dynamic specialises it to the example's size, and the engine's batches would be refused."""
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if not dims or not dims[0].dim_param:
            raise ExportError(f"{value.name}'s batch axis is fixed at {dims[0].dim_value if dims else '?'}")


def _export_torchscript(wrapper: ContractWrapper, path: Path, size: int) -> None:
    example = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    dynamic = {contract.INPUT_IMAGE: {0: "N"}, **{name: {0: "N"} for name in wrapper.output_names}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings on shape checks that hold for every batch
        torch.onnx.export(wrapper, (example,), str(path), input_names=[contract.INPUT_IMAGE],
                          output_names=wrapper.output_names, dynamic_axes=dynamic, opset_version=OPSET,
                          dynamo=False, do_constant_folding=True)


def _export_dynamo(wrapper: ContractWrapper, path: Path, size: int) -> None:
    example = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    batch = torch.export.Dim("N", min=1)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (example,), str(path), input_names=[contract.INPUT_IMAGE],
                          output_names=wrapper.output_names, dynamic_shapes=({0: batch},),
                          opset_version=DYNAMO_OPSET, dynamo=True, external_data=False, optimize=True,
                          verbose=False)


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
        if (node.op_type == "Cast" and to == onnx.TensorProto.FLOAT
                and types.get(node.input[0]) == onnx.TensorProto.FLOAT):
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


def _to_int8(fp32_path: Path, out_path: Path, calibration_crops: np.ndarray) -> onnx.ModelProto:
    """Static int8 (QDQ): convolution weights per channel, activations with ranges measured on
    ``calibration_crops``. Dynamic quantisation (ranges guessed per batch) lost 34% of verdicts on
    EfficientNet's depthwise convolutions; min-max ranges 18%, their 99.999th percentile 1.6%.
    Convolutions, where the time goes, with the ReLU6 clips and residual sums between them, so that activations
    stay int8 from one convolution to the next (with the convolutions alone, a dequantise-quantise pair around
    every clip took a third of the time saved); attention and heads stay float, and so does the first stage
    (``_first_stage_convolutions``): on version 13, quantising it cost 0.009 of the 0.012 AP int8 lost."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = out_path.with_name(out_path.stem + "-prepared.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    model = onnx.load(prepared)
    float_stage = set(_first_stage_convolutions(model, calibration_crops[:1]))
    quantize_static(str(prepared), str(out_path), _CropBatches(calibration_crops), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                    nodes_to_quantize=_int8_chain(model, float_stage), calibrate_method=CalibrationMethod.Percentile)
    return onnx.load(out_path)


def _first_stage_convolutions(model: onnx.ModelProto, crop: np.ndarray) -> list[str]:
    """The convolutions whose output is at the largest resolution any of them gives (a convnet's stem and first
    block, where the pixel-level evidence is; none where there is only one, a ViT's patch embedding). Widths
    as ONNX Runtime computes them on ``crop``: the TorchScript exporter pads at run time, past shape inference."""
    import onnxruntime as ort

    convolutions = [node for node in model.graph.node if node.op_type == "Conv"]
    if len(convolutions) < 2:
        return []
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.ValueInfoProto(name=node.output[0]) for node in convolutions)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [node.output[0] for node in convolutions]
    widths = [output.shape[-1] for output in session.run(names, {contract.INPUT_IMAGE: crop})]
    return [node.name for node, width in zip(convolutions, widths, strict=True) if width == max(widths)]


def _int8_chain(model: onnx.ModelProto, float_stage: set[str]) -> list[str]:
    """The nodes to quantise: every convolution outside ``float_stage``, and the clips and sums whose inputs all
    come from quantised nodes (a ViT's residual sums, around float attention, are left float)."""
    constants = {tensor.name for tensor in model.graph.initializer}
    constants.update(output for node in model.graph.node if node.op_type == "Constant" for output in node.output)
    chosen, quantised = [], set()
    for node in model.graph.node:  # topologically sorted, as ONNX requires
        inputs = [name for name in node.input if name and name not in constants]
        takes_int8 = bool(inputs) and all(name in quantised for name in inputs)
        convolution = node.op_type == "Conv" and node.name not in float_stage
        if convolution or (node.op_type in ("Clip", "Add") and takes_int8):
            chosen.append(node.name)
            quantised.update(node.output)
    return chosen


class _CropBatches:
    """onnxruntime's CalibrationDataReader protocol over uint8 crops, 16 at a time."""

    def __init__(self, crops: np.ndarray, batch: int = 16):
        self._batches = iter([{contract.INPUT_IMAGE: crops[i:i + batch]} for i in range(0, len(crops), batch)])

    def get_next(self):
        return next(self._batches, None)


# Runs in a child process, with the engine's optimisation level (engine.model.session_options, which leaves
# out the NCHWc layout for fp16: 1.32's transformer segfaults on some fp16 graphs; the child does not import
# the engine): ONNX Runtime may crash on a graph, and a crash must fail the check.
_ORT_RUNNER = """
import sys
import numpy as np
import onnxruntime as ort
model, crops, out, input_name, names, precision = sys.argv[1:7]
options = ort.SessionOptions()
options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if precision == "fp16"
                                    else ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
names = names.split(",")
np.savez(out, **dict(zip(names, session.run(names, {input_name: np.load(crops)}))))
"""


def run_onnx(path: Path, crops: np.ndarray, names: Sequence[str], precision: str = "fp32") -> dict[str, np.ndarray]:
    """``names``' outputs of the ONNX model at ``path`` on ``crops``, from ONNX Runtime in a child process."""
    with tempfile.TemporaryDirectory() as scratch:
        crops_path, out_path = Path(scratch) / "crops.npy", Path(scratch) / "out.npz"
        np.save(crops_path, crops)
        done = subprocess.run([sys.executable, "-c", _ORT_RUNNER, str(path), str(crops_path), str(out_path),
                               contract.INPUT_IMAGE, ",".join(names), precision], capture_output=True, text=True,
                              timeout=900)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise ExportError(f"ONNX Runtime failed on the exported graph (exit {done.returncode}: {last})")
        with np.load(out_path) as outputs:
            return {name: outputs[name] for name in names}


def check_parity(path: Path, crops: np.ndarray, reference: dict[str, np.ndarray], precision: str,
                 exporter: str) -> ParityReport:
    """Every output of the ONNX model at ``path`` against torch's (``reference``, by output name)."""
    outputs = run_onnx(path, crops, list(reference), precision)
    differences = {name: np.abs(outputs[name].astype(np.float64) - reference[name]) for name in reference}
    logits, torch_logits = outputs[contract.OUTPUT_LOGIT].reshape(-1), reference[contract.OUTPUT_LOGIT].reshape(-1)
    agreement = float(np.mean((logits > 0) == (torch_logits > 0)))
    return ParityReport(precision, exporter, len(crops), {name: float(d.max()) for name, d in differences.items()},
                        agreement, {name: float(d.mean()) for name, d in differences.items()})
