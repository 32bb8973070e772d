"""Store an exported graph's repeated weights once: SEF's merged experts make the file N backbones big.

For inference every SEF expert is one copy of the backbone with its LoRA folded in, so the graph holds
N copies of every convolution. Those copies differ by low-rank terms (expert i's weight is
``scale * (W + B_i A_i)``, so two experts differ by rank at most twice the LoRA rank) or not at all
(layers no LoRA touches). ``share_weights`` keeps one tensor of each kind in full and rewrites every
other copy as ``reference + U @ V`` from initializers alone; ONNX Runtime's constant folding (on at
every optimisation level the engine uses) computes them once when the session loads, so the running
graph, its speed and its outputs are those of the full file. Each rewrite is checked against the tensor
it replaces; the exporter's parity check then runs on the compacted file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

# Tensors smaller than this stay as they are: the three extra nodes would cost more than they save.
MIN_ELEMENTS = 4096
# A low-rank form is kept only when it is at most this fraction of the tensor it replaces.
MAX_FACTOR_FRACTION = 0.5
# Highest rank looked for: the configs' LoRA rank is 8, so two folded experts differ by rank 16 at most;
# 64 leaves room for LoRA ranks up to 32.
MAX_RANK = 64
# Largest |difference| allowed between a rewritten tensor and the original, relative to its largest |value|:
# a few float32 roundings (the exporter's parity check then bounds the outputs).
MAX_RELATIVE_ERROR = 1e-5


@dataclass(frozen=True)
class CompactionReport:
    bytes_before: int
    bytes_after: int
    duplicates: int  # tensors now read from an identical one
    low_rank: int  # tensors now computed as reference + U @ V

    def __str__(self) -> str:
        return (f"weights {self.bytes_before / 1e6:.1f} MB -> {self.bytes_after / 1e6:.1f} MB "
                f"({self.duplicates} shared, {self.low_rank} as low-rank differences)")


def share_weights(model: onnx.ModelProto) -> CompactionReport:
    """Rewrite ``model`` in place so that repeated and nearly repeated float32 weights are stored once."""
    graph = model.graph
    before = _initializer_bytes(graph)
    if any(attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
           for node in graph.node for attribute in node.attribute):
        return CompactionReport(before, before, 0, 0)  # subgraphs may name outer tensors: leave them alone
    protected = {value.name for value in [*graph.input, *graph.output]}
    duplicates = _share_duplicates(graph, protected)
    low_rank = _share_low_rank(graph, protected)
    return CompactionReport(before, _initializer_bytes(graph), duplicates, low_rank)


def _initializer_bytes(graph: onnx.GraphProto) -> int:
    return sum(numpy_helper.to_array(tensor).nbytes for tensor in graph.initializer)


def _share_duplicates(graph: onnx.GraphProto, protected: set[str]) -> int:
    first_by_content: dict[tuple, str] = {}
    renamed: dict[str, str] = {}
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        key = (array.dtype.str, array.shape, hashlib.sha256(array.tobytes()).hexdigest())
        if key in first_by_content and tensor.name not in protected:
            renamed[tensor.name] = first_by_content[key]
        else:
            first_by_content.setdefault(key, tensor.name)
    if renamed:
        for node in graph.node:
            node.input[:] = [renamed.get(name, name) for name in node.input]
        _remove_initializers(graph, set(renamed))
    return len(renamed)


def _share_low_rank(graph: onnx.GraphProto, protected: set[str]) -> int:
    by_shape: dict[tuple, list[tuple[str, np.ndarray]]] = {}
    for tensor in graph.initializer:
        if tensor.data_type == onnx.TensorProto.FLOAT and len(tensor.dims) >= 2 and tensor.name not in protected:
            array = numpy_helper.to_array(tensor)
            if array.size >= MIN_ELEMENTS:
                by_shape.setdefault(array.shape, []).append((tensor.name, array))
    new_nodes, new_tensors, replaced = [], [], set()
    for shape, tensors in by_shape.items():
        references: list[tuple[str, np.ndarray]] = []
        for name, array in tensors:
            factors = _low_rank_difference(array, references)
            if factors is None:
                references.append((name, array))
                continue
            reference, u, v = factors
            shape_name, u_name, v_name = f"{name}::shape", f"{name}::u", f"{name}::v"
            new_tensors += [numpy_helper.from_array(u, u_name), numpy_helper.from_array(v, v_name),
                            numpy_helper.from_array(np.array(shape, dtype=np.int64), shape_name)]
            new_nodes += [helper.make_node("MatMul", [u_name, v_name], [f"{name}::flat_delta"]),
                          helper.make_node("Reshape", [f"{name}::flat_delta", shape_name], [f"{name}::delta"]),
                          helper.make_node("Add", [reference, f"{name}::delta"], [name])]
            replaced.add(name)
    if replaced:
        _remove_initializers(graph, replaced)
        graph.initializer.extend(new_tensors)
        nodes = new_nodes + list(graph.node)  # the rewrites read initializers only: they go first
        del graph.node[:]
        graph.node.extend(nodes)
    return len(replaced)


def _low_rank_difference(array: np.ndarray, references: list[tuple[str, np.ndarray]]):
    """(reference name, U, V) with ``reference + (U @ V).reshape(shape)`` equal to ``array``, or None."""
    if not references:
        return None
    name, reference = min(references, key=lambda item: float(np.linalg.norm(array - item[1])))
    difference = (array.astype(np.float64) - reference).reshape(array.shape[0], -1)
    rows, cols = difference.shape
    max_rank = min(MAX_RANK, int(MAX_FACTOR_FRACTION * array.size / (rows + cols)))
    if max_rank < 1:
        return None
    # A randomised range finder (Halko et al.): one probe column more than the rank allowed, so a difference
    # of higher rank cannot be rebuilt and fails the check below; a full SVD of every tensor is far slower.
    probe = np.random.default_rng(0).standard_normal((cols, max_rank + 1))
    basis, _ = np.linalg.qr(difference @ probe)
    small_left, singular, right = np.linalg.svd(basis.T @ difference, full_matrices=False)
    rank = int(np.sum(singular > singular[0] * 1e-6)) if singular[0] > 0 else 0
    if rank == 0 or rank > max_rank:
        return None
    left = basis @ small_left
    u = (left[:, :rank] * singular[:rank]).astype(np.float32)
    v = right[:rank].astype(np.float32)
    rebuilt = reference + (u @ v).reshape(array.shape)
    if np.max(np.abs(rebuilt - array)) > MAX_RELATIVE_ERROR * max(float(np.max(np.abs(array))), 1e-12):
        return None
    return name, u, v


def _remove_initializers(graph: onnx.GraphProto, names: set[str]) -> None:
    kept = [tensor for tensor in graph.initializer if tensor.name not in names]
    del graph.initializer[:]
    graph.initializer.extend(kept)
