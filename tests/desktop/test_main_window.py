"""The main window on the offscreen platform, driven as a person would drive it."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QIcon, QImage, QKeySequence
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from desktop.results_model import COLUMN_SOURCE, COLUMN_TIME, COLUMN_VERDICT, DONE, QUEUED
from engine.result import ERROR, LIKELY_AI, LIKELY_REAL, UNCERTAIN
from tests.conftest import nest_past_the_path_limit
from tests.desktop.conftest import WAIT_MS, answer_message_box, wait_for_results, write_image


def drop(window, paths):
    """Deliver drag-enter and drop events for local files, as a file manager would.

    Straight to the window's event handler: QApplication refuses drop events when no
    platform drag is in progress, which the offscreen platform never has."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    try:  # Qt 6.12 takes a QPointF; earlier releases a QPoint
        enter = QDragEnterEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    except TypeError:
        enter = QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    window.event(enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    window.event(event)
    return event.isAccepted()  # read now: the event points into ``mime``, which dies with this frame


def answer_file_dialog(choose):
    """Answer the next modal file dialog as a person would: ``choose(dialog)`` picks, then it is accepted.
    (Offscreen Qt has no native dialogs, so this is Qt's own QFileDialog, running for real.)"""
    def answer():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(20, answer)  # not open yet
            return
        choose(dialog)
        dialog.accept()

    QTimer.singleShot(0, answer)


def in_view(window, name) -> bool:
    """The current row is ``name`` and the table shows it."""
    current = window.table.currentIndex()
    row = window.proxy.row_for(current)
    return (row is not None and row.name == name
            and window.table.viewport().rect().intersects(window.table.visualRect(current)))


def rows_by_name(window):
    return {row.name: row for row in window.model.rows()}


def test_dropping_files_and_folders_gives_rows_then_results(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(folder / "bright.png", 230)
    write_image(folder / "dark.jpg", 30, fmt="JPEG")
    (folder / "readme.txt").write_text("not an image: a folder drop skips it")
    single = write_image(tmp_path / "grey.png", 140)
    assert not window.table.viewport().acceptDrops()  # drops on the table reach the window
    assert drop(window, [folder, single])
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=WAIT_MS)
    wait_for_results(qtbot, window, 3)
    rows = rows_by_name(window)
    assert {name: row.result.verdict for name, row in rows.items()} == {
        "bright.png": LIKELY_AI, "dark.jpg": LIKELY_REAL, "grey.png": UNCERTAIN}
    assert all(row.source == "dropped" for row in rows.values())
    assert rows["bright.png"].verdict_text.startswith("Likely AI · AI ")  # the AI score, not a confidence
    qtbot.waitUntil(lambda: not window.scan_progress.bar.isVisible() and not window.scan_progress.cancel_button.isVisible(), timeout=WAIT_MS)
    assert window.statusBar().currentMessage() == "Scan finished: 3 images: 1 likely AI, 1 uncertain, 1 likely real."


def test_a_folder_given_twice_at_once_is_scanned_once_one_row_a_file(tmp_path, qtbot, model_path, make_window):
    """Ctrl+V held down on a copied folder: the same folder twice within milliseconds crashed the app
    (two rows of one file), or left rows "Waiting" for ever and counted each file twice."""
    window = make_window(model_path)
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(12):
        write_image(folder / f"{index:02d}.png", 30 + 15 * index)
    assert window.scan_paths([str(folder)], "clipboard") and window.scan_paths([str(folder)], "clipboard")
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Scan finished"), timeout=WAIT_MS)
    assert window.statusBar().currentMessage().startswith("Scan finished: 12 images:")
    assert window.model.rowCount() == 12 and window.proxy.rowCount() == 12
    assert all(row.status == "done" and not row.result.cached for row in window.model.rows())  # not "seen before"


def test_a_folder_inside_a_drop_that_cannot_be_opened_is_named_in_the_summary(tmp_path, qtbot, model_path,
                                                                               make_window):
    """It scanned the rest without a word, as if the folder had held nothing."""
    window = make_window(model_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "top.png", 230)
    nest_past_the_path_limit(photos, write_image(tmp_path / "deep-model.png", 230).read_bytes())
    drop(window, [photos])
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Scan finished"), timeout=WAIT_MS)
    message = window.statusBar().currentMessage()
    assert message.startswith("Scan finished: 1 image: 1 likely AI. Could not open "), message
    assert "(the path is longer than the system allows): not scanned." in message


def test_a_folder_with_no_image_in_it_says_so(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    notes = tmp_path / "notes"
    (notes / "deeper").mkdir(parents=True)
    (notes / "readme.txt").write_text("words")
    (notes / "deeper" / "todo.md").write_text("more words")
    assert drop(window, [notes])
    qtbot.waitUntil(lambda: "No images found in notes" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert window.model.rowCount() == 0
    qtbot.wait(300)  # the scan's end does not cover the explanation with a bare "Scan finished."
    assert "No images found in notes" in window.statusBar().currentMessage()
    drop(window, [write_image(tmp_path / "a.png", 230)])  # and the next drop scans as usual
    wait_for_results(qtbot, window, 1)


def test_corrupt_file_gives_an_error_row_and_the_app_keeps_working(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 200)
    drop(window, [broken])
    wait_for_results(qtbot, window, 1)
    row = rows_by_name(window)["broken.jpg"]
    assert row.result.verdict == ERROR and row.result.error
    assert row.verdict_text == "Error"
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Scan finished: 1 file: 1 could not be scanned.",
                    timeout=WAIT_MS)  # a file, not an image: it could not be read as one
    # The pane gives the scan's own reason where the picture would be, and claims nothing it did not read.
    window.select_proxy_row(0)
    detail = window.detail
    qtbot.waitUntil(lambda: row.result.error in detail.image_view.message, timeout=WAIT_MS)
    assert detail.image_view.message.startswith("broken.jpg cannot be shown: ")
    assert detail.image_view.accessibleDescription() == detail.image_view.message  # painted, and said
    assert "Provenance" not in detail.info.toPlainText() and not detail.crops_toggle.isEnabled()
    # A plain file icon where no thumbnail can be made, so its name lines up with the others'.
    name_cell = window.model.index(0, 0)
    qtbot.waitUntil(lambda: isinstance(name_cell.data(Qt.ItemDataRole.DecorationRole), QIcon)
                    and name_cell.data(Qt.ItemDataRole.DecorationRole).cacheKey() == window._no_thumbnail.cacheKey(),
                    timeout=WAIT_MS)
    drop(window, [write_image(tmp_path / "after.png", 230)])
    wait_for_results(qtbot, window, 2)
    assert rows_by_name(window)["after.png"].result.verdict == LIKELY_AI


def test_a_thumbnail_still_loading_holds_its_place(tmp_path, qtbot, model_path, make_window):
    from PySide6.QtGui import QPixmap

    window = make_window(model_path)
    path = str(write_image(tmp_path / "new.png", 120))
    waiting = window._thumbnail(path)  # asked before it is made: a blank of the thumbnail's size
    assert isinstance(waiting, QIcon) and waiting.cacheKey() != window._no_thumbnail.cacheKey()
    assert waiting.availableSizes()[0].width() == window.table.iconSize().width()
    qtbot.waitUntil(lambda: isinstance(window._thumbnail(path), QPixmap), timeout=WAIT_MS)


def test_image_named_files_that_do_not_decode_are_error_rows_that_outlive_a_restart(
        tmp_path, qtbot, model_path, make_window):
    from desktop.settings import WatchedFolder

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "random.jpg").write_bytes(np.random.default_rng(1).bytes(3000))
    (folder / "text.png").write_text("not a picture")
    (folder / "empty.jpg").write_bytes(b"")
    write_image(folder / "fine.png", 30)
    watched = tmp_path / "Downloads"
    watched.mkdir()
    window = make_window(model_path, stable_seconds=0.2, watched_folders=[WatchedFolder(str(watched))])
    qtbot.waitUntil(lambda: window.session.watch_summary() == "Watching 1 folder", timeout=WAIT_MS)
    drop(window, [folder])
    (watched / "download.jpg").write_text("<html>an error page saved as .jpg</html>")
    wait_for_results(qtbot, window, 5)
    errors = {name for name, row in rows_by_name(window).items() if row.result.verdict == ERROR}
    assert errors == {"random.jpg", "text.png", "empty.jpg", "download.jpg"}
    window.shutdown()
    window.session.shutdown()
    again = make_window(model_path)
    qtbot.waitUntil(lambda: again.model.rowCount() == 5, timeout=WAIT_MS)
    rows = rows_by_name(again)
    assert {name for name, row in rows.items() if row.result.verdict == ERROR} == errors
    assert "empty" in rows["empty.jpg"].result.error and rows["fine.png"].result.ok


def test_sort_by_score_and_time_and_filter_by_verdict_source_text(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    values = {"a.png": 240, "b.png": 20, "c.png": 140, "d.png": 200, "e.png": 60}
    paths = [write_image(tmp_path / name, value) for name, value in values.items()]
    drop(window, paths)
    wait_for_results(qtbot, window, 5)
    proxy = window.proxy

    def names():
        return [proxy.row_for(proxy.index(i, 0)).name for i in range(proxy.rowCount())]

    window.table.sortByColumn(COLUMN_VERDICT, Qt.SortOrder.DescendingOrder)
    assert names() == sorted(values, key=values.get, reverse=True)
    window.table.sortByColumn(COLUMN_VERDICT, Qt.SortOrder.AscendingOrder)
    assert names() == sorted(values, key=values.get)
    window.table.sortByColumn(COLUMN_TIME, Qt.SortOrder.AscendingOrder)
    times = [proxy.row_for(proxy.index(i, 0)).time for i in range(proxy.rowCount())]
    assert times == sorted(times)

    window.filters.verdict.setCurrentIndex(window.filters.verdict.findData(LIKELY_AI))
    assert sorted(names()) == ["a.png", "d.png"]
    window.filters.verdict.setCurrentIndex(window.filters.verdict.findData(LIKELY_REAL))
    assert sorted(names()) == ["b.png", "e.png"]
    window.filters.verdict.setCurrentIndex(0)
    window.filters.text.setText("C.PNG")
    assert names() == ["c.png"]
    window.filters.text.setText("uncertain")  # verdict words match too
    assert names() == ["c.png"]
    window.filters.text.clear()
    window.filters.source.setCurrentIndex(window.filters.source.findData("watched"))
    assert names() == []
    window.filters.source.setCurrentIndex(window.filters.source.findData("dropped"))
    assert len(names()) == 5


def test_what_the_person_gives_is_selected_and_scrolled_into_view(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    paths = [write_image(tmp_path / f"{index:02d}.png", 40 + index * 4, size=(48, 32)) for index in range(40)]
    drop(window, paths)
    wait_for_results(qtbot, window, 40)
    top = window.proxy.row_for(window.proxy.index(0, 0)).name  # the newest, first in the default order
    window.table.scrollToBottom()
    assert not window.table.viewport().rect().intersects(window.table.visualRect(window.proxy.index(0, 0)))

    drop(window, [tmp_path / top])  # a second drop of an image scanned a moment ago
    qtbot.waitUntil(lambda: in_view(window, top) and rows_by_name(window)[top].status == DONE, timeout=WAIT_MS)

    window.table.scrollToBottom()
    image = QImage(str(write_image(tmp_path / "to-paste.png", 200)))
    mime = QMimeData()
    mime.setImageData(image)
    QApplication.clipboard().setMimeData(mime)
    window.paste_action.trigger()  # a new row lands above a scrolled list
    qtbot.waitUntil(lambda: window.detail.row is not None and window.detail.row.source == "clipboard", timeout=WAIT_MS)
    pasted = window.detail.row.name
    qtbot.waitUntil(lambda: in_view(window, pasted) and rows_by_name(window)[pasted].status == DONE, timeout=WAIT_MS)
    QApplication.clipboard().clear()

    window.table.scrollToBottom()
    window.filters.verdict.setCurrentIndex(window.filters.verdict.findData(LIKELY_REAL))  # hides what is opened next
    opened = write_image(tmp_path / "opened.png", 230)
    answer_file_dialog(lambda dialog: dialog.selectFile(str(opened)))
    window.open_files_action.trigger()
    qtbot.waitUntil(lambda: in_view(window, "opened.png") and rows_by_name(window)["opened.png"].status == DONE,
                    timeout=WAIT_MS)
    assert rows_by_name(window)["opened.png"].source == "opened"
    assert window.model.data(window.model.index(window.model.position_of(str(opened)), COLUMN_SOURCE)) == "Opened"


def test_file_dialogs_start_in_the_last_folder_used_never_the_working_directory(
        tmp_path, qtbot, model_path, make_window, monkeypatch):
    from PySide6.QtCore import QStandardPaths

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # where a launcher started the app
    window = make_window(model_path)
    starts = []
    photos = tmp_path / "photos"
    photos.mkdir()
    image = write_image(photos / "a.png", 200)

    def pick(dialog):
        starts.append(dialog.directory().absolutePath())
        dialog.selectFile(str(image))

    answer_file_dialog(pick)
    window.open_files_action.trigger()
    usual = {QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation),
             QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation),
             str(__import__("pathlib").Path.home())}
    assert starts[0] in usual and starts[0] != str(work)
    answer_file_dialog(pick)
    window.open_files_action.trigger()
    assert starts[1] == str(photos)


def scanned_and_shown(window, qtbot, path):
    """``path`` dropped, scanned, selected, and its picture drawn in the detail pane."""
    drop(window, [path])
    wait_for_results(qtbot, window, 1)
    window.select_proxy_row(0)
    qtbot.waitUntil(lambda: window.detail.image_view.image_rect() is not None, timeout=WAIT_MS)
    return window.detail


def test_detail_pane_shows_heatmap_crops_and_expert_mix(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    detail = scanned_and_shown(window, qtbot, write_image(tmp_path / "bright.png", 225, size=(256, 192)))
    assert detail.row.name == "bright.png"
    text = detail.info.toPlainText()
    assert "reconstruction-like" in text and "upsampling-like" in text
    assert "Likely AI" in text and "SHA-256" in text
    assert detail.image_view.has_heatmap and detail.heatmap_toggle.isEnabled()
    # The overlay really changes the picture: compare the pane with and without it.
    detail.crops_toggle.setChecked(False)
    with_heatmap = detail.image_view.grab().toImage()
    detail.heatmap_toggle.setChecked(False)
    without_heatmap = detail.image_view.grab().toImage()
    assert with_heatmap != without_heatmap
    detail.crops_toggle.setChecked(True)
    with_crops = detail.image_view.grab().toImage()
    assert with_crops != without_heatmap
    # What is painted is said: the crop boxes now, the heatmap off.
    described = detail.image_view.accessibleDescription()
    assert f"{len(detail.row.result.crops)} crop boxes" in described and "heatmap" not in described


def test_a_result_keeps_its_heatmap_under_a_model_without_maps(tmp_path, qtbot, model_path, make_window):
    """A row scanned by a model with maps, shown while one without is loaded: its stored map could not be
    shown ("The loaded model has no artifact map")."""
    from desktop.scanning import LOADING
    from tests.fixtures.synthetic import brightness_model

    window = make_window(model_path)
    detail = scanned_and_shown(window, qtbot, write_image(tmp_path / "mapped.png", 225, size=(256, 192)))
    plain = brightness_model(tmp_path / "plain.onnx", crop_size=32, name="plain")  # no artifact_map output
    window.session.set_model(str(plain), "cpu")
    qtbot.waitUntil(lambda: window.service.model_state.state != LOADING and window.service.detector.path == plain,
                    timeout=WAIT_MS)
    detail.show_row(detail.row)
    assert detail.image_view.has_heatmap and detail.heatmap_toggle.isEnabled()
    detail.heatmap_toggle.setChecked(True)
    assert "heatmap" in detail.image_view.accessibleDescription()
    drop(window, [write_image(tmp_path / "plain.png", 225, size=(256, 192))])  # scanned without a map
    wait_for_results(qtbot, window, 2)
    detail.show_row(rows_by_name(window)["plain.png"])
    assert not detail.heatmap_toggle.isEnabled()
    assert detail.heatmap_toggle.toolTip() == "The loaded model has no artifact map, so there is no heatmap to show"


def test_under_the_picture_it_says_how_much_of_it_the_model_examined(tmp_path, qtbot, model_path, make_window):
    """The heatmap covers the few patches the model looked at: a faint colour on 3% of a photo read as "the rest
    is clean" (a review), and nothing said the rest was never examined."""
    from desktop.ui.detail_pane import examined_share
    from engine.result import CropScore, Result

    window = make_window(model_path)
    detail = scanned_and_shown(window, qtbot, write_image(tmp_path / "wide.png", 225, size=(256, 192)))
    result = detail.row.result
    share = examined_share(result)
    assert 0 < share <= 1
    assert detail.examined.isVisibleTo(detail) and detail.examined.text() == (
        f"The model examined {len(result.crops)} patches ({share:.0%} of the image): red marks the strongest "
        "traces. The rest was not examined.")
    detail.heatmap_toggle.setChecked(False)
    assert "red marks" not in detail.examined.text() and "The rest was not examined." in detail.examined.text()
    detail.crops_toggle.setChecked(False)
    assert not detail.examined.isVisibleTo(detail)  # nothing drawn, nothing to explain
    # Overlapping patches count once: two 32 px crops, half over each other, on a 64 x 64 image.
    two = Result(sha256="0" * 64, width=64, height=64, crops=[CropScore(0, 0, 32, 0.5), CropScore(16, 16, 32, 0.5)])
    assert examined_share(two) == (32 * 32 * 2 - 16 * 16) / (64 * 64)
    # A 96 MP photo's few patches are "less than 1%", not "0%" (read as nothing examined); all of it has no rest.
    from desktop.ui.detail_pane import examined_text

    huge = Result(sha256="0" * 64, width=12000, height=8000, crops=[CropScore(0, 0, 96, 0.5)] * 8)
    assert "(less than 1% of the image)" in examined_text(huge, False)
    whole = Result(sha256="0" * 64, width=96, height=96, crops=[CropScore(0, 0, 96, 0.5)])
    assert examined_text(whole, False) == "The model examined 1 patch (100% of the image)."


def test_a_file_changed_after_its_scan_shows_no_old_overlays_and_asks_for_a_rescan(
        tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    path = write_image(tmp_path / "photo.png", 225, size=(256, 192))
    detail = scanned_and_shown(window, qtbot, path)
    assert detail.image_view.has_heatmap and "changed since it was scanned" not in detail.info.toPlainText()
    write_image(path, 30, size=(320, 240))  # another picture under the same name
    detail.show_row(detail.row)
    assert "changed since it was scanned" in detail.info.toPlainText()
    assert not detail.image_view.has_heatmap and not detail.heatmap_toggle.isEnabled()
    window.rescan_selected()  # the rescan gives the new content's verdict, and the warning goes
    qtbot.waitUntil(lambda: rows_by_name(window)["photo.png"].result is not None
                    and rows_by_name(window)["photo.png"].result.verdict == LIKELY_REAL, timeout=WAIT_MS)
    window.select_proxy_row(0)
    assert "changed since it was scanned" not in window.detail.info.toPlainText()


def test_a_photo_turned_in_a_viewer_after_its_scan_shows_no_old_overlays(tmp_path, qtbot, model_path, make_window):
    """A viewer's lossless rotate rewrites one EXIF byte: the size stays, and the crop boxes and heatmap
    stayed where the picture had been (the check compared sizes only)."""
    def jpeg(orientation: int) -> bytes:
        exif = Image.Exif()
        exif[0x0112] = orientation
        out = io.BytesIO()
        Image.fromarray(np.full((96, 128, 3), 220, np.uint8)).save(out, "JPEG", quality=90, exif=exif)
        return out.getvalue()

    turned_right, turned_left = jpeg(6), jpeg(8)
    assert len(turned_right) == len(turned_left)
    window = make_window(model_path)
    path = tmp_path / "turned.jpg"
    path.write_bytes(turned_right)
    detail = scanned_and_shown(window, qtbot, path)
    later = time.time() + 5
    path.write_bytes(turned_right)  # written again with the same bytes (a download of bytes seen before)
    os.utime(path, (later, later))
    detail.show_row(detail.row)
    assert "changed since it was scanned" not in detail.info.toPlainText() and detail.image_view.has_heatmap
    path.write_bytes(turned_left)  # turned by a viewer
    os.utime(path, (later, later))
    detail.show_row(detail.row)
    assert "changed since it was scanned" in detail.info.toPlainText() and not detail.image_view.has_heatmap


def test_a_photo_edited_and_scanned_again_shows_its_new_picture_under_its_new_crops(tmp_path, qtbot, model_path,
                                                                                    make_window):
    """Edited into a portrait and dropped again: the pane kept the old landscape picture (cached by path) and drew
    the new result's crops and heatmap over it: evidence on the wrong pixels. The list's thumbnail the same."""
    window = make_window(model_path)
    path = write_image(tmp_path / "photo.png", 225, size=(240, 120))
    detail = scanned_and_shown(window, qtbot, path)
    assert detail.image_view._pixmap.width() > detail.image_view._pixmap.height()
    write_image(path, 40, size=(120, 240), seed=2)  # the same name, edited
    drop(window, [path])
    qtbot.waitUntil(lambda: detail.row is not None and detail.row.result is not None
                    and detail.row.result.height == 240, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: detail.image_view._pixmap is not None
                    and detail.image_view._pixmap.height() > detail.image_view._pixmap.width(), timeout=WAIT_MS)
    assert detail.image_view.has_heatmap  # the new result's, over the new picture
    qtbot.waitUntil(lambda: (thumb := window.thumbnails.get(str(path))) is not None
                    and thumb.height() > thumb.width(), timeout=WAIT_MS)


FINE_DETAIL_AT_2X = """
import numpy as np
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QApplication
app = QApplication([])
from desktop.ui.image_view import ImageView
pixels = np.zeros((400, 400, 3), np.uint8)
pixels[::2, ::2] = pixels[1::2, 1::2] = 255  # a one-pixel checkerboard: the finest detail there is
picture = QPixmap.fromImage(QImage(pixels.data, 400, 400, 1200, QImage.Format.Format_RGB888))
view = ImageView()
view.resize(412, 412)
view.set_content(picture, None)
shot = view.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
rect = view.image_rect()
grey = np.frombuffer(shot.constBits(), np.uint8).reshape(shot.height(), shot.bytesPerLine())
ratio = shot.devicePixelRatio()
inner = grey[int(rect.top() * ratio) + 20:int(rect.bottom() * ratio) - 20, int(rect.left() * ratio) + 20:int(rect.right() * ratio) - 20]
print(ratio, float(inner.std()))
"""


def test_on_a_2x_screen_the_picture_keeps_its_finest_detail(tmp_path):
    """Scaled to the layout's size and blown up again by the painter, a picture on a 2x screen lost its pixel-level
    detail (a one-pixel checkerboard came out flat grey): the detail a person looks at for artifacts."""
    done = subprocess.run([sys.executable, "-c", FINE_DETAIL_AT_2X], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"},
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    ratio, contrast = map(float, done.stdout.split())
    assert ratio == 2.0 and contrast > 60, contrast  # black and white squares, not a grey of their mean


def test_rescanning_a_file_that_is_gone_keeps_its_result(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    path = write_image(tmp_path / "gone.png", 225)
    drop(window, [path])
    wait_for_results(qtbot, window, 1)
    verdict, sha256 = window.model.rows()[0].result.verdict, window.model.rows()[0].result.sha256
    path.unlink()
    window.select_proxy_row(0)
    window.rescan_selected()
    qtbot.wait(300)  # a rescan, had one started, would have answered by now
    row = window.model.rows()[0]
    assert row.result.ok and row.result.verdict == verdict
    assert "gone.png no longer exists" in window.statusBar().currentMessage()
    assert window.session.store.get(sha256, window.service.scanner.model_id) is not None


def test_a_row_whose_file_is_gone_offers_no_overlay_boxes(tmp_path, qtbot, model_path, make_window):
    """No picture to draw over (the file went while the app was closed): the heatmap and crop boxes were
    offered all the same, ticked and live."""
    window = make_window(model_path)
    path = write_image(tmp_path / "gone.png", 225)
    drop(window, [path])
    wait_for_results(qtbot, window, 1)
    window.shutdown()
    window.session.shutdown()
    path.unlink()
    again = make_window(model_path)
    qtbot.waitUntil(lambda: again.model.rowCount() == 1, timeout=WAIT_MS)
    again.select_proxy_row(0)
    assert again.detail.image_view.message == "gone.png cannot be shown: it was moved or deleted."
    assert not again.detail.heatmap_toggle.isEnabled() and not again.detail.crops_toggle.isEnabled()
    # Its crop scores are listed, not offered as links to a picture that is not there.
    text = again.detail.info.toPlainText()
    assert "Crop scores" in text and "shows its crop up close" not in text
    assert "href" not in again.detail.info.toHtml()
    # A path that never was (mistyped on the command line) is not said to have moved (a review).
    again.scan_paths([str(tmp_path / "never-was.png")], "cli")
    qtbot.waitUntil(lambda: again.model.rowCount() == 2, timeout=WAIT_MS)
    again.select_proxy_row(next(i for i in range(2) if again.proxy.row_for(again.proxy.index(i, 0)).name
                                == "never-was.png"))
    assert again.detail.image_view.message == "never-was.png cannot be shown: there is no such file."
    # A file that was read, and failed on its bytes, did exist: it moved (it said "there is no such file",
    # beside its scanned size).
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 500)
    again.scan_paths([str(broken)], "cli")
    qtbot.waitUntil(lambda: any(row.name == "broken.png" and row.result for row in again.model.rows()),
                    timeout=WAIT_MS)
    broken.unlink()
    again.select_proxy_row(next(i for i in range(3) if again.proxy.row_for(again.proxy.index(i, 0)).name
                                == "gone.png"))  # (a scanned row is selected: away, and back)
    again.select_proxy_row(next(i for i in range(3) if again.proxy.row_for(again.proxy.index(i, 0)).name
                                == "broken.png"))
    assert again.detail.image_view.message == "broken.png cannot be shown: it was moved or deleted."
    # A link that loops: its row and its picture agree that there is no file behind it (the picture said
    # "there is no such file" beside the system's "Too many levels of symbolic links").
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    again.scan_paths([str(tmp_path / "loop.png")], "cli")
    qtbot.waitUntil(lambda: any(row.name == "loop.png" and row.result for row in again.model.rows()),
                    timeout=WAIT_MS)
    again.select_proxy_row(next(i for i in range(4) if again.proxy.row_for(again.proxy.index(i, 0)).name
                                == "loop.png"))
    assert again.detail.image_view.message == "loop.png cannot be shown: it is a link that leads to no file."
    assert "a link that loops back on itself" in again.detail.info.toPlainText()


def test_a_model_without_artifact_maps_shows_no_live_heatmap_box(tmp_path, qtbot, plain_model_path, model_path,
                                                                   make_window):
    window = make_window(plain_model_path)
    toggle = window.detail.heatmap_toggle
    drop(window, [write_image(tmp_path / "a.png", 230, size=(128, 96))])
    wait_for_results(qtbot, window, 1)
    window.select_proxy_row(0)
    qtbot.waitUntil(lambda: window.detail.image_view.image_rect() is not None, timeout=WAIT_MS)
    assert not toggle.isEnabled() and not toggle.isChecked()
    assert "no artifact map" in toggle.toolTip()
    window.session.set_model(str(model_path), "auto")  # a model with maps: the box comes back, ticked
    qtbot.waitUntil(lambda: window.service.model_state.ready and toggle.isChecked(), timeout=WAIT_MS)


def test_keyboard_delete_removes_row_from_view_not_the_file_and_arrows_move_detail(
        tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    paths = [write_image(tmp_path / f"{name}.png", value) for name, value in (("x", 230), ("y", 30), ("z", 140))]
    drop(window, paths)
    wait_for_results(qtbot, window, 3)
    window.table.setFocus()
    window.select_proxy_row(0)
    first = window.detail.row.name
    qtbot.keyClick(window.table, Qt.Key.Key_Down)
    second = window.detail.row.name
    assert second != first
    qtbot.keyClick(window.table, Qt.Key.Key_Delete)
    assert window.model.rowCount() == 2
    assert second not in rows_by_name(window)
    assert (tmp_path / second).exists()
    assert window.detail.row is not None and window.detail.row.name != second
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.filters.text.hasFocus()
    assert window.open_files_action.shortcut().matches(QKeySequence("Ctrl+O")) == QKeySequence.SequenceMatch.ExactMatch


def test_home_and_end_go_to_the_first_and_last_row_keeping_the_column(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    paths = [write_image(tmp_path / f"{name}.png", value) for name, value in (("x", 230), ("y", 30), ("z", 140))]
    drop(window, paths)
    wait_for_results(qtbot, window, 3)
    window.table.setFocus()
    window.table.setCurrentIndex(window.proxy.index(1, COLUMN_VERDICT))
    qtbot.keyClick(window.table, Qt.Key.Key_End)
    assert (window.table.currentIndex().row(), window.table.currentIndex().column()) == (2, COLUMN_VERDICT)
    assert window.detail.row is window.proxy.row_for(window.table.currentIndex())
    qtbot.keyClick(window.table, Qt.Key.Key_Home)
    assert (window.table.currentIndex().row(), window.table.currentIndex().column()) == (0, COLUMN_VERDICT)
    assert window.detail.row is window.proxy.row_for(window.table.currentIndex())
    qtbot.keyClick(window.table, Qt.Key.Key_End, Qt.KeyboardModifier.ShiftModifier)  # Shift extends to the end
    assert window.table.currentIndex().row() == 2
    assert len(window.table.selectionModel().selectedRows()) == 3


def test_menus_shortcuts_and_accessible_names_for_keyboard_users(tmp_path, qtbot, slow_model, make_window):
    from PySide6.QtWidgets import QToolBar

    from desktop.ui.model_card import ModelCardDialog
    from desktop.ui.settings_dialog import SettingsDialog

    window = make_window(slow_model)
    menus = [action.text().replace("&", "") for action in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Help"]
    help_menu = window.menuBar().actions()[3].menu()
    assert [a.text().replace("&", "") for a in help_menu.actions()] == ["Model card", "About SynthSpot"]
    # In each open menu (and a row's right-click menu) every item has its own letter (Alt+E, then P pastes).
    for menu in [a.menu() for a in window.menuBar().actions()] + [window.row_menu()]:
        items = [a for a in menu.actions() if not a.isSeparator()]
        letters = [re.search(r"&(\w)", a.text()) for a in items]
        assert all(letters), [a.text() for a in items]
        keys = [letter[1].lower() for letter in letters]
        assert len(set(keys)) == len(keys), keys
    # Tool buttons and tooltips show the text without the mnemonic's "&".
    toolbar = window.findChild(QToolBar)
    for action in (window.open_files_action, window.paste_action, window.export_action, window.settings_action):
        assert "&" not in toolbar.widgetForAction(action).text() and "&" not in action.toolTip()
    assert toolbar.widgetForAction(window.open_folder_action).text() == "Open folder"
    from PySide6.QtGui import QAccessible

    def spoken(widget) -> str:
        return QAccessible.queryAccessibleInterface(widget).text(QAccessible.Text.Name)

    for widget in (window.table, window.detail.image_view, window.filters.text, window.detail.info, window.scan_progress.bar):
        assert spoken(widget), widget
    # On Linux a combo box is named by the label it is the buddy of, else only by its current item.
    for combo, name in ((window.filters.verdict, "Verdict"), (window.filters.source, "Source")):
        labels = QAccessible.queryAccessibleInterface(combo).relations(QAccessible.RelationFlag.Label)
        assert [label.text(QAccessible.Text.Name).strip() for label, _ in labels] == [name]
    toolbar_button = window.findChild(QToolBar).widgetForAction(window.open_files_action)
    assert toolbar_button.focusPolicy() in (Qt.FocusPolicy.TabFocus, Qt.FocusPolicy.StrongFocus)
    # Tab from the list lands on the picture, whose description a screen reader then reads (it was never
    # focused: Tab went from the list to the toggles).
    window.table.setFocus()
    window.table.focusNextChild()
    assert window.detail.image_view.hasFocus()

    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(40):
        write_image(folder / f"{index:03d}.jpg", 100 + index, size=(256, 192), seed=index, fmt="JPEG")
    drop(window, [folder])
    qtbot.waitUntil(lambda: window.cancel_action.isEnabled(), timeout=WAIT_MS)
    window.table.setFocus()
    with qtbot.waitSignal(window.service.scanFinished, timeout=WAIT_MS) as finished:
        qtbot.keyClick(window.table, Qt.Key.Key_Escape)
    assert finished.args == [True]
    assert not window.cancel_action.isEnabled()
    # Tab leaves the list (rows are chosen with the arrows) to the filters and the detail pane, with rows in it.
    window.table.setFocus()
    qtbot.waitUntil(window.table.hasFocus, timeout=WAIT_MS)
    reached = set()
    for _ in range(12):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.add(QApplication.focusWidget())
    assert window.detail.info in reached and window.filters.text in reached, [type(w).__name__ for w in reached]
    # The filters' labels take Alt+R and Alt+O to their combo boxes.
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)
    assert window.filters.verdict.hasFocus()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_O, Qt.KeyboardModifier.AltModifier)
    assert window.filters.source.hasFocus()
    # Where the keyboard is, a ring in the window's text colour shows it; a click needs none.
    from desktop.ui.focus import show_keyboard_focus
    ring = show_keyboard_focus()
    assert ring is not None and ring.widget is QApplication.focusWidget()
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton)
    assert window.table.hasFocus() and ring.widget is None
    # Around the list, reached by the keyboard, it shows on all four sides (flush with the splitter, three were
    # cut off).
    window.filters.text.setFocus(Qt.FocusReason.TabFocusReason)
    window.table.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: ring.widget is window.table, timeout=WAIT_MS)
    frame = ring._live_frame()
    assert frame.parentWidget().rect().contains(frame.geometry()), (frame.geometry(), frame.parentWidget().rect())

    opened = []

    def close_dialog():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, close_dialog)
            return
        opened.append(dialog)
        if isinstance(dialog, ModelCardDialog):
            opened.append(dialog.text.toPlainText())
        dialog.reject()

    QTimer.singleShot(0, close_dialog)
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)  # Ctrl+, on every platform
    assert opened and isinstance(opened[0], SettingsDialog)
    opened.clear()
    QTimer.singleShot(0, close_dialog)
    window.model_card_action.trigger()
    assert isinstance(opened[0], ModelCardDialog) and "test-brightness v1" in opened[1]
    assert "Artifact heatmap" in opened[1]
    assert "AI scores\nthe model's own scores (not rescaled" in opened[1]


def test_export_writes_valid_csv_and_json(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230), write_image(tmp_path / "b.png", 30)])
    wait_for_results(qtbot, window, 2)
    csv_path = window.export_results(str(tmp_path / "out.csv"))
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbfpath,")  # a spreadsheet then reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert sorted((r["path"].rsplit("/", 1)[-1], r["verdict"]) for r in rows) == [
        ("a.png", LIKELY_AI), ("b.png", LIKELY_REAL)]
    assert all(0.0 <= float(r["probability"]) <= 1.0 for r in rows)
    json_path = window.export_results(str(tmp_path / "out.json"))
    items = json.loads(json_path.read_text(encoding="utf-8"))
    assert sorted(item["verdict"] for item in items) == [LIKELY_AI, LIKELY_REAL]
    assert all(len(item["sha256"]) == 64 and item["expert_weights"] for item in items)
    window.filters.verdict.setCurrentIndex(window.filters.verdict.findData(LIKELY_AI))
    filtered = json.loads(window.export_results(str(tmp_path / "ai.json")).read_text())
    assert [item["verdict"] for item in filtered] == [LIKELY_AI]  # exports what is in view


