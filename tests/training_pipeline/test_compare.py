"""`python -m training.compare`: two real evaluations of the same images, side by side."""

from __future__ import annotations

import json

import numpy as np

from tests.training_pipeline.conftest import trained_checkpoint
from training.__main__ import main as training_cli
from training.compare import main as compare_cli
from training.evaluate import load_records


def evaluate(checkpoint, manifest, out, *extra) -> dict:
    assert training_cli(["evaluate", "--checkpoint", str(checkpoint), "--data", str(manifest),
                         "--perturbations", "jpeg75", "--out", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text())["metrics"]


def table_rows(text: str) -> dict[str, list[float]]:
    rows = {}
    for line in text.splitlines()[2:]:
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
