"""A results store that cannot be used, said once in words, and a damaged one moved aside on request."""

from __future__ import annotations

import sqlite3
import stat
import time
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(RuntimeError):
    """The store cannot be opened or is damaged. ``kind`` says what is wrong where it decides what may be
    done: ``DAMAGED``, a SQLite database that can be moved aside (:func:`move_aside`) and started afresh;
    ``NOT_SQLITE``, a file that is no database at all (moved aside only where the path is the app's own,
    never a ``--store`` someone typed); ``FOREIGN``, another program's SQLite database; ``NEWER``, a newer
    SynthSpot's history; otherwise ``OTHER`` (SynthSpot's own file, unusable here: read-only, a full disk)."""

    DAMAGED, NOT_SQLITE, FOREIGN, NEWER, OTHER = "damaged", "not-sqlite", "foreign", "newer", "other"

    def __init__(self, message: str, path: Path, kind: str = OTHER, cli_hint: str = ""):
        super().__init__(f"{message}; {cli_hint}" if cli_hint else message)
        self.reason = message  # without the command line's advice, for the app's words
        self.path = path
        self.kind = kind

    @property
    def corrupt(self) -> bool:
        return self.kind == self.DAMAGED


def refuse_unusable_path(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"the results store {path} is a folder, not a database file", path)
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        # /dev/null as --store was chmodded to 0600 (for every other user of it) and given a journal beside it.
        raise StoreError(f"the results store {path} is a device or a pipe, not a database file", path,
                         cli_hint="choose another --store path")
    if path.exists() and path.stat().st_size and _head(path) != SQLITE_HEADER:
        raise StoreError(f"{path} is not a SynthSpot results database (not a SQLite file)", path,
                         StoreError.NOT_SQLITE, cli_hint="choose another --store path")
    if path.exists() and path.stat().st_size and _foreign_tables(path):
        # Another program's SQLite file (a mistyped --store): never given SynthSpot's tables, nor chmodded.
        raise StoreError(f"{path} is another program's SQLite database (it has tables of its own and none of "
                         "SynthSpot's)", path, StoreError.FOREIGN, cli_hint="choose another --store path")


def _foreign_tables(path: Path) -> bool:
    """Whether the SQLite file holds tables and none of them is the store's ``results`` (a table of that name
    without the store's key columns is another program's too: it was chmodded and switched to WAL before the
    migration failed); read-only."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
        finally:
            db.close()
    except sqlite3.Error:
        return False  # damaged or unreadable: opening it says so, as before
    return bool(tables) and not {"sha256", "model_id"} <= columns


def says_damaged(text: str) -> bool:
    """SQLite's words for a database file damaged inside."""
    return "malformed" in text or "not a database" in text or "corrupt" in text


def explain(path: Path, exc: Exception) -> StoreError:
    """An sqlite3 or OS error while opening or checking the store, as one clear StoreError."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and says_damaged(text):
        return StoreError(f"the results store {path} is damaged ({text})", path, StoreError.DAMAGED)
    if isinstance(exc, PermissionError) or "unable to open" in text or "readonly" in text:
        return StoreError(f"the results store {path} cannot be opened for writing ({text})", path)
    return StoreError(f"the results store {path} cannot be used ({text})", path)


def quick_check(db: sqlite3.Connection, path: Path) -> None:
    """SQLite's own page-level check; a damaged page would otherwise fail every scan, one by one."""
    problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise StoreError(f"the results store {path} is damaged ({'; '.join(problems)[:200]})", path, StoreError.DAMAGED)


def move_aside(path: Path) -> Path:
    """Rename a damaged store (and its WAL and shared-memory files) so a fresh one can start; nothing is deleted."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(path) + suffix)
        if source.exists():
            source.rename(str(target) + suffix)
    return target


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER))
    except OSError:
        return b""
