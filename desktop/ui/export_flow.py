"""Export as the window does it: the file dialog, the format, progress and Cancel for a long export,
and what the person is told (the status bar; a dialog when nothing could be written)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QProgressDialog

from desktop.export import ExportCancelled, save_failure_text, write_results, writes_csv
from desktop.results_model import Row, whole_result
from desktop.ui.confirm import confirmed
from engine.result import Result

# An export of more rows than this shows its progress and can be cancelled (a JSON one reads each result's
# heatmap and crop scores from the store: 39 s for 20,000 in a review; their CSV took a second, frozen).
EXPORT_WITHOUT_PROGRESS = 500
PROGRESS_EVERY_S = 0.05


def export_rows(window: QMainWindow, rows: list[Row], store, start_folder: str, path: str | None = None,
                hidden: int = 0, unfinished: int = 0) -> Path | None:
    """Write ``rows`` (with results) to ``path``, or where the person chooses; the file written, or None.
    ``hidden`` results the filters keep out of view and ``unfinished`` rows in view with no result yet are
    not written, and the person is told so."""
    as_csv = None  # by the name's extension
    if not path:
        path, chosen = QFileDialog.getSaveFileName(window, "Export results",
                                                   os.path.join(start_folder, "synthspot-results.csv"),
                                                   "CSV (*.csv);;JSON (*.json)")
        if not path:
            return None
        named = with_format(window, path, chosen)
        if named is None:
            return None
        path, as_csv = named
    results: Iterable[Result]
    dialog = None
    if writes_csv(path, as_csv):
        results = [row.result for row in rows if row.result is not None]  # a CSV has no crops nor heatmaps
    else:  # JSON carries everything, each result's details read from the store as it is written
        results = (result for row in rows if (result := whole_result(row, store)) is not None)
    if len(rows) > EXPORT_WITHOUT_PROGRESS:
        dialog = _ExportProgress(window, len(rows))
    status = window.statusBar()
    try:
        written = write_results(path, results, as_csv, None if dialog is None else dialog.advance)
    except ExportCancelled:
        status.showMessage("Export cancelled: nothing was written.", 8000)
        return None
    except (sqlite3.Error, ValueError) as exc:  # a result's details could not be read back from the history
        status.showMessage(f"Export failed: the history could not be read ({exc}).", 8000)
        QMessageBox.warning(window, "Export failed", f"The results could not be read from the history: {exc}.\n\n"
                            "Nothing was written.")
        return None
    except OSError as exc:
        reason = save_failure_text(path, exc)
        status.showMessage(f"Export failed: {reason}.", 8000)
        QMessageBox.warning(window, "Export failed", f"The results could not be saved to {path}: {reason}.\n\n"
                            "Nothing was written. Export again and choose another place.")
        return None
    finally:
        if dialog is not None:
            dialog.close()
            dialog.deleteLater()
    left_out = []
    if hidden:
        left_out.append(f"{hidden:,} more hidden by the filters")
    if unfinished:
        left_out.append(f"{unfinished:,} in view with no result yet")
    also = f" (not written: {'; '.join(left_out)})" if left_out else ""
    status.showMessage(f"Exported {len(rows):,} result{'' if len(rows) == 1 else 's'} to {written}{also}", 8000)
    return written


def with_format(window: QMainWindow, path: str, chosen_filter: str) -> tuple[str, bool | None] | None:
    """The name chosen in the save dialog and its format (None: by its extension), or None when the person
    keeps an existing file: an extension added here to a typed "results" names a file the dialog, which
    saw only "results", never asked about."""
    if Path(path).suffix.lower() in (".csv", ".json"):
        return path, None
    if Path(path).suffix:  # "results.txt": the format chosen, not JSON
        return path, "JSON" not in chosen_filter
    path += ".json" if "JSON" in chosen_filter else ".csv"
    if os.path.lexists(path) and not confirmed(window, "Replace the file?", f"{path} already exists. Replace it?"):
        return None
    return path, None


class _ExportProgress(QProgressDialog):
    """A window-modal progress dialog for a long export; ``advance`` is what write_results calls."""

    def __init__(self, window: QMainWindow, total: int):
        super().__init__(f"Exporting {total:,} results…", "Cancel", 0, total, window)
        self.setWindowTitle("Export")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(500)
        self.total = total
        self._shown_at = 0.0

    def advance(self, done: int) -> bool:
        # By the clock, not every N results: 50 JSON results with their heatmaps took up to 0.7 s.
        now = time.monotonic()
        if now - self._shown_at >= PROGRESS_EVERY_S or done == self.total:
            self._shown_at = now
            self.setValue(done)  # a modal dialog's setValue keeps the window painting and Cancel live
        return not self.wasCanceled()