def test_actions_on_the_selection_are_offered_only_while_rows_are_selected(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    on_selection = [window.copy_action, window.rescan_action, window.reveal_action, window.remove_action,
                    window.delete_action]
    assert not any(action.isEnabled() for action in on_selection)
    drop(window, [write_image(tmp_path / "a.png", 230)])
    wait_for_results(qtbot, window, 1)
    window.table.clearSelection()
    assert not any(action.isEnabled() for action in on_selection)
    window.select_proxy_row(0)
    assert all(action.isEnabled() for action in on_selection)
    window.remove_action.trigger()
    assert window.model.rowCount() == 0 and not any(action.isEnabled() for action in on_selection)
    assert window.clear_history_action.isEnabled()  # what was removed from view is still stored


def test_an_export_that_cannot_be_written_says_why_and_leaves_nothing(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230)])
    wait_for_results(qtbot, window, 1)
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    target = tmp_path / "no-such-folder" / "out.csv"
    assert window.export_results(str(target)) is None
    assert seen and "the folder" in seen[0] and "no-such-folder" in seen[0] and "does not exist" in seen[0]
    assert "Export failed" in window.statusBar().currentMessage()
    full = tmp_path / "full.json"  # a disk that fills up mid-write: no half file, no ".saving" left behind
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    (tmp_path / ".full.json.saving").symlink_to("/dev/full")  # Linux's always-full device
    assert window.export_results(str(full)) is None
    assert "the disk is full" in seen[1] and not full.exists() and not (tmp_path / ".full.json.saving").exists()
    # The longest name the system allows is written (its ".saving" copy's name was one too long), and one
    # where files cannot be made says so, not that the folder does not exist.
    longest = tmp_path / ("r" * 251 + ".csv")
    assert window.export_results(str(longest)) == longest and longest.read_text(encoding="utf-8-sig").startswith("path,")
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    assert window.export_results("/proc/out.csv") is None
    assert "files cannot be made in that folder" in seen[2], seen[2]
    # A device or a pipe chosen as the file (root replaced /dev/full's node, and was told "Exported"): refused.
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    assert window.export_results(str(pipe)) is None
    assert "that is not a normal file (a folder, a device or a pipe)" in seen[3], seen[3]
    assert pipe.is_fifo() and not list(tmp_path.glob(".pipe.csv.saving"))


