"""One running app: settings, the store, the scan service, watched folders, the bridge.

Knows no widgets. The main window, the tray and the settings dialog read from
it and call it; it reports back with signals.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal, Slot

from desktop import bridge as bridge_glue
from desktop.export import counted
from desktop.scanning import LOADING, READY, ScanService
from desktop.settings import AppSettings, WatchedFolder
from desktop.watcher import FAILED, MISSING, NO_PERMISSION, FolderWatcher
from engine.result import LIKELY_AI, Result
from engine.scanner import ScanRequest
from engine.store import STORE_ENV, Store

ARRIVALS_GATHER_MS = 1500  # likely-AI arrivals this close together are told of in one notification
SHORT_FOLDER_STATES = {MISSING: "missing", NO_PERMISSION: "no permission", FAILED: "cannot watch"}

log = logging.getLogger(__name__)



class AppSession(QObject):
    watchStatusChanged = Signal(str)  # a one-line summary for the status bar and tray
    flagged = Signal(object)  # Result: a fresh likely-AI result (the tray's "last flagged")
    # title, message, how many arrivals it tells of: watched folders received likely-AI images. Arrivals a
    # moment apart (a burst of downloads) make one notification, not one each.
    notify = Signal(str, str, int)
    # Why the model chosen was not loaded at start: the last run ended while loading it (said once the window is up).
    modelSkipped = Signal(str)

    _watchedReady = Signal(list)
    _watchStatus = Signal(str, str, str)

    def __init__(self, settings: AppSettings, store: Store | None = None, parent: QObject | None = None,
                 model_override: str = "", unsaved_reason: str = "", pairing_folder: Path | None = None):
        super().__init__(parent)
        self.settings = settings
        self.unsaved_reason = unsaved_reason  # why results are not kept this session ("": they are)
        # Paired browsers are kept beside the history; a session on a temporary history keeps them where
        # the real one is, so its browsers stay paired (and a pairing made now is not lost).
        self._pairing_folder = pairing_folder
        # ``--model``: this run's model, over the one Settings name, and not saved; a model chosen in
        # Settings afterwards replaces it.
        self.model_override = model_override
        self.store = store or Store(os.environ.get(STORE_ENV) or None)
        self.service = ScanService(self.store, parent=self)
        self.last_flagged: Result | None = None
        self._arrivals: list[Result] = []  # likely-AI arrivals not told of yet
        self._arrivals_timer = QTimer(self)
        self._arrivals_timer.setSingleShot(True)
        self._arrivals_timer.setInterval(ARRIVALS_GATHER_MS)
        self._arrivals_timer.timeout.connect(self._tell_arrivals)
        self._folder_status: dict[str, tuple[str, str]] = {}
        self.watcher = FolderWatcher(self._watchedReady.emit, self._watchStatus.emit,
                                     stable_for=settings.stable_seconds, rescan_interval=settings.rescan_seconds,
                                     already_seen=self._already_seen)
        self.bridge = bridge_glue.BridgeController(self)
        self._watchedReady.connect(self._on_watched_ready)
        self._watchStatus.connect(self._on_watch_status)
        self.service.resultsReady.connect(self._on_results)
        self._model_in_use = (self.settings.model_path, self.settings.provider)
        self.service.modelRejected.connect(self._model_rejected)
        self.service.modelStateChanged.connect(self._model_load_ended)
        self.service.modelStateChanged.connect(lambda _state: self.bridge.model_changed())
        # Browser scans join the same results stream as everything else.
        self.bridge.resultArrived.connect(lambda result: self.service.resultsReady.emit([result]))

    @property
    def pairing_folder(self) -> Path:
        return self._pairing_folder or self.store.path.parent

    def start(self) -> None:
        path, provider = self.model_override or self.settings.model_path, self.settings.provider
        if self.settings.model_loading == _loading_key(path, provider) and (path, provider) != ("", "cpu"):
            # The last run ended while loading this model: the built-in one on the CPU instead, not a crash at
            # every start with no way into Settings.
            if not self.model_override:
                self.settings.model_path, self.settings.provider = "", "cpu"
            self.model_override = ""
            message = crash_guard_text(path, provider)
            path, provider = "", "cpu"
            log.warning("%s", message)
            QTimer.singleShot(0, lambda: self.modelSkipped.emit(message))
        self._load_model(path, provider)
        self.service.load_history()
        # Images that arrived while the app was closed are scanned too (sha256 skips known ones).
        since = self.settings.watch_last_active or None
        for folder in self.settings.watched_folders:
            self.watcher.add(folder.path, folder.recursive, since=since)
        self.watcher.set_paused(self.settings.watching_paused)
        self.watcher.start()
        self.bridge.apply(self.settings.bridge_enabled)

    def shutdown(self) -> None:
        if self.settings.model_loading:  # a quit in the middle of a load is no crash in it
            self.settings.model_loading = ""
        self.bridge.apply(False)
        self.watcher.stop()
        # Hand-overs the watcher made just before it stopped are still posted to this thread: delivered now,
        # they become pending work (a quit right after a burst lost them, and the watcher had them as done).
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        if self.settings.watched_folders and not self.settings.watching_paused:
            # Paused, it keeps the pause's start: what arrived since is held for the resume, across a restart.
            # Files still settling (a burst reads and decodes each) are looked at again at the next start: the
            # moment kept is no later than the oldest of them arrived.
            unsettled = self.watcher.earliest_unsettled()
            now = time.time()
            self.settings.watch_last_active = now if unsettled is None else max(0.0, min(now, unsettled))
        self.service.shutdown()

    # --- settings changes -------------------------------------------------------

    def set_model(self, path: str, provider: str) -> None:
        """A model the person chose (Settings' model field, the no-model banner's Choose model file… or Use
        built-in model); it replaces a --model override. A path typed as ``~/m.onnx`` or relative is saved
        whole: the next start (from a launcher, in another folder) finds it."""
        path = os.path.abspath(os.path.expanduser(path)) if path else ""
        if (path, provider) == (self.model_override or self.settings.model_path, self.settings.provider) \
                and self.service.model_state.ready:
            return  # what is in use already
        self.model_override = ""
        self._save_and_load(path, provider)

    def set_provider(self, provider: str) -> None:
        """Settings' OK with the model field untouched: the model in use stays (a --model override too), on this
        provider. Where that override failed to load, the model Settings name takes its place."""
        state = self.service.model_state.state
        if self.model_override and state not in (READY, LOADING):
            self.set_model(self.settings.model_path, provider)
        elif provider != self.settings.provider:
            self._save_and_load(self.settings.model_path, provider)

    def _save_and_load(self, path: str, provider: str) -> None:
        # Kept to go back to when the new choice does not load (ScanService.modelRejected). Not while another
        # choice is still loading: that one is dropped for this one, and the model scanning now stays in use.
        if self.service.model_state.state != LOADING:
            self._model_in_use = (self.settings.model_path, self.settings.provider)
        self.settings.model_path = path
        self.settings.provider = provider
        self._load_model(self.model_override or path, provider)

    def _load_model(self, path: str, provider: str) -> None:
        self.settings.model_loading = _loading_key(path, provider)
        self.settings.sync()  # on disk before ONNX Runtime sees the file
        self.service.load_model(path, provider)

    def _model_load_ended(self, state) -> None:
        if state.state != LOADING and self.settings.model_loading:
            self.settings.model_loading = ""
            self.settings.sync()

    def _model_rejected(self, _message: str) -> None:
        """The model chosen did not load and the one in use stays: so do the settings, for the next start."""
        self.settings.model_path, self.settings.provider = self._model_in_use

    def set_watched_folders(self, folders: list[WatchedFolder]) -> None:
        current = {f.path: f for f in self.settings.watched_folders}
        wanted: dict[str, WatchedFolder] = {}
        for folder in folders:  # the same folder twice (under a link's name too) would tell of each arrival twice
            path = os.path.abspath(folder.path)
            if all(os.path.realpath(path) != os.path.realpath(known) for known in wanted):
                wanted[path] = WatchedFolder(path, folder.recursive)
        for path, folder in current.items():
            if wanted.get(path) != folder:
                self.watcher.remove(path)
                self._folder_status.pop(path, None)
        for path, folder in wanted.items():
            if current.get(path) != folder:
                self.watcher.add(path, folder.recursive)
        self.settings.watched_folders = list(wanted.values())
        self._emit_watch_status()

    def set_watching_paused(self, paused: bool) -> None:
        if paused and not self.settings.watching_paused:
            self.settings.watch_last_active = time.time()  # the last moment files were taken in
        self.settings.watching_paused = paused
        self.watcher.set_paused(paused)
        self._emit_watch_status()

    def set_bridge_enabled(self, enabled: bool) -> None:
        self.settings.bridge_enabled = enabled
        self.bridge.apply(enabled)

    # --- watched folders ----------------------------------------------------------

    def _already_seen(self, path: str, sha256: str) -> bool:  # watcher thread
        return self.store.newest_at(path) == sha256

    @Slot(list)
    def _on_watched_ready(self, requests: list[ScanRequest]) -> None:
        # Each carries its sha256: known bytes are not read again. Without a model that can scan now the
        # service keeps them pending (the watcher will not hand them over again) until one loads.
        self.service.submit_requests(requests)

    @Slot(str, str, str)
    def _on_watch_status(self, folder: str, state: str, message: str) -> None:
        self._folder_status[folder] = (state, message)
        self._emit_watch_status()

    def folder_status(self, folder: str) -> tuple[str, str]:
        return self._folder_status.get(os.path.abspath(folder), ("starting", ""))

    def watch_summary(self) -> str:
        folders = self.settings.watched_folders
        if not folders:
            return "Not watching any folder"
        if self.settings.watching_paused:
            return f"Watching paused ({counted(len(folders), 'folder')})"
        troubled = [(path, state) for path, (state, _message) in self._folder_status.items()
                    if state not in ("watching", "paused") and path in {f.path for f in folders}]
        if troubled:  # a few words for the status bar; watch_details() gives the whole story
            path, state = troubled[0]
            name = Path(path).name or path
            name = name if len(name) <= 24 else name[:23] + "…"
            more = f" (+{len(troubled) - 1} more)" if len(troubled) > 1 else ""
            return f"{name}: {SHORT_FOLDER_STATES.get(state, state)}{more}"
        return f"Watching {counted(len(folders), 'folder')}"

    def watch_details(self) -> str:
        """Every watched folder with its state in full, one per line (the status bar's tooltip)."""
        folders = self.settings.watched_folders
        if not folders:
            return "No folder is watched: add one in Settings."
        lines = []
        for folder in folders:
            state, message = self.folder_status(folder.path)
            lines.append(f"{folder.path}: {message or state}")
        return "\n".join(lines)

    def _emit_watch_status(self) -> None:
        self.watchStatusChanged.emit(self.watch_summary())

    # --- results ------------------------------------------------------------------------

    @Slot(list)
    def _on_results(self, results: list[Result]) -> None:
        for result in results:
            if result.verdict != LIKELY_AI:
                continue
            # A file new to a watched folder is news even when its bytes are known (a copy, a re-download);
            # a known image dropped again is not.
            arrived = result.source == "watched"
            if result.cached and not arrived:
                continue
            self.last_flagged = result
            self.flagged.emit(result)
            if arrived and self.settings.notifications:
                self._arrivals.append(result)
                if not self._arrivals_timer.isActive():
                    self._arrivals_timer.start()

    def _tell_arrivals(self) -> None:
        arrivals, self._arrivals = self._arrivals, []
        if not arrivals:
            return
        if len(arrivals) == 1:
            result = arrivals[0]
            seen = ", seen before" if result.cached else ""
            self.notify.emit("Likely AI-generated image", f"{Path(result.path).name} in {Path(result.path).parent} "
                             f"({result.probability:.0%}{seen})", 1)
            return
        names = [Path(result.path).name for result in arrivals]
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        folders = {str(Path(result.path).parent) for result in arrivals}
        where = next(iter(folders)) if len(folders) == 1 else f"{len(folders)} watched folders"
        self.notify.emit(f"{len(arrivals)} likely AI-generated images", f"{listed} in {where}", len(arrivals))

    def pasted_image_path(self, how: str = "pasted", suffix: str = ".png") -> Path:
        """Where image data (pasted, or dropped from a program that sends pixels, not a file) is saved so it
        can be scanned, revealed and kept; ``how`` begins its name, ``suffix`` ends it."""
        folder = self.store.path.parent / "pasted"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H-%M-%S")
        candidate = folder / f"{how} {stamp}{suffix}"
        counter = 1
        while candidate.exists():
            counter += 1
            candidate = folder / f"{how} {stamp} ({counter}){suffix}"
        return candidate


def _loading_key(path: str, provider: str) -> str:
    return f"{provider}:{path}"


def crash_guard_text(path: str, provider: str) -> str:
    """What the person is told when the last run ended while loading this model on this provider: what is used
    instead (the built-in model on the CPU), and what to choose in Settings to try theirs again."""
    on = "" if provider in ("auto", "cpu") else f" on {provider.upper()}"
    choice = {"auto": "Automatic", "cpu": ""}.get(provider, provider.upper())  # as the provider list names it
    if not path:
        return (f"SynthSpot closed while loading the built-in model{on} last time, so this time it runs on the CPU. "
                f"To try again, choose {choice} under Execution provider in Settings.")
    name = Path(path).name
    with_provider = f", with {choice} under Execution provider" if choice else ""
    return (f"SynthSpot closed while loading {name}{on} last time, so this time it uses the built-in model on the "
            f"CPU. To try it again, choose it in Settings{with_provider}.")
