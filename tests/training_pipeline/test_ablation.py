"""The ablation runner: every config x seed x leave-out fold is trained, calibrated and evaluated on
its own, the table gives mean +- spread over seeds, and an interrupted ablation continues."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from training import ablation
from training.data import leaveout, manifest

from .conftest import write_flat_set

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _two_generator_folds(root: Path) -> list[Path]:
    """The flat set with its fakes split between two named generators, and one fold per generator."""
    path = write_flat_set(root, count=18)
    records = manifest.read(path)
    for record in records:
        if record.label == 1:
            generator = "gen-a" if int(Path(record.path).stem) // 6 % 2 else "gen-b"  # both in every split
            record.network, record.family, record.generator = generator, generator, generator
    manifest.write(records, path)
    return [leaveout.write_fold(path, "generator", name) for name in ("gen-a", "gen-b")]


def _tiny_config(tmp_path: Path) -> Path:
    config = tmp_path / "tiny-mixed.toml"
    config.write_text((CONFIGS / "tiny.toml").read_text())
    return config


def test_each_seed_and_fold_is_its_own_run_and_the_table_gives_mean_and_spread(tmp_path):
    folds = _two_generator_folds(tmp_path / "flat")
    config, runs = _tiny_config(tmp_path), tmp_path / "runs"
    args = [str(config), "--folds", ",".join(map(str, folds)), "--seeds", "0,1", "--runs", str(runs),
            "--perturbations", "none"]
    assert ablation.main(args) == 0

    per_run = {}
    for fold in folds:
        for seed in (0, 1):
            run = runs / fold.stem / "tiny-mixed" / f"seed-{seed}"
            assert json.loads((run / "run_config.json").read_text())["training"]["seed"] == seed
            test_groups = np.load(run / "eval" / "scores.npz")["groups"].astype(str)
            held = fold.stem.split("-", 1)[1]
            assert all(held in g for g in test_groups if g != "real")  # only the held-out fakes are tested
            per_run[(fold.stem, seed)] = ablation.held_out_figures(run)
            timing = json.loads((run / "timing.json").read_text())
            epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            assert timing["train_seconds"] == sum(row["seconds"] for row in epochs) > 0
            assert timing["score_seconds"] > 0
            # scored as the engine scores: the run's own exported model, with the recipe calibrated on
            evaluation = json.loads((run / "eval" / "metrics.json").read_text())
            assert evaluation["model"] == str(run / ablation.SCORING_MODEL)
            assert evaluation["crop_plan"] == "texture"
            assert json.loads((run / "calibration.json").read_text())["crop_plan"] == "texture"
    # different seeds train different models
    assert per_run[(folds[0].stem, 0)] != per_run[(folds[0].stem, 1)]

    summary = json.loads((runs / "ablation.json").read_text())
    row = summary[f"{folds[0].stem}/tiny-mixed"]
    assert row["crops"] == 1 * 2 * 4  # epochs x steps x batch of configs/tiny.toml
    values = [per_run[(folds[0].stem, seed)]["ap"] for seed in (0, 1)]
    mean, spread, seeds = row["figures"]["ap"]
    assert (seeds, mean) == (2, np.mean(values)) and np.isclose(spread, np.std(values, ddof=1))
    # the protocol's figure: each seed averaged over both folds, then over seeds
    both = [np.mean([per_run[(f.stem, seed)]["ap"] for f in folds]) for seed in (0, 1)]
    assert np.isclose(summary["mean of 2 folds/tiny-mixed"]["figures"]["ap"][0], np.mean(both))
    table = (runs / "ablation.md").read_text()
    assert f"| {folds[1].stem} | tiny-mixed | 8 | 2 |" in table and "±" in table

    # A second invocation trains nothing again and tabulates the same figures.
    stamps = {p: p.stat().st_mtime_ns for p in runs.rglob("timing.json")}
    assert ablation.main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("timing.json")} == stamps
    assert (runs / "ablation.md").read_text() == table


def test_a_missing_fold_manifest_is_a_clear_error(tmp_path, capsys):
    try:
        ablation.main([str(_tiny_config(tmp_path)), "--folds", str(tmp_path / "nope.jsonl"), "--runs", str(tmp_path)])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "no such manifest" in capsys.readouterr().err


def test_the_budget_counts_every_training_stage():
    # SEF trains each expert, then the gate: 2 experts x 2 epochs + 2 epochs, of 10 steps x 16 crops
    assert ablation.training_crops(CONFIGS / "ablation" / "lite0-sef.toml") == (2 * 2 + 2) * 10 * 16
    # imported experts cost nothing here: only the fusion trains
    assert ablation.training_crops(CONFIGS / "lite0-sef-gamma-three.toml") == 16 * 64 * 64


def test_one_manifest_pools_the_test_fakes_seen_and_held_out(tmp_path):
    folds = _two_generator_folds(tmp_path / "flat")
    whole = folds[0].parents[1] / manifest.MANIFEST_NAME
    config, runs = _tiny_config(tmp_path), tmp_path / "runs"
    assert ablation.main([str(config), "--manifest", str(whole), "--runs", str(runs), "--perturbations", "none",
                          "--held-out-generator", "gen-a", "--held-out-domain", "inpaint"]) == 0
    figures = json.loads((runs / "ablation.json").read_text())["all/tiny-mixed"]["figures"]
    # gen-a and gen-b fakes are both in this test split: each pool is its fakes against every test real
    assert {"ap seen", "ap held-out generator", "ap all"} <= set(figures)
    assert "ap held-out domain" not in figures  # no inpaint in this set
    assert (runs / "all" / "tiny-mixed" / "seed-0" / "eval" / "scores.npz").is_file()


def test_a_record_outlives_the_runs_folder_and_counts_only_on_its_own_data(tmp_path):
    fold = _two_generator_folds(tmp_path / "flat")[0]
    config, runs, record = _tiny_config(tmp_path), tmp_path / "runs", tmp_path / "record"
    args = [str(config), "--folds", str(fold), "--runs", str(runs), "--record", str(record), "--perturbations", "none"]
    assert ablation.main(args) == 0
    kept = record / fold.stem / "tiny-mixed" / "seed-0"
    assert {p.name for p in kept.iterdir()} == {"metrics.json", "calibration.json", "timing.json", "data.json"}
    assert json.loads((kept / "data.json").read_text())["sha256"] == ablation.manifest_digest(fold)
    table = (record / "ablation.md").read_text()
    assert f"| {fold.stem} | tiny-mixed | 8 | 1 |" in table

    # A fresh machine: the runs are gone, the record is enough; nothing is trained again.
    shutil.rmtree(runs)
    assert ablation.main(args) == 0
    assert not (runs / fold.stem).exists()
    assert (record / "ablation.md").read_text() == table

    # Different data (the fold manifest changed): the recorded run no longer counts and is trained again.
    with fold.open("a") as lines:
        lines.write((fold.read_text().splitlines()[0]) + "\n")
    assert ablation.main(args) == 0
    assert (runs / fold.stem / "tiny-mixed" / "seed-0" / "eval" / "metrics.json").is_file()
    assert json.loads((kept / "data.json").read_text())["sha256"] == ablation.manifest_digest(fold)


def test_a_record_needs_folds(tmp_path, capsys):
    whole = _two_generator_folds(tmp_path / "flat")[0].parents[1] / manifest.MANIFEST_NAME
    with pytest.raises(SystemExit) as exit_:
        ablation.main([str(_tiny_config(tmp_path)), "--manifest", str(whole), "--runs", str(tmp_path / "runs"),
                       "--record", str(tmp_path / "record")])
    assert exit_.value.code == 2
    assert "--record keeps fold runs only" in capsys.readouterr().err


def test_a_run_that_cannot_train_stops_the_ablation_with_its_reason(tmp_path, capsys):
    # A stopped run whose saved state came from another config is refused by training: the runner must
    # say so, not go on to score a checkpoint that was never written.
    flat = write_flat_set(tmp_path / "flat")
    config, run = _tiny_config(tmp_path), tmp_path / "runs" / "run"
    run.mkdir(parents=True)
    (run / "resume.pt").write_bytes(b"saved state of another config")
    (run / "run_config.json").write_text(json.dumps({"detector": {"backbone": "another"}, "training": {}}))
    with pytest.raises(RuntimeError, match="failed"):
        ablation.run_one(config, str(flat), run, seed=0, perturbations="none", fpr=0.05)
    assert "was started with another config" in capsys.readouterr().err
    assert not (run / ablation.SCORING_MODEL).exists()


ABLATION_100K = sorted((CONFIGS / "ablation-100k").glob("*.toml"))


def _named(stem: str) -> Path:
    return next(config for config in ABLATION_100K if config.stem == stem)


def test_gamma_goes_on_the_better_method_for_the_later_seeds():
    ap = {_named("lite0-mixed"): 0.24, _named("lite0-sef"): 0.22, _named("lite0-sef-lowlevel"): 0.23,
          _named("lite0-mole"): 0.90, _named("lite0-mixed-gamma"): 0.10, _named("lite0-sef-gamma"): 0.30,
          _named("lite0-mixed-npr-lowlevel"): 0.20, _named("lite0-sef-npr-upsample"): 0.21}
    # MoLE leads, but no GAMMA config builds on it: of mixed and SEF, mixed is better.
    kept = {config.stem for config in ablation.gamma_on_better(ABLATION_100K, ap)}
    assert kept == {"lite0-mixed", "lite0-sef", "lite0-sef-lowlevel", "lite0-mole", "lite0-mixed-gamma",
                    "lite0-mixed-npr-lowlevel", "lite0-sef-npr-upsample"}
    # SEF with its low-level expert is an SEF config: when it leads, GAMMA goes on SEF.
    ap[_named("lite0-sef-lowlevel")] = 0.25
    kept = {config.stem for config in ablation.gamma_on_better(ABLATION_100K, ap)}
    assert "lite0-sef-gamma" in kept and "lite0-mixed-gamma" not in kept
    # Until every candidate's first seed is in, nothing is left out.
    del ap[_named("lite0-sef")]
    assert ablation.gamma_on_better(ABLATION_100K, ap) == ABLATION_100K


def test_later_seeds_train_gamma_only_on_the_method_whose_first_seed_did_better(tmp_path, capsys):
    fold = _two_generator_folds(tmp_path / "flat")[0]
    tiny = (CONFIGS / "tiny.toml").read_text()
    configs = []
    for name, extra in (("lora", ""), ("mole", 'adapter = "mole"\n')):
        for gamma in ("", "\n[detector.gamma]\nenabled = true\nseg_dim = 8\n"):
            config = tmp_path / f"tiny-{name}{'-gamma' if gamma else ''}.toml"
            text = tiny.replace('crop_size = 32\n', f'crop_size = 32\n{extra}').replace("\n[training]", f"{gamma}\n[training]")
            config.write_text(text)
            configs.append(config)
    runs = tmp_path / "runs"
    args = [*map(str, configs), "--folds", str(fold), "--seeds", "0,1", "--runs", str(runs),
            "--perturbations", "none", "--gamma-on-better"]
    assert ablation.main(args) == 0

    first_ap = {name: ablation.held_out_figures(runs / fold.stem / f"tiny-{name}" / "seed-0")["ap"] for name in ("lora", "mole")}
    better = max(first_ap, key=first_ap.__getitem__)
    worse = "mole" if better == "lora" else "lora"
    trained = {path.parents[2].name for path in runs.glob(f"{fold.stem}/*/seed-1/eval/metrics.json")}
    assert trained == {"tiny-lora", "tiny-mole", f"tiny-{better}-gamma"}
    assert f"not trained: tiny-{worse}-gamma" in capsys.readouterr().out
    assert f"| {fold.stem} | tiny-{worse}-gamma | 8 | 1 |" in (runs / "ablation.md").read_text()


def test_bad_arguments_are_refused_before_any_training(tmp_path, capsys):
    fold = _two_generator_folds(tmp_path / "flat")[0]
    config, runs = _tiny_config(tmp_path), tmp_path / "runs"
    twin = tmp_path / "elsewhere" / config.name
    twin.parent.mkdir()
    twin.write_text(config.read_text())
    for bad, said in ((["--perturbations", "jpeg7"], "jpeg7"), (["--seeds", "0,x"], "--seeds"),
                      (["--fpr", "5"], "--fpr"), ([str(tmp_path / "nope.toml")], "nope.toml"),
                      ([str(twin)], "share the name 'tiny-mixed'")):
        configs = [str(config), *(b for b in bad if b.endswith(".toml"))]
        options = [b for b in bad if not b.endswith(".toml")]
        with pytest.raises(SystemExit):
            ablation.main([*configs, "--folds", str(fold), "--runs", str(runs), *options])
        assert said in capsys.readouterr().err
    assert not runs.exists()


def test_a_finished_run_of_another_config_under_the_same_name_is_not_counted(tmp_path):
    fold = _two_generator_folds(tmp_path / "flat")[0]
    config, runs = _tiny_config(tmp_path), tmp_path / "runs"
    args = [str(config), "--folds", str(fold), "--runs", str(runs), "--perturbations", "none"]
    assert ablation.main(args) == 0
    config.write_text(config.read_text().replace("lr = 0.005", "lr = 0.02"))  # edited since
    with pytest.raises(RuntimeError, match=r"made with another config .*training\.lr: 0\.005 -> 0\.02"):
        ablation.main(args)


def test_leave_out_writes_only_folds_that_can_be_evaluated(tmp_path, capsys):
    path = write_flat_set(tmp_path / "flat", count=18)
    records = manifest.read(path)
    with pytest.raises(SystemExit):  # the flat set's fakes name no family
        leaveout.main(["--manifest", str(path)])
    assert "no fake in" in capsys.readouterr().err
    for record in records:
        if record.label == 1:  # "org/kept" in every split, "seen-in-train" only in train
            index = int(Path(record.path).stem)
            record.family = "org/kept" if index % 2 or record.split != "train" else "seen-in-train"
    manifest.write(records, path)
    assert leaveout.main(["--manifest", str(path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"org/kept": str(path.parent / "folds" / "family-org_kept.jsonl")}
    assert "skipped: family 'seen-in-train' has no fake in the test split" in captured.err
    with pytest.raises(SystemExit):
        leaveout.main(["--manifest", str(path), "--held-out", "seen-in-train"])
    with pytest.raises(SystemExit):
        leaveout.main(["--manifest", str(path.parent)])  # a folder
    assert "no manifest at" in capsys.readouterr().err
