"""A stand-in for the desktop's notification server, run as its own process on a private D-Bus bus.

``python notification_server.py ADDRESS``: owns org.freedesktop.Notifications there, prints
``ready`` then one JSON line per Notify call, and on a stdin line ``click ID`` emits
ActionInvoked(ID, "default") as GNOME Shell does when the person clicks the notification.
(A separate process: a D-Bus call from the app blocks its thread, which would then never serve itself.)
"""

from __future__ import annotations

import json
import os
import sys

from PySide6.QtCore import ClassInfo, QCoreApplication, QObject, QSocketNotifier, Signal, Slot
from PySide6.QtDBus import QDBusConnection


@ClassInfo({"D-Bus Interface": "org.freedesktop.Notifications"})
class NotificationServer(QObject):
    ActionInvoked = Signal("uint", str)

    def __init__(self):
        super().__init__()
        self._next_id = 0
        # Clicks come on stdin, read in this (the main) thread: QtDBus relays signals from their object's thread only.
        self._stdin = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read, self)
        self._stdin.activated.connect(self._read_click)

    @Slot(str, "uint", str, str, str, "QStringList", "QVariantMap", int, result="uint")
    def Notify(self, app_name, replaces_id, icon, summary, body, actions, hints, timeout):  # noqa: N802 (D-Bus name)
        self._next_id += 1
        print(json.dumps({"id": self._next_id, "app": app_name, "summary": summary, "body": body,
                          "actions": list(actions)}), flush=True)
        return self._next_id

    def _read_click(self) -> None:
        text = os.read(sys.stdin.fileno(), 4096).decode()
        if not text:  # the test closed our stdin: done
            self._stdin.setEnabled(False)
            QCoreApplication.quit()
        for command in text.splitlines():
            word, _, number = command.partition(" ")
            if word == "click":
                self.ActionInvoked.emit(int(number), "default")

    @Slot(result="QStringList")
    def GetCapabilities(self):  # noqa: N802
        return ["body", "actions"]


def main() -> None:
    app = QCoreApplication([])
    connection = QDBusConnection.connectToBus(sys.argv[1], "notification-server")
    server = NotificationServer()
    connection.registerObject("/org/freedesktop/Notifications", server,
                              QDBusConnection.RegisterOption.ExportAllSlots
                              | QDBusConnection.RegisterOption.ExportAllSignals)
    if not connection.registerService("org.freedesktop.Notifications"):
        sys.exit("could not own org.freedesktop.Notifications")
    print("ready", flush=True)
    app.exec()


if __name__ == "__main__":
    main()
