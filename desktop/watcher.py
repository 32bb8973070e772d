"""Watched folders: hand newly arrived image files to the scanner, once each.

Browsers write a download in pieces (``x.jpg.crdownload``, ``x.jpg.part``)
and rename it when done, so the watcher

* ignores partial-download names and zero-byte files, and files that are neither images by content
  nor by name (an image name on bytes that do not decode becomes an error row),
* reacts to created, modified, closed and moved events (a finished download arrives as a rename),
* waits until a file's size and mtime have been stable for ``stable_for`` seconds AND the engine's
  decoder reads it whole: a download written straight to its final name may pause longer than any
  quiet interval. An incomplete image is checked again after each further quiet interval, up to
  ``incomplete_checks`` times, and only then handed over (to become an error row: it stayed broken),
* hands over at once a file whose first bytes are no image at all (a name that says image on other
  bytes becomes an error row),
* hands over everything that settled in one tick as one batch (debouncing bursts),
* rescans each folder every ``rescan_interval`` seconds for events the OS dropped,
* reads a settled file once: the same bytes show whether the image is whole and give its sha256,
  which travels with the :class:`ScanRequest` it hands over (the scanner then reuses a stored
  result for known bytes without reading the file again),
* decides alone whether an arrival is news: it skips a file whose content is what was last handed
  over from that path (in this run, or else the store's newest sighting there): a touched file is not
  news, but an image put back where another had replaced it is. The same bytes under a new name are
  handed over (a new file is a new sighting, shown and notified with the stored verdict, which the
  scanner's cache makes cheap), except a file renamed within one watched folder (its tree, when watched
  with sub-folders): the person's own tidying is not an arrival. A move from one watched folder to
  another reaches the watcher as a deletion and a creation, and is handed over.

A folder that disappears (deleted, a drive unplugged) or cannot be read gets a
status instead of an exception, and is watched again when it comes back.

Qt-free: callbacks run on the watcher's own thread; the app marshals them. The settling logic reads
time only from ``clock`` and runs one pass per :meth:`FolderWatcher.poll`, so tests drive it with a
fake clock, without the thread or sleeps.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from engine.decode import MAX_FILE_BYTES, DecodeError, verify_complete
from engine.files import is_image_file, name_says_image, read_regular_file, sniff_image
from engine.scanner import ScanRequest

log = logging.getLogger(__name__)

MTIME_MARGIN_S = 2.0
# Settled as "could not be read" (no permission, a lock): no file's signature equals it, so each notice or
# rescan looks again; a chmod changes neither size nor mtime, and the image was never scanned.
UNREADABLE = (-1, -1)
PARTIAL_SUFFIXES = (".crdownload", ".part", ".partial", ".download", ".tmp", ".opdownload")

WATCHING = "watching"
MISSING = "missing"
NO_PERMISSION = "no_permission"
FAILED = "failed"
PAUSED = "paused"

SOURCE = "watched"

ReadyCallback = Callable[[list[ScanRequest]], None]
StatusCallback = Callable[[str, str, str], None]  # folder, state, message


@dataclass
class FolderState:
    path: str
    recursive: bool
    state: str = MISSING
    message: str = ""
    watch: ObservedWatch | None = None  # while scheduled
    # (st_dev, st_ino) of the folder the watch was put on: a folder deleted and made again, or another
    # drive mounted there, is another folder, and the old watch hears nothing from it.
    identity: tuple[int, int] | None = None
    since: float = 0.0  # files modified before this, found when watching starts, are left alone
    baselined: bool = False


@dataclass
class _Candidate:
    signature: tuple[int, int]  # (size, mtime_ns)
    stable_since: float
    incomplete_checks: int = 0  # quiet intervals after which it still did not decode whole


class _Read(NamedTuple):
    complete: bool  # the engine's decoder reads it whole, or its first bytes are no image at all
    sha256: str  # "" when the file could not be read


def read_settled(path: str) -> _Read:
    """One read of a settled file: whether it holds a whole image, as the engine's decoder reads it (a
    file that is no image by its first bytes counts as complete: there is nothing more to wait for),
    and the sha256 of those same bytes."""
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except OSError:
        return _Read(True, "")  # gone, unreadable or too large: the scanner says why, as an error row
    digest = hashlib.sha256(data).hexdigest()
    if not sniff_image(data[:32]):
        return _Read(True, digest)
    try:
        verify_complete(data)
    except DecodeError:
        return _Read(False, digest)
    return _Read(True, digest)


def is_partial_download(path: str) -> bool:
    return path.lower().endswith(PARTIAL_SUFFIXES)


def file_signature(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


class _EventHandler(FileSystemEventHandler):
    """Hands a folder's events to the watcher, under the folder's name as the person gave it: a watched
    ~/Downloads that is a link to another drive is watched at its target, whose names are given back
    under the link (inotify hears nothing through a link itself)."""

    def __init__(self, watcher: FolderWatcher, watched: str, given: str):
        self._watcher = watcher
        self._watched, self._given = watched, given

    def _given_name(self, raw_path: bytes | str) -> str:
        path = os.fsdecode(raw_path)
        if self._watched != self._given and _inside(path, self._watched):
            path = self._given + path[len(self._watched):]
        return path

    def _notice(self, raw_path: bytes | str) -> None:
        self._watcher._notice(self._given_name(raw_path))

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._notice(event.src_path)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._notice(event.src_path)

    def on_closed(self, event: FileSystemEvent) -> None:
        self._notice(event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if event.is_directory:  # a folder moved in: look inside at the next tick
            self._watcher.request_rescan()
        else:
            self._watcher._notice_move(self._given_name(event.src_path), self._given_name(event.dest_path))


class FolderWatcher:
    """Watches folders and reports settled, new image files through ``on_ready``."""

    def __init__(self, on_ready: ReadyCallback, on_status: StatusCallback | None = None,
                 stable_for: float = 1.5, tick: float = 0.25, rescan_interval: float = 60.0,
                 already_seen: Callable[[str, str], bool] | None = None, incomplete_checks: int = 8,
                 clock: Callable[[], float] = time.monotonic):
        self._on_ready = on_ready
        self._clock = clock  # seconds; only differences matter
        self._on_status = on_status
        self.stable_for = stable_for
        self.incomplete_checks = incomplete_checks
        self.tick = tick
        self.rescan_interval = rescan_interval
        self._already_seen = already_seen  # (path, sha256): the newest seen there, by an earlier run
        self._folders: dict[str, FolderState] = {}
        self._noticed: set[str] = set()  # paths from events, waiting for the next tick
        self._candidates: dict[str, _Candidate] = {}
        self._settled: dict[str, tuple[int, int]] = {}  # path -> signature when handled or left alone
        self._seen: dict[str, str] = {}  # path -> sha256 last handed over from it in this run
        self._moves: list[tuple[str, str]] = []  # (from, to) renames heard, waiting for the next tick
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._rescan_due = True
        self._last_rescan: float | None = None
        self._paused = False
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None

    # --- public API (any thread) ----------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._observer = observer = Observer()
        observer.start()
        self._thread = threading.Thread(target=self._run, name="synthspot-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._thread = None
        observer, self._observer = self._observer, None
        if observer is None:
            return
        try:
            observer.stop()
            observer.join(timeout=10)
        except Exception:  # an emitter for a vanished folder may complain on the way out
            log.debug("observer stop failed", exc_info=True)

    def add(self, path: str | os.PathLike, recursive: bool = False, since: float | None = None) -> None:
        """Watch a folder. Files already there and last modified before ``since`` (default:
        now) are left alone; the listing happens on the watcher's thread, not the caller's."""
        path = os.path.abspath(os.fspath(path))
        since = time.time() if since is None else since
        with self._lock:
            if path in self._folders:
                return
            self._folders[path] = FolderState(path, recursive, since=since)
        self._rescan_due = True
        self._wake.set()

    def remove(self, path: str | os.PathLike) -> None:
        path = os.path.abspath(os.fspath(path))
        with self._lock:
            folder = self._folders.pop(path, None)
            if folder is None:
                return
            self._unschedule(folder)
            self._candidates = {p: c for p, c in self._candidates.items() if not _inside(p, path)}

    def set_paused(self, paused: bool) -> None:
        """While paused, arrivals are remembered and handed over after resuming."""
        self._paused = paused
        if not paused:
            self._rescan_due = True
        self._wake.set()

    # --- the watcher thread ---------------------------------------------------

    def _notice(self, path: str) -> None:
        with self._lock:
            self._noticed.add(path)

    def _notice_move(self, source: str, destination: str) -> None:
        with self._lock:
            self._moves.append((source, destination))
            self._noticed.add(destination)

    def request_rescan(self) -> None:
        """Look at every file of every folder at the next pass (a folder moved in; a test's last look)."""
        self._rescan_due = True

    def settling(self) -> list[str]:
        """Files noticed and not yet handed over or left alone: waiting to settle (between passes: driven by
        :meth:`poll`, or after :meth:`stop`)."""
        return sorted(self._candidates)

    def earliest_unsettled(self) -> float | None:
        """The oldest modification time (wall clock) of the files noticed and not yet handed over or left
        alone; None when there are none. After :meth:`stop`: what the next start must look at again."""
        with self._lock:
            noticed = self._noticed | {destination for _source, destination in self._moves}
        times = []
        for path in set(self._candidates) | noticed:
            if is_partial_download(path):
                continue
            try:
                info = os.stat(path)
            except OSError:  # gone meanwhile: nothing to look at
                continue
            # A rescan notices every file: those already settled as they are now are not news (an old
            # Downloads folder would otherwise be read whole at the next start).
            if path not in self._candidates and self._settled.get(path) == (info.st_size, info.st_mtime_ns):
                continue
            times.append(info.st_mtime)
        return min(times, default=None)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # the watcher must outlive any one bad file or callback
                log.exception("watcher tick failed")
            self._wake.wait(self.tick)
            self._wake.clear()

    def poll(self) -> None:
        """One pass: folders' states, a rescan when one is due, the events since the last pass, and what
        has settled handed over. The watcher's thread calls it every ``tick``; without :meth:`start` (no
        thread, no OS events) a caller drives the watcher with it and its ``clock``, and the rescans find
        what arrived."""
        now = self._clock()
        self._check_folders()
        if self._rescan_due or self._last_rescan is None or now - self._last_rescan >= self.rescan_interval:
            self._rescan_due = False
            self._last_rescan = now
            self._rescan()
        self._absorb_noticed(now)
        if not self._paused:
            ready = self._settle(now)
            if ready:
                self._on_ready(ready)

    def _check_folders(self) -> None:
        """(Re)attach watches to folders that exist and are readable; give the rest a status."""
        with self._lock:
            folders = list(self._folders.values())
        for folder in folders:
            state, message = self._probe(folder.path)
            identity = _identity(folder.path) if state == WATCHING else None
            if state == WATCHING and not folder.baselined:
                # Before the watch: files already there are old even when no watch can be placed (the
                # rescans still find new ones), and a rescan never sees a folder before its baseline.
                self._baseline(folder)
            if folder.watch is not None and (identity != folder.identity or not self._hearing(folder)):
                # Another folder now (deleted and made again, or another drive mounted there): the old watch
                # died with the old one, or hears nothing from this one.
                self._unschedule(folder)
                self._rescan_due = True  # what arrived since the old one went
            if state == WATCHING and folder.watch is None and self._observer is not None:
                target = os.path.realpath(folder.path)
                try:
                    folder.watch = self._observer.schedule(_EventHandler(self, target, folder.path), target,
                                                           recursive=folder.recursive)
                    folder.identity = identity
                except PermissionError as exc:
                    state, message = NO_PERMISSION, f"permission denied: {exc.strerror or exc}"
                except OSError as exc:
                    state, message = FAILED, (f"cannot watch: {exc.strerror or exc}; new files are still found "
                                              f"every {self.rescan_interval:g} s")
            if state == WATCHING:
                if folder.state not in (WATCHING, PAUSED):
                    self._rescan_due = True  # it came back: look at what arrived meanwhile
            if state != WATCHING and folder.watch is not None:
                self._unschedule(folder)
            if self._paused and state == WATCHING:
                state, message = PAUSED, "watching is paused"
            if (state, message) != (folder.state, folder.message):
                folder.state, folder.message = state, message
                if self._on_status:
                    self._on_status(folder.path, state, message)

    def _baseline(self, folder: FolderState) -> None:
        # A margin for coarse file-system clocks (FAT keeps mtimes to 2 s): scanning a file
        # twice is cheap, since the sha256 check skips it; missing a new one is not.
        cutoff_ns = int((folder.since - MTIME_MARGIN_S) * 1e9)
        for file_path in self._list_files(folder.path, folder.recursive):
            try:
                info = os.stat(file_path)
            except OSError:
                continue
            # Both times: a file moved or copied in with its old modification time (mv, cp -p, rsync -a)
            # while the app was closed is new here, and its inode change time (the kernel's clock, no
            # margin needed) says so.
            if info.st_mtime_ns < cutoff_ns and info.st_ctime_ns < folder.since * 1e9:
                self._settled[file_path] = (info.st_size, info.st_mtime_ns)  # as file_signature gives it
        folder.baselined = True

    @staticmethod
    def _probe(path: str) -> tuple[str, str]:
        if not os.path.isdir(path):
            if os.path.lexists(path):  # a file (or a broken link) of that name: waiting would not help
                return FAILED, "not a folder: a file of that name is there; choose the folder in Settings"
            return MISSING, "missing (deleted, or its drive is unplugged); waiting for it"
        try:
            with os.scandir(path) as entries:
                next(entries, None)
        except PermissionError:
            return NO_PERMISSION, "permission denied: SynthSpot cannot read this folder"
        except OSError as exc:
            return FAILED, f"cannot read the folder: {exc.strerror or exc}"
        return WATCHING, ""

    def _hearing(self, folder: FolderState) -> bool:
        """Whether the folder's watch still runs: watchdog stops it when the folder it was put on goes
        (a new folder of the same name may even get the old one's inode number)."""
        if self._observer is None:
            return True
        try:
            emitters = list(self._observer.emitters)
        except RuntimeError:  # the observer's set changed as it was read: look again at the next pass
            return True
        return any(emitter.watch == folder.watch and emitter.is_alive() for emitter in emitters)

    def _unschedule(self, folder: FolderState) -> None:
        if folder.watch is not None and self._observer is not None:
            try:
                self._observer.unschedule(folder.watch)
            except Exception:  # the emitter of a deleted folder may already be gone
                log.debug("unschedule failed", exc_info=True)
            folder.watch = None

    def _rescan(self) -> None:
        with self._lock:
            folders = [(f.path, f.recursive) for f in self._folders.values() if f.baselined]
        for path, recursive in folders:
            for file_path in self._list_files(path, recursive):
                self._notice(file_path)

    @staticmethod
    def _list_files(path: str, recursive: bool) -> list[str]:
        found: list[str] = []
        try:
            if recursive:
                for folder, _subfolders, names in os.walk(path):
                    found.extend(os.path.join(folder, name) for name in names)
            else:
                with os.scandir(path) as entries:
                    found = [entry.path for entry in entries if entry.is_file(follow_symlinks=False)]
        except OSError:
            return []
        return found

    def _absorb_noticed(self, now: float) -> None:
        with self._lock:
            noticed, self._noticed = self._noticed, set()
            moves, self._moves = self._moves, []
            roots = [(f.path, f.recursive) for f in self._folders.values() if f.baselined]
        for source, destination in moves:
            # A file renamed inside the watched folders keeps what was known of it: the same signature (a
            # rename keeps size and mtime) is then not news at its new name.
            if source in self._settled and any(_watched_by(source, root, rec) for root, rec in roots):
                self._settled[destination] = self._settled.pop(source)
                if source in self._seen:
                    self._seen[destination] = self._seen.pop(source)
        for path in noticed:
            if is_partial_download(path) or not any(_watched_by(path, root, rec) for root, rec in roots):
                continue
            signature = file_signature(path)
            if signature is None or self._settled.get(path) == signature:
                continue
            candidate = self._candidates.get(path)
            if candidate is None or candidate.signature != signature:
                self._candidates[path] = _Candidate(signature, now)

    def _settle(self, now: float) -> list[ScanRequest]:
        ready = []
        for path, candidate in list(self._candidates.items()):
            signature = file_signature(path)
            if signature is None:  # deleted or renamed away before it settled
                del self._candidates[path]
                continue
            if signature != candidate.signature:
                self._candidates[path] = _Candidate(signature, now)
                continue
            if now - candidate.stable_since < self.stable_for:
                continue
            del self._candidates[path]
            self._settled[path] = signature
            # Zero bytes: a browser's placeholder for a download still in progress, not yet an error. A name
            # that says image on bytes that do not read as one is handed over, to become an error row.
            if signature[0] == 0 or not (is_image_file(path) or name_says_image(os.path.basename(path))):
                continue  # a later write changes the signature and brings it back
            read = read_settled(path)
            now_signature = file_signature(path)
            if now_signature != signature:  # changed while it was read: let it settle again
                self._settled.pop(path, None)
                if now_signature:
                    self._candidates[path] = _Candidate(now_signature, now)
                continue
            if not read.complete and candidate.incomplete_checks < self.incomplete_checks:
                # Half written, with a pause: wait another quiet interval (a write resets the count).
                self._settled.pop(path, None)
                self._candidates[path] = _Candidate(signature, now, candidate.incomplete_checks + 1)
                continue
            if not read.sha256:
                self._settled[path] = UNREADABLE  # handed over once (its error row) while it stays so
            # A touched file whose content did not change is not news; a new name for known bytes is, and so
            # are bytes put back where others were seen since. This run knows best what it handed over.
            if path in self._seen:
                if self._seen[path] == read.sha256:
                    continue
            elif read.sha256 and self._already_seen and self._already_seen(path, read.sha256):
                continue
            self._seen[path] = read.sha256
            ready.append(ScanRequest(path=path, source=SOURCE, sha256=read.sha256, gone_is_unscanned=True))
        return ready


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)  # through a link: the folder watched
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _watched_by(path: str, root: str, recursive: bool) -> bool:
    if not _inside(path, root):
        return False
    return recursive or os.path.dirname(path) == root.rstrip(os.sep)
