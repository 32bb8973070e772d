"""Zooming into the detail pane's picture: the wheel, a drag, a double-click and the keys, and the file's own
pixels read in where the 1,600 px picture has too few (a 12,000 px photo's crops are a few pixels at fit)."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPixmap, QTextCursor, QWheelEvent
from PySide6.QtWidgets import QApplication

from desktop.memory import release_freed_memory
from desktop.regions import RegionReader, read_region, region_box
from desktop.ui.image_view import ImageView
from desktop.ui.picture_geometry import zoomed_rect
from tests.desktop.conftest import WAIT_MS, wait_for_results, write_image
from tests.desktop.test_main_window import drop, scanned_and_shown


def striped_photo(path, size=(4800, 3200)):
    """Grey with one-pixel black and white columns in its middle: at fit (1,600 px picture) they average to grey,
    at the file's own resolution they alternate."""
    width, height = size
    pixels = np.full((height, width, 3), 128, dtype=np.uint8)
    middle = (slice(height // 2 - 200, height // 2 + 200), slice(width // 2 - 200, width // 2 + 200))
    block = pixels[middle]
    block[:, 0::2] = 0
    block[:, 1::2] = 255
    Image.fromarray(pixels).save(path)
    return path


def view_with_picture(qtbot, size=(800, 600), view_size=(400, 300), native: QSize | None = None) -> ImageView:
    """A shown view of a plain picture; ``native``: the file's size where the pane knows it (a scanned row)."""
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(*view_size)
    pixmap = QPixmap(*size)
    pixmap.fill(QColor(90, 120, 150))
    view.set_content(pixmap, None, "", native)
    view.show()
    return view


def wheel(view: ImageView, at: QPointF, notches: int) -> None:
    event = QWheelEvent(at, view.mapToGlobal(at), QPoint(), QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)


def double_click(qtbot, view: ImageView, at: QPoint) -> None:
    """QTest's double-click leaves Qt believing the button is still down (QGuiApplication.mouseButtons): the
    release a real mouse sends after it, so later focus changes in the same process are not taken as clicks."""
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=at)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at)


def image_point_at(view: ImageView, at: QPointF) -> QPointF:
    rect = view.image_rectf()
    return QPointF((at.x() - rect.left()) / rect.width(), (at.y() - rect.top()) / rect.height())


def test_zoomed_rect_fills_the_area_and_centres_what_is_smaller():
    area = QRectF(0, 0, 400, 300)
    fit = QRectF(0, 0, 400, 300)
    # Asked to centre on the image's corner at 2x: it stops at the edge instead of showing empty space.
    corner = zoomed_rect(fit, area, 2.0, QPointF(0.0, 0.0))
    assert (corner.left(), corner.top(), corner.width(), corner.height()) == (0, 0, 800, 600)
    middle = zoomed_rect(fit, area, 2.0, QPointF(0.5, 0.5))
    assert (middle.left(), middle.top()) == (-200, -150)
    # A tall strip fitted 100 px wide stays centred across while zoomed, however it is asked.
    strip = zoomed_rect(QRectF(150, 0, 100, 300), area, 2.0, QPointF(0.9, 0.5))
    assert strip.left() == 100 and strip.width() == 200


def test_the_wheel_zooms_about_the_pointer_and_stops_at_fit(qtbot):
    view = view_with_picture(qtbot)
    at = QPointF(120, 90)
    wheel(view, at, 1)
    assert view.actual_size_percent() is None and "zoomed in" in view.accessibleDescription()  # size unknown
    wheel(view, at, -1)
    view.set_content(view._pixmap, None, "", QSize(800, 600))
    before = image_point_at(view, at)
    wheel(view, at, 3)
    assert view.zoom == pytest.approx(1.25 ** 3)
    after = image_point_at(view, at)
    # The image point under the pointer stayed under it.
    assert after.x() == pytest.approx(before.x(), abs=1e-3) and after.y() == pytest.approx(before.y(), abs=1e-3)
    assert "zoomed to" in view.accessibleDescription()
    wheel(view, at, -10)
    assert view.zoom == 1.0 and view.image_rect() == view._fit()
    assert "zoomed" not in view.accessibleDescription()


