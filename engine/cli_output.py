"""How ``synthspot scan`` prints: JSON lines and CSV rows as results finish, the table at the end."""

from __future__ import annotations

import io
import queue
import sys
import time
from collections import Counter

from wcwidth import wcswidth

from engine.paths import display_path, printable
from engine.result import VERDICT_LABELS, Result, csv_header, csv_row, verdict_counts_text

MAX_SKIPPED_LISTED = 20
MAX_FILE_COLUMN = 60  # characters; the table's FILE column is no wider


class StreamingPrinter:
    """JSON lines and CSV rows go out as results finish, in completion order (so an interrupted or piped
    scan shows what it did); the table waits for the end. Scanner threads only queue a result; the main
    thread writes (:meth:`drain`), so a slow reader of our output (a paused pager) never stalls scanning,
    nor, through the claims in a shared store, another process's scan."""

    def __init__(self, mode: str, out=None):
        self.mode = mode  # "json", "csv" or "table"
        self.out = out or sys.stdout
        self.broken = False  # the reader went away (``| head``): stop writing, stop scanning
        self.failed = ""  # why the output could not be written (a full disk): stop, and say so
        self.printed: list[Result] = []  # written whole, in the order written
        self._finished: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self._closed = False
        if mode == "csv":
            self._write(csv_header())  # before the first row

    def __call__(self, result: Result) -> None:
        if not self._closed and self.mode != "table":
            self._finished.put(result)

    def drain(self) -> None:
        while not self.broken:
            try:
                result = self._finished.get_nowait()
            except queue.Empty:
                return
            if self.mode == "json":
                self._write(result.to_json() + "\n")
            else:
                self._write(csv_row(result))
            if not self.broken:
                self.printed.append(result)

    def close(self) -> None:
        """Write what has finished; results still finishing after an interrupt are not printed."""
        self._closed = True
        self.drain()

    def _write(self, text: str) -> None:
        try:
            write_whole(self.out, text)
        except (BrokenPipeError, ValueError):
            self.broken = True
        except OSError as exc:  # a full disk, a quota: no reader went away, the results are lost: said
            self.broken, self.failed = True, exc.strerror or str(exc)


def write_whole(out, text: str) -> None:
    """``out.write(text)`` and a flush, every byte of it. Under ``python -u`` (PYTHONUNBUFFERED, set by many
    Docker images, IDEs and CI systems) a text stream sits on an unbuffered file and drops whatever a write cut
    short by a signal left over (CPython gh-85393): Ctrl-C while a reader was behind cut a JSON line in two.
    There the bytes go to the file directly, until all are written. (POSIX: Windows' console and pipes are
    not cut short by a signal, and its text layer translates the newlines.)"""
    raw = getattr(out, "buffer", None)
    if not isinstance(raw, io.FileIO) or sys.platform == "win32":
        out.write(text)
        out.flush()
        return
    out.flush()  # anything written to the text layer before goes first
    data = memoryview(text.encode(out.encoding, out.errors or "strict"))
    while data:
        written = raw.write(data)
        if written is None:  # a non-blocking stdout that is full: wait for the reader
            time.sleep(0.01)
            continue
        data = data[written:]


def format_table(results: list[Result]) -> str:
    rows = [("VERDICT", "SCORE", "SIZE", "FORMAT", "FILE", "NOTES")]  # the AI score; bands from real photos
    for r in results:
        # One reason fits the column; the others are counted, not dropped unsaid (an animated GIF's "only its
        # first frame was checked" hid behind its palette).
        more = f" (+{len(r.reasons) - 1} more: --json lists them)" if len(r.reasons) > 1 else ""
        notes = r.error or "; ".join([*(reason + more for reason in r.reasons[:1]), *(h.text for h in r.provenance)])
        rows.append((
            VERDICT_LABELS.get(r.verdict, r.verdict),
            "" if r.probability is None else f"{r.probability:.2f}",
            f"{r.width}x{r.height}" if r.width else "",
            r.format,
            display_path(r.path),
            printable(notes),
        ))
    widths = [max(_columns(row[i]) for row in rows) for i in range(5)]
    # One long path would push every row's notes far right: longer paths overrun the column instead.
    widths[4] = min(widths[4], MAX_FILE_COLUMN)
    lines = ("  ".join(_padded(cell, width) for cell, width in zip(row[:5], widths, strict=True)) + "  " + row[5]
             for row in rows)
    return "\n".join(lines).rstrip()


def _columns(text: str) -> int:
    """Terminal columns ``text`` takes: a CJK character or an emoji takes two."""
    width = wcswidth(text)
    return len(text) if width < 0 else width  # < 0: a control character (names are printable() already)


def _padded(text: str, width: int) -> str:
    return text + " " * max(0, width - _columns(text))


def summary(results: list[Result], skipped: list[tuple[str, str]], total: int | None = None) -> str:
    counts = verdict_counts_text(result.verdict for result in results) or "nothing"
    line = f"{len(results)} scanned: {counts}"
    if total is not None and total != len(results):
        line = f"interrupted: {len(results)} of {total} scanned: {counts}"
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
