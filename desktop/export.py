"""Results out of the app: CSV and JSON files, and a readable summary for the clipboard."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from engine.result import LIKELY_REAL, Result, csv_header, csv_row


def writes_csv(path: str | os.PathLike, as_csv: bool | None = None) -> bool:
    """The format an export takes: ``as_csv``, or else by the file's extension (JSON unless it ends in .csv)."""
    return Path(path).suffix.lower() == ".csv" if as_csv is None else as_csv


class ExportCancelled(Exception):
    """The person stopped the export: nothing was written."""


def write_results(path: str | os.PathLike, results: Iterable[Result], as_csv: bool | None = None,
                  progress: Callable[[int], bool] | None = None) -> Path:
    """Write results as CSV or JSON (:func:`writes_csv`), result by result, calling ``progress(done)`` between
    them (20,000 results with 32 x 24 heatmaps are 135 MB of JSON and about 9 s; their CSV takes a second):
    False stops it (ExportCancelled), and nothing is left behind."""
    path = Path(path)
    as_csv = writes_csv(path, as_csv)
    # Written where a link points (replacing the link would cut it), with the mode of the file it replaces
    # (a private file stays private).
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():  # replaced, a device node or a pipe would be gone
        raise NotAFileError(errno.EEXIST, "not a regular file", str(path))
    # A short name of its own beside the file: "<name>.saving" was too long where the name itself was not.
    temporary = target.with_name(f".{target.name[:64]}.saving")
    try:
        # A CSV starts with a byte-order mark: a spreadsheet opened by a double click otherwise takes it for
        # the system's legacy code page ("Ã¼" for "ü").
        with open(temporary, "w", encoding="utf-8-sig" if as_csv else "utf-8", newline="") as out:
            out.write(csv_header() if as_csv else "[")
            for done, result in enumerate(results):
                if as_csv:
                    out.write(csv_row(result))
                else:
                    out.write(("," if done else "") + "\n  " + readable_json(result.to_record(), "  "))
                if progress is not None and not progress(done + 1):
                    raise ExportCancelled()
            if not as_csv:
                out.write("\n]\n")
        if target.exists():
            shutil.copymode(target, temporary)
        os.replace(temporary, target)  # a crash mid-write never leaves half a file under the real name
    except BaseException:  # a full disk, a cancel, a store that fails mid-way: no half-written ".saving" left
        temporary.unlink(missing_ok=True)
        raise
    return path


