"""Stamping the model contract's metadata into an ONNX model."""

from __future__ import annotations

import onnx

from engine.contract import KEY_PREFIX, ModelMetadata


def stamp(model: onnx.ModelProto, metadata: ModelMetadata) -> None:
    """Write the contract metadata into ``metadata_props``, replacing any earlier stamp whole (a key the new
    metadata leaves out, such as a cascade switched off, must not survive from the old one)."""
    props = metadata.to_props()
    kept = [p for p in model.metadata_props if not p.key.startswith(KEY_PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
