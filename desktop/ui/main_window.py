"""The main window: the results table, the detail pane, and the ways images get in."""

from __future__ import annotations

import html
import os
import sqlite3
from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelectionModel, QMimeData, QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QApplication, QFileDialog, QFrame, QLabel, QMainWindow, QMenu, QMessageBox, QSplitter,
    QStyle, QSystemTrayIcon, QToolBar, QVBoxLayout, QWidget,
)

import engine
from desktop.export import (
    COPY_DETAILS_LIMIT, counted, model_label, provider_text, result_summary, results_json,
    results_table_text,
)
from desktop.memory import release_freed_memory
from desktop.notifications import DesktopNotifications
from desktop.results_model import (
    QUEUED, ResultsFilterProxy, ResultsModel, Row, row_key, show_details, whole_result,
)
from desktop.reveal import reveal_in_file_manager
from desktop.scanning import FAILED, LOADING, NO_MODEL, READY, ModelState
from desktop.settings import dialog_start_folder
from desktop.thumbnails import ImageCache
from desktop.ui.announce import announce
from desktop.ui.banners import AlertBanner, ModelBanner
from desktop.ui.clipboard import take_mime
from desktop.ui.export_flow import export_rows
from desktop.ui.detail_pane import DETAIL_IMAGE_SIDE, DetailPane
from desktop.ui.confirm import confirmed
from desktop.ui.results_table import THUMBNAIL_SIDE, ResultsTable
from desktop.ui.scan_progress import ScanProgress
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.filter_bar import ResultFilters
from desktop.ui.focus import FOCUS_RING_ROOM, show_keyboard_focus
from desktop.ui.style import app_icon, keep_palette_readable
from desktop.ui.tray import TrayIcon
from engine.models import builtin_model_available
from engine.result import ERROR, verdict_counts_text
from engine.scanner import ScanRequest
from engine.store_errors import StoreError, says_damaged



def model_status_text(metadata, provider: str) -> str:
    """The status bar's model: "Model: synthspot-lite0 v2 (CPU)", not the bare "synthspot-lite0 2 · CPU"."""
    return f"Model: {model_label(metadata.name, metadata.version)} ({provider})"


# What the status bar says when a drop held nothing to scan; the scan's "finished" does not replace it.
NOTHING_FOUND_STARTS = ("No images found", "Could not open")


def not_opened_text(unreadable: list[tuple[str, str]]) -> str:
    """"Could not open locked (permission denied): not scanned.", with how many more folders would not open."""
    path, why = unreadable[0]
    more = f" and {counted(len(unreadable) - 1, 'more folder')}" if len(unreadable) > 1 else ""
    return f"Could not open {Path(path).name or path}{more} ({why}): not scanned."


def store_failure_advice(reason: str) -> str:
    """What to do about a history that stopped taking results, from SQLite's words: "free some disk space"
    was the advice for a damaged file too."""
    if says_damaged(reason):
        return "the history file is damaged: quit SynthSpot and start it again, which offers to set it aside"
    if "full" in reason:
        return "free some disk space"
    return "check the disk that holds it (or quit and start SynthSpot again)"


