"""Messages above the results list: no usable model, a likely-AI arrival."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.ui.announce import announce
from desktop.ui.style import banner_stylesheet, verdict_colour
from engine.result import LIKELY_AI, UNCERTAIN


class Banner(QFrame):
    """A message above the list, with the buttons that act on it, tinted with ``accent``."""

    def __init__(self, name: str, accent: QColor, buttons: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self._accent = accent
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)  # callers escape what they did not write
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        self.buttons = [QPushButton(caption) for caption in buttons]
        for button in self.buttons:
            layout.addWidget(button)
        self._restyle()

    def show_message(self, rich_text: str, spoken: str) -> None:
        """Show the banner with ``rich_text``; a screen reader is told ``spoken`` at once (showing the
        banner moves no focus) and finds it again as the banner's description."""
        self.label.setText(rich_text)
        self.setAccessibleDescription(spoken)
        self.show()
        announce(self, spoken, assertive=True)

    def _restyle(self) -> None:
        # From the application's palette, not this widget's: the stylesheet rewrites the widget's own.
        sheet = banner_stylesheet(self.objectName(), self._accent, QApplication.palette())
        if sheet != self.styleSheet():  # unchanged: no restyle, so no palette-change loop
            self.setStyleSheet(sheet)

    def showEvent(self, event) -> None:
        self._restyle()  # a hidden widget may miss a palette change
        super().showEvent(event)

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            # The desktop switched between light and dark; the application's palette is complete only
            # once this round of change events is over.
            QTimer.singleShot(0, self, self._restyle)  # not after the banner is gone
        super().changeEvent(event)


class ModelBanner(Banner):
    """Says clearly when no model can scan, with the buttons that fix it: back to the built-in model (shown
    where a file of the person's own failed), or another file."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("modelBanner", verdict_colour(UNCERTAIN), ["Use built-in model", "Choose model file…"], parent)
        self.setAccessibleName("No detector model")
        self.use_builtin, self.choose = self.buttons
        self.use_builtin.setToolTip("Go back to the detector that comes with SynthSpot")


class AlertBanner(Banner):
    """A likely-AI arrival, kept on screen until the person looks (Show) or waves it away: a status-bar
    message is gone in seconds, and on a desktop without a tray it is the only sign in the window."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("alertBanner", verdict_colour(LIKELY_AI), ["Show", "Dismiss"], parent)
        self.setAccessibleName("Alert")
        self.show_button, self.dismiss_button = self.buttons
        self.dismiss_button.clicked.connect(self.dismiss)
        self.count = 0  # arrivals since the person last looked

    def alert(self, title: str, message: str, arrivals: int = 1) -> None:
        self.count += arrivals
        more = f" ({self.count} arrivals since you last looked)" if self.count > arrivals else ""
        self.show_message(f"<b>{html.escape(title)}</b>: {html.escape(message)}{more}", f"{title}: {message}{more}")

    def dismiss(self) -> None:
        self.count = 0
        self.hide()
