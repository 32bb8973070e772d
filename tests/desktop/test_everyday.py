"""The app as a person uses it every day: badges, placeholders and check boxes that read in a dark
palette, the model named plainly, files from the command line brought into view, memory handed back."""

from __future__ import annotations

import signal
import time
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QRect, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionButton, QStyleOptionViewItem

from desktop.ui.style import contrast_ratio
from engine.result import ERROR, LIKELY_AI, LIKELY_REAL, UNCERTAIN, Result
from tests.desktop.conftest import WAIT_MS, wait_for_results, write_image
from tests.desktop.test_palette import app_palette, ink_contrast  # noqa: F401 (a fixture)

VERDICTS = {LIKELY_AI: 0.97, UNCERTAIN: 0.55, LIKELY_REAL: 0.05, ERROR: None}


@pytest.fixture(params=[False, True], ids=["light", "dark"])
def themed_window(request, qtbot, model_path, make_window, app_palette):  # noqa: F811
    """The main window after the desktop switched to a light or a dark palette (one without its own
    placeholder colour, as some themes hand over)."""
    window = make_window(model_path)
    app_palette(request.param)
    qtbot.wait(50)  # the window restyles once the change is complete
    return window


def badge_pixels(window, verdict: str, probability) -> QImage:
    """The verdict cell of a row, painted by the table's own delegate, cut to the badge's flat middle."""
    from desktop.results_model import COLUMN_VERDICT, DONE, Row

    result = Result(sha256=verdict * 8, path=f"/photos/{verdict}.jpg", probability=probability, verdict=verdict,
                    error=None if probability is not None else "not an image")
    window.model.add_results([result])
    position = window.model.position_of(f"/photos/{verdict}.jpg")
    assert window.model.row_at(position).status == DONE and isinstance(window.model.row_at(position), Row)
    index = window.proxy.mapFromSource(window.model.index(position, COLUMN_VERDICT))
    delegate = window.table.itemDelegateForColumn(COLUMN_VERDICT)
    option = QStyleOptionViewItem()
    option.initFrom(window.table)
    option.rect = QRect(0, 0, 150, 52)
    option.palette = QApplication.palette()  # the palette as the table paints with it now
    image = QImage(150, 52, QImage.Format.Format_RGB32)
    image.fill(option.palette.color(QPalette.ColorRole.Base))
    painter = QPainter(image)
    delegate.paint(painter, option, index)
    painter.end()
    text_width = option.fontMetrics.horizontalAdvance(window.model.row_at(position).verdict_text)
    # Inside the pill: clear of its rounded ends and its anti-aliased top and bottom edges.
    return image.copy(QRect(4 + 12, 26 - 7, max(8, min(150 - 8, text_width + 20) - 24), 14))


def test_every_verdict_badge_reads_at_4_5_to_1_in_light_and_dark_palettes(themed_window):
    for verdict, probability in VERDICTS.items():
        pixels = badge_pixels(themed_window, verdict, probability)
        assert ink_contrast(pixels) >= 4.5, verdict  # the amber "Uncertain" had white text at 2.95:1


def test_the_detail_panes_verdict_badge_reads_at_4_5_to_1():
    import re

    from desktop.results_model import DONE, Row
    from desktop.ui.detail_pane import describe_row

    for verdict, probability in VERDICTS.items():
        if probability is None:
            continue
        row = Row(f"/p/{verdict}.jpg", f"/p/{verdict}.jpg", "dropped", DONE,
                  Result(sha256="ab" * 32, path=f"/p/{verdict}.jpg", probability=probability, verdict=verdict))
        fill, text = re.search(r"background:(#[0-9a-f]{6});color:([#\w]+)", describe_row(row)).groups()
        assert contrast_ratio(QColor(fill), QColor(text)) >= 4.5, verdict


def test_a_selected_rows_text_reads_at_4_5_to_1_in_light_and_dark_palettes(qtbot, themed_window):
    palette = themed_window.table.palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        selected = contrast_ratio(palette.color(group, QPalette.ColorRole.Highlight),
                                  palette.color(group, QPalette.ColorRole.HighlightedText))
        assert selected >= 4.5, group  # Fusion's white on its blue: 3.7:1