class MainWindow(QMainWindow):
    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.service = session.service
        self._quitting = False
        self._no_thumbnail = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)  # asked for on every paint
        blank = QPixmap(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        blank.fill(Qt.GlobalColor.transparent)
        self._loading_thumbnail = QIcon(blank)  # holds the thumbnail's place: names do not jump when it comes
        self._told_keeps_watching = False  # the tray's "keeps watching" note, shown on the first close only
        self._wanted_in_view: list[str] = []  # what the person just gave (files, folders): shown once it is queued
        self._follow_key = ""  # the row brought into view; kept there while re-sorting moves it
        self._alerted = None  # the Result the alert banner and the desktop notification point at
        # For the summary when the scan finishes, by row: a file queued twice at once (the same folder
        # pasted twice) may be answered twice, the second time by the cache; it is one image.
        self._verdicts_this_scan: dict[str, str] = {}
        self._unreadable_this_scan: list[tuple[str, str]] = []  # folders inside a drop that would not open
        keep_palette_readable()
        show_keyboard_focus()
        self.setWindowTitle("SynthSpot")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 780)
        ratio = self.devicePixelRatioF()
        self.thumbnails = ImageCache(THUMBNAIL_SIDE, capacity=3000, device_pixel_ratio=ratio, parent=self)
        self.detail_images = ImageCache(DETAIL_IMAGE_SIDE, capacity=12, parent=self)
        self.model = ResultsModel(self._thumbnail, self)
        self.proxy = ResultsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.thumbnails.imageReady.connect(self.model.thumbnail_ready)
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_central()
        self._build_status_bar()
        self.tray = self._build_tray()
        self.notifications = DesktopNotifications(parent=self)
        self.notifications.activated.connect(lambda _id: self.show_alerted())
        self._connect_session()
        self._restore_layout()

    # --- construction -----------------------------------------------------------------

    def _thumbnail(self, path: str):
        """A row's thumbnail; a plain file icon where there is none to make (bytes from the browser, a file
        that is not a readable image or is gone), so every name starts at the same place."""
        thumbnail = self.thumbnails.get(path) if path else None
        if thumbnail is None and (not path or self.thumbnails.failed(path)):
            return self._no_thumbnail
        return self._loading_thumbnail if thumbnail is None else thumbnail

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        # The text's "&" marks the letter that picks it in an open menu; a tooltip shows no mnemonic.
        action.setToolTip(tip or action.iconText())
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.open_files_action = self._action("&Open files…", self.open_files, QKeySequence.StandardKey.Open)
        self.open_folder_action = self._action("Open fol&der…", self.open_folder, "Ctrl+Shift+O")
        self.paste_action = self._action("&Paste image", self.paste, QKeySequence.StandardKey.Paste,
                                         "Scan an image or files from the clipboard")
        self.export_action = self._action("&Export…", self.export_results, "Ctrl+E",
                                          "Export the rows in view to CSV or JSON")
        self.settings_action = self._action("&Settings…", self.open_settings)
        # The platform's Preferences key is empty on X11 (and Windows): Ctrl+, everywhere, plus the native one.
        preferences = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        self.settings_action.setShortcuts(
            [QKeySequence("Ctrl+,")] + [key for key in preferences if key != QKeySequence("Ctrl+,")])
        self.cancel_action = self._action("&Cancel scan", self.cancel_scan, "Esc",
                                          "Stop scanning what has not started yet (Esc)")
        self.cancel_action.setEnabled(False)  # only while scanning, so Esc means nothing else then
        self.about_action = self._action("&About SynthSpot", self.show_about)
        self.model_card_action = self._action("&Model card", self.show_model_card,
                                              tip="What the loaded model is, how it decides, what it was measured on")
        self.find_action = self._action("&Find", self.focus_filter, QKeySequence.StandardKey.Find)
        self.reveal_action = self._action("Reveal in &file manager", self.reveal_selected)
        self.copy_action = self._action("&Copy result", self.copy_selected, QKeySequence.StandardKey.Copy)
        self.quit_action = self._action("&Quit", self.quit_app, QKeySequence.StandardKey.Quit)
        # Some key schemes (Windows, offscreen) have no Quit key: Ctrl+Q everywhere, as Settings gets Ctrl+,.
        quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit)
        self.quit_action.setShortcuts(quit_keys + ([] if QKeySequence("Ctrl+Q") in quit_keys
                                                   else [QKeySequence("Ctrl+Q")]))
        # Delete removes rows from the view only; scoped to the table so it never eats the filter box's Delete.
        self.remove_action = QAction("Re&move from view", self)
        self.remove_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.delete_action = QAction("&Delete from history", self)
        self.delete_action.setToolTip("Delete the selected rows from the results store for good (files stay)")
        self.delete_action.setShortcut(QKeySequence("Shift+Delete"))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.triggered.connect(self.delete_selected)
        self.rescan_action = self._action("&Rescan selected", self.rescan_selected, "Ctrl+R",
                                          "Scan the selected files again with the model in use now")
        # Not only in the tray's menu: many desktops (stock GNOME) show no tray.
        self.pause_watching_action = self._action("Pause &watching", self.session.set_watching_paused,
                                                  tip="Hold new files in watched folders until watching resumes")
        self.pause_watching_action.setCheckable(True)
        self.pause_watching_action.setChecked(self.session.settings.watching_paused)
        self.clear_history_action = self._action("C&lear history…", self.clear_history,
                                                 tip="Delete every stored result (files stay)")
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (self.open_files_action, self.open_folder_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        for action in (self.paste_action, self.copy_action, self.remove_action, self.find_action):
            edit_menu.addAction(action)
        edit_menu.addSeparator()
        for action in (self.rescan_action, self.delete_action, self.clear_history_action):
            edit_menu.addAction(action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.settings_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.reveal_action)
        view_menu.addAction(self.cancel_action)
        view_menu.addSeparator()
        view_menu.addAction(self.pause_watching_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.model_card_action)
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.open_files_action, self.open_folder_action, self.paste_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.export_action)
        toolbar.addAction(self.settings_action)
        toolbar.addSeparator()
        self.filters = ResultFilters(self.proxy)
        self.filters.add_to(toolbar)
        # After the proxy's own slots (connected first): the rows in view are filtered by then.
        self.filters.text.textChanged.connect(self._filtered)
        self.filters.verdict.currentIndexChanged.connect(self._filtered)
        self.filters.source.currentIndexChanged.connect(self._filtered)
        # Tool buttons take no focus by default: Tab must reach them for keyboard users.
        for action in toolbar.actions():
            button = toolbar.widgetForAction(action)
            if button is not None and action.text():
                button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.addToolBar(toolbar)

    def _build_central(self) -> None:
        self.banner = ModelBanner()
        self.banner.choose.clicked.connect(self.choose_model)
        self.banner.use_builtin.clicked.connect(self.use_builtin_model)
        self.banner.hide()
        self.alert_banner = AlertBanner()
        self.alert_banner.show_button.clicked.connect(self.show_alerted)
        self.alert_banner.hide()
        self.table = ResultsTable(self.proxy)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.addAction(self.remove_action)
        self.table.addAction(self.copy_action)
        self.table.addAction(self.delete_action)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.selectionModel().selectionChanged.connect(self._update_selection_actions)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._update_selection_actions)
        self.proxy.layoutChanged.connect(self._keep_followed_row_in_view)
        self.detail = DetailPane(self.detail_images)
        self.detail.image_view.setAccessibleName("Selected image with its overlays")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        # Room around the list for the keyboard's focus ring, drawn just outside it: flush with the splitter's
        # edges, three of its four sides were cut off.
        listing = QWidget()
        listing_layout = QVBoxLayout(listing)
        listing_layout.setContentsMargins(FOCUS_RING_ROOM, FOCUS_RING_ROOM, FOCUS_RING_ROOM, FOCUS_RING_ROOM)
        listing_layout.addWidget(self.table)
        self.splitter.addWidget(listing)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.alert_banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        # The panels at its right take some 600 px: a long message (a scan's summary, what was not scanned at
        # its end) is cut at the window's edge. Hovering shows it whole.
        bar.messageChanged.connect(bar.setToolTip)
        self.scan_progress = ScanProgress(self.cancel_scan)
        self.scan_progress.add_to(bar)
        self.watch_label = self._status_panel(self.session.watch_summary())
        self.watch_label.setToolTip(self.session.watch_details())
        self.bridge_label = self._status_panel()
        self.provider_label = self._status_panel("Loading model…")
        self._store_failing = False  # a write failed and none has worked since
        self.unsaved_label = self._status_panel(shown=False)
        self.history_label = self._status_panel(shown=False)  # "Newest 20,000 of 100,000 results"
        if self.session.unsaved_reason:  # the history file could not be used at start (desktop/store_recovery.py)
            self._show_not_saved("Results not saved this session",
                                 f"The history file cannot be used: {self.session.unsaved_reason}. "
                                 "What is scanned now is lost when SynthSpot quits.")

    def _status_panel(self, text: str = "", shown: bool = True) -> QLabel:
        """A framed label at the status bar's right end."""
        label = QLabel(text)
        label.setContentsMargins(10, 0, 10, 0)
        label.setFrameShape(QFrame.Shape.StyledPanel)
        label.setVisible(shown)
        self.statusBar().addPermanentWidget(label)
        return label

    def _show_not_saved(self, text: str, details: str) -> None:
        self.unsaved_label.setText(text)
        self.unsaved_label.setToolTip(details)
        self.unsaved_label.setAccessibleDescription(details)
        self.unsaved_label.show()

    def _check_store_recovered(self, results: list) -> None:
        """After a failed write (a full disk), the newest fresh result found in the store means writes work
        again: the warning goes."""
        fresh = [result for result in results if result.ok and not result.cached and result.sha256]
        if not fresh:
            return
        newest = fresh[-1]
        try:
            stored = self.session.store.get(newest.sha256, f"{newest.model_name}@{newest.model_version}")
        except Exception:  # the store is still in trouble
            return
        if stored is not None:
            self._store_failing = False
            self.unsaved_label.hide()
            self.statusBar().showMessage("Results are being saved again.", 8000)

    def _store_failed(self, reason: str) -> None:
        """Results (or the list of files waiting) could not be written, a full disk most often: the scan goes
        on and its verdicts show, but they are not kept."""
        self._store_failing = True
        self._show_not_saved("Results not being saved",
                             f"SynthSpot could not write to its history: {reason}. Verdicts still show here, but "
                             f"are not kept; {store_failure_advice(reason)}, then scan again what should be kept.")
        self.statusBar().showMessage(f"Results are not being saved: {reason}", 10000)

    def _build_tray(self) -> TrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = TrayIcon(self.session, self)
        tray.showRequested.connect(self.bring_to_front)
        tray.flaggedRequested.connect(self.show_result)
        tray.quitRequested.connect(self.quit_app)
        tray.show()
        return tray

    def _connect_session(self) -> None:
        service = self.service
        service.modelStateChanged.connect(self._model_state_changed)
        service.rowsQueued.connect(self._rows_queued)
        service.resultsReady.connect(self._results_ready)
        service.historyLoaded.connect(self.model.add_history)
        service.historyLimited.connect(self._history_limited)
        service.historyCounted.connect(self._history_counted)
        service.historyReading.connect(lambda: self.table.set_reading_history(True))
        service.historyLoaded.connect(lambda _results: self.table.set_reading_history(False))
        service.historyFailed.connect(self._history_failed)
        service.storeFailed.connect(self._store_failed)
        service.progressChanged.connect(self._progress)
        service.scanFinished.connect(self._scan_finished)
        service.nothingFound.connect(self._nothing_found)
        service.foldersUnreadable.connect(self._folders_unreadable)
        service.modelRejected.connect(self._model_rejected)
        service.leftoversResumed.connect(self._leftovers_resumed)
        self.session.watchStatusChanged.connect(self._watch_status)
        self.session.notify.connect(self._notify)
        self.session.modelSkipped.connect(self._model_skipped)
        self.session.bridge.changed.connect(self._bridge_changed)
        self.session.bridge.pairingChanged.connect(self._bridge_changed)  # "2 browsers paired" stays true
        self.session.bridge.openRequested.connect(self._open_sha256)
        self._model_state_changed(service.model_state)
        self._bridge_changed()
        self._watch_status(self.session.watch_summary())

    def _restore_layout(self) -> None:
        geometry, splitter = self.session.settings.window_geometry, self.session.settings.window_splitter
        if geometry:
            self.restoreGeometry(geometry)
        if splitter:
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([760, 520])
        if sort := self.session.settings.window_sort:  # as the person left it
            column, order = (int(part) for part in sort.split())
            self.table.sortByColumn(column, Qt.SortOrder(order))

    # --- the ways images get in ---------------------------------------------------------

    def scan_paths(self, paths: list[str], source: str) -> bool:
        """Scan what the person gave; its first row is selected and scrolled to once it is queued."""
        if not paths:
            return False
        if not self.service.submit_paths(paths, source):
            self.statusBar().showMessage("Choose a detector model first: scanning needs one.", 8000)
            self.banner.setVisible(True)
            return False
        self._wanted_in_view = [os.path.abspath(path) for path in paths]
        return True

    def _start_folder(self) -> str:
        return dialog_start_folder(self.session.settings.last_folder)

    def _remember_folder(self, folder: str) -> None:
        self.session.settings.last_folder = folder

    def open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Scan images", self._start_folder(), "Images (*.jpg *.jpeg *.png *.webp *.gif *.bmp *.tif *.tiff "
            "*.heic *.heif *.avif);;All files (*)")
        if paths:
            self._remember_folder(os.path.dirname(paths[0]))
        self.scan_paths(paths, "opened")

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Scan a folder (with its sub-folders)", self._start_folder())
        if path:
            self._remember_folder(os.path.dirname(path.rstrip(os.sep)) or path)
            self.scan_paths([path], "opened")

    def paste(self) -> None:
        self.scan_mime(QApplication.clipboard().mimeData(), "clipboard")

    def scan_mime(self, mime: QMimeData | None, source: str) -> bool:
        if mime is None:
            return False
        intake = take_mime(mime, source, self.session.pasted_image_path)
        if intake.message:
            self.statusBar().showMessage(intake.message, intake.message_ms)
        return bool(intake.paths) and self.scan_paths(intake.paths, source)

    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        # Web addresses and text are accepted too, so that dropping one is answered (scan_mime says what to do),
        # and a path dropped as text is scanned.
        if mime.hasUrls() or mime.hasImage() or mime.hasText():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self.scan_mime(event.mimeData(), "dropped"):
            event.acceptProposedAction()

    # --- the rows ---------------------------------------------------------------------------

    def _rows_queued(self, rows: list[tuple[str, str]]) -> None:
        self.model.add_queued(rows)
        if not self._wanted_in_view:
            return
        wanted = self._wanted_in_view
        for path, _source in rows:
            if any(path == given or path.startswith(given.rstrip(os.sep) + os.sep) for given in wanted):
                self._wanted_in_view = []
                self._bring_into_view(row_key(path))
                return

    def _bring_into_view(self, key: str) -> None:
        """Select a row and scroll to it, clearing the filters if they hide it: a re-dropped image that was
        scanned long ago keeps its old place in the list, and new rows may land above a scrolled view."""
        position = self.model.position_of(key)
        if position is None:
            return
        proxy_index = self.proxy.mapFromSource(self.model.index(position, 0))
        if not proxy_index.isValid():
            self.filters.clear()
            proxy_index = self.proxy.mapFromSource(self.model.index(position, 0))
        self._follow_key = key
        self.select_proxy_row(proxy_index.row())

    def _keep_followed_row_in_view(self) -> None:
        current = self.table.selectionModel().currentIndex()
        row = self.proxy.row_for(current)
        if row is not None and row.key == self._follow_key:
            self.table.scrollTo(current)

    def _results_ready(self, results: list) -> None:
        self._verdicts_this_scan.update((row_key(result.path, result.sha256), result.verdict) for result in results)
        for result in results:
            if result.ok and result.path:  # the picture shown is of the bytes scanned, not of an earlier version
                self.thumbnails.forget(result.path)
                self.detail_images.forget(result.path)
        self.model.add_results(results)
        if self._store_failing:
            self._check_store_recovered(results)
        current = self.detail.row
        if current is not None and any(row_key(r.path, r.sha256) == current.key for r in results):
            self.detail.show_row(current)

    def selected_rows(self) -> list[Row]:
        indexes = self.table.selectionModel().selectedRows()
        return [row for row in (self.proxy.row_for(index) for index in indexes) if row is not None]

    def _filtered(self) -> None:
        """A filter that hid the selected row moved the current row to one nobody chose, and the detail pane
        showed it: the pane now shows nothing until a row is chosen."""
        selection = self.table.selectionModel()
        current = selection.currentIndex()
        if current.isValid() and not selection.isRowSelected(current.row(), QModelIndex()):
            selection.clearCurrentIndex()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.proxy.row_for(current)
        if row is None or row.key != self._follow_key:
            self._follow_key = ""  # the person moved on: re-sorting no longer scrolls for them
        self.detail.show_row(show_details(row, self.session.store))

    def remove_selected(self) -> None:
        indexes = self.table.selectionModel().selectedRows()
        self._remove_rows([self.proxy.mapToSource(index).row() for index in indexes])

    def _remove_rows(self, positions: list[int]) -> None:
        """Take the model rows at ``positions`` out of the view; the row after them in view order is selected."""
        if not positions:
            return
        shown = [self.proxy.mapFromSource(self.model.index(position, 0)).row() for position in positions]
        next_row = min((row for row in shown if row >= 0), default=0)
        # Unselected first: each removal would otherwise tell the window about a changed selection it then
        # reads whole again (quadratic in the rows removed).
        self.table.selectionModel().clear()
        self.model.remove_rows(positions)
        if self.proxy.rowCount():
            self.select_proxy_row(min(next_row, self.proxy.rowCount() - 1))
        else:
            self.detail.show_row(None)

    def delete_selected(self) -> None:
        """Remove the rows from the view and delete them from the store, so they do not come back."""
        rows = self.selected_rows()
        if not rows:
            return
        # A row waiting for its scan would come back with its result: it is left, and the person told.
        waiting = sum(row.status == QUEUED for row in rows)
        rows = [row for row in rows if row.status != QUEUED]
        if not rows:
            self.statusBar().showMessage("The selected rows are still being scanned: delete them once they are "
                                         "scanned, or cancel the scan (Esc) first.", 8000)
            return
        # The store forgets the bytes wherever they were seen, and the older bytes stored at those paths: the
        # rows of their copies in other folders go too (else they would vanish only at the next start), and
        # the question says so.
        chosen = {row.key for row in rows}
        images = {row.result.sha256 for row in rows if row.result and row.result.sha256}
        try:
            older = self.session.store.stored_at([row.path for row in rows if row.path]) - images
        except StoreError:
            older = set()  # the deletion below says what is wrong with the store
        going = images | older  # once, not once per row (5,000 rows selected of 20,000: a second)
        copies = sum(1 for row in self.model.rows() if self._is_copy_of(row, going, chosen))
        # An earlier version of a file, seen elsewhere too, goes with it.
        which = (f"showing the same or an earlier version of {'it' if len(rows) == 1 else 'them'}" if older
                 else f"of the same {'image' if len(images) == 1 else 'images'}")
        also = f" and {copies} other {'row' if copies == 1 else 'rows'} {which}" if copies else ""
        if not confirmed(self, "Delete from history?", f"Delete {counted(len(rows), 'result')}{also} from this "
                         "computer's SynthSpot history? "
                         "The image files stay where they are; scanning them again gives the results again."):
            return
        forgotten: set[str] = set()
        if not self._changed_history(lambda store: forgotten.update(store.delete_history(
                [(row.path, row.result.sha256 if row.result else "") for row in rows])), "Nothing was deleted."):
            return
        # Positions only now: results may have arrived and re-sorted the rows while the question was open.
        positions = [position for position, row in enumerate(self.model.rows())
                     if row.key in chosen or self._is_copy_of(row, forgotten, chosen)]
        self._remove_rows(positions)
        if self.history_label.isVisible():  # "Newest 20,000 of 102,020" no longer holds
            self.service.count_history()
        left = f" {waiting:,} still being scanned {'was' if waiting == 1 else 'were'} left." if waiting else ""
        self.statusBar().showMessage(f"Deleted {len(positions):,} row{'' if len(positions) == 1 else 's'} from the "
                                     f"history.{left}", 8000 if waiting else 5000)

    @staticmethod
    def _is_copy_of(row: Row, images: set[str], chosen: set[str]) -> bool:
        return (row.key not in chosen and row.status != QUEUED and row.result is not None
                and row.result.sha256 in images)

    def clear_history(self) -> None:
        if self.service.busy:  # results written but not yet shown would be wiped while their rows show them
            self.statusBar().showMessage("A scan is running: clear the history once it ends, or cancel it (Esc) "
                                         "first.", 8000)
            return
        if not confirmed(self, "Clear history?", "Delete every stored result from this computer's SynthSpot "
                         "history? The image files stay where they are; scanning them again gives the results again."):
            return
        if not self._changed_history(lambda store: store.clear_history(), "Nothing was deleted."):
            return
        self.model.remove_rows([position for position, row in enumerate(self.model.rows()) if row.status != QUEUED])
        self.detail.show_row(None)
        self.history_label.hide()  # "Newest 20,000 of 100,000" no longer holds
        self.statusBar().showMessage("History cleared.", 5000)

    def _changed_history(self, change, kept: str) -> bool:
        """Run ``change(store)``; where the history cannot be changed (a full disk, a read-only or damaged
        database, another program holding it), say so instead of failing silently."""
        try:
            change(self.session.store)
        except (sqlite3.Error, OSError, StoreError) as exc:
            QMessageBox.warning(self, "History not changed",
                                f"SynthSpot could not change its history: {exc}.\n\n{kept}")
            return False
        return True

    def rescan_selected(self) -> None:
        """Scan the selected files again with the model in use, past the store's cache; each stored verdict is
        replaced when its new one is there. A file that is gone keeps its result."""
        scanner = self.service.scanner
        rows = [row for row in self.selected_rows() if row.path and row.status != QUEUED]
        if not rows:
            return
        if scanner is None:
            self.statusBar().showMessage("No detector model is loaded: choose one to rescan.", 8000)
            return
        there = {row.key: os.path.exists(row.path) for row in rows}
        gone = [row for row in rows if not there[row.key]]
        rows = [row for row in rows if there[row.key]]
        if gone:
            self.statusBar().showMessage(
                (f"{gone[0].name} no longer exists" if len(gone) == 1 else f"{len(gone)} of the files no longer exist")
                + ": not rescanned, the earlier result is kept.", 8000)
        # The stored verdicts stay until the new ones replace them: a rescan cancelled (or a crash) loses none.
        self.service.submit_requests([ScanRequest(path=row.path, source=row.source, rescan=True) for row in rows])

    def _history_limited(self, shown: int, stored: int) -> None:
        """The list holds the newest results only: say so where it stays in sight (filters and Export act on
        what the list holds)."""
        self.history_label.setText(f"Newest {shown:,} of {stored:,} results")
        self.history_label.setToolTip(f"The history holds {stored:,} results; the list shows the newest {shown:,}. "
                                      "Filters and Export work on the results in the list.")
        self.history_label.show()  # one label, however often the history is read

    def _history_counted(self, stored: int) -> None:
        """The history's size after a deletion: the label follows, or goes once the list holds it all."""
        shown = sum(1 for row in self.model.rows() if row.result is not None)  # the history's rows and new scans
        if stored > shown:
            self._history_limited(shown, stored)
        else:
            self.history_label.hide()

    def _history_failed(self, reason: str) -> None:
        QMessageBox.warning(self, "History not read",
                            f"SynthSpot could not read its history, so the list starts empty: {reason}.\n\n"
                            f"Scanning works. If the history file is damaged, quit SynthSpot, move "
                            f"{self.session.store.path} aside and start it again: a new history starts.")

    def _update_selection_actions(self, *_changed) -> None:
        """What acts on the selected rows is offered only while some are selected (Rescan and Reveal: rows
        with a file; Rescan: while a model can scan). Clear history stays: rows removed from view are still
        stored."""
        selection = self.table.selectionModel()
        with_file = self._a_selected_row_has_a_file()
        for action in (self.copy_action, self.remove_action, self.delete_action):
            action.setEnabled(selection.hasSelection())
        self.reveal_action.setEnabled(with_file)
        self.rescan_action.setEnabled(with_file and self.service.model_state.state in (READY, LOADING))

    def select_proxy_row(self, position: int) -> None:
        index = self.proxy.index(position, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)

    def show_result(self, result) -> None:
        self.bring_to_front()
        if result is None:
            return
        self._bring_into_view(row_key(result.path, result.sha256))

    def _open_sha256(self, sha256: str) -> None:
        for row in self.model.rows():
            if row.result is not None and row.result.sha256 == sha256:
                self.show_result(row.result)
                return
        self.bring_to_front()

    def row_menu(self) -> QMenu:
        """The selected rows' right-click menu."""
        menu = QMenu(self)
        for action in (self.reveal_action, self.copy_action, self.rescan_action, self.remove_action,
                       self.delete_action):
            menu.addAction(action)
        return menu

    def _context_menu(self, position) -> None:
        if self.selected_rows():
            self.row_menu().exec(self.table.viewport().mapToGlobal(position))

    def reveal_selected(self) -> None:
        rows = self.selected_rows()
        if rows and not reveal_in_file_manager(rows[0].path):
            self.statusBar().showMessage("The file is no longer where it was scanned.", 5000)

    def copy_selected(self) -> None:
        rows = [row for row in self.selected_rows() if row.result is not None]
        if len(rows) > COPY_DETAILS_LIMIT:
            # Every detail of 20,000 results was 265 MB of JSON built on this thread (a minute frozen): a table
            # of what the list shows instead, and Export for the rest.
            QApplication.clipboard().setText(results_table_text([row.result for row in rows if row.result]))
            self.statusBar().showMessage(f"Copied {len(rows):,} results as a table; Export keeps every detail.",
                                         6000)
            return
        results = [result for row in rows if (result := whole_result(row, self.session.store)) is not None]
        if not results:
            return
        mime = QMimeData()
        mime.setText("\n\n".join(result_summary(result) for result in results))
        mime.setData("application/json", results_json(results).encode("utf-8"))
        QApplication.clipboard().setMimeData(mime)
        self.statusBar().showMessage(f"Copied {counted(len(results), 'result')}.", 3000)

    def export_results(self, path: str | None = None) -> Path | None:
        visible = self.proxy.visible_rows()
        rows = [row for row in visible if row.result is not None]
        if not rows:
            hidden = self.model.rowCount() > 0  # rows there are, but the filters show none
            self.statusBar().showMessage("No rows in view to export: clear the filters to export them." if hidden
                                         else "Nothing to export yet.", 5000)
            return None
        with_results = sum(row.result is not None for row in self.model.rows())
        return export_rows(self, rows, self.session.store, self._start_folder(), path,
                           hidden=with_results - len(rows), unfinished=len(visible) - len(rows))

    def focus_filter(self) -> None:
        self.filters.focus_text()

    # --- settings and the model ------------------------------------------------------------

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a SynthSpot model", self._start_folder(),
                                              "ONNX models (*.onnx);;All files (*)")
        if path:
            self.session.set_model(path, self.session.settings.provider)
            self._warn_if_settings_unsaved()

    def use_builtin_model(self) -> None:
        self.session.set_model("", self.session.settings.provider)  # "" is the embedded default
        self._warn_if_settings_unsaved()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.session, self)
        if dialog.exec():
            dialog.apply()
            self._watch_status(self.session.watch_summary())
            self._warn_if_settings_unsaved()
        dialog.deleteLater()  # not one more child of the window, still listening to the session, per opening

    def _a_selected_row_has_a_file(self) -> bool:
        """From the selection's ranges, stopping at the first row with a file: listing every selected row took
        0.7 s per arrival with 20,000 rows selected (the selection actions are updated whenever rows arrive)."""
        ranges = self.table.selectionModel().selection()
        for selected in (ranges.at(i) for i in range(ranges.size())):
            for position in range(selected.top(), selected.bottom() + 1):
                row = self.proxy.row_for(self.proxy.index(position, 0))
                if row is not None and row.path:
                    return True
        return False

    def _warn_if_settings_unsaved(self) -> None:
        """A choice that would be lost at the next start without a word (the settings file cannot be written)."""
        if not self.session.settings.saved():
            QMessageBox.warning(self, "Settings not saved", "SynthSpot could not write its settings file "
                                f"{self.session.settings.file_name}. The changes apply until SynthSpot closes; "
                                "check that the disk is not full or read-only, then change them again.")

    def show_about(self) -> None:
        detector = self.service.detector
        model = (f"{model_label(detector.metadata.name, detector.metadata.version)} on "
                 f"{detector.active_provider.upper()}" if detector is not None else "no model loaded")
        QMessageBox.about(self, "About SynthSpot",
                          f"<b>SynthSpot {engine.__version__}</b><p>Finds AI-generated images on this computer. "
                          "Images are scanned locally with ONNX Runtime; nothing leaves the machine.</p>"
                          f"<p>Detector: {html.escape(model)}. Help ▸ Model card describes it, with its data, "
                          "licences and measured accuracy. The built-in model has never seen a text-to-image "
                          "generator (Stable Diffusion, Midjourney, DALL-E, Flux) and misses most wholly "
                          "generated pictures: \u201cLikely real\u201d is not proof of a photo.</p>"
                          "<p>Built with Qt (PySide6), ONNX Runtime, Pillow, pi-heif, c2pa-python and watchdog.</p>")

    def show_model_card(self) -> None:
        from desktop.ui.model_card import ModelCardDialog

        state = self.service.model_state
        ModelCardDialog(state.detector, state.message, self).exec()

    def _model_state_changed(self, state: ModelState) -> None:
        scanning_possible = state.state in (READY, LOADING)
        for action in (self.open_files_action, self.open_folder_action, self.paste_action):
            action.setEnabled(scanning_possible)
        if state.state in (NO_MODEL, FAILED):
            # Offered where a file of the person's own failed and the built-in one is there to go back to.
            self.banner.use_builtin.setVisible(bool(self.session.settings.model_path) and builtin_model_available())
            self.banner.show_message(html.escape(state.message).replace("\n", "<br>"), state.message)
            self.provider_label.setText("No model")
        else:
            self.banner.hide()
        self.table.set_can_scan(scanning_possible)
        self.detail.set_can_scan(scanning_possible)
        self._update_selection_actions()
        if state.state == LOADING:
            self.provider_label.setText("Loading model…")
        if state.state == READY and (detector := state.detector) is not None:
            provider = provider_text(detector)
            self.detail.set_model_has_artifact_map(detector.has_artifact_map)
            self.provider_label.setText(model_status_text(detector.metadata, provider))
            self.provider_label.setToolTip(f"Model file: {detector.path}\nExecution provider in use: {provider}")

    def _leftovers_resumed(self, count: int, with_folders: bool) -> None:
        what = f"{count} {'files and folders' if with_folders else 'file' if count == 1 else 'files'}"
        text = f"Scanning {what} left unscanned when SynthSpot last closed."
        self.statusBar().showMessage(text, 15000)
        announce(self.statusBar(), text)

    def _model_skipped(self, message: str) -> None:
        self.statusBar().showMessage("The built-in model on the CPU is in use this time.", 10000)
        QMessageBox.warning(self, "Back to the built-in model", message)

    def _model_rejected(self, message: str) -> None:
        detector = self.service.detector
        kept = f"SynthSpot keeps using {model_label(detector.metadata.name, detector.metadata.version)}." \
            if detector is not None else ""
        self.statusBar().showMessage(f"That model was not loaded. {kept}", 10000)
        QMessageBox.warning(self, "Model not loaded", f"{message}\n\n{kept}")

    def _progress(self, done: int, total: int) -> None:
        if not self.scan_progress.show(done, total) or self.scan_progress.cancelling:
            return
        self.cancel_action.setEnabled(True)
        if self.tray:
            self.tray.set_status(f"Scanning {done} of {total}")

    def cancel_scan(self) -> None:
        """Stop what has not started, and say so at once."""
        if not self.service.busy or self.scan_progress.cancelling:
            return
        self.service.cancel()
        self.scan_progress.start_cancelling()
        self.cancel_action.setEnabled(False)
        self.statusBar().showMessage("Cancelling: the images already being scanned finish first…")
        if self.tray:
            self.tray.set_status("Cancelling the scan…")

    def _scan_finished(self, cancelled: bool) -> None:
        # What the scan's threads decoded is freed but kept by the C library: give it back, or one 48 MP
        # photo leaves the app twice its size for the rest of the session.
        release_freed_memory()
        self.scan_progress.finish()
        self.cancel_action.setEnabled(False)
        verdicts, self._verdicts_this_scan = list(self._verdicts_this_scan.values()), {}
        unreadable, self._unreadable_this_scan = self._unreadable_this_scan, []
        if not cancelled:
            self.model.drop_unanswered()
        if cancelled:
            count = self.model.mark_cancelled()
            self.statusBar().showMessage(
                f"Cancelled; {count} file{'s were' if count != 1 else ' was'} not scanned (Ctrl+R scans them).", 8000)
        elif verdicts:
            # "files" once one could not be read: a text file dropped with the photos is no image.
            noun = "file" if ERROR in verdicts else "image"
            finished = f"Scan finished: {counted(len(verdicts), noun)}: {verdict_counts_text(verdicts)}."
            if unreadable:
                finished += " " + not_opened_text(unreadable)
            self.statusBar().showMessage(finished, 15000)
            announce(self.statusBar(), finished)
        elif not self.statusBar().currentMessage().startswith(NOTHING_FOUND_STARTS):  # that says more: it stays
            self.statusBar().showMessage("Scan finished.", 4000)
        if self.tray:
            self.tray.set_status("Idle")

    def _nothing_found(self, paths: list) -> None:
        # Folders that would not open are said with a scan's summary; with no image found there is none.
        unreadable, self._unreadable_this_scan = self._unreadable_this_scan, []
        not_opened = {os.path.abspath(path) for path, _ in unreadable}
        searched = [path for path in paths if os.path.abspath(path) not in not_opened]
        message = not_opened_text(unreadable) if unreadable else ""
        if searched:  # not for a locked folder dropped alone: it was never looked into
            names = ", ".join(Path(path).name or path for path in searched[:3]) + (" …" if len(searched) > 3 else "")
            message = f"No images found in {names}: nothing to scan (sub-folders were searched too). {message}"
        self.statusBar().showMessage(message.strip(), 15000 if unreadable else 10000)

    def _folders_unreadable(self, folders: list) -> None:
        self._unreadable_this_scan.extend(folders)  # said with the scan's summary, which would cover it

    def _watch_status(self, text: str) -> None:
        self.watch_label.setText(text)
        self.watch_label.setToolTip(self.session.watch_details())
        paused = self.session.settings.watching_paused
        self.pause_watching_action.setChecked(paused)
        pausable = bool(self.session.settings.watched_folders) or paused
        self.pause_watching_action.setEnabled(pausable)
        if self.tray:
            self.tray.pause_action.setChecked(paused)
            self.tray.pause_action.setEnabled(pausable)  # as the menu's: nothing to pause without a folder
            self.tray.setToolTip(f"SynthSpot — {text}")  # the pause shows without opening the menu

    def _bridge_changed(self) -> None:
        self.bridge_label.setText(self.session.bridge.status_text())

    def _notify(self, title: str, message: str, arrivals: int) -> None:
        """Likely-AI arrivals: a banner that stays until seen, and a pop-up outside the window (the tray's
        where there is one, else the desktop's notification server over D-Bus)."""
        self._alerted = self.session.last_flagged
        self.alert_banner.alert(title, message, arrivals)
        if self.tray is not None and self.tray.supportsMessages():
            self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 8000)
        else:
            self.notifications.send(title, message)

    def show_alerted(self) -> None:
        self.alert_banner.dismiss()
        self.show_result(self._alerted)

    # --- window life ----------------------------------------------------------------------------

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            # A theme switch: once the new palette is complete, keep its placeholder text readable.
            QTimer.singleShot(0, self, keep_palette_readable)
        super().changeEvent(event)

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event) -> None:
        if self.tray is not None and self.session.settings.watched_folders and not self._quitting:
            self.hide()  # keep watching from the tray
            if not self._told_keeps_watching:  # once a session: after that the person knows
                self._told_keeps_watching = True
                self.tray.showMessage("SynthSpot keeps watching", "Quit from the tray icon's menu.",
                                      QSystemTrayIcon.MessageIcon.Information, 4000)
            event.ignore()
            return
        if self.tray is None and self.session.settings.watched_folders and not self._quitting \
                and not self._confirm_quit_stops_watching():
            event.ignore()
            return
        self._save_layout()
        event.accept()
        QTimer.singleShot(0, QApplication.quit)

    def _confirm_quit_stops_watching(self) -> bool:
        """Without a tray, closing the window ends the app and its watching: say so, and let the person stay."""
        count = len(self.session.settings.watched_folders)
        folders = "the watched folder" if count == 1 else f"the {count} watched folders"
        box = QMessageBox(QMessageBox.Icon.Question, "Quit SynthSpot?",
                          f"Closing the window quits SynthSpot, and {folders} will no longer be watched.",
                          QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText("Images that arrive meanwhile are scanned the next time SynthSpot starts.")
        quit_button = box.addButton("Quit and stop watching", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is quit_button

    def quit_app(self) -> None:
        self._quitting = True
        self._save_layout()
        QApplication.quit()

    def _save_layout(self) -> None:
        self.session.settings.window_geometry = bytes(self.saveGeometry().data())
        self.session.settings.window_splitter = bytes(self.splitter.saveState().data())
        header = self.table.horizontalHeader()
        self.session.settings.window_sort = f"{header.sortIndicatorSection()} {header.sortIndicatorOrder().value}"

    def shutdown(self) -> None:
        self.thumbnails.stop()
        self.detail_images.stop()
        self.detail.stop()
