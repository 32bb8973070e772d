"""The results table view: list-like Home/End, and what to do when it is empty."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QTableView

from desktop.results_model import ResultsFilterProxy

EMPTY_HINT = ("Drop images or folders here to scan them\n\n"
              "or use Open files… (Ctrl+O), Open folder… (Ctrl+Shift+O) or paste an image (Ctrl+V).\n"
              "Everything is scanned on this computer.")
NO_MATCH_HINT = "No results match the filters."
NO_MODEL_HINT = ("No detector model is loaded, so nothing can be scanned yet.\n\n"
                 "Choose one with the button above, or in Settings.")


class ResultsTable(QTableView):
    """The results table: Home and End go to the first and last row, keeping the column, as in a list
    (QTableView's own Home/End move across the columns of the current row). Empty, it says what to do:
    the whole list is a drop target."""

    can_scan = True  # False while no model can scan: the hint then says what to do first
    # Columns given up, in this order, when the table is too narrow for them beside a readable name
    # (the detail pane shows each row's source and time anyway): (column, table width below which it hides).
    narrow_rules: tuple[tuple[int, int], ...] = ()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.fit_columns()

    def fit_columns(self) -> None:
        width = self.viewport().width()
        for column, below in self.narrow_rules:
            self.setColumnHidden(column, width < below)

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
        return NO_MATCH_HINT if filtered else EMPTY_HINT if self.can_scan else NO_MODEL_HINT

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