def test_copy_result_and_paste_image_from_clipboard(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230)])
    wait_for_results(qtbot, window, 1)
    window.select_proxy_row(0)
    window.copy_selected()
    clipboard = QApplication.clipboard()
    assert "a.png: Likely AI" in clipboard.text()
    assert json.loads(bytes(clipboard.mimeData().data("application/json")))[0]["verdict"] == LIKELY_AI
    image = QImage(str(write_image(tmp_path / "dark.png", 25)))
    mime = QMimeData()
    mime.setImageData(image)
    clipboard.setMimeData(mime)
    window.paste()
    wait_for_results(qtbot, window, 2)
    pasted = [row for row in window.model.rows() if row.source == "clipboard"]
    assert len(pasted) == 1 and pasted[0].result.verdict == LIKELY_REAL
    assert pasted[0].path.endswith(".png") and (tmp_path / "data" / "pasted") in __import__("pathlib").Path(
        pasted[0].path).parents
    # The clipboard owns that QMimeData now; left there, Qt frees it after Python's wrapper at exit (SIGSEGV).
    clipboard.clear()
    # Image data dropped (as some browsers drag it) is a dropped image, not a pasted one.
    dropped = QMimeData()
    dropped.setImageData(QImage(str(write_image(tmp_path / "grey.png", 140))))
    assert window.scan_mime(dropped, "dropped")
    wait_for_results(qtbot, window, 3)
    assert [row.name[:8] for row in window.model.rows() if row.name.startswith("dropped ")] == ["dropped "]
    # A web address is not downloaded: the person is told what to do instead.
    web = QMimeData()
    web.setUrls([QUrl("https://example.com/cat.jpg")])
    assert not window.scan_mime(web, "dropped")
    assert "web address" in window.statusBar().currentMessage()


