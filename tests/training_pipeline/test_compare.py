"""`python -m training.compare` (two real evaluations of the same images, side by side) and how sure a mean AP is."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.training_pipeline.conftest import trained_checkpoint
from training.__main__ import main as training_cli
from training.compare import main as compare_cli
from training.records import load_records


def evaluate(checkpoint, manifest, out, *extra) -> dict:
    assert training_cli(["evaluate", "--checkpoint", str(checkpoint), "--data", str(manifest),
                         "--perturbations", "jpeg75", "--out", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text())["metrics"]


def table_rows(text: str) -> dict[str, list[float]]:
    """The first table's rows (the bootstrap's, if any, follows a blank line)."""
    rows = {}
    for line in text.split("\n\n")[0].splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[1]:
            rows.setdefault(cells[0], []).append([float(cell) for cell in cells[1:]])
    return rows


def test_two_evaluations_side_by_side_with_stored_quality(forged_manifest, tmp_path, capsys):
    trained_checkpoint(tmp_path / "checkpoint")
    base = evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "base", "--max-crops", "1")
    candidate = evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "candidate", "--max-crops", "4")
    capsys.readouterr()  # evaluate's own summary lines
    assert compare_cli([str(tmp_path / "base"), str(tmp_path / "candidate"), "--manifest", str(forged_manifest),
                        "--out", str(tmp_path / "table.md")]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "table.md").read_text() == printed
    rows = table_rows(printed)
    for index, condition in enumerate(("clean", "jpeg75")):  # a row per condition, in order
        old, new, difference = rows["AP"][index]
        assert old == round(base[condition]["overall"]["ap"], 4) and new == round(candidate[condition]["overall"]["ap"], 4)
        assert abs(difference - (candidate[condition]["overall"]["ap"] - base[condition]["overall"]["ap"])) < 1e-4
        family_mean = np.mean([m["ap"] for m in base[condition]["per_family"].values()])
        assert rows["mean family AP"][index][0] == round(family_mean, 4)
    for family, figures in base["clean"]["per_family"].items():
        assert rows[f"clean AP, family {family}"][0][0] == round(figures["ap"], 4)
    # Every test image falls in one stored-quality slice; slices that hold both classes get a row.
    records, _ = load_records(forged_manifest, split="test")
    sliced = [name for name in rows if name.startswith("clean AP, stored")]
    assert sliced
    counted = sum(int(part.split()[0]) for name in sliced for part in name.split("(")[1].rstrip(")").split(", "))
    assert counted <= len(records)


def test_evaluations_of_different_perturbations_compare_what_both_scored(forged_manifest, tmp_path, capsys):
    """One evaluation with --perturbations none against one with jpeg75 was refused ("conditions scored by only one
    of them"): the clean images are compared, and the condition left out is named."""
    trained_checkpoint(tmp_path / "checkpoint")
    evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "both")
    assert training_cli(["evaluate", "--checkpoint", str(tmp_path / "checkpoint"), "--data", str(forged_manifest),
                         "--perturbations", "none", "--out", str(tmp_path / "clean")]) == 0
    capsys.readouterr()
    assert compare_cli([str(tmp_path / "both"), str(tmp_path / "clean")]) == 0
    printed = capsys.readouterr().out
    assert "| **clean** |" in printed and "| **jpeg75** |" not in printed
    assert "Scored by only one of them, left out: jpeg75" in printed


def test_evaluations_of_different_images_or_unfinished_are_refused(forged_manifest, tmp_path, capsys):
    trained_checkpoint(tmp_path / "checkpoint")
    evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "test")
    evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "val", "--split", "val")
    assert compare_cli([str(tmp_path / "test"), str(tmp_path / "val")]) == 2
    assert "scored different images" in capsys.readouterr().err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "metrics.json").write_text((tmp_path / "test" / "metrics.json").read_text())
    assert compare_cli([str(tmp_path / "test"), str(tmp_path / "half")]) == 2
    assert "not a finished evaluation: " in capsys.readouterr().err


