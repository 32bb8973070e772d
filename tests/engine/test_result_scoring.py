"""Turning the model's outputs for one image's crops into a Result, without a model or a scanner."""

from __future__ import annotations

import numpy as np
import pytest

from dataclasses import replace

from engine.contract import CropBox, LogitScaling, ModelMetadata, Thresholds
from engine.result import LIKELY_AI, UNCERTAIN, Result, artifact_heatmap, score_result

META = ModelMetadata(name="m", version="1", crop_size=32, aggregation="mean",
                     thresholds=Thresholds(likely_ai=0.8, likely_real=0.3), expert_names=("upsample", "inpaint"))


def test_scores_verdict_crops_and_expert_mix_come_from_the_outputs():
    result = Result(sha256="0" * 64, width=64, height=32)
    boxes = [CropBox(0, 0, 32), CropBox(0, 32, 32)]
    experts = np.array([[0.9, 0.1], [0.7, 0.3]], np.float32)
    score_result(result, META, boxes, np.array([4.0, 3.0], np.float32), experts)
    assert result.verdict == LIKELY_AI and result.reasons == []
    assert result.probability == pytest.approx(1 / (1 + np.exp(-3.5)), abs=1e-6)
    assert [(c.left, c.probability) for c in result.crops] == [(0, pytest.approx(0.982, abs=1e-3)),
                                                               (32, pytest.approx(0.9526, abs=1e-3))]
    assert result.expert_weights == {"upsample": 0.8, "inpaint": 0.2}
    assert result.artifact_map is None


def test_a_gate_that_gives_no_numbers_leaves_no_expert_mix_and_the_json_stays_strict():
    """Finite logits with a NaN gate (an fp16 overflow) wrote "NaN" into JSON lines that jq and JSON.parse refuse."""
    import json

    result = Result(sha256="0" * 64, width=64, height=32)
    experts = np.array([[np.nan, np.nan], [0.7, 0.3]], np.float32)
    score_result(result, META, [CropBox(0, 0, 32), CropBox(0, 32, 32)], np.array([4.0, 3.0], np.float32), experts)
    assert result.verdict == LIKELY_AI and result.expert_weights == {}
    assert json.loads(result.to_json(allow_nan=False))["expert_weights"] == {}


def test_the_model_s_logit_scaling_sets_the_probability_the_crop_scores_and_the_band():
    # Raw crop logits 1.0 and 0.0 average to 0.5: 62% raw, under the 0.8 band; the model's scaling
    # (3 * logit + 0.5, as calibration fitted it) makes it 2.0 -> 88%, and each crop's score follows.
    logits = np.array([1.0, 0.0], np.float32)
    boxes = [CropBox(0, 0, 32), CropBox(0, 32, 32)]
    raw, scaled = Result(sha256="0" * 64, width=64, height=32), Result(sha256="0" * 64, width=64, height=32)
    score_result(raw, META, boxes, logits)
    score_result(scaled, replace(META, logit_scaling=LogitScaling(3.0, 0.5)), boxes, logits)
    assert raw.probability == pytest.approx(1 / (1 + np.exp(-0.5)))
    assert raw.verdict == UNCERTAIN
    assert scaled.probability == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert scaled.verdict == LIKELY_AI
    assert [c.probability for c in scaled.crops] == [pytest.approx(1 / (1 + np.exp(-3.5)), abs=1e-4),
                                                     pytest.approx(1 / (1 + np.exp(-0.5)), abs=1e-4)]


def test_crops_that_disagree_make_the_verdict_uncertain():
    result = Result(sha256="0" * 64, width=64, height=32)
    score_result(result, META, [CropBox(0, 0, 32), CropBox(0, 32, 32)], np.array([6.0, -6.0], np.float32))
    assert result.verdict == UNCERTAIN and any("disagree" in r for r in result.reasons)


def test_the_heatmap_is_laid_out_like_the_image_and_blank_where_no_crop_looked():
    # Two 32 px crops with 4x4 maps (8 px per cell) on a 48x96 image: the middle of the right half is unseen.
    maps = np.stack([np.full((1, 4, 4), 5.0), np.full((1, 4, 4), -5.0)]).astype(np.float32)
    heat = artifact_heatmap(maps, [CropBox(0, 0, 32), CropBox(16, 64, 32)], height=48, width=96)
    assert (len(heat), len(heat[0])) == (6, 12)
    assert heat[0][0] > 0.99 and heat[5][11] < 0.01
    assert heat[0][11] is None and heat[5][0] is None


