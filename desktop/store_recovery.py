"""The history file cannot be used at start (damaged, not a database, a full or read-only disk, a newer
SynthSpot's): the app says why and offers a way on, instead of a traceback and no window.

Moving a file aside is offered only for the app's own file in its data folder (a path given by
``$SYNTHSPOT_STORE`` may be anything and is never moved); continuing without saving keeps results in a
temporary database that is gone when the app quits, and the window says so for as long as it is open. Where
the history is whole but cannot be written (a read-only folder, a full disk), the temporary database starts as a
copy of it, so the results saved before stay in view.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import sqlite3
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from engine.store import Store, StoreError
from engine.store_errors import SQLITE_HEADER, move_aside

log = logging.getLogger(__name__)

FRESH = "Move it aside and start a new history"
TEMPORARY = "Continue without saving results"
QUIT = "Quit"


def temporary_store(copy_of: Path | None = None) -> Store:
    """A history for this session only, in a temporary folder removed when the app quits (what was scanned,
    paths and page addresses included, does not stay behind); ``copy_of``: starting from that history's
    results (read without writing to it). Raises :class:`StoreError` (or OSError) when it cannot be made."""
    folder = Path(tempfile.mkdtemp(prefix="synthspot-unsaved-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "results.sqlite3"
    if copy_of is not None:
        _copy_history(copy_of, path)
    return Store(path, verify=copy_of is not None)


def _copy_history(source: Path, target: Path) -> None:
    """SQLite's online backup from a read-only connection: a consistent copy, the WAL's results included."""
    uri = source.resolve().as_uri()
    try:
        reader = sqlite3.connect(f"{uri}?mode=ro", uri=True)
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A read-only folder: WAL mode's reader needs a shared-memory file beside the history and cannot make
        # one. A history closed cleanly has no WAL left, so it can be read as an unchanging file; one with a
        # WAL would be read without its newest results, so it is not.
        wal = Path(f"{source}-wal")
        if wal.exists() and wal.stat().st_size:
            raise
        reader = sqlite3.connect(f"{uri}?immutable=1", uri=True)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    finally:
        reader.close()


def readable_history(error: StoreError) -> bool:
    """Whether the history that failed may still be read: SynthSpot's SQLite file, neither damaged nor another
    program's nor a newer SynthSpot's (each a kind of its own)."""
    if error.kind != StoreError.OTHER:
        return False
    try:
        with open(error.path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def open_store(path: Path, ours: bool, ask=None) -> tuple[Store | None, str]:
    """(the store to use, "" or why results are not saved this session); (None, "") when the person quits.
    ``ask(error, choices)`` returns the choice taken (a dialog unless given)."""
    ask = ask or ask_in_dialog
    try:
        # Checked whole (SQLite's quick check: 0.1-0.3 s for a 20,000-result history of 174 MB): a history
        # damaged inside opened, and the window then said at every start that it could not be read, offering
        # nothing but to move the file by hand.
        return Store(path, verify=True), ""
    except StoreError as error:
        log.warning("the results store cannot be used: %s", error)
        failure = error
    movable = ours and failure.kind in (StoreError.DAMAGED, StoreError.NOT_SQLITE)
    keep_shown = readable_history(failure)
    choice = ask(failure, [FRESH, TEMPORARY, QUIT] if movable else [TEMPORARY, QUIT])
    unsaved = failure.reason
    if choice == FRESH:
        try:
            moved = move_aside(path)
            return Store(path), ""
        except OSError as exc:  # the folder itself is the trouble (read-only, full): say so, go on unsaved
            log.warning("the damaged store cannot be moved aside: %s", exc)
            unsaved = f"{failure.reason}; moving it aside failed: {exc}"
        except StoreError as again:
            log.warning("a new store cannot be made either: %s", again)
            unsaved = f"the old history was moved to {moved.name}, and a new one cannot be made: {again.reason}"
    elif choice != TEMPORARY:
        return None, ""
    if keep_shown:
        try:
            return temporary_store(copy_of=path), f"{unsaved}; the results saved before are shown from a copy"
        except (StoreError, OSError, sqlite3.Error) as exc:  # unreadable after all: an empty history, said why
            log.warning("the history cannot be copied either: %s", exc)
            unsaved = f"{unsaved}; the results saved before cannot be read either ({exc})"
    try:
        return temporary_store(), unsaved
    except (StoreError, OSError) as exc:  # not even a temporary file can be made: nothing to scan into
        log.error("not even a temporary history can be made: %s", exc)
        QMessageBox.critical(None, "SynthSpot cannot start",
                             f"SynthSpot cannot keep a history, not even a temporary one: {exc}.\n\n"
                             "Free some disk space, then start it again.")
        return None, ""


def ask_in_dialog(error: StoreError, choices: list[str]) -> str:
    box = QMessageBox(QMessageBox.Icon.Warning, "SynthSpot's history cannot be opened",
                      f"SynthSpot keeps every result in a history file, and it cannot use it: {error.reason}.")
    lines = []
    if FRESH in choices:
        lines.append(f"{FRESH}: the file is renamed (nothing is deleted) and an empty history starts.")
    kept = " with the results saved so far in view" if readable_history(error) else ""
    lines.append(f"{TEMPORARY}: scan as usual{kept}; this session's results are lost when SynthSpot quits.")
    box.setInformativeText("\n".join(lines))
    buttons = [(box.addButton(choice, QMessageBox.ButtonRole.RejectRole if choice == QUIT
                              else QMessageBox.ButtonRole.AcceptRole), choice) for choice in choices]
    box.exec()
    return next((choice for button, choice in buttons if button is box.clickedButton()), QUIT)
