"""Detection metrics on image scores (probability of fake): sklearn where it has them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """Highest true-positive rate whose false-positive rate does not exceed ``fpr``."""
    fprs, tprs, _ = roc_curve(labels, scores)
    allowed = fprs <= fpr + 1e-12
    return float(tprs[allowed].max()) if allowed.any() else 0.0


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width bins of the predicted class's confidence, weighted by bin size."""
    predicted = (probabilities >= 0.5).astype(int)
    confidence = np.where(predicted == 1, probabilities, 1.0 - probabilities)
    correct = (predicted == labels).astype(float)
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def detection_metrics(labels, probabilities, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy on real, on fake and balanced at ``threshold``; AP, ROC AUC, TPR at 1%/5% FPR, ECE."""
    labels = np.asarray(labels, dtype=int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    reals, fakes = labels == 0, labels == 1
    flagged = probabilities >= threshold
    acc_real = float((~flagged[reals]).mean()) if reals.any() else float("nan")
    acc_fake = float(flagged[fakes].mean()) if fakes.any() else float("nan")
    both = reals.any() and fakes.any()
    return {
        "n_real": int(reals.sum()),
        "n_fake": int(fakes.sum()),
        "acc_real": acc_real,
        "acc_fake": acc_fake,
        "acc_balanced": (acc_real + acc_fake) / 2 if both else float("nan"),
        "ap": float(average_precision_score(labels, probabilities)) if both else float("nan"),
        "auc": float(roc_auc_score(labels, probabilities)) if both else float("nan"),
        "tpr_at_1fpr": tpr_at_fpr(labels, probabilities, 0.01) if both else float("nan"),
        "tpr_at_5fpr": tpr_at_fpr(labels, probabilities, 0.05) if both else float("nan"),
        "ece": expected_calibration_error(labels, probabilities),
    }


def mean_ap(per_group: dict[str, dict[str, float]]) -> float:
    """The mean AP over groups (generators, families) of ``per_group_metrics``; NaN without any."""
    return float(np.mean([m["ap"] for m in per_group.values()])) if per_group else float("nan")


def verdict_shares(probabilities, likely_ai: float, likely_real: float) -> dict[str, float]:
    """Shares of images in each of the app's three verdict bands, by score alone, with the same
    comparisons as ``engine.result.decide_verdict`` (which may add reasons for "uncertain")."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    bands = np.where(probabilities >= likely_ai, "likely_ai",
                     np.where(probabilities <= likely_real, "likely_real", "uncertain"))
    return band_shares(bands)


def band_shares(verdicts) -> dict[str, float]:
    """Shares of images in each of the app's three verdicts, from the verdicts themselves (the engine's,
    which may call an image "uncertain" for what it is, whatever its score)."""
    verdicts = np.asarray(verdicts, dtype=object)
    if verdicts.size == 0:
        return {"n": 0, "likely_ai": float("nan"), "uncertain": float("nan"), "likely_real": float("nan")}
    return {"n": int(verdicts.size), **{band: float((verdicts == band).mean())
                                        for band in ("likely_ai", "uncertain", "likely_real")}}


def reliability_bins(labels, probabilities, bins: int = 10) -> list[dict]:
    """Per equal-width bin of P(fake): how many images, their mean P(fake) and the share that are fake."""
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    which = np.clip((probabilities * bins).astype(int), 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        rows.append({"low": b / bins, "high": (b + 1) / bins, "n": int(inside.sum()),
                     "mean_probability": float(probabilities[inside].mean()) if inside.any() else float("nan"),
                     "fake_share": float(labels[inside].mean()) if inside.any() else float("nan")})
    return rows


def bootstrap_mean_aps(labels, groups, clusters, score_sets, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """(resamples, len(score_sets)): each score set's mean AP over groups, once per resample of ``clusters``.

    Each group's AP is its fakes against every real, as ``per_group_metrics`` has it. The unit resampled,
    with replacement, is the cluster (the real photo every fake of it was made from): a photo's fakes and
    processed copies rise and fall together, so resampling images would make an interval far too narrow.
    All score sets are scored on the same resamples, so their differences are paired. A group none of
    whose fakes a resample drew is left out of that resample's mean (for every score set alike).
    """
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    score_sets = [np.asarray(scores) for scores in score_sets]
    labels = np.asarray(labels, dtype=int)
    groups, clusters = np.asarray(groups), np.asarray(clusters)
    _, cluster_index = np.unique(clusters, return_inverse=True)
    count = cluster_index.max() + 1
    # Each group's images (its fakes and every real), the same in every resample.
    members = [(groups == name) | (labels == 0) for name in sorted(set(groups[labels == 1]))]
    rng = np.random.default_rng(seed)
    means = np.empty((resamples, len(score_sets)))
    for resample in range(resamples):
        # How often each cluster was drawn: its images' weight (0: left out of this resample).
        weights = np.bincount(rng.integers(0, count, count), minlength=count)[cluster_index]
        kept = []
        for member in members:
            keep = member & (weights > 0)
            if labels[keep].min(initial=1) != labels[keep].max(initial=0):
                kept.append(keep)  # else this resample drew no fake of the group (or no real)
        if not kept:
            raise ValueError("a resample holds no group with both fakes and reals: too few photos to resample")
        for column, scores in enumerate(score_sets):
            means[resample, column] = np.mean([
                weighted_average_precision(labels[keep], scores[keep], weights[keep]) for keep in kept])
    return means


def weighted_average_precision(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """sklearn's ``average_precision_score`` with sample weights (positive ones), in numpy alone: the bootstrap
    calls it groups x conditions x resamples times, and sklearn's input checks were nearly all of that time
    (a compare --bootstrap 1000 of 256 images took 8.5 minutes). Ties are one threshold, as sklearn has them."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    ordered = np.asarray(scores, dtype=np.float64)[order]
    positive = np.asarray(labels, dtype=np.float64)[order] * np.asarray(weights, dtype=np.float64)[order]
    negative = np.asarray(weights, dtype=np.float64)[order] - positive
    ends = np.r_[np.flatnonzero(np.diff(ordered)), ordered.size - 1]  # the last image of each distinct score
    true_positives, false_positives = np.cumsum(positive)[ends], np.cumsum(negative)[ends]
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def paired_bootstrap_mean_ap(labels, groups, clusters, base_scores, candidate_scores, resamples: int = 1000,
                             seed: int = 0) -> np.ndarray:
    """Candidate minus base mean AP over groups, once per resample of the clusters (``bootstrap_mean_aps``)."""
    means = bootstrap_mean_aps(labels, groups, clusters, [base_scores, candidate_scores], resamples, seed)
    return means[:, 1] - means[:, 0]


def percentile_interval(values, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` share of bootstrap ``values`` (the percentile interval)."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
