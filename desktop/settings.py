"""The app's settings as typed option declarations over QSettings.

Each option names its key, type, default and, where it has one, its valid range once;
reading coerces the stored value (QSettings' INI backend returns strings) and gives the
default for one out of range (a hand-edited file, another build's choices), so a bad value
never stops the app; writing stores plain types.
``SYNTHSPOT_SETTINGS`` points the app at an INI file instead of the user's real
settings, which is how tests and benchmarks keep their hands off them.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QStandardPaths

from engine.model import PROVIDER_CHOICES

SETTINGS_ENV = "SYNTHSPOT_SETTINGS"
ORGANISATION = "SynthSpot"
APPLICATION = "SynthSpot"


@dataclass(frozen=True)
class WatchedFolder:
    path: str
    recursive: bool = False


@dataclass(frozen=True)
class Option:
    key: str
    kind: type
    default: object
    valid: Callable[[Any], bool] | None = None  # None: any value of the kind


OPTIONS = {
    "model_path": Option("model/path", str, ""),  # "" means the embedded default model
    "provider": Option("model/provider", str, "auto", lambda value: value in PROVIDER_CHOICES),
    # "provider:path" of a model being loaded, cleared when its load ends: still there at the next start,
    # the app ended while loading it (a crash in ONNX Runtime), and that model is not loaded again unasked.
    "model_loading": Option("model/loading", str, ""),
    "notifications": Option("watch/notifications", bool, True),
    "watching_paused": Option("watch/paused", bool, False),
    "stable_seconds": Option("watch/stable_seconds", float, 1.5, lambda value: 0 < value <= 600),
    "rescan_seconds": Option("watch/rescan_seconds", float, 60.0, lambda value: 1 <= value <= 86400),
    # When the app last watched (quit time); a time in the future (nan, a clock set wrong) would hide arrivals.
    "watch_last_active": Option("watch/last_active", float, 0.0, lambda value: 0 <= value <= time.time()),
    "bridge_enabled": Option("bridge/enabled", bool, False),
    "bridge_port": Option("bridge/port", int, 0, lambda value: 0 <= value <= 65535),  # 0: the bridge's default
    "window_geometry": Option("window/geometry", bytes, b""),
    "window_splitter": Option("window/splitter", bytes, b""),
    # The results' sort: "column order" (Qt's numbers), "" for the default (newest scanned first).
    "window_sort": Option("window/sort", str, "", lambda value: bool(re.fullmatch(r"[0-4] [01]", value)) or not value),
    "last_folder": Option("dialogs/last_folder", str, ""),  # where the last file dialog was answered
}


def _coerce(value, option: Option):
    if value is None:
        return option.default
    try:
        if option.kind is bool:
            if isinstance(value, str):
                word = value.strip().lower()
                if word in ("1", "true", "yes", "on"):
                    return True
                return False if word in ("0", "false", "no", "off") else option.default
            return bool(value)
        if option.kind is bytes:
            return bytes(value)
        typed = option.kind(value)
    except (TypeError, ValueError):
        return option.default
    return typed if option.valid is None or option.valid(typed) else option.default


class AppSettings:
    """Typed access to the app's QSettings. Attribute names are the keys of ``OPTIONS``."""

    def __init__(self, qsettings: QSettings):
        self._q = qsettings

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> AppSettings:
        path = path or os.environ.get(SETTINGS_ENV)
        if path:
            return cls(QSettings(str(path), QSettings.Format.IniFormat))
        return cls(QSettings(ORGANISATION, APPLICATION))

    @property
    def file_name(self) -> str:
        return self._q.fileName()

    def __getattr__(self, name: str):
        option = OPTIONS.get(name)
        if option is None:
            raise AttributeError(name)
        return _coerce(self._q.value(option.key), option)

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_") or isinstance(getattr(type(self), name, None), property):
            object.__setattr__(self, name, value)
            return
        option = OPTIONS.get(name)
        if option is None:
            raise AttributeError(f"unknown setting {name!r}")
        self._q.setValue(option.key, _coerce(value, option))

    # Lists of records are stored as JSON: QSettings' INI lists do not round-trip nested values.
    @property
    def watched_folders(self) -> list[WatchedFolder]:
        raw = self._q.value("watch/folders", "[]")
        try:
            items = json.loads(raw) if isinstance(raw, str) else []
        except ValueError:
            items = []
        if not isinstance(items, list):  # 5, null, true: valid JSON, not a list of folders
            return []
        return [WatchedFolder(item["path"], item.get("recursive") is True)
                for item in items if isinstance(item, dict) and isinstance(item.get("path"), str) and item["path"]]

    @watched_folders.setter
    def watched_folders(self, folders: list[WatchedFolder]) -> None:
        self._q.setValue("watch/folders", json.dumps([asdict(f) for f in folders]))

    def sync(self) -> None:
        self._q.sync()

    def saved(self) -> bool:
        """Written to disk now; False where the file cannot be written (a folder in its place, a full or
        read-only disk): the changes then last only until the app closes."""
        self._q.sync()
        # Only AccessError means unwritten: a FormatError stays from reading a damaged file that has since
        # been written over whole.
        return self._q.status() != QSettings.Status.AccessError


def dialog_start_folder(last_folder: str) -> str:
    """Where a file dialog opens: the folder used last, else Pictures, else Downloads, else home (never the
    working directory, which for a launcher is / or the install folder)."""
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    for folder in (last_folder, pictures, suggested_watch_folder()):
        if folder and os.path.isdir(folder):
            return folder
    return str(Path.home())


def suggested_watch_folder() -> str:
    """The user's Downloads folder, the usual place for images fetched from the web."""
    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation)
    return found or str(Path.home() / "Downloads")
