"""Fixtures shared by every test folder: contract models and real photos."""

from __future__ import annotations

import os

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


def fine_checker(height: int, width: int) -> np.ndarray:
    """±2 grey levels alternating pixel by pixel: detail enough for the engine, no change of mean."""
    return (np.indices((height, width)).sum(axis=0) % 2) * 4 - 2


def solid_image(path, value: int, size=(64, 48), fmt=None, **save):
    """Write a grey image of mean brightness ``value`` (kept 2 levels from black and white) with a fine
    ±2 checker: the brightness model scores it from the mean alone, and the engine finds detail enough
    to judge (a truly flat image is "uncertain" whatever its score)."""
    Image.fromarray(checkered_grey(value, size)).save(path, format=fmt, **save)
    return path


def checkered_grey(value: int, size=(64, 48)) -> np.ndarray:
    """``solid_image``'s pixels: RGB uint8 of mean ``value`` (kept 2 levels from black and white) with the
    fine ±2 checker."""
    width, height = size
    grey = np.clip(value, 2, 253) + fine_checker(height, width)
    return np.repeat(grey[..., None], 3, axis=2).astype(np.uint8)


def nest_past_the_path_limit(root, image: bytes) -> None:
    """Folders nested deeper than Linux's 4,096-byte path limit (made through directory handles, as an
    archive tool can), ``image`` at the bottom as deep.png: no path names it, so no listing can open it."""
    handle = os.open(root, os.O_RDONLY)
    try:
        for level in range(20):
            name = f"{level:02d}" + "d" * 218
            os.mkdir(name, dir_fd=handle)
            deeper = os.open(name, os.O_RDONLY, dir_fd=handle)
            os.close(handle)
            handle = deeper
        with os.fdopen(os.open("deep.png", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=handle), "wb") as out:
            out.write(image)
    finally:
        os.close(handle)
