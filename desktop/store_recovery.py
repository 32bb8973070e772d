"""The history file cannot be used at start (damaged, not a database, a full or read-only disk, a newer
SynthSpot's): the app says why and offers a way on, instead of a traceback and no window.

Moving a file aside is offered only for the app's own file in its data folder (a path given by
``$SYNTHSPOT_STORE`` may be anything and is never moved); continuing without saving keeps results in a
temporary database that is gone when the app quits, and the window says so for as long as it is open.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from engine.store import Store, StoreError
from engine.store_errors import move_aside

log = logging.getLogger(__name__)

FRESH = "Move it aside and start a new history"
TEMPORARY = "Continue without saving results"
QUIT = "Quit"


def temporary_store() -> Store:
    """A history for this session only, in a temporary folder removed when the app quits (what was scanned,
    paths and page addresses included, does not stay behind)."""
    folder = Path(tempfile.mkdtemp(prefix="synthspot-unsaved-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Store(folder / "results.sqlite3")


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
    lines.append(f"{TEMPORARY}: scan as usual; this session's results are lost when SynthSpot quits.")
    box.setInformativeText("\n".join(lines))
    buttons = [(box.addButton(choice, QMessageBox.ButtonRole.RejectRole if choice == QUIT
                              else QMessageBox.ButtonRole.AcceptRole), choice) for choice in choices]
    box.exec()
    return next((choice for button, choice in buttons if button is box.clickedButton()), QUIT)
