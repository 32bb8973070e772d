"""The crops the texture plan picks, and the shipped model's logits on them, pinned for a few images.

The windows were recorded from the code before the plan was made faster (commit 4b0732f) and are
listed best first (the plan's order since the cascade was found deciding on the top-most crops; the
same windows, the recorded logits permuted with them), the logits from the shipped model's file (version 13, each expert folded into its own backbone, the
copies stored as one plus low-rank differences; its export matched the batched torch experts within
2e-5): a faster plan, decoder or export must choose the very same windows and give the same
scores, or every stored result and every calibration is silently off. The photos cover JPEG, PNG and WebP samples, an
photo turned a quarter (a transposed array), 1 MP sizes with even and odd sides, and a 12 MP image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import contract
from engine.decode import decode_image
from engine.model import Detector

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "engine" / "samples"
MODEL = ROOT / "engine" / "models" / "synthspot-lite0-fp32.onnx"
INT8_MODEL = ROOT / "engine" / "models" / "synthspot-lite0-int8.onnx"  # the CPU default (engine/models/default.json)


def _synthetic(height: int, width: int, seed: int) -> np.ndarray:
    """scikit-image's astronaut tiled to the size, with a little integer noise (no resampling, no codec)."""
    from skimage import data

    base = data.astronaut()
    image = np.tile(base, (-(-height // 512), -(-width // 512), 1))[:height, :width].astype(np.int16)
    image += np.random.default_rng(seed).integers(-6, 7, size=image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def _image(name: str) -> np.ndarray:
    if name.startswith("synthetic"):
        height, width = (int(v) for v in name.split()[1].split("x"))
        return _synthetic(height, width, {864: 0, 865: 1, 3001: 2}[height])
    rgb = decode_image((SAMPLES / name.split()[0]).read_bytes()).rgb
    return np.rot90(rgb, -1) if name.endswith("orientation 6") else rgb  # a turned photo: another pixel layout


# {image: {(crop_size, max_crops): [(top, left), ...]}}
PLANS = {
    "chelsea.jpg": {
        (96, 8): [(0, 178), (122, 133), (0, 44), (122, 266), (122, 0), (0, 311), (204, 133), (204, 222)],
        (64, 12): [
            (0, 179), (118, 119), (30, 89), (30, 268), (206, 149), (118, 208), (118, 298), (206, 238), (206, 60),
            (88, 0), (118, 387), (236, 327),
        ],
        (160, 5): [(0, 146), (140, 146), (0, 0), (140, 0), (70, 291)],
    },
    "coffee.png": {
        (96, 8): [(104, 0), (69, 163), (0, 41), (69, 82), (0, 122), (0, 204), (35, 0), (104, 122)],
        (64, 12): [
            (109, 0), (82, 148), (27, 0), (136, 236), (0, 88), (0, 177), (136, 148), (54, 88), (136, 59), (82, 236),
            (27, 236), (54, 177),
        ],
        (160, 5): [(40, 0), (40, 140), (0, 0), (0, 140)],
    },
    "rocket.webp": {
        (96, 8): [(118, 0), (118, 134), (0, 0), (0, 224), (118, 224), (39, 134), (79, 90), (0, 90)],
        (64, 12): [
            (150, 32), (150, 128), (150, 256), (60, 0), (150, 192), (60, 128), (60, 256), (60, 192), (60, 64), (0, 0),
            (0, 256), (0, 192),
        ],
        (160, 5): [(54, 0), (54, 160), (0, 0), (0, 160)],
    },
    "chelsea.jpg orientation 6": {
        (96, 8): [(178, 204), (133, 82), (44, 204), (266, 82), (311, 204), (0, 82), (133, 0), (222, 0)],
        (64, 12): [
            (179, 236), (119, 118), (268, 206), (89, 206), (149, 30), (208, 118), (298, 118), (238, 30), (60, 30),
            (0, 148), (387, 118), (0, 236),
        ],
        (160, 5): [(146, 140), (146, 0), (0, 140), (0, 0), (291, 70)],
    },
    "synthetic 864x1152": {
        (96, 8): [(336, 624), (336, 144), (672, 624), (336, 240), (192, 624), (192, 96), (672, 96), (432, 192)],
        (64, 12): [
            (352, 128), (352, 640), (448, 224), (448, 736), (192, 608), (704, 96), (704, 608), (192, 96), (320, 256),
            (320, 768), (800, 736), (800, 224),
        ],
        (160, 5): [(313, 153), (235, 687), (704, 153), (469, 687), (704, 610)],
    },
    "synthetic 865x1153": {
        (96, 8): [(362, 643), (362, 138), (181, 92), (181, 597), (679, 92), (679, 597), (769, 735), (769, 230)],
        (64, 12): [
            (370, 653), (370, 156), (185, 622), (709, 622), (339, 778), (709, 124), (339, 249), (185, 124),
            (462, 218), (431, 747), (801, 747), (246, 716),
        ],
        (160, 5): [(313, 153), (235, 687), (705, 153), (470, 687), (705, 611)],
    },
    "synthetic 3001x4003": {
        (96, 8): [
            (857, 1144), (2905, 3192), (1381, 3192), (1381, 1144), (2905, 1144), (857, 3192), (2381, 3192),
            (857, 2668),
        ],
        (64, 12): [
            (862, 2700), (351, 2700), (351, 3208), (862, 3208), (351, 2192), (862, 2192), (1373, 2700), (1884, 2700),
            (1884, 3208), (1373, 3208), (1884, 2192), (1373, 2192),
        ],
        (160, 5): [(868, 3216), (868, 2196), (1894, 3216), (868, 1176), (1894, 2196)],
    },
}

# The shipped fp32 file's crop logits on the (96, 8) plan above (scripts/record_pinned_logits.py prints them anew).
LOGITS = {
    "chelsea.jpg": [
        -0.322002, 0.496970, 1.470351, 2.448233,
        0.415723, 1.091915, 0.144836, 0.402185,
    ],
    "chelsea.jpg orientation 6": [
        -0.189387, 0.315882, -0.253067, 3.783451,
        2.648177, -0.055365, 0.145644, 3.591522,
    ],
    "coffee.png": [
        0.125983, -0.314107, -0.070318, -0.586330,
        -0.288716, -0.314796, -0.177494, -0.496124,
    ],
    "rocket.webp": [
        -0.534206, 0.053300, 0.138783, -0.267562,
        -0.156775, -0.282535, 0.080961, -0.125927,
    ],
    "synthetic 3001x4003": [
        -1.856327, -1.565392, -1.313846, -1.424265,
        -1.549860, -1.772176, -1.868730, -1.277024,
    ],
    "synthetic 864x1152": [
        -1.390075, -2.087506, -0.192229, -0.311883,
        -0.564955, -0.693715, -0.161022, -0.424695,
    ],
    "synthetic 865x1153": [
        -1.275608, -1.311198, -0.397462, -0.785238,
        -0.087669, -0.815044, -2.075108, -2.033379,
    ],
}


# The int8 file's (scripts/record_pinned_logits.py --model engine/models/synthspot-lite0-int8.onnx --name INT8_LOGITS).
INT8_LOGITS = {
    "chelsea.jpg": [
        -0.277091, 0.458200, 0.795832, 2.099144,
        0.256871, 0.655561, 0.099850, 0.142308,
    ],
    "chelsea.jpg orientation 6": [
        -0.178454, 0.251269, -0.265139, 3.405463,
        2.459503, -0.286520, 0.162377, 3.455202,
    ],
    "coffee.png": [
        0.097844, -0.440518, -0.115258, -0.581837,
        -0.240857, -0.258735, -0.258066, -0.468645,
    ],
    "rocket.webp": [
        -0.525509, 0.093570, 0.135491, -0.256269,
        -0.147159, -0.364028, 0.093588, -0.107737,
    ],
    "synthetic 3001x4003": [
        -1.873270, -1.577386, -1.277749, -1.458589,
        -1.662321, -1.803994, -1.886933, -1.419381,
    ],
    "synthetic 864x1152": [
        -1.504877, -2.094476, -0.235667, -0.363207,
        -0.594184, -0.743982, -0.272478, -0.449834,
    ],
    "synthetic 865x1153": [
        -1.320100, -1.378790, -0.526077, -0.801926,
        -0.376825, -0.823834, -2.184911, -2.087033,
    ],
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_texture_plan_picks_the_pinned_windows(name):
    rgb = _image(name)
    for (crop_size, max_crops), expected in PLANS[name].items():
        boxes = contract.plan_for(rgb, crop_size, max_crops, "texture")
        assert [(box.top, box.left) for box in boxes] == [tuple(box) for box in expected], (crop_size, max_crops)
        assert all(box.size == crop_size for box in boxes)


@pytest.fixture(scope="module")
def shipped_models():
    return {}  # one session per file, made on first use


def pinned_crop_logits(detector: Detector, name: str) -> np.ndarray:
    """The model's logits on the image's (96, 8) texture-plan crops (scripts/record_pinned_logits.py too)."""
    rgb = _image(name)
    return detector.run(contract.extract_crops(rgb, contract.plan_for(rgb, 96, 8, "texture"))).logits


# Per file: its pinned logits and the tolerance for other CPUs' kernels only (on the machine that recorded them
# they are bit for bit; integer kernels differ more between CPUs, with and without VNNI, while a changed range or
# stage moves an int8 logit by 0.1-1).
PINNED = {MODEL: (LOGITS, 2e-5), INT8_MODEL: (INT8_LOGITS, 0.02)}


@pytest.mark.parametrize("model", sorted(PINNED), ids=lambda path: path.name)
@pytest.mark.parametrize("name", sorted(LOGITS))
def test_the_shipped_models_score_the_pinned_crops_as_before(model, name, shipped_models):
    if model not in shipped_models:
        shipped_models[model] = Detector(model, provider="cpu")
    pinned, tolerance = PINNED[model]
    np.testing.assert_allclose(pinned_crop_logits(shipped_models[model], name), pinned[name], rtol=0, atol=tolerance)


def test_jpeg_quality_is_the_closest_ijg_table_as_the_quality_by_quality_search_found():
    """The vectorised estimate against the search it replaced, on exact, perturbed and odd tables."""
    from engine.decode import _IJG_LUMINANCE, estimate_jpeg_quality

    def searched(table):
        base = np.asarray(_IJG_LUMINANCE, dtype=np.float64)
        best_quality, best_error = None, float("inf")
        for quality in range(1, 101):
            scale = 5000 / quality if quality < 50 else 200 - 2 * quality
            expected = np.clip(np.floor((base * scale + 50) / 100), 1, 255)
            error = float(np.abs(np.sort(expected) - np.sort(table)).mean())
            if error < best_error:
                best_quality, best_error = quality, error
        return best_quality

    class Tables:
        def __init__(self, table):
            self.quantization = {0: [int(v) for v in table]}

    rng = np.random.default_rng(0)
    base = np.asarray(_IJG_LUMINANCE, dtype=np.float64)
    for trial in range(600):
        quality = int(rng.integers(1, 101))
        scale = 5000 / quality if quality < 50 else 200 - 2 * quality
        table = np.clip(np.floor((base * scale + 50) / 100), 1, 255)
        table = [table, table + rng.integers(-3, 4, 64), rng.integers(1, 256, 64),
                 rng.integers(1, 65536, 64)][trial % 4]
        table = np.clip(table, 1, None)
        assert estimate_jpeg_quality(Tables(table)) == searched(table), table


@pytest.mark.parametrize("size", [(1, 1), (451, 300), (1153, 865)])
def test_rgb_pixels_are_pillows_whether_in_one_strip_or_many(size):
    from PIL import Image

    from engine.pixels import to_rgb_array

    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    for strip_pixels in (1 << 22, 1000, 37):
        rgb = to_rgb_array(image, strip_pixels)
        assert rgb.flags.writeable and rgb.flags.c_contiguous
        np.testing.assert_array_equal(rgb, np.asarray(image))
