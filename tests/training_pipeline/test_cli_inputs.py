"""The training commands with bad or unusual inputs: one clear line (exit 2) instead of a traceback,
found before any work, and nothing a person made is lost or overwritten."""

import json
from pathlib import Path

import pytest

from training.__main__ import main as training_cli
from training.evaluate import main as evaluate_cli

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _train(config, run, manifest=None, *extra):
    args = ["train", "--config", str(config), "--run", str(run), "--no-progress", *extra]
    return training_cli(args + (["--manifest", str(manifest)] if manifest else []))


@pytest.mark.parametrize("text, said", [
    (None, "No such file"),
    ("[detector\nbackbone = 'tiny_vit'", "Expected"),  # not TOML
    ("[detector]\nbackbone = 'tiny_vit'\ncrop_sise = 32\n", "unknown config fields: ['crop_sise']"),
    ("[detector]\nbackbone = 'tiny_vit'\n[training]\nbatch_size = '4'\n", "batch_size"),
    ("[detector]\nbackbone = 'tiny_vit'\n[training]\nepochs = -1\n", "must be >= 1"),
    ("[detector]\nbackbone = 'tiny_vit'\n[training]\nsteps_per_epoch = 0\n", "steps_per_epoch must be >= 1"),
    ("[detector]\nbackbone = 'tiny_vit'\n[training]\nwarmup_fraction = -1.0\n", "warmup_fraction must be in"),
    ("[detektor]\nbackbone = 'tiny_vit'\n", "unknown config tables: ['detektor']"),
])
def test_a_config_that_does_not_read_is_one_line(flat_manifest, tmp_path, capsys, text, said):
    config = tmp_path / "bad.toml"
    if text is not None:
        config.write_text(text)
    assert _train(config, tmp_path / "run", flat_manifest) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_no_manifest_says_how_to_give_one(tmp_path, capsys):
    assert _train(CONFIGS / "tiny.toml", tmp_path / "run") == 2
    assert "no data: pass --manifest" in capsys.readouterr().err
    assert _train(CONFIGS / "tiny.toml", tmp_path / "run", tmp_path) == 2  # a folder
    assert "is not a file" in capsys.readouterr().err


