"""A file whose scan is under way when the process dies is resumed at the next start, but not for ever:
after it stopped the process twice it gets an error row instead of a third crash."""

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

from engine.model import Detector
from engine.pending import MAX_STOPS, PendingWork
from engine.scanner import Scanner, ScanRequest
from engine.store import Store
from tests.fixtures.jpeg_scans import progressive_jpeg

SCAN = """
import sys
from engine.model import Detector
from engine.pending import PendingWork
from engine.scanner import Scanner, ScanRequest
from engine.store import Store
store = Store(sys.argv[1])
pending = PendingWork(store)
with Scanner(Detector(sys.argv[2]), store, workers=1, pending=pending) as scanner:
    scanner.scan([ScanRequest(path=sys.argv[3], source="watched")])
"""


def _scan_and_die(store_path, model, image) -> None:
    """Scan ``image`` in another process and kill it (as a crashing decoder would) while it decodes."""
    process = subprocess.Popen([sys.executable, "-c", SCAN, str(store_path), str(model), str(image)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(store_path, timeout=1)) as db:
            if db.execute("SELECT started_at FROM pending WHERE started_at IS NOT NULL").fetchone():
                break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(30)


def test_a_file_that_stops_the_app_twice_gets_an_error_row_not_a_third_try(tmp_path, brightness_model_path):
    image = tmp_path / "slow.jpg"
    image.write_bytes(progressive_jpeg(8000, 400))  # seconds to decode: the kill lands mid-scan
    other = tmp_path / "waiting.png"
    other.write_bytes(b"")
    store_path = tmp_path / "store.sqlite"
    with closing(Store(store_path)) as store:
        PendingWork(store).add([(str(other), "watched")])  # queued behind it, never started

    def next_start():  # as the app does at a start, its store closed before the next process runs
        with closing(Store(store_path)) as store:
            pending = PendingWork(store)
            return dict(pending.take()), pending.given_up, store.history()

    _scan_and_die(store_path, brightness_model_path, image)
    resumed, given_up, _ = next_start()
    assert resumed == {"watched": [str(other), str(image)]} and not given_up  # resumed once

    _scan_and_die(store_path, brightness_model_path, image)
    resumed, [given_up], history = next_start()
    assert resumed == {"watched": [str(other)]}  # the file that was never started stays
    assert given_up.path == str(image) and f"stopped SynthSpot {MAX_STOPS} times" in given_up.error
    assert any(r.path == str(image) and not r.ok for r in history)  # an error row, kept
    # The watcher sees the file again (it is newer than the last quit): refused, still listed; asked for by
    # hand (dropped), it gets its tries back and is scanned.
    with closing(Store(store_path)) as store:
        pending = PendingWork(store)
        with Scanner(Detector(brightness_model_path), store, workers=1, pending=pending) as scanner:
            [watched] = scanner.scan([ScanRequest(path=str(image), source="watched")])
            assert watched.error == given_up.error
            assert str(image) in store.stops([str(image)])
            [dropped] = scanner.scan([ScanRequest(path=str(image), source="dropped")])
            assert dropped.ok and not store.stops([str(image)])


def test_a_clean_close_is_no_stop(tmp_path, brightness_model_path):
    image = tmp_path / "slow.jpg"
    image.write_bytes(progressive_jpeg(8000, 400))
    store_path = tmp_path / "store.sqlite"
    for _ in range(MAX_STOPS + 1):  # quit mid-scan again and again, as a person may
        with closing(Store(store_path)) as store:
            pending = PendingWork(store)
            assert pending.take() in ([], [("watched", [str(image)])]) and not pending.given_up
            scanner = Scanner(Detector(brightness_model_path), store, workers=1, pending=pending)
            scanner.submit([ScanRequest(path=str(image), source="watched")])
            deadline = time.monotonic() + 60
            while not store.count_started() and time.monotonic() < deadline:
                time.sleep(0.02)
            scanner.close()
    with closing(Store(store_path)) as store:
        pending = PendingWork(store)
        assert pending.take() == [("watched", [str(image)])] and not pending.given_up
