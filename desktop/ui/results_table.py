"""The results table view: its columns, list-like Home/End, and what to do when it is empty."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, QTimer
from PySide6.QtGui import QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from desktop.results_model import (
    COLUMN_NAME, COLUMN_PROVENANCE, COLUMN_SOURCE, COLUMN_TIME, COLUMN_VERDICT, ResultsFilterProxy, ResultsModel,
)
from desktop.ui.delegates import TagsDelegate, VerdictDelegate, verdict_column_width

THUMBNAIL_SIDE = 44
TAGS_CHECK_MS = 300
ROW_HEIGHT = 52

EMPTY_HINT = ("Drop images or folders here to scan them\n\n"
              "or use Open files… (Ctrl+O), Open folder… (Ctrl+Shift+O) or paste an image (Ctrl+V).\n"
              "Everything is scanned on this computer.\n\n"
              "\u201cLikely real\u201d is not proof of a photo: Help \u25b8 Model card says what the model "
              "cannot detect.")
NO_MATCH_HINT = "No results match the filters."
READING_HINT = "Reading your history…"
NO_MODEL_HINT = ("No detector model is loaded, so nothing can be scanned yet.\n\n"
                 "Choose one with the button above, or in Settings.")


class ResultsTable(QTableView):
    """The results table: Home and End go to the first and last row, keeping the column, as in a list
    (QTableView's own Home/End move across the columns of the current row). Empty, it says what to do:
    the whole list is a drop target."""

    can_scan = True  # False while no model can scan: the hint then says what to do first
    reading_history = False
    # Whether any row has provenance tags: the column is left out while none has (most photos carry none,
    # and its empty 150 px were taken from the names).
    tags_shown = False

    def __init__(self, proxy: ResultsFilterProxy, parent: QWidget | None = None):
        super().__init__(parent)
        self.setModel(proxy)
        self.setAccessibleName("Scan results")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setTabKeyNavigation(False)  # rows are chosen with the arrows; Tab goes on to the detail pane
        self.setSortingEnabled(True)
        self.sortByColumn(COLUMN_TIME, Qt.SortOrder.DescendingOrder)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        # Long names lose their middle, not their end: "pasted 2026-12-05 10-40-53.png" keeps its time,
        # "IMG_20241205_104053.jpg" its number.
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        vertical = self.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # fixed heights keep 10,000 rows cheap
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        self.setItemDelegateForColumn(COLUMN_VERDICT, VerdictDelegate(self))
        self.setItemDelegateForColumn(COLUMN_PROVENANCE, TagsDelegate(self))
        self._size_columns()
        self._tags_check = QTimer(self)  # rows arrive in bursts: look once they settle
        self._tags_check.setSingleShot(True)
        self._tags_check.setInterval(TAGS_CHECK_MS)
        self._tags_check.timeout.connect(self._check_tags)
        source = proxy.sourceModel()
        assert isinstance(source, ResultsModel)
        self._results = source
        for signal in (source.rowsInserted, source.rowsRemoved, source.modelReset, source.dataChanged):
            signal.connect(self._tags_check.start)

    def _size_columns(self) -> None:
        self.horizontalHeader().setSectionResizeMode(COLUMN_NAME, QHeaderView.ResizeMode.Stretch)
        verdict_width = max(140, verdict_column_width(QFontMetrics(self.font())))
        widths = {COLUMN_VERDICT: verdict_width, COLUMN_SOURCE: 110, COLUMN_PROVENANCE: 150, COLUMN_TIME: 140}
        for column, width in widths.items():
            self.setColumnWidth(column, width)
        # A narrow window keeps the name and the verdict readable: the time goes first, then the source, then
        # the provenance tags (the pane shows all three). The default window (1280 px) shows every column.
        name_room = 160  # the thumbnail and about 16 characters of the name
        # Narrower, the list would keep the names and scroll its verdicts out of sight: the splitter and the
        # window stop here (the detail pane gives way first).
        self.setMinimumWidth(name_room + verdict_width + self.verticalScrollBar().sizeHint().width())
        self._widths, self._name_room = widths, name_room

    def narrow_rules(self) -> list[tuple[int, int]]:
        """Columns given up, in this order, when the table is too narrow for them beside a readable name (the
        detail pane shows each row's source, provenance and time anyway): (column, width below which it hides).
        The provenance column counts only while it is shown."""
        widths, room = self._widths, self._name_room
        tags = widths[COLUMN_PROVENANCE] if self.tags_shown else 0
        return [(COLUMN_TIME, room + widths[COLUMN_VERDICT] + widths[COLUMN_SOURCE] + tags + widths[COLUMN_TIME]),
                (COLUMN_SOURCE, room + widths[COLUMN_VERDICT] + widths[COLUMN_SOURCE] + tags),
                (COLUMN_PROVENANCE, room + widths[COLUMN_VERDICT] + widths[COLUMN_PROVENANCE])]

    def _check_tags(self) -> None:
        shown = any(row.result is not None and row.result.provenance for row in self._results.rows())
        if shown != self.tags_shown:
            self.tags_shown = shown
            self.fit_columns()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.fit_columns()

    def fit_columns(self) -> None:
        width = self.viewport().width()
        for column, below in self.narrow_rules():
            self.setColumnHidden(column, width < below or (column == COLUMN_PROVENANCE and not self.tags_shown))

    def set_reading_history(self, reading: bool) -> None:
        """While the history is read (seconds, for a year of it), the empty list says so, not "drop images"."""
        if reading != self.reading_history:
            self.reading_history = reading
            self.viewport().update()

    def set_can_scan(self, can_scan: bool) -> None:
        if can_scan != self.can_scan:
            self.can_scan = can_scan
            self.viewport().update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().paintEvent(event)
        hint = self.empty_hint()
        if self.accessibleDescription() != hint:  # what is painted is said too
            self.setAccessibleDescription(hint)
        if not hint:
            return
        painter = QPainter(self.viewport())
        try:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(24, 24, -24, -24),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, hint)
        finally:
            painter.end()

    def empty_hint(self) -> str:
        """What the empty table says to do; "" while it lists rows."""
        model = self.model()
        if model is None or model.rowCount(self.rootIndex()) > 0:
            return ""
        filtered = isinstance(model, ResultsFilterProxy) and model.sourceModel().rowCount() > 0
        if filtered:
            return NO_MATCH_HINT
        if self.reading_history:
            return READING_HINT
        return EMPTY_HINT if self.can_scan else NO_MODEL_HINT

    def moveCursor(self, cursor_action, modifiers):  # noqa: N802 (Qt's name)
        actions = QAbstractItemView.CursorAction
        if cursor_action in (actions.MoveHome, actions.MoveEnd):
            model = self.model()
            rows = model.rowCount(self.rootIndex()) if model is not None else 0
            order = range(rows) if cursor_action == actions.MoveHome else range(rows - 1, -1, -1)
            row = next((r for r in order if not self.isRowHidden(r)), None)
            if row is None:
                return QModelIndex()
            current = self.currentIndex()
            column = current.column() if current.isValid() else 0
            while column > 0 and self.isColumnHidden(column):
                column -= 1
            return model.index(row, column, self.rootIndex())
        return super().moveCursor(cursor_action, modifiers)
