"""The outcome of scanning one image, and how it reads as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from engine.contract import CropBox, ModelMetadata, Thresholds, aggregate_logits, sigmoid
from engine.orientation import shown_array, shown_box, shown_size
from engine.paths import display_path, is_text, path_bytes_b64, printable

LIKELY_AI = "likely_ai"
UNCERTAIN = "uncertain"
LIKELY_REAL = "likely_real"
ERROR = "error"
VERDICT_LABELS = {LIKELY_AI: "Likely AI", UNCERTAIN: "Uncertain", LIKELY_REAL: "Likely real", ERROR: "Error"}


def verdict_counts_text(verdicts: Iterable[str]) -> str:
    """"3 likely AI, 1 uncertain, 2 could not be scanned": each verdict's count, in the labels' order (the
    detail pane's words for a failed scan)."""
    counts = Counter(verdicts)
    words = {verdict: "could not be scanned" if verdict == ERROR else label[0].lower() + label[1:]
             for verdict, label in VERDICT_LABELS.items()}
    return ", ".join(f"{counts[verdict]} {words[verdict]}" for verdict in VERDICT_LABELS if counts.get(verdict))


# Heavier JPEG compression than this erases much of what detectors look for.
MIN_TRUSTED_JPEG_QUALITY = 60
ARTIFACT_MAP_MAX_CELLS = 96  # longest side of the stored heatmap


@dataclass
class ProvenanceHint:
    """A fact about where an image came from, shown beside the score, never mixed into it."""

    kind: str  # "c2pa", "iptc_source_type", "generator_text", "exif_software"
    label: str  # short, for a tag: "C2PA: Adobe Firefly", "PNG parameters"
    detail: str = ""  # longer text for the detail pane
    ai_generated: bool | None = None  # True when the hint itself declares generative AI

    @property
    def text(self) -> str:
        """The label as text goes out (copies, CSV): the AI claim said in words where the label itself does
        not say it ("Software: Adobe Firefly"), as the app's tag marks it."""
        return f"{self.label} (declares generative AI)" if self.ai_generated and " AI" not in self.label else self.label


@dataclass
class CropScore:
    top: int
    left: int
    size: int
    probability: float


# Raised whenever the engine would score the same bytes with the same model differently (the crops'
# order, a verdict rule), so that results cached before are scored again rather than served as if
# current. 1: the cascade's first crops the most textured; smooth images "uncertain" (under 0.5 grey
# levels per step); 2: only flat colours (under 0.01), and heavy JPEG compression no longer doubts a
# likely AI; 3: "very small" below one crop's side (it was half of one); 4: a HEIF's other images (a spatial
# photo's other eye) no longer make it "uncertain".
SCORING_REVISION = 4


@dataclass
class Result:
    sha256: str
    source: str = "cli"  # dropped, watched, browser, cli, ...
    path: str = ""
    width: int = 0
    height: int = 0
    format: str = ""
    jpeg_quality: int | None = None
    probability: float | None = None  # of being AI-generated, aggregated over crops
    verdict: str = ERROR
    reasons: list[str] = field(default_factory=list)  # why "uncertain", in words
    crops: list[CropScore] = field(default_factory=list)
    expert_weights: dict[str, float] = field(default_factory=dict)
    artifact_map: list | None = None  # [h, w] probabilities in [0, 1], averaged over crops, image layout
    provenance: list[ProvenanceHint] = field(default_factory=list)
    model_name: str = ""
    model_version: str = ""
    # ModelMetadata.verdict_fingerprint of the file that scored it ("" in blobs from before it was kept)
    model_fingerprint: str = ""
    provider: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    scanned_at: float = 0.0
    file_size: int = 0
    page_url: str = ""  # browser scans: where the image was seen
    image_url: str = ""
    cached: bool = False  # served from the store rather than a fresh model run
    scoring_revision: int = SCORING_REVISION  # the engine's that scored it; 0 in blobs from before it was kept

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS.get(self.verdict, self.verdict)

    def to_dict(self) -> dict:
        """The result as plain data, a copy: ``asdict`` deep-copies every heatmap cell one call at a time (84%
        of a JSON export's time, and paid again at each store write); its lists are copied whole here."""
        record = {item.name: getattr(self, item.name) for item in fields(self)}
        record.update(reasons=list(self.reasons), crops=[asdict(crop) for crop in self.crops],
                      expert_weights=dict(self.expert_weights), timings_ms=dict(self.timings_ms),
                      provenance=[asdict(hint) for hint in self.provenance],
                      artifact_map=None if self.artifact_map is None else [list(row) for row in self.artifact_map])
        return record

    def to_record(self) -> dict:
        """The result as JSON-ready data that any strict parser reads: a file name that is not valid text
        (Linux names are bytes) is shown by ``path`` in its display form and given exactly by ``path_bytes``
        (base64)."""
        record = self.to_dict()
        if not is_text(self.path):
            record["path"] = display_path(self.path)
            record["path_bytes"] = path_bytes_b64(self.path)
        return record

    def to_json(self, **kwargs) -> str:
        """:meth:`to_record` as one JSON object."""
        return json.dumps(self.to_record(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values.setdefault("scoring_revision", 0)  # stored before the engine kept its scoring revision
        values["crops"] = [CropScore(**c) for c in values.get("crops", [])]
        values["provenance"] = [ProvenanceHint(**p) for p in values.get("provenance", [])]
        return cls(**values)


CSV_COLUMNS = (
    "path", "source", "sha256", "verdict", "probability", "reasons", "width", "height", "format",
    "jpeg_quality", "file_size", "provenance", "experts", "model_name", "model_version", "provider",
    "total_ms", "error", "scanned_at", "page_url", "image_url", "path_bytes",
)


def iso_local_time(timestamp: float) -> str:
    """ISO 8601 in the computer's local time with its UTC offset ("2026-12-03T11:02:07+01:00"): what a
    spreadsheet reads as a time and a person reads as theirs; empty when unknown."""
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def to_csv(results: list[Result]) -> str:
    return csv_header() + "".join(csv_row(result) for result in results)


def csv_header() -> str:
    """The CSV's first line: its column names."""
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n").writeheader()
    return buffer.getvalue()


def csv_row(result: Result) -> str:
    """One result as a CSV line (a stream writes them as results come, a long export between its progress)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    shown = spreadsheet_safe(display_path(result.path))
    row = {
        "path": shown,
        "source": result.source,
        "sha256": result.sha256,
        "verdict": result.verdict,
        "probability": "" if result.probability is None else f"{result.probability:.4f}",
        "reasons": "; ".join(result.reasons),
        "width": result.width,
        "height": result.height,
        "format": result.format,
        "jpeg_quality": "" if result.jpeg_quality is None else result.jpeg_quality,
        "file_size": result.file_size,
        "provenance": "; ".join(h.text for h in result.provenance),
        "experts": "; ".join(f"{name} {weight:.0%}" for name, weight in result.expert_weights.items()),
        "model_name": result.model_name,
        "model_version": result.model_version,
        "provider": result.provider,
        "total_ms": f"{result.timings_ms.get('total', 0.0):.1f}",
        "error": result.error or "",
        "scanned_at": iso_local_time(result.scanned_at),
        "page_url": result.page_url,
        "image_url": result.image_url,
        "path_bytes": "" if shown == result.path else path_bytes_b64(result.path),  # exact when "path" is escaped
    }
    # Text from the file (metadata labels, decoder messages) or a page (URLs) may hold terminal escapes,
    # and a file named "=HYPERLINK(...).jpg" a formula.
    writer.writerow({key: spreadsheet_safe(printable(value)) if isinstance(value, str) else value
                     for key, value in row.items()})
    return buffer.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet would run as a formula, kept as text by a leading apostrophe (OWASP's advice
    for CSV injection); "path_bytes" then holds the exact name."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass(frozen=True)
class ImageTraits:
    """What about an image, beyond its size and JPEG quality, limits what its score can say."""

    mode: str = "RGB"  # Pillow's mode as stored: "P" and "1" have a few colours at most
    animated: bool = False  # more than one frame (an animation) or page (a TIFF); the first is scored
    # The mean absolute step between neighbouring pixels in the most detailed crop, in grey levels;
    # None when not measured. Generators and cameras leave their traces in that fine detail.
    fine_detail: float | None = None


FEW_COLOUR_MODES = ("P", "PA", "1")
# A flat colour: less than one step of one grey level per hundred pixels even in the most detailed crop
# (a solid colour gives 0), where any score is noise. Smooth images are judged: on val (version 12) the
# 11% of images whose most detailed crop steps under half a level are ranked at AP 0.84 (0.87 for the
# rest) and called likely real as rightly as any; no val image comes below 0.0195.
MIN_FINE_DETAIL = 0.01


def fine_detail(crops: np.ndarray) -> float | None:
    """The mean absolute difference between horizontally and vertically neighbouring pixels (all
    channels), in the crop where it is largest: ``crops`` is (n, height, width, channels) uint8."""
    if len(crops) == 0:
        return None  # nothing measured: no claim that the image is flat
    most = 0.0
    for crop in crops:  # one at a time: a model of many large crops never holds int16 copies of them all
        values = crop.astype(np.int16)
        across = np.abs(np.diff(values, axis=1)).mean() if crop.shape[1] > 1 else 0.0
        down = np.abs(np.diff(values, axis=0)).mean() if crop.shape[0] > 1 else 0.0
        most = max(most, float((across + down) / 2))
    return most


def decide_verdict(
    probability: float,
    thresholds: Thresholds,
    crop_probabilities: np.ndarray,
    width: int,
    height: int,
    crop_size: int,
    jpeg_quality: int | None,
    traits: ImageTraits = ImageTraits(),
) -> tuple[str, list[str]]:
    """The verdict band and, when it is "uncertain", the reasons in words."""
    reasons: list[str] = []
    if probability >= thresholds.likely_ai:
        band = LIKELY_AI
    elif probability <= thresholds.likely_real:
        band = LIKELY_REAL
    else:
        band = UNCERTAIN
        real, score, ai = distinct_percents(thresholds.likely_real, probability, thresholds.likely_ai)
        reasons.append(f"the score {score} lies between the model's bands (likely real ≤ {real}, likely AI ≥ {ai})")
    # Smaller than one crop, the crop is filled out by mirroring: a picture the model never trained on.
    if min(width, height) < crop_size:
        side = "" if max(width, height) < crop_size else " on one side"  # a 60000×2 strip is not small
        reasons.append(f"the image is very small{side} ({width}×{height}) for the model's {crop_size}px view")
    # Compression erases the traces: "likely real" cannot be trusted then (val, version 12: below quality
    # 50 the model ranks fakes against reals at AP 0.48 and calls 79% of fakes likely real), while traces
    # that survive it still count (0.3% of those reals score likely AI, 12% of those fakes do).
    if jpeg_quality is not None and jpeg_quality < MIN_TRUSTED_JPEG_QUALITY and band != LIKELY_AI:
        reasons.append(f"heavily recompressed (JPEG quality about {jpeg_quality}); compression erases the traces")
    if traits.mode in FEW_COLOUR_MODES:
        reasons.append("the image has few colours (a palette or black-and-white image); reducing the colours "
                       "erases the traces")
    if traits.animated:
        reasons.append("only its first frame or page was checked")
    if traits.fine_detail is not None and traits.fine_detail < MIN_FINE_DETAIL:
        reasons.append("the image is a flat colour, without any fine detail; there is nothing to judge")
    crop_probabilities = np.asarray(crop_probabilities, dtype=np.float64)
    # Parts disagree when some crops say "likely AI" and others "likely real". A mere spread of
    # scores is no reason: a sharp model's crops spread widely on flat and textured regions alike,
    # and a spread rule made most images "uncertain" whatever their calibrated score. Nor is it one
    # once the whole image scores "likely AI": a photo edited in places (an inpaint) is exactly an
    # image whose parts disagree, and the heatmap and crop scores show where.
    if crop_probabilities.size > 1 and band != LIKELY_AI:
        if crop_probabilities.max() >= thresholds.likely_ai and crop_probabilities.min() <= thresholds.likely_real:
            reasons.append(
                f"parts of the image disagree (crop scores from {crop_probabilities.min():.0%} "
                f"to {crop_probabilities.max():.0%})"
            )
    if reasons:
        band = UNCERTAIN
    return band, reasons


# Each reason decide_verdict gives, by the words it starts with: for counting which ones fire
# (training's evaluation reports the app's verdicts by reason).
REASON_KINDS = (
    ("between_bands", "the score "),
    ("very_small", "the image is very small"),
    ("recompressed", "heavily recompressed"),
    ("few_colours", "the image has few colours"),
    ("first_frame", "only its first frame"),
    ("flat", "the image is a flat colour"),
    ("disagree", "parts of the image disagree"),
)


def reason_kind(reason: str) -> str:
    return next((kind for kind, start in REASON_KINDS if reason.startswith(start)), "other")


def distinct_percents(*values: float) -> list[str]:
    """The values as percentages with as few decimals as keep different values different: a score of
    85.9% against a 86.1% threshold must not read "86% lies below 86%"."""
    for decimals in (0, 1, 2):
        texts = [f"{value:.{decimals}%}" for value in values]
        if len(set(texts)) == len(set(values)):
            break
    return texts


class UnusableScore(ValueError):
    """The model's outputs for an image are not numbers (NaN or infinite): no verdict can come of them."""


def score_result(result: Result, metadata: ModelMetadata, boxes: list[CropBox], logits: np.ndarray,
                 expert_weights: np.ndarray | None = None, artifact_map: np.ndarray | None = None,
                 orientation: int = 1, traits: ImageTraits = ImageTraits()) -> None:
    """Fill in what the model said about one image from its outputs for that image's crops: the aggregated
    probability, the verdict band and its reasons, each crop's score, the mix of experts and the heatmap.
    ``result`` already describes the image as shown (size, JPEG quality); ``boxes`` are on its pixels as
    stored, which EXIF ``orientation`` turns into the shown layout for the crops and the heatmap. The
    scanner calls this, and so may anything that runs the model on the contract's crops."""
    if not np.all(np.isfinite(np.asarray(logits, dtype=np.float64))):
        raise UnusableScore("the model gave no usable score for this image (its output is not a number)")
    scaling = metadata.logit_scaling  # after aggregation, so that it means the same for every aggregation
    crop_probabilities = sigmoid(scaling.apply(logits))
    result.probability = float(sigmoid(scaling.apply(aggregate_logits(logits, metadata.aggregation))))
    result.verdict, result.reasons = decide_verdict(
        result.probability, metadata.thresholds, crop_probabilities, result.width, result.height,
        metadata.crop_size, result.jpeg_quality, traits)
    stored_height, stored_width = shown_size(result.height, result.width, orientation)  # its own inverse
    shown = [shown_box(box, orientation, stored_height, stored_width) for box in boxes]
    result.crops = [CropScore(b.top, b.left, b.size, round(float(p), 4))
                    for b, p in zip(shown, crop_probabilities, strict=True)]
    if expert_weights is not None:
        names = metadata.expert_names or tuple(f"expert {i + 1}" for i in range(expert_weights.shape[1]))
        mix = expert_weights.mean(axis=0)
        if np.all(np.isfinite(mix)):  # a gate that overflowed (fp16) says nothing, and NaN is not JSON
            result.expert_weights = {name: round(float(w), 4) for name, w in zip(names, mix, strict=True)}
    if artifact_map is not None:
        result.artifact_map = artifact_heatmap(artifact_map, boxes, stored_height, stored_width, orientation)


def artifact_heatmap(maps: np.ndarray, boxes: list[CropBox], height: int, width: int, orientation: int = 1) -> list:
    """Per-crop map logits [N, 1, h, w] on a ``height`` x ``width`` image as stored -> one probability map in
    the shown image's layout (None where no crop looked), at most ``ARTIFACT_MAP_MAX_CELLS`` on its longer side."""
    cell = boxes[0].size / maps.shape[-1]  # image pixels per map cell
    rows, cols = max(1, round(height / cell)), max(1, round(width / cell))
    total = np.zeros((rows, cols))
    weight = np.zeros((rows, cols))
    probabilities = sigmoid(maps[:, 0])
    for box, grid in zip(boxes, probabilities, strict=True):
        top, left = round(box.top / cell), round(box.left / cell)
        h, w = min(grid.shape[0], rows - top), min(grid.shape[1], cols - left)
        total[top:top + h, left:left + w] += grid[:h, :w]
        weight[top:top + h, left:left + w] += 1
    with np.errstate(invalid="ignore"):
        heat = shown_array(total / weight, orientation)
    step = max(1, int(np.ceil(max(rows, cols) / ARTIFACT_MAP_MAX_CELLS)))
    heat = heat[::step, ::step]
    return [[None if np.isnan(v) else round(float(v), 3) for v in row] for row in heat]