def test_placeholder_text_reads_in_light_and_dark_palettes(qtbot, themed_window):
    window = themed_window
    qtbot.waitUntil(lambda: placeholder_contrast(window.filters.text.palette()) >= 4.5, timeout=2000)
    window.filters.text.clear()
    window.table.setFocus()  # placeholder shown: the box is empty and unfocused
    text_area = window.filters.text.rect().adjusted(6, 5, -40, -5)  # clear of the frame and the clear button
    assert ink_contrast(window.filters.text.grab(text_area).toImage()) >= 4.5
    window.detail.show_row(None)  # the image view's message is drawn in the placeholder colour too
    assert placeholder_contrast(window.detail.image_view.palette(), QPalette.ColorRole.Window) >= 4.5


def over(colour: QColor, ground: QColor) -> QColor:
    """``colour`` as it shows on ``ground``, its alpha blended in."""
    a = colour.alphaF()
    return QColor.fromRgbF(*(g + (c - g) * a for c, g in zip(colour.getRgbF()[:3], ground.getRgbF()[:3], strict=True)))


def placeholder_contrast(widget_palette: QPalette, ground_role=QPalette.ColorRole.Base) -> float:
    ground = widget_palette.color(ground_role)
    return contrast_ratio(over(widget_palette.color(QPalette.ColorRole.PlaceholderText), ground), ground)


def test_an_unticked_check_box_is_outlined_at_3_to_1_in_light_and_dark_palettes(themed_window):
    box = themed_window.detail.crops_toggle
    box.setChecked(False)
    option = QStyleOptionButton()
    option.initFrom(box)
    indicator = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    image = box.grab(indicator.adjusted(-2, -2, 2, 2)).toImage().convertToFormat(QImage.Format.Format_RGB32)
    window_colour = box.palette().color(QPalette.ColorRole.Window)
    outline = max(contrast_ratio(window_colour, image.pixelColor(x, y))
                  for x in range(image.width()) for y in range(image.height()))
    assert outline >= 3.0  # Fusion's own on a dark window: 1.1:1, the box all but invisible


def test_the_status_bar_names_the_model_its_version_and_where_it_runs(qtbot, model_path, make_window):
    from desktop.ui.main_window import model_status_text

    meta = SimpleNamespace(name="synthspot-lite0", version="2")
    assert model_status_text(meta, "CPU") == "Model: synthspot-lite0 v2 (CPU)"
    assert model_status_text(SimpleNamespace(name="m", version="v3"), "CUDA") == "Model: m v3 (CUDA)"
    window = make_window(model_path)
    qtbot.waitUntil(lambda: window.provider_label.text().startswith("Model: "), timeout=WAIT_MS)
    assert window.provider_label.text() == "Model: test-brightness v1 (CPU)"


def test_files_given_on_the_command_line_are_selected_and_scrolled_into_view(
        qapp, tmp_path, monkeypatch, model_path, store_path, settings_path):
    """``synthspot-app photo.png`` with a long history: the photo's row is selected and in view, as after
    Ctrl+O (it used to be scanned somewhere below the fold, nothing selected)."""
    import desktop.app as app_module
    from engine.store import Store

    store = Store(store_path)
    later = time.time() + 3600  # history that sorts above the new row (newest first): it lands far below
    for index in range(150):
        store.put(Result(sha256=f"{index:064x}", source="dropped", path=f"/photos/IMG_{index:05d}.jpg",
                         width=640, height=480, format="JPEG", probability=0.1, verdict=LIKELY_REAL,
                         scanned_at=later + index, model_name="test", model_version="1"), "test@1")
    store.close()
    image = write_image(tmp_path / "given.png", 230)
    monkeypatch.setenv("SYNTHSPOT_STORE", str(store_path))
    monkeypatch.setenv("SYNTHSPOT_SETTINGS", str(settings_path))
    monkeypatch.setenv("SYNTHSPOT_MODEL", str(model_path))
    windows, seen = [], []
    create = app_module.create_window
    monkeypatch.setattr(app_module, "create_window", lambda session: windows.append(create(session)) or windows[-1])

    def selected_and_in_view() -> bool:
        window = windows[0] if windows else None
        if window is None or len(window.model.rows()) < 151:
            return False
        rows = window.selected_rows()
        if not rows or rows[0].path != str(image) or rows[0].status != "done":
            return False
        current = window.table.currentIndex()
        return window.table.viewport().rect().contains(window.table.visualRect(current))

    def poll() -> None:
        if selected_and_in_view():
            seen.append(True)
            qapp.quit()

    poller = QTimer()
    poller.timeout.connect(poll)
    poller.start(50)
    QTimer.singleShot(WAIT_MS, qapp.quit)
    previous_sigint = signal.getsignal(signal.SIGINT)
    try:
        assert app_module.main([str(image)]) == 0
    finally:
        poller.stop()
        signal.signal(signal.SIGINT, previous_sigint)
        qapp.setQuitOnLastWindowClosed(True)
        for window in windows:
            window._quitting = True
            window.hide()
            window.deleteLater()
    assert seen, "the file from the command line was not selected and in view"


