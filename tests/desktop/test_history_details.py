"""History rows arrive as summaries; the heatmap and crop scores are read from the store when a row is shown,
copied or exported."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QApplication

from tests.desktop.conftest import WAIT_MS, wait_for_results, write_image
from tests.desktop.test_history import select_names
from tests.desktop.test_main_window import drop


def test_a_history_row_gets_its_heatmap_when_shown_and_in_a_json_export(tmp_path, qtbot, model_path, make_window):
    first = make_window(model_path)
    drop(first, [write_image(tmp_path / "a.png", 230), write_image(tmp_path / "b.png", 30)])
    wait_for_results(qtbot, first, 2)
    assert all(row.result.artifact_map and row.result.crops for row in first.model.rows())  # fresh: whole
    first.shutdown()
    first.session.shutdown()

    window = make_window(model_path)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT_MS)
    rows = {row.name: row for row in window.model.rows()}
    assert all(row.summary and row.result.artifact_map is None and row.result.crops == [] for row in rows.values())

    window.select_proxy_row(next(p for p in range(window.proxy.rowCount())
                                 if window.proxy.row_for(window.proxy.index(p, 0)).name == "a.png"))
    shown = window.detail.row
    assert shown.name == "a.png" and not shown.summary
    assert shown.result.artifact_map and len(shown.result.crops) >= 1
    assert window.detail.image_view.has_heatmap
    assert rows["b.png"].summary  # only the row shown was read whole

    select_names(window, {"b.png"})
    window.copy_selected()
    [copied] = json.loads(bytes(QApplication.clipboard().mimeData().data("application/json")).decode())
    assert copied["artifact_map"] and copied["crops"]
    assert rows["b.png"].summary  # a copy reads the details without keeping them in the table

    exported = window.export_results(str(tmp_path / "out.json"))
    assert all(item["artifact_map"] and item["crops"] for item in json.loads(exported.read_text()))