def test_a_pasted_jpeg_is_kept_byte_for_byte_and_a_pasted_path_is_scanned(tmp_path, qtbot, model_path, make_window):
    """A browser's "Copy image" offers the encoded file: it was decoded and re-encoded as PNG on the window's
    thread (seconds for a photo, its JPEG traces gone). A path copied as text ("Copy as path", a terminal), quoted
    or as a file: URL, was "no image or image files"; a web address as text was not told apart."""
    window = make_window(model_path)
    jpeg = io.BytesIO()
    Image.fromarray(np.full((90, 120, 3), 230, np.uint8)).save(jpeg, "JPEG", quality=70)
    copied = QMimeData()
    copied.setData("image/jpeg", jpeg.getvalue())
    assert window.scan_mime(copied, "clipboard")
    wait_for_results(qtbot, window, 1)
    (row,) = window.model.rows()
    assert row.path.endswith(".jpg") and Path(row.path).read_bytes() == jpeg.getvalue()
    first, second = write_image(tmp_path / "first photo.png", 30), write_image(tmp_path / "second.png", 40)
    text = QMimeData()
    text.setText(f'"{first}"\nfile://{second}\n')
    assert window.scan_mime(text, "clipboard")
    wait_for_results(qtbot, window, 3)
    assert {r.name for r in window.model.rows()} >= {"first photo.png", "second.png"}
    web = QMimeData()
    web.setText("https://example.com/cat.jpg")
    assert not window.scan_mime(web, "clipboard") and "web address" in window.statusBar().currentMessage()
    prose = QMimeData()
    prose.setText("a sentence, not a file")
    assert not window.scan_mime(prose, "clipboard") and "no image or image files" in window.statusBar().currentMessage()
    # A path copied before its file was moved: said so, not "no image" (a dropped one gets an error row).
    moved = QMimeData()
    moved.setText(f"{tmp_path}/Pictures/holiday.jpg\n")
    assert not window.scan_mime(moved, "clipboard")
    assert window.statusBar().currentMessage() == (f"There is no file at {tmp_path}/Pictures/holiday.jpg: it may have "
                                                   "been moved, renamed or deleted.")