def test_paths_passed_by_a_second_launch_are_selected_and_scrolled_into_view(
        qtbot, tmp_path, model_path, make_window, store_path):
    from desktop.app import accept_later_launches
    from desktop.single_instance import InstanceServer, instance_name

    window = make_window(model_path)
    later = time.time() + 3600  # rows that sort above the new one: it lands below the fold
    window.model.add_results([Result(sha256=f"{i:064x}", path=f"/photos/IMG_{i:05d}.jpg", probability=0.1,
                                     verdict=LIKELY_REAL, scanned_at=later + i) for i in range(150)])
    server = InstanceServer(instance_name(store_path))
    accept_later_launches(window, server)
    image = write_image(tmp_path / "from-second-launch.png", 230)
    server.pathsReceived.emit([str(image)])

    def selected_and_in_view() -> bool:
        rows = window.selected_rows()
        return bool(rows) and rows[0].path == str(image) and rows[0].status == "done" and \
            window.table.viewport().rect().contains(window.table.visualRect(window.table.currentIndex()))

    qtbot.waitUntil(selected_and_in_view, timeout=WAIT_MS)


def test_the_window_hands_freed_memory_back_after_a_scan(qtbot, tmp_path, monkeypatch, model_path, make_window):
    import desktop.ui.main_window as main_window
    from desktop.memory import release_freed_memory

    assert release_freed_memory() is True  # glibc Linux, as the app runs here
    calls = []
    monkeypatch.setattr(main_window, "release_freed_memory", lambda: calls.append(1) or True)
    window = make_window(model_path)
    with qtbot.waitSignal(window.service.scanFinished, timeout=WAIT_MS):
        window.scan_paths([str(write_image(tmp_path / "a.png", 230, size=(640, 480)))], "dropped")
    assert calls


def test_the_empty_list_says_what_to_do_and_a_filtered_out_one_says_why(qtbot, tmp_path, model_path, make_window):
    from desktop.ui.results_table import EMPTY_HINT

    window = make_window(model_path)
    assert "Drop images or folders here" in EMPTY_HINT
    assert ink_contrast(window.table.viewport().grab().toImage()) >= 4.5  # was a blank white area
    window.scan_paths([str(write_image(tmp_path / "a.png", 230))], "dropped")
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 1, timeout=WAIT_MS)
    window.filters.text.setText("no such name")
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 0, timeout=WAIT_MS)
    assert ink_contrast(window.table.viewport().grab().toImage()) >= 4.5  # "No results match the filters."


def test_the_progress_bar_is_redrawn_a_few_times_a_second_not_on_every_drain(qtbot, model_path, make_window):
    """QProgressBar.setValue repaints there and then; the service reports progress every 40 ms."""
    window = make_window(model_path)
    window._progress(1, 1000)
    assert window.scan_progress.bar.value() == 1 and window.scan_progress.bar.isVisible()
    for done in range(2, 40):  # a burst of drains, well within a quarter of a second
        window._progress(done, 1000)
    assert window.scan_progress.bar.value() == 1
    window._progress(1000, 1000)  # the end always shows
    assert window.scan_progress.bar.value() == 1000
    qtbot.wait(300)
    window._progress(1000, 2000)  # more work joined, later: shown
    assert window.scan_progress.bar.maximum() == 2000