def bootstrap_table(text: str) -> tuple[str, dict[str, list[float]]]:
    """(header, rows) of the table after the blank line."""
    lines = text.split("\n\n")[1].splitlines()
    return lines[0], {cells[0]: [float(c) for c in cells[1:]]
                      for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}


def test_bootstrap_by_photo_is_zero_for_a_model_against_itself_and_positive_for_a_better_one(
        forged_manifest, tmp_path, capsys):
    trained_checkpoint(tmp_path / "checkpoint")
    evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "base")
    # A candidate that ranks every fake above every real: the same images, its scores the labels.
    (tmp_path / "perfect").mkdir()
    (tmp_path / "perfect" / "metrics.json").write_text((tmp_path / "base" / "metrics.json").read_text())
    with np.load(tmp_path / "base" / "scores.npz") as scores:
        perfect = {name: scores[name] for name in scores.files}
    for condition in ("clean", "jpeg75"):
        perfect[condition] = perfect["labels"] * 10.0 - 5.0
    np.savez(tmp_path / "perfect" / "scores.npz", **perfect)
    capsys.readouterr()

    assert compare_cli([str(tmp_path / "base"), str(tmp_path / "base"), "--manifest", str(forged_manifest),
                        "--bootstrap", "50"]) == 0
    header, rows = bootstrap_table(capsys.readouterr().out)
    records, _ = load_records(forged_manifest, split="test")
    assert header.startswith(f"| {len({r.source_id for r in records})} source photos resampled 50 times")
    for name in ("generator", "family"):
        assert rows[f"clean: mean {name} AP difference"] == [0.0, 0.0, 0.0]  # never ahead of itself

    assert compare_cli([str(tmp_path / "base"), str(tmp_path / "perfect"), "--manifest", str(forged_manifest),
                        "--bootstrap", "50"]) == 0
    printed = capsys.readouterr().out
    _, rows = bootstrap_table(printed)
    base_mean = table_rows(printed)["mean family AP"][0][0]
    for condition in ("clean", "jpeg75"):
        for name in ("generator", "family"):
            low, high, ahead = rows[f"{condition}: mean {name} AP difference"]
            assert 0 < low <= high and ahead == 1.0
    # Perfect is 1.0 in every resample, so the difference is at most what the base lacks in its worst one.
    assert rows["clean: mean family AP difference"][1] <= 1 - base_mean + 0.2


def test_bootstrap_needs_the_manifest(forged_manifest, tmp_path, capsys):
    with pytest.raises(SystemExit):
        compare_cli([str(tmp_path / "a"), str(tmp_path / "b"), "--bootstrap", "10"])
    assert "--bootstrap needs --manifest" in capsys.readouterr().err


def test_resampling_whole_photos_widens_the_interval_when_a_photo_s_images_move_together():
    from training.metrics import paired_bootstrap_mean_ap

    rng = np.random.default_rng(3)
    photos = np.repeat(np.arange(20), 30)  # 20 photos, 30 images each (the reals and fakes made from it)
    labels = np.tile(np.r_[np.zeros(10, int), np.ones(20, int)], 20)
    families = np.where(labels == 1, np.where(np.arange(600) % 2 == 0, "a", "b"), "real")
    # The candidate is far better on half the photos and far worse on the others, by the whole photo.
    sign = np.where(np.arange(20) % 2 == 0, 1.0, -1.0)[photos]
    base = labels + rng.normal(0, 1, 600)
    candidate = labels * (1 + 2 * sign) + rng.normal(0, 1, 600)
    by_photo = paired_bootstrap_mean_ap(labels, families, photos, base, candidate, resamples=200)
    by_image = paired_bootstrap_mean_ap(labels, families, np.arange(600), base, candidate, resamples=200)
    assert by_photo.std() > 2 * by_image.std()