def test_export_counts_in_words_and_says_when_filters_hide_everything(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230)])
    wait_for_results(qtbot, window, 1)
    window.export_results(str(tmp_path / "one.csv"))
    assert window.statusBar().currentMessage() == f"Exported 1 result to {tmp_path / 'one.csv'}"
    # What the export leaves out is said: results the filters hide, rows in view not scanned yet.
    drop(window, [write_image(tmp_path / "b.png", 30)])
    wait_for_results(qtbot, window, 2)
    window.model.add_queued([(str(tmp_path / "queued-a.png"), "dropped")])  # shown, not scanned yet
    window.filters.text.setText("a.png")
    window.export_results(str(tmp_path / "a.csv"))
    assert window.statusBar().currentMessage() == (f"Exported 1 result to {tmp_path / 'a.csv'} (not written: "
                                                   "1 more hidden by the filters; 1 in view with no result yet)")
    window.filters.text.setText("no row has this name")
    assert window.export_results(str(tmp_path / "none.csv")) is None
    assert "clear the filters" in window.statusBar().currentMessage()


def test_a_name_typed_without_its_extension_asks_before_replacing_the_file_it_names(tmp_path, qtbot, make_window):
    """"results" typed in the save dialog became results.csv after the dialog's own check: replaced unasked."""
    from PySide6.QtWidgets import QMessageBox

    from desktop.ui.export_flow import with_format
    from tests.desktop.conftest import answer_message_box

    window = make_window()
    existing = tmp_path / "results.csv"
    existing.write_text("kept")
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Cancel, seen)
    assert with_format(window, str(tmp_path / "results"), "CSV (*.csv)") is None
    assert seen == [f"{existing} already exists. Replace it?"]
    answer_message_box(QMessageBox.StandardButton.Yes, seen)
    assert with_format(window, str(tmp_path / "results"), "CSV (*.csv)") == (str(existing), None)
    assert len(seen) == 2
    # No question where nothing is there, or where the dialog saw the whole name.
    assert with_format(window, str(tmp_path / "results"), "JSON (*.json)") == (str(tmp_path / "results.json"), None)
    assert with_format(window, str(existing), "CSV (*.csv)") == (str(existing), None)
    assert with_format(window, str(tmp_path / "notes.txt"), "CSV (*.csv)") == (str(tmp_path / "notes.txt"), True)
    assert len(seen) == 2 and existing.read_text() == "kept"


