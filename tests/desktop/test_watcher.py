"""The folder watcher on real temporary folders.

Most tests drive the watcher pass by pass on a fake clock (:class:`Driven`): no thread, no sleeps, so
a slow or busy machine cannot make them fail, and "nothing was handed over" means the watcher looked
and said no. Two tests run it for real, on its own thread with the OS's file events (and the second
with the real scanner and store behind it).
"""

from __future__ import annotations

import hashlib
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
from engine.pending import PendingWork
from engine.scanner import Scanner, ScanRequest
from engine.store import Store
from tests.desktop.conftest import write_image

STABLE = 1.5  # seconds a file must stay unchanged before it is handed over (the app's default)
TICK = 0.25  # one pass of the watcher (the app's default)


class Driven:
    """A watcher on ``folder`` driven by hand: each :meth:`step` moves a fake clock on and runs one pass.
    No OS events: every pass rescans the folder, which is how the watcher notices files here."""

    def __init__(self, folder, **options):
        self.now = 1000.0
        self.handed: list[ScanRequest] = []
        self.status: dict[str, str] = {}
        options.setdefault("rescan_interval", 0.0)
        self.watcher = FolderWatcher(self.handed.extend, self._on_status, stable_for=STABLE, tick=TICK,
                                     clock=lambda: self.now, **options)
        self.watcher.add(folder)
        self.step(0)

    def _on_status(self, folder, state, message):
        self.status[folder] = state

    def step(self, seconds: float = TICK) -> None:
        self.now += seconds
        self.watcher.poll()

    def run_for(self, seconds: float) -> None:
        for _ in range(round(seconds / TICK)):
            self.step()

    @property
    def paths(self) -> list[str]:
        return [request.path for request in self.handed]


def downloads(tmp_path):
    folder = tmp_path / "Downloads"
    folder.mkdir(exist_ok=True)
    return folder


def jpeg_bytes(brightness=200, seed=1) -> bytes:
    buffer = io.BytesIO()
    write_image(buffer, brightness, size=(320, 240), seed=seed, fmt="JPEG")
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_browser_download_in_chunks_then_renamed_is_handed_over_once_with_its_sha256(tmp_path):
    folder = downloads(tmp_path)
    driven = Driven(folder)
    data = jpeg_bytes()
    partial = folder / "x.jpg.crdownload"
    with open(partial, "wb") as handle:
        for start in range(0, len(data), 2048):
            handle.write(data[start:start + 2048])
            handle.flush()
            driven.step()
    driven.run_for(3 * STABLE)  # long stable now, and still a partial download's name
    assert driven.handed == []
    partial.rename(folder / "x.jpg")
    driven.step()  # noticed
    driven.run_for(STABLE - TICK)
    assert driven.handed == []
    driven.step()  # stable for STABLE seconds
    assert [(r.path, r.source, r.sha256) for r in driven.handed] == [(str(folder / "x.jpg"), "watched", sha256(data))]
    driven.run_for(5 * STABLE)  # further passes (each a rescan) do not hand it over again
    assert len(driven.handed) == 1


