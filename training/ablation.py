"""Run the ablation (train -> calibrate on val reals -> evaluate on test) and print its table.

    python -m training.ablation --manifest M --runs RUNS_DIR [--perturbations jpeg75] \
        --held-out-generator upconv_7_photo --held-out-domain inpaint configs/ablation/*.toml

Each config trains into RUNS_DIR/<config name> (skipped when its evaluation exists, so an
interrupted ablation continues). The table pools the test fakes three ways: generators seen in
training, the held-out generator, and the held-out domain, each against every test real.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from engine.contract import sigmoid
from training.metrics import detection_metrics


def run_one(config: Path, manifest: str, runs: Path, perturbations: str, fpr: float) -> Path:
    from training.__main__ import main as cli
    from training.evaluate import main as evaluate

    run = runs / config.stem
    if (run / "eval" / "metrics.json").is_file():
        return run
    started = time.perf_counter()
    if not (run / "checkpoint" / "model.safetensors").is_file():
        cli(["train", "--config", str(config), "--run", str(run), "--manifest", manifest, "--no-progress"])
    trained = time.perf_counter() - started
    cli(["calibrate", "--checkpoint", str(run / "checkpoint"), "--data", manifest, "--fpr", str(fpr),
         "--out", str(run / "calibration.json")])
    evaluate(["--checkpoint", str(run / "checkpoint"), "--data", manifest, "--perturbations", perturbations,
              "--calibration", str(run / "calibration.json"), "--out", str(run / "eval"), "--title", config.stem])
    timing = {"train_seconds": trained, "total_seconds": time.perf_counter() - started}
    (run / "timing.json").write_text(json.dumps(timing) + "\n")
    return run


def pooled_row(run: Path, held_generator: str, held_domain: str) -> dict:
    scores = np.load(run / "eval" / "scores.npz")
    labels, groups = scores["labels"], scores["groups"].astype(str)
    probabilities = sigmoid(scores["clean"])
    threshold = json.loads((run / "eval" / "metrics.json").read_text())["threshold"]
    held_dom = np.array([g.split("/")[0] == held_domain for g in groups])
    held_gen = np.array([held_generator in g for g in groups]) & ~held_dom  # inpaint fills name their sources
    selections = {"seen": (labels == 1) & ~held_gen & ~held_dom, "held_gen": held_gen, "held_domain": held_dom}
    row = {}
    for name, fakes in selections.items():
        keep = fakes | (labels == 0)
        if fakes.any():
            row[name] = detection_metrics(labels[keep], probabilities[keep], threshold)
    summary = json.loads((run / "eval" / "metrics.json").read_text())["metrics"]
    row["overall"] = summary["clean"]["overall"]
    row["perturbed"] = {c: summary[c]["overall"] for c in summary if c != "clean"}
    timing = run / "timing.json"
    row["train_seconds"] = json.loads(timing.read_text())["train_seconds"] if timing.is_file() else float("nan")
    return row


def table(rows: dict[str, dict]) -> str:
    perturbed = sorted({c for row in rows.values() for c in row["perturbed"]})
    head = (["run", "AP seen", "AP held-out generator", "AP held-out domain", "AP all", "AUC all", "TPR@5%FPR all",
             "real acc @cal", *[f"AP all {c}" for c in perturbed], "train s"])
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, row in rows.items():
        def ap(part, row=row):
            return f"{row[part]['ap']:.3f}" if part in row else "-"
        cells = [name, ap("seen"), ap("held_gen"), ap("held_domain"), f"{row['overall']['ap']:.3f}",
                 f"{row['overall']['auc']:.3f}", f"{row['overall']['tpr_at_5fpr']:.3f}",
                 f"{row['overall']['acc_real']:.3f}", *[f"{row['perturbed'][c]['ap']:.3f}" for c in perturbed],
                 f"{row['train_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--runs", required=True, type=Path)
    parser.add_argument("--perturbations", default="jpeg75")
    parser.add_argument("--fpr", type=float, default=0.05)
    parser.add_argument("--held-out-generator", default="upconv_7_photo")
    parser.add_argument("--held-out-domain", default="inpaint")
    parser.add_argument("--table-only", action="store_true", help="only tabulate runs that finished")
    args = parser.parse_args(argv)
    rows = {}
    for config in args.configs:
        run = args.runs / config.stem
        if not args.table_only:
            run_one(config, args.manifest, args.runs, args.perturbations, args.fpr)
        if (run / "eval" / "scores.npz").is_file():
            rows[config.stem] = pooled_row(run, args.held_out_generator, args.held_out_domain)
    text = table(rows)
    (args.runs / "ablation.md").write_text(text + "\n")
    (args.runs / "ablation.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


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
