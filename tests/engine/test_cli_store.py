"""A bad --store is refused once, clearly, with exit 2; a damaged one can be moved aside."""
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.result import Result
from engine.store import Store, StoreError
from tests.conftest import solid_image


def scan(capsys, image, store, *extra):
    code = main(["scan", str(image), "--store", str(store), *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def image(tmp_path):
    return solid_image(tmp_path / "x.png", 100)


@pytest.fixture(autouse=True)
def brightness_model(monkeypatch, brightness_model_path):
    monkeypatch.setenv("SYNTHSPOT_MODEL", str(brightness_model_path))


def damaged_store(path):
    store = Store(path)
    for i in range(400):  # a few dozen pages
        store.put(Result(sha256=f"{i:064d}", verdict="likely_real", probability=0.1, scanned_at=time.time(),
                         path="/photos/" + "p" * 200), "m@1")
    store.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data) - page, 3 * page):  # b-tree pages overwritten, the header intact
        data[offset:offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))
    return path


def foreign_database(path, *statements):
    """Another program's SQLite file, world-readable, made with ``statements``."""
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()
    path.chmod(0o644)
    return path


def test_a_folder_as_store_is_refused_once(tmp_path, image, capsys):
    code, out, err = scan(capsys, image, tmp_path)
    assert code == 2 and out == ""
    assert "is a folder, not a database file" in err and "Traceback" not in err
    assert err.count("synthspot:") == 1


def test_a_store_in_a_folder_that_does_not_exist_is_refused_not_made(tmp_path, image, capsys, monkeypatch):
    """A mistyped --store made the whole folder tree and scanned into an empty store, exit 0."""
    typo = tmp_path / "histroy" / "deep" / "results.sqlite3"
    code, out, err = scan(capsys, image, typo)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip() == f"synthspot: the folder {typo.parent} does not exist; make it first, or check the --store path"
    assert not (tmp_path / "histroy").exists()
    monkeypatch.setenv("SYNTHSPOT_STORE", str(typo))
    assert main(["serve", "--port", "0"]) == 2  # refused before anything listens
    assert "$SYNTHSPOT_STORE" in capsys.readouterr().err and not (tmp_path / "histroy").exists()


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path, image, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 100)
    code, out, err = scan(capsys, image, notes, "--move-corrupt-store")
    assert code == 2 and "not a SynthSpot results database" in err and "Traceback" not in err
    assert notes.read_text().startswith("my notes")  # never moved or touched


def test_another_programs_sqlite_database_is_refused_and_left_alone(tmp_path, image, capsys):
    """A mistyped --store naming another program's database: SynthSpot added its five tables beside the
    program's own (and made the file user-only)."""
    other = foreign_database(tmp_path / "places.sqlite", "CREATE TABLE notes (t TEXT)", "INSERT INTO notes VALUES ('mine')")
    before = other.read_bytes()
    code, out, err = scan(capsys, image, other, "--move-corrupt-store")
    assert code == 2 and out == "" and "another program's SQLite database" in err and "Traceback" not in err
    assert other.read_bytes() == before and other.stat().st_mode & 0o777 == 0o644  # untouched
    Store(tmp_path / "new.sqlite3").close()
    Store(tmp_path / "new.sqlite3").close()  # SynthSpot's own store, with its tables, opens again as before


def test_a_pipe_as_store_is_refused_and_left_alone(tmp_path, image, capsys):
    """/dev/null as --store (as root) was chmodded to 0600 for every other user of it, and got a journal file
    beside it; a pipe the same, then "disk I/O error"."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe, 0o666)
    os.chmod(pipe, 0o666)
    code, out, err = scan(capsys, image, pipe)
    assert code == 2 and out == "" and "is a device or a pipe, not a database file" in err and "Traceback" not in err
    assert pipe.stat().st_mode & 0o777 == 0o666 and sorted(tmp_path.iterdir()) == sorted([pipe, image])


def test_another_programs_database_with_a_results_table_of_its_own_is_left_alone(tmp_path, image, capsys):
    """A table named ``results`` made a file SynthSpot's: chmodded and switched to WAL for good, then refused
    with "no such column: scanned_at"."""
    other = foreign_database(tmp_path / "grades.db", "CREATE TABLE results (id INTEGER, score REAL)",
                             "CREATE TABLE users (name TEXT)")
    code, out, err = scan(capsys, image, other)
    assert code == 2 and "another program's SQLite database" in err and "Traceback" not in err
    db = sqlite3.connect(other)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db.close()
    assert other.stat().st_mode & 0o777 == 0o644


def test_serve_refuses_a_damaged_store_as_scan_does(tmp_path):
    """``serve`` started on a store ``scan`` refuses, and every check then failed ("malformed"), unrecorded."""
    store = damaged_store(tmp_path / "results.sqlite3")
    # In a child with a time limit: a serve that starts would serve until stopped.
    served = subprocess.run([sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())",
                             "serve", "--store", str(store), "--port", "0"],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert served.returncode == 2 and "is damaged" in served.stderr and "--move-corrupt-store" in served.stderr


def test_a_damaged_store_is_refused_with_the_way_out(tmp_path, image, capsys):
    store = damaged_store(tmp_path / "results.sqlite3")
    code, out, err = scan(capsys, image, store)
    assert code == 2 and out == ""
    assert "is damaged" in err and "--move-corrupt-store" in err and "mv " in err and "Traceback" not in err
    with pytest.raises(StoreError) as refused:
        Store(store, verify=True)
    assert refused.value.corrupt


def test_move_corrupt_store_keeps_the_old_file_and_scans(tmp_path, image, capsys):
    store = damaged_store(tmp_path / "results.sqlite3")
    before = store.read_bytes()
    code, out, err = scan(capsys, image, store, "--move-corrupt-store")
    assert code == 0, err
    assert "moved the damaged store aside" in err and "1 scanned" in out
    [kept] = tmp_path.glob("results.sqlite3.corrupt-*")
    assert kept.read_bytes() == before
    assert Store(store, verify=True).count() == 1


def test_relative_paths_go_into_the_shared_history_as_absolute_ones(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    image = solid_image(folder / "rel.png", 200)
    store_path = tmp_path / "s.db"
    monkeypatch.chdir(folder)
    assert main(["scan", "rel.png", "--store", str(store_path)]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)  # the app, started elsewhere, reads the same history
    store = Store(store_path)
    [result] = store.history()
    assert result.path == str(image)
    assert store.newest_at(str(image)) == result.sha256
