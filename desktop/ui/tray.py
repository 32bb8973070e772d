"""The system-tray icon: scanning status, the last flagged image, pause watching, quit."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop.ui.style import app_icon
from engine.result import LIKELY_AI


class TrayIcon(QSystemTrayIcon):
    showRequested = Signal()
    flaggedRequested = Signal(object)  # Result
    quitRequested = Signal()

    def __init__(self, session, parent=None):
        super().__init__(app_icon(), parent)
        self._session = session
        self.setToolTip("SynthSpot")
        menu = QMenu()
        self.status_action = QAction("Idle", menu)
        self.status_action.setEnabled(False)
        self.flagged_text = "No likely-AI image yet"
        self.flagged_action = QAction(self.flagged_text, menu)
        self.flagged_action.setEnabled(False)
        self.flagged_action.triggered.connect(lambda: self.flaggedRequested.emit(session.last_flagged))
        self.pause_action = QAction("&Pause watching", menu, checkable=True)
        self.pause_action.setChecked(session.settings.watching_paused)
        # Nothing to pause without a watched folder (the window keeps it so as folders come and go).
        self.pause_action.setEnabled(bool(session.settings.watched_folders) or session.settings.watching_paused)
        self.pause_action.toggled.connect(session.set_watching_paused)
        show = QAction("&Show SynthSpot", menu)
        show.triggered.connect(self.showRequested)
        quit_action = QAction("&Quit", menu)
        quit_action.triggered.connect(self.quitRequested)
        for action in (self.status_action, self.flagged_action):
            menu.addAction(action)
        menu.addSeparator()
        for action in (self.pause_action, show):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(quit_action)
        self._menu = menu  # the tray does not own its menu
        self.setContextMenu(menu)
        self.activated.connect(self._activated)
        session.flagged.connect(self._flagged)

    def set_status(self, text: str) -> None:
        self.status_action.setText(text)
        self._update_tooltip()

    def _update_tooltip(self) -> None:
        # The tinted icon says "something was flagged" by colour; the tooltip says it in words.
        flagged = f"\n{self.flagged_text}" if self.flagged_action.isEnabled() else ""
        self.setToolTip(f"SynthSpot — {self.status_action.text()}{flagged}")

    def _flagged(self, result) -> None:
        name = Path(result.path).name if result.path else (result.image_url or "browser image")
        self.flagged_text = f"Last flagged: {name} (AI score {result.probability:.0%})"
        # In a menu "&" marks the letter that picks an item: a file named "Tom & Jerry.jpg" keeps its "&".
        self.flagged_action.setText(self.flagged_text.replace("&", "&&"))
        self.flagged_action.setEnabled(True)
        self.setIcon(app_icon(LIKELY_AI))
        self._update_tooltip()

    def _activated(self, reason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.showRequested.emit()
