"""History a person can manage: delete rows for good, clear it all, rescan with the model in use,
and a CSV whose time column a spreadsheet and a person both read."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.result import LIKELY_AI, LIKELY_REAL
from tests.desktop.conftest import WAIT_MS, answer_message_box, wait_for_results, write_image
from tests.desktop.test_main_window import drop


def select_names(window, names):
    """Select the rows of these file names (and only those), as Ctrl+click would."""
    selection = window.table.selectionModel()
    selection.clearSelection()
    for position in range(window.proxy.rowCount()):
        index = window.proxy.index(position, 0)
        if window.proxy.row_for(index).name in names:
            selection.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def stored_names(window):
    return sorted(result.path.rsplit("/", 1)[-1] for result in window.session.store.history())


def test_deleted_rows_are_gone_from_the_store_and_stay_gone_after_a_restart(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / f"{name}.png", value) for name, value in (("a", 230), ("b", 30), ("c", 140))])
    wait_for_results(qtbot, window, 3)
    select_names(window, {"a.png", "c.png"})
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Cancel, seen)  # asked first, as Clear history is
    window.delete_action.trigger()
    assert "Delete 2 results" in seen[0] and len(window.model.rows()) == 3
    answer_message_box(QMessageBox.StandardButton.Yes)
    window.delete_action.trigger()
    assert sorted(row.name for row in window.model.rows()) == ["b.png"]
    assert stored_names(window) == ["b.png"]
    assert (tmp_path / "a.png").exists()  # the history goes, never the file
    window.shutdown()
    window.session.shutdown()
    again = make_window(model_path)
    qtbot.waitUntil(lambda: again.model.rowCount() >= 1, timeout=WAIT_MS)
    qtbot.wait(200)
    assert sorted(row.name for row in again.model.rows()) == ["b.png"]


def test_deleting_a_row_says_which_other_rows_go_and_leaves_rows_still_being_scanned(
        tmp_path, qtbot, model_path, make_window):
    """An edited photo's row took its backup copy's row with it unasked ("Delete 1 result?", then 2 rows
    deleted: the older bytes stored at that path went too); a row still waiting for its scan came back with
    its result after being deleted (a review)."""
    import shutil

    window = make_window(model_path)
    photo = write_image(tmp_path / "photo.png", 230)
    drop(window, [photo])
    wait_for_results(qtbot, window, 1)
    (tmp_path / "backup").mkdir()
    shutil.copy(photo, tmp_path / "backup" / "photo.png")
    drop(window, [tmp_path / "backup" / "photo.png"])
    wait_for_results(qtbot, window, 2)
    write_image(photo, 30)  # edited where it was
    drop(window, [photo])
    qtbot.waitUntil(lambda: any(r.path == str(photo) and r.result is not None and r.result.verdict == LIKELY_REAL
                                for r in window.model.rows()), timeout=WAIT_MS)
    window.model.add_queued([(str(tmp_path / "later.png"), "dropped")])  # waiting for its scan
    select_names(window, {"later.png"})
    window.delete_action.trigger()
    assert "still being scanned" in window.statusBar().currentMessage() and window.model.rowCount() == 3
    selection = window.table.selectionModel()
    selection.clearSelection()
    for position in range(window.proxy.rowCount()):
        row = window.proxy.row_for(window.proxy.index(position, 0))
        if row.path in (str(photo), str(tmp_path / "later.png")):
            selection.select(window.proxy.index(position, 0),
                             QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Yes, seen)
    window.delete_action.trigger()
    assert seen[0].startswith("Delete 1 result and 1 other row showing the same or an earlier version of it from")
    assert sorted(row.path for row in window.model.rows()) == [str(tmp_path / "later.png")]
    assert window.statusBar().currentMessage() == "Deleted 2 rows from the history. 1 still being scanned was left."


def test_a_photo_in_two_folders_keeps_both_rows_after_a_restart_and_deleting_one_says_both_go(
        tmp_path, qtbot, model_path, make_window):
    """A copy's scan is the cache's answer for its bytes: after a restart one of the two rows had gone. Now
    both come back; deleting one forgets the bytes, so the copy's row goes at once, and the question says so."""
    for folder in ("Pictures", "Downloads"):
        (tmp_path / folder).mkdir()
    original = write_image(tmp_path / "Pictures" / "cat.png", 230)
    copy = tmp_path / "Downloads" / "cat copy.png"
    copy.write_bytes(original.read_bytes())
    window = make_window(model_path)
    drop(window, [original, copy, write_image(tmp_path / "Pictures" / "dog.png", 30)])
    wait_for_results(qtbot, window, 3)
    window.shutdown()
    window.session.shutdown()
    again = make_window(model_path)
    qtbot.waitUntil(lambda: again.model.rowCount() == 3, timeout=WAIT_MS)
    assert sorted(row.name for row in again.model.rows()) == ["cat copy.png", "cat.png", "dog.png"]

    select_names(again, {"cat.png"})
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Yes, seen)
    again.delete_action.trigger()
    assert "Delete 1 result and 1 other row of the same image" in seen[0]
    assert sorted(row.name for row in again.model.rows()) == ["dog.png"] == stored_names(again)


