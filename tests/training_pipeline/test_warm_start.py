"""A run started from a trained checkpoint of the same detector (``TrainConfig.init_from``): it
carries on from those weights under a new schedule, and a checkpoint of another detector is refused."""

from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from training.checkpoint import CheckpointError, load_checkpoint, warm_start
from training.config import GammaConfig
from training.detector import create_detector
from training.runs import TrainConfig
from training.train import train
from tests.training_pipeline.conftest import TINY_MIXED as MIXED
from tests.training_pipeline.conftest import trained_checkpoint


def test_a_warm_started_detector_gives_the_checkpoints_logits(tmp_path):
    donor = trained_checkpoint(tmp_path / "donor")
    torch.manual_seed(7)  # another random backbone and adapters: the checkpoint's must replace both
    detector = create_detector(replace(MIXED, name="renamed"))
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(detector.eval()(images).logit, donor(images).logit, atol=1e-4)
        warm_start(detector, tmp_path / "donor")
        assert torch.allclose(detector.eval()(images).logit, donor(images).logit, atol=1e-6)


def test_training_carries_on_from_the_checkpoint(flat_manifest, tmp_path):
    trained_checkpoint(tmp_path / "donor")
    donated = load_file(str(tmp_path / "donor" / "model.safetensors"))
    tiny_steps = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1, lr=1e-9)
    warm = train(MIXED, replace(tiny_steps, init_from=str(tmp_path / "donor")), tmp_path / "warm",
                 resume=False, progress=False)
    cold = train(MIXED, tiny_steps, tmp_path / "cold", resume=False, progress=False)
    warm_weights = load_file(str(warm / "model.safetensors"))
    cold_weights = load_file(str(cold / "model.safetensors"))
    head = "head.fc.weight"
    assert torch.allclose(warm_weights[head], donated[head], atol=1e-6)
    assert not torch.allclose(cold_weights[head], donated[head], atol=1e-3)
    assert "a warm restart" in (tmp_path / "warm" / "train.log").read_text()
    load_checkpoint(warm)  # and the result is an ordinary checkpoint


def test_a_checkpoint_of_another_detector_is_refused(tmp_path):
    trained_checkpoint(tmp_path / "donor")
    other = create_detector(replace(MIXED, crop_size=48))
    with pytest.raises(CheckpointError, match="differs in crop_size"):
        warm_start(other, tmp_path / "donor")
    with pytest.raises(CheckpointError, match="has no config.json"):
        warm_start(other, tmp_path / "nowhere")


def test_a_student_that_gains_heads_keeps_its_donors_adapter(tmp_path):
    """A one-pass student given GAMMA's maps and an expert mix starts from its head-less checkpoint: the
    LoRA carries over, the new heads start afresh; a donor with other GAMMA heads is still refused."""
    trained_checkpoint(tmp_path / "donor")
    donated = load_file(str(tmp_path / "donor" / "model.safetensors"))
    grown = replace(MIXED, gamma=GammaConfig(enabled=True, domains=("real", "upsample")),
                    expert_mix=("upsample", "reconstruct"))
    torch.manual_seed(7)
    detector = create_detector(grown)
    assert warm_start(detector, tmp_path / "donor") == ("gamma", "expert_mix")
    state = detector.state_dict()
    adapters = [key for key in donated if "lora" in key]
    assert adapters and all(torch.equal(state[key], donated[key]) for key in adapters)
    torch.manual_seed(7)
    fresh = create_detector(grown).state_dict()  # the same seed: the new heads as they start
    new_heads = [key for key in state if key.startswith(("head.", "mix_head."))]
    assert new_heads and "head.fc.weight" not in state
    assert all(torch.equal(state[key], fresh[key]) for key in new_heads)  # afresh, not from the donor

    trained_checkpoint(tmp_path / "gamma-donor", replace(MIXED, gamma=GammaConfig(enabled=True)))
    with pytest.raises(CheckpointError, match="differs in gamma"):
        warm_start(create_detector(grown), tmp_path / "gamma-donor")
    # No GAMMA on either side, only another setting of its unused heads: nothing is added, so the trained
    # classifier must not be dropped as if it were a head to start afresh.
    unused_setting = replace(MIXED, gamma=GammaConfig(enabled=False, seg_dim=32))
    with pytest.raises(CheckpointError, match="differs in gamma"):
        warm_start(create_detector(unused_setting), tmp_path / "donor")