def test_a_file_is_handed_over_stable_for_seconds_after_its_last_write_and_never_before(tmp_path):
    folder = downloads(tmp_path)
    driven = Driven(folder)
    data = jpeg_bytes(seed=2)
    target = folder / "slow.jpg"
    pieces = [data[i:i + len(data) // 12 + 1] for i in range(0, len(data), len(data) // 12 + 1)]
    with open(target, "wb") as handle:
        for piece in pieces:  # each pause a little shorter than the stability interval: still "being written"
            handle.write(piece)
            handle.flush()
            driven.run_for(STABLE - TICK)
            assert driven.handed == [], "a partially written file was handed over"
    driven.step()  # the last write was seen STABLE - TICK ago (the loop's first pass after it)
    assert driven.handed == []
    driven.step()  # STABLE seconds unchanged: handed over, not one pass later
    assert driven.paths == [str(target)] and driven.handed[0].sha256 == sha256(data)


def test_a_jpeg_written_in_two_halves_with_a_long_pause_is_handed_over_whole_once(tmp_path):
    folder = downloads(tmp_path)
    driven = Driven(folder)
    data = jpeg_bytes(seed=3)
    target = folder / "download.jpg"  # straight to its final name, as some browsers and tools write
    with open(target, "wb") as handle:
        handle.write(data[:len(data) // 2])
        handle.flush()
        driven.run_for(4 * STABLE)  # the size is stable for well over the quiet interval...
        assert driven.handed == [], "a half-written image was handed over"  # ...but it does not decode whole
        handle.write(data[len(data) // 2:])
    driven.run_for(STABLE + TICK)
    assert driven.paths == [str(target)] and driven.handed[0].sha256 == sha256(data)
    verify_complete(target.read_bytes())  # raises if what was handed over were partial
    driven.run_for(3 * STABLE)
    assert len(driven.handed) == 1


def test_an_image_that_stays_truncated_is_handed_over_after_exactly_its_bounded_checks(tmp_path):
    folder = downloads(tmp_path)
    driven = Driven(folder, incomplete_checks=2)
    data = jpeg_bytes(seed=4)
    (folder / "cut-off.jpg").write_bytes(data[:len(data) // 2])  # the download died: an error row, in the end
    driven.step()  # noticed
    driven.run_for(3 * STABLE - TICK)  # the first quiet interval, then two more checks...
    assert driven.handed == []
    driven.step()  # ...and not one pass longer
    assert driven.paths == [str(folder / "cut-off.jpg")]


def test_zero_byte_files_and_non_images_are_ignored_but_broken_image_names_are_handed_over(tmp_path):
    folder = downloads(tmp_path)
    driven = Driven(folder)
    (folder / "empty.jpg").write_bytes(b"")  # a browser's placeholder while the download runs
    (folder / "notes.txt").write_text("not an image by name or content")
    (folder / "notes.jpg").write_text("not an image, whatever the name says")  # to be an error row
    write_image(folder / "photo.weird-extension", 220, fmt="PNG")  # an image by content
    driven.run_for(STABLE + TICK)
    assert sorted(driven.paths) == [str(folder / "notes.jpg"), str(folder / "photo.weird-extension")]
    driven.run_for(3 * STABLE)
    assert len(driven.handed) == 2
    (folder / "empty.jpg").write_bytes(jpeg_bytes(seed=12))  # the placeholder's download finished
    driven.run_for(STABLE + TICK)
    assert driven.paths[2:] == [str(folder / "empty.jpg")]


def test_same_content_under_a_new_name_is_handed_over_but_a_touched_file_is_not(tmp_path):
    folder = downloads(tmp_path)
    driven = Driven(folder)
    write_image(folder / "a.png", 220, seed=5)
    driven.run_for(STABLE + TICK)
    shutil.copy(folder / "a.png", folder / "a (1).png")  # a new sighting of known bytes
    driven.run_for(STABLE + TICK)
    assert driven.paths == [str(folder / "a.png"), str(folder / "a (1).png")]
    assert driven.handed[0].sha256 == driven.handed[1].sha256
    later = time.time() + 5
    os.utime(folder / "a.png", (later, later))  # same path, same content: not news
    driven.step()
    assert driven.watcher.settling() == [str(folder / "a.png")]  # the watcher did look at it again...
    driven.run_for(3 * STABLE)
    assert len(driven.handed) == 2  # ...and said no
    write_image(folder / "a.png", 30, seed=13)  # same path, new content: news
    driven.run_for(STABLE + TICK)
    assert driven.paths[2:] == [str(folder / "a.png")] and driven.handed[2].sha256 != driven.handed[0].sha256


def test_files_already_there_are_left_alone_and_earlier_sightings_are_skipped(tmp_path):
    folder = downloads(tmp_path)
    write_image(folder / "old.png", 220, seed=6)
    an_hour_ago = time.time() - 3600
    os.utime(folder / "old.png", (an_hour_ago, an_hour_ago))
    known = write_image(tmp_path / "known.png", 220, seed=7)
    seen_before = (str(folder / "known-again.png"), sha256(known.read_bytes()))  # as the store's sightings say
    asked = []

    def already_seen(path, digest):
        asked.append(path)
        return (path, digest) == seen_before

    driven = Driven(folder, already_seen=already_seen)
    shutil.copy(known, folder / "known-again.png")
    write_image(folder / "new.png", 220, seed=8)
    driven.run_for(3 * STABLE)
    assert driven.paths == [str(folder / "new.png")]
    assert sorted(asked) == [str(folder / "known-again.png"), str(folder / "new.png")]  # once each, never old.png


def test_an_image_put_back_where_another_had_replaced_it_is_news_in_this_run_and_after_a_restart(tmp_path):
    """The row kept saying what the replacement was while the file held the first image again: "seen at
    this path before" counted any bytes ever there, where only the last ones handed over are not news."""
    from engine.result import LIKELY_AI, LIKELY_REAL, Result

    folder = downloads(tmp_path)
    first, replacement = jpeg_bytes(220, seed=21), jpeg_bytes(40, seed=22)
    photo = folder / "photo.jpg"
    driven = Driven(folder)
    for data in (first, replacement, first):
        photo.write_bytes(data)
        driven.run_for(STABLE + TICK)
    assert [r.sha256 for r in driven.handed] == [sha256(first), sha256(replacement), sha256(first)]
    # After a restart the store's sightings decide: its newest at this path.
    store = Store(tmp_path / "store.db")
    for data, verdict in ((first, LIKELY_AI), (replacement, LIKELY_REAL)):
        store.put(Result(sha256=sha256(data), path=str(photo), source="watched", verdict=verdict, probability=0.5,
                         scanned_at=time.time(), model_name="m", model_version="1"), "m@1")
        time.sleep(0.01)  # sightings are ordered by when they were made
    assert store.newest_at(str(photo)) == sha256(replacement)
    restarted = Driven(folder, already_seen=lambda path, digest: store.newest_at(path) == digest)
    photo.write_bytes(first)  # downloaded again while the app was closed
    restarted.run_for(STABLE + TICK)
    photo.write_bytes(first)  # the same bytes written once more: not news any more
    later = time.time() + 5
    os.utime(photo, (later, later))
    restarted.run_for(3 * STABLE)
    assert [r.sha256 for r in restarted.handed] == [sha256(first)]
    store.close()


def test_a_folder_added_during_a_pass_leaves_its_old_files_alone(tmp_path):
    """A folder added while a pass looked at the others was rescanned before its files were marked old:
    a Pictures folder added then had every photo in it scanned and notified."""
    folder, pictures = downloads(tmp_path), tmp_path / "Pictures"
    pictures.mkdir()
    an_hour_ago = time.time() - 3600
    for index in range(3):
        old = write_image(pictures / f"old-{index}.png", 200, seed=30 + index)
        os.utime(old, (an_hour_ago, an_hour_ago))
    added = []

    def add_pictures_once(changed, state, message):  # the app adds folders from its own thread, any time
        if not added:
            added.append(changed)
            driven.watcher.add(pictures)

    driven = Driven(folder)
    driven.watcher._on_status = add_pictures_once
    driven.watcher.add(tmp_path / "Elsewhere")  # a status to report at the next pass: missing
    driven.run_for(3 * STABLE)
    assert added and driven.handed == []
    write_image(pictures / "new.png", 200, seed=40)
    driven.run_for(STABLE + TICK)
    assert driven.paths == [str(pictures / "new.png")]


def test_arrivals_while_paused_wait_and_are_handed_over_after_resuming(tmp_path):
    folder = downloads(tmp_path)
    driven = Driven(folder)
    driven.watcher.set_paused(True)
    driven.step()
    assert driven.status[str(folder)] == "paused"
    write_image(folder / "while-paused.png", 220, seed=15)
    driven.run_for(4 * STABLE)
    assert driven.handed == [] and driven.watcher.settling() == [str(folder / "while-paused.png")]
    driven.watcher.set_paused(False)
    driven.step()
    assert driven.paths == [str(folder / "while-paused.png")]  # it has long been stable


def test_folder_deleted_and_recreated_keeps_being_watched(tmp_path):
    folder = downloads(tmp_path)
    driven = Driven(folder)
    assert driven.status[str(folder)] == WATCHING
    shutil.rmtree(folder)
    driven.step()
    assert driven.status[str(folder)] == MISSING
    folder.mkdir()
    driven.step()
    assert driven.status[str(folder)] == WATCHING
    write_image(folder / "after.png", 220, seed=9)
    driven.run_for(STABLE + TICK)
    assert driven.paths == [str(folder / "after.png")]


UNREADABLE_FOLDER_SCRIPT = """
import sys
from pathlib import Path
from desktop.watcher import NO_PERMISSION, WATCHING
from tests.desktop.conftest import write_image
from tests.desktop.test_watcher import Driven, STABLE, TICK

folder = Path(sys.argv[1])
driven = Driven(folder)
assert driven.status[str(folder)] == WATCHING, "never watching"
folder.chmod(0)
try:
    driven.step()
    assert driven.status[str(folder)] == NO_PERMISSION, "no permission status"
finally:
    folder.chmod(0o755)
driven.step()
assert driven.status[str(folder)] == WATCHING, "not watching again"
write_image(folder / "back.png", 220, seed=10)
driven.run_for(STABLE + TICK)
assert driven.paths == [str(folder / "back.png")], "file after recovery not seen"
print("ok")
"""


def test_a_watched_folder_that_is_a_file_says_so_not_missing(tmp_path):
    """It said "missing (deleted, or its drive is unplugged); waiting for it" of a file of that name."""
    not_a_folder = tmp_path / "Downloads"
    not_a_folder.write_text("a file, not a folder")
    messages: dict[str, str] = {}
    watcher = FolderWatcher(lambda requests: None, lambda folder, state, message: messages.update({folder: message}))
    watcher.add(not_a_folder)
    watcher.poll()
    assert messages[str(not_a_folder)].startswith("not a folder")


def run_as_a_person(script: str, folder) -> None:
    """``script`` in a child process on ``folder``, where file permissions hold: as root, the child drops the
    capabilities that bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). It must print "ok"."""
    import subprocess
    import sys

    command = [sys.executable, "-c", script, str(folder)]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=repo)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_unreadable_folder_gets_a_status_not_a_crash(tmp_path):
    """A real permission error from the OS, in a child process (root reads any folder)."""
    run_as_a_person(UNREADABLE_FOLDER_SCRIPT, downloads(tmp_path))


def test_permission_error_from_the_os_becomes_a_status(tmp_path, monkeypatch):
    """Runs as root too: the OS's PermissionError is injected for this one folder (root can read
    any folder, so the test above cannot make one), then taken away again."""
    import desktop.watcher as watcher_module

    folder = downloads(tmp_path)
    driven = Driven(folder)
    real_scandir = os.scandir
    denied = {"on": True}

    def scandir(path="."):
        if denied["on"] and os.fspath(path) == str(folder):
            raise PermissionError(13, "Permission denied", str(folder))
        return real_scandir(path)

    monkeypatch.setattr(watcher_module.os, "scandir", scandir)
    driven.step()
    assert driven.status[str(folder)] == NO_PERMISSION
    denied["on"] = False
    driven.step()
    assert driven.status[str(folder)] == WATCHING
    write_image(folder / "back.png", 220, seed=11)
    driven.run_for(STABLE + TICK)
    assert driven.paths == [str(folder / "back.png")]


# --- the watcher on its own thread, with the OS's file events -------------------------------------------


class Collector:
    """What a running watcher handed over, thread-safely."""

    def __init__(self):
        self.requests: list[ScanRequest] = []
        self.status: dict[str, str] = {}
        self._lock = threading.Lock()

    def ready(self, requests):
        with self._lock:
            self.requests.extend(requests)

    def state(self, folder, state, message):
        with self._lock:
            self.status[folder] = state

    def wait_for(self, predicate, timeout=30.0):
        """Wait until ``predicate`` holds (a deadline for a hung watcher, not a guess at how long work takes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        return False


def test_a_running_watcher_hands_over_a_renamed_download_from_the_os_events_once(tmp_path):
    folder = downloads(tmp_path)
    watcher, collector = running_watcher(folder)
    try:
        data = jpeg_bytes(seed=14)
        (folder / "y.jpg.part").write_bytes(data)
        (folder / "y.jpg.part").rename(folder / "y.jpg")
        assert collector.wait_for(lambda c: len(c.requests) >= 1)
    finally:
        watcher.stop()
    watcher.request_rescan()  # one more look at everything, now that the thread has stopped
    watcher.poll()
    assert watcher.settling() == []  # nothing new or changed waits to be handed over again
    assert [(r.path, r.sha256) for r in collector.requests] == [(str(folder / "y.jpg"), sha256(data))]


def test_a_folder_that_cannot_be_watched_keeps_its_old_files_and_finds_new_ones_by_rescans(tmp_path, monkeypatch):
    """Out of inotify instances (other programs hold them; as root the limit cannot be reached, so the OS's
    error is raised here): the folder's old files were all handed over, years of photos scanned."""
    from watchdog.observers.api import BaseObserver

    def out_of_watches(self, *args, **kwargs):
        raise OSError(24, "inotify instance limit reached")

    monkeypatch.setattr(BaseObserver, "schedule", out_of_watches)
    folder = downloads(tmp_path)
    an_hour_ago = time.time() - 3600
    for index in range(3):
        old = write_image(folder / f"old-{index}.png", 200, seed=50 + index)
        os.utime(old, (an_hour_ago, an_hour_ago))
    collector, messages = Collector(), []
    watcher = FolderWatcher(collector.ready, lambda *status: (collector.state(*status), messages.append(status[2])),
                            stable_for=0.3, tick=0.05, rescan_interval=0.2)
    watcher.add(folder)
    watcher.start()
    try:
        assert collector.wait_for(lambda c: c.status.get(str(folder)) == "failed")
        write_image(folder / "new.png", 200, seed=60)
        assert collector.wait_for(lambda c: len(c.requests) >= 1)
    finally:
        watcher.stop()
    assert [r.path for r in collector.requests] == [str(folder / "new.png")]
    assert "inotify instance limit reached" in messages[-1] and "new files are still found every 0.2 s" in messages[-1]


def test_a_file_renamed_inside_the_watched_folder_is_not_an_arrival(tmp_path):
    """Renaming a flagged download told the person of it again ("seen before"), as if it had just arrived."""
    folder = downloads(tmp_path)
    watcher, collector = running_watcher(folder)
    try:
        write_image(folder / "download.png", 220, seed=70)
        assert collector.wait_for(lambda c: len(c.requests) == 1)
        (folder / "download.png").rename(folder / "cat.png")
        write_image(folder / "marker.png", 220, seed=71)  # the OS tells of it after the rename
        assert collector.wait_for(lambda c: any(r.path.endswith("marker.png") for r in c.requests))
    finally:
        watcher.stop()
    watcher.request_rescan()
    watcher.poll()
    assert watcher.settling() == []  # the new name is known, not waiting to be handed over
    assert [r.path for r in collector.requests] == [str(folder / "download.png"), str(folder / "marker.png")]


def running_watcher(folder) -> tuple[FolderWatcher, Collector]:
    """A watcher on its own thread with no periodic rescans: only the OS's events bring files in."""
    collector = Collector()
    watcher = FolderWatcher(collector.ready, collector.state, stable_for=0.3, tick=0.05, rescan_interval=3600)
    watcher.add(folder)
    watcher.start()
    assert collector.wait_for(lambda c: c.status.get(str(folder)) == WATCHING)
    return watcher, collector


def test_a_folder_deleted_and_made_again_at_once_is_heard_from_again(tmp_path):
    """rm -rf Downloads && mkdir Downloads between two passes: the old watch died with the old folder and
    only the 60 s rescan found new downloads, while the status said "Watching"."""
    folder = downloads(tmp_path)
    watcher, collector = running_watcher(folder)
    try:
        with watcher._lock:  # hold the watcher's pass while the folder is swapped, as a fast rm && mkdir does
            shutil.rmtree(folder)
            folder.mkdir()
        time.sleep(0.3)  # a few passes: the new folder is watched
        write_image(folder / "after.png", 220, seed=11)
        assert collector.wait_for(lambda c: len(c.requests) >= 1, timeout=10)
    finally:
        watcher.stop()
    assert [r.path for r in collector.requests] == [str(folder / "after.png")]


def test_a_watched_folder_that_is_a_link_to_another_drive_is_heard_from(tmp_path):
    """~/Downloads as a link to another disk: inotify heard nothing through the link."""
    target = tmp_path / "big-disk" / "Downloads"
    target.mkdir(parents=True)
    link = tmp_path / "Downloads"
    link.symlink_to(target)
    watcher, collector = running_watcher(link)
    try:
        write_image(target / "through-target.png", 220, seed=12)
        assert collector.wait_for(lambda c: len(c.requests) >= 1, timeout=10)
    finally:
        watcher.stop()
    assert [r.path for r in collector.requests] == [str(link / "through-target.png")]  # under the name given


def test_500_files_in_bursts_give_exactly_500_results(tmp_path, model_path):
    store = Store(tmp_path / "results.sqlite3")
    scanner = Scanner(Detector(model_path, provider="cpu"), store, pending=PendingWork(store))
    results, handed, lock = [], [], threading.Lock()
    done = threading.Event()

    def scan(requests):
        handed.extend(requests)
        scanner.submit(requests, on_result=on_result)

    def on_result(result):
        with lock:
            results.append(result)
            if len(results) >= 500:
                done.set()

    folder = downloads(tmp_path)
    watcher = FolderWatcher(scan, stable_for=0.3,
                            tick=0.05, rescan_interval=0.5, already_seen=lambda path, digest: store.newest_at(path) == digest)
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
        assert done.wait(120)
    finally:
        watcher.stop()
    watcher.request_rescan()  # rescans after the last burst must not add anything
    watcher.poll()
    assert watcher.settling() == []
    scanner.close()
    counts = Counter(result.path for result in results)
    assert len(results) == 500 and len(handed) == 500
    assert len(counts) == 500 and max(counts.values()) == 1
    assert all(result.ok for result in results)
    assert store.count() == 500 and store.pending() == []


UNREADABLE_FILE_SCRIPT = """
import sys
from pathlib import Path
from tests.desktop.conftest import write_image
from tests.desktop.test_watcher import Driven, STABLE, TICK

folder = Path(sys.argv[1])
driven = Driven(folder)
image = write_image(folder / "locked.png", 220, seed=11)
image.chmod(0)
driven.run_for(STABLE + TICK)
assert [r.path for r in driven.handed] == [str(image)], "handed over once, to become its error row"
driven.run_for(3 * (STABLE + TICK))
assert len(driven.handed) == 1, "not handed over again while it stays unreadable"
image.chmod(0o644)  # a chmod changes neither its size nor its modification time
driven.run_for(STABLE + TICK)
assert [r.path for r in driven.handed] == [str(image)] * 2 and driven.handed[1].sha256, "not read once readable"
print("ok")
"""


def test_a_file_unreadable_when_it_arrived_is_scanned_once_it_can_be_read(tmp_path):
    """Its permission fixed (chmod), a downloaded image stayed "permission denied" for good: a chmod changes
    neither size nor mtime, and the watcher compared only those."""
    run_as_a_person(UNREADABLE_FILE_SCRIPT, downloads(tmp_path))


def test_at_a_stop_only_files_not_yet_settled_hold_back_the_moment_kept(tmp_path):
    """What the next start looks at again: the files still settling, not every file a rescan just noticed (a
    Downloads folder of years would be read whole at the next start)."""
    folder = downloads(tmp_path)
    old = write_image(folder / "old.png", 200, seed=1)
    long_ago = time.time() - 3 * 3600
    os.utime(old, (long_ago, long_ago))
    driven = Driven(folder)
    driven.run_for(STABLE + TICK)
    assert driven.watcher.earliest_unsettled() is None
    driven.watcher.request_rescan()
    driven.watcher._check_folders()
    driven.watcher._rescan()  # a rescan's notices, not yet absorbed when the app quits
    assert driven.watcher.earliest_unsettled() is None
    arriving = write_image(folder / "arriving.png", 210, seed=2)
    driven.step()  # noticed, settling
    assert driven.watcher.earliest_unsettled() == pytest.approx(os.stat(arriving).st_mtime)