def stored(sha: str, path: str, at: float, verdict: str = "likely_ai"):
    from engine.result import Result

    return Result(sha256=sha, path=path, source="dropped", model_name="m", model_version="1", verdict=verdict,
                  probability=0.9, scanned_at=at)


def test_rows_that_arrive_while_the_delete_question_is_open_are_not_the_ones_deleted(qtbot, make_window, store_path):
    """The rows to take out of the view were found before the question; results arriving meanwhile moved
    them, and another image's row went while the deleted one's copy stayed (a review)."""
    import time

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.results_model import RESORT_DELAY_MS
    from engine.store import Store

    store_path.parent.mkdir(parents=True)
    store, now = Store(store_path), time.time()
    for sha, name, age in (("X", "cat", 500), ("Y", "dog", 400), ("Z", "fox", 300)):
        store.put(stored(sha, f"/p/{name}.png", now - age), "m@1")
    store.record_sighting(stored("X", "/d/cat copy.png", now - 200))
    store.close()
    window = make_window(None)
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=WAIT_MS)
    select_names(window, {"cat.png"})

    def answer_after_an_arrival():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer_after_an_arrival)
            return
        window.model.add_results([stored("W", "/w/new.png", time.time())])  # a watched folder's new file
        # Yes once the view has re-sorted with it (on its timer): the rows have moved under the question.
        QTimer.singleShot(RESORT_DELAY_MS + 200, box.button(QMessageBox.StandardButton.Yes).click)

    QTimer.singleShot(0, answer_after_an_arrival)
    window.delete_action.trigger()
    assert sorted(row.name for row in window.model.rows()) == ["dog.png", "fox.png", "new.png"]


def test_deleting_a_path_whose_file_held_other_bytes_before_leaves_no_row_the_store_forgot(
        qtbot, make_window, store_path):
    """Deleting a row forgets whatever was stored at its path too (an older version of the file): that
    version's copy elsewhere leaves the view with it, as it leaves the history."""
    import time

    from engine.store import Store

    store_path.parent.mkdir(parents=True)
    store, now = Store(store_path), time.time()
    store.put(stored("Y", "/d/image.png", now - 500), "m@1")  # image.png first held Y
    store.record_sighting(stored("Y", "/e/image copy.png", now - 450))
    store.put(stored("X", "/p/cat.png", now - 400), "m@1")
    store.record_sighting(stored("X", "/d/image.png", now - 300))  # then X: the cache answered it
    store.close()
    window = make_window(None)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=WAIT_MS)
    select_names(window, {"image.png"})
    answer_message_box(QMessageBox.StandardButton.Yes)
    window.delete_action.trigger()
    assert sorted(row.path for row in window.model.rows()) == sorted(r.path for r in window.session.store.history())


def test_clear_history_asks_then_empties_the_store(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230), write_image(tmp_path / "b.png", 30)])
    wait_for_results(qtbot, window, 2)
    answer_message_box(QMessageBox.StandardButton.Cancel)
    window.clear_history_action.trigger()
    assert window.model.rowCount() == 2 and stored_names(window) == ["a.png", "b.png"]
    answer_message_box(QMessageBox.StandardButton.Yes)
    window.clear_history_action.trigger()
    assert window.model.rowCount() == 0 and window.session.store.history() == []