def test_a_verdict_badge_too_wide_for_its_column_is_elided_at_the_end_not_clipped(qapp):
    from PySide6.QtGui import QFont, QFontMetrics

    from desktop.ui.delegates import BADGE_PADDING, fit_badge

    metrics = QFontMetrics(QFont())
    long_text = "Likely AI · AI 97% · seen before"
    narrow = metrics.horizontalAdvance(long_text) // 2 + BADGE_PADDING
    text, width = fit_badge(long_text, metrics, narrow)
    assert text.endswith("…") and text.startswith("Likely")
    assert metrics.horizontalAdvance(text) + BADGE_PADDING <= narrow and width <= narrow
    wide = metrics.horizontalAdvance(long_text) + BADGE_PADDING + 10
    assert fit_badge(long_text, metrics, wide) == (long_text, metrics.horizontalAdvance(long_text) + BADGE_PADDING)


def test_the_verdict_column_shows_every_score_whole_and_drops_seen_before_first(model_path, make_window):
    # At the old 140 px, "Likely real · AI 58%" showed as "Likely real · AI 5…", and every row seen
    # before lost its score.
    from PySide6.QtGui import QFontMetrics

    from desktop.results_model import COLUMN_VERDICT, DONE, Row
    from desktop.ui.delegates import CELL_INSET, fit_badge

    window = make_window(model_path)
    metrics = QFontMetrics(window.table.font())
    available = window.table.columnWidth(COLUMN_VERDICT) - CELL_INSET  # as the delegate paints it
    for verdict, probability in ((LIKELY_REAL, 1.0), (LIKELY_REAL, 0.58), (UNCERTAIN, 0.88), (LIKELY_AI, 0.97)):
        for cached in (False, True):
            result = Result(sha256="cd" * 32, path="/p/x.jpg", probability=probability, verdict=verdict, cached=cached)
            row = Row("/p/x.jpg", "/p/x.jpg", "dropped", DONE, result)
            text, _ = fit_badge(row.badge_texts(), metrics, available)
            assert "…" not in text and text.endswith(f"AI {probability:.0%}")
            assert row.verdict_text.endswith(" · seen before") == cached
    seen = Row("/p/x.jpg", "/p/x.jpg", "dropped", DONE,
               Result(sha256="cd" * 32, path="/p/x.jpg", probability=0.4, verdict=LIKELY_REAL, cached=True))
    wide = metrics.horizontalAdvance(seen.verdict_text) + 40
    assert fit_badge(seen.badge_texts(), metrics, wide)[0] == "Likely real · AI 40% · seen before"
    assert "Seen before" in window.model._tooltip(seen, COLUMN_VERDICT)


