"""Building the main window: one function for the app and the self-test alike."""

from __future__ import annotations

from desktop.session import AppSession


def create_window(session: AppSession):
    """The main window over ``session``. Its widgets are imported here, once a QApplication exists."""
    from desktop.ui.main_window import MainWindow

    return MainWindow(session)
