"""Distillation (``[training] distill_from``): a student trained on its teacher's probabilities comes to
score as the teacher does, which the labels alone do not teach it; a teacher that sees other crops is
refused by name. A student with ``expert_mix`` learns its SEF teacher's gate, so its scans keep the
app's "kind of artifact"."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.checkpoint import load_checkpoint, save_checkpoint
from training.config import ConfigError, DetectorConfig, SefConfig
from training.data import manifest
from training.detector import Detector, create_detector
from training.distill import distillation_loss
from training.runs import TrainConfig
from training.train import train
from tests.training_pipeline.conftest import TINY_MIXED, trained_checkpoint


def _crops(manifest_path) -> torch.Tensor:
    """Every image of the set, its centre 32 x 32, as 0..1 NCHW."""
    images = [np.asarray(Image.open(Path(manifest_path).parent / record.path).convert("RGB"))[8:40, 8:40] for record in manifest.read(manifest_path)]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255.0)


def test_the_loss_is_zero_where_student_and_teacher_agree_and_grows_apart():
    logits = torch.tensor([-3.0, 0.0, 2.5])
    assert distillation_loss(logits, logits).abs().max() < 1e-6
    assert distillation_loss(logits + 1, logits) > distillation_loss(logits + 0.1, logits) > 0
    assert distillation_loss(logits + 1, logits, temperature=4.0) > 0


def test_a_student_comes_to_score_as_its_teacher(flat_manifest, tmp_path):
    teacher = trained_checkpoint(tmp_path / "teacher")
    with torch.no_grad():  # a teacher whose opinions the labels do not give: its logits spread wide
        teacher.head.fc.weight.mul_(10)
    save_checkpoint(teacher, tmp_path / "teacher")
    crops = _crops(flat_manifest)
    steps = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=4, epochs=6, lr=3e-2, seed=3)
    taught = train(TINY_MIXED, replace(steps, distill_from=str(tmp_path / "teacher"), distill_weight=1.0),
                   tmp_path / "taught", resume=False, progress=False)
    labels_only = train(TINY_MIXED, steps, tmp_path / "labels", resume=False, progress=False)

    def gap(checkpoint) -> float:
        with torch.no_grad():
            student = load_checkpoint(checkpoint)
            said, meant = student(student.normalize(crops)).logit, teacher(teacher.normalize(crops)).logit
            return float((said.sigmoid() - meant.sigmoid()).abs().mean())

    assert gap(taught) < 0.5 * gap(labels_only)
    assert "distilling from" in (tmp_path / "taught" / "train.log").read_text()
    assert '"distill"' in (tmp_path / "taught" / "metrics.jsonl").read_text()


def test_a_teacher_of_other_crops_is_refused(flat_manifest, tmp_path):
    trained_checkpoint(tmp_path / "teacher", replace(TINY_MIXED, crop_size=48))
    config = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1,
                         distill_from=str(tmp_path / "teacher"))
    with pytest.raises(ConfigError, match="teacher .* scores 48 px crops, the student 32 px"):
        train(TINY_MIXED, config, tmp_path / "run", resume=False, progress=False)


def test_distillation_settings_out_of_range_are_refused():
    with pytest.raises(ConfigError, match="distill_weight"):
        TrainConfig(distill_weight=1.5)
    with pytest.raises(ConfigError, match="distill_temperature"):
        TrainConfig(distill_temperature=0)


TWO_EXPERTS = ("upsample", "reconstruct")
STUDENT_WITH_MIX = replace(TINY_MIXED, expert_mix=TWO_EXPERTS)
STUDENT_SEED = 3


def _sef_teacher(path, crops: torch.Tensor) -> Detector:
    """An SEF detector whose gate mixes its experts differently crop by crop on ``crops`` (what a student
    must learn): random gate weights, centred on the crops' mean gate input. Made under the students'
    seed, so both have the same random tiny backbone and the mix is one the student can represent."""
    torch.manual_seed(STUDENT_SEED)
    teacher = create_detector(DetectorConfig(backbone="tiny_vit", crop_size=32, method="sef",
                                             sef=SefConfig(experts=TWO_EXPERTS)))
    gate = teacher.encoder.gate
    seen = {}
    hook = gate.register_forward_hook(lambda module, inputs, output: seen.update(inputs=inputs[0]))
    with torch.no_grad():
        teacher(teacher.normalize(crops))
        hook.remove()
        gate.weight.normal_(0, 1.0)
        gate.bias.copy_(-gate.weight @ seen["inputs"].mean(dim=0))
    save_checkpoint(teacher, path)
    return load_checkpoint(path)


def test_a_student_learns_its_teachers_expert_mix(flat_manifest, tmp_path):
    crops = _crops(flat_manifest)
    teacher = _sef_teacher(tmp_path / "teacher", crops)
    config = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=4, epochs=6, lr=3e-3,
                         seed=STUDENT_SEED, distill_from=str(tmp_path / "teacher"))
    torch.manual_seed(STUDENT_SEED)
    untaught = create_detector(STUDENT_WITH_MIX)
    taught = load_checkpoint(train(STUDENT_WITH_MIX, config, tmp_path / "taught", resume=False, progress=False))
    assert taught.input_spec.expert_names == TWO_EXPERTS  # what export writes, so the app names them

    with torch.no_grad():
        meant = teacher(teacher.normalize(crops)).expert_weights
        assert float(meant[:, 0].std()) > 0.1  # the mix differs crop by crop

        def gap(student) -> float:
            said = student(student.normalize(crops)).expert_weights
            assert said.shape == meant.shape and torch.allclose(said.sum(dim=1), torch.ones(len(said)))
            return float((said - meant).abs().mean())

        assert gap(taught) < 0.3 * gap(untaught)
    assert '"mix"' in (tmp_path / "taught" / "metrics.jsonl").read_text()


def test_an_expert_mix_needs_a_teacher_with_those_experts(flat_manifest, tmp_path):
    trained_checkpoint(tmp_path / "mixed-teacher", TINY_MIXED)
    _sef_teacher(tmp_path / "sef-teacher", _crops(flat_manifest))
    config = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1)
    with pytest.raises(ConfigError, match="set \\[training\\] distill_from"):
        train(STUDENT_WITH_MIX, config, tmp_path / "alone", resume=False, progress=False)
    assert not (tmp_path / "alone").exists()  # a config error leaves no run folder behind
    with pytest.raises(ConfigError, match="has no experts"):
        train(STUDENT_WITH_MIX, replace(config, distill_from=str(tmp_path / "mixed-teacher")),
              tmp_path / "mixed", resume=False, progress=False)
    reversed_mix = replace(TINY_MIXED, expert_mix=TWO_EXPERTS[::-1])
    with pytest.raises(ConfigError, match="has upsample, reconstruct"):
        train(reversed_mix, replace(config, distill_from=str(tmp_path / "sef-teacher")),
              tmp_path / "reversed", resume=False, progress=False)


@pytest.mark.parametrize(("changes", "message"), [
    ({"method": "sef", "expert_mix": TWO_EXPERTS}, "expert_mix is for one-pass"),
    ({"expert_mix": ("upsample",)}, "at least two experts"),
    ({"expert_mix": ("upsample", "upsample")}, "each named once"),
    ({"expert_mix": ("upsample", "real")}, "must name fake domains"),
])
def test_an_expert_mix_that_cannot_be_learned_is_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        replace(TINY_MIXED, **changes)


def test_an_expert_mix_survives_the_config_round_trip():
    assert DetectorConfig.from_json(STUDENT_WITH_MIX.to_json()) == STUDENT_WITH_MIX
