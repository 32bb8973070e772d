"""Two CLI processes on one store scan each file once between them and share the result."""
import json
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from engine.store import Store, claim_owner


def test_two_processes_scanning_the_same_folder_share_each_result(tmp_path, brightness_model_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(60):
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    store = tmp_path / "s.db"
    Store(store)  # created once up front, as an installed app's store would be
    command = [sys.executable, "-m", "engine.cli", "scan", str(folder), "--json", "--store", str(store),
               "--model", str(brightness_model_path)]
    scans = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [scan.communicate(timeout=120) for scan in scans]
    assert [scan.returncode for scan in scans] == [0, 0], [err for _, err in outputs]
    runs = [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]
    assert all(len(run) == 60 and all(r["error"] is None for r in run) for run in runs)
    fresh = [r for run in runs for r in run if not r["cached"]]
    assert len(fresh) == 60, f"{len(fresh)} model runs for 60 files"  # each file scored once, by one process
    by_file = [{os.path.basename(r["path"]): r for r in run} for run in runs]
    assert all(by_file[0][name]["scanned_at"] == by_file[1][name]["scanned_at"] for name in by_file[0])


def test_a_claim_of_a_dead_process_is_taken_over(tmp_path):
    store = Store(tmp_path / "s.db")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_owner = claim_owner("x").rsplit(":", 2)[0] + f":{dead.stdout.strip()}:gone"
    assert store.claim("a" * 64, "m@1", gone_owner)
    assert store.claim("a" * 64, "m@1", claim_owner("me"))  # its process has exited: not waited on
    assert not store.claim("a" * 64, "m@1", claim_owner("other"))  # this one lives (it is us)
    store.release_claim("a" * 64, "m@1", claim_owner("me"))
    assert store.claim("a" * 64, "m@1", claim_owner("other"))


def test_no_claim_is_taken_once_a_scanner_gave_up_its_claims_to_exit(tmp_path):
    """A Ctrl-C'd CLI gives up its claims and exits at once: a decoding thread claiming bytes in that moment left a
    claim behind it, which held the bytes from other processes until it went stale."""
    import sqlite3

    import pytest

    from engine.claims import Abandoned, ClaimBook

    store = Store(tmp_path / "s.db")
    book = ClaimBook(store, "m@1")
    assert book.claim_or_wait("a" * 64, give_up=lambda: False) is None  # ours to scan
    book.release_all()
    with pytest.raises(Abandoned):
        book.claim_or_wait("b" * 64, give_up=lambda: False)
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


def test_giving_up_every_claim_waits_for_a_release_already_under_way(tmp_path):
    """A thread releasing the bytes it had just scanned had already dropped them from the held ones when
    Ctrl-C gave up every claim; the process exited before that thread's DELETE, and the claim stayed
    behind (the rare flake of test_cli_stream's Ctrl-C test)."""
    import sqlite3
    import threading

    from engine.claims import ClaimBook

    deleting = threading.Event()

    class SlowToRelease(Store):  # the real store, its DELETE held up long enough to see the order
        def release_claim(self, sha256, model_id, owner):
            deleting.set()
            time.sleep(0.5)
            super().release_claim(sha256, model_id, owner)

    store = SlowToRelease(tmp_path / "s.db")
    book = ClaimBook(store, "m@1")
    assert book.claim_or_wait("a" * 64, give_up=lambda: False) is None
    releasing = threading.Thread(target=book.release, args=("a" * 64,))
    releasing.start()
    assert deleting.wait(5)
    book.release_all()  # what the CLI does just before os._exit
    with sqlite3.connect(tmp_path / "s.db") as db:
        left = db.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    releasing.join()
    assert left == 0


def test_a_long_wait_on_another_scans_claim_is_said_once_naming_it(tmp_path, caplog, monkeypatch):
    """A second scan on the store waited silently, up to ten minutes, behind one stopped with Ctrl-Z."""
    import logging

    from engine import claims
    from engine.claims import Abandoned, ClaimBook

    monkeypatch.setattr(claims, "WAIT_NOTICE_S", 0.2)
    store = Store(tmp_path / "s.db")
    holder = ClaimBook(store, "m@1")
    assert holder.claim_or_wait("a" * 64, give_up=lambda: False) is None  # held, as by a stopped scan
    waiting = ClaimBook(store, "m@1")
    deadline = time.monotonic() + 1.0
    caplog.set_level(logging.WARNING, logger="engine.claims")
    try:
        waiting.claim_or_wait("a" * 64, give_up=lambda: time.monotonic() > deadline)
    except Abandoned:
        pass
    told = [record.getMessage() for record in caplog.records]
    assert len(told) == 1, told
    assert told[0].startswith(f"waiting for another SynthSpot process {os.getpid()} on ")
    assert "(aaaaaaaaaaaa)" in told[0] and "taken over after 10 minutes" in told[0]
