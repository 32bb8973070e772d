"""The toolbar's filters over the results: a text box and the verdict and source choices."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QToolBar

from desktop.results_model import SOURCE_LABELS, VERDICT_FILTERS, ResultsFilterProxy


class ResultFilters:
    """Three filters, each applied to the proxy as it changes. Not a widget of its own: its parts sit in
    the toolbar beside the actions, so Tab walks through them like any toolbar item."""

    def __init__(self, proxy: ResultsFilterProxy):
        self.text = QLineEdit()
        self.text.setPlaceholderText("Filter by name, folder, tag or verdict (Ctrl+F)")  # the whole path matches
        self.text.setClearButtonEnabled(True)
        self.text.setMaximumWidth(320)
        self.text.setAcceptDrops(False)  # a file dropped here is meant for scanning, like anywhere else
        self.text.setAccessibleName("Filter results")
        self.text.textChanged.connect(proxy.set_text_filter)
        self.verdict = QComboBox()
        for key, label in VERDICT_FILTERS.items():
            self.verdict.addItem(label, key)
        self.verdict.setAccessibleName("Show verdict")
        self.verdict.currentIndexChanged.connect(lambda: proxy.set_verdict_filter(self.verdict.currentData()))
        self.source = QComboBox()
        self.source.addItem("All sources", "")
        for key, label in SOURCE_LABELS.items():
            self.source.addItem(label, key)
        self.source.setAccessibleName("Show source")
        self.source.currentIndexChanged.connect(lambda: proxy.set_source_filter(self.source.currentData()))
        # Visible labels, each the buddy of its combo box: on Linux a screen reader names a combo box by
        # its label and otherwise hears only the current item ("All verdicts").
        self.verdict_label, self.source_label = QLabel(" Ve&rdict "), QLabel(" S&ource ")
        self.verdict_label.setBuddy(self.verdict)
        self.source_label.setBuddy(self.source)

    def add_to(self, toolbar: QToolBar) -> None:
        for widget in (self.text, self.verdict_label, self.verdict, self.source_label, self.source):
            toolbar.addWidget(widget)

    def clear(self) -> None:
        """Show every row again."""
        self.text.clear()
        self.verdict.setCurrentIndex(0)
        self.source.setCurrentIndex(0)

    def focus_text(self) -> None:
        self.text.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.text.selectAll()
