"""The scan service on its own: one pending list, one resume path, no thread per watched batch, a shutdown
that waits for its background work."""

from __future__ import annotations

import hashlib
import threading

from desktop.scanning import READY, ScanService
from engine.scanner import ScanRequest
from engine.store import Store
from tests.desktop.conftest import WAIT_MS, write_image


def watched(path) -> ScanRequest:
    return ScanRequest(path=str(path), source="watched", sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def service_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("synthspot-service")]


def test_watched_requests_wait_pending_until_a_model_loads_then_go_straight_into_the_scanner(
        tmp_path, qtbot, model_path):
    store = Store(tmp_path / "s.db")
    service = ScanService(store)
    results = []
    service.resultsReady.connect(results.extend)
    early = write_image(tmp_path / "early.png", 235)
    service.submit_requests([watched(early)])  # the model is still loading: it waits in the pending list
    assert store.pending() == [(str(early), "watched")]

    service.load_model(str(model_path), "cpu")
    qtbot.waitUntil(lambda: [r.path for r in results] == [str(early)], timeout=WAIT_MS)
    assert service.model_state.state == READY and store.pending() == []

    late = write_image(tmp_path / "late.png", 30)
    submitted_on = []
    submit = service.scanner.submit
    service.scanner.submit = lambda *args, **kwargs: (submitted_on.append(threading.current_thread()),
                                                      submit(*args, **kwargs))[1]
    threads_before = service_threads()
    service.submit_requests([watched(late)])
    # Queued in the scanner before the call returned, from this thread: no thread of its own.
    assert submitted_on == [threading.current_thread()]
    assert service_threads() == threads_before
    qtbot.waitUntil(lambda: len(results) == 2, timeout=WAIT_MS)
    assert results[1].path == str(late) and not results[1].cached
    service.shutdown()


def test_shutdown_waits_for_the_service_threads_and_keeps_unfinished_work_pending(tmp_path, qtbot, slow_model):
    store = Store(tmp_path / "s.db")
    service = ScanService(store)
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(40):
        write_image(folder / f"{index}.png", 30 + index, size=(256, 192))
    service.load_model(str(slow_model), "cpu")
    qtbot.waitUntil(lambda: service.model_state.state == READY, timeout=WAIT_MS)
    service.submit_paths([str(folder)], "dropped")
    qtbot.waitUntil(lambda: store.count() >= 1, timeout=WAIT_MS)
    service.shutdown()
    assert service_threads() == []  # joined, not left running as daemons
    assert service.submit_paths([str(folder)], "dropped") is False
    files = {str(folder / f"{i}.png") for i in range(40)}
    stored = {r.path for r in store.history(limit=100)}
    pending = {path for path, _source in store.pending()}
    assert stored
    # Every file has its outcome or is pending for the next start (itself, or its folder), none both.
    covered = files if str(folder) in pending else pending
    assert stored | covered == files and not stored & pending