def readable_json(record: dict, margin: str = "") -> str:
    """One result as JSON that a person can read and that stays small: a key per line, and a crop or a heatmap
    row per line. ``json.dumps(indent=2)`` put every heatmap cell on a line of its own (106 KB for a 96 x 72
    map, 49 KB this way) and, indented, runs Python's slow encoder instead of the C one (4.7x the time)."""
    def compact(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    def field(value) -> str:
        if isinstance(value, list) and value and all(isinstance(item, list | dict) for item in value):
            return "[\n" + ",\n".join(f"{margin}    {compact(item)}" for item in value) + f"\n{margin}  ]"
        return compact(value)

    lines = [f"{margin}  {compact(key)}: {field(value)}" for key, value in record.items()]
    return "{\n" + ",\n".join(lines) + f"\n{margin}}}"


def results_json(results: Iterable[Result]) -> str:
    """Results as a JSON array in :func:`readable_json`'s layout."""
    items = [readable_json(result.to_record(), "  ") for result in results]
    return "[" + ",".join(f"\n  {item}" for item in items) + "\n]\n"


class NotAFileError(OSError):
    """The name chosen is a folder, a device or a pipe: a file written in its place would replace it."""


def save_failure_text(path: str | os.PathLike, exc: OSError) -> str:
    """Why nothing could be saved at ``path``, in words (the error itself names the hidden ".saving" file)."""
    if isinstance(exc, NotAFileError):
        return "that is not a normal file (a folder, a device or a pipe): choose a file name in a folder"
    if exc.errno == errno.ENOENT:
        folder = Path(path).parent
        return f"the folder {folder} does not exist" if not folder.is_dir() else "files cannot be made in that folder"
    if exc.errno == errno.EROFS:
        return "that place is read-only"
    if isinstance(exc, PermissionError):
        return "there is no permission to write there"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.ENAMETOOLONG:
        return "the name is longer than the system allows"
    return exc.strerror or str(exc)


# Experts are named by the fake domain they learned (training.domains); people read the process.
EXPERT_LABELS = {"upsample": "upsampling", "reconstruct": "reconstruction", "regenerate": "regeneration",
                 "inpaint": "inpainting"}


def expert_mix_text(weights: dict[str, float]) -> str:
    """"reconstruction-like 70%, upsampling-like 30%", largest share first (other models' own names as they are);
    shares that round to 0% are left out, the largest always shown."""
    ranked = sorted(weights.items(), key=lambda item: item[1], reverse=True)
    shown = [item for index, item in enumerate(ranked) if index == 0 or round(item[1] * 100) > 0]
    return ", ".join(f"{EXPERT_LABELS.get(name, name)}-like {weight:.0%}" for name, weight in shown)


def counted(count: int, word: str) -> str:
    """"1 result", "3 results": a count with its noun (regular plurals only)."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def model_label(name: str, version: str) -> str:
    """"synthspot-lite0 v13+cascade": one spelling of a model everywhere it is named."""
    version = str(version or "").strip()
    if version and not version.lower().startswith("v"):
        version = f"v{version}"
    return " ".join(part for part in (name, version) if part)


def provider_text(detector) -> str:
    """"CPU", or "CPU (CUDA unavailable)" where the provider asked for could not be had."""
    text = detector.active_provider.upper()
    if detector.active_provider != detector.requested_provider:
        text += f" ({detector.requested_provider.upper()} unavailable)"
    return text


def score_text(probability: float | None) -> str:
    """The score beside a verdict. Not "N% likely AI-generated": the bands are set by where real photos
    score, and a photo can be "Likely real" at 55% (the reals' 90th percentile lies above one half),
    which that wording would contradict."""
    return "no AI score" if probability is None else f"AI score {probability:.0%}"


def shows_artifact_kind(result: Result) -> bool:
    """Which expert spoke loudest means little for a photo called likely real, or for one scored below
    even odds (called uncertain for being tiny or heavily compressed): it would read as a finding."""
    return bool(result.expert_weights) and result.verdict != LIKELY_REAL and (result.probability or 0.0) >= 0.5


COPY_DETAILS_LIMIT = 100  # results copied whole (text and JSON); more are copied as a table


def results_table_text(results: list[Result]) -> str:
    """Results as tab-separated lines under a header, as a spreadsheet pastes them: name, verdict, AI score and
    path (the other columns, and every detail, are Export's)."""
    lines = ["name\tverdict\tAI score\tpath"]
    for result in results:
        name = os.path.basename(result.path) if result.path else (result.image_url or "image")
        verdict = result.verdict_label if result.ok else f"could not be scanned ({result.error})"
        score = f"{result.probability:.0%}" if result.ok and result.probability is not None else ""
        lines.append("\t".join(text.replace("\t", " ").replace("\n", " ")
                               for text in (name, verdict, score, result.path or result.image_url)))
    return "\n".join(lines)


def result_summary(result: Result) -> str:
    """A few lines a person can paste into a message."""
    name = Path(result.path).name if result.path else (result.image_url or "image")
    if not result.ok:
        return f"{name}: could not be scanned ({result.error})"
    lines = [f"{name}: {result.verdict_label} ({score_text(result.probability)})"]
    lines += [f"  why uncertain: {reason}" for reason in result.reasons]
    if shows_artifact_kind(result):
        lines.append(f"  artifact kind: {expert_mix_text(result.expert_weights)}")
    lines += [f"  provenance: {hint.text}" for hint in result.provenance]
    lines.append(f"  model: {model_label(result.model_name, result.model_version)} on {result.provider.upper()}; "
                 f"sha256 {result.sha256}")
    return "\n".join(lines)