def test_a_drag_moves_the_zoomed_picture_and_stops_at_its_edges(qtbot):
    view = view_with_picture(qtbot)
    view.zoom_to(3.0)
    start = view.image_rectf()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    qtbot.mouseMove(view, QPoint(230, 160))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(230, 160))
    moved = view.image_rectf()
    assert moved.left() - start.left() == pytest.approx(30) and moved.top() - start.top() == pytest.approx(10)
    # Dragged far past the left edge: the picture's left edge stays at the pane's, no empty space beside it.
    view.pan_by(5000, 0)
    area = QRectF(view._area())
    assert view.image_rectf().left() == pytest.approx(area.left())
    view.pan_by(-30, 0)  # and it moves back at once, not after undoing the 5,000 px that went nowhere
    assert view.image_rectf().left() == pytest.approx(area.left() - 30)


def test_double_click_shows_the_files_own_pixels_then_the_whole_picture(qtbot):
    view = view_with_picture(qtbot, size=(1600, 1200))
    view.set_content(view._pixmap, None, "", QSize(4800, 3600))  # a reduced picture of a larger file
    double_click(qtbot, view, QPoint(100, 100))
    assert view.actual_size_percent() == pytest.approx(100.0, rel=1e-3)
    double_click(qtbot, view, QPoint(100, 100))
    assert view.zoom == 1.0
    # Zoom stops at 8 screen pixels per file pixel.
    view.zoom_to(1e6)
    assert view.actual_size_percent() == pytest.approx(800.0, rel=1e-3)


def test_keys_zoom_and_move_once_the_picture_has_focus(qtbot):
    view = view_with_picture(qtbot, native=QSize(800, 600))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.zoom == pytest.approx(1.25)
    left = view.image_rectf().left()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.image_rectf().left() < left
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert view.actual_size_percent() == pytest.approx(100.0, rel=1e-3)
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.zoom == 1.0


def test_the_right_click_menu_zooms_and_offers_only_what_can_be_done(qtbot):
    view = view_with_picture(qtbot, size=(1600, 1200))
    view.set_content(view._pixmap, None, "", QSize(4800, 3600))

    def entries():
        return {action.text().split("\t")[0].replace("&", ""): action for action in view.zoom_menu().actions()}

    at_fit = entries()
    assert [name for name, action in at_fit.items() if action.isEnabled()] == ["Zoom in", "Actual pixels"]
    at_fit["Actual pixels"].trigger()
    assert view.actual_size_percent() == pytest.approx(100.0, rel=1e-3)
    entries()["Zoom in"].trigger()
    assert view.actual_size_percent() == pytest.approx(125.0, rel=1e-3)
    entries()["Fit to the pane"].trigger()
    assert view.zoom == 1.0
    view.zoom_to(1e6)
    assert not entries()["Zoom in"].isEnabled() and entries()["Zoom out"].isEnabled()


