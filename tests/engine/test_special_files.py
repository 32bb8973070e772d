"""Only regular files are opened: FIFOs, devices and sockets are clear errors at once, never hangs."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from engine.files import NotReadable, expand_paths, read_regular_file
from engine.model import Detector
from engine.scanner import Scanner, ScanRequest
from tests.conftest import solid_image

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")


def test_fifo_and_devices_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)  # no writer: an ordinary open() would wait forever
    started = time.monotonic()
    for path, kind in ((fifo, "pipe"), ("/dev/zero", "device"), ("/dev/null", "device"), (tmp_path, "folder")):
        with pytest.raises(NotReadable, match=kind):
            read_regular_file(path, 1 << 20)
    assert time.monotonic() - started < 2


def test_a_socket_is_refused(tmp_path):
    path = str(tmp_path / "s.png")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        with pytest.raises(NotReadable, match="socket"):
            read_regular_file(path, 1 << 20)


def test_a_large_file_is_refused_unread(tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as handle:
        handle.truncate(3 << 20)  # sparse: costs no disk
    with pytest.raises(NotReadable, match="larger than 2 MB"):
        read_regular_file(big, 2 << 20)


def test_scanner_reports_special_files_as_errors(tmp_path, brightness_model_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    good = solid_image(tmp_path / "good.png", 200)
    with Scanner(Detector(brightness_model_path)) as scanner:
        job = scanner.submit([ScanRequest(path=str(p)) for p in (fifo, "/dev/zero", good)])
        assert job.wait(30), "a special file hung the scan"
    errors = {r.path: r.error for r in job.results}
    assert "pipe (FIFO)" in errors[str(fifo)] and "device" in errors["/dev/zero"] and errors[str(good)] is None


def test_special_files_inside_a_folder_are_skipped_or_errors_never_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")  # the name says image: it becomes an error result
    os.mkfifo(tmp_path / "pipe")  # nothing says image: skipped, and said so
    solid_image(tmp_path / "good.png", 200)
    skipped = []
    started = time.monotonic()
    assert [p.name for p in expand_paths([tmp_path], skipped=skipped)] == ["good.png", "pipe.png"]
    assert skipped == [(str(tmp_path / "pipe"), "a pipe (FIFO)")]
    assert time.monotonic() - started < 2


def test_cli_on_a_fifo_and_dev_zero_finishes(tmp_path, brightness_model_path):
    fifo = tmp_path / "named.jpg"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "engine.cli", "scan", str(fifo), "/dev/zero", "--json", "--no-cache",
                           "--model", str(brightness_model_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    errors = {r["path"]: r["error"] for r in map(json.loads, done.stdout.splitlines())}
    assert "pipe" in errors[str(fifo)] and "device" in errors["/dev/zero"]


def test_a_name_too_long_for_the_system_is_an_error_row_and_the_rest_is_scanned(tmp_path, brightness_model_path):
    """Path.is_dir raised ENAMETOOLONG: the CLI printed a traceback, and the app dropped the whole drop
    (the good files with it) and failed on it again at every start."""
    too_long = tmp_path / ("x" * 300 + ".jpg")
    good = solid_image(tmp_path / "good.png", 200)
    assert list(expand_paths([too_long, good])) == [too_long, good]
    done = subprocess.run([sys.executable, "-m", "engine.cli", "scan", str(too_long), str(good), "--json", "--no-cache",
                           "--model", str(brightness_model_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    rows = {r["path"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert "too long" in rows[str(too_long)]["error"].lower() and rows[str(good)]["verdict"], rows
