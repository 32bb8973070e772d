"""Scoring images exactly as the engine does: each decoded as the engine decodes it (``engine.decode``),
cut into the engine's crop plan (``engine.contract.plan_for`` / ``extract_crops``), its crops' logits
combined by ``aggregate_logits``; with a training checkpoint (``TorchScorer``) or an exported model
(``OnnxScorer``). ``training.evaluate`` turns the scores into metrics."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from collections.abc import Sequence

import numpy as np

from engine.contract import (DEFAULT_MAX_CROPS, INPUT_IMAGE, KEY_AGGREGATION, KEY_CROP_PLAN, KEY_CROP_SIZE,
                             KEY_EARLY_EXIT, KEY_MAX_CROPS, OUTPUT_LOGIT, LogitScaling, ModelMetadata, Thresholds,
                             aggregate_logits, decided_early, extract_crops, first_stage, plan_for, sigmoid)
# The app's verdict rule and what it reads of a file: evaluation reports the verdicts people see.
from engine.decode import DecodedImage, DecodeError, decode_image
from engine.result import ImageTraits, decide_verdict, fine_detail
from training.data import manifest
from training.perturbations import PERTURBATIONS
from training.records import family_name, group_name, real_kinds


class CropScorer(Protocol):
    crop_size: int

    def __call__(self, crops: np.ndarray) -> np.ndarray: ...


class TorchScorer:
    """A training ``Detector`` on uint8 NHWC crops, normalised as the exported graph does. It scores
    a copy with LoRA folded in, in channels-last layout: outputs within 1e-5 of the training graph's,
    at 1.5x (mixed) to 3x (SEF with GAMMA) its speed on the CPU, which bounds an ablation run's
    calibration and evaluation."""

    def __init__(self, detector, batch: int = 32):
        import torch

        from training.detector import merged_for_inference

        self.torch = torch
        self.detector = merged_for_inference(detector.eval()).to(memory_format=torch.channels_last)
        self.crop_size = detector.input_spec.crop_size
        self.batch = batch

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        torch = self.torch
        logits = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch):
                x = torch.from_numpy(crops[start:start + self.batch]).permute(0, 3, 1, 2).float().div(255.0)
                logits.append(self.detector(self.detector.normalize(x)).logit.reshape(-1).numpy())
        return np.concatenate(logits)


class OnnxScorer:
    """A contract ``.onnx`` file run with ONNX Runtime on the CPU."""

    def __init__(self, path: str | os.PathLike, batch: int = 32, threads: int | None = None):
        import onnxruntime as ort

        from engine.contract import KEY_PRECISION
        from engine.model import metadata_props, session_options

        precision = metadata_props(path).get(KEY_PRECISION, "fp32")
        self.session = ort.InferenceSession(str(path), sess_options=session_options(threads or 0, precision),
                                            providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        self.crop_size = int(props[KEY_CROP_SIZE])
        self.batch = batch

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        return np.concatenate([self.session.run([OUTPUT_LOGIT], {INPUT_IMAGE: crops[s:s + self.batch]})[0].reshape(-1)
                               for s in range(0, len(crops), self.batch)])


@dataclass(frozen=True)
class ScoringRecipe:
    """How an image becomes one score, as a model's metadata says: what calibration is fitted
    with and what export stamps, so the app scores exactly as the thresholds assume."""

    max_crops: int = DEFAULT_MAX_CROPS
    aggregation: str = "mean"
    crop_plan: str = "grid"
    cascade: ModelMetadata | None = None  # an exported model's metadata where it has a cascade of crops

    def but(self, max_crops: int | None = None, aggregation: str | None = None, crop_plan: str | None = None) -> ScoringRecipe:
        """This recipe with the given fields overridden (None keeps a field)."""
        return ScoringRecipe(max_crops or self.max_crops, aggregation or self.aggregation, crop_plan or self.crop_plan,
                             self.cascade)


def score_image(rgb: np.ndarray, scorer: CropScorer, max_crops: int, aggregation: str, crop_plan: str = "grid",
                cascade: ModelMetadata | None = None) -> float:
    """One image's logit as the engine computes it; with ``cascade`` (a model's metadata), its first crops
    alone where they settle the image (``engine.contract.decided_early``)."""
    return aggregate_logits(crop_logits(rgb, scorer, max_crops, crop_plan, cascade)[0], aggregation)


def crop_logits(rgb: np.ndarray, scorer: CropScorer, max_crops: int, crop_plan: str = "grid",
                cascade: ModelMetadata | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the logits of the crops the engine scores, every crop of the plan): a cascade that settles an
    image on its first crops scores only those."""
    crops = extract_crops(rgb, plan_for(rgb, scorer.crop_size, max_crops, crop_plan))
    if cascade is None:
        return scorer(crops), crops
    first = first_stage(len(crops), cascade)
    logits = scorer(crops[:first])
    if first < len(crops) and not decided_early(logits, cascade):
        logits = np.concatenate([logits, scorer(crops[first:])])
    return logits, crops