def test_about_names_the_version_and_the_detector_and_quit_has_ctrl_q(qtbot, model_path, make_window):
    import engine

    window = make_window(model_path)
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    window.about_action.trigger()
    assert f"SynthSpot {engine.__version__}" in seen[0] and "test-brightness v1 on CPU" in seen[0]
    assert QKeySequence("Ctrl+Q") in window.quit_action.shortcuts()


def test_history_reloads_after_restart(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    drop(window, [write_image(tmp_path / "a.png", 230), write_image(tmp_path / "b.png", 30)])
    wait_for_results(qtbot, window, 2)
    window.shutdown()
    window.session.shutdown()
    again = make_window(model_path)
    qtbot.waitUntil(lambda: again.model.rowCount() == 2, timeout=WAIT_MS)
    rows = rows_by_name(again)
    assert {rows["a.png"].result.verdict, rows["b.png"].result.verdict} == {LIKELY_AI, LIKELY_REAL}
    assert all(row.status == DONE for row in rows.values())
    # Dropping a file from history again is answered from the store, in the same row.
    drop(again, [tmp_path / "a.png"])
    qtbot.waitUntil(lambda: rows_by_name(again)["a.png"].result.cached, timeout=WAIT_MS)
    assert again.model.rowCount() == 2


def test_without_a_model_the_app_starts_with_a_banner_and_scans_after_one_is_chosen(
        tmp_path, qtbot, model_path, make_window, monkeypatch):
    from engine import models

    monkeypatch.setattr(models, "DEFAULTS_FILE", tmp_path / "no-default.json")  # hide the embedded default
    window = make_window(None)
    assert window.banner.isVisible()
    assert "No detector model installed" in window.banner.label.text()
    assert "No detector model installed" in window.banner.accessibleDescription()  # said, not only painted
    assert not window.open_files_action.isEnabled()
    # Nothing to go back to, and the empty list and pane say what to do first, not how to open files.
    assert window.banner.use_builtin.isHidden() and not window.table.can_scan
    window.table.grab()  # painted, and the same words given to a screen reader
    assert window.table.accessibleDescription() == window.table.empty_hint() and "No detector model" in \
        window.table.empty_hint()
    assert "Choose a detector model first" in window.detail.info.toPlainText()
    path = write_image(tmp_path / "a.png", 230)
    assert not window.scan_paths([str(path)], "dropped")
    assert window.model.rowCount() == 0
    window.session.set_model(str(model_path), "auto")
    qtbot.waitUntil(lambda: window.service.model_state.ready, timeout=WAIT_MS)
    assert not window.banner.isVisible() and window.open_files_action.isEnabled() and window.table.can_scan
    assert "Open files" in window.detail.info.toPlainText()
    assert window.provider_label.text() == "Model: test-brightness v1 (CPU)"
    assert window.scan_paths([str(path)], "dropped")
    wait_for_results(qtbot, window, 1)


def test_a_broken_model_file_says_why(tmp_path, qtbot, make_window):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    window = make_window(broken)
    assert window.banner.isVisible()
    assert "could not be loaded" in window.banner.label.text()
    assert "ONNXRuntimeError" not in window.banner.label.text()
    # The person's own file failed: one click goes back to the model that comes with SynthSpot.
    assert window.banner.use_builtin.isVisible()
    window.banner.use_builtin.click()
    qtbot.waitUntil(lambda: window.service.model_state.ready, timeout=WAIT_MS)
    assert not window.banner.isVisible() and window.session.settings.model_path == ""
    assert window.provider_label.text().startswith("Model: synthspot-lite0 v")


def test_choosing_a_model_that_does_not_load_keeps_the_one_in_use(tmp_path, qtbot, model_path, slow_model,
                                                                   make_window):
    window = make_window(model_path)
    working = window.service.detector
    broken = tmp_path / "damaged.onnx"
    broken.write_bytes(b"half a download")
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    window.session.set_model(str(broken), "cpu")
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    assert "could not be loaded" in seen[0] and "keeps using test-brightness v1" in seen[0]
    assert window.service.model_state.ready and window.service.detector is working
    assert not window.banner.isVisible() and window.open_files_action.isEnabled()
    assert window.session.settings.model_path == str(model_path)  # the next start uses the working one too
    drop(window, [write_image(tmp_path / "a.png", 230)])  # and scanning goes on
    wait_for_results(qtbot, window, 1)
    # Another model chosen, and before it has loaded a broken one: the first is dropped for the second, and
    # the settings go back to the model still scanning, not to the one that never loaded.
    seen.clear()
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    window.session.set_model(str(slow_model), "cpu")
    window.session.set_model(str(broken), "cpu")
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.service.model_state.ready, timeout=WAIT_MS)
    assert window.service.detector is working and window.session.settings.model_path == str(model_path)