def test_a_filter_that_hides_the_selected_row_leaves_the_detail_pane_empty(tmp_path, qtbot, model_path, make_window):
    """The current row moved to one nobody selected, and the pane showed it with Copy and Delete off (a review)."""
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "bright.png", 230), write_image(tmp_path / "dark.png", 30)])
    wait_for_results(qtbot, window, 2)
    position = next(p for p in range(window.proxy.rowCount())
                    if window.proxy.row_for(window.proxy.index(p, 0)).name == "dark.png")
    window.select_proxy_row(position)
    assert window.detail.row.name == "dark.png"
    window.filters.verdict.setCurrentIndex(window.filters.verdict.findData(LIKELY_AI))
    assert window.proxy.rowCount() == 1 and window.detail.row is None
    window.filters.verdict.setCurrentIndex(0)  # back: the pane waits for a choice, no row is made current
    assert window.detail.row is None


def test_the_sort_the_person_chose_is_kept_across_a_restart(tmp_path, qtbot, model_path, make_window):
    """Every start went back to "Scanned, newest first" (a review)."""
    from PySide6.QtCore import Qt

    from desktop.results_model import COLUMN_NAME

    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "b.png", 230), write_image(tmp_path / "a.png", 30)])
    wait_for_results(qtbot, window, 2)
    window.table.sortByColumn(COLUMN_NAME, Qt.SortOrder.AscendingOrder)
    window.close()
    again = make_window(model_path)
    qtbot.waitUntil(lambda: again.proxy.rowCount() == 2, timeout=WAIT_MS)
    header = again.table.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (COLUMN_NAME, Qt.SortOrder.AscendingOrder)
    assert [again.proxy.row_for(again.proxy.index(p, 0)).name for p in range(2)] == ["a.png", "b.png"]


def test_clear_history_waits_for_a_running_scan(tmp_path, qtbot, slow_model, make_window):
    """Cleared during a scan, results already written but not yet shown were wiped while their rows showed
    them: 11 to 22 rows fewer after a restart (a review)."""
    window = make_window(slow_model)
    drop(window, [write_image(tmp_path / f"p{index:02d}.png", 40 + 5 * index, size=(320, 240)) for index in range(24)])
    qtbot.waitUntil(lambda: window.service.busy, timeout=WAIT_MS)
    window.clear_history_action.trigger()  # no question: nothing is asked, nothing deleted
    assert window.statusBar().currentMessage().startswith("A scan is running: clear the history once it ends")
    wait_for_results(qtbot, window, 24)
    qtbot.waitUntil(lambda: not window.service.busy, timeout=WAIT_MS)
    assert len(window.session.store.history()) == 24


def test_rescan_selected_scans_again_with_the_model_in_use(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230), write_image(tmp_path / "b.png", 30)])
    wait_for_results(qtbot, window, 2)
    before = {row.name: row.result.scanned_at for row in window.model.rows()}
    select_names(window, {"a.png"})
    window.rescan_action.trigger()
    qtbot.waitUntil(lambda: any(row.name == "a.png" and row.status == "done" and row.result.scanned_at > before["a.png"]
                                for row in window.model.rows()), timeout=WAIT_MS)
    rescanned = {row.name: row.result for row in window.model.rows()}
    assert not rescanned["a.png"].cached  # scanned, not answered from the store
    assert rescanned["b.png"].scanned_at == before["b.png"]  # only what was selected


def test_a_rescan_cancelled_keeps_every_stored_verdict(tmp_path, qtbot, slow_model, make_window):
    """Rescan dropped the stored verdicts before scanning: Esc at once left 12 of 300 results in the store,
    and 12 rows after a restart (a review)."""
    window = make_window(slow_model)
    paths = [write_image(tmp_path / f"p{index:02d}.png", 40 + 5 * index, size=(320, 240)) for index in range(24)]
    drop(window, paths)
    wait_for_results(qtbot, window, len(paths))
    store = window.session.store
    before = {r.sha256: r.scanned_at for r in store.history()}
    assert len(before) == len(paths)
    window.table.selectAll()
    window.rescan_action.trigger()
    window.cancel_scan()
    qtbot.waitUntil(lambda: not window.service.busy, timeout=WAIT_MS)
    after = {r.sha256: r.scanned_at for r in store.history()}
    assert set(after) == set(before)  # every image keeps a verdict: the old one, or a new one if it got one
    assert all(after[sha] >= before[sha] for sha in before)


def test_csv_time_is_iso_8601_local_time_with_offset(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230)])
    wait_for_results(qtbot, window, 1)
    [row] = csv.DictReader(io.StringIO(window.export_results(str(tmp_path / "out.csv")).read_text(encoding="utf-8-sig")))
    when = datetime.fromisoformat(row["scanned_at"])
    assert when.utcoffset() == datetime.now().astimezone().utcoffset()
    assert abs(when.timestamp() - window.model.rows()[0].result.scanned_at) < 1


