"""Desktop notifications over D-Bus (org.freedesktop.Notifications), for desktops without a tray.

Stock GNOME shows no system tray, so ``QSystemTrayIcon.showMessage`` has nowhere to go; its
notification server still shows pop-ups and keeps them in its message list. Knows no widgets.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Q_ARG, Q_RETURN_ARG, SLOT, QMetaObject, QObject, Qt, Signal, Slot
from PySide6.QtDBus import QDBusConnection, QDBusInterface

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
SHOW_ACTION = "default"  # the action a click on the notification's body invokes
CALL_TIMEOUT_MS = 2000  # a notification server answers in milliseconds; never hang the window on one


class DesktopNotifications(QObject):
    """Sends notifications to the session's notification server, and says when one was clicked."""

    activated = Signal(int)  # the id ``send`` returned, when the person clicks that notification

    def __init__(self, connection: QDBusConnection | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._connection = connection if connection is not None else QDBusConnection.sessionBus()
        self._interface: QDBusInterface | None = None
        self._sent: set[int] = set()
        if self._connection.isConnected():
            # PySide6's stub types the slot as bytes; Qt takes the str that SLOT() returns.
            self._connection.connect(  # type: ignore[call-overload]
                SERVICE, OBJECT_PATH, INTERFACE, "ActionInvoked", self, SLOT("_action_invoked(uint,QString)"))

    def available(self) -> bool:
        """A notification server runs on this session's bus."""
        if not self._connection.isConnected():
            return False
        reply = self._connection.interface().isServiceRegistered(SERVICE)
        return reply.isValid() and bool(reply.value())

    def send(self, title: str, body: str) -> int | None:
        """Show a notification with a Show action; its id, or None when no server took it."""
        if not self.available():
            return None
        if self._interface is None or not self._interface.isValid():
            self._interface = QDBusInterface(SERVICE, OBJECT_PATH, INTERFACE, self._connection, self)
            self._interface.setTimeout(CALL_TIMEOUT_MS)
            if not self._interface.isValid():
                log.warning("notification server unusable: %s", self._interface.lastError().message())
                self._interface = None
                return None
        # Through the introspected interface: Notify's replaces_id is a D-Bus uint32, which PySide6
        # cannot put in a plain QDBusMessage (a Python int goes out as int32 and servers refuse it).
        try:
            notification_id = QMetaObject.invokeMethod(
                self._interface, "Notify", Qt.ConnectionType.DirectConnection, Q_RETURN_ARG("uint"),
                Q_ARG(str, "SynthSpot"), Q_ARG("uint", 0), Q_ARG(str, "dialog-warning"), Q_ARG(str, title),
                Q_ARG(str, body), Q_ARG("QStringList", [SHOW_ACTION, "Show"]),
                Q_ARG("QVariantMap", {"urgency": 1, "desktop-entry": "synthspot"}), Q_ARG(int, -1))
        except (RuntimeError, TypeError) as error:
            log.warning("notification not sent: %s", error)
            return None
        if not isinstance(notification_id, int) or not notification_id:
            log.warning("notification not sent: %s", self._interface.lastError().message())
            return None
        self._sent.add(int(notification_id))
        return int(notification_id)

    @Slot("uint", str)
    def _action_invoked(self, notification_id: int, action: str) -> None:
        # The server tells every client about every click: only ours, and only Show, count.
        if notification_id in self._sent and action == SHOW_ACTION:
            self.activated.emit(int(notification_id))
