"""The checkpoint scorer (calibration and evaluation) scores a LoRA-folded, channels-last copy: it must
give the training graph's logits, for every method, and leave the detector it was given untouched."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from training import create_detector
from training.adapters import adapter_parameters
from training.config import DetectorConfig, GammaConfig, SefConfig
from training.scoring import TorchScorer

CONFIGS = {
    "mixed": DetectorConfig(backbone="efficientnet_lite0", crop_size=64),
    "sef+gamma": DetectorConfig(backbone="efficientnet_lite0", crop_size=64, method="sef",
                                sef=SefConfig(experts=("upsample", "reconstruct")), gamma=GammaConfig(enabled=True)),
    "mole (not foldable)": DetectorConfig(backbone="tiny_vit", weights="random", crop_size=32, adapter="mole"),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_scorer_gives_the_training_graphs_logits(name):
    torch.manual_seed(0)
    detector = create_detector(CONFIGS[name])
    with torch.no_grad():  # trained-looking adapters and heads: LoRA's B and the head start at zero
        for parameter in [*adapter_parameters(detector), *detector.head.parameters()]:
            parameter.normal_(0, 0.05)
    crops = np.random.default_rng(0).integers(0, 256, (6, detector.crop_size, detector.crop_size, 3), dtype=np.uint8)
    bare = copy.deepcopy(detector)
    with torch.no_grad():
        for parameter in adapter_parameters(bare):
            parameter.zero_()
    with torch.inference_mode():
        pixels = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255.0)
        expected = detector(detector.normalize(pixels)).logit.reshape(-1).numpy()
        without_adapters = bare(bare.normalize(pixels)).logit.reshape(-1).numpy()
    before = {key: value.clone() for key, value in detector.state_dict().items()}

    scores = TorchScorer(detector, batch=4)(crops)

    assert np.abs(expected - without_adapters).max() > 0.01  # the adapters matter, so folding them is tested
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=1e-4)
    after = detector.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)