def test_a_message_in_place_of_the_picture_takes_no_zoom(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.set_content(None, None, "Loading…")
    wheel(view, QPointF(200, 150), 3)
    assert view.zoom == 1.0 and view.image_rectf() is None


def test_read_region_gives_the_files_pixels_never_enlarged(tmp_path):
    image = Image.fromarray(np.arange(200 * 100 * 3, dtype=np.uint32).reshape(100, 200, 3).astype(np.uint8))
    covered, pixels = read_region(image, QRectF(0.25, 0.5, 0.1, 0.2), QSize(1000, 1000))
    assert region_box(QRectF(0.25, 0.5, 0.1, 0.2), 200, 100) == (50, 50, 70, 70)
    assert (pixels.width(), pixels.height()) == (20, 20)  # its own pixels, though the screen had room for more
    assert covered == QRectF(0.25, 0.5, 0.1, 0.2)
    expected = image.getpixel((50, 50))
    assert QColor(pixels.pixel(0, 0)).getRgb()[:3] == expected
    # More pixels than the screen shows: reduced to what it shows.
    _covered, reduced = read_region(image, QRectF(0, 0, 1, 1), QSize(50, 25))
    assert (reduced.width(), reduced.height()) == (50, 25)


def test_a_box_rounded_out_by_a_pixel_keeps_the_files_pixels():
    """The box around a region is rounded outward (850 px) while the screen's size is rounded (849): resampled
    by 0.998, one-pixel stripes became a grey moiré at "100%"."""
    image = Image.new("RGB", (4800, 3200))
    covered, pixels = read_region(image, QRectF(0.30001, 0.3, 850 / 4800 - 0.00002, 0.1), QSize(849, 320))
    assert pixels.width() == round(covered.width() * 4800) == 850


def test_a_read_reduced_for_a_lower_zoom_is_read_again_further_in(qtbot):
    view = view_with_picture(qtbot, size=(1600, 1200), native=QSize(4800, 3600))
    view.zoom_to(view.actual_size_zoom() * 2)  # 200%: the screen shows more pixels than the file has
    reduced = QImage(round(4800 * 0.95), 3600, QImage.Format.Format_RGBX8888)  # 95% of the file's pixels
    reduced.fill(QColor(0, 0, 0))
    view.set_detail(QRectF(0, 0, 1, 1), reduced, QSize(4800, 3600))
    assert view._needs_region()
    whole = QImage(4800, 3600, QImage.Format.Format_RGBX8888)
    whole.fill(QColor(0, 0, 0))
    view.set_detail(QRectF(0, 0, 1, 1), whole, QSize(4800, 3600))
    assert not view._needs_region()


def test_the_reader_answers_the_newest_request_and_rereads_an_edited_file(tmp_path, qtbot):
    reader = RegionReader()
    path = tmp_path / "photo.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(path)
    answers = []
    reader.regionReady.connect(lambda *answer: answers.append(answer))
    try:
        reader.request(str(path), QRectF(0, 0, 0.5, 0.5), QSize(500, 500))
        qtbot.waitUntil(lambda: len(answers) == 1, timeout=WAIT_MS)
        name, region, image, native = answers[0]
        assert name == str(path) and native == QSize(300, 200) and (image.width(), image.height()) == (150, 100)
        assert QColor(image.pixel(5, 5)).getRgb()[:3] == (10, 20, 30)
        Image.new("RGB", (300, 200), (200, 100, 50)).save(path)  # edited under its name
        reader.request(str(path), QRectF(0, 0, 0.5, 0.5), QSize(500, 500))
        qtbot.waitUntil(lambda: len(answers) == 2, timeout=WAIT_MS)
        assert QColor(answers[1][2].pixel(5, 5)).getRgb()[:3] == (200, 100, 50)
        path.write_bytes(b"not an image")
        reader.request(str(path), QRectF(0, 0, 0.5, 0.5), QSize(500, 500))
        qtbot.waitUntil(lambda: len(answers) == 3, timeout=WAIT_MS)
        assert answers[2][2].isNull()
    finally:
        reader.stop()


def pure_share(image: QImage, x: int, y: int, span: int = 40) -> float:
    """The share of screen pixels along a row that are pure black or white: 1.0 where one-pixel stripes are
    drawn as themselves (squares when enlarged), near 0 where they were resampled into a grey moiré."""
    values = [QColor(image.pixel(x + i, y)).lightness() for i in range(span)]
    return sum(value <= 8 or value >= 247 for value in values) / span


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def test_zoomed_in_the_pane_shows_the_files_own_pixels_where_the_picture_blurred_them(
        tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    window.resize(1100, 800)
    detail = scanned_and_shown(window, qtbot, striped_photo(tmp_path / "stripes.png"))
    view = detail.image_view
    middle = QRectF(view._area()).center()
    x, y = int(middle.x()) - 20, int(middle.y())
    assert pure_share(view.grab().toImage(), x, y) < 0.2  # grey at fit: 4800 px in ~500
    double_click(qtbot, view, middle.toPoint())
    assert view.actual_size_percent() == pytest.approx(100.0, rel=1e-3)
    qtbot.waitUntil(lambda: view.has_detail, timeout=WAIT_MS)
    assert pure_share(view.grab().toImage(), x, y) == 1.0  # the file's pixels, not resampled by 0.998
    # Further in, the read made for 100% is not kept as "good enough": the stripes become squares.
    for _ in range(6):
        wheel(view, middle, 1)
    qtbot.wait(400)
    assert view.actual_size_percent() == pytest.approx(100 * 1.25 ** 6, rel=1e-3)
    assert pure_share(view.grab().toImage(), x, y) == 1.0
    # Another image: shown whole again, and the reader lets the 15 MP picture go.
    drop(window, [write_image(tmp_path / "other.png", 60, size=(256, 192))])
    wait_for_results(qtbot, window, 2)
    names = [window.proxy.row_for(window.proxy.index(i, 0)).name for i in range(2)]
    window.select_proxy_row(names.index("other.png"))
    qtbot.waitUntil(lambda: detail.row.name == "other.png", timeout=WAIT_MS)
    assert view.zoom == 1.0 and not view.has_detail


def test_the_reader_lets_a_large_picture_go_once_released(tmp_path, qtbot):
    path = tmp_path / "large.png"
    Image.new("RGB", (9000, 8000), (90, 90, 90)).save(path)  # 288 MB decoded (4 bytes a pixel), kB on disk
    reader = RegionReader()
    answers = []
    reader.regionReady.connect(lambda *answer: answers.append(answer))
    try:
        # Earlier tests' garbage and free heap pages go first: freed during the read, they hid most of the
        # picture's 288 MB from the difference (180 MB seen in a full run).
        gc.collect()
        release_freed_memory()
        before = rss_mb()
        reader.request(str(path), QRectF(0.4, 0.4, 0.1, 0.1), QSize(700, 600))
        qtbot.waitUntil(lambda: bool(answers), timeout=WAIT_MS)
        holding = rss_mb()
        assert holding - before > 200
        reader.release()
        qtbot.waitUntil(lambda: rss_mb() < holding - 200, timeout=WAIT_MS)
    finally:
        reader.stop()


def test_half_transparent_pixels_look_the_same_zoomed_as_fitted(qtbot):
    picture = QImage(400, 300, QImage.Format.Format_RGBA8888)
    picture.fill(QColor(200, 40, 40, 128))
    view = view_with_picture(qtbot, native=QSize(1600, 1200))
    view.set_content(QPixmap.fromImage(picture), None, "", QSize(1600, 1200))
    fitted = view.grab().toImage()
    inside = view.image_rect().center()
    view.zoom_to(4.0)
    file_pixels = QImage(800, 600, QImage.Format.Format_RGBA8888)
    file_pixels.fill(QColor(200, 40, 40, 128))
    view.set_detail(QRectF(0.25, 0.25, 0.5, 0.5), file_pixels, QSize(1600, 1200))
    zoomed = view.grab().toImage()
    centre = QRectF(view._area()).center().toPoint()
    # Where the checkerboard's light squares show through, alike: the stand-in is not drawn under the file's
    # pixels (drawn twice, a half-transparent red came out redder).
    fitted_colours = {QColor(fitted.pixel(inside.x() + dx, inside.y())).getRgb() for dx in range(16)}
    zoomed_colours = {QColor(zoomed.pixel(centre.x() + dx, centre.y())).getRgb() for dx in range(16)}
    assert zoomed_colours <= fitted_colours, (zoomed_colours, fitted_colours)


def test_a_small_image_zoomed_shows_its_pixels_as_squares(qtbot):
    checker = np.indices((30, 40)).sum(axis=0) % 2 * 255
    pixels = np.ascontiguousarray(np.repeat(checker[..., None], 3, axis=2).astype(np.uint8))
    picture = QImage(pixels.data, 40, 30, 120, QImage.Format.Format_RGB888).copy()
    view = view_with_picture(qtbot, native=QSize(40, 30))
    view.set_content(QPixmap.fromImage(picture), None, "", QSize(40, 30))  # the whole file: nothing to read
    view.zoom_to(view.max_zoom())
    assert view.actual_size_percent() == pytest.approx(800.0, rel=1e-3)
    centre = QRectF(view._area()).center().toPoint()
    assert pure_share(view.grab().toImage(), centre.x() - 20, centre.y()) == 1.0  # no bilinear smear


def test_a_resized_pane_keeps_the_zoom_scale(qtbot):
    view = view_with_picture(qtbot, size=(1600, 1200), native=QSize(4800, 3600))
    view.zoom_to(view.actual_size_zoom())
    view.resize(700, 520)
    qtbot.waitUntil(lambda: view.width() == 700)
    assert view.actual_size_percent() == pytest.approx(100.0, rel=1e-3)


def test_a_thin_strip_zoomed_is_not_stretched(qtbot):
    # Its 1,600 px picture is 18 px wide, 1.3% wider than the file's proportions: the file's size decides.
    view = view_with_picture(qtbot, size=(18, 1600), view_size=(400, 300), native=QSize(100, 9000))
    view.zoom_to(view.actual_size_zoom())
    rect = view.image_rectf()
    assert rect.height() / rect.width() == pytest.approx(90.0, rel=1e-6)


def test_at_about_100_percent_the_files_pixels_stay_sharp(qtbot):
    view = view_with_picture(qtbot, size=(1600, 1200), native=QSize(4800, 3600))
    # What rounding leaves of 100%: 99.8%, the image starting between two screen pixels.
    view.zoom_to(view.actual_size_zoom() * 0.998, QPointF(100.3, 100.7))
    assert view.image_rectf().left() % 1 != 0
    stripes = np.zeros((3600, 4800, 3), dtype=np.uint8)
    stripes[:, 1::2] = 255
    region, size = view._wanted_region()
    covered, pixels = read_region(Image.fromarray(stripes), region, size)
    view.set_detail(covered, pixels, QSize(4800, 3600))
    centre = QRectF(view._area()).center().toPoint()
    assert pure_share(view.grab().toImage(), centre.x() - 20, centre.y()) == 1.0


def test_a_file_edited_while_zoomed_shows_none_of_its_new_pixels_under_the_old_crops(
        tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    window.resize(1100, 800)
    path = striped_photo(tmp_path / "edited.png")
    detail = scanned_and_shown(window, qtbot, path)
    view = detail.image_view
    double_click(qtbot, view, QRectF(view._area()).center().toPoint())
    qtbot.waitUntil(lambda: view.has_detail, timeout=WAIT_MS)
    Image.new("RGB", (2400, 1600), (250, 120, 0)).save(path)  # replaced under its name while zoomed
    view.pan_by(-300, 0)
    qtbot.waitUntil(lambda: "changed since it was scanned" in detail.info.toPlainText(), timeout=WAIT_MS)
    assert not view.has_heatmap
    shown = view.grab().toImage()
    orange = [QColor(shown.pixel(x, 200)).getRgb()[:3] for x in range(50, 400, 10)]
    assert (250, 120, 0) not in orange


def shown_link(browser, href: str) -> QPoint:
    """The link to ``href`` in a QTextBrowser, scrolled into view: where it is drawn in the viewport."""
    document = browser.document()
    block = document.begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            if fragment.charFormat().anchorHref() == href:
                cursor = QTextCursor(document)
                cursor.setPosition(fragment.position() + fragment.length() // 2)
                browser.setTextCursor(cursor)
                browser.ensureCursorVisible()
                return browser.cursorRect(cursor).center()
            iterator += 1
        block = block.next()
    raise AssertionError(f"no link to {href}")


def test_a_crop_score_clicked_shows_that_crop_up_close(tmp_path, qtbot, model_path, make_window):
    window = make_window(model_path)
    window.resize(1100, 800)
    detail = scanned_and_shown(window, qtbot, striped_photo(tmp_path / "crops.png"))
    view, result = detail.image_view, detail.row.result
    index = max(range(len(result.crops)), key=lambda i: result.crops[i].left)  # a crop away from the middle
    crop = result.crops[index]
    link = shown_link(detail.info, f"crop:{index}")
    assert detail.info.viewport().rect().contains(link)
    qtbot.mouseClick(detail.info.viewport(), Qt.MouseButton.LeftButton, pos=link)
    assert view.zoom > 1.0
    rect, area = view.image_rectf(), QRectF(view._area())
    box = QRectF(rect.left() + crop.left / result.width * rect.width(),
                 rect.top() + crop.top / result.height * rect.height(),
                 crop.size / result.width * rect.width(), crop.size / result.height * rect.height())
    # Half the pane, or as close as eight screen pixels per file pixel allow; wholly in view.
    assert area.contains(box)
    assert (box.width() == pytest.approx(min(area.width(), area.height()) / 2, rel=0.01)
            or view.actual_size_percent() == pytest.approx(800.0, rel=1e-3))
    assert "(a score shows its crop up close)" in detail.info.toPlainText()


def test_zoomed_back_out_the_files_pixels_read_for_a_closer_zoom_are_not_shrunk_into_false_patterns(qtbot):
    """At 13% after 100%, the read made for 100% was drawn shrunk by the painter: 1-px detail became a coarse
    checkerboard that the same 13% reached from fit did not show."""
    view = view_with_picture(qtbot, size=(1600, 1200), native=QSize(4800, 3600))
    picture = QImage(1600, 1200, QImage.Format.Format_RGBX8888)
    picture.fill(QColor(128, 128, 128))  # the 1,600 px picture of a 1-px checker: grey
    view.set_content(QPixmap.fromImage(picture), None, "", QSize(4800, 3600))
    view.zoom_to(1.5)
    fresh = view.grab().toImage()
    view.zoom_to(view.actual_size_zoom())
    checker = np.indices((3600, 4800)).sum(axis=0) % 2 * 255
    region, size = view._wanted_region()
    covered, pixels = read_region(Image.fromarray(checker.astype(np.uint8)), region, size)
    view.set_detail(covered, pixels, QSize(4800, 3600))
    assert view.has_detail
    view.zoom_to(1.5)
    assert not view.has_detail and view.grab().toImage() == fresh
    # Between the two (70% of the file's pixels): read again at that size, not the 100% read shrunk.
    view.zoom_to(view.actual_size_zoom())
    view.set_detail(covered, pixels, QSize(4800, 3600))
    view.zoom_to(view.actual_size_zoom() * 0.7)
    assert not view.has_detail and view._needs_region()


def test_the_picture_shows_when_it_has_the_keyboard_focus(qtbot):
    """The focus ring drawn around it was cut off by the pane on three sides: a keyboard user could not see
    that the zoom keys would act on it."""
    view = view_with_picture(qtbot)
    view.window().activateWindow()
    unfocused = view.grab().toImage()
    view.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(view.hasFocus)
    focused = view.grab().toImage()
    ink = view.palette().windowText().color().rgb()
    edges = [(1, 150), (200, 1), (view.width() - 2, 150), (200, view.height() - 2)]
    assert all(focused.pixel(x, y) == ink != unfocused.pixel(x, y) for x, y in edges)