def yes_then_ok(seen: list[str]) -> None:
    """Yes to the question, then OK to the warning that follows it (its text into ``seen``)."""
    from PySide6.QtCore import QTimer

    answer_message_box(QMessageBox.StandardButton.Yes)
    QTimer.singleShot(300, lambda: answer_message_box(QMessageBox.StandardButton.Ok, seen))


def test_a_history_that_cannot_be_changed_says_so_and_keeps_the_rows(tmp_path, qtbot, model_path, make_window):
    """The database refuses the change (here a trigger in it: a damaged or full one, or one another program
    holds, fails the same way): Delete and Clear history say so, and the rows stay in view and in the store."""
    import sqlite3

    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230), write_image(tmp_path / "b.png", 30)])
    wait_for_results(qtbot, window, 2)
    with sqlite3.connect(window.session.store.path) as db:
        db.execute("CREATE TRIGGER refuse BEFORE DELETE ON results BEGIN SELECT RAISE(ABORT, 'refused'); END")
    select_names(window, {"a.png"})
    seen: list[str] = []
    yes_then_ok(seen)
    window.delete_action.trigger()
    assert seen and "could not change its history" in seen[0] and "Nothing was deleted" in seen[0]
    assert window.model.rowCount() == 2 and stored_names(window) == ["a.png", "b.png"]
    seen.clear()
    yes_then_ok(seen)
    window.clear_history_action.trigger()
    assert seen and "could not change its history" in seen[0]
    assert window.model.rowCount() == 2 and stored_names(window) == ["a.png", "b.png"]


def test_a_history_longer_than_the_list_says_how_much_it_shows(tmp_path, qtbot, model_path, make_window):
    """The list holds the newest results only (20,000 in the app): a review's 100,000-row history showed
    20,000 rows without a word, and Export said "Exported 20000 results"."""
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / f"{name}.png", value) for name, value in (("a", 230), ("b", 30), ("c", 140))])
    wait_for_results(qtbot, window, 3)
    window.service.load_history(limit=2)
    qtbot.waitUntil(lambda: window.history_label.isVisible(), timeout=WAIT_MS)
    assert window.history_label.text() == "Newest 2 of 3 results" and window.history_label.isVisible()
    answer_message_box(QMessageBox.StandardButton.Yes)
    window.clear_history_action.trigger()
    assert not window.history_label.isVisible()  # no longer true once the history is cleared


def test_a_history_that_cannot_be_read_is_said_not_shown_as_empty(tmp_path, qtbot, model_path, make_window):
    import sqlite3

    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230)])
    wait_for_results(qtbot, window, 1)
    with sqlite3.connect(window.session.store.path) as db:
        db.execute("UPDATE results SET summary = '{broken'")  # what a damaged page reads as
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    window.service.load_history()
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    assert "could not read its history" in seen[0] and str(window.session.store.path) in seen[0]


