"""Results stream out as they finish, and Ctrl-C prints what finished and exits 130."""
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.jpeg_scans import progressive_jpeg

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")


@pytest.fixture(scope="module")
def many_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(0)
    for i in range(400):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def start(args, model):
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "scan", *args, "--model", str(model),
                             "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_json_lines_stream_and_ctrl_c_keeps_them(many_images, brightness_model_path, tmp_path):
    scan = start([str(many_images), "--json", "--store", str(tmp_path / "s.db")], brightness_model_path)
    first = scan.stdout.readline()  # arrives while the scan is still running
    assert first and scan.poll() is None, scan.stderr.read()
    assert json.loads(first)["error"] is None
    scan.send_signal(signal.SIGINT)
    rest = scan.stdout.read()  # through the same buffer as readline (communicate() would skip what it holds)
    err = scan.stderr.read()
    assert scan.wait(60) == 130, err
    records = [json.loads(first)] + [json.loads(line) for line in rest.splitlines()]
    assert 1 <= len(records) < 400
    assert "interrupted" in err and "Traceback" not in err
    # The summary counts what was printed, not results that finished after the interrupt.
    assert f"interrupted: {len(records)} of 400 scanned" in err, err
    with sqlite3.connect(tmp_path / "s.db") as db:  # what was printed is what was stored
        stored = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert stored >= len(records)


def test_ctrl_c_prints_the_table_of_what_finished(many_images, brightness_model_path, tmp_path):
    store = tmp_path / "s.db"
    scan = start([str(many_images), "--store", str(store)], brightness_model_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some results are in, then interrupt
        if store.exists():
            try:
                with sqlite3.connect(store, timeout=1) as db:
                    if db.execute("SELECT COUNT(*) FROM results").fetchone()[0] >= 5:
                        break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    scan.send_signal(signal.SIGINT)
    out, err = scan.communicate(timeout=60)
    assert scan.returncode == 130, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["VERDICT", "SCORE"]
    assert "interrupted: " in out and " of 400 scanned" in out
    assert len([line for line in lines[1:] if line.endswith(".png") or ".png " in line]) >= 5


def test_a_closed_pipe_ends_the_scan_quietly(many_images, brightness_model_path):
    scan = start([str(many_images), "--json", "--no-cache"], brightness_model_path)
    scan.stdout.readline()
    scan.stdout.close()  # as `| head -1` does
    err = scan.stderr.read()
    assert scan.wait(60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_the_table_into_a_closed_pipe_ends_quietly(many_images, brightness_model_path):
    scan = start([str(many_images), "--no-cache"], brightness_model_path)
    scan.stdout.close()  # the reader is gone before the table is printed (`| true`)
    err = scan.stderr.read()
    assert scan.wait(60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_ctrl_c_without_a_store_does_not_claim_the_results_are_stored(many_images, brightness_model_path):
    scan = start([str(many_images), "--json", "--no-cache"], brightness_model_path)
    assert scan.stdout.readline()
    scan.send_signal(signal.SIGINT)
    scan.stdout.read()
    err = scan.stderr.read()
    assert scan.wait(60) == 130, err
    assert "were not stored (--no-cache)" in err and "are stored" not in err


def test_ctrl_c_exits_at_once_while_a_large_image_is_still_decoding(brightness_model_path, tmp_path):
    from engine.decode import decode_image

    folder = tmp_path / "photos"
    folder.mkdir()
    # 64 MP in hundreds of progressive scans (legal, and seconds to decode), then small ones.
    (folder / "0-large.jpg").write_bytes(progressive_jpeg(8000, 400))
    for index in range(1, 30):
        Image.new("RGB", (64, 64), (index, 0, 0)).save(folder / f"{index}.png")
    started = time.monotonic()
    decode_image((folder / "0-large.jpg").read_bytes())
    decode_seconds = time.monotonic() - started
    store = tmp_path / "s.db"
    scan = subprocess.Popen([sys.executable, "-m", "engine.cli", "scan", str(folder), "--json", "--store", str(store),
                             "--model", str(brightness_model_path), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert scan.stdout.readline()  # a small one is done while the large one decodes
    interrupted = time.monotonic()
    scan.send_signal(signal.SIGINT)
    scan.stdout.read()
    err = scan.stderr.read()
    assert scan.wait(60) == 130, err
    assert time.monotonic() - interrupted < decode_seconds / 2, (time.monotonic() - interrupted, decode_seconds)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    with sqlite3.connect(store) as db:  # the large image's claim is given up, not left to go stale
        assert db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0, err  # (a rare flake: its stderr)


def test_after_ctrl_c_the_progress_bar_stays_where_the_scan_stopped(many_images, brightness_model_path, tmp_path):
    """The bar (shown when stderr is a terminal) ran on to 400/400 as the cancelled files reported in,
    under a summary saying "interrupted: 213 of 400 scanned"."""
    import os
    import pty
    import re
    import threading

    master, terminal = pty.openpty()
    scan = subprocess.Popen([sys.executable, "-m", "engine.cli", "scan", str(many_images), "--model",
                             str(brightness_model_path), "--workers", "1", "--store", str(tmp_path / "s.db")],
                            stdout=subprocess.PIPE, stderr=terminal, text=True)
    os.close(terminal)
    shown: list[bytes] = []

    def read_terminal():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the scan exited: the terminal is closed
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not re.search(rb"\] (\d{2,})/400", b"".join(shown)):
        time.sleep(0.05)  # a few dozen done
    scan.send_signal(signal.SIGINT)
    out, _ = scan.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(master)
    assert scan.returncode == 130
    last_bar = int(re.findall(rb"\] (\d+)/400", b"".join(shown))[-1])
    scanned = int(re.search(r"interrupted: (\d+) of 400 scanned", out).group(1))
    assert last_bar <= scanned < 400, (last_bar, scanned)


def test_json_lines_stay_whole_when_ctrl_c_cuts_a_write_to_a_full_pipe_under_python_u(brightness_model_path,
                                                                                      tmp_path):
    """With PYTHONUNBUFFERED (Docker images, IDEs, CI) stdout's text layer sits on an unbuffered file and drops the
    rest of a write that a signal cut short (CPython gh-85393): with every file scanned and the reader of a full
    pipe not reading yet, Ctrl-C cut a 29 kB JSON line at 4 kB, the next result was glued on, and the scan
    exited 0."""
    import fcntl
    import os
    import termios

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(6):  # about 29 kB of JSON each (the heatmap): the pipe's 64 kB fill after two
        Image.fromarray(rng.integers(0, 256, (500, 600, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    store = tmp_path / "s.db"
    scan = subprocess.Popen([sys.executable, "-m", "engine.cli", "scan", str(folder), "--json", "--store", str(store),
                             "--model", str(brightness_model_path), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    waiting, stored = bytearray(4), 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scan.poll() is None and stored < 6:  # nothing is read meanwhile
        fcntl.ioctl(scan.stdout.fileno(), termios.FIONREAD, waiting)
        if int.from_bytes(waiting, sys.byteorder) > 60_000 and store.exists():
            with sqlite3.connect(store, timeout=5) as db:
                stored = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        time.sleep(0.05)
    assert stored == 6 and scan.poll() is None, scan.stderr.read()
    time.sleep(0.3)  # the third line's write is blocked, its first kilobytes in the pipe
    scan.send_signal(signal.SIGINT)
    out, err = scan.communicate(timeout=60)
    lines = out.decode().split("\n")
    assert lines[-1] == "" and len(lines) == 7, err
    assert [Path(json.loads(line)["path"]).name for line in lines[:-1]] == [f"{index}.png" for index in range(6)], err
