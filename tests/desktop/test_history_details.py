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


def test_the_pane_keeps_a_provenance_details_lines_and_counts_one_crop_box_as_one(qapp):
    """A C2PA detail ran together ("…Edition 1.0 Validation: Valid Trust: untrusted…"); a screen reader
    heard "1 crop boxes"."""
    from PySide6.QtGui import QPixmap

    from desktop.results_model import DONE, Row
    from desktop.ui.detail_pane import describe_row
    from desktop.ui.image_view import ImageView
    from engine.result import LIKELY_AI, CropScore, ProvenanceHint, Result

    hint = ProvenanceHint("c2pa", "C2PA: Firefly · untrusted signer", "Claim generator: Firefly\nValidation: Valid")
    result = Result(sha256="4" * 64, path="/c2pa.jpg", probability=0.9, verdict=LIKELY_AI, provenance=[hint],
                    crops=[CropScore(0, 0, 96, 0.9)], width=96, height=96)
    assert "Claim generator: Firefly<br>Validation: Valid" in describe_row(Row("/c2pa.jpg", "/c2pa.jpg", "dropped",
                                                                               DONE, result))
    view = ImageView()
    pixmap = QPixmap(96, 96)
    view.set_content(pixmap, result)
    view.set_overlays(heatmap=False, crops=True)
    assert "1 crop box with its score" in view.accessibleDescription()


def test_a_copied_result_says_a_software_tags_ai_claim_in_words():
    """The list marks it "AI ·"; Ctrl+C said only "provenance: Software: Adobe Firefly"."""
    from desktop.export import result_summary
    from engine.result import LIKELY_AI, ProvenanceHint, Result

    firefly = ProvenanceHint("exif_software", "Software: Adobe Firefly", ai_generated=True)
    result = Result(sha256="6" * 64, path="/f.jpg", probability=0.9, verdict=LIKELY_AI, provenance=[firefly])
    assert "provenance: Software: Adobe Firefly (declares generative AI)" in result_summary(result)


def test_a_long_export_reports_its_progress_and_a_cancel_leaves_nothing(tmp_path):
    """A JSON export of 20,000 results took 39 s with the window frozen (a review): it is written result by
    result, telling its progress, and stopping it leaves no file and no '.saving' copy."""
    import json

    import pytest

    from desktop.export import ExportCancelled, write_results
    from engine.result import Result

    results = [Result(sha256=f"{i:064x}", path=f"/p/{i}.png", probability=0.5, verdict="uncertain",
                      artifact_map=[[0.5] * 8] * 8) for i in range(10)]
    seen: list[int] = []
    target = tmp_path / "all.json"
    written = write_results(target, iter(results), progress=lambda done: seen.append(done) or True)
    assert seen == list(range(1, 11)) and len(json.loads(written.read_text())) == 10
    stopped = tmp_path / "stopped.json"
    with pytest.raises(ExportCancelled):
        write_results(stopped, iter(results), progress=lambda done: done < 3)
    assert not stopped.exists() and list(tmp_path.glob(".*.saving")) == []
    # A CSV too (20,000 rows were a second frozen, with no way to stop): row by row, the same progress.
    seen.clear()
    table = write_results(tmp_path / "all.csv", iter(results), progress=lambda done: seen.append(done) or True)
    assert seen == list(range(1, 11)) and len(table.read_text(encoding="utf-8-sig").splitlines()) == 11
    with pytest.raises(ExportCancelled):
        write_results(tmp_path / "stopped.csv", iter(results), progress=lambda done: done < 3)
    assert not (tmp_path / "stopped.csv").exists() and list(tmp_path.glob(".*.saving")) == []


