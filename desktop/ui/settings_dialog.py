"""The settings dialog: model, provider, watched folders, notifications, the browser bridge."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox,
    QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
    QWidget,
)

from desktop.bridge import BRIDGE_AVAILABLE
from desktop.export import counted, model_label, provider_text
from desktop.session import SHORT_FOLDER_STATES
from desktop.settings import WatchedFolder, dialog_start_folder, suggested_watch_folder
from desktop.ui.confirm import confirmed
from desktop.ui.style import readable_indicators
from engine.model import PROVIDER_CHOICES, available_providers
from engine.models import builtin_model_available

# The watched folders' columns: where, whether its sub-folders count, and how watching it goes.
FOLDER_PATH, FOLDER_RECURSIVE, FOLDER_STATUS = range(3)
PROVIDER_LABELS = {"auto": "Automatic (CUDA when available, else CPU)", "cuda": "CUDA (NVIDIA GPU)", "cpu": "CPU"}


def thresholds_text(detector) -> str:
    if detector is None:
        return "— (no model loaded)"
    t = detector.metadata.thresholds
    text = f"likely AI ≥ {t.likely_ai:.0%}, likely real ≤ {t.likely_real:.0%}"
    if t.fpr is not None:
        text += f"; calibrated at {t.fpr:.1%} false positives on real photos"
    return text


class FolderList(QTreeWidget):
    """The watched folders. Space ticks or unticks Sub-folders on the selected rows: the keyboard's
    current cell is the path, so the tick's own column could not be reached without a mouse."""

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's naming
        current = self.currentItem()
        rows = self.selectedItems() or ([current] if current is not None else [])
        if event.key() == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier and rows:
            tick = Qt.CheckState.Unchecked if all(
                row.checkState(FOLDER_RECURSIVE) == Qt.CheckState.Checked for row in rows) else Qt.CheckState.Checked
            for row in rows:
                row.setCheckState(FOLDER_RECURSIVE, tick)
            return
        super().keyPressEvent(event)


