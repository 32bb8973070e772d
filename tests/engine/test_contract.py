import math

import numpy as np
import pytest

from engine.contract import (
    ContractError, EarlyExit, LogitScaling, ModelMetadata, Thresholds, aggregate_logits, decided_early, extract_crops,
    first_stage, plan_crops,
)


@pytest.mark.parametrize("height,width", [(224, 224), (300, 451), (1000, 1000), (225, 900), (720, 1280)])
def test_full_grid_covers_every_pixel(height, width):
    boxes = plan_crops(height, width, 224, max_crops=64)
    covered = np.zeros((height, width), bool)
    for box in boxes:
        assert 0 <= box.top <= height - 224 and 0 <= box.left <= width - 224
        covered[box.top:box.top + 224, box.left:box.left + 224] = True
    assert covered.all()
    assert len(boxes) == math.ceil(height / 224) * math.ceil(width / 224)


def test_huge_images_are_sampled_with_a_capped_spread_grid():
    boxes = plan_crops(6000, 8000, 224, max_crops=8)
    assert 1 < len(boxes) <= 8
    tops = sorted({b.top for b in boxes})
    lefts = sorted({b.left for b in boxes})
    # Spread from edge to edge, not bunched in a corner.
    assert tops[0] == 0 and tops[-1] == 6000 - 224
    assert lefts[0] == 0 and lefts[-1] == 8000 - 224


def test_plan_is_deterministic():
    assert plan_crops(1234, 987, 224, 8) == plan_crops(1234, 987, 224, 8)


def test_small_images_get_one_padded_crop_that_keeps_every_pixel():
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    boxes = plan_crops(20, 30, 32)
    assert len(boxes) == 1
    crops = extract_crops(rgb, boxes)
    assert crops.shape == (1, 32, 32, 3)
    assert np.array_equal(crops[0, :20, :30], rgb)  # native pixels untouched, never resized
    assert np.array_equal(crops[0, 20, :30], rgb[19])  # mirrored padding, no black border


def test_crops_are_native_pixels():
    rgb = np.random.default_rng(1).integers(0, 255, (100, 120, 3), dtype=np.uint8)
    boxes = plan_crops(100, 120, 32, max_crops=64)
    crops = extract_crops(rgb, boxes)
    for box, crop in zip(boxes, crops, strict=True):
        assert np.array_equal(crop, rgb[box.top:box.top + 32, box.left:box.left + 32])


def test_aggregations():
    logits = np.array([-2.0, 0.0, 4.0])
    assert aggregate_logits(logits, "mean") == pytest.approx(2 / 3)
    assert aggregate_logits(logits, "max") == 4.0
    assert aggregate_logits(logits, "top2_mean") == 2.0
    assert aggregate_logits(logits, "top_half_mean") == 2.0  # ceil(3 / 2) = 2 crops
    assert aggregate_logits(np.array([-2.0, 0.0, 1.0, 5.0]), "top_half_mean") == 3.0
    assert aggregate_logits(np.array([7.0]), "top_half_mean") == 7.0
    probability = np.mean(1 / (1 + np.exp(-logits)))
    assert aggregate_logits(logits, "prob_mean") == pytest.approx(math.log(probability / (1 - probability)))
    with pytest.raises(ValueError):
        aggregate_logits(logits, "median")


def test_metadata_round_trips_through_props():
    meta = ModelMetadata(name="m", version="2", crop_size=224, aggregation="max",
                         thresholds=Thresholds(0.9, 0.2, 0.01), expert_names=("a", "b"), max_crops=4,
                         metrics={"ap": 0.9}, precision="fp16", logit_scaling=LogitScaling(1.4, -0.05))
    assert ModelMetadata.from_props(meta.to_props()) == meta


def test_models_from_before_the_logit_scaling_read_as_raw_logits():
    props = ModelMetadata(name="m", version="1", crop_size=224, logit_scaling=LogitScaling(2.0, 1.0)).to_props()
    del props["synthspot.logit_scaling"]
    scaling = ModelMetadata.from_props(props).logit_scaling
    assert scaling == LogitScaling(1.0, 0.0)
    assert scaling.apply(np.array([-3.0, 0.5])).tolist() == [-3.0, 0.5]


