"""The evaluation's perturbations: what each does to an image, since the held-out figures per
processing (blur, half size, bicubic x2, JPEG) are only as true as these functions."""
import numpy as np
import pytest
from skimage import data

from training.perturbations import PERTURBATIONS


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[:96, :128])


def _high_frequency(rgb: np.ndarray) -> float:
    grey = rgb.astype(np.float64).mean(axis=2)
    return float(np.abs(np.diff(grey, axis=1)).mean())


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_every_perturbation_returns_an_rgb_image(photo, name):
    out = PERTURBATIONS[name](photo)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert not np.array_equal(out, photo)


def test_resizes_change_the_size_by_their_factor(photo):
    assert PERTURBATIONS["downscale0.5"](photo).shape[:2] == (48, 64)
    assert PERTURBATIONS["upscale2"](photo).shape[:2] == (192, 256)


def test_upscaling_and_blur_remove_detail_per_pixel(photo):
    # a bicubic x2 spreads each edge over two pixels; a sigma-1 blur smooths in place
    assert _high_frequency(PERTURBATIONS["upscale2"](photo)) < 0.6 * _high_frequency(photo)
    assert _high_frequency(PERTURBATIONS["blur1"](photo)) < 0.85 * _high_frequency(photo)


def test_jpeg_quality_orders_the_loss(photo):
    def error(name):
        return np.abs(PERTURBATIONS[name](photo).astype(int) - photo).mean()
    assert error("jpeg95") < error("jpeg75") < error("jpeg50")
