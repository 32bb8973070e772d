"""Run the ablation (train -> calibrate on val reals -> evaluate on test) and print its table.

Leave-one-out folds (written by ``python -m training.data.leaveout``; a fold's test split holds only
its held-out fakes), each config trained once per seed, mean +- spread over the seeds:

    python -m training.ablation --folds FORGED/folds/family-esrgan-rrdb.jsonl,FORGED/folds/family-vq.jsonl \
        --seeds 0,1,2 --runs RUNS --perturbations jpeg75,blur1,downscale0.5 configs/ablation-100k/*.toml

One manifest, with a generator and a domain kept out of training by the configs themselves:

    python -m training.ablation --manifest M --runs RUNS --held-out-generator upconv_7_photo \
        --held-out-domain inpaint configs/ablation/*.toml

Each run trains into RUNS/<fold>/<config>/seed-<n> (<fold> is the fold manifest's name, or "all")
and is skipped when its evaluation exists, so an interrupted ablation continues where it stopped.

``--record DIR`` (fold mode) copies each finished run's figures, calibration and timing into
DIR/<fold>/<config>/seed-<n>, a few KB meant to be committed: runs' folders live outside the
repository and a fresh machine loses them, a record does not. A recorded run counts, and is not
trained again, only on the fold manifest it was made on (same SHA-256).

``--gamma-on-better``: after the first seed, GAMMA goes on the better of the methods only (the issue's
"GAMMA on the better of them"): a GAMMA config is trained for later seeds only when its method and
adapter are those of the plain config with the best first-seed held-out AP (mean over the folds),
among the plain configs some GAMMA config builds on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from engine.contract import LogitScaling, sigmoid
from training.config import ConfigError
from training.perturbations import parse_perturbations
from training.metrics import detection_metrics, mean_ap
from training.runs import METRICS_FILE

WHOLE_MANIFEST = "all"


def training_crops(config: Path) -> int | None:
    """Crops one run trains on (every stage; SEF's experts included): the ablation's budget.
    None when an epoch's length depends on the data (no ``steps_per_epoch``)."""
    from training.runs import load_run_config
    from training.train import plan_stages

    detector_config, train_config = load_run_config(config)
    if train_config.steps_per_epoch is None:
        return None
    per_epoch = train_config.steps_per_epoch * train_config.batch_size
    return sum(stage.epochs * per_epoch for stage in plan_stages(detector_config, train_config))


def run_folder(runs: Path, manifest: str | Path, config: Path, seed: int, fold: bool) -> Path:
    return runs / (Path(manifest).stem if fold else WHOLE_MANIFEST) / config.stem / f"seed-{seed}"


def run_one(config: Path, manifest: str, run: Path, seed: int, perturbations: str, fpr: float) -> Path:
    """Train (resuming a stopped run), calibrate on the val reals and evaluate on test, scoring as the
    engine does (its ONNX model, texture crop plan); a run whose evaluation exists is left as it is."""
    from training.__main__ import main as cli
    from training.evaluate import main as evaluate

    if (run / "eval" / "metrics.json").is_file():
        changes = config_changes(config, run, manifest, seed)
        if changes:  # a run of another config under this name: its figures are not this config's
            raise RuntimeError(f"{run} was made with another config than {config} ({'; '.join(changes)}): "
                               "move it away or rename the config")
        return run
    if not (run / "checkpoint" / "model.safetensors").is_file():
        status = cli(["train", "--config", str(config), "--run", str(run), "--manifest", manifest, "--seed", str(seed),
                      "--no-progress"])
        if status:  # its reason is printed above; scoring a run that did not train would only hide it
            raise RuntimeError(f"training {run} failed (exit status {status})")
    started = time.perf_counter()
    model = export_for_scoring(run / "checkpoint", run / SCORING_MODEL)
    scoring = ["--onnx", str(model), "--crop-plan", SCORING_CROP_PLAN]
    # Raw logits: the ablation compares detection (ranks and thresholds at an FPR), which a monotone
    # scaling leaves as it is, and scoring every val fake too would add a third to each run's scoring.
    # Crops weighted as in the runs already recorded, so a new seed's flag rates sit beside theirs.
    cli(["calibrate", *scoring, "--data", manifest, "--split", "val", "--scaling", "none", "--weighting", "image",
         "--fpr", str(fpr), "--out", str(run / "calibration.json")])
    evaluate([*scoring, "--data", manifest, "--split", "test",
              "--perturbations", perturbations, "--calibration", str(run / "calibration.json"),
              "--out", str(run / "eval"), "--title", f"{config.stem} seed {seed}"])
    timing = {"train_seconds": training_seconds(run), "score_seconds": time.perf_counter() - started, "seed": seed}
    (run / "timing.json").write_text(json.dumps(timing) + "\n")
    return run


def config_changes(config: Path, run: Path, manifest: str, seed: int) -> list[str]:
    """How ``config`` (with the fold's manifest and the seed, as the run was trained) differs from ``run``'s."""
    from training.runs import RunFolder, load_run_config

    detector_config, train_config = load_run_config(config, {"manifest": manifest, "seed": seed})
    return RunFolder(run, write=False).config_changes(detector_config, train_config)


SCORING_MODEL = "scoring-fp32.onnx"
SCORING_CROP_PLAN = "texture"  # the plan every shipped model since version 2 asks the engine for


def export_for_scoring(checkpoint: Path, path: Path) -> Path:
    """The checkpoint as the engine runs it (fp32 ONNX, LoRA folded, parity-checked against torch by
    the export), stamped with the default recipe: ONNX Runtime scores a Lite0 crop 2.4x (mixed) to
    2.8x (SEF) faster than the folded torch graph here, and calibration plus evaluation is most of an
    ablation run's time after training. Made once per run, kept beside the checkpoint."""
    if path.is_file():
        return path
    from engine.contract import ModelMetadata
    from export.onnx_export import export_detector
    from training.checkpoint import load_checkpoint
    from training.scoring import ScoringRecipe

    detector = load_checkpoint(checkpoint)
    recipe = ScoringRecipe()
    metadata = ModelMetadata(name=detector.config.name, version="ablation", crop_size=detector.input_spec.crop_size,
                             aggregation=recipe.aggregation, max_crops=recipe.max_crops, crop_plan=SCORING_CROP_PLAN)
    export_detector(detector, path, metadata, "fp32")
    return path


def training_seconds(run: Path) -> float:
    """The training epochs' time from the run's metrics (a run resumed across processes and days
    counts each epoch once; decoding into the cache counts in the first)."""
    rows = (json.loads(line) for line in (run / METRICS_FILE).read_text().splitlines() if line.strip())
    return sum(row.get("seconds", 0.0) for row in rows)


RECORDED_FILES = {"eval/metrics.json": "metrics.json", "calibration.json": "calibration.json",
                  "timing.json": "timing.json"}


def gamma_on_better(configs: list[Path], first_seed_ap: dict[Path, float]) -> list[Path]:
    """The configs for the seeds after the first: every plain config, and only the GAMMA configs that
    build on the best plain config by first-seed AP. A GAMMA config builds on the plain configs with
    its method and adapter (its extra inpaint expert aside). All configs while that AP is not known."""
    from training.runs import load_run_config

    detectors = {config: load_run_config(config)[0] for config in configs}
    kind = {config: (detector.method, detector.adapter) for config, detector in detectors.items()}
    gamma = [config for config in configs if detectors[config].gamma.enabled]
    candidates = [config for config in configs
                  if not detectors[config].gamma.enabled and kind[config] in {kind[g] for g in gamma}]
    scored = [config for config in candidates if config in first_seed_ap]
    if not gamma or not scored or len(scored) < len(candidates):
        return list(configs)
    best = max(scored, key=lambda config: first_seed_ap[config])
    return [config for config in configs if config not in gamma or kind[config] == kind[best]]


def manifest_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def record_run(run: Path, record: Path, manifest: str | Path, digest: str) -> None:
    """Copy a finished run's small results into ``record``, with the digest of the data it was made on."""
    record.mkdir(parents=True, exist_ok=True)
    for source, name in RECORDED_FILES.items():
        if (run / source).is_file():
            shutil.copyfile(run / source, record / name)
    data = {"manifest": Path(manifest).name, "sha256": digest}
    (record / "data.json").write_text(json.dumps(data, indent=1) + "\n")


def recorded_on(record: Path, digest: str) -> bool:
    """Whether ``record`` holds a finished run made on the manifest with this digest."""
    data = record / "data.json"
    return ((record / "metrics.json").is_file() and data.is_file()
            and json.loads(data.read_text()).get("sha256") == digest)


def held_out_figures(run: Path) -> dict[str, float]:
    """A fold run's held-out figures: AP of all test fakes (every one is held out) against the test
    reals, the mean of the held-out generators' APs, and the AP under each processing. ``run`` is a
    run folder or a record of one."""
    metrics = run / "eval" / "metrics.json"
    summary = json.loads((metrics if metrics.is_file() else run / "metrics.json").read_text())["metrics"]
    clean = summary["clean"]
    figures = {"ap": clean["overall"]["ap"], "auc": clean["overall"]["auc"],
               "generator_ap": mean_ap(clean["per_generator"]),
               "flagged": clean["overall"]["acc_fake"], "real_kept": clean["overall"]["acc_real"]}
    figures.update({f"ap {name}": summary[name]["overall"]["ap"] for name in summary if name != "clean"})
    return figures


def pooled_figures(run: Path, held_generator: str, held_domain: str) -> dict[str, float]:
    """A whole-manifest run's test fakes pooled three ways (generators trained on, the held-out
    generator, the held-out domain), each against every test real."""
    scores = np.load(run / "eval" / "scores.npz")
    labels, groups = scores["labels"], scores["groups"].astype(str)
    evaluation = json.loads((run / "eval" / "metrics.json").read_text())
    # On the scale the threshold was fitted on (raw logits in evaluations from before the scaling).
    probabilities = sigmoid(LogitScaling(**evaluation.get("logit_scaling", {})).apply(scores["clean"]))
    threshold, summary = evaluation["threshold"], evaluation["metrics"]
    held_dom = np.array([g.split("/")[0] == held_domain for g in groups])
    held_gen = np.array([held_generator in g for g in groups]) & ~held_dom  # inpaint fills name their sources
    selections = {"seen": (labels == 1) & ~held_gen & ~held_dom, "held-out generator": held_gen,
                  "held-out domain": held_dom}
    figures = {}
    for name, fakes in selections.items():
        keep = fakes | (labels == 0)
        if fakes.any():
            figures[f"ap {name}"] = detection_metrics(labels[keep], probabilities[keep], threshold)["ap"]
    figures["ap all"] = summary["clean"]["overall"]["ap"]
    figures.update({f"ap all {name}": summary[name]["overall"]["ap"] for name in summary if name != "clean"})
    return figures


def over_seeds(per_seed: list[dict[str, float]]) -> dict[str, tuple[float, float, int]]:
    """Each figure's mean, sample standard deviation (0 for one seed) and seed count."""
    keys = sorted({key for figures in per_seed for key in figures})
    summary = {}
    for key in keys:
        values = np.array([figures[key] for figures in per_seed if key in figures], dtype=np.float64)
        spread = float(values.std(ddof=1)) if values.size > 1 else 0.0
        summary[key] = (float(values.mean()), spread, int(values.size))
    return summary


def table(rows: dict[str, dict], columns: list[str]) -> str:
    """Markdown: one row per (fold, config); cells "mean +- sd" over the seeds that finished."""
    head = ["fold", "config", "crops", "seeds", *columns]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for (fold, config), row in rows.items():
        stats = row["figures"]
        seeds = max((n for _, _, n in stats.values()), default=0)
        cells = [fold, config, "-" if row["crops"] is None else f"{row['crops']:,}", str(seeds)]
        cells += [f"{stats[c][0]:.3f} ± {stats[c][1]:.3f}" if c in stats else "-" for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fold_means(rows: dict[str, dict]) -> dict[str, dict]:
    """Per config, each seed's figures averaged over the folds (seeds finished in every fold only),
    then mean +- sd over those seeds: the "mean held-out AP" of the whole protocol."""
    by_config: dict[str, dict[str, list]] = {}
    for (_, config), row in rows.items():
        for seed, figures in row["per_seed"].items():
            by_config.setdefault(config, {}).setdefault(seed, []).append(figures)
    folds = len({fold for fold, _ in rows})
    means = {}
    for config, seeds in by_config.items():
        complete = [runs for runs in seeds.values() if len(runs) == folds]
        averaged = [{key: float(np.mean([r[key] for r in runs])) for key in runs[0]} for runs in complete]
        means[(f"mean of {folds} folds", config)] = {"figures": over_seeds(averaged),
                                                     "crops": next(r["crops"] for (_, c), r in rows.items() if c == config)}
    return means


def complete_sources_manifest(forged: str | Path, out_name: str, domains=("real", "upsample", "reconstruct", "inpaint")) -> Path:
    """Freeze a manifest of the photos whose every domain is forged (a forge may still be running),
    written beside the forge's files so relative paths resolve; every ablation run reads this one file."""
    from training.data import manifest
    from training.data.forge.runner import collect

    records = [manifest.Record(**row["record"]) for row in collect(forged)]
    have: dict[str, set] = {}
    for record in records:
        have.setdefault(record.source_id, set()).add(record.domain)
    kept = [r for r in records if set(domains) <= have[r.source_id]]
    path = Path(forged) / out_name
    manifest.write(kept, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", type=Path)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="one manifest; configs keep the held-out generator/domain out")
    source.add_argument("--folds", help="comma list of leave-out fold manifests (training.data.leaveout)")
    parser.add_argument("--runs", required=True, type=Path)
    parser.add_argument("--seeds", default="0", help="comma list of training seeds")
    parser.add_argument("--perturbations", default="jpeg75")
    parser.add_argument("--fpr", type=float, default=0.05)
    parser.add_argument("--held-out-generator", default="upconv_7_photo")
    parser.add_argument("--held-out-domain", default="inpaint")
    parser.add_argument("--table-only", action="store_true", help="only tabulate runs that finished")
    parser.add_argument("--record", type=Path,
                        help="folder (committed) that keeps each finished fold run's figures; recorded runs are not retrained")
    parser.add_argument("--gamma-on-better", action="store_true",
                        help="after the first seed, GAMMA only on the better method (by first-seed held-out AP)")
    args = parser.parse_args(argv)
    # Every argument checked before the first run: a typo found after an hour of training costs the hour.
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
        parse_perturbations(args.perturbations)
    except ValueError as error:
        parser.error(f"--seeds is a comma list of whole numbers, --perturbations of known ones ({error})")
    if not 0 < args.fpr < 1:
        parser.error(f"--fpr is a share between 0 and 1, not {args.fpr}")
    names: dict[str, Path] = {}
    for config in args.configs:
        try:
            training_crops(config)
        except (ConfigError, OSError, ValueError, TypeError) as error:
            parser.error(f"{config}: {error}")
        if names.setdefault(config.stem, config) != config:  # runs are filed by the config's name
            parser.error(f"{names[config.stem]} and {config} share the name {config.stem!r}: rename one")
    fold_mode = args.folds is not None
    manifests = args.folds.split(",") if fold_mode else [args.manifest]
    missing = [m for m in manifests if not Path(m).is_file()]
    if missing:
        parser.error(f"no such manifest: {', '.join(missing)}")
    if args.record and not fold_mode:
        parser.error("--record keeps fold runs only (use --folds)")
    digests = {m: manifest_digest(m) for m in manifests} if args.record else {}

    def recorded(manifest: str, config: Path, seed: int) -> Path | None:
        if not args.record:
            return None
        record = run_folder(args.record, manifest, config, seed, fold_mode)
        return record if recorded_on(record, digests[manifest]) else None

    def figures_of(manifest: str, config: Path, seed: int) -> dict[str, float] | None:
        run: Path | None = run_folder(args.runs, manifest, config, seed, fold_mode)
        if not (run / "eval" / "metrics.json").is_file():
            run = recorded(manifest, config, seed)
        if run is None:
            return None
        return (held_out_figures(run) if fold_mode else
                pooled_figures(run, args.held_out_generator, args.held_out_domain))

    def first_seed_ap() -> dict[Path, float]:
        """Each config's first-seed AP over all the folds (held-out AP; the pooled AP of one manifest)."""
        key = "ap" if fold_mode else "ap all"
        found = {config: [figures_of(manifest, config, seeds[0]) for manifest in manifests] for config in args.configs}
        return {config: float(np.mean([f[key] for f in runs if f is not None]))
                for config, runs in found.items() if all(f is not None for f in runs)}

    if not args.table_only:  # seed-major: one seed of every fold and config first, then the next seed
        for index, seed in enumerate(seeds):
            configs = args.configs
            if args.gamma_on_better and index > 0:
                configs = gamma_on_better(args.configs, first_seed_ap())
                left_out = [config.stem for config in args.configs if config not in configs]
                if left_out:
                    print(f"seed {seed}: GAMMA on the better method only; not trained: {', '.join(left_out)}", flush=True)
            for manifest in manifests:
                for config in configs:
                    if recorded(manifest, config, seed):
                        continue
                    run = run_one(config, manifest, run_folder(args.runs, manifest, config, seed, fold_mode), seed,
                                  args.perturbations, args.fpr)
                    if args.record:
                        record_run(run, run_folder(args.record, manifest, config, seed, fold_mode), manifest,
                                   digests[manifest])
    rows: dict[tuple[str, str], dict] = {}
    for manifest in manifests:
        for config in args.configs:
            per_seed = {seed: figures for seed in seeds if (figures := figures_of(manifest, config, seed)) is not None}
            fold = Path(manifest).stem if fold_mode else WHOLE_MANIFEST
            rows[(fold, config.stem)] = {"per_seed": per_seed, "figures": over_seeds(list(per_seed.values())),
                                         "crops": training_crops(config)}
    if fold_mode and len(manifests) > 1:
        rows.update(fold_means(rows))
    columns = sorted({key for row in rows.values() for key in row["figures"]},
                     key=lambda key: (not key.startswith(("ap", "generator")), key))
    text = table(rows, columns)
    serialisable = {f"{fold}/{config}": {"crops": row["crops"], "figures": row["figures"],
                                         "per_seed": row.get("per_seed", {})} for (fold, config), row in rows.items()}
    for folder in filter(None, (args.runs, args.record)):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ablation.md").write_text(text + "\n")
        (folder / "ablation.json").write_text(json.dumps(serialisable, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

