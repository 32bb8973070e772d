"""The scan service: the one place the app talks to ``engine.Scanner``.

Model loading, folder expansion and reading the history run on the service's
``Workers`` pool, off the GUI thread. Scanner callbacks only append to locked
buffers; a GUI-thread timer drains them while work is in flight and emits
batched signals, so 5,000 results arrive as a few hundred signals instead of
5,000 cross-thread events.

Work that arrives while no model can scan (it is loading, being switched, or
missing) waits in the pending list (``engine.pending.PendingWork``, the one
owner of it); when a model is ready the pending list is resumed, which is also
how a crashed or quit run's leftovers come back: one resume path.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop.workers import Workers
from engine.model import Detector, ModelLoadError
from engine.models import NoModelError, resolve_model
from engine.pending import AUTOMATIC_SOURCES, PendingWork
from engine.result import Result
from engine.scanner import Scanner, ScanJob, ScanRequest
from engine.store import Store

log = logging.getLogger(__name__)

LOADING = "loading"
READY = "ready"
NO_MODEL = "no_model"
FAILED = "failed"

NO_MODEL_MESSAGE = "No detector model installed — choose a model file…"
DRAIN_INTERVAL_MS = 40
HISTORY_LIMIT = 20000


def inference_threads() -> int:
    """Leave one core to the window: a saturated machine shows up as a stuttering UI."""
    return max(1, (os.cpu_count() or 2) - 1)


def preparation_workers() -> int:
    return max(1, min(2, (os.cpu_count() or 2) - 1))


@dataclass(frozen=True)
class ModelState:
    state: str
    message: str = ""
    detector: Detector | None = None
    scanner: Scanner | None = None

    @property
    def ready(self) -> bool:
        return self.state == READY


class ScanService(QObject):
    modelStateChanged = Signal(object)  # ModelState
    rowsQueued = Signal(list)  # [(path, source)] about to be scanned
    resultsReady = Signal(list)  # [Result]
    progressChanged = Signal(int, int)  # done, total for the current run of work
    scanFinished = Signal(bool)  # True when the run was cancelled
    nothingFound = Signal(object)  # [path] given to scan, in which no file was found (not Signal(list): see
    # single_instance.InstanceServer)
    foldersUnreadable = Signal(list)  # [(folder, why)] inside what was given, that could not be opened
    historyLoaded = Signal(list)  # [Result], newest first
    historyLimited = Signal(int, int)  # rows shown, rows stored: the history holds more than the list shows
    historyCounted = Signal(int)  # rows stored, counted again (after a deletion)
    historyReading = Signal()  # the history is being read: the empty list is not "nothing scanned yet"
    historyFailed = Signal(str)  # the history could not be read (why, in words): the list starts empty
    storeFailed = Signal(str)  # results or the pending list could not be written (a full disk): why, in words
    modelRejected = Signal(str)  # a model asked for could not be loaded; the one in use stays (why, in words)
    leftoversResumed = Signal(int, bool)  # files (and folders, True) a previous run left unscanned, now resumed

    _modelLoaded = Signal(object, int)  # ModelState, load generation
    _historyRead = Signal(list)
    _replacedScannerClosed = Signal()
    _requeue = Signal(list)  # [ScanRequest] a closing scanner did not take

    def __init__(self, store: Store, workers: int | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        # Lent to each scanner: files stay there until they have their outcome.
        self.pending = PendingWork(store, on_store_failure=self._store_failed)
        # What a previous run left (quit or killed mid-scan), said once when it resumes: a scan that starts by
        # itself, unannounced, looks like a fault. A store that cannot say costs the message, not the resume.
        try:
            self._leftovers = self.pending.paths()
        except Exception as exc:
            log.warning("could not read the pending list: %s", exc)
            self._leftovers = set()
        self._store_failed_at = -math.inf
        self.workers = workers or preparation_workers()
        self.model_state = ModelState(LOADING, "loading the detector model…")
        self._scanner: Scanner | None = None
        self._working = self.model_state  # the state of the model in use (READY once one has loaded)
        self._tasks = Workers(name="synthspot-service")
        self._lock = threading.Lock()
        self._results: list[Result] = []
        self._queued_rows: list[tuple[str, str]] = []
        # Files queued in this run and not yet answered: the same folder pasted twice (Ctrl+V held down) or
        # dropped again mid-scan queues each file once. Forgotten at a cancel and a model switch, whose
        # unanswered files are queued again.
        self._waiting: set[str] = set()
        # Every job of the current run of work. Progress is read from their own counts: each request ends
        # in exactly one outcome (result, error or unscanned), so a count that cannot reach its total means a bug
        # in one place (the scanner), never a signal missed here.
        self._jobs: list[ScanJob] = []
        self._replaced_jobs: set[ScanJob] = set()  # jobs of a scanner a model switch closed
        self._switching = False  # a replaced scanner is closing; new work waits for it
        self._expanding = 0  # submissions on their way into the scanner (a folder expanding, a watched batch)
        self._in_transit: dict[object, list[ScanRequest]] = {}  # watched batches given to the pool, not yet pending
        self._cancelled = False
        self._generation = 0
        self._load_generation = 0
        self._drain_timer = QTimer(self)
        self._drain_timer.setInterval(DRAIN_INTERVAL_MS)
        self._drain_timer.timeout.connect(self._drain)
        self._modelLoaded.connect(self._on_model_loaded)
        self._replacedScannerClosed.connect(self._on_replaced_scanner_closed)
        self._requeue.connect(self.submit_requests)
        self._historyRead.connect(self.historyLoaded)

    # --- the model --------------------------------------------------------------

    @property
    def scanner(self) -> Scanner | None:
        return self._scanner

    @property
    def detector(self) -> Detector | None:
        return self.model_state.detector

    def load_model(self, path: str = "", provider: str = "auto") -> None:
        """Load a model in the background; ``path`` "" means the embedded default."""
        self._load_generation += 1
        generation = self._load_generation
        self._set_state(ModelState(LOADING, "loading the detector model…"))
        self._tasks.run(self._load_model, path, provider, generation)

    def _load_model(self, path: str, provider: str, generation: int) -> None:  # a worker thread
        try:
            # A saved CUDA choice on a machine without it (settings from another machine, a driver gone) scans
            # on the CPU, said beside the model's name, rather than not at all.
            model_path = resolve_model(path, "auto" if provider == "cuda" else provider)
            detector = Detector(model_path, provider=provider, threads=inference_threads(), cpu_if_unavailable=True)
        except NoModelError:  # before ModelLoadError, which it is: no model is its own state
            self._modelLoaded.emit(ModelState(NO_MODEL, NO_MODEL_MESSAGE), generation)
            return
        except ModelLoadError as exc:
            self._modelLoaded.emit(ModelState(FAILED, f"The model could not be loaded: {exc}"), generation)
            return
        except Exception as exc:  # an unexpected failure must still reach the banner
            log.exception("loading the model failed")
            self._modelLoaded.emit(ModelState(FAILED, f"The model could not be loaded: {exc}"), generation)
            return
        if self._tasks.closed:  # the app is quitting: nobody would close it
            return
        scanner = Scanner(detector, self.store, workers=self.workers, pending=self.pending,
                          on_store_failure=self._store_failed)
        self._modelLoaded.emit(ModelState(READY, "", detector, scanner), generation)

    @Slot(object, int)
    def _on_model_loaded(self, state: ModelState, generation: int) -> None:
        if generation != self._load_generation:  # a newer load superseded this one
            if state.scanner is not None and not self._tasks.run(state.scanner.close):
                state.scanner.close(wait=False)
            return
        old = self._scanner
        if state.scanner is None and old is not None:
            # A switch to a model that does not load keeps the one that works: scanning goes on, and the
            # person is told why the new one was not taken.
            self._set_state(self._working)
            self.modelRejected.emit(state.message)
            return
        self._scanner = state.scanner
        if state.state == READY:
            self._working = state
        self._set_state(state)
        if old is None:
            self._start_scanning()
            return
        # A switch in the middle of a scan carries on with the new model: what the old scanner had not
        # started stays pending when it closes, and is queued again from there. New work waits for the
        # close, so no file is queued in both scanners.
        with self._lock:
            self._replaced_jobs.update(self._jobs)
            self._switching = True
            if self._scanner is None:  # the new model failed: the rest waits, pending, for one that loads
                self._cancelled = True

        def close_replaced() -> None:
            old.close()
            self._replacedScannerClosed.emit()

        if not self._tasks.run(close_replaced):
            old.close(wait=False)

    @Slot()
    def _on_replaced_scanner_closed(self) -> None:
        with self._lock:
            self._switching = False
            self._waiting = set()  # what the closed scanner left unanswered is queued again, in the new one
            self._expanding += 1  # hold the run open, so what is queued again joins it instead of starting anew
        try:
            self._start_scanning()
        finally:
            with self._lock:
                self._expanding -= 1

    def _start_scanning(self) -> None:
        if self._scanner is not None:
            self._resume_pending()

    def _set_state(self, state: ModelState) -> None:
        self.model_state = state
        self.modelStateChanged.emit(state)

    # --- scanning -----------------------------------------------------------------

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._switching or self._expanding > 0 or any(job.done < job.total for job in self._jobs)

    def _progress(self) -> tuple[int, int]:  # with the lock held
        done = total = 0
        for job in self._jobs:
            # A replaced scanner's unscanned files are queued again in the new one: they count there only.
            requeued = job.unscanned if job in self._replaced_jobs else 0
            done += job.done - requeued
            total += job.total - requeued
        return done, total

    def submit_paths(self, paths: list[str], source: str) -> bool:
        """Scan files and folders (expanded on a worker). While the model loads or is being switched they wait
        in the pending list, resumed when it is ready. False when no model can scan."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return True
        if self.model_state.state == LOADING or self._switching:
            self.pending.add((path, source) for path in paths)
            return True
        if self._scanner is None:
            return False
        generation = self._begin_work()
        if not self._tasks.run(self._expand_and_submit, self._scanner, paths, source, generation):
            with self._lock:  # shut down meanwhile
                self._expanding -= 1
            return False
        return True

    def submit_requests(self, requests: list[ScanRequest]) -> None:
        """Queue files that need no expanding (the folder watcher's, carrying their sha256) in the scanner: one
        task on the service's pool, no thread of their own (and no store write on the GUI thread). While no
        model can scan they wait in the pending list, resumed when one is ready (now, or at the next start)."""
        if not requests:
            return
        scanner = self._scanner
        if scanner is None or self._switching:
            self.pending.add((r.path, r.source) for r in requests)
            return
        generation = self._begin_work()  # in flight until the scanner has them
        # Not pending yet (that is the task's store write): a shutdown that drops the task before it starts
        # makes them pending instead (``shutdown``), or the watcher's files would be lost, handed over for good.
        token = object()
        with self._lock:
            self._in_transit[token] = requests
        if not self._tasks.run(self._queue_requests, scanner, requests, generation, token):  # shut down meanwhile
            with self._lock:
                self._expanding -= 1
                del self._in_transit[token]
            self.pending.add((r.path, r.source) for r in requests)

    def _queue_requests(self, scanner: Scanner, requests: list[ScanRequest], generation: int,
                        token: object) -> None:  # a worker
        try:
            self._submit_chunk(scanner, requests, generation)
        finally:
            with self._lock:
                self._expanding -= 1
                self._in_transit.pop(token, None)

    def _begin_work(self) -> int:
        """A submission on its way into the scanner: it joins the run of work in flight, or starts a new one;
        draining starts. Returns the cancel generation; the caller counts ``_expanding`` down once queued."""
        with self._lock:
            done, total = self._progress()
            if done >= total and self._expanding == 0:  # a new run of work
                self._jobs = []
                self._replaced_jobs = set()
                self._waiting = set()
                self._cancelled = False
            self._expanding += 1
            generation = self._generation
        self._drain_timer.start()
        return generation

    def _expand_and_submit(self, scanner: Scanner, paths: list[str], source: str,
                           generation: int) -> None:  # a worker thread
        found = 0
        skipped: list[tuple[str, str]] = []
        try:
            for files in self.pending.expand(paths, source,
                                             cancelled=lambda: generation != self._generation,
                                             interrupted=lambda: self._tasks.closed, skipped=skipped):
                found += len(files)
                # A watched folder's file gone by now was thrown away (a temporary download): no error row.
                requests = [ScanRequest(path=path, source=source, gone_is_unscanned=source in AUTOMATIC_SOURCES)
                            for path in files]
                if not self._submit_chunk(scanner, requests, generation):
                    break  # shutting down: what is not queued stays pending, for the next start
            # Files that are no images are passed over without a word; folders that would not open are said.
            unreadable = [(path, why.removeprefix("folder: ")) for path, why in skipped if why.startswith("folder: ")]
            if unreadable and generation == self._generation:
                self.foldersUnreadable.emit(unreadable)
            if not found and generation == self._generation and not self._tasks.closed:
                self.nothingFound.emit(paths)  # folders with no image in them: say so, or nothing seems to happen
        except Exception:
            log.exception("expanding %s failed", paths)
        finally:
            with self._lock:
                self._expanding -= 1

    def _submit_chunk(self, scanner: Scanner, requests: list[ScanRequest], generation: int) -> bool:  # a worker
        """Queue requests in ``scanner``; False when the service is shutting down (they stay pending)."""
        with self._lock:
            requests = [r for r in requests if not r.path or r.path not in self._waiting]
            self._waiting.update(r.path for r in requests if r.path)
            self._queued_rows.extend((r.path, r.source) for r in requests)
        if not requests:
            return True
        try:
            job = scanner.submit(requests, on_result=self._collect)
        except RuntimeError:  # closed under us
            with self._lock:
                self._waiting.difference_update(r.path for r in requests)
            if self._tasks.closed:  # by a shutdown: pending, for the next start
                self.pending.add((r.path, r.source) for r in requests)
                return False
            # By a model switch: queued again, in the new scanner (or pending until the switch is done); through
            # the GUI thread, so that this comes before or after the switch's resume, never both.
            self._requeue.emit(requests)
            return True
        with self._lock:
            self._jobs.append(job)
            # A cancel that came after the rows were queued (the person saw them) but before the job was listed
            # did not reach it: it does now.
            cancelled = generation != self._generation
        if cancelled:
            job.cancel()
        return True

    def _resume_pending(self) -> None:
        """Queue again what waited for a model, or what a previous run left unfinished (killed, or quit
        mid-scan): the one resume path. Files already scanned come back from the store's cache."""
        resumed = 0
        for source, paths in self.pending.take():
            resumed += sum(path in self._leftovers for path in paths)
            self.submit_paths(paths, source)
        if resumed:
            self.leftoversResumed.emit(resumed, any(os.path.isdir(path) for path in self._leftovers))
        self._leftovers = set()
        if self.pending.given_up:  # files that stopped the app while being scanned: error rows, not a crash loop
            self.resultsReady.emit(list(self.pending.given_up))

    def _collect(self, result: Result) -> None:  # scanner thread
        with self._lock:
            self._results.append(result)
            self._waiting.discard(result.path)

    def cancel(self) -> None:
        with self._lock:
            self._generation += 1
            self._cancelled = True
            self._waiting = set()  # dropped again after the cancel, a file is scanned again
            jobs = list(self._jobs)  # they stay: their counts still make up the run's progress
        for job in jobs:
            job.cancel()

    @Slot()
    def _drain(self) -> None:
        with self._lock:
            rows, self._queued_rows = self._queued_rows, []
            results, self._results = self._results, []
            done, total = self._progress()
            finished = not self._switching and self._expanding == 0 and done >= total
            cancelled = self._cancelled
        if rows:
            self.rowsQueued.emit(rows)
        if results:
            self.resultsReady.emit(results)
        self.progressChanged.emit(done, total)
        if finished:
            self._drain_timer.stop()
            self.scanFinished.emit(cancelled)

    def _store_failed(self, exc: Exception) -> None:  # any thread
        """Scanning goes on; the person is told that what it finds is not being kept."""
        now = time.monotonic()
        if now - self._store_failed_at >= 5.0:  # a full disk fails every result: one word every few seconds
            self._store_failed_at = now
            self.storeFailed.emit(str(exc))

    # --- history and shutdown -------------------------------------------------------

    def count_history(self) -> None:
        """Count the stored history again, off this thread; ``historyCounted`` follows."""
        def count():
            try:
                self.historyCounted.emit(self.store.history_count())
            except Exception:  # the label keeps its old figure; a failing store says so elsewhere
                log.warning("counting the history failed", exc_info=True)
        self._tasks.run(count)

    def load_history(self, limit: int | None = None) -> None:
        """Read the newest ``limit`` (default ``HISTORY_LIMIT``) stored results into the list, off this thread."""
        limit = HISTORY_LIMIT if limit is None else limit
        self.historyReading.emit()

        def read():
            started = time.perf_counter()
            try:
                history = self.store.history(limit=limit)
                stored = self.store.history_count() if limit and len(history) >= limit else len(history)
            except Exception as exc:
                log.exception("reading the history failed")
                self.historyFailed.emit(str(exc))
                history, stored = [], 0
            log.debug("history: %d results in %.0f ms", len(history), (time.perf_counter() - started) * 1000)
            self._historyRead.emit(history)
            if stored > len(history):
                self.historyLimited.emit(len(history), stored)

        self._tasks.run(read)

    def shutdown(self) -> None:
        """Stop scanning; unfinished files stay pending in the store for the next start. Waits for the
        service's background work: expansions stop at their next file, a model being loaded is dropped."""
        self._drain_timer.stop()
        scanner, self._scanner = self._scanner, None
        self._load_generation += 1
        self._tasks.shutdown()
        with self._lock:  # handed to the pool, dropped by its shutdown before they started
            stranded, self._in_transit = [r for batch in self._in_transit.values() for r in batch], {}
        if stranded:
            self.pending.add((r.path, r.source) for r in stranded)
        if scanner is not None:
            scanner.close()