def test_a_likely_real_photo_scoring_above_one_half_is_not_called_likely_ai_generated():
    # The bands come from where real photos score: version 12 calls up to 62% "Likely real".
    from desktop.export import result_summary
    from desktop.results_model import DONE, Row
    from desktop.ui.detail_pane import describe_row

    mix = {"regenerate": 0.6, "upsample": 0.4}
    result = Result(sha256="ab" * 32, path="/p/beach.jpg", probability=0.58, verdict=LIKELY_REAL, expert_weights=mix)
    pane = describe_row(Row("/p/beach.jpg", "/p/beach.jpg", "dropped", DONE, result))
    summary = result_summary(result)
    for text in (pane, summary):
        assert "Likely real" in text and "AI score 58%" in text
        assert "likely AI-generated" not in text
        assert "regeneration-like" not in text  # "kind of artifact" on a photo called real reads as a finding
    assert "Likely real although the score is 50% or more" in pane
    # Shown as 50%, said as 50%: a score just under one half needs the same word.
    edge = Result(sha256="ab" * 32, path="/p/coffee.png", probability=0.4981, verdict=LIKELY_REAL)
    assert "AI score 50%" in describe_row(Row("/p/c.png", "/p/c.png", "dropped", DONE, edge))
    assert "although the score is 50% or more" in describe_row(Row("/p/c.png", "/p/c.png", "dropped", DONE, edge))
    low = Result(sha256="ab" * 32, path="/p/beach.jpg", probability=0.3, verdict=LIKELY_REAL)
    low_pane = describe_row(Row("/p/beach.jpg", "/p/beach.jpg", "dropped", DONE, low))
    assert "although" not in low_pane
    # Green reads as "a photo" (a review of the installed app): every likely real says what it means.
    assert "not proof of a photo" in low_pane and "Model card" in low_pane
    doubtful = Result(sha256="ab" * 32, path="/p/beach.jpg", probability=0.8, verdict=UNCERTAIN, expert_weights=mix)
    doubtful_pane = describe_row(Row("/p/beach.jpg", "/p/beach.jpg", "dropped", DONE, doubtful))
    assert "regeneration-like 60%" in doubtful_pane
    # The shares read as "60% chance of regeneration" unless said; uncertain reads as "leaning AI" unless said.
    assert "(how much each of the model's experts weighed in, not a chance)" in doubtful_pane
    assert "cannot tell either way. Do not read it as leaning towards AI" in doubtful_pane
    flagged = Result(sha256="ab" * 32, path="/p/up.png", probability=0.98, verdict=LIKELY_AI, expert_weights=mix)
    flagged_pane = describe_row(Row("/p/up.png", "/p/up.png", "dropped", DONE, flagged))
    assert "A real photo enlarged, denoised or retouched by such tools can carry the same traces" in flagged_pane
    assert "regeneration-like 60%" in result_summary(doubtful)
    # uncertain for what the file is (tiny, JPEG quality 10), at a score far below even odds: no finding either
    squashed = Result(sha256="ab" * 32, path="/p/q10.jpg", probability=0.02, verdict=UNCERTAIN, expert_weights=mix,
                      reasons=["heavily compressed (JPEG quality about 10)"])
    assert "regeneration-like" not in describe_row(Row("/p/q10.jpg", "/p/q10.jpg", "dropped", DONE, squashed))
    assert "regeneration-like" not in result_summary(squashed)
    from engine.result import CropScore
    one = Result(sha256="ab" * 32, path="/p/a.jpg", probability=0.8, verdict=UNCERTAIN, crops=[CropScore(0, 0, 96, 0.8)])
    assert "(1 crop)" in describe_row(Row("/p/a.jpg", "/p/a.jpg", "dropped", DONE, one))


def test_a_very_long_file_name_is_cut_in_the_pane_title_and_given_whole_in_the_facts():
    from desktop.results_model import DONE, Row
    from desktop.ui.detail_pane import MAX_TITLE_CHARS, describe_row, elide_middle

    name = "a" * 200 + ".jpg"
    result = Result(sha256="ab" * 32, path=f"/p/{name}", probability=0.2, verdict=LIKELY_REAL)
    text = describe_row(Row(f"/p/{name}", f"/p/{name}", "dropped", DONE, result))
    title = elide_middle(name, MAX_TITLE_CHARS)
    assert len(title) == MAX_TITLE_CHARS and title.endswith("aaa.jpg") and "…" in title
    assert f"<h3 style='margin:0'>{title}</h3>" in text and f"/p/{name}" in text
    assert elide_middle("short.jpg", MAX_TITLE_CHARS) == "short.jpg"


def test_a_narrow_window_gives_up_time_source_and_provenance_not_the_verdict(model_path, make_window, qtbot):
    from desktop.results_model import COLUMN_NAME, COLUMN_PROVENANCE, COLUMN_SOURCE, COLUMN_TIME, COLUMN_VERDICT

    from engine.result import ProvenanceHint

    window = make_window(model_path)
    # A row with provenance tags: the column is there only while some row has them (below).
    window.model.add_results([Result(sha256="1" * 64, path="/gen.png", source="dropped", probability=0.93,
                                     verdict=LIKELY_AI, provenance=[ProvenanceHint("exif_software", "GIMP")])])
    window.resize(1280, 780)  # the window's own first size shows every column
    qtbot.waitUntil(lambda: not window.table.isColumnHidden(COLUMN_TIME), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.table.isColumnHidden(COLUMN_PROVENANCE), timeout=WAIT_MS)
    window.resize(800, 600)  # the table gets about 480 px of it
    qtbot.waitUntil(lambda: window.table.isColumnHidden(COLUMN_TIME), timeout=WAIT_MS)
    assert window.table.isColumnHidden(COLUMN_SOURCE)
    assert not window.table.isColumnHidden(COLUMN_VERDICT) and not window.table.isColumnHidden(COLUMN_NAME)
    window.resize(640, 420)
    qtbot.waitUntil(lambda: window.table.isColumnHidden(COLUMN_PROVENANCE), timeout=WAIT_MS)
    assert not window.table.isColumnHidden(COLUMN_VERDICT) and not window.table.isColumnHidden(COLUMN_NAME)
    window.resize(400, 300)  # no narrower than the verdicts can be read at
    assert window.width() > 400
    qtbot.wait(50)
    verdict_right = window.table.columnViewportPosition(COLUMN_VERDICT) + window.table.columnWidth(COLUMN_VERDICT)
    assert 0 < verdict_right <= window.table.viewport().width()
    window.resize(1600, 900)
    qtbot.waitUntil(lambda: not window.table.isColumnHidden(COLUMN_SOURCE), timeout=WAIT_MS)


