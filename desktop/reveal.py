"""Show a file in the platform's file manager, selected where the platform allows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices


def reveal_in_file_manager(path: str) -> bool:
    target = Path(path)
    if not target.exists():
        return False
    try:
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", str(target)])
            return True
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(target)])
            return True
        if _freedesktop_show_item(target):
            return True
    except OSError:
        pass
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(target.parent)))


def _freedesktop_show_item(target: Path) -> bool:
    """Ask the desktop's file manager (the FileManager1 D-Bus interface) to select the file."""
    try:
        completed = subprocess.run(
            ["gdbus", "call", "--session", "--dest", "org.freedesktop.FileManager1",
             "--object-path", "/org/freedesktop/FileManager1", "--method", "org.freedesktop.FileManager1.ShowItems",
             f"['{target.as_uri()}']", ""],
            capture_output=True, timeout=3)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0
