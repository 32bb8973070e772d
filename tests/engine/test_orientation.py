"""EXIF orientation says how to show an image, not what it is: the model scores the pixels as stored
(as training saw them), and the crops and the heatmap come back in the layout a viewer shows."""

import numpy as np
import pytest
from PIL import Image

from engine.contract import CropBox
from engine.model import Detector
from engine.orientation import shown_array, shown_box, shown_size
from engine.scanner import Scanner, ScanRequest

from tests.engine.test_decode import encode

ROOT_MODEL = "engine/models/synthspot-lite0-fp32.onnx"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_stored_crop_shows_where_its_box_says(orientation):
    stored = np.random.default_rng(orientation).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    shown = shown_array(stored, orientation)
    assert shown.shape[:2] == shown_size(37, 53, orientation)
    for top, left, size in ((0, 0, 8), (5, 11, 16), (21, 37, 16), (29, 45, 8)):
        box = shown_box(CropBox(top, left, size), orientation, 37, 53)
        crop = stored[top:top + size, left:left + size]
        assert np.array_equal(shown[box.top:box.top + size, box.left:box.left + size], shown_array(crop, orientation))


def test_a_crop_padded_past_a_small_image_starts_at_the_shown_edge():
    # A 96 px crop of a 40 x 60 image (padded at the stored bottom and right): inside the shown image.
    for orientation in range(1, 9):
        box = shown_box(CropBox(0, 0, 96), orientation, 40, 60)
        assert (box.top, box.left, box.size) == (0, 0, 96)


def _tagged(path, array, orientation):
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    path.write_bytes(encode(image, "PNG", exif=exif))
    return path


def test_the_flag_alone_does_not_change_the_score(tmp_path):
    photo = np.asarray(Image.open("engine/samples/chelsea.jpg").convert("RGB"))
    paths = [_tagged(tmp_path / f"chelsea-{o}.png", photo, o) for o in (1, 3, 6, 8)]
    with Scanner(Detector(ROOT_MODEL)) as scanner:
        results = scanner.scan([ScanRequest(path=str(p)) for p in paths])
    assert [(r.width, r.height) for r in results] == [(451, 300), (451, 300), (300, 451), (300, 451)]
    assert len({r.probability for r in results}) == 1, [r.probability for r in results]
    assert len({r.verdict for r in results}) == 1
    for result in results:  # every crop inside the image as shown
        assert all(c.top + min(c.size, result.height) <= result.height and c.left + min(c.size, result.width)
                   <= result.width for c in result.crops)
        heat = np.array(result.artifact_map, dtype=float)
        assert (heat.shape[0] > heat.shape[1]) == (result.height > result.width)


def test_crops_and_heatmap_come_back_in_the_shown_layout(tmp_path, brightness_model_path):
    stored = np.zeros((64, 96, 3), np.uint8)
    stored[:, :48] = 250  # bright left half as stored; orientation 6 (turn clockwise) shows it on top
    path = _tagged(tmp_path / "turned.png", stored, 6)
    with Scanner(Detector(brightness_model_path)) as scanner:
        [result] = scanner.scan([ScanRequest(path=str(path))])
    assert (result.width, result.height) == (64, 96)
    bright = {(c.top, c.left) for c in result.crops if c.probability > 0.9}
    dark = {(c.top, c.left) for c in result.crops if c.probability < 0.1}
    assert bright and dark and max(top for top, _ in bright) < min(top for top, _ in dark)
    heat = np.array(result.artifact_map, dtype=float)
    assert heat.shape == (12, 8)  # 8 px per cell, taller than wide as shown
    assert heat[:5].mean() > 0.9 and heat[7:].mean() < 0.1
