"""Decision thresholds from held-out REAL photos only (the validation split, never the test split).

``likely_ai`` is the score that only ``fpr`` of real photos reach; ``likely_real`` the score
below which ``real_quantile`` of them fall (capped at ``likely_ai``). The default 0.9 leaves about
9% of real photos "uncertain" (between the two) at a 1% FPR: "uncertain" is meant for genuinely
ambiguous images, not as the usual answer (a median, 0.5, left half of all real photos there).

Given what was done to each real (``kinds``: original, resize, gaussian_blur, jpeg...), ``likely_ai``
holds the FPR on every kind with enough reals, not only on all of them pooled: "likely AI" should
mean the same on a camera original, a resized web copy and a blurred snapshot, and a pooled
quantile lets the kinds that score high (blur, originals) take more than their share. ``perturbed``
copies of the same reals (every one blurred, halved, upscaled: ``training.perturbations.PERTURBATIONS``)
are kinds of their own in the same way, named ``perturbed:<name>``; they stay out of the pool and of
``likely_real``, which describe the reals as they came.

Given the photo each real was cut from (``photos``), every photo weighs the same in each quantile, however
many crops the forge cut from it: the forge cuts up to 48 from a large photo and one from a small one, and
one stock photo's 18 crops once set the likely-AI threshold alone (version 13's val, 0.995 where the next
photo's crops stood at 0.96). "Likely AI" is then the score that ``fpr`` of the photos people meet reach.

The probabilities themselves come from a Platt scaling of the image logits (``fit_logit_scaling``),
the one step that looks at validation fakes too: a head trained beside hard negatives squeezes its
probabilities toward 0.5, and "86%" should mean about 86%. The thresholds are quantiles of the scaled
probabilities, so the scaling changes the numbers people read, not which images are flagged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.contract import LogitScaling, Thresholds


DEFAULT_REAL_QUANTILE = 0.9
# A kind gets its own quantile only with at least this many reals per unit of FPR (500 at 1%):
# fewer, and its 1 - fpr quantile is little more than its highest score.
KIND_REALS_PER_FPR = 5


@dataclass(frozen=True)
class Calibration:
    likely_ai: float
    likely_real: float
    fpr: float
    real_quantile: float
    n_real: int
    split: str = "val"
    # The scoring recipe the thresholds were fitted with (None in files from before it was recorded):
    # export refuses to stamp these thresholds on a model that scores differently.
    crop_size: int | None = None
    max_crops: int | None = None
    aggregation: str | None = None
    crop_plan: str | None = None
    # Each kind's own 1 - fpr quantile, where it had enough reals; likely_ai is the highest of these
    # and the pooled one (None in files fitted on the pool alone).
    kind_likely_ai: dict[str, float] | None = None
    # The Platt scaling the probabilities were computed with (identity in files from before it).
    logit_scale: float = 1.0
    logit_offset: float = 0.0
    # "photo": each photo weighs the same in every quantile; "image": each image does (files from before it).
    weighting: str = "image"

    def thresholds(self) -> Thresholds:
        return Thresholds(likely_ai=self.likely_ai, likely_real=self.likely_real, fpr=self.fpr)

    def scaling(self) -> LogitScaling:
        return LogitScaling(self.logit_scale, self.logit_offset)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        return cls(**json.loads(Path(path).read_text()))

    def mismatches(self, crop_size: int, max_crops: int, aggregation: str, crop_plan: str) -> list[str]:
        """What differs between the recipe these thresholds were fitted with and a model's."""
        asked = {"crop_size": crop_size, "max_crops": max_crops, "aggregation": aggregation, "crop_plan": crop_plan}
        return [f"{key}: calibrated with {getattr(self, key)!r}, model has {value!r}"
                for key, value in asked.items() if getattr(self, key) is not None and getattr(self, key) != value]


# Too few of either class and the fitted slope is noise.
MIN_IMAGES_PER_CLASS_FOR_SCALING = 20