def test_a_json_export_gives_each_heatmap_row_and_crop_a_line_and_reads_back_whole(tmp_path):
    """Indented by json.dumps, every heatmap cell was a line of its own: 20,000 results were 265 MB and a minute."""
    from desktop.export import results_json, write_results
    from engine.result import CropScore, Result

    heatmap = [[round((row * 96 + col) / 6912, 3) for col in range(96)] for row in range(72)]
    heatmap[0][0] = None  # a cell no crop looked at
    results = [Result(sha256=f"{i:064x}", path=f"/p/é {i}.jpg", probability=0.25 * i, verdict="uncertain",
                      crops=[CropScore(0, 96 * k, 96, 0.1 * k) for k in range(8)], artifact_map=heatmap,
                      expert_weights={"upsample": 0.75, "inpaint": 0.25}) for i in range(3)]
    text = write_results(tmp_path / "all.json", iter(results)).read_text(encoding="utf-8")
    assert json.loads(text) == [result.to_record() for result in results] == json.loads(results_json(results))
    lines = text.splitlines()
    assert len(lines) < 3 * (len(results[0].to_record()) + 72 + 8 + 6)  # a key, heatmap row or crop per line
    assert sum(line.strip().rstrip(",") in {json.dumps(row) for row in heatmap} for line in lines) == 3 * 72
    assert '"/p/é 0.jpg"' in text  # names as written, not \u escapes


def test_an_export_the_history_fails_half_way_through_says_so_and_leaves_nothing(tmp_path, qtbot, model_path,
                                                                                   make_window, store_path):
    """Details are read as the JSON is written: one result the history cannot give back (damaged here) used
    to escape as a traceback, leave the '.saving' file and the progress dialog open (a reread)."""
    import sqlite3

    from PySide6.QtWidgets import QMessageBox, QProgressDialog

    from engine.result import Result
    from engine.store import Store
    from tests.desktop.conftest import answer_message_box

    store = Store(store_path)
    for index in range(600):
        store.put(Result(sha256=f"{index:064x}", path=f"/p/{index}.png", source="dropped", probability=0.5,
                         verdict="uncertain", scanned_at=1000.0 + index, artifact_map=[[0.5]], model_name="test-brightness",
                         model_version="1"), "test-brightness@1")
    with sqlite3.connect(store_path) as db:
        db.execute("UPDATE results SET data = '{broken' WHERE sha256 = ?", (f"{7:064x}",))
    window = make_window(model_path)
    qtbot.waitUntil(lambda: window.model.rowCount() == 600, timeout=WAIT_MS)
    seen: list[str] = []
    answer_message_box(QMessageBox.StandardButton.Ok, seen)
    assert window.export_results(str(tmp_path / "all.json")) is None
    assert seen and "could not be read from the history" in seen[0]
    assert not (tmp_path / "all.json").exists() and list(tmp_path.glob(".*.saving")) == []
    assert not any(dialog.isVisible() for dialog in window.findChildren(QProgressDialog))


def test_an_export_keeps_a_link_and_a_private_mode_and_writes_names_that_are_not_text(tmp_path):
    """Exporting again over a file replaced a link with a plain file and made a 0600 file 0644; a JSON
    export failed whole ("surrogates not allowed") on one file name that is not valid UTF-8."""
    import base64
    import os

    from desktop.export import write_results
    from engine.result import Result

    odd = os.fsdecode(b"/photos/bad\xff\xfe.png")  # a Linux name that is bytes, not text
    results = [Result(sha256="a" * 64, path=odd, probability=0.5, verdict="uncertain"),
               Result(sha256="b" * 64, path="/photos/ok.png", probability=0.1, verdict="likely_real")]
    private = tmp_path / "kept" / "results.json"
    private.parent.mkdir()
    private.write_text("[]")
    private.chmod(0o600)
    link = tmp_path / "latest.json"
    link.symlink_to(private)
    write_results(link, results)
    assert link.is_symlink() and os.readlink(link) == str(private)
    assert (private.stat().st_mode & 0o777) == 0o600
    items = json.loads(private.read_text(encoding="utf-8"))
    assert items[0]["path"] == "/photos/bad\\xff\\xfe.png"
    assert base64.b64decode(items[0]["path_bytes"]) == b"/photos/bad\xff\xfe.png"
    assert items[1]["path"] == "/photos/ok.png" and "path_bytes" not in items[1]
