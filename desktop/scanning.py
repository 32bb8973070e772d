"""The scan service: the one place the app talks to ``engine.Scanner``.

Model loading, folder expansion and scanning run off the GUI thread. Scanner
callbacks only append to locked buffers; a GUI-thread timer drains them while
work is in flight and emits batched signals, so 5,000 results arrive as a few
hundred signals instead of 5,000 cross-thread events.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.files import expand_paths
from engine.model import Detector, ModelLoadError
from engine.models import NoModelError, default_model_path
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
WORKER_NICENESS = 5
SUBMIT_CHUNK = 256
HISTORY_LIMIT = 20000


def inference_threads() -> int:
    """Leave one core to the window: a saturated machine shows up as a stuttering UI."""
    return max(1, (os.cpu_count() or 2) - 1)


def preparation_workers() -> int:
    return max(1, min(2, (os.cpu_count() or 2) - 1))


def lower_this_thread_priority() -> None:
    """Run scanning a little below the window (Linux: per-thread nice), so when the machine is
    busy the scan slows down, not the UI. Threads this one starts inherit the priority."""
    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + WORKER_NICENESS))
    except OSError:  # not allowed here: scanning at normal priority still works
        pass


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
    historyLoaded = Signal(list)  # [Result], newest first

    _modelLoaded = Signal(object, int)  # ModelState, load generation
    _historyRead = Signal(list)
    _replacedScannerClosed = Signal()
    _requeue = Signal(list, str)  # files, source

    def __init__(self, store: Store, workers: int | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self.workers = workers or preparation_workers()
        self.model_state = ModelState(LOADING, "loading the detector model…")
        self._scanner: Scanner | None = None
        self._waiting: list[tuple[list[str], str, bool]] = []  # submissions made while the model loads
        self._lock = threading.Lock()
        self._results: list[Result] = []
        self._queued_rows: list[tuple[str, str]] = []
        # Every job of the current run of work. Progress is read from their own counts: each request ends
        # in exactly one outcome (result, error or unscanned), so a count that cannot reach its total means a bug
        # in one place (the scanner), never a signal missed here.
        self._jobs: list[ScanJob] = []
        self._replaced_jobs: set[ScanJob] = set()  # jobs of a scanner a model switch closed
        self._switching = False  # a replaced scanner is closing; new work waits for it
        self._expanding = 0
        self._cancelled = False
        self._generation = 0
        self._load_generation = 0
        self._drain_timer = QTimer(self)
        self._drain_timer.setInterval(DRAIN_INTERVAL_MS)
        self._drain_timer.timeout.connect(self._drain)
        self._modelLoaded.connect(self._on_model_loaded)
        self._replacedScannerClosed.connect(self._on_replaced_scanner_closed)
        self._requeue.connect(lambda files, source: self.submit_paths(files, source, recursive=False))
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
        threading.Thread(target=self._load_model, args=(path, provider, generation),
                         name="synthspot-load-model", daemon=True).start()

    def _load_model(self, path: str, provider: str, generation: int) -> None:
        lower_this_thread_priority()  # ONNX Runtime's threads and the scanner's inherit it
        try:
            model_path = Path(path) if path else default_model_path("cuda" if provider != "cpu" else "cpu")
            detector = Detector(model_path, provider=provider, threads=inference_threads())
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
        scanner = Scanner(detector, self.store, workers=self.workers, remember_pending=True)
        self._modelLoaded.emit(ModelState(READY, "", detector, scanner), generation)

    @Slot(object, int)
    def _on_model_loaded(self, state: ModelState, generation: int) -> None:
        if generation != self._load_generation:  # a newer load superseded this one
            if state.scanner is not None:
                threading.Thread(target=state.scanner.close, daemon=True).start()
            return
        old = self._scanner
        self._scanner = state.scanner
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

        threading.Thread(target=close_replaced, name="synthspot-close-scanner", daemon=True).start()

    @Slot()
    def _on_replaced_scanner_closed(self) -> None:
        with self._lock:
            self._switching = False
            self._expanding += 1  # hold the run open, so what is queued again joins it instead of starting anew
        try:
            self._start_scanning()
        finally:
            with self._lock:
                self._expanding -= 1

    def _start_scanning(self) -> None:
        if self._scanner is None:
            return
        self._resume_pending()
        waiting, self._waiting = self._waiting, []
        for paths, source, recursive in waiting:
            self.submit_paths(paths, source, recursive)

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

    def submit_paths(self, paths: list[str], source: str, recursive: bool = True) -> bool:
        """Scan files and folders (expanded in the background). False when no model can scan."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return True
        if self.model_state.state == LOADING or self._switching:
            self._waiting.append((paths, source, recursive))
            return True
        if self._scanner is None:
            return False
        with self._lock:
            done, total = self._progress()
            if done >= total and self._expanding == 0:  # a new run of work
                self._jobs = []
                self._replaced_jobs = set()
                self._cancelled = False
            self._expanding += 1
            generation = self._generation
        self._drain_timer.start()
        threading.Thread(target=self._expand_and_submit, args=(self._scanner, paths, source, recursive, generation),
                         name="synthspot-expand", daemon=True).start()
        return True

    def _expand_and_submit(self, scanner: Scanner, paths: list[str], source: str, recursive: bool,
                           generation: int) -> None:
        lower_this_thread_priority()  # the scanner's preparation threads start from here and inherit it
        # A folder stays in the store's pending list until all its files are queued (and so
        # pending themselves): a crash half-way through a 5,000-file folder loses nothing.
        folders = [path for path in paths if os.path.isdir(path)]
        if folders:
            self.store.add_pending([(folder, source) for folder in folders])
        chunk: list[str] = []
        try:
            for path in expand_paths(paths, recursive=recursive):
                if generation != self._generation:
                    break
                chunk.append(str(path))
                if len(chunk) >= SUBMIT_CHUNK:
                    self._submit_chunk(scanner, chunk, source, generation)
                    chunk = []
            else:
                self._submit_chunk(scanner, chunk, source, generation)
            if self._scanner is scanner:  # finished or cancelled, not cut short by a shutdown
                for folder in folders:
                    self.store.remove_pending(folder)
        except Exception:
            log.exception("expanding %s failed", paths)
        finally:
            with self._lock:
                self._expanding -= 1

    def _submit_chunk(self, scanner: Scanner, files: list[str], source: str, generation: int) -> None:
        if not files or generation != self._generation:
            return
        with self._lock:
            self._queued_rows.extend((path, source) for path in files)
        try:
            job = scanner.submit([ScanRequest(path=path, source=source) for path in files], on_result=self._collect)
        except RuntimeError:  # closed under us by a model switch: queue them again, in the new scanner
            self._requeue.emit(files, source)
            return
        with self._lock:
            self._jobs.append(job)

    def _resume_pending(self) -> None:
        """Queue again what a previous run left unfinished (it was killed, or quit mid-scan)."""
        by_source: dict[str, list[str]] = {}
        for path, source in self.store.pending():
            by_source.setdefault(source, []).append(path)
        for source, paths in by_source.items():
            # Files already scanned come back from the store's cache; nothing is scanned twice.
            self.submit_paths(paths, source)

    def _collect(self, result: Result) -> None:  # scanner thread
        with self._lock:
            self._results.append(result)

    def cancel(self) -> None:
        with self._lock:
            self._generation += 1
            self._cancelled = True
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

    # --- history and shutdown -------------------------------------------------------

    def load_history(self, limit: int = HISTORY_LIMIT) -> None:
        def read():
            started = time.perf_counter()
            try:
                history = self.store.history(limit=limit)
            except Exception:
                log.exception("reading the history failed")
                history = []
            log.debug("history: %d results in %.0f ms", len(history), (time.perf_counter() - started) * 1000)
            self._historyRead.emit(history)

        threading.Thread(target=read, name="synthspot-history", daemon=True).start()

    def shutdown(self) -> None:
        """Stop scanning; unfinished files stay pending in the store for the next start."""
        self._drain_timer.stop()
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            scanner.close()
