"""The scan service on its own: one pending list, one resume path, no thread per watched batch, a shutdown
that waits for its background work."""

from __future__ import annotations

import hashlib
import threading

from desktop.scanning import READY, ScanService
from desktop.workers import THREADS
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

    submitted_on = []
    submit = service.scanner.submit
    service.scanner.submit = lambda *args, **kwargs: (submitted_on.append(threading.current_thread().name),
                                                      submit(*args, **kwargs))[1]
    late = [write_image(tmp_path / f"late-{i}.png", 30 + i) for i in range(20)]
    for path in late:  # twenty batches of one file, as a watcher hands them over
        service.submit_requests([watched(path)])
    qtbot.waitUntil(lambda: len(results) == 21, timeout=WAIT_MS)
    assert sorted(r.path for r in results[1:]) == sorted(map(str, late)) and not any(r.cached for r in results)
    # Each batch was queued by the service's pool, which never grew past its few threads: no thread per batch.
    assert len(submitted_on) == 20 and all(name.startswith("synthspot-service") for name in submitted_on)
    assert 1 <= len(set(submitted_on)) <= len(service_threads()) <= THREADS
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


def test_a_cancel_that_comes_while_a_batch_is_being_queued_still_reaches_it(tmp_path, qtbot, model_path):
    store = Store(tmp_path / "s.db")
    service = ScanService(store)
    service.load_model(str(model_path), "cpu")
    qtbot.waitUntil(lambda: service.model_state.state == READY, timeout=WAIT_MS)
    folder = tmp_path / "wrong folder"
    folder.mkdir()
    for index in range(20):
        write_image(folder / f"{index}.png", 30 + index)
    cancelled = threading.Event()
    submit = service.scanner.submit

    def submit_after_the_cancel(*args, **kwargs):  # the rows are on screen, the person cancels, then the job lands
        assert cancelled.wait(WAIT_MS / 1000)
        return submit(*args, **kwargs)

    def cancel_on_sight(rows):
        service.cancel()
        cancelled.set()

    service.scanner.submit = submit_after_the_cancel
    service.rowsQueued.connect(cancel_on_sight)
    finished, results = [], []
    service.scanFinished.connect(finished.append)
    service.resultsReady.connect(results.extend)
    service.submit_paths([str(folder)], "dropped")
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT_MS)
    assert finished == [True]
    assert len(results) < 20  # at most what the scanner had started in the moment before the cancel reached it
    assert store.pending() == []  # cancelled: not resumed at the next start
    service.shutdown()


def test_auto_loads_the_built_in_model_of_the_provider_it_resolves_to(tmp_path, qtbot, model_path, monkeypatch):
    """The built-in model for "auto" is the CPU's on a machine without CUDA, as in the CLI: the app asked for
    the CUDA entry of default.json whenever the choice was not "cpu" (an fp16 file there would run on the CPU)."""
    import shutil

    from engine import models
    from engine.model import available_providers

    shutil.copy(model_path, tmp_path / "for-cpu.onnx")
    shutil.copy(model_path, tmp_path / "for-cuda.onnx")
    (tmp_path / "default.json").write_text('{"cpu": "for-cpu.onnx", "cuda": "for-cuda.onnx"}')
    monkeypatch.setattr(models, "DEFAULTS_FILE", tmp_path / "default.json")
    monkeypatch.setattr(models, "EMBEDDED_DIR", tmp_path)
    service = ScanService(Store(tmp_path / "s.db"))
    service.load_model("", "auto")
    qtbot.waitUntil(lambda: service.model_state.state == READY, timeout=WAIT_MS)
    expected = "for-cuda.onnx" if "cuda" in available_providers() else "for-cpu.onnx"
    assert service.detector.path.name == expected
    service.shutdown()


def test_a_watched_batch_the_pool_had_not_started_at_shutdown_stays_pending(tmp_path, qtbot, model_path):
    """A watched batch is written to the pending list by the pool task that queues it (no store write on the
    window's thread); a shutdown drops tasks that have not started, and the batch was lost for good."""
    store = Store(tmp_path / "s.db")
    service = ScanService(store)
    service.load_model(str(model_path), "cpu")
    qtbot.waitUntil(lambda: service.model_state.state == READY, timeout=WAIT_MS)
    release = threading.Event()
    for _ in range(THREADS):  # every pool thread busy (a model loading, a huge folder expanding...)
        service._tasks.run(release.wait)
    arrivals = [write_image(tmp_path / f"arrived-{i}.png", 40 + i) for i in range(3)]
    service.submit_requests([watched(path) for path in arrivals])  # queued behind them
    threading.Timer(0.3, release.set).start()  # they end once the shutdown has dropped what had not started
    service.shutdown()
    assert sorted(path for path, _source in store.pending()) == sorted(map(str, arrivals))
