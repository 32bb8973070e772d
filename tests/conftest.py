"""Fixtures shared by every test folder: contract models and real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def brightness_model_path(tmp_path_factory):
    """A contract model whose logit is 8 * (mean brightness - 0.5), with experts and an artifact map."""
    from tests.fixtures.synthetic import brightness_model

    folder = tmp_path_factory.mktemp("models")
    return brightness_model(folder / "brightness.onnx", crop_size=32,
                            experts=("reconstruction", "upsampling"), artifact_map_cells=4)


@pytest.fixture(scope="session")
def plain_model_path(tmp_path_factory):
    """A contract model with only the required output."""
    from tests.fixtures.synthetic import brightness_model

    folder = tmp_path_factory.mktemp("models")
    return brightness_model(folder / "plain.onnx", crop_size=32, name="test-plain")


@pytest.fixture(scope="session")
def real_photo() -> np.ndarray:
    """A real photograph (scikit-image's chelsea, 300x451) as uint8 RGB."""
    from skimage import data

    return data.chelsea()


def solid_image(path, value: int, size=(64, 48), fmt=None, **save):
    """Write a flat grey image; the brightness model scores it from ``value`` alone."""
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path, format=fmt, **save)
    return path
