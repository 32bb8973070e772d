"""Likely-AI arrivals on a desktop without a tray (stock GNOME): an alert that stays until seen, a desktop
notification over D-Bus, and a word before closing the window stops the watching."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtDBus import QDBusConnection
from PySide6.QtWidgets import QSystemTrayIcon

from desktop.notifications import DesktopNotifications
from desktop.settings import WatchedFolder
from tests.desktop.conftest import WAIT_MS, answer_message_box, wait_for_results, write_image


def watching_window(tmp_path, qtbot, model_path, make_window):
    watched = tmp_path / "Downloads"
    watched.mkdir()
    window = make_window(model_path, stable_seconds=0.2, notifications=True,
                         watched_folders=[WatchedFolder(str(watched))])
    assert window.tray is None and not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen: as stock GNOME
    qtbot.waitUntil(lambda: window.session.watch_summary() == "Watching 1 folder", timeout=WAIT_MS)
    return window, watched


def test_a_likely_ai_arrival_stays_on_screen_until_shown(tmp_path, qtbot, model_path, make_window):
    window, watched = watching_window(tmp_path, qtbot, model_path, make_window)
    write_image(watched / "photo.png", 30)
    wait_for_results(qtbot, window, 1)
    assert not window.alert_banner.isVisible()  # a likely-real arrival is no alert
    write_image(watched / "generated.png", 235)
    wait_for_results(qtbot, window, 2)
    qtbot.waitUntil(lambda: window.alert_banner.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.scan_progress.bar.isVisible(), timeout=WAIT_MS)  # the scan has finished...
    qtbot.wait(100)
    assert window.alert_banner.isVisible() and "generated.png" in window.alert_banner.label.text()  # ...and it stays
    assert "generated.png" in window.alert_banner.accessibleDescription()  # announced, and found again by a reader
    window.table.selectRow(window.proxy.rowCount() - 1)
    window.alert_banner.show_button.click()
    assert not window.alert_banner.isVisible()
    assert window.proxy.row_for(window.table.currentIndex()).name == "generated.png"


@pytest.fixture
def private_bus(tmp_path):
    """A D-Bus session bus of its own, so the test never talks to the developer's desktop."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = daemon.stdout.readline().strip()
    yield address
    daemon.terminate()
    daemon.wait(5)


@pytest.fixture
def bus_connection(private_bus):
    """The app's connection to the private bus, closed before the bus goes away."""
    connection = QDBusConnection.connectToBus(private_bus, "synthspot-test")
    yield connection
    QDBusConnection.disconnectFromBus("synthspot-test")


@pytest.fixture
def notification_server(private_bus):
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("notification_server.py")), private_bus],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    yield server
    server.terminate()
    server.wait(5)


def test_without_a_tray_a_likely_ai_arrival_is_a_desktop_notification_that_shows_it(
        tmp_path, qtbot, model_path, make_window, notification_server, bus_connection):
    window, watched = watching_window(tmp_path, qtbot, model_path, make_window)
    window.notifications = DesktopNotifications(bus_connection, window)
    window.notifications.activated.connect(lambda _id: window.show_alerted())
    assert window.notifications.available()
    write_image(watched / "generated.png", 235)
    wait_for_results(qtbot, window, 1)
    # The notification goes out with the banner, a moment after the arrival (a burst makes one): the event
    # loop runs until then, and only then is the server's line read (a read would block the loop).
    qtbot.waitUntil(window.alert_banner.isVisible, timeout=WAIT_MS)
    sent = json.loads(notification_server.stdout.readline())
    assert sent["app"] == "SynthSpot" and "generated.png" in sent["body"] and "default" in sent["actions"]
    write_image(watched / "photo.png", 30)
    wait_for_results(qtbot, window, 2)
    window.select_proxy_row(next(position for position in range(2)
                                 if window.proxy.row_for(window.proxy.index(position, 0)).name == "photo.png"))
    assert window.alert_banner.isVisible()
    notification_server.stdin.write(f"click {sent['id']}\n")  # the person clicks the pop-up
    notification_server.stdin.flush()
    qtbot.waitUntil(lambda: not window.alert_banner.isVisible(), timeout=WAIT_MS)
    assert window.proxy.row_for(window.table.currentIndex()).name == "generated.png"


def test_no_notification_server_means_none_sent(bus_connection, qapp):
    notifications = DesktopNotifications(bus_connection)
    assert not notifications.available() and notifications.send("title", "body") is None


def test_closing_the_window_without_a_tray_says_watching_stops_and_can_be_cancelled(
        tmp_path, qtbot, model_path, make_window):
    window, _watched = watching_window(tmp_path, qtbot, model_path, make_window)
    seen = []
    answer_message_box("Cancel", seen)
    window.close()
    assert window.isVisible() and "no longer be watched" in seen[0]
    answer_message_box("Quit and stop watching", seen)
    window.close()
    assert not window.isVisible() and len(seen) == 2