def fit_logit_scaling(labels, logits) -> LogitScaling:
    """Platt scaling (``scale * logit + offset``) by logistic regression on validation images, the classes
    weighted equally: a probability then means the chance of a fake at even odds, whatever the split's mix."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels)
    logits = np.asarray(logits, dtype=np.float64).reshape(-1, 1)
    counts = [int(np.sum(labels == value)) for value in (0, 1)]
    if min(counts) < MIN_IMAGES_PER_CLASS_FOR_SCALING:
        raise ValueError(f"fitting the logit scaling needs at least {MIN_IMAGES_PER_CLASS_FOR_SCALING} real and "
                         f"fake images; the split has {counts[0]} real and {counts[1]} fake")
    # No regularisation to speak of: two parameters, thousands of images.
    model = LogisticRegression(C=1e6, class_weight="balanced").fit(logits, labels)
    scaling = LogitScaling(float(model.coef_[0, 0]), float(model.intercept_[0]))
    if scaling.scale <= 0:
        raise ValueError(f"the model's scores rank fakes below reals on this split (fitted scale {scaling.scale:.3f})")
    return scaling


def calibrate(real_probabilities, fpr: float = 0.01, real_quantile: float = DEFAULT_REAL_QUANTILE, split: str = "val",
              recipe=None, crop_size: int | None = None, kinds=None, perturbed=None,
              scaling: LogitScaling | None = None, photos=None) -> Calibration:
    """Thresholds from real photos' probabilities; ``kinds`` (one tuple of processing kinds per real,
    as ``training.records.real_kinds`` gives) makes ``likely_ai`` hold ``fpr`` on each kind too, and
    ``perturbed`` ({perturbation: the same reals' probabilities after it}) on each perturbation.
    ``photos`` (the photo each real was cut from) weighs every photo the same in each quantile.
    ``scaling``, the logit scaling the probabilities were computed with, is recorded beside them."""
    scores = np.asarray(real_probabilities, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("calibration needs held-out real photos")
    if not 0 < fpr < 1 or not 0 < real_quantile < 1:
        raise ValueError("fpr and real_quantile must lie in (0, 1)")
    if photos is not None and len(photos) != scores.size:
        raise ValueError(f"{len(photos)} photos for {scores.size} real scores")
    everyone = np.ones(scores.size, dtype=bool)
    likely_ai = _quantile(scores, everyone, 1.0 - fpr, photos)
    groups: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # every kind and perturbation: (scores, which reals)
    if kinds is not None:
        if len(kinds) != scores.size:
            raise ValueError(f"{len(kinds)} kinds for {scores.size} real scores")
        for kind in sorted({k for ks in kinds for k in ks}):
            chosen = np.array([kind in ks for ks in kinds])
            groups[kind] = (scores[chosen], chosen)
    for name, copies in sorted((perturbed or {}).items()):
        copies = np.asarray(copies, dtype=np.float64)
        if copies.size != scores.size:
            raise ValueError(f"{len(copies)} {name} scores for {scores.size} real scores")
        groups[f"perturbed:{name}"] = (copies, everyone)
    kind_likely_ai = {} if kinds is not None else None
    for name, (group_scores, chosen) in groups.items():
        if group_scores.size * fpr >= KIND_REALS_PER_FPR:
            kind_likely_ai = kind_likely_ai or {}
            kind_likely_ai[name] = _quantile(group_scores, chosen, 1.0 - fpr, photos)
    if kind_likely_ai:
        likely_ai = max(likely_ai, *kind_likely_ai.values())
    # Strictly above every real score it was fitted on, where that is possible, so the FPR holds on them.
    likely_ai = float(np.nextafter(likely_ai, 1.0)) if likely_ai < 1.0 else 1.0
    likely_real = min(_quantile(scores, everyone, real_quantile, photos, method="linear"), likely_ai)
    scoring = {} if recipe is None else {"max_crops": recipe.max_crops, "aggregation": recipe.aggregation,
                                         "crop_plan": recipe.crop_plan}
    scaling = scaling or LogitScaling()
    return Calibration(likely_ai, likely_real, fpr, real_quantile, int(scores.size), split, crop_size=crop_size,
                       kind_likely_ai=kind_likely_ai, logit_scale=scaling.scale, logit_offset=scaling.offset,
                       weighting="image" if photos is None else "photo", **scoring)


def _quantile(group_scores: np.ndarray, chosen: np.ndarray, q: float, photos, method: str = "higher") -> float:
    """The group's ``q`` quantile; with ``photos``, each photo's images in the group share one photo's weight
    (numpy's weighted quantile, the inverted CDF: the lowest score with at least ``q`` of the weight at or below)."""
    if photos is None:
        return float(np.quantile(group_scores, q, method=method))
    ids = np.asarray(photos)[chosen]
    _, index, counts = np.unique(ids, return_inverse=True, return_counts=True)
    return float(np.quantile(group_scores, q, weights=1.0 / counts[index], method="inverted_cdf"))