def sixty_jpegs(tmp_path):
    """A folder of 60 small JPEGs: with the slow model, a scan long enough to be interrupted."""
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(60):
        write_image(folder / f"{index:03d}.jpg", 100 + index, size=(256, 192), seed=index, fmt="JPEG")
    return folder


def test_cancel_marks_unscanned_rows(tmp_path, qtbot, slow_model, make_window):
    window = make_window(slow_model)
    folder = sixty_jpegs(tmp_path)
    # Cancel the moment the rows appear, as a person who dropped the wrong folder would.
    window.service.rowsQueued.connect(lambda rows: window.scan_progress.cancel_button.click())
    drop(window, [folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == 60, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.service.busy, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(row.status != QUEUED for row in window.model.rows()), timeout=WAIT_MS)
    statuses = [row.status for row in window.model.rows()]
    assert statuses.count("cancelled") > 0
    assert "not scanned (Ctrl+R scans them)" in window.statusBar().currentMessage()
    assert window.session.store.pending() == []  # cancelled files are not resumed at the next start
    drop(window, [folder / "059.jpg"])  # the app keeps working after a cancel
    qtbot.waitUntil(lambda: rows_by_name(window)["059.jpg"].status == DONE, timeout=WAIT_MS)


def test_cancel_says_so_at_once_and_is_not_offered_twice(tmp_path, qtbot, slow_model, make_window):
    window = make_window(slow_model)
    folder = sixty_jpegs(tmp_path)
    seen_while_cancelling = []
    window.service.progressChanged.connect(lambda done, total: seen_while_cancelling.append(
        (window.scan_progress.cancel_button.isEnabled(), window.cancel_action.isEnabled())) if window.scan_progress.cancelling else None)
    drop(window, [folder])
    wait_for_results(qtbot, window, 1)
    window.cancel_action.trigger()  # Esc
    # before the images already being scanned have finished: the button says what is happening
    assert window.scan_progress.cancel_button.text() == "Cancelling…" and not window.scan_progress.cancel_button.isEnabled()
    assert not window.cancel_action.isEnabled()
    assert window.statusBar().currentMessage().startswith("Cancelling")
    with qtbot.waitSignal(window.service.scanFinished, timeout=WAIT_MS) as finished:
        pass
    assert finished.args == [True]
    assert seen_while_cancelling and not any(enabled for pair in seen_while_cancelling for enabled in pair)
    assert "not scanned (Ctrl+R scans them)" in window.statusBar().currentMessage()
    # the next scan offers Cancel again
    drop(window, [write_image(tmp_path / "next.png", 50, size=(256, 192))])
    qtbot.waitUntil(lambda: window.cancel_action.isEnabled() or not window.service.busy, timeout=WAIT_MS)
    assert window.scan_progress.cancel_button.text() == "Cancel" and window.scan_progress.cancel_button.isEnabled()


def test_switching_the_model_mid_scan_scans_the_rest_with_the_new_one_and_ends_the_scan(
        tmp_path, qtbot, slow_model, model_path, make_window):
    window = make_window(slow_model)
    folder = sixty_jpegs(tmp_path)
    progress = []
    window.service.progressChanged.connect(lambda done, total: progress.append((done, total)))
    drop(window, [folder])
    wait_for_results(qtbot, window, 1)
    with qtbot.waitSignal(window.service.scanFinished, timeout=WAIT_MS) as finished:
        window.session.set_model(str(model_path), "auto")  # from Settings, while most files are still queued
    assert finished.args == [False]
    assert not window.service.busy
    assert progress[-1] == (60, 60), progress[-6:]  # each file counted once, in the old scanner or the new
    assert not window.scan_progress.bar.isVisible() and not window.scan_progress.cancel_button.isVisible()
    assert all(row.status == DONE and row.result.ok for row in window.model.rows())
    assert window.session.store.pending() == []
    drop(window, [write_image(tmp_path / "after.png", 230)])  # and the app keeps working
    qtbot.waitUntil(lambda: "after.png" in rows_by_name(window) and rows_by_name(window)["after.png"].status == DONE,
                    timeout=WAIT_MS)


def test_pending_files_and_folders_from_a_previous_run_are_resumed_at_start(
        tmp_path, qtbot, model_path, make_session, make_window, store_path):
    from engine.store import Store

    folder = tmp_path / "half-expanded"
    folder.mkdir()
    for index in range(5):
        write_image(folder / f"{index}.png", 200 + index * 5)
    lone = write_image(tmp_path / "lone.png", 20)
    Store(store_path).add_pending([(str(folder), "cli"), (str(lone), "watched")])  # a run died here
    from desktop.ui.main_window import MainWindow

    session = make_session(model_path)
    window = MainWindow(session)  # as make_window builds it, watched from before the session starts
    qtbot.addWidget(window)
    said = []
    window.service.leftoversResumed.connect(lambda count, folders: said.append(window.statusBar().currentMessage()))
    session.start()
    wait_for_results(qtbot, window, 6)
    assert said == ["Scanning 2 files and folders left unscanned when SynthSpot last closed."]
    rows = rows_by_name(window)
    assert rows["lone.png"].source == "watched" and rows["0.png"].source == "cli"
    qtbot.waitUntil(lambda: window.session.store.pending() == [], timeout=WAIT_MS)
    assert window.session.store.count() == 6
    window.shutdown()
    second = make_window(model_path)  # nothing left over this time: nothing said
    assert "left unscanned" not in second.statusBar().currentMessage()


def test_a_thumbnail_that_failed_on_a_half_written_file_comes_back_with_its_result(
        tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    whole = write_image(tmp_path / "whole.jpg", 200, fmt="JPEG").read_bytes()
    target = tmp_path / "arriving.jpg"
    target.write_bytes(whole[:len(whole) // 2])
    window.thumbnails.get(str(target))  # the table asked while the file was half written
    qtbot.waitUntil(lambda: window.thumbnails.failed(str(target)), timeout=WAIT_MS)
    target.write_bytes(whole)
    drop(window, [target])
    wait_for_results(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.thumbnails.get(str(target)) is not None, timeout=WAIT_MS)


def test_the_model_card_says_how_the_probabilities_were_rescaled():
    from desktop.ui.model_card import probabilities_text
    from engine.contract import LogitScaling

    assert "the sigmoid of 1.34 × the model's logit -0.0409" in probabilities_text(LogitScaling(1.3432, -0.04091))
    assert "not rescaled" in probabilities_text(LogitScaling())


def test_the_model_card_says_in_words_how_the_model_was_made_and_measured():
    from desktop.ui.model_card import measured_rows, training_rows

    training = {"backbone": "efficientnet_lite0", "method": "sef", "adapter": "lora", "gamma": True,
                "calibration": {"split": "val", "n_real": 4105, "real_quantile": 0.9}, "crops_seen": 65536}
    made = dict(training_rows(training))
    assert made["Method"].startswith("SEF: separately trained experts")
    assert made["Manipulation maps"] == "GAMMA segmentation heads"
    assert made["Calibrated on"] == "4,105 real images of the val split (crops and processed copies of held-back photos)"
    assert made["Crops seen"] == "65536"  # a key the card does not know is still shown, plainly
    training["calibration"]["weighting"] = "photo"  # thresholds hold 1% of photos, not of crops
    assert dict(training_rows(training))["Calibrated on"] == (
        "4,105 real images of the val split (crops and processed copies of held-back photos, every photo weighing "
        "the same)")
    measured = measured_rows({"split": "test", "ap": 0.87, "tpr_at_1fpr": 0.3675, "extra": {"a_b": True}})
    assert measured[0] == ("Images", "the test split, never trained or tuned on")
    assert ("Fakes caught (1% false alarms)", "36.8%") in measured
    stamped = dict(measured_rows({"split": "test", "fakes_likely_ai": 0.2364, "reals_likely_ai": 0.0025}))
    assert (stamped["Fakes called likely AI"], stamped["Real photos called likely AI"]) == ("23.6%", "0.2%")
    assert ("Average precision (1 is perfect)", "0.87") in measured and ("Extra", "a b: yes") in measured
    assert not any("{" in value or "True" in value for _, value in [*made.items(), *measured])


def test_kinds_of_artifact_read_as_processes_and_a_share_that_rounds_to_nothing_is_left_out(model_path):
    from desktop.export import expert_mix_text
    from desktop.ui.model_card import model_card_html
    from engine.model import Detector

    mix = {"upsample": 0.991, "reconstruct": 0.006, "regenerate": 0.0, "inpaint": 0.003}
    assert expert_mix_text(mix) == "upsampling-like 99%, reconstruction-like 1%"
    assert expert_mix_text({"inpaint": 0.001, "upsample": 0.0}) == "inpainting-like 0%"  # the largest stays
    card = model_card_html(Detector(model_path, provider="cpu"))
    assert "reconstruction, upsampling" in card and "reconstruct," not in card
    assert card.count("<table>") == 1  # one table: every section's values start at the same place


def test_the_built_in_models_card_leads_with_what_it_cannot_detect(model_path):
    """The card showed AP 0.87 and "fakes caught" with no word of the model never having seen a
    text-to-image generator; its MODEL_CARD.md says so under "Known blind spots"."""
    from desktop.ui.model_card import model_card_html
    from engine.model import Detector
    from engine.models import default_model_path

    card = model_card_html(Detector(default_model_path(), provider="cpu"))
    lead = card.index("<b>It has never seen a text-to-image generator (Stable Diffusion")
    assert lead < card.index("<table>") < card.index("What it cannot detect")
    # Before any figure, what each verdict is worth, in the model's own measures (a review: a developer's log).
    short = card.index("Likely AI is a strong hint, not proof: about 1% of real photos get it")
    assert lead < short < card.index("It calls about 22% of the fakes it was tested on likely AI") < card.index("<table>")
    assert card.count("<li>") >= 3  # every blind spot, at the end
    # In plain words: the card file's developer notes (commands, sessions, other versions) stay in the file.
    assert not any(note in card for note in ("bench/", "--", "session", "version 11", "AP "))
    assert "What it cannot detect" not in model_card_html(Detector(model_path, provider="cpu"))  # no card beside it


def test_a_card_describes_only_the_model_file_and_version_it_names(tmp_path, model_path):
    """A person's own export saved beside the built-in model was shown the built-in card's blind spots."""
    import shutil

    from desktop.ui.model_card import blind_spots
    from engine.models import EMBEDDED_DIR, default_model_path

    card = (EMBEDDED_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    shipped = default_model_path()
    shutil.copy(shipped, folder / shipped.name)
    shutil.copy(model_path, folder / "mine.onnx")
    from engine.model import Detector

    meta = Detector(folder / shipped.name, provider="cpu").metadata
    assert len(blind_spots(folder / shipped.name, meta.name, meta.version)) >= 3
    assert blind_spots(folder / "mine.onnx", "test-brightness", "1") == []  # another file
    assert blind_spots(folder / shipped.name, meta.name, meta.version + "-retrained") == []  # another version


def test_the_model_card_says_whether_the_model_decides_some_images_on_its_first_crops():
    from desktop.ui.model_card import cascade_text
    from engine.contract import EarlyExit, ModelMetadata

    plain = ModelMetadata(name="m", version="1", crop_size=96)
    fast = ModelMetadata(name="m", version="1", crop_size=96, early_exit=EarlyExit(4, 0.4))
    assert cascade_text(plain) == "none: every crop is scored"
    assert cascade_text(fast) == ("the first 4 crops decide alone when their score lies more than 40 points beyond a band; "
                                  "otherwise all 8 are scored")


def test_crop_boxes_stand_out_from_a_photo_of_their_own_colour_range(tmp_path, qtbot, model_path, make_window):
    from desktop.ui.style import contrast_ratio

    window = make_window(model_path)
    detail = scanned_and_shown(window, qtbot, write_image(tmp_path / "grey.png", 150, size=(256, 192)))
    detail.heatmap_toggle.setChecked(False)
    image = detail.image_view.grab().toImage()
    target = detail.image_view.image_rect()
    result = detail.row.result
    crop = result.crops[0]
    scale = target.width() / result.width
    left = round(target.left() + crop.left * scale)
    middle = round(target.top() + (crop.top + crop.size / 2) * scale)  # the side's middle: clear of its label
    ground = image.pixelColor(left + round(crop.size * scale / 2), middle)  # the photo inside the box
    edge = max(contrast_ratio(image.pixelColor(x, middle), ground) for x in range(left - 3, left + 4))
    assert edge >= 3.0, edge  # the coloured line alone on this grey: 2.5:1


def test_pasted_image_data_that_cannot_be_saved_is_said_and_nothing_is_scanned(tmp_path, qapp):
    """Pasted bytes and pasted pixels are saved before they are scanned: where that fails (a full disk, a
    history folder gone), the person reads where and why, and no row stands for a file that is not there."""
    from desktop.ui.clipboard import take_mime

    gone = tmp_path / "gone"  # never made: each save into it fails as on a vanished folder
    asked: list[tuple[str, str]] = []

    def saved_path(how: str, suffix: str) -> Path:
        asked.append((how, suffix))
        return gone / f"{how}{suffix}"

    jpeg = io.BytesIO()
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(jpeg, "JPEG")
    copied = QMimeData()
    copied.setData("image/jpeg", jpeg.getvalue())
    intake = take_mime(copied, "clipboard", saved_path)
    assert intake.paths == [] and intake.message.startswith(f"Could not save the image to {gone / 'pasted.jpg'}: ")
    assert "No such file or directory" in intake.message
    pixels = QMimeData()
    pixels.setImageData(QImage(str(write_image(tmp_path / "grey.png", 140))))
    intake = take_mime(pixels, "dropped", saved_path)
    assert intake.paths == [] and intake.message == f"Could not save the image to {gone / 'dropped.png'}"
    assert asked == [("pasted", ".jpg"), ("dropped", ".png")] and not gone.exists()
    # Where the folder is there, the same data is saved and named for scanning.
    gone.mkdir()
    assert take_mime(copied, "clipboard", saved_path).paths == [str(gone / "pasted.jpg")]
    assert (gone / "pasted.jpg").read_bytes() == jpeg.getvalue()


def test_nothing_found_names_the_folders_that_would_not_open(tmp_path, qtbot, model_path, make_window):
    """With no image found, a folder that would not open (a locked one; here one nested past the path limit) went
    unsaid, "No images found" alone: it is said with the scan's summary, and there was no scan. (Dropped alone,
    a locked folder is named as not opened, not as holding no images.)"""
    window = make_window(model_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    nest_past_the_path_limit(photos, write_image(tmp_path / "deep-model.png", 230).read_bytes())
    drop(window, [photos])
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("No images found"), timeout=WAIT_MS)
    message = window.statusBar().currentMessage()
    assert message.startswith("No images found in photos: nothing to scan (sub-folders were searched too). "
                              "Could not open "), message
    assert message.endswith("(the path is longer than the system allows): not scanned."), message
    # Cut at the window's edge beside the status panels, the message shows whole on hovering.
    window.resize(1000, 700)
    assert window.statusBar().toolTip() == message
    # A folder dropped alone that would not open (as the scan service reports a locked one, which root here
    # could open): named as not opened, not as holding no images.
    locked = str(tmp_path / "locked")
    window._folders_unreadable([(locked, "permission denied")])
    window._nothing_found([locked])
    assert window.statusBar().currentMessage() == "Could not open locked (permission denied): not scanned."