def test_evaluate_reports_how_sure_its_mean_aps_are_with_photos_resampled(forged_manifest, tmp_path, capsys):
    trained_checkpoint(tmp_path / "checkpoint")
    metrics = evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "eval", "--bootstrap", "40")
    payload = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    sure = payload["bootstrap"]
    records, _ = load_records(forged_manifest, split="test")
    assert sure["resamples"] == 40 and sure["sources"] == len({r.source_id for r in records}) < sure["images"]
    for condition in ("clean", "jpeg75"):
        for key, per_group in (("mean_generator_ap", "per_generator"), ("mean_family_ap", "per_family")):
            (low, high), median = sure[condition][key]["interval"], sure[condition][key]["median"]
            observed = np.mean([m["ap"] for m in metrics[condition][per_group].values()])
            assert 0 <= low <= median <= high <= 1 and low < high, (condition, key)
            assert low - 0.05 <= observed <= high + 0.05, (condition, key)
    report = (tmp_path / "eval" / "report.md").read_text()
    assert f"{sure['sources']} source photos resampled 40 times" in report
    figures = sure["clean"]["mean_generator_ap"]
    assert f"| clean | {figures['interval'][0]:.4f}..{figures['interval'][1]:.4f} ({figures['median']:.4f}) |" in report
    # Without the flag, no interval is claimed.
    evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "plain")
    assert "bootstrap" not in json.loads((tmp_path / "plain" / "metrics.json").read_text())


def test_a_photo_drawn_twice_weighs_as_its_images_copied():
    """The resample's weights stand for copies: sklearn's weighted AP equals the AP of duplicated rows."""
    from sklearn.metrics import average_precision_score

    from training.metrics import bootstrap_mean_aps

    rng = np.random.default_rng(5)
    photos = np.repeat(np.arange(8), 6)
    labels = np.tile([0, 0, 1, 1, 1, 0], 8)
    scores = labels + rng.normal(0, 1, 48)
    families = np.where(labels == 1, "a", "real")
    [[weighted]] = bootstrap_mean_aps(labels, families, photos, [scores], resamples=1, seed=11)
    # The same draw by hand: which photos, how often; each drawn photo's rows copied that often.
    drawn = np.random.default_rng(11).integers(0, 8, 8)
    rows = np.concatenate([np.flatnonzero(photos == photo) for photo in drawn])
    assert weighted == pytest.approx(average_precision_score(labels[rows], scores[rows]), abs=1e-12)


def test_compare_refuses_a_manifest_whose_images_are_not_the_evaluations(forged_manifest, tmp_path, capsys):
    trained_checkpoint(tmp_path / "checkpoint")
    evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "base")
    # Two evaluations of as many images as the manifest's test split, but not its images (labels flipped).
    with np.load(tmp_path / "base" / "scores.npz") as scores:
        flipped = {name: scores[name] for name in scores.files}
    flipped["labels"] = 1 - flipped["labels"]
    for name in ("base2", "other"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text((tmp_path / "base" / "metrics.json").read_text())
        np.savez(tmp_path / name / "scores.npz", **flipped)
    capsys.readouterr()
    assert compare_cli([str(tmp_path / "base2"), str(tmp_path / "other"), "--manifest", str(forged_manifest),
                        "--bootstrap", "5"]) == 2
    assert "not their data" in capsys.readouterr().err


def test_named_groups_of_generators_get_their_mean_ap(forged_manifest, tmp_path, capsys):
    trained_checkpoint(tmp_path / "checkpoint")
    base = evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "base", "--max-crops", "1")
    evaluate(tmp_path / "checkpoint", forged_manifest, tmp_path / "candidate", "--max-crops", "2")
    upsample = {g: m for g, m in base["clean"]["per_generator"].items() if g.startswith("upsample/")}
    assert upsample and len(upsample) < len(base["clean"]["per_generator"])
    capsys.readouterr()
    assert compare_cli([str(tmp_path / "base"), str(tmp_path / "candidate"), "--group", "ups=^upsample/"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows[f"mean generator AP, ups ({len(upsample)})"][0][0] == round(np.mean([m["ap"] for m in upsample.values()]), 4)
    assert compare_cli([str(tmp_path / "base"), str(tmp_path / "candidate"), "--group", "none=^nothing"]) == 2
    assert "matches no generator" in capsys.readouterr().err
    for bad in ("noequals", "x=("):
        with pytest.raises(SystemExit):
            compare_cli([str(tmp_path / "base"), str(tmp_path / "candidate"), "--group", bad])
