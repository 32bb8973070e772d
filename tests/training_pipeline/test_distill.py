"""Distillation (``[training] distill_from``): a student trained on its teacher's probabilities comes to
score as the teacher does, which the labels alone do not teach it; a teacher that sees other crops is
refused by name."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.checkpoint import load_checkpoint, save_checkpoint
from training.config import ConfigError
from training.data import manifest
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