def test_the_provenance_column_is_left_out_while_no_row_has_tags(model_path, make_window, qtbot, tmp_path):
    """Most photos carry no provenance: an empty 150 px column cut the names in the middle (a review)."""
    from desktop.results_model import COLUMN_NAME, COLUMN_PROVENANCE, COLUMN_TIME
    from engine.result import ProvenanceHint
    from tests.desktop.test_main_window import drop

    window = make_window(model_path)
    window.resize(1024, 640)
    drop(window, [write_image(tmp_path / "plain.png", 225)])
    wait_for_results(qtbot, window, 1)
    qtbot.wait(500)  # past the check that follows rows arriving
    assert window.table.isColumnHidden(COLUMN_PROVENANCE) and not window.table.isColumnHidden(COLUMN_NAME)
    assert not window.table.isColumnHidden(COLUMN_TIME)  # the room it left keeps the time in view
    window.model.add_results([Result(sha256="2" * 64, path="/edited.png", source="dropped", probability=0.2,
                                     verdict=LIKELY_REAL, provenance=[ProvenanceHint("exif_software", "GIMP")])])
    qtbot.waitUntil(lambda: not window.table.isColumnHidden(COLUMN_PROVENANCE), timeout=WAIT_MS)
    window.model.remove_rows([i for i, row in enumerate(window.model.rows()) if row.result and row.result.provenance])
    qtbot.waitUntil(lambda: window.table.isColumnHidden(COLUMN_PROVENANCE), timeout=WAIT_MS)


def test_crop_score_labels_stay_inside_the_picture_and_never_cover_each_other(qapp):
    from PySide6.QtCore import QRectF

    from desktop.ui.overlays import place_labels

    bounds = QRectF(0, 0, 300, 200)
    # A 2592 px photo's crops drawn a few pixels wide: boxes on top of each other, one at the right edge.
    boxes = [(0.35, QRectF(296, 50, 4, 4), "c1"), (0.47, QRectF(294, 52, 4, 4), "c2"),
             (0.12, QRectF(10, 10, 4, 4), "c3"), (0.9, QRectF(12, 12, 4, 4), "c4")]
    placed = place_labels(boxes, bounds, lambda text: 8 * len(text), 12)
    assert [label for label, _tag, _colour in placed] == ["90%", "47%"]  # the higher of each pile
    for _label, tag, _colour in placed:
        assert bounds.contains(tag), tag
    assert not placed[0][1].intersects(placed[1][1])
    # A picture narrower than a label (a 300x6000 strip shown 27 px wide): no label sticks out past it.
    assert place_labels([(0.9, QRectF(0, 0, 27, 27), "c1")], QRectF(0, 0, 27, 540), lambda text: 8 * len(text), 12) == []


def test_a_small_image_is_enlarged_at_most_twice_with_its_pixels_kept_sharp(qtbot):
    from PySide6.QtGui import QPixmap

    from desktop.ui.image_view import ImageView

    checker = QImage(8, 8, QImage.Format.Format_RGB32)
    for y in range(8):
        for x in range(8):
            checker.setPixelColor(x, y, QColor("black") if (x + y) % 2 else QColor("white"))
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(600, 600)
    view.set_content(QPixmap.fromImage(checker), None)
    target = view.image_rect()
    assert (target.width(), target.height()) == (16, 16)  # twice its size, not blown up to the pane
    shown = view.grab().toImage().copy(target)
    colours = {shown.pixelColor(x, y).name() for y in range(16) for x in range(16)}
    assert colours == {"#000000", "#ffffff"}  # no grey in between: the pixels as they are


