"""``python -m training train|evaluate|calibrate`` (installed as ``synthspot-train``).

    train      --config CONFIG.toml --run RUN_DIR [--no-resume] [--manifest M] [--epochs N] ...
               (under torchrun: ``torchrun --nproc-per-node 2 -m training train ...``)
    calibrate  (--checkpoint RUN/checkpoint | --onnx MODEL.onnx) --data MANIFEST [--split val] [--fpr 0.01]
               [--max-crops 8] [--aggregation mean] [--crop-plan texture] [--layout ...] [--pooled]
               [--real-quantile 0.9] [--perturbations blur1,downscale0.5,upscale2] [--scaling platt|none]
               --out RUN/calibration.json      (``calibrate --help`` says what each does)
    evaluate   see ``python -m training.evaluate --help``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _train(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="synthspot-train train")
    parser.add_argument("--config", required=True, help="TOML/JSON with [detector] and [training] tables")
    parser.add_argument("--run", required=True, help="run folder (config, logs, metrics, checkpoints)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if the run folder has a saved state")
    parser.add_argument("--no-progress", action="store_true")
    for name, kind in (("manifest", str), ("epochs", int), ("expert-epochs", int), ("steps-per-epoch", int),
                       ("batch-size", int), ("lr", float), ("seed", int), ("workers", int), ("threads", int),
                       ("device", str)):
        parser.add_argument(f"--{name}", type=kind)
    args = parser.parse_args(argv)
    from training.checkpoint import CheckpointError
    from training.config import ConfigError
    from training.runs import load_run_config
    from training.train import train

    keys = ("manifest", "epochs", "expert_epochs", "steps_per_epoch", "batch_size", "lr", "seed", "workers", "threads", "device")
    try:  # a config that does not read (missing, not TOML, a field of the wrong type) is one line, not a traceback
        detector_config, train_config = load_run_config(args.config, {k: getattr(args, k) for k in keys})
    except (ConfigError, OSError, ValueError, TypeError) as error:  # TOMLDecodeError is a ValueError
        print(f"synthspot-train train: {args.config}: {error}", file=sys.stderr)
        return 2
    if not train_config.manifest:
        print("synthspot-train train: no data: pass --manifest (a manifest.jsonl), or set manifest in the "
              "config's [training]", file=sys.stderr)
        return 2
    if not Path(train_config.manifest).is_file():
        print(f"synthspot-train train: the manifest {train_config.manifest} is not a file", file=sys.stderr)
        return 2
    try:
        checkpoint = train(detector_config, train_config, args.run, resume=not args.no_resume,
                           progress=not args.no_progress)
    except (ConfigError, CheckpointError) as error:  # e.g. another config's saved state, an expert that does not fit
        print(f"synthspot-train train: {error}", file=sys.stderr)
        return 2
    print(checkpoint)
    return 0


def _calibrate(argv: list[str]) -> int:
    import numpy as np

    from engine.contract import AGGREGATIONS
    from training.arguments import at_least
    from training.calibrate import DEFAULT_REAL_QUANTILE, MIN_IMAGES_PER_CLASS_FOR_SCALING, calibrate, fit_logit_scaling

    parser = argparse.ArgumentParser(prog="synthspot-train calibrate")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint")
    source.add_argument("--onnx")
    parser.add_argument("--data", required=True)
    parser.add_argument("--layout")
    parser.add_argument("--split", default="val")
    parser.add_argument("--fpr", type=float, default=0.01)
    parser.add_argument("--real-quantile", type=float, default=DEFAULT_REAL_QUANTILE,
                        help="share of held-out real photos below likely_real (the rest up to likely_ai are 'uncertain')")
    parser.add_argument("--max-crops", type=at_least(1), help="default: the model's (8 for checkpoints)")
    parser.add_argument("--aggregation", choices=AGGREGATIONS, help="default: the model's (mean for checkpoints)")
    parser.add_argument("--crop-plan", choices=("grid", "texture"), help="default: the model's (grid for checkpoints)")
    parser.add_argument("--pooled", action="store_true",
                        help="hold the FPR on all reals pooled only, not also on each kind of processing")
    parser.add_argument("--perturbations", default="none",
                        help="comma list of training.perturbations' names (e.g. blur1,downscale0.5,upscale2) whose "
                             "copies of every real must also stay under the FPR, or 'none'")
    parser.add_argument("--weighting", choices=("photo", "image"), default="photo",
                        help="weigh every source photo the same in the quantiles (default), however many crops were "
                             "cut from it, or every image ('image': calibrations before version 13's second)")
    parser.add_argument("--scaling", choices=("platt", "none"), default="platt",
                        help="fit a Platt scaling of the logits on the split's reals and fakes first (default), or "
                             "keep the raw logits")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.split == "test":
        parser.error("thresholds are never tuned on the test split")
    if args.split == "train":
        print("synthspot-train calibrate: warning: the model has seen the train split; thresholds fitted on it "
              "are too sure of themselves (use val)", file=sys.stderr)
    from training.arguments import check_out_file, load_scorer_or_exit
    from training.perturbations import parse_perturbations
    from training.records import load_records
    from training.scoring import UndecodableImage, score_records

    try:
        perturbations = parse_perturbations(args.perturbations)
    except ValueError as error:
        parser.error(str(error))
    for name in ("fpr", "real_quantile"):  # checked now, not after every image was scored
        if not 0 < getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} is a share between 0 and 1, not {getattr(args, name)}")
    check_out_file(parser, args.out)

    scorer, recipe = load_scorer_or_exit(parser, args.checkpoint, args.onnx)
    recipe = recipe.but(args.max_crops, args.aggregation, args.crop_plan)
    records, base = load_records(args.data, args.split, args.layout)
    reals = [r for r in records if r.label == 0]  # processed reals included: they are real photos too
    fakes = [r for r in records if r.label == 1] if args.scaling == "platt" else []
    if args.scaling == "platt" and min(len(reals), len(fakes)) < MIN_IMAGES_PER_CLASS_FOR_SCALING:
        parser.error(f"the {args.split} split has {len(reals)} real and {len(fakes)} fake images; the logit scaling "
                     f"needs {MIN_IMAGES_PER_CLASS_FOR_SCALING} of each (or pass --scaling none)")
    try:
        scores = score_records(reals, base, scorer, recipe.max_crops, recipe.aggregation, perturbations,
                               crop_plan=recipe.crop_plan)
        # the fakes only fit the scaling: the thresholds come from reals alone
        fake_logits = score_records(fakes, base, scorer, recipe.max_crops, recipe.aggregation,
                                    crop_plan=recipe.crop_plan).logits["clean"] if fakes else None
    except UndecodableImage as error:
        parser.error(f"{error} (the app could not score it either: take it out of the data)")
    if fake_logits is not None:
        try:
            scores.scaling = fit_logit_scaling(np.r_[np.zeros(len(reals)), np.ones(len(fakes))],
                                               np.r_[scores.logits["clean"], fake_logits])
        except ValueError as error:
            parser.error(f"{error} (pass --scaling none to keep the raw logits)")
    result = calibrate(scores.probabilities(), args.fpr, args.real_quantile, args.split, recipe=recipe,
                       crop_size=scorer.crop_size, kinds=None if args.pooled else scores.real_kinds,
                       perturbed={name: scores.probabilities(name) for name in perturbations}, scaling=scores.scaling,
                       photos=[r.source_id for r in reals] if args.weighting == "photo" else None)
    result.save(args.out)
    print(result)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"train": _train, "calibrate": _calibrate}
    if argv and argv[0] == "evaluate":
        from training.evaluate import main as evaluate

        return evaluate(argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if not argv or argv[0] not in commands:
        unknown = f"synthspot-train: unknown command {argv[0]!r}\n" if argv else ""
        print(unknown + __doc__, file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