def test_the_cascade_round_trips_is_off_in_older_models_and_decides_only_beyond_a_margin():
    bands = Thresholds(likely_ai=0.9, likely_real=0.6)
    meta = ModelMetadata(name="m", version="1", crop_size=96, thresholds=bands, early_exit=EarlyExit(4, 0.1))
    assert ModelMetadata.from_props(meta.to_props()) == meta
    older = ModelMetadata(name="m", version="1", crop_size=96, thresholds=bands)
    assert "synthspot.early_exit" not in older.to_props() and older.early_exit.first_crops == 0
    assert first_stage(8, meta) == 4 and first_stage(3, meta) == 3 and first_stage(8, older) == 8
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    assert decided_early([logit(0.49)] * 4, meta)  # 0.49 <= 0.6 - 0.1: clearly real
    assert not decided_early([logit(0.55)] * 4, meta)  # likely real, but within the margin
    assert not decided_early([logit(0.95)] * 4, meta)  # likely AI, within the margin (0.9 + 0.1 = 1.0)
    assert not decided_early([logit(0.2)] * 3, meta)  # fewer than the first stage: nothing to decide early
    assert not decided_early([logit(0.01)] * 4, older)


@pytest.mark.parametrize("change,message", [
    ({"synthspot.schema_version": "99"}, "schema version 99 .*made for a newer SynthSpot: update SynthSpot"),
    ({"synthspot.schema_version": "0"}, r"schema version 0 is not supported \(this app reads \d+\)$"),
    ({"synthspot.crop_size": "big"}, "not an integer"),
    ({"synthspot.aggregation": "median"}, "aggregation"),
    ({"synthspot.thresholds": '{"likely_ai": 0.2, "likely_real": 0.5}'}, "above"),
    ({"synthspot.thresholds": "{nope"}, "not valid JSON"),
    ({"synthspot.precision": "fp8"}, "precision"),
    ({"synthspot.logit_scaling": '{"scale": 0, "offset": 0}'}, "must be a positive number"),
    ({"synthspot.logit_scaling": '{"scale": -1.2, "offset": 0}'}, "must be a positive number"),
    ({"synthspot.logit_scaling": '{"scale": 1, "offset": NaN}'}, "must be a finite number"),
    ({"synthspot.logit_scaling": '{"scale": 1, "temperature": 2}'}, "'scale' and 'offset'"),
    ({"synthspot.logit_scaling": '[1, 0]'}, "'scale' and 'offset'"),
    ({"synthspot.early_exit": '{"first_crops": -1, "margin": 0.1}'}, "whole number"),
    ({"synthspot.early_exit": '{"first_crops": 4, "margin": 1.5}'}, "margin"),
    ({"synthspot.early_exit": '{"first": 4}'}, "'first_crops' and 'margin'"),
    # Shown in terminals and windows: an escape sequence in a name would act on the terminal.
    ({"synthspot.name": "evil\x1b[31mred"}, r"metadata name 'evil\\\\x1b\[31mred' holds control characters"),
    ({"synthspot.version": "1\nscan: all clean"}, "metadata version .* holds control characters"),
    ({"synthspot.expert_names": '["upsampling", "\\u202ekcatta"]'}, "metadata expert name .* holds control characters"),
])
def test_bad_metadata_is_named(change, message):
    props = ModelMetadata(name="m", version="1", crop_size=224).to_props()
    props.update(change)
    with pytest.raises(ContractError, match=message):
        ModelMetadata.from_props(props)


def test_missing_metadata_keys_are_listed():
    with pytest.raises(ContractError, match="not a SynthSpot detector"):  # none of SynthSpot's at all
        ModelMetadata.from_props({"producer": "pytorch"})
    with pytest.raises(ContractError, match="missing synthspot.schema_version"):
        ModelMetadata.from_props({"synthspot.name": "half-stamped"})
