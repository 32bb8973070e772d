"""The folder watcher on real temporary folders, with the real scanner and store behind it."""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from collections import Counter

import pytest

from desktop.watcher import MISSING, NO_PERMISSION, WATCHING, FolderWatcher
from engine.decode import verify_complete
from engine.model import Detector
from engine.scanner import Scanner, ScanRequest
from engine.store import Store
from tests.desktop.conftest import write_image

STABLE = 0.4  # seconds a file must stay unchanged before it is handed over


class Collector:
    """What the watcher handed over, and each folder's latest status, thread-safely."""

    def __init__(self):
        self.paths: list[str] = []
        self.status: dict[str, str] = {}
        self._lock = threading.Lock()

    def ready(self, paths):
        with self._lock:
            self.paths.extend(paths)

    def state(self, folder, state, message):
        with self._lock:
            self.status[folder] = state

    def wait_for(self, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        return False


@pytest.fixture
def watch(tmp_path):
    """Start a watcher on a fresh folder; returns (watcher, collector, folder)."""
    watchers = []

    def make(folder=None, rescan_interval=60.0, **options):
        folder = folder or tmp_path / "Downloads"
        folder.mkdir(parents=True, exist_ok=True)
        collector = Collector()
        watcher = FolderWatcher(collector.ready, collector.state, stable_for=STABLE, tick=0.05,
                                rescan_interval=rescan_interval, **options)
        watcher.add(folder)
        watcher.start()
        watchers.append(watcher)
        assert collector.wait_for(lambda c: c.status.get(str(folder)) == WATCHING)
        return watcher, collector, folder

    yield make
    for watcher in watchers:
        watcher.stop()


def jpeg_bytes(brightness=200, seed=1) -> bytes:
    buffer = io.BytesIO()
    write_image(buffer, brightness, size=(320, 240), seed=seed, fmt="JPEG")
    return buffer.getvalue()


def test_browser_download_in_chunks_then_renamed_is_handed_over_once(watch):
    watcher, collector, folder = watch(rescan_interval=0.3)  # rescans race the events on purpose
    data = jpeg_bytes()
    partial = folder / "x.jpg.crdownload"
    with open(partial, "wb") as handle:
        for start in range(0, len(data), 2048):
            handle.write(data[start:start + 2048])
            handle.flush()
            time.sleep(0.02)
    time.sleep(STABLE * 2)  # the partial file is stable now, and must still be ignored
    assert collector.paths == []
    partial.rename(folder / "x.jpg")
    assert collector.wait_for(lambda c: len(c.paths) >= 1)
    time.sleep(STABLE * 3)  # further events and rescans must not hand it over again
    assert collector.paths == [str(folder / "x.jpg")]


def test_file_being_written_is_never_handed_over_until_finished(watch):
    watcher, collector, folder = watch(rescan_interval=0.2)
    data = jpeg_bytes(seed=2)
    target = folder / "slow.jpg"
    pieces = [data[i:i + len(data) // 12 + 1] for i in range(0, len(data), len(data) // 12 + 1)]
    with open(target, "wb") as handle:
        for piece in pieces:  # pauses shorter than the stability interval: still "being written"
            handle.write(piece)
            handle.flush()
            time.sleep(STABLE / 3)
            assert collector.paths == [], "a partially written file was handed over"
    assert collector.wait_for(lambda c: len(c.paths) == 1)
    assert collector.paths == [str(target)]
    assert open(target, "rb").read() == data


def test_a_jpeg_written_in_two_halves_with_a_long_pause_is_handed_over_whole_once(watch):
    watcher, collector, folder = watch(rescan_interval=0.2)
    data = jpeg_bytes(seed=3)
    target = folder / "download.jpg"  # straight to its final name, as some browsers and tools write
    with open(target, "wb") as handle:
        handle.write(data[:len(data) // 2])
        handle.flush()
        time.sleep(STABLE * 3)  # the size is stable for well over the quiet interval...
        assert collector.paths == [], "a half-written image was handed over"  # ...but it does not decode whole
        handle.write(data[len(data) // 2:])
    assert collector.wait_for(lambda c: len(c.paths) == 1)
    time.sleep(STABLE * 2)
    assert collector.paths == [str(target)]
    verify_complete(target.read_bytes())  # raises if what was handed over were partial


def test_an_image_that_stays_truncated_is_handed_over_after_bounded_checks(watch):
    watcher, collector, folder = watch(rescan_interval=0.2, incomplete_checks=2)
    data = jpeg_bytes(seed=4)
    started = time.monotonic()
    (folder / "cut-off.jpg").write_bytes(data[:len(data) // 2])  # the download died: an error row, in the end
    assert collector.wait_for(lambda c: len(c.paths) == 1)
    assert time.monotonic() - started >= STABLE * 3  # the first quiet interval, then two more checks
    assert collector.paths == [str(folder / "cut-off.jpg")]


def test_zero_byte_files_and_non_images_are_ignored_but_broken_image_names_are_handed_over(watch):
    watcher, collector, folder = watch(rescan_interval=0.2)
    (folder / "empty.jpg").write_bytes(b"")  # a browser's placeholder while the download runs
    (folder / "notes.txt").write_text("not an image by name or content")
    (folder / "notes.jpg").write_text("not an image, whatever the name says")  # to be an error row
    write_image(folder / "photo.weird-extension", 220, fmt="PNG")  # an image by content
    assert collector.wait_for(lambda c: len(c.paths) >= 2)
    time.sleep(STABLE * 3)
    assert sorted(collector.paths) == [str(folder / "notes.jpg"), str(folder / "photo.weird-extension")]


def test_same_content_under_a_new_name_is_handed_over_but_a_touched_file_is_not(watch):
    watcher, collector, folder = watch()
    write_image(folder / "a.png", 220, seed=5)
    assert collector.wait_for(lambda c: len(c.paths) == 1)
    shutil.copy(folder / "a.png", folder / "a (1).png")  # a new sighting of known bytes
    assert collector.wait_for(lambda c: len(c.paths) == 2)
    later = time.time() + 5
    os.utime(folder / "a.png", (later, later))  # same path, same content: not news
    time.sleep(STABLE * 3)
    assert collector.paths == [str(folder / "a.png"), str(folder / "a (1).png")]


def test_files_already_there_are_left_alone_and_earlier_sightings_are_skipped(tmp_path, watch):
    folder = tmp_path / "Downloads"
    folder.mkdir()
    write_image(folder / "old.png", 220, seed=6)
    an_hour_ago = time.time() - 3600
    os.utime(folder / "old.png", (an_hour_ago, an_hour_ago))
    known = write_image(tmp_path / "known.png", 220, seed=7)
    from desktop.watcher import sha256_file

    known_hash = sha256_file(str(known))
    seen_before = (str(folder / "known-again.png"), known_hash)  # as the store's sightings would say
    watcher, collector, folder = watch(folder, rescan_interval=0.2,
                                       already_seen=lambda path, digest: (path, digest) == seen_before)
    shutil.copy(known, folder / "known-again.png")
    write_image(folder / "new.png", 220, seed=8)
    assert collector.wait_for(lambda c: len(c.paths) >= 1)
    time.sleep(STABLE * 3)
    assert collector.paths == [str(folder / "new.png")]


def test_folder_deleted_and_recreated_keeps_being_watched(watch):
    watcher, collector, folder = watch(rescan_interval=0.5)
    shutil.rmtree(folder)
    assert collector.wait_for(lambda c: c.status[str(folder)] == MISSING)
    folder.mkdir()
    assert collector.wait_for(lambda c: c.status[str(folder)] == WATCHING)
    write_image(folder / "after.png", 220, seed=9)
    assert collector.wait_for(lambda c: c.paths == [str(folder / "after.png")])


UNREADABLE_FOLDER_SCRIPT = """
import sys, time
from pathlib import Path
from desktop.watcher import NO_PERMISSION, WATCHING, FolderWatcher
from tests.desktop.conftest import write_image
from tests.desktop.test_watcher import Collector, STABLE

folder = Path(sys.argv[1])
collector = Collector()
watcher = FolderWatcher(collector.ready, collector.state, stable_for=STABLE, tick=0.05, rescan_interval=0.3)
watcher.add(folder)
watcher.start()
try:
    assert collector.wait_for(lambda c: c.status.get(str(folder)) == WATCHING), "never watching"
    folder.chmod(0)
    try:
        assert collector.wait_for(lambda c: c.status[str(folder)] == NO_PERMISSION), "no permission status"
    finally:
        folder.chmod(0o755)
    assert collector.wait_for(lambda c: c.status[str(folder)] == WATCHING), "not watching again"
    write_image(folder / "back.png", 220, seed=10)
    assert collector.wait_for(lambda c: c.paths == [str(folder / "back.png")]), "file after recovery not seen"
finally:
    watcher.stop()
print("ok")
"""


def test_unreadable_folder_gets_a_status_not_a_crash(tmp_path):
    """A real permission error from the OS, in a child process. Root reads any folder, so as root the
    child drops the capabilities that bypass file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    import subprocess
    import sys

    folder = tmp_path / "Downloads"
    folder.mkdir()
    command = [sys.executable, "-c", UNREADABLE_FOLDER_SCRIPT, str(folder)]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=repo)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_permission_error_from_the_os_becomes_a_status(watch, monkeypatch):
    """Runs as root too: the OS's PermissionError is injected for this one folder (root can read
    any folder, so the test above cannot make one), then taken away again."""
    import desktop.watcher as watcher_module

    watcher, collector, folder = watch(rescan_interval=0.3)
    real_scandir = os.scandir
    denied = {"on": True}

    def scandir(path="."):
        if denied["on"] and os.fspath(path) == str(folder):
            raise PermissionError(13, "Permission denied", str(folder))
        return real_scandir(path)

    monkeypatch.setattr(watcher_module.os, "scandir", scandir)
    assert collector.wait_for(lambda c: c.status[str(folder)] == NO_PERMISSION)
    denied["on"] = False
    assert collector.wait_for(lambda c: c.status[str(folder)] == WATCHING)
    write_image(folder / "back.png", 220, seed=11)
    assert collector.wait_for(lambda c: c.paths == [str(folder / "back.png")])


def test_500_files_in_bursts_give_exactly_500_results(tmp_path, model_path, watch):
    store = Store(tmp_path / "results.sqlite3")
    scanner = Scanner(Detector(model_path, provider="cpu"), store, remember_pending=True)
    results, lock = [], threading.Lock()

    def on_result(result):
        with lock:
            results.append(result)

    def scan(paths):
        scanner.submit([ScanRequest(path=p, source="watched") for p in paths], on_result=on_result)

    folder = tmp_path / "Downloads"
    folder.mkdir()
    watcher = FolderWatcher(scan, stable_for=0.3, tick=0.05, rescan_interval=0.5,
                            already_seen=lambda path, digest: store.sighted(digest, path))
    watcher.add(folder)
    watcher.start()
    try:
        staging = tmp_path / "staging"
        staging.mkdir()
        for burst in range(10):  # written elsewhere, then moved in 50 at a time, as a sync client does
            for index in range(50):
                name = f"img-{burst:02d}-{index:02d}.png"
                write_image(staging / name, 40 + 3 * index, size=(40, 32), seed=burst * 100 + index)
                os.replace(staging / name, folder / name)
            time.sleep(0.05)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(results) < 500:
            time.sleep(0.1)
        time.sleep(1.5)  # rescans after the last burst must not add anything
    finally:
        watcher.stop()
        scanner.close()
    counts = Counter(result.path for result in results)
    assert len(results) == 500
    assert len(counts) == 500 and max(counts.values()) == 1
    assert all(result.ok for result in results)
    assert store.count() == 500 and store.pending() == []