def test_a_missing_image_is_found_before_training(flat_manifest, tmp_path, capsys):
    record = next(r for r in map(json.loads, flat_manifest.read_text().splitlines()) if r["split"] == "train")
    (flat_manifest.parent / record["path"]).unlink()
    assert _train(CONFIGS / "tiny.toml", tmp_path / "run", flat_manifest) == 2
    assert f"are missing, e.g. {record['path']}" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_a_finished_run_of_another_config_is_not_replaced_and_starting_over_keeps_it(flat_manifest, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(CONFIGS / "tiny.toml", run, flat_manifest) == 0
    (run / "resume.pt").unlink()  # a finished run, its resumable state removed to save space
    weights = (run / "checkpoint" / "model.safetensors").read_bytes()
    assert _train(CONFIGS / "tiny.toml", run, flat_manifest, "--lr", "0.01") == 2
    assert "training.lr: 0.005 -> 0.01" in capsys.readouterr().err
    assert (run / "checkpoint" / "model.safetensors").read_bytes() == weights

    assert _train(CONFIGS / "tiny.toml", run, flat_manifest, "--lr", "0.01", "--no-resume") == 0
    [aside] = tmp_path.glob("run.previous-*")
    assert (aside / "checkpoint" / "model.safetensors").read_bytes() == weights  # nothing lost
    rows = (run / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["lr"] <= 0.01  # the new run's log alone
    assert f"the run that was here is now {aside}" in (run / "train.log").read_text()


def test_the_same_manifest_spelled_another_way_resumes(flat_manifest, tmp_path, monkeypatch):
    monkeypatch.chdir(flat_manifest.parent)
    run = tmp_path / "run"
    assert _train(CONFIGS / "tiny.toml", run, Path(flat_manifest.name)) == 0
    assert _train(CONFIGS / "tiny.toml", run, flat_manifest.resolve()) == 0
    other = flat_manifest.with_name("other.jsonl")
    other.write_text(flat_manifest.read_text())
    assert _train(CONFIGS / "tiny.toml", run, other) == 2  # another file, even with the same lines


def test_evaluate_scores_an_exported_model_with_its_own_thresholds_and_scaling(flat_manifest, tmp_path):
    """``evaluate --onnx`` without --calibration scored at 0.5 with no logit scaling and reported no verdicts the
    app would show, though the model carries both (the README says it scores "as the app does")."""
    from engine.contract import LogitScaling, Thresholds
    from tests.fixtures.synthetic import brightness_model

    model = brightness_model(tmp_path / "m.onnx", thresholds=Thresholds(likely_ai=0.8, likely_real=0.3, fpr=0.01),
                             logit_scaling=LogitScaling(2.0, -0.5))
    assert evaluate_cli(["--onnx", str(model), "--data", str(flat_manifest), "--perturbations", "none",
                         "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (metrics["threshold"], metrics["likely_real"]) == (0.8, 0.3)
    assert metrics["logit_scaling"] == {"scale": 2.0, "offset": -0.5}


def test_evaluate_scores_with_the_calibrations_recipe_and_refuses_another(flat_manifest, tmp_path,
                                                                                           capsys):
    run = tmp_path / "run"
    assert _train(CONFIGS / "tiny.toml", run, flat_manifest) == 0
    calibration = run / "calibration.json"
    assert training_cli(["calibrate", "--checkpoint", str(run / "checkpoint"), "--data", str(flat_manifest),
                         "--scaling", "none", "--max-crops", "4", "--fpr", "0.2", "--out", str(calibration)]) == 0
    evaluate = ["--checkpoint", str(run / "checkpoint"), "--data", str(flat_manifest), "--perturbations", "none",
                "--out", str(tmp_path / "eval")]
    # The calibration's own recipe (4 crops) unless asked otherwise; asked for another, refused.
    assert evaluate_cli([*evaluate, "--calibration", str(calibration)]) == 0
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["max_crops"] == 4
    with pytest.raises(SystemExit):
        evaluate_cli([*evaluate, "--calibration", str(calibration), "--max-crops", "8"])
    assert "max_crops: calibrated with 4, model has 8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate_cli([*evaluate, "--calibration", str(flat_manifest)])
    assert "is not a calibration.json" in capsys.readouterr().err
    # An image the engine cannot decode: one line naming it, from evaluate and from calibrate (no traceback).
    from training.data import manifest
    records = manifest.read(flat_manifest)
    for split, command in (("test", lambda: evaluate_cli([*evaluate, "--calibration", str(calibration)])),
                           ("val", lambda: training_cli(["calibrate", "--checkpoint", str(run / "checkpoint"), "--data",
                                                         str(flat_manifest), "--scaling", "none",
                                                         "--out", str(tmp_path / "c.json")]))):
        damaged = manifest.resolve(flat_manifest, next(r for r in records if r.split == split and r.label == 0).path)
        damaged.write_bytes(damaged.read_bytes()[:60])
        with pytest.raises(SystemExit):
            command()
        assert f"{damaged}: " in capsys.readouterr().err


def test_calibrate_evaluate_and_export_check_their_arguments_before_scoring(flat_manifest, tmp_path, capsys):
    from export.__main__ import main as export_cli

    run = tmp_path / "run"
    assert _train(CONFIGS / "tiny.toml", run, flat_manifest) == 0
    calibrate = ["calibrate", "--data", str(flat_manifest), "--scaling", "none"]
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_text("not a model")
    cases = [
        ([*calibrate, "--checkpoint", str(run / "checkpoint"), "--fpr", "5", "--out", str(tmp_path / "c.json")],
         "--fpr is a share between 0 and 1, not 5.0"),
        ([*calibrate, "--checkpoint", str(run / "checkpoint"), "--max-crops", "0", "--out", str(tmp_path / "c.json")],
         "must be at least 1, not 0"),
        ([*calibrate, "--checkpoint", str(run / "checkpoint"), "--out", str(tmp_path)], "is a folder"),
        ([*calibrate, "--checkpoint", str(run), "--out", str(tmp_path / "c.json")],
         f"did you mean {run / 'checkpoint'}?"),
        ([*calibrate, "--onnx", str(not_onnx), "--out", str(tmp_path / "c.json")], "is not a usable ONNX model"),
        (["evaluate", "--checkpoint", str(run / "checkpoint"), "--data", str(flat_manifest), "--aggregation", "medain",
          "--out", str(tmp_path / "eval")], "invalid choice: 'medain'"),
    ]
    for args, said in cases:
        with pytest.raises(SystemExit):
            training_cli(args)
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "c.json").exists()

    export = ["--checkpoint", str(run / "checkpoint"), "--out", str(tmp_path / "models"), "--name", "mine"]
    with pytest.raises(SystemExit, match="is not a calibration.json"):
        export_cli([*export, "--calibration", str(flat_manifest)])
    with pytest.raises(SystemExit):
        export_cli([*export, "--calibration", str(flat_manifest), "--precisions", ","])
    assert "--precisions names none" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_help_is_an_answer_and_a_typo_is_named(capsys):
    assert training_cli(["--help"]) == 0
    assert "calibrate" in capsys.readouterr().out
    assert training_cli(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err


def test_a_manifest_without_fakes_to_train_on_says_what_it_holds(flat_manifest, tmp_path, capsys):
    reals = flat_manifest.with_name("reals.jsonl")
    reals.write_text("".join(line + "\n" for line in flat_manifest.read_text().splitlines()
                             if json.loads(line)["label"] == 0))
    assert _train(CONFIGS / "tiny.toml", tmp_path / "run", reals) == 2
    assert "train split has 8 reals and 0 fakes" in capsys.readouterr().err


def test_starting_over_in_a_folder_that_is_no_run_moves_nothing(flat_manifest, tmp_path):
    runs = tmp_path / "runs"
    (runs / "other").mkdir(parents=True)  # a folder of runs, given as --run by mistake
    assert _train(CONFIGS / "tiny.toml", runs, flat_manifest, "--no-resume") == 0
    assert (runs / "other").is_dir() and not list(tmp_path.glob("runs.previous-*"))


def test_calibrating_on_the_train_split_is_warned_about(flat_manifest, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(CONFIGS / "tiny.toml", run, flat_manifest) == 0
    assert training_cli(["calibrate", "--checkpoint", str(run / "checkpoint"), "--data", str(flat_manifest),
                         "--split", "train", "--scaling", "none", "--fpr", "0.2",
                         "--out", str(tmp_path / "c.json")]) == 0
    assert "the model has seen the train split" in capsys.readouterr().err
