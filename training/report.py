"""An evaluation's report: ``report.md`` with tables, and PNG plots (ROC curves, score
histograms for real vs fake, per-generator AP bars under each perturbation, a reliability
diagram of the probabilities)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

COLUMNS = ("n_real", "n_fake", "acc_real", "acc_fake", "acc_balanced", "ap", "auc", "tpr_at_1fpr", "tpr_at_5fpr", "ece")


def _cell(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def metrics_table(rows: dict[str, dict]) -> str:
    lines = ["| | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, metrics in rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(metrics[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


def _plot_roc(path: Path, scores) -> None:
    probabilities = scores.probabilities("clean")
    groups = np.array(scores.groups)
    fig, ax = plt.subplots(figsize=(5, 5))
    for group in ["all", *sorted({g for g in scores.groups if g != "real"})]:
        keep = np.ones(len(groups), bool) if group == "all" else (groups == group) | (scores.labels == 0)
        fpr, tpr, _ = roc_curve(scores.labels[keep], probabilities[keep])
        ax.plot(fpr, tpr, label=group)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false-positive rate (real photos)", ylabel="true-positive rate", title="ROC (clean)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_histogram(path: Path, scores) -> None:
    probabilities = scores.probabilities("clean")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, 1, 26)
    ax.hist(probabilities[scores.labels == 0], bins=bins, alpha=0.6, label="real")
    ax.hist(probabilities[scores.labels == 1], bins=bins, alpha=0.6, label="fake")
    ax.set(xlabel="P(fake)", ylabel="images", title="score histogram (clean)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_generators(path: Path, summary: dict) -> None:
    conditions = list(summary)
    groups = sorted(summary["clean"]["per_generator"])
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(groups) * len(conditions) / 3), 4))
    width = 0.8 / max(1, len(conditions))
    for index, condition in enumerate(conditions):
        values = [summary[condition]["per_generator"][g]["ap"] for g in groups]
        ax.bar(np.arange(len(groups)) + index * width, values, width, label=condition)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups, rotation=20, ha="right", fontsize=7)
    ax.set(ylabel="average precision", ylim=(0, 1.05), title="AP per generator")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_reliability(path: Path, scores) -> None:
    from training.metrics import reliability_bins

    rows = [r for r in reliability_bins(scores.labels, scores.probabilities("clean")) if r["n"]]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.plot([r["mean_probability"] for r in rows], [r["fake_share"] for r in rows], "o-", label="this model")
    for row in rows:
        ax.annotate(str(row["n"]), (row["mean_probability"], row["fake_share"]), fontsize=6,
                    textcoords="offset points", xytext=(3, -8))
    ax.set(xlabel="mean P(fake) in bin", ylabel="share of fakes in bin", title="reliability (clean; n per bin)",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def verdicts_table(rows: dict[str, dict]) -> str:
    lines = ["| images | n | likely AI | uncertain | likely real |", "|---|---|---|---|---|"]
    for name, shares in rows.items():
        lines.append(f"| {name} | {shares['n']} | " + " | ".join(
            f"{shares[band]:.1%}" for band in ("likely_ai", "uncertain", "likely_real")) + " |")
    return "\n".join(lines)


def reasons_table(rows: dict[str, dict]) -> str:
    """Shares of each group's images given each reason for "uncertain" (an image may have several)."""
    if not rows:
        return ""
    kinds = list(next(iter(rows.values())))
    lines = ["| images | " + " | ".join(kind.replace("_", " ") for kind in kinds) + " |",
             "|---|" + "---|" * len(kinds)]
    for name, shares in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{shares[kind]:.1%}" for kind in kinds) + " |")
    return "\n".join(lines)


def bootstrap_table(sure: dict, summary: dict) -> list[str]:
    """How sure the mean APs are: their intervals over resamples of the source photos."""
    def cell(figures: dict) -> str:
        low, high = figures["interval"]
        return f"{low:.4f}..{high:.4f} ({figures['median']:.4f})"

    return [f"## How sure: {sure['sources']} source photos resampled {sure['resamples']} times", "",
            "95% percentile intervals (the resamples' median). Each source is a real photo with every fake and "
            "copy made from it (a folder's files are their own sources). The median can sit above the "
            "observed mean: an interval over a few dozen photos is lopsided.", "",
            "| condition | mean generator AP | mean family AP |", "|---|---|---|",
            *(f"| {c} | {cell(sure[c]['mean_generator_ap'])} | {cell(sure[c]['mean_family_ap'])} |"
              for c in summary if c in sure), ""]


def write_report(folder: Path, scores, payload: dict, title: str) -> Path:
    summary = payload["metrics"]
    _plot_roc(folder / "roc.png", scores)
    _plot_histogram(folder / "histogram.png", scores)
    _plot_generators(folder / "per_generator.png", summary)
    _plot_reliability(folder / "reliability.png", scores)
    clean = summary["clean"]
    parts = [f"# Evaluation: {title}", "",
             f"Data `{payload['data']}`, split `{payload['split']}`; crops: engine plan, max {payload['max_crops']}, "
             f"aggregation `{payload['aggregation']}`; accuracies at P(fake) >= {payload['threshold']:.4f}.", "",
             "## Clean", "", metrics_table({"overall": summary["clean"]["overall"], **summary["clean"]["per_generator"]}),
             "", "## Under perturbations (overall)", "",
             metrics_table({c: summary[c]["overall"] for c in summary}), "",
             "![ROC](roc.png) ![histogram](histogram.png) ![reliability](reliability.png)", "",
             "![per generator](per_generator.png)", ""]
    if "bootstrap" in payload:
        parts += bootstrap_table(payload["bootstrap"], summary)
    if "per_family" in clean:
        parts += ["## Per family (clean; each family's fakes against every real)", "", metrics_table(clean["per_family"]), ""]
    if "verdicts" in clean:
        parts += [f"## Verdicts (clean): likely AI at P >= {payload['threshold']:.4f}, likely real below "
                  f"{payload['likely_real']:.4f}", "", verdicts_table(clean["verdicts"]), ""]
        if "app_verdicts" in clean:
            parts += ["### The verdicts the app shows (clean)", "",
                      "By the same bands, with the engine's rule on what an image is: a tiny, few-colour, animated "
                      "or flat image is \"uncertain\" whatever its score, and so, short of likely AI, is a heavily "
                      "recompressed JPEG or one whose crops lie on both sides of the bands.",
                      "", verdicts_table(clean["app_verdicts"]), ""]
            if "app_reasons" in clean:
                parts += ["Which reasons fire (shares of each group):", "", reasons_table(clean["app_reasons"]), ""]
        for condition, entry in summary.items():
            if condition != "clean":
                parts += [f"### Verdicts under {condition}", "", verdicts_table(
                    {k: v for k, v in entry["verdicts"].items() if k in ("real", "fake")}), ""]
    path = folder / "report.md"
    path.write_text("\n".join(parts))
    return path