def test_a_crop_larger_than_a_tiny_image_is_drawn_around_the_image_not_past_it(qtbot):
    from PySide6.QtGui import QPixmap

    from desktop.ui.image_view import ImageView
    from engine.result import CropScore

    tiny = QImage(16, 16, QImage.Format.Format_RGB32)
    tiny.fill(QColor("white"))
    result = Result(sha256="ab" * 32, path="/p/icon.png", probability=0.9, verdict="likely_ai", width=16, height=16,
                    crops=[CropScore(0, 0, 96, 0.9)])  # the engine pads a 16 px image to its 96 px crop
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(600, 600)
    view.set_content(QPixmap.fromImage(tiny), result)
    view.set_overlays(heatmap=False, crops=True)
    target = view.image_rect()
    shown = view.grab().toImage()
    background = shown.pixelColor(2, 2)
    # where the 96 px box's right edge would fall (six image widths on): the pane's own background
    assert shown.pixelColor(target.left() + 6 * target.width(), target.top() + target.height() // 2) == background
    assert shown.pixelColor(target.left(), target.top() + target.height() // 2) != QColor("white")  # its edge is drawn


def test_the_model_is_spelled_the_same_in_the_status_bar_settings_and_pane_and_an_empty_pane_says_so(
        tmp_path, qtbot, model_path, make_window):
    from desktop.ui.settings_dialog import SettingsDialog
    from tests.desktop.test_main_window import drop

    window = make_window(model_path)
    assert window.detail.image_view.message == "No image selected"
    assert "test-brightness v1 (CPU)" in window.provider_label.text()
    dialog = SettingsDialog(window.session, window)
    qtbot.addWidget(dialog)
    assert dialog.in_use.text() == "test-brightness v1 on CPU"
    drop(window, [write_image(tmp_path / "a.png", 200)])
    wait_for_results(qtbot, window, 1)
    window.select_proxy_row(0)
    assert "test-brightness v1 on CPU" in window.detail.info.toPlainText()


def test_a_queued_row_says_the_same_in_the_list_and_the_pane(model_path, make_window):
    """Rows waiting their turn are not "Scanning…" in the list while the pane says they wait; a narrow
    verdict column gets the short form, not an elided long one."""
    from desktop.results_model import QUEUED, Row
    from desktop.ui.delegates import BADGE_PADDING, fit_badge
    from desktop.ui.detail_pane import describe_row

    window = make_window(model_path)
    row = Row("/p/queued.jpg", "/p/queued.jpg", "dropped", QUEUED)
    long_text, short_text = row.badge_texts()
    assert long_text in describe_row(row)
    metrics = window.table.fontMetrics()
    assert fit_badge(row.badge_texts(), metrics, metrics.horizontalAdvance(long_text) + BADGE_PADDING)[0] == long_text
    assert fit_badge(row.badge_texts(), metrics, metrics.horizontalAdvance(short_text) + BADGE_PADDING)[0] == short_text


def test_transparent_pixels_show_a_checkerboard_and_opaque_ones_do_not(qtbot):
    from PySide6.QtGui import QPixmap

    from desktop.ui.image_view import ImageView

    def shown_colours(image: QImage) -> set[str]:
        view = ImageView()
        qtbot.addWidget(view)
        view.resize(600, 600)
        view.set_content(QPixmap.fromImage(image), None)
        shown = view.grab().toImage().copy(view.image_rect())
        return {shown.pixelColor(x, y).name() for y in range(0, shown.height(), 3) for x in range(0, shown.width(), 3)}

    clear = QImage(64, 64, QImage.Format.Format_ARGB32)
    clear.fill(QColor(0, 0, 0, 0))
    assert shown_colours(clear) == {"#cccccc", "#999999"}  # not the pane's background
    opaque = QImage(64, 64, QImage.Format.Format_RGB32)
    opaque.fill(QColor("#336699"))
    assert shown_colours(opaque) == {"#336699"}

