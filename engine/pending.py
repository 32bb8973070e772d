"""Pending work: the paths accepted for scanning that have no outcome yet, kept in the store so that a
crash, a quit in the middle of a scan or a model that is not there yet loses none of them.

This class is the one reader and writer of the store's ``pending`` table. A path enters when it is
accepted (a file queued in a scanner, a folder while it is being expanded, anything that arrives
while no model can scan) and leaves when it has its one outcome (a result, an error, or a cancel).
What a closing scanner never got to stays, and :meth:`take` gives it back at the next start.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator

from engine.files import Skipped, expand_paths
from engine.paths import display_path
from engine.result import Result
from engine.store import Store

log = logging.getLogger(__name__)

CHUNK = 256  # files per chunk when a folder is expanded
MAX_STOPS = 2  # a file whose scan was under way when the app stopped this often is not resumed by itself
AUTOMATIC_SOURCES = ("watched",)  # arrivals nobody asked for by hand: a given-up file is not scanned for them
GAVE_UP = ("scanning this file stopped SynthSpot {stops} times, so it is not scanned again by itself "
           "(scan it again to retry)")


class PendingWork:
    def __init__(self, store: Store, on_store_failure: Callable[[Exception], None] | None = None):
        self.store = store
        # The list cannot be written (a full disk): scanning goes on without its crash safety, and this is told.
        self.on_store_failure = on_store_failure
        self.given_up: list[Result] = []  # by the first take(): files that stopped the app too often
        self._stops_counted = False  # once per process: later takes (a model switch) find nothing new

    def paths(self) -> set[str]:
        """Every path waiting for its outcome, as a previous run left them (before :meth:`take`)."""
        return {path for path, _source in self.store.pending()}

    def add(self, items: Iterable[tuple[str, str]]) -> None:
        """Remember (path, source) pairs: files or folders accepted for scanning."""
        items = [(path, source) for path, source in items if path]
        if not items:
            return
        try:
            self.store.add_pending(items)
        except Exception as exc:  # scanned all the same: what a full disk costs is the resume after a crash
            log.warning("could not add %d paths to the pending list: %s", len(items), exc)
            if self.on_store_failure is None:
                raise
            self.on_store_failure(exc)

    def started(self, path: str) -> None:
        """``path``'s scan begins: should the process die before its outcome, the next start counts it."""
        try:
            self.store.mark_started(path)
        except Exception as exc:
            log.warning("could not mark %s as started: %s", display_path(path), exc)

    def done(self, path: str) -> None:
        """``path`` has its outcome. A store that fails here costs a rescan from the cache, not a result."""
        try:
            self.store.remove_pending(path)
        except Exception as exc:
            log.warning("could not clear %s from the pending list: %s", display_path(path), exc)

    def take(self) -> list[tuple[str, list[str]]]:
        """What a previous run left unfinished, grouped by source in the order it was queued; it stays
        pending until each path has its outcome. A file whose scan was under way when the app stopped
        ``MAX_STOPS`` times (one that crashes it) is not among them: it gets an error row instead
        (recorded in the store, and in :attr:`given_up` for the caller to show)."""
        self.given_up = []
        if not self._stops_counted:
            self._stops_counted = True
            for path, source, stops in self.store.count_stops():
                if stops >= MAX_STOPS:
                    result = self._given_up_result(path, source, stops)
                    self.store.record_error(result)
                    self.given_up.append(result)
                    log.warning("%s: %s", display_path(path), result.error)
        by_source: dict[str, list[str]] = {}
        # A given-up file stays listed (so a watcher cannot requeue it) but is not resumed.
        for path, source in self.store.pending(below_stops=MAX_STOPS):
            by_source.setdefault(source, []).append(path)
        return list(by_source.items())

    def screen(self, requests: list) -> dict[str, Result]:
        """Of ``requests`` (ScanRequests), the given-up files a watcher brought back, each with its error row
        (not to be scanned: it would stop the app again). A file the person asks for again by hand
        (dropped, opened, rescanned) gets its tries back instead."""
        paths = [request.path for request in requests if request.path and request.data is None]
        if not paths:
            return {}
        refused = {}
        try:  # a store that fails here costs the guard, never the scan
            stopped = {path: stops for path, stops in self.store.stops(paths).items() if stops >= MAX_STOPS}
            for request in requests:
                if request.path in stopped:
                    if request.source in AUTOMATIC_SOURCES:
                        refused[request.path] = self._given_up_result(request.path, request.source,
                                                                      stopped[request.path])
                    else:
                        self.store.reset_stops(request.path)
        except Exception as exc:
            log.warning("could not check the pending list for files that stopped the app: %s", exc)
        return refused

    def clear_started(self) -> None:
        """A scanner closed cleanly: the scans it left unfinished did not stop the app."""
        try:
            self.store.clear_started()
        except Exception as exc:
            log.warning("could not clear the pending list's started marks: %s", exc)

    @staticmethod
    def _given_up_result(path: str, source: str, stops: int) -> Result:
        return Result(sha256="", source=source, path=path, error=GAVE_UP.format(stops=stops), scanned_at=time.time())

    def expand(self, paths: list[str], source: str,
               cancelled: Callable[[], bool] = lambda: False, interrupted: Callable[[], bool] = lambda: False,
               chunk: int = CHUNK, skipped: Skipped | None = None) -> Iterator[list[str]]:
        """The image files of ``paths`` (folders expanded), in chunks, for the caller to queue. ``paths`` are
        pending from the start, and a folder stays pending until all its files have been yielded (and queued,
        so pending themselves): a crash half-way through a 5,000-file folder loses nothing. Expanding stops
        when ``cancelled()`` turns true (``paths`` are dropped: the person does not want them), or when
        ``interrupted()`` does or the caller stops iterating (they stay pending, for the next start). What
        is passed over lands in ``skipped`` (see ``expand_paths``)."""
        folders = [path for path in paths if os.path.isdir(path)]
        self.add((path, source) for path in paths)
        files: list[str] = []
        for path in expand_paths(paths, skipped=skipped):  # folders whole: pending keeps only (path, source)
            if cancelled() or interrupted():
                break
            files.append(str(path))
            if len(files) >= chunk:
                yield files
                files = []
        else:
            if files:
                yield files
        if interrupted():
            return
        # Files that were yielded leave the list with their outcome; what a cancel left unqueued leaves now.
        for left in paths if cancelled() else folders:
            self.done(left)
