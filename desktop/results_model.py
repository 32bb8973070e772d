"""The results table as Qt model/view: one row per image, a proxy to sort and filter.

Rows are keyed by file path (or by sha256 for images that came as bytes), so a
result finds the row that was queued for it, and a re-dropped file reuses its row.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import cast
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Callable

from PySide6.QtCore import (
    QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer,
)

from engine.result import ERROR, LIKELY_AI, LIKELY_REAL, UNCERTAIN, Result

QUEUED = "queued"
DONE = "done"
CANCELLED = "cancelled"
VERDICT_ORDER = {LIKELY_AI: 3, UNCERTAIN: 2, LIKELY_REAL: 1}  # sorting by verdict: the bands, then the score

RESORT_DELAY_MS = 300  # rows whose score or time changed move into place after this

# A queued row, in the list and the pane alike (the few in flight at a moment are not told apart).
QUEUED_TEXT = "Waiting to be scanned…"

COLUMN_NAME, COLUMN_VERDICT, COLUMN_SOURCE, COLUMN_PROVENANCE, COLUMN_TIME = range(5)
HEADERS = ("Image", "Verdict", "Source", "Provenance", "Scanned")

ResultRole = int(Qt.ItemDataRole.UserRole) + 1
RowRole = int(Qt.ItemDataRole.UserRole) + 2
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)

AI_TAG_MARK = "AI · "  # a tag that declares generative AI says so in words, not by its tint alone


def tag_text(hint) -> str:
    """A provenance hint as its tag in the table."""
    return AI_TAG_MARK + hint.label if hint.ai_generated else hint.label

SOURCE_LABELS = {
    "dropped": "Dropped",
    "opened": "Opened",  # Open files… / Open folder…
    "watched": "Watched folder",
    "browser": "Browser",
    "cli": "Command line",
    "clipboard": "Clipboard",
}
# Filter choices for the verdict box: key -> label. "pending" covers queued and cancelled rows.
VERDICT_FILTERS = {
    "": "All verdicts",
    LIKELY_AI: "Likely AI",
    UNCERTAIN: "Uncertain",
    LIKELY_REAL: "Likely real",
    ERROR: "Errors",
    "pending": "Not scanned yet",
}


def source_label(source: str) -> str:
    return SOURCE_LABELS.get(source, source.capitalize() if source else "")


def _says_less(result: Result, row: Row) -> bool:
    """The store's copy of a verdict this session just gave on the same bytes: it would only add "seen
    before" (the same file queued twice at once, a watched download seen twice). A row from the history
    takes it: there "seen before" is the news."""
    shown = row.result
    return (row.fresh and shown is not None and result.cached and result.sha256 == shown.sha256
            and result.model_name == shown.model_name
            and result.model_version == shown.model_version)


def row_key(path: str, sha256: str = "") -> str:
    return path if path else f"sha256:{sha256}"


@dataclass
class Row:
    key: str
    path: str
    source: str
    status: str = QUEUED
    result: Result | None = None
    queued_at: float = 0.0
    summary: bool = False  # from the history: the result without crop scores and heatmap (see whole_result)
    fresh: bool = False  # its verdict was made by the model in this session, not served from the store

    @property
    def name(self) -> str:
        if self.path:
            return os.path.basename(self.path)  # not a Path: a sort by name asks it of 20,000 rows
        if self.result is not None and self.result.image_url:
            return self.result.image_url.rsplit("/", 1)[-1][:80] or "browser image"
        return "image"

    @property
    def verdict(self) -> str:
        if self.status == DONE and self.result is not None:
            return self.result.verdict
        return "pending"

    @property
    def time(self) -> float:
        if self.result is not None and self.result.scanned_at:
            return self.result.scanned_at
        return self.queued_at

    @property
    def verdict_text(self) -> str:
        return self.badge_texts()[0]

    def badge_texts(self) -> tuple[str, ...]:
        """The verdict badge's text, longest first: where the column is too narrow for the first, the
        badge drops "seen before" before it would elide the score."""
        if self.status == QUEUED:
            return (QUEUED_TEXT, "Waiting…")
        if self.status == CANCELLED:
            return ("Cancelled",)
        result = self.result
        if result is None or result.verdict == ERROR or result.probability is None:
            return ("Error",)
        # "AI 58%", as the extension's badge says: a bare "Likely real 58%" reads as 58% sure it is real.
        verdict = f"{result.verdict_label} · AI {result.probability:.0%}"
        # Bytes the store knew (a copy, a re-download, a second drop) carry the stored verdict: say so.
        return (f"{verdict} · seen before", verdict) if result.cached else (verdict,)

    def sort_value(self, column: int):
        """What the proxy sorts by; unscanned and failed rows sort below every score. Verdicts group
        before scores: a photo called uncertain for being tiny can score under one called likely real."""
        if column == COLUMN_VERDICT:
            if self.status == DONE and self.result is not None and self.result.probability is not None:
                return VERDICT_ORDER.get(self.result.verdict, 0), float(self.result.probability)
            return (-1, 0.0) if self.status == DONE else (-2, 0.0)
        if column == COLUMN_TIME:
            return float(self.time)
        return ResultsModel._display(self, column).lower()

    def matches_text(self, needle: str) -> bool:
        if needle in self.path.lower() or needle in source_label(self.source).lower():
            return True
        result = self.result
        if result is None:
            return False
        haystack = [result.verdict_label, result.image_url, result.page_url, result.error or ""]
        haystack += [hint.label for hint in result.provenance]
        return any(needle in text.lower() for text in haystack)


def show_details(row: Row | None, store) -> Row | None:
    """A history row about to be shown whole: its crop scores and heatmap are read from the store now, once
    (the history holds 20,000 rows as summaries; the detail pane shows one at a time)."""
    if row is not None and row.summary and row.result is not None:
        row.result, row.summary = store.details(row.result), False
    return row


def whole_result(row: Row, store) -> Result | None:
    """The row's result with everything stored about it (for a copy or an export), leaving the row as it is."""
    return store.details(row.result) if row.summary and row.result is not None else row.result



