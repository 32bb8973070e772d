"""The status bar's scan progress: a bar ("3 of 40") and a Cancel button, shown while a scan runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtWidgets import QProgressBar, QPushButton, QStatusBar

PROGRESS_INTERVAL_S = 0.25  # QProgressBar.setValue repaints at once: a few times a second is plenty


class ScanProgress:
    def __init__(self, cancel: Callable[[], None]):
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Scan progress")
        self.bar.setMaximumWidth(240)
        self.bar.setFormat("%v of %m")
        self.bar.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop scanning what has not started yet")
        self.cancel_button.clicked.connect(cancel)
        self.cancel_button.hide()
        self.cancelling = False  # cancel asked, the images already being scanned still finishing
        self._shown_at = 0.0

    def add_to(self, status_bar: QStatusBar) -> None:
        status_bar.addPermanentWidget(self.bar)
        status_bar.addPermanentWidget(self.cancel_button)

    def show(self, done: int, total: int) -> bool:
        """Show how far the scan is; False where it was not redrawn (too soon after the last time: the
        service reports every 40 ms drain, and each redraw happens there and then, on the GUI thread)."""
        if total <= 0:
            return False
        now = time.monotonic()
        if done < total and self.bar.isVisible() and now - self._shown_at < PROGRESS_INTERVAL_S:
            return False
        self._shown_at = now
        self.bar.setMaximum(total)
        self.bar.setValue(done)
        self.bar.show()
        self.cancel_button.show()
        return True

    def start_cancelling(self) -> None:
        """Say at once that Cancel was heard: the images already being decoded or scored finish first
        (seconds on a busy machine), and a Cancel that looked ignored would be pressed again."""
        self.cancelling = True
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")

    def finish(self) -> None:
        self.bar.hide()
        self.cancel_button.hide()
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.cancelling = False
