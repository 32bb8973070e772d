"""GAMMA's manipulation maps against the forge's masks: pixel IoU on held-out inpaints.

    python -m training.segmentation --checkpoint RUN/checkpoint --data MANIFEST --split val \
        [--crops-per-image 4] [--threshold 0.5] [--out RUN/segmentation_val.json]

Crops are cut as training cuts them (around a manipulated pixel of an inpaint, anywhere in a
real; no augmentation; a fixed seed), and only those that training would label fake (at least
``min_manipulated`` of the crop manipulated) count as fakes. A map cell is predicted manipulated
when its probability reaches ``--threshold``; it is truly manipulated when at least half of its
pixels are in the mask. Figures:

- ``pixel_iou``: intersection over union of the fake crops' cells, all crops pooled;
- ``mean_crop_iou``: the mean over fake crops (a crop with neither truth nor prediction counts 1);
- ``real_cells_flagged``: the share of real crops' cells predicted manipulated (false alarms);
- ``all_cells_iou``: the pooled IoU of a map that flags every cell, the floor a useful map beats
  (crops cut around manipulated pixels are often mostly manipulated);
- ``cell_ap``: average precision of the cell probabilities against the cells' truth, over the cells
  of every crop (a real crop's are all negatives): no threshold, so it ranks maps by themselves.

``--threshold`` takes a comma list too (``0.2,0.3,0.5``): the thresholded figures for each, under
``by_threshold``, the first at the top level. Choose a threshold on val and give only it on test.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training.augment import AugmentConfig
from training.domains import MIN_MANIPULATED
from training.train_data import RecordFilter, TrainingSet


@dataclass
class MapScores:
    """Running counts over crops; ``add`` takes one batch of probabilities and masks on the map's cells."""
    threshold: float = 0.5
    intersection: int = 0
    union: int = 0
    crop_ious: list[float] = field(default_factory=list)
    real_cells: int = 0
    real_flagged: int = 0
    fake_cells: int = 0
    fake_truth: int = 0

    def add(self, probabilities: np.ndarray, truth: np.ndarray, is_fake: np.ndarray) -> None:
        """probabilities, truth: [B, h, w] (truth boolean); is_fake: [B] boolean."""
        predicted = probabilities >= self.threshold
        for crop_predicted, crop_truth, fake in zip(predicted, truth, is_fake, strict=True):
            if not fake:
                self.real_cells += crop_predicted.size
                self.real_flagged += int(crop_predicted.sum())
                continue
            self.fake_cells += crop_truth.size
            self.fake_truth += int(crop_truth.sum())
            inter, union = int((crop_predicted & crop_truth).sum()), int((crop_predicted | crop_truth).sum())
            self.intersection += inter
            self.union += union
            self.crop_ious.append(inter / union if union else 1.0)

    def summary(self) -> dict:
        return {"pixel_iou": self.intersection / self.union if self.union else None,
                "mean_crop_iou": float(np.mean(self.crop_ious)) if self.crop_ious else None,
                "real_cells_flagged": self.real_flagged / self.real_cells if self.real_cells else None,
                "all_cells_iou": self.fake_truth / self.fake_cells if self.fake_cells else None,
                "fake_crops": len(self.crop_ious), "threshold": self.threshold}


def cell_truth(masks: torch.Tensor, cells: tuple[int, int]) -> np.ndarray:
    """[B, S, S] masks in {0, 1} -> [B, h, w] booleans: at least half of a cell's pixels manipulated."""
    return (F.adaptive_avg_pool2d(masks[:, None].float(), cells)[:, 0] >= 0.5).numpy()


@torch.no_grad()
def score_maps(detector, manifest_path: str, split: str, crops_per_image: int = 4,
               thresholds: Sequence[float] = (0.5,), batch_size: int = 32, seed: int = 0,
               min_manipulated: float = MIN_MANIPULATED) -> dict:
    if not detector.config.gamma.enabled:
        raise ValueError("this checkpoint has no GAMMA heads: it draws no manipulation maps")
    dataset = TrainingSet(manifest_path, RecordFilter(split, ("inpaint",)), detector.crop_size,
                          AugmentConfig(enabled=False), seed, with_masks=True,
                          domain_classes=detector.config.gamma.domains, min_manipulated=min_manipulated)
    keys = [(index, (seed, 0, draw)) for index in range(len(dataset)) for draw in range(crops_per_image)]
    by_threshold = [MapScores(threshold) for threshold in thresholds]
    probabilities, truths = [], []
    for start in range(0, len(keys), batch_size):
        items = [dataset[key] for key in keys[start:start + batch_size]]
        pixels = torch.stack([item["image"] for item in items]).permute(0, 3, 1, 2).float().div(255.0)
        maps = detector(detector.normalize(pixels)).artifact_map
        masks = torch.stack([item["mask"] for item in items])
        labels = np.array([float(item["label"]) == 1.0 for item in items])
        probability, truth = torch.sigmoid(maps[:, 0]).numpy(), cell_truth(masks, tuple(maps.shape[-2:]))
        truth &= labels[:, None, None]  # a crop training labels real has no manipulated cell
        for scores in by_threshold:
            scores.add(probability, truth, labels)
        probabilities.append(probability.ravel())
        truths.append(truth.ravel())
    summaries = [scores.summary() for scores in by_threshold]
    return {**summaries[0], "cell_ap": cell_average_precision(probabilities, truths),
            "by_threshold": summaries, "split": split, "crops_per_image": crops_per_image,
            "map_cells": list(maps.shape[-2:]) if keys else None, "records": len(dataset)}


def cell_average_precision(probabilities: list[np.ndarray], truths: list[np.ndarray]) -> float | None:
    """AP of cell probabilities against cell truth, pooled; None without a manipulated cell."""
    from sklearn.metrics import average_precision_score

    truth = np.concatenate(truths) if truths else np.zeros(0, bool)
    if not truth.any():
        return None
    return float(average_precision_score(truth, np.concatenate(probabilities)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.segmentation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True, help="the forge's manifest.jsonl")
    parser.add_argument("--split", default="val")
    parser.add_argument("--crops-per-image", type=int, default=4)
    parser.add_argument("--threshold", default="0.5", help="a cell's probability that counts as manipulated; a comma list compares several")
    parser.add_argument("--out", help="write the figures here as JSON too")
    args = parser.parse_args(argv)
    from training.checkpoint import load_checkpoint

    try:
        thresholds = [float(value) for value in args.threshold.split(",")]
        if not all(0.0 < value < 1.0 for value in thresholds):
            raise ValueError(f"thresholds are probabilities strictly between 0 and 1, not {args.threshold!r}")
        figures = score_maps(load_checkpoint(args.checkpoint), args.data, args.split, args.crops_per_image, thresholds)
    except ValueError as error:
        print(f"training.segmentation: {error}", file=sys.stderr)
        return 2
    text = json.dumps(figures, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
