"""Checkpoints: safetensors + config.json; a loaded detector gives the outputs it was saved with."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from training import DetectorConfig, GammaConfig, load_checkpoint, save_checkpoint
from training.adapters import adapter_layers, merge_lora
from training.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointError

from .conftest import build, optimiser_step, sample_input


def _trained(backbone: str, **changes):
    """A detector after one optimiser step, so adapters and heads differ from their initial values."""
    detector = build(backbone, **changes)
    with torch.no_grad():
        for layer in adapter_layers(detector):
            for module in layer.modules():
                if isinstance(module, torch.nn.Linear) and module is not getattr(layer, "base_layer", None):
                    module.weight.normal_(0, 0.05)
    optimiser_step(detector, sample_input(backbone))
    return detector


@pytest.mark.parametrize(
    "backbone, changes, includes_backbone",
    [
        ("tiny_vit", dict(method="sef", gamma=GammaConfig(enabled=True, seg_dim=16)), True),
        ("tiny_vit", dict(adapter="mole"), True),
        ("efficientnet_lite0", dict(gamma=GammaConfig(enabled=True, seg_dim=16)), False),
    ],
)
def test_saved_and_loaded_detector_gives_identical_outputs(tmp_path, backbone, changes, includes_backbone):
    detector = _trained(backbone, **changes)
    x = sample_input(backbone, batch=3)
    with torch.no_grad():
        expected = detector(x)
    save_checkpoint(detector, tmp_path / "ckpt")
    assert DetectorConfig.from_json((tmp_path / "ckpt" / CONFIG_FILE).read_text()) == detector.config
    with safe_open(str(tmp_path / "ckpt" / WEIGHTS_FILE), framework="pt") as handle:
        saved = set(handle.keys())
    pretrained = detector.pretrained_state_keys()
    assert bool(saved & pretrained) == includes_backbone
    assert set(detector.state_dict()) - pretrained <= saved

    torch.manual_seed(123)  # a different random init must not matter
    loaded = load_checkpoint(tmp_path / "ckpt")
    with torch.no_grad():
        actual = loaded(x)
    for name in ("logit", "expert_weights", "artifact_map", "domain_map"):
        want, got = getattr(expected, name), getattr(actual, name)
        assert (want is None) == (got is None)
        if want is not None:
            assert torch.equal(want, got), name


def test_checkpoint_refuses_merged_adapters_and_a_config_it_does_not_fit(tmp_path):
    detector = _trained("tiny_vit")
    merge_lora(detector.backbone)
    with pytest.raises(CheckpointError, match="unmerge"):
        save_checkpoint(detector, tmp_path / "merged")
    detector = _trained("tiny_vit")
    save_checkpoint(detector, tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / CONFIG_FILE).read_text())
    config["lora"]["rank"] = 2
    (tmp_path / "ckpt" / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="other shapes"):
        load_checkpoint(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="no config.json"):
        load_checkpoint(tmp_path / "empty")
