"""Helpers for the model-core tests: tiny detectors, a chelsea crop, one optimiser step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training import DetectorConfig, create_detector


@pytest.fixture(autouse=True)
def _seeded_single_thread():
    """Seeded, and one intra-op thread: on a small shared CPU, torch's spinning thread pool
    makes these tiny models tens of times slower than one thread does."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def chelsea_crop() -> np.ndarray:
    """The 224x224 centre of scikit-image's chelsea (a tabby cat), uint8 HWC."""
    from skimage import data

    image = data.chelsea()
    top, left = (image.shape[0] - 224) // 2, (image.shape[1] - 224) // 2
    return np.ascontiguousarray(image[top : top + 224, left : left + 224])


def to_input(crop: np.ndarray, data_config) -> torch.Tensor:
    pixels = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
    return data_config.normalize(pixels)


def build(backbone: str = "tiny_vit", **changes) -> torch.nn.Module:
    return create_detector(DetectorConfig(backbone=backbone, **changes))


def sample_input(backbone: str, batch: int = 2, height: int | None = None, width: int | None = None) -> torch.Tensor:
    """Small inputs: 32 px for tiny_vit, 64 px for EfficientNet (two grid cells)."""
    side = 32 if backbone == "tiny_vit" else 64
    return torch.randn(batch, 3, height or side, width or side)


def total_loss(output) -> torch.Tensor:
    loss = torch.nn.functional.binary_cross_entropy_with_logits(output.logit, torch.ones_like(output.logit))
    for extra in (output.artifact_map, output.domain_map):
        if extra is not None:
            loss = loss + extra.square().mean()
    return loss + sum(output.aux_losses.values(), torch.zeros(()))


def optimiser_step(model: torch.nn.Module, inputs: torch.Tensor) -> None:
    """One AdamW step (with weight decay) over *all* parameters: frozen ones must still not move."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    model.train()
    total_loss(model(inputs)).backward()
    optimiser.step()
    model.eval()
