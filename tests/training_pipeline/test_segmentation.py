"""GAMMA map scoring (training.segmentation): the IoU arithmetic on known maps, and the command on a
real GAMMA detector over a one-inpaint manifest."""

import json

import numpy as np
import pytest
import torch

from tests.training_pipeline.test_partial_fake_labels import _inpaint_manifest
from training.checkpoint import save_checkpoint
from training.config import DetectorConfig, GammaConfig
from training.detector import create_detector
from training.segmentation import MapScores, cell_average_precision, cell_truth, main


def test_iou_pools_fake_crops_and_counts_false_alarms_on_reals():
    scores = MapScores(threshold=0.5)
    truth = np.zeros((3, 2, 2), bool)
    truth[0, 0, :] = True  # crop 0: two cells manipulated, predicted one of them and one more
    truth[1, 0, 0] = True  # crop 1: predicted exactly
    predicted = np.zeros((3, 2, 2))
    predicted[0, 0, 0] = predicted[0, 1, 1] = 0.9
    predicted[1, 0, 0] = 0.5
    predicted[2, 1, 0] = 0.7  # crop 2 is real: one of its four cells flagged
    scores.add(predicted, truth, np.array([True, True, False]))
    summary = scores.summary()
    assert summary["pixel_iou"] == pytest.approx(2 / 4)  # (1 + 1) / (3 + 1)
    assert summary["mean_crop_iou"] == pytest.approx((1 / 3 + 1) / 2)
    assert summary["real_cells_flagged"] == pytest.approx(1 / 4)
    assert summary["fake_crops"] == 2
    assert summary["all_cells_iou"] == pytest.approx(3 / 8)  # three of the fake crops' eight cells are manipulated


def test_a_cell_is_manipulated_when_half_its_pixels_are():
    masks = torch.zeros(1, 16, 16)
    masks[0, :8, :4] = 1  # the top-left 8 x 8 cell half manipulated, the top-right one not at all
    assert cell_truth(masks, (2, 2)).tolist() == [[[True, False], [False, False]]]


def test_the_command_scores_a_gamma_checkpoint_and_refuses_one_without_maps(tmp_path, capsys):
    path = _inpaint_manifest(tmp_path, size=128, box=48)
    torch.manual_seed(0)
    gamma = DetectorConfig(backbone="tiny_vit", crop_size=32, gamma=GammaConfig(enabled=True, seg_dim=8))
    save_checkpoint(create_detector(gamma), tmp_path / "gamma")
    out = tmp_path / "seg.json"
    assert main(["--checkpoint", str(tmp_path / "gamma"), "--data", str(path), "--split", "train",
                 "--crops-per-image", "5", "--out", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["records"] == 2 and figures["map_cells"] == [4, 4]  # tiny_vit: 8 px patches, 1/8 already
    assert 1 <= figures["fake_crops"] <= 5  # crops of the inpaint that training would label fake
    assert 0 <= figures["pixel_iou"] <= 1 and 0 <= figures["real_cells_flagged"] <= 1
    assert figures["threshold"] == 0.5 and [row["threshold"] for row in figures["by_threshold"]] == [0.5]
    assert main(["--checkpoint", str(tmp_path / "gamma"), "--data", str(path), "--split", "train",
                 "--crops-per-image", "5", "--threshold", "0.01,0.99", "--out", str(out)]) == 0
    swept = json.loads(out.read_text())
    low, high = swept["by_threshold"]
    assert swept["threshold"] == low["threshold"] == 0.01 and high["threshold"] == 0.99
    # a threshold below every probability flags every cell: its IoU is the all-cells floor
    assert low["pixel_iou"] == pytest.approx(low["all_cells_iou"]) and low["real_cells_flagged"] == 1.0
    assert high["pixel_iou"] <= low["pixel_iou"]
    assert swept["cell_ap"] == figures["cell_ap"]  # threshold-free: the same maps give the same AP
    assert main(["--checkpoint", str(tmp_path / "gamma"), "--data", str(path), "--split", "train",
                 "--threshold", "0.5,1.5"]) == 2
    assert "strictly between 0 and 1" in capsys.readouterr().err
    save_checkpoint(create_detector(DetectorConfig(backbone="tiny_vit", crop_size=32)), tmp_path / "plain")
    assert main(["--checkpoint", str(tmp_path / "plain"), "--data", str(path), "--split", "train"]) == 2
    assert "no GAMMA heads" in capsys.readouterr().err


def test_cell_ap_ranks_maps_without_a_threshold():
    truth = [np.array([True, False, False]), np.array([True, False])]
    perfect = [np.array([0.3, 0.1, 0.2]), np.array([0.4, 0.0])]  # every manipulated cell above every other
    assert cell_average_precision(perfect, truth) == pytest.approx(1.0)
    inverted = [np.array([0.1, 0.9, 0.8]), np.array([0.2, 0.7])]
    assert cell_average_precision(inverted, truth) < 0.5
    assert cell_average_precision([np.array([0.5])], [np.array([False])]) is None