def test_a_full_disk_mid_session_is_said_and_the_scans_still_show(tmp_path, qtbot, model_path, make_window):
    """The store refuses every write (triggers here; a full disk fails the same way): a dropped folder is
    scanned all the same and its verdicts show, and the window says they are not being kept. A review saw a
    folder dropped on a full disk do nothing but say "Scan finished", and results silently not stored."""
    import sqlite3

    window = make_window(model_path)
    with sqlite3.connect(window.session.store.path) as db:
        for table in ("results", "pending"):
            db.execute(f"CREATE TRIGGER full_{table} BEFORE INSERT ON {table} "
                       "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, value in (("a", 230), ("b", 30)):
        write_image(folder / f"{name}.png", value)
    window.scan_paths([str(folder)], "dropped")
    wait_for_results(qtbot, window, 2)
    assert sorted(row.result.verdict for row in window.model.rows()) == ["likely_ai", "likely_real"]
    qtbot.waitUntil(lambda: window.unsaved_label.isVisible(), timeout=WAIT_MS)
    assert window.unsaved_label.text() == "Results not being saved"
    assert "disk is full" in window.unsaved_label.toolTip() and "free some disk space" in window.unsaved_label.toolTip()
    assert window.session.store.history() == []
    # Space freed: the next result is kept, and the warning goes (it stayed for good, a reread found).
    with sqlite3.connect(window.session.store.path) as db:
        for table in ("results", "pending"):
            db.execute(f"DROP TRIGGER full_{table}")
    drop(window, [write_image(tmp_path / "later.png", 120)])
    wait_for_results(qtbot, window, 3)
    qtbot.waitUntil(lambda: not window.unsaved_label.isVisible(), timeout=WAIT_MS)
    assert [result.path for result in window.session.store.history()] == [str(tmp_path / "later.png")]


def test_after_a_deletion_the_history_label_counts_what_is_left(tmp_path, qtbot, model_path, make_window,
                                                                monkeypatch):
    """It kept "Newest 20,000 of 102,020 results" after 5,000 were deleted, until a restart."""
    first = make_window(model_path)
    drop(first, [write_image(tmp_path / f"{name}.png", 40 + 30 * i) for i, name in enumerate("abcde")])
    wait_for_results(qtbot, first, 5)
    first.shutdown()
    first.session.shutdown()
    monkeypatch.setattr("desktop.scanning.HISTORY_LIMIT", 3)  # the app's 20,000, at the scale of a test
    window = make_window(model_path)
    qtbot.waitUntil(lambda: window.history_label.isVisible(), timeout=WAIT_MS)
    assert window.history_label.text() == "Newest 3 of 5 results"
    select_names(window, {window.model.rows()[0].name})
    answer_message_box(QMessageBox.StandardButton.Yes)
    window.delete_action.trigger()
    qtbot.waitUntil(lambda: window.history_label.text() == "Newest 2 of 4 results", timeout=WAIT_MS)


def test_while_the_history_is_read_the_empty_list_says_so(qtbot, model_path, make_window):
    """A year of history takes seconds to read: the list said "Drop images or folders here" meanwhile, as if
    nothing had ever been scanned."""
    from desktop.ui.results_table import EMPTY_HINT, READING_HINT

    window = make_window(model_path)
    qtbot.waitUntil(lambda: window.table.empty_hint() == EMPTY_HINT, timeout=WAIT_MS)
    window.service.load_history()
    assert window.table.empty_hint() == READING_HINT  # at once, before the read ends
    window.table.viewport().repaint()
    assert window.table.accessibleDescription() == READING_HINT  # and said
    qtbot.waitUntil(lambda: window.table.empty_hint() == EMPTY_HINT, timeout=WAIT_MS)


def test_copying_many_results_gives_a_table_at_once_not_every_detail(tmp_path, qtbot, model_path, make_window):
    """Ctrl+A, Ctrl+C on 20,000 rows built 265 MB of JSON on the window's thread: a minute frozen."""
    import random

    from desktop.export import COPY_DETAILS_LIMIT
    from tests.desktop.test_results_model import fake_result

    window = make_window(model_path)
    rng = random.Random(3)
    results = [fake_result(index, rng) for index in range(COPY_DETAILS_LIMIT + 50)]
    window.model.add_queued([(result.path, result.source) for result in results])
    window.model.add_results(results)
    window.table.selectAll()
    window.copy_selected()
    clipboard = QApplication.clipboard()
    lines = clipboard.text().splitlines()
    assert lines[0] == "name\tverdict\tAI score\tpath" and len(lines) == len(results) + 1
    first = next(result for result in results if result.path.endswith(lines[1].split("\t")[0]))
    assert lines[1].split("\t")[1:] == [first.verdict_label, f"{first.probability:.0%}", first.path]
    assert not clipboard.mimeData().hasFormat("application/json")
    assert "as a table" in window.statusBar().currentMessage()


def test_a_history_that_turns_out_damaged_mid_session_is_not_answered_with_free_some_disk_space(
        tmp_path, qtbot, model_path, make_window):
    import sqlite3

    window = make_window(model_path)
    with sqlite3.connect(window.session.store.path) as db:  # SQLite's words for a page found broken
        db.execute("CREATE TRIGGER broken BEFORE INSERT ON results "
                   "BEGIN SELECT RAISE(ABORT, 'database disk image is malformed'); END")
    window.scan_paths([str(write_image(tmp_path / "a.png", 230))], "dropped")
    qtbot.waitUntil(lambda: window.unsaved_label.isVisible(), timeout=WAIT_MS)
    tip = window.unsaved_label.toolTip()
    assert "the history file is damaged: quit SynthSpot and start it again, which offers to set it aside" in tip
    assert "disk space" not in tip