def _runs(positions: list[int]) -> list[tuple[int, int]]:
    """Sorted positions as (first, last) runs of adjacent ones: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for position in positions:
        if runs and runs[-1][1] == position - 1:
            runs[-1] = (runs[-1][0], position)
        else:
            runs.append((position, position))
    return runs

class ResultsModel(QAbstractTableModel):
    def __init__(self, thumbnail_for: Callable[[str], object] | None = None, parent=None):
        super().__init__(parent)
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._thumbnail_for = thumbnail_for
        self._sort_column = -1
        self._sort_descending = False
        self._resort_timer = QTimer(self)
        self._resort_timer.setSingleShot(True)
        self._resort_timer.setInterval(RESORT_DELAY_MS)
        self._resort_timer.timeout.connect(self._resort)

    # --- Qt model interface -----------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY):
        # Views call this for every visible cell on every repaint: plain int comparisons.
        if role == _DISPLAY:
            return self._display(self._rows[index.row()], index.column())
        if role == RowRole:
            return self._rows[index.row()]
        if role == ResultRole:
            return self._rows[index.row()].result
        if role == _DECORATION:
            row = self._rows[index.row()]
            if index.column() == COLUMN_NAME and self._thumbnail_for:
                return self._thumbnail_for(row.path)  # "" for bytes from the browser
            return None
        if role == _TOOLTIP:
            return self._tooltip(self._rows[index.row()], index.column())
        if role == _ACCESSIBLE and index.column() == COLUMN_NAME:
            # Rows are walked with the arrows on the name cell: a screen reader hears the verdict with it.
            row = self._rows[index.row()]
            return f"{row.name}, {row.verdict_text}"
        return None

    @staticmethod
    def _display(row: Row, column: int) -> str:
        if column == COLUMN_NAME:
            return row.name
        if column == COLUMN_VERDICT:
            return row.verdict_text
        if column == COLUMN_SOURCE:
            return source_label(row.source)
        if column == COLUMN_PROVENANCE:
            return ", ".join(tag_text(hint) for hint in row.result.provenance) if row.result else ""
        if column == COLUMN_TIME:
            if row.status in (QUEUED, CANCELLED):  # the column says when it was scanned: not yet
                return "—"
            return datetime.fromtimestamp(row.time).strftime("%Y-%m-%d %H:%M:%S") if row.time else ""
        return ""

    @staticmethod
    def _tooltip(row: Row, column: int) -> str:
        result = row.result
        if column == COLUMN_VERDICT and result is not None:
            if result.error:
                return result.error
            seen = "Seen before: the verdict stored for these bytes.\n" if result.cached else ""
            if result.reasons:
                return seen + "Why uncertain:\n" + "\n".join(f"• {reason}" for reason in result.reasons)
            if seen:
                return seen.strip()
        return row.path or (result.image_url if result else "")

    # --- updates ----------------------------------------------------------------

    def add_queued(self, items: list[tuple[str, str]]) -> None:
        """Rows for files about to be scanned: shown at once, filled in when results arrive."""
        now = time.time()
        new_rows: dict[str, Row] = {}  # one row per file, however often a batch names it (two rows of one key crashed)
        for path, source in items:
            key = row_key(path)
            position = self._index.get(key)
            if position is None:
                new_rows[key] = Row(key, path, source, QUEUED, None, now)
            else:
                row = self._rows[position]
                row.status, row.source, row.queued_at = QUEUED, source, now
                self._changed(position)
        self._append(list(new_rows.values()))

    def add_results(self, results: list[Result]) -> None:
        new_rows: dict[str, Row] = {}
        for result in results:
            key = row_key(result.path, result.sha256)
            position = self._index.get(key)
            if position is None:
                if key not in new_rows or not _says_less(result, new_rows[key]):
                    new_rows[key] = Row(key, result.path, result.source, DONE, result, result.scanned_at,
                                     fresh=not result.cached)
            else:
                row = self._rows[position]
                if not _says_less(result, row):
                    row.result, row.summary, row.fresh = result, False, not result.cached
                row.status = DONE
                self._changed(position)
        self._append(list(new_rows.values()))

    def add_history(self, results: list[Result]) -> None:
        """Stored results from earlier runs, as the store's summaries; rows this run already has win."""
        fresh, keys = [], set()
        for result in results:
            key = row_key(result.path, result.sha256)
            if key in self._index or key in keys:
                continue
            keys.add(key)
            fresh.append(Row(key, result.path, result.source, DONE, result, result.scanned_at, summary=True))
        self._append(fresh)

    def mark_cancelled(self) -> int:
        count = 0
        for position, row in enumerate(self._rows):
            if row.status == QUEUED:
                row.status = CANCELLED
                self._changed(position)
                count += 1
        return count

    def drop_unanswered(self) -> int:
        """Rows still waiting when a scan ended uncancelled: files that went before their turn (a download
        deleted as it waited) leave the list rather than wait for ever."""
        positions = [position for position, row in enumerate(self._rows) if row.status == QUEUED]
        self.remove_rows(positions)
        return len(positions)

    def remove_rows(self, positions: list[int]) -> None:
        """Take rows out of the view (never touches files or the store), each run of adjacent rows at once:
        one removal per row made removing 1,000 selected rows take 25 s (every removal re-read the selection)."""
        for first, last in reversed(_runs(sorted(set(positions)))):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first:last + 1]
            self.endRemoveRows()
        self._index = {row.key: i for i, row in enumerate(self._rows)}

    def thumbnail_ready(self, path: str) -> None:
        position = self._index.get(row_key(path))
        if position is not None:
            index = self.index(position, COLUMN_NAME)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    # --- queries -------------------------------------------------------------------

    def row_at(self, position: int) -> Row:
        return self._rows[position]

    def position_of(self, key: str) -> int | None:
        return self._index.get(key)

    def rows(self) -> list[Row]:
        return list(self._rows)

    # --- sorting ----------------------------------------------------------------------
    # The model sorts itself in Python (a list sort with a key) instead of letting the
    # proxy sort: the proxy would call data() across the Python/C++ boundary ~300,000
    # times for 10,000 rows, which freezes the window for a second or more.

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column = column
        self._sort_descending = order == Qt.SortOrder.DescendingOrder
        self._resort(force=True)

    def _sort_key(self, row: Row):
        return row.sort_value(self._sort_column)

    def _in_order(self, first, second) -> bool:
        return first >= second if self._sort_descending else first <= second

    def _resort(self, force: bool = False) -> None:
        if self._sort_column < 0 or not self._rows:
            return
        keys = [self._sort_key(row) for row in self._rows]
        if not force and all(self._in_order(a, b) for a, b in itertools.pairwise(keys)):
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        persistent_keys = [(self._rows[index.row()].key, index.column()) for index in persistent]
        order = sorted(range(len(self._rows)), key=keys.__getitem__, reverse=self._sort_descending)
        self._rows = [self._rows[i] for i in order]
        self._index = {row.key: i for i, row in enumerate(self._rows)}
        self.changePersistentIndexList(
            persistent, [self.index(self._index[key], column) for key, column in persistent_keys])
        self.layoutChanged.emit()

    def _schedule_resort(self) -> None:
        if self._sort_column >= 0 and not self._resort_timer.isActive():
            self._resort_timer.start()

    def _append(self, rows: list[Row]) -> None:
        """Insert new rows where the current order puts them: a batch of new arrivals
        (the usual case, sorted by time) goes in one block at the top or bottom."""
        if not rows:
            return
        position = len(self._rows)
        if self._sort_column >= 0:
            rows = sorted(rows, key=self._sort_key, reverse=self._sort_descending)
            if self._rows and self._in_order(self._sort_key(rows[-1]), self._sort_key(self._rows[0])):
                position = 0
            elif self._rows and not self._in_order(self._sort_key(self._rows[-1]), self._sort_key(rows[0])):
                self._schedule_resort()  # they interleave with existing rows
        self.beginInsertRows(QModelIndex(), position, position + len(rows) - 1)
        self._rows[position:position] = rows
        if position == len(self._rows) - len(rows):
            self._index.update({row.key: position + offset for offset, row in enumerate(rows)})
        else:
            self._index = {row.key: i for i, row in enumerate(self._rows)}
        self.endInsertRows()

    def _changed(self, position: int) -> None:
        self.dataChanged.emit(self.index(position, 0), self.index(position, len(HEADERS) - 1))
        self._schedule_resort()


