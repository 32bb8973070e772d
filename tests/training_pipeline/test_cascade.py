"""The cascade of crops end to end: stamped after export (export.cascade), scored alike by the engine
and by training's evaluation (the figures a cascade model is judged by come from the same rule)."""

import math

import numpy as np
import onnx
import pytest
from PIL import Image

from engine.contract import KEY_EARLY_EXIT, EarlyExit, ModelMetadata
from engine.model import Detector
from engine.scanner import Scanner, ScanRequest
from export.cascade import main as cascade_main
from tests.conftest import solid_image
from tests.fixtures.synthetic import brightness_model
from training.scoring import load_scorer, score_image


def logistic(logit: float) -> float:  # the expected probability, computed apart from the engine's
    return 1.0 / (1.0 + math.exp(-logit))


def test_the_engine_and_evaluation_score_a_cascade_model_alike(tmp_path, capsys):
    plain = brightness_model(tmp_path / "plain.onnx")
    fast = tmp_path / "models" / "fast.onnx"  # a folder not made yet, as `python -m export --out` takes one
    assert cascade_main(["--model", str(plain), "--first-crops", "2", "--margin", "0.05", "--out", str(fast)]) == 0
    assert "test-brightness 1+cascade, cascade first 2 of 8 crops, margin 0.05" in capsys.readouterr().out
    metadata = ModelMetadata.from_props({p.key: p.value for p in onnx.load(str(fast)).metadata_props})
    assert metadata.early_exit == EarlyExit(2, 0.05)
    paths = [solid_image(tmp_path / f"{value}.png", value, size=(128, 64)) for value in (10, 120, 250)]
    half = np.full((64, 128, 3), 250, np.uint8)
    half[:, 64:] = 10
    Image.fromarray(half).save(tmp_path / "half.png")
    paths.append(tmp_path / "half.png")
    with Scanner(Detector(fast)) as scanner:
        results = scanner.scan([ScanRequest(path=str(path)) for path in paths])
    scorer, recipe = load_scorer(None, str(fast))
    assert recipe.cascade is not None and recipe.cascade.early_exit.first_crops == 2
    for path, result in zip(paths, results, strict=True):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        logit = score_image(rgb, scorer, recipe.max_crops, recipe.aggregation, recipe.crop_plan, recipe.cascade)
        assert result.probability == pytest.approx(logistic(logit), abs=1e-5), path.name
    assert [len(r.crops) for r in results] == [2, 8, 2, 2]
    # Switched off again: the key is gone, not left over from the earlier stamp.
    off = tmp_path / "off.onnx"
    assert cascade_main(["--model", str(fast), "--first-crops", "0", "--out", str(off)]) == 0
    props = {p.key: p.value for p in onnx.load(str(off)).metadata_props}
    assert KEY_EARLY_EXIT not in props and props["synthspot.version"] == "1"  # its own version again
    assert load_scorer(None, str(off))[1].cascade is None


@pytest.mark.parametrize("args,message", [
    (["--first-crops", "8"], "is the whole plan"),
    (["--first-crops", "4", "--margin", "1.2"], "margin"),
])
def test_a_cascade_that_cannot_work_is_refused(tmp_path, capsys, args, message):
    plain = brightness_model(tmp_path / "plain.onnx")
    assert cascade_main(["--model", str(plain), "--out", str(tmp_path / "x.onnx"), *args]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "x.onnx").exists()
