"""A real app process killed with SIGKILL mid-scan resumes on restart: every file scanned once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.store import Store
from tests.desktop.conftest import write_image

FILES = 160
REPO = Path(__file__).resolve().parents[2]


def launch(tmp_path, model, *paths):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SYNTHSPOT_MODEL=str(model),
               SYNTHSPOT_STORE=str(tmp_path / "data" / "results.sqlite3"),
               SYNTHSPOT_SETTINGS=str(tmp_path / "settings.ini"), PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "desktop.app", *map(str, paths)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def snapshot(store_path) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """(sha256 -> scanned_at, pending) read straight from the database file."""
    if not Path(store_path).exists():
        return {}, []
    db = sqlite3.connect(store_path, timeout=30)
    try:
        try:
            scanned = dict(db.execute("SELECT sha256, scanned_at FROM results"))
            pending = list(db.execute("SELECT path, source FROM pending"))
        except sqlite3.OperationalError:  # the app has not created its tables yet
            return {}, []
    finally:
        db.close()
    return scanned, pending


def wait_until(predicate, timeout, process):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        assert process.poll() is None, process.stdout.read().decode(errors="replace")
        time.sleep(0.02)
    return False


def test_sigkill_mid_scan_then_restart_scans_every_remaining_file_exactly_once(tmp_path, slow_model):
    folder = tmp_path / "camera roll"
    folder.mkdir()
    for index in range(FILES):
        write_image(folder / f"IMG_{index:04d}.jpg", 30 + index % 200, size=(256, 192), seed=index, fmt="JPEG")
    store_path = tmp_path / "data" / "results.sqlite3"

    first = launch(tmp_path, slow_model, folder)
    try:
        assert wait_until(lambda: len(snapshot(store_path)[0]) >= 15, 60, first), "the scan never started"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    before_restart, pending = snapshot(store_path)
    assert 0 < len(before_restart) < FILES, "the kill must land mid-scan"
    assert pending, "unfinished files must be remembered in the store"

    second = launch(tmp_path, slow_model)  # no paths: only what the store says is pending
    try:
        assert wait_until(lambda: (lambda s: len(s[0]) == FILES and not s[1])(snapshot(store_path)), 120, second)
        time.sleep(0.5)  # nothing more must happen after the pending list emptied
        second.send_signal(signal.SIGINT)  # a clean quit, as Ctrl+C in a terminal
        assert second.wait(20) == 0
    finally:
        if second.poll() is None:
            second.kill()
    after, pending = snapshot(store_path)
    assert pending == []
    assert len(after) == FILES
    # Results stored before the kill were not scanned again (a rescan would rewrite scanned_at).
    assert {sha: after[sha] for sha in before_restart} == before_restart
    store = Store(store_path)
    history = store.history()
    assert sorted(Path(r.path).name for r in history) == sorted(p.name for p in folder.iterdir())
    assert all(r.ok and r.source == "cli" for r in history)
    db = sqlite3.connect(store_path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def running(tmp_path, model):
    """The app launched, with its store made and its event loop running; and the store's path."""
    app = launch(tmp_path, model)
    ready = tmp_path / "data" / "results.sqlite3"
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # the event loop is running
    return app, ready


def test_sigterm_quits_as_quit_does(tmp_path, model_path):
    """A logout or `kill` sends SIGTERM: the app shuts down properly (exit 0, its hand-off socket removed,
    so the next launch does not find a dead one), where it used to die on the spot."""
    from desktop.single_instance import instance_name

    app, ready = running(tmp_path, model_path)
    sockets = list(Path(tempfile.gettempdir()).glob(instance_name(ready) + "*"))  # where QLocalServer puts it
    app.send_signal(signal.SIGTERM)
    output = app.communicate(timeout=30)[0].decode(errors="replace")
    assert app.returncode == 0, output
    assert sockets and not any(path.exists() for path in sockets)


def test_sigterm_quits_while_folders_are_watched_without_a_tray(tmp_path, model_path):
    """With a watched folder and no tray (stock GNOME), SIGTERM closed the window, whose close asks "Quit
    SynthSpot?": a logout's SIGTERM waited on a question no one would answer, until the SIGKILL."""
    from desktop.settings import AppSettings, WatchedFolder

    watched = tmp_path / "Downloads"
    watched.mkdir()
    settings = AppSettings.open(tmp_path / "settings.ini")
    settings.watched_folders = [WatchedFolder(str(watched))]
    settings.sync()
    app, _store = running(tmp_path, model_path)
    app.send_signal(signal.SIGTERM)
    try:
        output = app.communicate(timeout=30)[0].decode(errors="replace")
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, output
    assert AppSettings.open(tmp_path / "settings.ini").watch_last_active > 0  # quit as Quit does: the moment kept
