"""How ``synthspot scan`` prints: JSON lines and CSV rows as results finish, the table at the end."""

from __future__ import annotations

import sys
import threading
from collections import Counter

from engine.paths import display_path, printable
from engine.result import VERDICT_LABELS, Result, to_csv

MAX_SKIPPED_LISTED = 20


class StreamingPrinter:
    """Called from scanner threads as each result finishes. JSON lines and CSV rows go out at once, in
    completion order (so an interrupted or piped scan shows what it did); the table waits for the end."""

    def __init__(self, mode: str, out=None):
        self.mode = mode  # "json", "csv" or "table"
        self.out = out or sys.stdout
        self.broken = False  # the reader went away (``| head``): stop writing, stop scanning
        self._lock = threading.Lock()
        self._closed = False
        if mode == "csv":
            self._write(to_csv([]))  # the header, before the first row

    def __call__(self, result: Result) -> None:
        if self.mode == "json":
            self._write(result.to_json() + "\n")
        elif self.mode == "csv":
            self._write(to_csv([result]).split("\n", 1)[1])  # the row without the header

    def close(self) -> None:
        """No more writes: results still finishing after an interrupt must not break the last lines."""
        with self._lock:
            self._closed = True

    def _write(self, text: str) -> None:
        with self._lock:
            if self._closed or self.broken:
                return
            try:
                self.out.write(text)
                self.out.flush()
            except (BrokenPipeError, ValueError):
                self.broken = True


def format_table(results: list[Result]) -> str:
    rows = [("VERDICT", "P(AI)", "SIZE", "FORMAT", "FILE", "NOTES")]
    for r in results:
        notes = r.error or "; ".join([*r.reasons[:1], *(h.label for h in r.provenance)])
        rows.append((
            VERDICT_LABELS.get(r.verdict, r.verdict),
            "" if r.probability is None else f"{r.probability:.2f}",
            f"{r.width}x{r.height}" if r.width else "",
            r.format,
            display_path(r.path),
            printable(notes),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths)) + "  " + row[5]
                     for row in rows).rstrip()


def summary(results: list[Result], skipped: list[tuple[str, str]], total: int | None = None) -> str:
    counts = Counter(result.verdict for result in results)
    parts = [f"{counts[k]} {VERDICT_LABELS[k].lower()}" for k in VERDICT_LABELS if counts.get(k)]
    line = f"{len(results)} scanned: " + (", ".join(parts) if parts else "nothing")
    if total is not None and total != len(results):
        line = f"interrupted: {len(results)} of {total} scanned: " + (", ".join(parts) if parts else "nothing")
    if skipped:
        reasons = Counter(reason for _, reason in skipped)
        line += f" · {len(skipped)} skipped (" + ", ".join(f"{n} {why}" for why, n in reasons.most_common()) + ")"
    return line


def list_skipped(skipped: list[tuple[str, str]], err=None) -> None:
    """Folder mode passes over what is not an image; say which, on stderr, so nothing is skipped silently."""
    err = err or sys.stderr
    for path, reason in skipped[:MAX_SKIPPED_LISTED]:
        print(f"synthspot: skipped {display_path(path)}: {reason}", file=err)
    if len(skipped) > MAX_SKIPPED_LISTED:
        print(f"synthspot: ... and {len(skipped) - MAX_SKIPPED_LISTED} more skipped", file=err)
