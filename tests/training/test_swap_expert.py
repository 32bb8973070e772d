"""Replacing one expert of a trained SEF fusion, gate and heads kept."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from training import DetectorConfig, load_checkpoint, save_checkpoint
from training.checkpoint import WEIGHTS_FILE, CheckpointError, import_expert
from training.swap_expert import swap_expert

from .conftest import build, sample_input


def _randomised(detector, parts=("lora_B", "head", "gate")):
    with torch.no_grad():
        for name, parameter in detector.named_parameters():
            if any(part in name for part in parts):
                parameter.normal_(0, 0.05)
    return detector


def test_the_swapped_lora_is_the_donors_and_everything_else_the_fusions(tmp_path):
    fusion = _randomised(build(method="sef", sef=DetectorConfig().sef))
    save_checkpoint(fusion, tmp_path / "fusion")
    save_checkpoint(_randomised(build()), tmp_path / "donor")  # a mixed single-LoRA checkpoint
    swap_expert(tmp_path / "fusion", "upsample", tmp_path / "donor", tmp_path / "out")

    before, donor, after = (load_file(str(tmp_path / name / WEIGHTS_FILE)) for name in ("fusion", "donor", "out"))
    swapped = [key for key in after if ".adapters.upsample." in key]
    assert swapped
    for key in swapped:
        assert torch.equal(after[key], donor[key.replace(".adapters.upsample.", ".adapters.default.")]), key
    for key in set(after) - set(swapped):
        assert torch.equal(after[key], before[key]), key
    x = sample_input("tiny_vit")
    with torch.no_grad():
        assert not torch.allclose(load_checkpoint(tmp_path / "out")(x).logit, load_checkpoint(tmp_path / "fusion")(x).logit)


def test_swapping_in_the_expert_a_fusion_was_built_on_gives_the_fusion_back(tmp_path):
    save_checkpoint(_randomised(build()), tmp_path / "donor")
    fusion = build(method="sef")
    import_expert(fusion, "upsample", tmp_path / "donor")
    _randomised(fusion, ("head", "gate"))  # the fusion stage trains the gate and the experts' verdict heads, not their LoRAs
    save_checkpoint(fusion, tmp_path / "fusion")
    swap_expert(tmp_path / "fusion", "upsample", tmp_path / "donor", tmp_path / "out")
    before, after = (load_file(str(tmp_path / name / WEIGHTS_FILE)) for name in ("fusion", "out"))
    assert before.keys() == after.keys() and all(torch.equal(before[key], after[key]) for key in before)


def test_it_refuses_an_expert_the_fusion_lacks_and_an_occupied_folder(tmp_path):
    save_checkpoint(build(method="sef"), tmp_path / "fusion")
    save_checkpoint(build(), tmp_path / "donor")
    with pytest.raises(CheckpointError, match="regenerate"):
        swap_expert(tmp_path / "fusion", "regenerate", tmp_path / "donor", tmp_path / "out")
    before = (tmp_path / "fusion" / WEIGHTS_FILE).read_bytes()
    with pytest.raises(CheckpointError, match="already holds"):
        swap_expert(tmp_path / "fusion", "upsample", tmp_path / "donor", tmp_path / "fusion")
    assert (tmp_path / "fusion" / WEIGHTS_FILE).read_bytes() == before
