"""The "Pair a browser" window: the only time a browser can pair with this app.

While it is open the bridge accepts pairing requests; each is listed with the
name the browser gave and the six-digit code derived from the key exchange,
which the browser's popup shows too. The person approves the request whose
code matches (another program asking at the same moment gets another code).
Paired browsers are listed with when they were paired and last used, and each
can be revoked on its own.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QGridLayout, QGroupBox, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget,
)

MAX_NAME_CHARS = 40  # a browser's own name (it chose it): longer is cut, whole in the tooltip


class RequestRow(NamedTuple):
    name: QLabel
    code: QLabel  # a column of its own, never cut: comparing it is the whole check
    approve: QPushButton
    refuse: QPushButton


def short_name(name: str) -> str:
    return name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS - 1] + "…"


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "never"
    seconds = time.time() - timestamp
    if seconds < 90:
        return "just now"
    if seconds < 3600 * 20:
        return f"{seconds / 3600:.0f} h ago" if seconds >= 3600 else f"{seconds / 60:.0f} min ago"
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


READABLE_WIDTH = 520  # the dialog's width at least: its instructions and warnings read as lines, not a column


class PairingDialog(QDialog):
    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Pair a browser")
        # A first width, not a minimum: an explicit minimum would stop the layout growing the window to fit
        # its rows (codes and warnings were cut off).
        self.resize(READABLE_WIDTH, 0)
        self._bridge = session.bridge
        self._layout = layout = QVBoxLayout(self)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self._requests_box = QGroupBox("Asking to pair")
        self._requests = QGridLayout(self._requests_box)
        layout.addWidget(self._requests_box)
        self._browsers_box = QGroupBox("Paired browsers")
        self._browsers = QGridLayout(self._browsers_box)
        layout.addWidget(self._browsers_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        layout.addWidget(buttons)
        self.request_rows: dict[str, RequestRow] = {}
        self.browser_rows: dict[str, tuple[QLabel, QPushButton]] = {}
        self._bridge.pairingChanged.connect(self.refresh)
        self._bridge.changed.connect(self.refresh)
        self.finished.connect(self._close_window)
        pairing = self._bridge.pairing
        if pairing is not None:
            pairing.open_window()  # open exactly as long as this window is
        self.refresh()

    def refresh(self) -> None:
        # The rows are rebuilt (a request arrives, a paired browser is used): a keyboard user stays on the
        # same button of the same request or browser; where that row is gone, on Close, not nowhere (and
        # never on another request's Approve, where a second Enter would approve it).
        focused = self._focused_button()
        self._refresh_rows()
        if self.isVisible():
            # A layout shows the widgets added to a shown window by a queued call: until then a new row
            # takes no focus and a click or key sent to it is lost. Shown now, the rows are whole at once.
            for grid in (self._requests, self._browsers):
                for position in range(grid.count()):
                    item = grid.itemAt(position)
                    widget = item.widget() if item is not None else None
                    if widget is not None:
                        widget.show()
        self._layout.activate()  # the new rows' sizes, before the dialog fits itself to them
        self.adjustSize()  # grows with the requests listed, so no code or warning is ever squeezed
        if self.width() < READABLE_WIDTH:  # adjustSize folds word-wrapped text into a narrow column
            self.resize(READABLE_WIDTH, self._layout.totalHeightForWidth(READABLE_WIDTH))
        if focused is not None:
            (self._button(*focused) or self.close_button).setFocus(Qt.FocusReason.OtherFocusReason)

    def _focused_button(self) -> tuple[str, int] | None:
        """(row id, button index) of the row button with keyboard focus, ("", -1) for another widget in
        the rows, None when the focus is elsewhere."""
        focus = self.focusWidget()
        if focus is None or not any(box.isAncestorOf(focus) for box in (self._requests_box, self._browsers_box)):
            return None
        return next(((key, buttons.index(focus)) for key, buttons in self._row_buttons().items() if focus in buttons),
                    ("", -1))

    def _button(self, key: str, index: int) -> QPushButton | None:
        buttons = self._row_buttons().get(key)
        return buttons[index] if buttons else None

    def _row_buttons(self) -> dict[str, tuple[QPushButton, ...]]:
        """Each request's and paired browser's buttons, by its id."""
        return {**{rid: (row.approve, row.refuse) for rid, row in self.request_rows.items()},
                **{cid: (revoke,) for cid, (_label, revoke) in self.browser_rows.items()}}

    def _refresh_rows(self) -> None:
        pairing = self._bridge.pairing
        if pairing is None:
            self.intro.setText("Switch the browser bridge on (Settings → Browser bridge) to pair a browser.")
            self._fill_requests([])
            self._fill_browsers([])
            return
        self.intro.setText("While this window is open, a browser can ask to pair: click the SynthSpot button in "
                           "the browser's toolbar, then Pair. Approve only a request whose code is the one the "
                           "browser shows.")
        self._fill_requests(pairing.pending())
        if pairing.suspended:  # a relay may be trying codes: say so, and what to do
            from engine.bridge.pairing import SUSPENDED_WARNING  # the bridge loads only when it is on

            stopped = QLabel(f"<b>{SUSPENDED_WARNING}</b> Close this window, and open it again only when you are "
                             "about to pair a browser.")
            stopped.setWordWrap(True)
            self._requests.addWidget(stopped, self._requests.rowCount(), 0, 1, 4)
        self._fill_browsers(pairing.browsers())

    def _fill_requests(self, requests) -> None:
        _clear(self._requests)
        self.request_rows = {}
        if not requests:
            self._requests.addWidget(QLabel("No browser is asking right now."), 0, 0)
        for row, request in enumerate(requests):
            name = QLabel(f"“{short_name(request.name)}”")
            name.setToolTip(request.name)
            name.setTextFormat(Qt.TextFormat.PlainText)  # the browser chose it: never markup
            code = QLabel(f"code <b>{request.code[:3]} {request.code[3:]}</b>")
            code.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
            approve, refuse = QPushButton("Approve"), QPushButton("Refuse")
            # A screen reader tabbing from button to button hears which request each answers.
            spoken = f"{short_name(request.name)}, code {request.code[:3]} {request.code[3:]}"
            approve.setAccessibleName(f"Approve {spoken}")
            refuse.setAccessibleName(f"Refuse {spoken}")
            approve.clicked.connect(lambda _=False, rid=request.request_id: self._answer(rid, True))
            refuse.clicked.connect(lambda _=False, rid=request.request_id: self._answer(rid, False))
            for column, widget in enumerate((name, code, approve, refuse)):
                self._requests.addWidget(widget, row, column)
            self.request_rows[request.request_id] = RequestRow(name, code, approve, refuse)
        self._requests.setColumnStretch(0, 1)
        if len(requests) > 1:
            several = QLabel("Several browsers ask at once: approve only the one whose code your browser shows.")
            several.setWordWrap(True)
            self._requests.addWidget(several, len(requests), 0, 1, 4)

    def _fill_browsers(self, browsers) -> None:
        _clear(self._browsers)
        self.browser_rows = {}
        if not browsers:
            self._browsers.addWidget(QLabel("None yet."), 0, 0)
        for row, browser in enumerate(browsers):
            label = QLabel(f"{short_name(browser.name)} · paired {when(browser.paired_at)} · "
                           f"last used {when(browser.last_used)}")
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setToolTip(browser.name)
            revoke = QPushButton("Revoke")
            revoke.setAccessibleName(f"Revoke {short_name(browser.name)}")
            revoke.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            revoke.clicked.connect(lambda _=False, cid=browser.client_id: self._revoke(cid))
            self._browsers.addWidget(label, row, 0)
            self._browsers.addWidget(revoke, row, 1)
            self.browser_rows[browser.client_id] = (label, revoke)
        self._browsers.setColumnStretch(0, 1)

    def _answer(self, request_id: str, approve: bool) -> None:
        pairing = self._bridge.pairing
        if pairing is not None:
            pairing.approve(request_id) if approve else pairing.refuse(request_id)
        self.refresh()

    def _revoke(self, client_id: str) -> None:
        pairing = self._bridge.pairing
        if pairing is not None:
            pairing.revoke(client_id)
        self.refresh()

    def _close_window(self) -> None:
        pairing = self._bridge.pairing
        if pairing is not None:
            pairing.close_window()
        self._bridge.pairingChanged.disconnect(self.refresh)
        self._bridge.changed.disconnect(self.refresh)


def _clear(grid: QGridLayout) -> None:
    while grid.count():
        item = grid.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.hide()  # gone from sight and the focus chain now; deleted once events run
            widget.deleteLater()
