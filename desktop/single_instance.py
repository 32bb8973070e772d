"""One SynthSpot window per user (and results store): a second launch hands its paths to the first.

Two windows would mean two watchers scanning the same folders and a second bridge that cannot bind
its port. The first launch listens on a QLocalServer; a later one connects, sends the paths from its
command line as one JSON line, waits for the answer and exits, and the first window scans them and
comes to the front.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_MS = 1000
ANSWER_TIMEOUT_MS = 5000
ACK = b"ok\n"
# What a launch found: a running app that took its paths, none (this launch is the first), or one that
# took the connection and did not answer in time (busy: its paths wait in the socket for it).
HANDED, NONE_RUNNING, BUSY = "handed", "none", "busy"


def instance_name(store_path: str | os.PathLike) -> str:
    """Per user, and per results store, so a portable or test store gets its own app."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment: the store path still separates users
        user = "user"
    digest = hashlib.sha256(os.path.abspath(os.fspath(store_path)).encode("utf-8", "surrogateescape")).hexdigest()
    return f"synthspot-{user}-{digest[:12]}"


def send_to_running(name: str, paths: list[str]) -> str:
    """Hand ``paths`` to the running instance: HANDED, NONE_RUNNING (this launch is then the first) or BUSY.
    A busy one is never taken over: it holds the history and the watched folders, and two apps would
    both scan them."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return NONE_RUNNING
    socket.write(json.dumps({"paths": [os.path.abspath(p) for p in paths]}).encode("utf-8") + b"\n")
    socket.flush()
    answered = socket.waitForReadyRead(ANSWER_TIMEOUT_MS) and bytes(socket.readAll().data()) == ACK
    socket.disconnectFromServer()
    return HANDED if answered else BUSY


class InstanceServer(QObject):
    """Listens for later launches; ``pathsReceived`` carries each one's paths (maybe none)."""

    pathsReceived = Signal(object)  # list[str]: a Signal(list) of strings drops the lone surrogates of odd names

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}
        # Launches answered before the window exists (a dialog at start runs the event loop): their paths
        # wait here for deliver_to, instead of going to a signal nothing listens to yet.
        self._early: list[list[str]] | None = []

    def deliver_to(self, receiver) -> None:
        """Hand every launch's paths to ``receiver``: those that arrived early now, later ones as they come."""
        early, self._early = self._early or [], None
        self.pathsReceived.connect(receiver)
        for paths in early:
            receiver(paths)

    def listen(self) -> bool:
        if self._server.listen(self.name):
            return True
        if self._server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
            # Left behind by an app that crashed (nobody answered send_to_running): take it over.
            QLocalServer.removeServer(self.name)
            if self._server.listen(self.name):
                return True
        log.warning("cannot listen for later launches: %s", self._server.errorString())
        return False

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda socket=socket: self._read(socket))
            socket.disconnected.connect(lambda socket=socket: self._forget(socket))

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        self._buffers[socket] = data
        if not data.endswith(b"\n"):
            return
        try:
            paths = [str(path) for path in json.loads(data).get("paths", [])]
        except (ValueError, AttributeError):
            log.warning("a later launch sent something unreadable")
            paths = []
        socket.write(ACK)
        socket.flush()
        if self._early is not None:
            self._early.append(paths)
        else:
            self.pathsReceived.emit(paths)

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()