@dataclass(frozen=True)
class AppView:
    """What the app reads of an image besides its score, for the verdict it would show (clean images)."""

    crop_logits: np.ndarray
    width: int
    height: int
    jpeg_quality: int | None
    traits: ImageTraits

    def verdict(self, probability: float, thresholds: Thresholds, scaling: LogitScaling,
                crop_size: int) -> tuple[str, list[str]]:
        """The verdict and the reasons for "uncertain", as ``engine.result.score_result`` decides them."""
        crop_probabilities = sigmoid(scaling.apply(self.crop_logits))
        return decide_verdict(probability, thresholds, crop_probabilities, self.width, self.height, crop_size,
                              self.jpeg_quality, self.traits)


class UndecodableImage(ValueError):
    """An image of the data that the engine's decoder refuses (the app could not score it either)."""


def read_image(path: Path) -> DecodedImage:
    """An image as the engine decodes it: its pixels as stored (for an RGB file, training's own), and what
    the app reads of the file (JPEG quality, mode, frames, size as shown)."""
    try:
        return decode_image(Path(path).read_bytes())
    except (DecodeError, OSError) as error:
        raise UndecodableImage(f"{path}: {error}") from error


@dataclass
class Scores:
    labels: np.ndarray
    groups: list[str]
    logits: dict[str, np.ndarray] = field(default_factory=dict)  # condition -> image logits
    families: list[str] = field(default_factory=list)  # per image: family_name (reals: "real")
    real_kinds: list[tuple[str, ...]] = field(default_factory=list)  # per image: real_kinds (fakes: ())
    scaling: LogitScaling = field(default_factory=LogitScaling)  # the calibration's, as the app applies it
    app_views: list[AppView] = field(default_factory=list)  # per image, clean: for the app's verdicts
    crop_size: int = 0

    def probabilities(self, condition: str = "clean") -> np.ndarray:
        return sigmoid(self.scaling.apply(self.logits[condition]))


def score_records(records: Sequence[manifest.Record], base: Path, scorer: CropScorer,
                  max_crops: int = DEFAULT_MAX_CROPS, aggregation: str = "mean",
                  perturbations: Sequence[str] = (), progress: bool = False, crop_plan: str = "grid",
                  cascade: ModelMetadata | None = None) -> Scores:
    conditions = ["clean", *perturbations]
    logits = {c: np.empty(len(records)) for c in conditions}
    views = []
    started = time.perf_counter()
    for index, record in enumerate(records):
        image = read_image(manifest.resolve(base, record.path))
        rgb = image.rgb
        for condition in conditions:
            if condition == "clean":
                scored, crops = crop_logits(rgb, scorer, max_crops, crop_plan, cascade)
                logits[condition][index] = aggregate_logits(scored, aggregation)
                views.append(AppView(scored, image.width, image.height, image.jpeg_quality,
                                     ImageTraits(image.mode, image.animated, fine_detail(crops))))
            else:
                logits[condition][index] = score_image(PERTURBATIONS[condition](rgb), scorer, max_crops, aggregation,
                                                       crop_plan, cascade)
        if progress and (index + 1) % 20 == 0:
            print(f"  {index + 1}/{len(records)} images, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return Scores(np.array([r.label for r in records]), [group_name(r) for r in records], logits,
                  [family_name(r) if r.label else "real" for r in records],
                  [real_kinds(r) if r.label == 0 else () for r in records], app_views=views,
                  crop_size=scorer.crop_size)


def load_scorer(checkpoint: str | None, onnx_path: str | None) -> tuple[CropScorer, ScoringRecipe]:
    """(scorer, recipe) from a training checkpoint (default recipe) or an exported model (its own)."""
    if onnx_path:
        scorer = OnnxScorer(onnx_path)
        props = scorer.session.get_modelmeta().custom_metadata_map
        cascade = ModelMetadata.from_props(props) if KEY_EARLY_EXIT in props else None
        return scorer, ScoringRecipe(int(props.get(KEY_MAX_CROPS, DEFAULT_MAX_CROPS)), props[KEY_AGGREGATION],
                                     props.get(KEY_CROP_PLAN, "grid"), cascade)
    from training.checkpoint import load_checkpoint

    return TorchScorer(load_checkpoint(checkpoint)), ScoringRecipe()
