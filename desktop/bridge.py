"""Runs the engine's localhost bridge for the browser extension while the app is open.

The server lives in ``engine.bridge`` and runs on its own thread; its callbacks
come back here through queued signals, so browser results land in the same
results view as everything else.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:  # aiohttp loads with the bridge, not with the app
    from engine.bridge import BridgeServer, PairingState

log = logging.getLogger(__name__)

# The bridge pulls in aiohttp (~0.3 s to import): load it only when the user switches it on.
BRIDGE_AVAILABLE = importlib.util.find_spec("aiohttp") is not None


class BridgeController(QObject):
    changed = Signal()
    pairingChanged = Signal()  # a browser asked to pair, was approved or refused, revoked, or used
    resultArrived = Signal(object)  # Result scanned for the browser
    openRequested = Signal(str)  # sha256 the extension asked the app to show

    def __init__(self, session, parent: QObject | None = None):
        super().__init__(parent)
        self._session = session
        self._server: BridgeServer | None = None
        self.error = "" if BRIDGE_AVAILABLE else "the bridge is not part of this build"

    def _live(self) -> BridgeServer | None:
        server = self._server
        return server if server is not None and server.running else None

    @property
    def running(self) -> bool:
        return self._live() is not None

    @property
    def port(self) -> int:
        server = self._live()
        return server.port if server is not None else 0

    @property
    def pairing(self) -> PairingState | None:
        """The bridge's PairingState (window, requests, paired browsers), or None while the bridge is off."""
        server = self._live()
        return server.pairing if server is not None else None

    def status_text(self) -> str:
        pairing = self.pairing
        if pairing is not None:
            count = len(pairing.browsers())
            return f"Browser bridge on 127.0.0.1:{self.port} · {count} browser{'' if count == 1 else 's'} paired"
        return f"Browser bridge off ({self.error})" if self.error else "Browser bridge off"

    def apply(self, enabled: bool) -> None:
        if enabled and not self.running and BRIDGE_AVAILABLE:
            self._start()
        elif not enabled:
            if self._server is not None:
                server, self._server = self._server, None
                server.pairing.close_window()
                server.stop()
            self.error = ""  # switched off: why it could not start last time is no longer news
        self.changed.emit()

    def revoke(self) -> int:
        """Unpair every browser."""
        pairing = self.pairing
        count = pairing.revoke_all() if pairing is not None else 0
        self.changed.emit()
        return count

    def model_changed(self) -> None:
        if self._server is not None:
            self._server.set_scanner(self._session.service.scanner)

    def _start(self) -> None:
        from engine.bridge import DEFAULT_PORT, BridgeServer, PairingState, PortInUseError, PortUnavailableError
        from engine.bridge.pairing import PAIRING_FILE

        port = self._session.settings.bridge_port or DEFAULT_PORT
        # Called from the bridge's thread: the queued signal brings it to the windows' thread.
        pairing = PairingState(self._session.pairing_folder / PAIRING_FILE, on_change=self.pairingChanged.emit)
        server = BridgeServer(self._session.service.scanner, self._session.store, port=port, pairing=pairing,
                              on_scan=self.resultArrived.emit, on_open=self.openRequested.emit)
        try:
            server.start()
        except PortInUseError:
            self.error = f"port {port} is in use, perhaps by another SynthSpot"
            return
        except PortUnavailableError as exc:
            self.error = f"could not start: {exc.strerror}"
            return
        except Exception as exc:  # the app must keep working without the bridge
            log.exception("the bridge failed to start")
            self.error = f"could not start: {exc}"
            return
        self._server, self.error = server, ""
