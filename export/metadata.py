"""Stamping the model contract's metadata into an ONNX model."""

from __future__ import annotations

import onnx

from engine.contract import ModelMetadata


def stamp(model: onnx.ModelProto, metadata: ModelMetadata) -> None:
    """Write the contract metadata into ``metadata_props``, replacing any earlier stamp."""
    props = metadata.to_props()
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