class ResultsFilterProxy(QSortFilterProxyModel):
    """Filters by verdict, source and free text; sorting is handed to the source model."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDynamicSortFilter(True)  # re-filter rows whose data changed
        self._verdict = ""
        self._source = ""
        self._text = ""

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)

    def set_verdict_filter(self, verdict: str) -> None:
        self._refilter("_verdict", verdict or "")

    def set_source_filter(self, source: str) -> None:
        self._refilter("_source", source or "")

    def set_text_filter(self, text: str) -> None:
        self._refilter("_text", (text or "").strip().lower())

    def _results(self) -> ResultsModel:
        return cast(ResultsModel, self.sourceModel())  # the only source it is given

    def _refilter(self, attribute: str, value: str) -> None:
        if getattr(self, attribute) == value:
            return
        self.beginFilterChange()
        setattr(self, attribute, value)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        row = self._results().row_at(source_row)
        if self._verdict and row.verdict != self._verdict:
            return False
        if self._source and row.source != self._source:
            return False
        return not self._text or row.matches_text(self._text)

    def row_for(self, proxy_index: QModelIndex) -> Row | None:
        if not proxy_index.isValid():
            return None
        return self._results().row_at(self.mapToSource(proxy_index).row())

    def visible_rows(self) -> list[Row]:
        model = self._results()
        return [model.row_at(self.mapToSource(self.index(i, 0)).row()) for i in range(self.rowCount())]