def test_a_large_heatmap_is_thinned_to_its_cap():
    maps = np.zeros((1, 1, 4, 4), np.float32)
    heat = artifact_heatmap(maps, [CropBox(0, 0, 32)], height=8 * 400, width=8 * 200)
    assert max(len(heat), len(heat[0])) <= 96


def test_fine_detail_and_the_flat_colour_threshold():
    from engine.result import ImageTraits, decide_verdict, fine_detail

    checker = ((np.indices((32, 32)).sum(axis=0) % 2) * 4)[..., None].repeat(3, axis=2).astype(np.uint8)
    flat = np.full((32, 32, 3), 7, np.uint8)
    assert fine_detail(np.stack([flat, checker])) == pytest.approx(4.0)  # the most detailed crop counts
    assert fine_detail(np.stack([flat])) == 0.0 and fine_detail(np.zeros((0, 32, 32, 3), np.uint8)) is None
    bands = Thresholds(0.9, 0.3)
    for detail, hedged in ((0.009, True), (0.011, False), (None, False)):
        verdict, reasons = decide_verdict(0.1, bands, np.array([0.1]), 640, 480, 96, None, ImageTraits(fine_detail=detail))
        assert (verdict == UNCERTAIN and any("flat colour" in r for r in reasons)) == hedged, detail


def test_an_image_smaller_than_one_crop_is_uncertain():
    """A 64 px image under a 96 px crop was scored from one mirrored crop, a picture the model never trained on,
    and came out "Likely real" (a review); half a crop's side was the limit."""
    from engine.result import LIKELY_REAL, decide_verdict

    bands = Thresholds(0.9, 0.3)
    verdict, reasons = decide_verdict(0.1, bands, np.array([0.1]), 64, 64, 96, None)
    assert verdict == UNCERTAIN and reasons == ["the image is very small (64×64) for the model's 96px view"]
    assert decide_verdict(0.1, bands, np.array([0.1]), 96, 200, 96, None) == (LIKELY_REAL, [])
    _verdict, reasons = decide_verdict(0.1, bands, np.array([0.1]), 60000, 2, 96, None)  # a strip, not small
    assert reasons == ["the image is very small on one side (60000×2) for the model's 96px view"]


def test_heavy_jpeg_compression_doubts_a_likely_real_not_a_likely_ai():
    from engine.result import LIKELY_REAL, decide_verdict

    bands = Thresholds(0.9, 0.3)
    assert decide_verdict(0.95, bands, np.array([0.95]), 640, 480, 96, 40) == (LIKELY_AI, [])
    verdict, reasons = decide_verdict(0.1, bands, np.array([0.1]), 640, 480, 96, 40)
    assert verdict == UNCERTAIN and reasons[0].startswith("heavily recompressed (JPEG quality about 40)")
    assert decide_verdict(0.1, bands, np.array([0.1]), 640, 480, 96, 60) == (LIKELY_REAL, [])


def test_a_results_plain_data_is_what_asdict_gives_and_shares_no_list_with_it():
    """to_dict copies lists whole rather than cell by cell: the same data as ``asdict``, every field."""
    from dataclasses import asdict, fields

    from engine.result import CropScore, ProvenanceHint

    result = Result(sha256="ab" * 32, path="/p/a.jpg", width=640, height=480, probability=0.5, verdict=UNCERTAIN,
                    reasons=["crops disagree"], crops=[CropScore(0, 0, 96, 0.25), CropScore(0, 96, 96, 0.75)],
                    expert_weights={"upsample": 0.5, "inpaint": 0.5}, artifact_map=[[0.5, None], [0.25, 1.0]],
                    provenance=[ProvenanceHint("c2pa", "C2PA: Adobe Firefly", "signed", True)],
                    timings_ms={"total": 12.5}, error=None, page_url="https://example.org/")
    plain = result.to_dict()
    assert plain == asdict(result) and list(plain) == [item.name for item in fields(Result)]
    plain["artifact_map"][0][0] = 0.0
    plain["reasons"].append("changed")
    plain["crops"][0]["probability"] = 0.0
    assert result.artifact_map[0][0] == 0.5 and result.reasons == ["crops disagree"]
    assert result.crops[0].probability == 0.25
    assert Result(sha256="cd" * 32).to_dict() == asdict(Result(sha256="cd" * 32))  # no heatmap: None
