"""A ring around whatever the keyboard has focused, so a keyboard user sees where they are.

Fusion (Qt's own style, used where the desktop offers none) marks focus with a thin highlight that
differs from an unfocused control by 1.3-2.4:1, and not at all on the detail text. Qt's
``QFocusFrame`` draws a ring in the window's text colour around one widget (black on a light theme,
white on a dark one), so it stands out in either. The ring follows ``focusChanged`` (a signal per focus
move, not a Python hook on every paint or event) and stays off when a mouse press moved the focus:
a click needs no ring. Native styles (Breeze, Windows, macOS) draw their own focus and are left alone.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFocusFrame, QWidget


# Pixels a widget flush with its parent's edges needs around it for the ring to show (Fusion draws it 2 px out).
FOCUS_RING_ROOM = 3


class KeyboardFocusRing(QObject):
    def __init__(self, app: QApplication):
        super().__init__(app)
        self._frame: QFocusFrame | None = None
        app.focusChanged.connect(self._focus_changed)

    @property
    def widget(self) -> QWidget | None:
        """The widget the ring is around; None when it is hidden."""
        frame = self._live_frame()
        return frame.widget() if frame is not None and frame.isVisible() else None

    def _live_frame(self) -> QFocusFrame | None:
        # The frame lives in the focused widget's window and goes when that window is deleted.
        return self._frame if self._frame is not None and shiboken6.isValid(self._frame) else None

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        frame = self._live_frame()
        by_mouse = QGuiApplication.mouseButtons() != Qt.MouseButton.NoButton
        if new is None or by_mouse or new.focusProxy() is not None:
            if frame is not None:
                frame.setWidget(None)  # type: ignore[arg-type]  # Qt takes None (no widget); the stubs omit it
            return
        if frame is None:
            frame = self._frame = QFocusFrame(new.window())
        frame.setWidget(new)


_ring: KeyboardFocusRing | None = None


def show_keyboard_focus() -> KeyboardFocusRing | None:
    """Under Fusion, ring the keyboard's focus from now on (once per application); None elsewhere."""
    global _ring
    app = QApplication.instance()
    if not isinstance(app, QApplication) or app.style().name().lower() != "fusion":
        return None
    if _ring is None or not shiboken6.isValid(_ring):
        _ring = KeyboardFocusRing(app)
    return _ring
