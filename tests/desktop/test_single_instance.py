"""One app per user: a second launch hands its paths to the running window and exits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.app import accept_later_launches
from desktop.single_instance import InstanceServer, instance_name
from tests.desktop.conftest import WAIT_MS, write_image

ROOT = Path(__file__).resolve().parents[2]


def launch_beside(window, qtbot, model_path, store_path, settings_path, argument: str | bytes, cwd) -> None:
    """Launch the app again with ``argument`` while ``window`` runs, as a file manager's "Open with" does; the
    second launch must hand it over and exit 0."""
    server = InstanceServer(instance_name(store_path))
    assert server.listen()
    accept_later_launches(window, server)
    env = dict(os.environ, SYNTHSPOT_STORE=str(store_path), SYNTHSPOT_SETTINGS=str(settings_path),
               QT_QPA_PLATFORM="offscreen", SYNTHSPOT_MODEL=str(model_path))
    second = subprocess.Popen([sys.executable, "-m", "desktop.app", argument], cwd=cwd,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # The event loop runs while waiting, so the running app can answer.
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=WAIT_MS)
    finally:
        if second.poll() is None:
            second.kill()
        output = second.communicate(timeout=10)[0]
        server.close()
    assert second.returncode == 0, output


def test_a_second_launch_passes_its_paths_to_the_running_window_and_exits(
        tmp_path, qtbot, model_path, make_window, store_path, settings_path):
    window = make_window(model_path)
    image = write_image(tmp_path / "from-second-launch.png", 230)
    launch_beside(window, qtbot, model_path, store_path, settings_path, "from-second-launch.png", tmp_path)
    qtbot.waitUntil(lambda: any(row.path == str(image) and row.status == "done" for row in window.model.rows()),
                    timeout=WAIT_MS)
    assert [row.source for row in window.model.rows()] == ["cli"]
    assert window.isVisible()


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes leave nothing behind")
def test_a_socket_left_by_a_crashed_app_is_taken_over(tmp_path, qapp):
    name = instance_name(tmp_path / "store.sqlite3")
    probe = InstanceServer(name)
    assert probe.listen()
    path = probe._server.fullServerName()
    probe.close()
    with socket.socket(socket.AF_UNIX) as left_behind:  # a crash leaves the socket file, with nobody listening
        left_behind.bind(path)
    assert Path(path).exists()
    again = InstanceServer(name)
    assert again.listen()
    again.close()


def test_a_running_app_that_does_not_answer_is_busy_not_gone(tmp_path, qapp):
    """A first app frozen for a while (a long task on its GUI thread) takes the connection but does not
    answer: the later launch must not take its socket over and start a second app beside it."""
    from desktop.single_instance import BUSY, NONE_RUNNING, send_to_running

    name = instance_name(tmp_path / "store.sqlite3")
    assert send_to_running(name, []) == NONE_RUNNING
    first = InstanceServer(name)
    assert first.listen()
    try:
        # This process runs no event loop meanwhile: the first app is as good as frozen.
        assert send_to_running(name, [str(tmp_path / "a.png")]) == BUSY
    finally:
        first.close()


def test_a_launch_answered_before_the_window_exists_is_not_lost(tmp_path, qtbot):
    """A dialog at start (a history that cannot be opened) runs the event loop before the window is there:
    a second launch then was answered 'taken' and its paths went to a signal nothing listened to (a reread)."""
    name = instance_name(tmp_path / "store.sqlite3")
    first = InstanceServer(name)
    assert first.listen()
    second = subprocess.Popen([sys.executable, "-c", "import sys; from desktop.single_instance import "
                               f"send_to_running; sys.exit(send_to_running({name!r}, ['/photos/a.png']) != 'handed')"],
                              cwd=ROOT, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    try:
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=WAIT_MS)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0
    arrived: list[list[str]] = []
    first.deliver_to(arrived.append)
    assert arrived == [["/photos/a.png"]]
    first.close()
