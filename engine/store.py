"""The results store: a SQLite cache keyed by (sha256, model) that is also the scan history.

WAL mode lets the desktop app, the CLI and the bridge share one file; each
thread gets its own connection. Files queued but not yet scanned are kept in
``pending`` so a crash loses nothing.

The file carries its schema version in ``PRAGMA user_version``. Opening a store
brings it to :data:`SCHEMA_VERSION` in one write transaction: the baseline
tables (version 1, the schema that shipped before versions were recorded),
then each step of :data:`MIGRATIONS` in turn. A new file takes the same path,
so a new store and a migrated one are the same. A store from a newer SynthSpot
is refused, never written.

``results.data`` is the whole :class:`Result` as JSON (crop scores and the
heatmap included); ``results.summary`` is the same without them, what the
history list shows. :meth:`Store.history` reads summaries; :meth:`Store.details`
reads the rest of one result when it is shown.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path

import platformdirs

from engine.paths import is_text
from engine.result import SCORING_REVISION, Result
from engine.store_errors import StoreError, explain, quick_check, refuse_unusable_path

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "default_store_path"]

APP_NAME = "SynthSpot"
# Version 1: the tables as they were before the store recorded a version (every store made then has
# them, or the older ones among them: hence IF NOT EXISTS). Never edit it: change the schema with a migration.
BASELINE = """
CREATE TABLE IF NOT EXISTS results (
    sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    verdict TEXT NOT NULL,
    probability REAL,
    scanned_at REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (sha256, model_id)
);
CREATE INDEX IF NOT EXISTS results_scanned_at ON results (scanned_at);
CREATE TABLE IF NOT EXISTS sightings (
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (sha256, path, source)
);
CREATE TABLE IF NOT EXISTS pending (
    path TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    queued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS errors (
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (path, sha256)
);
CREATE INDEX IF NOT EXISTS errors_scanned_at ON errors (scanned_at);
CREATE TABLE IF NOT EXISTS claims (
    sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (sha256, model_id)
);
"""

# The history's rows: each image at each place it was seen (a sighting, or the path a result was stored
# with: stores from before sightings have only that), at the newest time there, and only while it is the
# newest thing seen at that path (a file since replaced by other bytes shows those); bytes that came
# without a file (path '') are each their own row. Small columns only:
# the summaries are read for the rows a LIMIT keeps (grouping rows that carried them took 2.3 s on a
# 100,000-result history). {results} narrows to one model's results.
_PLACES = """
WITH places AS MATERIALIZED (
    SELECT sha256, path, source, MAX(at) AS shown FROM (
        SELECT sha256, path, source, seen_at AS at FROM sightings
        UNION ALL SELECT sha256, path, source, scanned_at FROM results WHERE 1 {results})
    GROUP BY sha256, path),
newest AS MATERIALIZED (SELECT path, MAX(shown) AS shown FROM places WHERE path != '' GROUP BY path)
SELECT 'result' AS kind, p.sha256, p.path, p.source, p.shown FROM places p
LEFT JOIN newest n ON n.path = p.path
WHERE (p.path = '' OR n.shown = p.shown) AND EXISTS (SELECT 1 FROM results r WHERE r.sha256 = p.sha256 {results})"""

# A row's stored text: the newest result for its image (of the model asked for), or its failed scan.
_ROW_TEXT = """
CASE h.kind WHEN 'result' THEN (SELECT summary FROM results r WHERE r.sha256 = h.sha256 {results}
                                ORDER BY r.scanned_at DESC LIMIT 1)
            ELSE (SELECT data FROM errors e WHERE e.path = h.path AND e.sha256 = h.sha256) END"""

# What the history list leaves out of a result: per-crop scores and the heatmap (a heatmap alone is
# tens of thousands of numbers for a large photo; 20,000 of them made the history hundreds of MB).
DETAIL_FIELDS = ("crops", "artifact_map")


def summary_of(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key not in DETAIL_FIELDS}


def _add_summaries(db: sqlite3.Connection) -> None:
    """Version 2: ``results.summary``, filled in from each stored result, once. SQLite's JSON functions do
    it (20,000 results with 48x64 heatmaps: about 2 s on 2 busy cores, against 5 s parsing them in Python);
    Python does what they cannot: a blob with a NaN (not JSON to SQLite), or all of them in an SQLite
    built without JSON functions."""
    db.execute("ALTER TABLE results ADD COLUMN summary TEXT NOT NULL DEFAULT '{}'")
    paths = ", ".join(f"'$.{name}'" for name in DETAIL_FIELDS)
    fill = f"UPDATE results SET summary = json_remove(data, {paths})"
    left = "SELECT rowid, data FROM results"
    try:
        try:
            db.execute(fill)
            return
        except sqlite3.OperationalError:  # one blob is not JSON to SQLite: the same, checking each (slower)
            db.execute(fill + " WHERE json_valid(data)")
            left += " WHERE NOT json_valid(data)"
    except sqlite3.OperationalError:  # no JSON functions in this SQLite
        pass
    for rowid, data in db.execute(left).fetchall():
        db.execute("UPDATE results SET summary=? WHERE rowid=?", (json.dumps(summary_of(json.loads(data))), rowid))


def _add_pending_starts(db: sqlite3.Connection) -> None:
    """Version 3: when a pending file's scan started (cleared by its outcome), and how many times the app
    stopped while it was being scanned: a file that crashes the app is not resumed for ever."""
    db.execute("ALTER TABLE pending ADD COLUMN started_at REAL")
    db.execute("ALTER TABLE pending ADD COLUMN stops INTEGER NOT NULL DEFAULT 0")


def _index_paths(db: sqlite3.Connection) -> None:
    """Version 4: deleting a row from the history looks its path up in ``results`` and ``sightings`` and its
    bytes up in ``errors``, none of them indexed that way: each deletion scanned the tables (about 110 ms a
    row in a store of 100,000, so 1,000 rows froze the window for two minutes)."""
    db.execute("CREATE INDEX IF NOT EXISTS results_path ON results (path)")
    db.execute("CREATE INDEX IF NOT EXISTS sightings_path ON sightings (path)")
    db.execute("CREATE INDEX IF NOT EXISTS errors_sha256 ON errors (sha256)")


# MIGRATIONS[n] takes a store from version n - 1 to n.
MIGRATIONS = {2: _add_summaries, 3: _add_pending_starts, 4: _index_paths}
SCHEMA_VERSION = max(MIGRATIONS)


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


STORE_ENV = "SYNTHSPOT_STORE"


def default_store_path() -> Path:
    """$SYNTHSPOT_STORE when set (tests, portable installs), else the user's data folder."""
    return Path(os.environ.get(STORE_ENV) or default_data_dir() / "results.sqlite3")


class Store:
    def __init__(self, path: str | Path | None = None, verify: bool = False):
        """``verify`` runs SQLite's quick check (a read of every page) so a damaged store is refused once,
        up front, instead of failing every scan; the CLI asks for it. Raises :class:`StoreError`."""
        self.path = Path(path) if path else default_store_path()
        self._local = threading.local()
        try:
            refuse_unusable_path(self.path)  # before anything below chmods or opens what the path names
            # The history holds file paths and page URLs: user-only (SQLite gives -wal/-shm the file's mode).
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            else:
                try:
                    os.chmod(self.path, 0o600)  # a store made by an older version was 0644
                except OSError:
                    pass  # not ours to change (a shared or read-only folder)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            try:
                _enable_wal(db)
                migrate(db, self.path)
                if verify:
                    quick_check(db, self.path)
            finally:
                db.close()
        except (sqlite3.Error, OSError) as exc:
            raise explain(self.path, exc) from None

    def _connect(self, write: bool = False) -> _Transaction:
        db = getattr(self._local, "db", None)
        if db is None:
            # WAL is a property of the file, set once in __init__; each connection only needs these.
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return _Transaction(db, write)

    # --- results --------------------------------------------------------------

    def get(self, sha256: str, model_id: str, fingerprint: str = "") -> Result | None:
        """The cached result of this model for these bytes; None when there is none, when the engine
        has since changed how it scores (``SCORING_REVISION``), or when ``fingerprint`` (the model's
        ``verdict_fingerprint``) is not the one it was scored with (the same name and version, calibrated
        again): the caller scans again and replaces it."""
        with self._connect() as db:
            row = db.execute("SELECT data FROM results WHERE sha256=? AND model_id=?", (sha256, model_id)).fetchone()
        result = Result.from_dict(json.loads(row[0])) if row else None
        if result is None or (fingerprint and result.model_fingerprint not in ("", fingerprint)):
            return None
        # A newer revision (after a downgrade) is served as it is: rescanning back and forth between
        # versions would be worse than a verdict by slightly newer rules.
        return result if result.scoring_revision >= SCORING_REVISION else None

    def put(self, result: Result, model_id: str) -> None:
        """Store a scan. A failed one goes to the history only, never to the cache (a file being written
        may read fine later); a success clears the failures recorded for its path."""
        if not result.ok:
            self.record_error(result)
            return
        payload = result.to_dict()
        payload["cached"] = False
        payload["path"] = absolute(result.path)
        with self._connect(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO results (sha256, model_id, path, source, verdict, probability, scanned_at,"
                " data, summary) VALUES (?,?,?,?,?,?,?,?,?)",
                (result.sha256, model_id, db_path(result.path), result.source, result.verdict, result.probability,
                 result.scanned_at, json.dumps(payload), json.dumps(summary_of(payload))),
            )
            self._record_sighting(db, result)

    def record_sighting(self, result: Result) -> None:
        with self._connect(write=True) as db:
            self._record_sighting(db, result)

    @staticmethod
    def _record_sighting(db, result: Result) -> None:
        if result.ok and result.path:  # the file reads fine now: its earlier failures are history no more
            db.execute("DELETE FROM errors WHERE path=?", (db_path(result.path),))
        db.execute("INSERT OR REPLACE INTO sightings (sha256, path, source, seen_at) VALUES (?,?,?,?)",
                   (result.sha256, db_path(result.path), result.source, time.time()))

    def newest_at(self, path: str) -> str:
        """The sha256 of the bytes seen last at this path (scanned, or failing to scan; whatever the source or
        model), "" when nothing was: older bytes put back where these had replaced them are news again."""
        stored = db_path(path)
        with self._connect() as db:
            # Results too: a store from before sightings has only the path each result was stored with.
            row = db.execute("SELECT sha256 FROM (SELECT sha256, seen_at AS at FROM sightings WHERE path=? "
                             "UNION ALL SELECT sha256, scanned_at FROM results WHERE path=? "
                             "UNION ALL SELECT sha256, scanned_at FROM errors WHERE path=?) ORDER BY at DESC LIMIT 1",
                             (stored, stored, stored)).fetchone()
        return row[0] if row else ""

    def record_error(self, result: Result) -> None:
        """Keep a failed scan in the history, so an error row outlives a restart."""
        payload = result.to_dict()
        payload["cached"] = False
        payload["path"] = absolute(result.path)
        with self._connect(write=True) as db:
            db.execute("INSERT OR REPLACE INTO errors (path, sha256, source, scanned_at, data) VALUES (?,?,?,?,?)",
                       (db_path(result.path), result.sha256, result.source, result.scanned_at, json.dumps(payload)))

    def history(self, limit: int | None = None, model_id: str | None = None) -> list[Result]:
        """Stored results as summaries (no crop scores, no heatmap: :meth:`details` has them), one per place
        the image was seen (the same photo in two folders is two rows, as when it was scanned: the copy's
        scan was the cache's answer, kept as a sighting), newest first; failed scans too, unless one
        model's results are asked for."""
        rows_query, args = self._history_rows(model_id)
        query = f"SELECT {_ROW_TEXT.format(results=self._model_filter(model_id))}, h.path, h.source FROM ({rows_query}"
        query += " ORDER BY 5 DESC" + (" LIMIT ?" if limit else "") + ") h ORDER BY h.shown DESC"
        args = ([model_id] if model_id else []) + args + ([limit] if limit else [])  # in the order they appear
        with self._connect() as db:
            rows = db.execute(query, args).fetchall()
        results = []
        for text, path, source in rows:
            if text is None:
                continue  # deleted between the two reads of one statement: not possible, but never a crash
            result = Result.from_dict(json.loads(text))
            if result.ok and db_path(result.path) != path:  # a copy elsewhere: the cache answered it there
                result.path, result.source = path_from_db(path), source
                result.page_url = result.image_url = ""
                result.cached = True
            results.append(result)
        return results

    @staticmethod
    def _model_filter(model_id: str | None) -> str:
        return "AND model_id=?" if model_id else ""

    def _history_rows(self, model_id: str | None) -> tuple[str, list]:
        """The history's rows as (kind, sha256, path, source, shown), and the query's arguments."""
        places = _PLACES.format(results=self._model_filter(model_id))
        if model_id:
            return places, [model_id, model_id]
        return places + " UNION ALL SELECT 'error', sha256, path, source, scanned_at FROM errors", []

    def details(self, result: Result) -> Result:
        """The whole stored result that a summary from :meth:`history` stands for (crop scores, heatmap);
        ``result`` itself when the store no longer holds it (deleted meanwhile) or it is a failed scan."""
        if not result.ok:
            return result  # a failed scan is stored whole: it has no crops and no heatmap
        model_id = f"{result.model_name}@{result.model_version}"  # as ModelMetadata.model_id
        with self._connect() as db:
            row = db.execute("SELECT data FROM results WHERE sha256=? AND model_id=?",
                             (result.sha256, model_id)).fetchone()
        if not row:
            return result
        whole = Result.from_dict(json.loads(row[0]))
        # A copy's row stays the copy's: where it was, how it came, that the cache answered it.
        whole.path, whole.source, whole.cached = result.path, result.source, result.cached
        whole.page_url, whole.image_url = result.page_url, result.image_url
        return whole

    def find(self, sha256: str) -> Result | None:
        """The newest result for these bytes, whichever model made it."""
        with self._connect() as db:
            row = db.execute("SELECT data FROM results WHERE sha256=? ORDER BY scanned_at DESC LIMIT 1",
                             (sha256,)).fetchone()
        return Result.from_dict(json.loads(row[0])) if row else None

    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def history_count(self) -> int:
        """How many rows :meth:`history` would give without a limit (results and failed scans)."""
        with self._connect() as db:
            rows_query, args = self._history_rows(None)
            return db.execute(f"SELECT COUNT(*) FROM ({rows_query})", args).fetchone()[0]

    def stored_at(self, paths: list[str]) -> set[str]:
        """The sha256 of every result stored at these paths (what :meth:`delete_history` forgets with them)."""
        found: set[str] = set()
        with self._connect() as db:
            for path in paths:
                found |= _results_at(db, db_path(path))
        return found

    def delete_history(self, items: list[tuple[str, str]]) -> set[str]:
        """Delete history rows for good, one (path, sha256) each: everything stored about those bytes, and
        whatever else was stored at that path (an older version of the file would otherwise come back as
        the row at the next start). Returns the sha256 of every image forgotten."""
        forgotten: set[str] = set()
        with self._connect(write=True) as db:
            for path, sha256 in items:
                if sha256:
                    forgotten.add(sha256)
                    for table in ("results", "sightings", "errors"):
                        db.execute(f"DELETE FROM {table} WHERE sha256=?", (sha256,))
                if path:
                    stored = db_path(path)
                    forgotten |= _results_at(db, stored)
                    for table in ("results", "sightings", "errors"):
                        db.execute(f"DELETE FROM {table} WHERE path=?", (stored,))
        return forgotten

    def clear_history(self) -> None:
        """Every result, sighting and failed scan; work still pending stays (it has not been scanned)."""
        with self._connect(write=True) as db:
            for table in ("results", "sightings", "errors"):
                db.execute(f"DELETE FROM {table}")

    # --- pending work ---------------------------------------------------------

    def add_pending(self, items: list[tuple[str, str]]) -> None:
        """Remember (path, source) pairs queued for scanning, in one transaction."""
        now = time.time()
        with self._connect(write=True) as db:
            db.executemany("INSERT OR IGNORE INTO pending (path, source, queued_at) VALUES (?,?,?)",
                           [(db_path(p), s, now) for p, s in items])

    def remove_pending(self, path: str) -> None:
        with self._connect(write=True) as db:
            db.execute("DELETE FROM pending WHERE path=?", (db_path(path),))

    def pending(self, below_stops: int | None = None) -> list[tuple[str, str]]:
        """(path, source) in the order queued; with ``below_stops``, only files that stopped a process fewer times."""
        query, args = "SELECT path, source FROM pending", []
        if below_stops is not None:
            query, args = query + " WHERE stops < ?", [below_stops]
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY queued_at, rowid", args).fetchall()
        return [(path_from_db(p), s) for p, s in rows]

    def mark_started(self, path: str) -> None:
        """A pending file's scan begins (decoding and the model): if the process dies before its outcome, the
        next :meth:`count_stops` counts it."""
        with self._connect(write=True) as db:
            db.execute("UPDATE pending SET started_at=? WHERE path=?", (time.time(), db_path(path)))

    def count_started(self) -> int:
        """Pending files whose scan is under way (or was, when a process died)."""
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM pending WHERE started_at IS NOT NULL").fetchone()[0]

    def clear_started(self) -> None:
        """A scanner closed cleanly (a quit, a model switch): the scans it left unfinished did not stop it."""
        with self._connect(write=True) as db:
            db.execute("UPDATE pending SET started_at = NULL WHERE started_at IS NOT NULL")

    def count_stops(self) -> list[tuple[str, str, int]]:
        """At a start, before resuming: every pending file whose scan had started when the last process
        died gets one more stop. (path, source, stops) of those files."""
        with self._connect(write=True) as db:
            rows = db.execute("SELECT path, source, stops + 1 FROM pending WHERE started_at IS NOT NULL").fetchall()
            db.execute("UPDATE pending SET stops = stops + 1, started_at = NULL WHERE started_at IS NOT NULL")
        return [(path_from_db(p), s, n) for p, s, n in rows]

    def stops(self, paths: list[str]) -> dict[str, int]:
        """How often each of ``paths`` (those pending and stopped in at least once) stopped a process."""
        found: dict[str, int] = {}
        with self._connect() as db:
            for start in range(0, len(paths), 500):
                chunk = [db_path(p) for p in paths[start:start + 500]]
                marks = ",".join("?" * len(chunk))
                for path, stops in db.execute(f"SELECT path, stops FROM pending WHERE stops > 0 AND path IN ({marks})",
                                              chunk):
                    found[path_from_db(path)] = stops
        return found

    def reset_stops(self, path: str) -> None:
        """The person asked for this file again: it gets its tries back."""
        with self._connect(write=True) as db:
            db.execute("UPDATE pending SET stops = 0 WHERE path=?", (db_path(path),))

    # --- work claimed by a scanner (several processes share one store) --------

    def claim(self, sha256: str, model_id: str, owner: str) -> bool:
        """Take the right to scan these bytes with this model. False while another live scanner holds it;
        a claim whose process has died (same machine) or that is older than CLAIM_STALE_S is taken over."""
        now = time.time()
        with self._connect(write=True) as db:
            row = db.execute("SELECT owner, claimed_at FROM claims WHERE sha256=? AND model_id=?",
                             (sha256, model_id)).fetchone()
            if row and row[0] != owner and now - row[1] < CLAIM_STALE_S and claim_owner_alive(row[0]):
                return False
            db.execute("INSERT OR REPLACE INTO claims (sha256, model_id, owner, claimed_at) VALUES (?,?,?,?)",
                       (sha256, model_id, owner, now))
            return True

    def claim_holder(self, sha256: str, model_id: str) -> str | None:
        """Who holds the claim on these bytes (``host:pid:token``), or None."""
        with self._connect() as db:
            row = db.execute("SELECT owner FROM claims WHERE sha256=? AND model_id=?", (sha256, model_id)).fetchone()
        return row[0] if row else None

    def release_claim(self, sha256: str, model_id: str, owner: str) -> None:
        with self._connect(write=True) as db:
            db.execute("DELETE FROM claims WHERE sha256=? AND model_id=? AND owner=?", (sha256, model_id, owner))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


# A live scanner finishes an image in seconds; one silent this long (a machine that slept, another host) is gone.
CLAIM_STALE_S = 600.0


def claim_owner(token: str) -> str:
    """``host:pid:token``: enough to tell whether the claiming process still lives on this machine."""
    return f"{socket.gethostname()}:{os.getpid()}:{token}"


def claim_owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or os.name == "nt":
        return True  # another machine (or Windows, where os.kill(pid, 0) would end the process): only age tells
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def absolute(path: str) -> str:
    """The history is shared by the app and the CLI, run from any folder: a relative path there names
    nothing. "" stays "" (bytes that came without a file)."""
    return os.path.abspath(path) if path else path


def db_path(path: str) -> str | bytes:
    """A path as SQLite can keep it without loss, made absolute: text when it is valid Unicode, else its
    raw bytes (a BLOB; a file name on Linux is bytes, and SQLite refuses the surrogates Python decodes them to)."""
    path = absolute(path)
    return path if is_text(path) else os.fsencode(path)


def path_from_db(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the store to SCHEMA_VERSION, in one write transaction: a process that opens the store at the
    same moment waits, then finds it done. A store written by a newer SynthSpot is refused untouched."""
    if _schema_version(db, path) == SCHEMA_VERSION:
        return  # the usual case: no write lock taken
    db.execute("BEGIN IMMEDIATE")
    try:
        version = _schema_version(db, path)  # again: another process may have migrated it meanwhile
        if version < SCHEMA_VERSION:
            if version == 0:  # new, or from before versions were recorded: both start from version 1
                for statement in BASELINE.split(";"):
                    if statement.strip():
                        db.execute(statement)
                version = 1
            for step in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[step](db)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _schema_version(db: sqlite3.Connection, path: Path) -> int:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"the results store {path} was written by a newer SynthSpot (store version {version}; "
                         f"this one reads up to {SCHEMA_VERSION})", path,
                         StoreError.NEWER, cli_hint="use that version, or another --store")
    return version


def _enable_wal(db: sqlite3.Connection, attempts: int = 100) -> None:
    """Switch the file to WAL. The switch needs a moment alone with the file and SQLite does not wait
    for it with the busy handler, so retry while another process holds it."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


class _Transaction:
    """Writers take the lock up front (BEGIN IMMEDIATE) so concurrent writers wait instead of failing."""

    def __init__(self, db: sqlite3.Connection, write: bool):
        self.db = db
        self.write = write

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def _results_at(db: sqlite3.Connection, stored_path: str | bytes) -> set[str]:
    """The sha256 of every result stored at this path (as the store writes paths: ``db_path``)."""
    return {row[0] for row in db.execute("SELECT sha256 FROM results WHERE path=?", (stored_path,))}
