"""The app's background threads: one small pool that the scan service's work runs on, and that shuts
down cleanly (as Picard's thread pools do: no work starts after shutdown, what has not started is
dropped, and shutdown waits for what runs).

Work that must stay off the GUI thread (loading a model, expanding a dropped folder, queueing files
in the scanner, reading the history, closing a replaced scanner) is a task here, not a thread of
its own. The pool's threads run a little below the window's priority, and so do the threads they
start (ONNX Runtime's, the scanner's), so a busy machine slows the scan, not the window.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

THREADS = 4  # enough that a long task (a model loading, a huge folder) never holds up the others for long
NICENESS = 5
SHUTDOWN_WAIT_S = 30.0


def lower_this_thread_priority() -> None:
    """Run this thread a little below the window (Linux: per-thread nice). Threads it starts inherit it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + NICENESS))
    except OSError:  # not allowed here: the work still runs, at normal priority
        pass


class Workers:
    """A pool of at most ``threads`` threads, started as work arrives. Daemon threads, so a task that never
    ends (a wedged GPU driver) cannot hold the process at exit; :meth:`shutdown` is what waits for them."""

    def __init__(self, threads: int = THREADS, name: str = "synthspot-worker"):
        self._max_threads = max(1, threads)
        self._name = name
        self._queue: deque[tuple[Callable, tuple]] = deque()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._changed = threading.Condition()

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, task: Callable, *args) -> bool:
        """Run ``task(*args)`` on a pool thread; False (and nothing runs) once shut down. An exception in the
        task is logged: a task reports its outcome itself (a signal), never through the pool."""
        with self._changed:
            if self._closed:
                return False
            self._queue.append((task, args))
            if self._idle == 0 and len(self._threads) < self._max_threads:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._changed.notify()
        return True

    def _work(self) -> None:
        lower_this_thread_priority()
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._idle += 1
                    self._changed.wait()
                    self._idle -= 1
                if not self._queue:  # closed, and nothing left that started before the close
                    return
                task, args = self._queue.popleft()
            try:
                task(*args)
            except Exception:
                log.exception("background task %s failed", getattr(task, "__qualname__", task))

    def shutdown(self, timeout: float = SHUTDOWN_WAIT_S) -> bool:
        """Take no more work, drop what has not started, and wait up to ``timeout`` s for what runs.
        True when every thread ended."""
        with self._changed:
            self._closed = True
            self._queue.clear()
            self._changed.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        running = [t.name for t in threads if t.is_alive() and t is not threading.current_thread()]
        if running:
            log.warning("background work still running after %.0f s: %s", timeout, ", ".join(running))
        return not running