class SettingsDialog(QDialog):
    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("SynthSpot settings")
        self.setMinimumWidth(560)
        self._session = session
        settings = session.settings
        layout = QVBoxLayout(self)
        layout.addWidget(self._model_group(settings))
        layout.addWidget(self._watch_group(settings))
        layout.addWidget(self._bridge_group(settings))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # Qt sizes a new window to at most 2/3 of the screen's height: on a 768 px laptop the folder list was
        # one row high and the hint cut mid-line. The whole dialog, where the screen has room for it.
        screen = self.screen().availableGeometry().size()
        self.resize(self.sizeHint().boundedTo(screen))

    # --- sections ---------------------------------------------------------------

    def _model_group(self, settings) -> QGroupBox:
        group = QGroupBox("Detector model")
        form = QFormLayout(group)
        self.model_path = QLineEdit(settings.model_path)
        # Touched (typed in, chosen, or the built-in asked for): OK applies this model, replacing a --model one.
        self.model_chosen = False
        self.model_path.textEdited.connect(self._model_touched)
        builtin = builtin_model_available()
        # Empty means the built-in model: where this installation has none, the field says so instead.
        self.model_path.setPlaceholderText("the built-in model" if builtin
                                           else "no built-in model here: choose a model file")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_model)
        self.use_default = default = QPushButton("Use built-in model")
        default.clicked.connect(self.model_path.clear)
        default.clicked.connect(self._model_touched)
        default.setEnabled(builtin)
        default.setToolTip("The model that comes with SynthSpot" if builtin
                           else "This installation has no built-in model")
        row = QHBoxLayout()
        row.addWidget(self.model_path, 1)
        row.addWidget(browse)
        row.addWidget(default)
        form.addRow("Model file", row)
        if self._session.model_override:
            launched = QLabel(f"This run uses {self._session.model_override}, named with --model; "
                              "a model chosen here replaces it.")
            launched.setWordWrap(True)
            form.addRow("", launched)
        self.provider = QComboBox()
        available = set(available_providers())
        for choice in PROVIDER_CHOICES:
            self.provider.addItem(PROVIDER_LABELS[choice], choice)
            if choice != "auto" and choice not in available:
                model = self.provider.model()  # a QComboBox's own model is a QStandardItemModel
                assert isinstance(model, QStandardItemModel)
                item = model.item(self.provider.count() - 1)
                item.setEnabled(False)
                item.setToolTip("not available in this onnxruntime build")
        self.provider.setCurrentIndex(max(0, self.provider.findData(settings.provider)))
        form.addRow("Execution provider", self.provider)
        self.in_use = QLabel()
        self.in_use.setWordWrap(True)  # a model's load error can be a long line; it must not widen the dialog
        form.addRow("In use", self.in_use)
        self.thresholds = QLabel()
        self.thresholds.setWordWrap(True)
        form.addRow("Thresholds", self.thresholds)
        self._show_model_in_use()
        self._session.service.modelStateChanged.connect(self._show_model_in_use)  # opened while it loads
        return group

    def _show_model_in_use(self, _state=None) -> None:
        detector = self._session.service.detector
        self.in_use.setText(f"{model_label(detector.metadata.name, detector.metadata.version)} on "
                            f"{provider_text(detector)}" if detector
                            else self._session.service.model_state.message)
        self.thresholds.setText(thresholds_text(detector))

    def _model_touched(self, *_args) -> None:
        self.model_chosen = True

    def _watch_group(self, settings) -> QGroupBox:
        group = QGroupBox("Watched folders")
        layout = QVBoxLayout(group)
        self.folders = FolderList()
        self.folders.setAccessibleName("Watched folders")
        self.folders.setAccessibleDescription("Space ticks or unticks Sub-folders on the selected folders")
        self.folders.setHeaderLabels(["Folder", "Sub-folders", "Status"])
        self.folders.setRootIsDecorated(False)
        self.folders.setMinimumHeight(self.folders.fontMetrics().height() * 7)  # the header and about four folders
        self.folders.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # the folder's own name stays in view
        self.folders.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.folders.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(FOLDER_PATH, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(FOLDER_RECURSIVE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(FOLDER_STATUS, QHeaderView.ResizeMode.ResizeToContents)
        self.no_folders = QLabel("No folder is watched yet. Add your downloads folder, say, and every image "
                                 "saved there is checked as it arrives.")
        self.no_folders.setWordWrap(True)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._add_folder)
        self.remove_folders = QPushButton("Remove")
        self.remove_folders.clicked.connect(self._remove_selected_folders)
        self.folders.itemSelectionChanged.connect(self._folders_changed)
        # The status column has a word or two; the selected folder's whole story is shown here, not only in
        # a tooltip that a keyboard user cannot open.
        self.folder_status = QLabel()
        self.folder_status.setWordWrap(True)
        self.folder_status.setTextFormat(Qt.TextFormat.PlainText)
        self.folder_status.hide()
        self.folders.currentItemChanged.connect(self._show_folder_status)
        for folder in settings.watched_folders:
            self._add_folder_item(folder)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove_folders)
        buttons.addStretch(1)
        layout.addWidget(self.folders)
        layout.addWidget(self.folder_status)
        layout.addWidget(self.no_folders)
        hint = QLabel("New image files are scanned once they are fully written; files already there are left "
                      "alone. Tick Sub-folders (or press Space on a selected folder) to watch the folders inside too.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        self._folders_changed()
        self.notifications = QCheckBox("Notify me when a watched folder receives a likely AI-generated image")
        self.notifications.setChecked(settings.notifications)
        readable_indicators(self.notifications, self.folders)  # the folders' "include sub-folders" ticks too
        layout.addWidget(self.notifications)
        return group

    def _bridge_group(self, settings) -> QGroupBox:
        group = QGroupBox("Browser bridge")
        form = QFormLayout(group)
        self.bridge_enabled = QCheckBox("Let the SynthSpot browser extension send images (127.0.0.1 only)")
        self.bridge_enabled.setChecked(settings.bridge_enabled and BRIDGE_AVAILABLE)
        readable_indicators(self.bridge_enabled)
        if not BRIDGE_AVAILABLE:
            self.bridge_enabled.setEnabled(False)
            self.bridge_enabled.setToolTip("The bridge is not part of this build")
        form.addRow(self.bridge_enabled)
        bridge = self._session.bridge
        self.bridge_status = QLabel(bridge.status_text())
        self.bridge_status.setWordWrap(True)
        form.addRow("Status", self.bridge_status)
        # Pairing is possible only while that window is open, and only with the person's approval in it.
        self.pair_browser = QPushButton("Pair a browser…")
        self.pair_browser.clicked.connect(self._open_pairing)
        self.revoke = QPushButton("Unpair all browsers")
        self.revoke.clicked.connect(self._revoke)
        row = QHBoxLayout()
        row.addWidget(self.pair_browser)
        row.addWidget(self.revoke)
        row.addStretch(1)
        form.addRow(row)
        # Like every other choice here, the switch acts on OK only (Cancel leaves the bridge as it was).
        self.bridge_enabled.toggled.connect(self._refresh_bridge)
        bridge.changed.connect(self._refresh_bridge)
        bridge.pairingChanged.connect(self._refresh_bridge)
        self._refresh_bridge()
        return group

    def _refresh_bridge(self) -> None:
        bridge = self._session.bridge
        wanted = self.bridge_enabled.isEnabled() and self.bridge_enabled.isChecked()
        status = bridge.status_text()
        if wanted and not bridge.running and not bridge.error:
            status += " · starts when you press OK or Pair a browser…"
        self.bridge_status.setText(status)
        # Pairing is an explicit wish for the bridge: offered as soon as the box is ticked, it starts the
        # bridge itself rather than sending the person through OK and back into Settings.
        self.pair_browser.setEnabled(wanted)
        paired = bridge.pairing is not None and bool(bridge.pairing.browsers())
        self.revoke.setEnabled(wanted and bridge.running and paired)
        self.pair_browser.setToolTip("" if wanted else "Tick the box above first")

    # --- actions ----------------------------------------------------------------------

    def _choose_model(self) -> None:
        start = self.model_path.text() or dialog_start_folder(self._session.settings.last_folder)
        path, _ = QFileDialog.getOpenFileName(self, "Choose a SynthSpot model", start,
                                              "ONNX models (*.onnx);;All files (*)")
        if path:
            self.model_path.setText(path)
            self.model_chosen = True

    def _add_folder_item(self, folder: WatchedFolder) -> None:
        state, message = self._session.folder_status(folder.path)
        # A word or two in the column ("missing"); the whole story in its tooltip.
        item = QTreeWidgetItem([folder.path, "", SHORT_FOLDER_STATES.get(state, state)])
        item.setData(FOLDER_PATH, Qt.ItemDataRole.UserRole, folder.path)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(FOLDER_RECURSIVE, Qt.CheckState.Checked if folder.recursive else Qt.CheckState.Unchecked)
        item.setToolTip(FOLDER_PATH, folder.path)
        item.setToolTip(FOLDER_RECURSIVE, "Ticked: the folders inside it are watched too (Space on a selected row)")
        item.setData(FOLDER_RECURSIVE, Qt.ItemDataRole.AccessibleTextRole, "Sub-folders")
        item.setToolTip(FOLDER_STATUS, message or state)
        item.setData(FOLDER_STATUS, Qt.ItemDataRole.AccessibleTextRole, message or state)
        self.folders.addTopLevelItem(item)
        self._folders_changed()

    def _show_folder_status(self, item: QTreeWidgetItem | None) -> None:
        message = item.toolTip(FOLDER_STATUS) if item is not None else ""
        troubled = item is not None and item.text(FOLDER_STATUS) in SHORT_FOLDER_STATES.values()
        self.folder_status.setText(f"{item.text(FOLDER_PATH)}: {message}" if item is not None and troubled else "")
        self.folder_status.setVisible(troubled)

    def _folders_changed(self) -> None:
        self.remove_folders.setEnabled(bool(self.folders.selectedItems()))
        self.no_folders.setVisible(self.folders.topLevelItemCount() == 0)

    def _add_folder(self) -> None:
        start = suggested_watch_folder()
        path = QFileDialog.getExistingDirectory(self, "Watch a folder", start if os.path.isdir(start) else "")
        if path:
            self.add_watched_path(path)

    def add_watched_path(self, path: str) -> None:
        """A folder chosen to watch; one already in the list, under this name or another (a link to it),
        is selected and said to be watched, not listed twice: each arrival would be scanned and told twice."""
        real = os.path.realpath(path)
        for item in self._folder_items():
            known = item.data(FOLDER_PATH, Qt.ItemDataRole.UserRole)
            if os.path.realpath(known) == real:
                self.folders.setCurrentItem(item)
                self.folder_status.setText(f"{path} is already watched" + (f", as {known}." if known != path else "."))
                self.folder_status.setVisible(True)
                return
        self._add_folder_item(WatchedFolder(path, False))

    def _remove_selected_folders(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeTopLevelItem(self.folders.indexOfTopLevelItem(item))
        self._folders_changed()

    def _open_pairing(self) -> None:
        from desktop.ui.pairing_dialog import PairingDialog

        if not self._session.bridge.running:
            self._session.set_bridge_enabled(True)
            if not self._session.bridge.running:  # the port is taken, say: the status line says why
                return
        PairingDialog(self._session, self).exec()

    def _revoke(self) -> None:
        """Every paired browser loses its key: each must pair again, so the person says so first."""
        if not confirmed(self, "Unpair all browsers?", "Every paired browser will have to pair again (in Pair a "
                         "browser…) before it can send images to SynthSpot."):
            return
        count = self._session.bridge.revoke()
        self._refresh_bridge()
        self.bridge_status.setText(f"{counted(count, 'browser')} unpaired. " + self._session.bridge.status_text())

    def watched_paths(self) -> list[str]:
        return [item.data(FOLDER_PATH, Qt.ItemDataRole.UserRole) for item in self._folder_items()]

    def watched_folders(self) -> list[WatchedFolder]:
        return [WatchedFolder(item.data(FOLDER_PATH, Qt.ItemDataRole.UserRole),
                              item.checkState(FOLDER_RECURSIVE) == Qt.CheckState.Checked)
                for item in self._folder_items()]

    def _folder_items(self) -> list[QTreeWidgetItem]:
        items = (self.folders.topLevelItem(i) for i in range(self.folders.topLevelItemCount()))
        return [item for item in items if item is not None]

    def apply(self) -> None:
        """Hand the choices to the session, which persists them and acts on them."""
        session = self._session
        session.settings.notifications = self.notifications.isChecked()
        session.set_watched_folders(self.watched_folders())
        if self.model_chosen or self.model_path.text().strip() != session.settings.model_path:
            session.set_model(self.model_path.text().strip(), self.provider.currentData())
        else:
            session.set_provider(self.provider.currentData())
        if self.bridge_enabled.isEnabled() and self.bridge_enabled.isChecked() != session.settings.bridge_enabled:
            session.set_bridge_enabled(self.bridge_enabled.isChecked())
        session.settings.sync()
