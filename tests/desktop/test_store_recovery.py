"""A history file the app cannot use at start: it says why and offers a way on (desktop/store_recovery.py),
where it used to stop with a traceback and no window (a review: damaged, full and read-only stores)."""

from __future__ import annotations

import os
import subprocess

import pytest

from desktop.store_recovery import FRESH, QUIT, TEMPORARY, open_store
from tests.desktop.conftest import answer_message_box


def test_the_apps_own_damaged_file_is_moved_aside_for_a_fresh_history(qapp, tmp_path):
    path = tmp_path / "results.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    seen: list[str] = []
    answer_message_box(FRESH, seen)  # the real dialog, answered as a person would
    store, unsaved = open_store(path, ours=True)
    assert store is not None and unsaved == "" and store.path == path and store.count() == 0
    assert "cannot use it" in seen[0] and "not a SQLite file" in seen[0] and "--store" not in seen[0]
    (moved,) = tmp_path.glob("results.sqlite3.corrupt-*")
    assert moved.read_bytes().startswith(b"not a database")  # renamed, nothing deleted


def test_a_file_named_from_outside_is_never_moved_and_the_session_goes_on_unsaved(qapp, tmp_path):
    path = tmp_path / "somebodys.sqlite3"
    path.write_bytes(b"precious bytes" * 100)
    offered: list[list[str]] = []
    store, unsaved = open_store(path, ours=False, ask=lambda error, choices: offered.append(choices) or TEMPORARY)
    assert offered == [[TEMPORARY, QUIT]]
    assert store is not None and store.path != path and "not a SQLite file" in unsaved
    assert path.read_bytes().startswith(b"precious")
    assert open_store(path, ours=False, ask=lambda error, choices: QUIT) == (None, "")


def test_the_window_says_for_as_long_as_it_is_open_that_results_are_not_saved(qtbot, make_session, model_path):
    from desktop.ui.main_window import MainWindow

    session = make_session(model_path)
    session.unsaved_reason = "the disk is full"
    window = MainWindow(session)
    qtbot.addWidget(window, before_close_func=lambda closing: setattr(closing, "_quitting", True))
    assert window.unsaved_label.text() == "Results not saved this session"
    assert "the disk is full" in window.unsaved_label.toolTip()
    window.shutdown()


def test_a_store_that_opens_asks_nothing(qapp, tmp_path):
    asked: list = []
    store, unsaved = open_store(tmp_path / "fine.sqlite3", ours=True, ask=lambda *args: asked.append(args) or QUIT)
    assert store is not None and unsaved == "" and asked == []


def test_a_damaged_database_is_offered_a_fresh_start_another_programs_never(qapp, tmp_path):
    """The offer reads the error's kind: a SQLite file with broken pages (damaged) may be moved aside; another
    program's database at the app's own path (kind "other") is not SynthSpot's to move."""
    import sqlite3

    from engine.store import Store

    damaged = tmp_path / "results.sqlite3"
    Store(damaged).close()
    data = bytearray(damaged.read_bytes())
    data[100:4096 * 2] = b"\xff" * (4096 * 2 - 100)  # the schema's pages, after a whole header
    damaged.write_bytes(bytes(data))
    offered: list[list[str]] = []
    open_store(damaged, ours=True, ask=lambda error, choices: offered.append(choices) or TEMPORARY)

    foreign = tmp_path / "other" / "results.sqlite3"
    foreign.parent.mkdir()
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    open_store(foreign, ours=True, ask=lambda error, choices: offered.append(choices) or TEMPORARY)
    assert offered == [[FRESH, TEMPORARY, QUIT], [TEMPORARY, QUIT]]


def test_a_history_damaged_inside_is_found_at_start_and_offered_a_fresh_start(qapp, tmp_path):
    """The schema intact, data pages broken: the store opened, and the window said at every start "History not
    read ... database disk image is malformed ... move the file aside yourself", never offering to."""
    from engine.result import Result
    from engine.store import Store

    path = tmp_path / "results.sqlite3"
    store = Store(path)
    for index in range(200):  # pages of results, past the schema's
        store.put(Result(path=f"/photos/{index}.jpg", sha256=f"{index:064x}", model_name="m", model_version="1",
                         probability=0.5, verdict="uncertain", artifact_map=[[0.5] * 32] * 24, scanned_at=1.0),
                  "m@1")
    store.close()
    data = bytearray(path.read_bytes())
    for page in range(3, len(data) // 4096):  # past the header and the schema: the results
        data[page * 4096 + 8:page * 4096 + 200] = bytes(range(192))
    path.write_bytes(bytes(data))
    offered: list[tuple[str, list[str]]] = []
    store, unsaved = open_store(path, ours=True, ask=lambda error, choices: offered.append((error.reason, choices))
                                or FRESH)
    assert offered and offered[0][1] == [FRESH, TEMPORARY, QUIT] and "damaged" in offered[0][0], offered
    assert store is not None and unsaved == "" and store.history() == []
    assert list(tmp_path.glob("results.sqlite3.corrupt-*"))  # moved aside, not deleted


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nothing may be written in, root included (the machine's tests run as root, whom a mode does not
    stop): ``chattr +i`` there, a mode elsewhere; undone afterwards so the folder can be removed."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        if made.returncode:
            pytest.skip(f"a read-only folder cannot be made here for root: {made.stderr.strip()}")
        yield folder
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


def test_a_history_that_cannot_be_written_stays_in_view_from_a_copy(qapp, tmp_path, read_only_folder):
    """A read-only folder (or a full disk): continuing used to start an empty history, hiding every result saved
    before; the temporary history now starts as a copy of it, and the file itself is left as it was."""
    from engine.result import Result
    from engine.store import Store

    made = tmp_path / "made"
    made.mkdir()
    store = Store(made / "results.sqlite3")
    for index in range(3):
        store.put(Result(path=f"/photos/{index}.jpg", sha256=f"{index:064x}", model_name="m", model_version="1",
                         probability=0.9, verdict="likely_ai", scanned_at=1.0), "m@1")
    store.close()
    subprocess.run(["chattr", "-i", str(read_only_folder)], check=False)  # to put the history in, then back
    path = read_only_folder / "results.sqlite3"
    path.write_bytes((made / "results.sqlite3").read_bytes())
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(read_only_folder)], check=True)
    before = path.read_bytes()
    seen: list[str] = []
    answer_message_box(TEMPORARY, seen)  # the real dialog, answered as a person would
    store, unsaved = open_store(path, ours=True)
    assert "with the results saved so far in view" in seen[0], seen
    assert store is not None and store.path != path
    assert sorted(result.path for result in store.history()) == ["/photos/0.jpg", "/photos/1.jpg", "/photos/2.jpg"]
    assert "cannot be opened for writing" in unsaved and "shown from a copy" in unsaved
    store.put(Result(path="/photos/new.jpg", sha256="f" * 64, model_name="m", model_version="1", probability=0.1,
                     verdict="likely_real", scanned_at=2.0), "m@1")
    assert store.count() == 4 and path.read_bytes() == before and sorted(p.name for p in read_only_folder.iterdir()) \
        == ["results.sqlite3"]


def test_a_damaged_history_is_never_copied_into_the_temporary_one(qapp, tmp_path):
    path = tmp_path / "results.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 8000)
    seen: list[str] = []
    answer_message_box(TEMPORARY, seen)
    store, unsaved = open_store(path, ours=False)
    assert "in view" not in seen[0] and store is not None and store.count() == 0 and "copy" not in unsaved
