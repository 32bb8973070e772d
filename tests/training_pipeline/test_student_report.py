"""``python -m training.student_report``: how closely a student follows its teacher crop by crop (its
probabilities, its expert mix, its map), figures AP alone does not give."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from training.checkpoint import save_checkpoint
from training.config import DetectorConfig, GammaConfig, SefConfig
from training.detector import create_detector
from training.student_report import agreement, main
from tests.training_pipeline.conftest import TINY_MIXED

EXPERTS = ("upsample", "reconstruct")
TEACHER = DetectorConfig(backbone="tiny_vit", crop_size=32, method="sef", sef=SefConfig(experts=EXPERTS),
                         gamma=GammaConfig(enabled=True, domains=("real", "upsample", "reconstruct")))
STUDENT = replace(TINY_MIXED, expert_mix=EXPERTS, gamma=TEACHER.gamma)


def _saved(config, path, seed: int):
    torch.manual_seed(seed)
    detector = create_detector(config)
    with torch.no_grad():  # heads and adapters away from their start, so outputs vary crop by crop
        for parameter in detector.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.3)
    save_checkpoint(detector, path)
    return path


def test_a_model_follows_itself_exactly_and_another_less(flat_manifest, tmp_path):
    teacher = _saved(TEACHER, tmp_path / "teacher", 1)
    student = _saved(STUDENT, tmp_path / "student", 2)
    out = tmp_path / "report.json"
    args = ["--data", str(flat_manifest), "--split", "train", "--images", "6", "--max-crops", "2", "--threads", "1"]
    assert main(["--student", str(teacher), "--teacher", str(teacher), "--out", str(out), *args]) == 0
    itself = json.loads(out.read_text())["groups"]
    assert (itself["all"]["images"], itself["all"]["crops"]) == (6, 12) and set(itself) == {"all", "real", "upsample"}
    assert itself["all"]["probability_correlation"] == pytest.approx(1.0)
    assert itself["all"]["probability_mean_gap"] == pytest.approx(0.0, abs=1e-6)
    assert itself["all"]["mix_top1_agreement"] == 1.0 and itself["all"]["map_cell_correlation"] == pytest.approx(1.0)
    table = itself["all"]["mix_top1_table"]  # by the teacher's expert names; agreeing crops on the diagonal
    assert set(table) == set(EXPERTS) and sum(table[e][e] for e in EXPERTS) == 12

    assert main(["--student", str(student), "--teacher", str(teacher), "--out", str(out), *args]) == 0
    other = json.loads(out.read_text())["groups"]["all"]
    assert other["probability_mean_gap"] > 0.01 and other["mix_mean_abs_difference"] > 0.01
    assert other["map_cell_correlation"] is None or other["map_cell_correlation"] < 0.999


def test_models_that_cannot_be_compared_are_refused_in_words(flat_manifest, tmp_path, capsys):
    teacher = _saved(TEACHER, tmp_path / "teacher", 1)
    reversed_mix = _saved(replace(STUDENT, expert_mix=EXPERTS[::-1]), tmp_path / "reversed", 2)
    other_crops = _saved(replace(STUDENT, crop_size=48), tmp_path / "bigger", 2)
    for student, words in ((reversed_mix, "are not the teacher's"), (other_crops, "48 px crops, the teacher 32 px"),
                           (tmp_path / "nowhere", "is not a usable checkpoint")):
        with pytest.raises(SystemExit):
            main(["--student", str(student), "--teacher", str(teacher), "--data", str(flat_manifest)])
        assert words in capsys.readouterr().err


def test_the_expert_table_reads_teacher_rows_against_student_columns():
    """Row: the expert the teacher weighs most; column: the student's. Two crops the teacher calls
    upsampling, one of which the student calls reconstruction."""
    def side(mix):
        return {"probability": [np.array([0.1, 0.2, 0.3])], "mix": [np.array(mix)], "map": []}

    teacher = side([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]])
    student = side([[0.7, 0.3], [0.4, 0.6], [0.2, 0.8]])
    figures = agreement(student, teacher, EXPERTS)
    assert figures["mix_top1_table"] == {"upsample": {"upsample": 1, "reconstruct": 1},
                                         "reconstruct": {"upsample": 0, "reconstruct": 1}}
    assert figures["mix_top1_agreement"] == pytest.approx(2 / 3) and figures["images"] == 1

