"""The detail pane: the selected image with its overlays, and everything known about it."""

from __future__ import annotations

import functools
import hashlib
import html
import os
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (QApplication, QCheckBox, QHBoxLayout, QLabel, QSplitter, QTextBrowser, QVBoxLayout,
                               QWidget)

from desktop.export import counted, expert_mix_text, model_label, score_text, shows_artifact_kind
from desktop.regions import RegionReader
from desktop.results_model import CANCELLED, QUEUED, QUEUED_TEXT, Row, source_label
from desktop.thumbnails import ImageCache
from desktop.ui.image_view import ImageView
from desktop.ui.style import badge_colours, readable_indicators, rich_text_css
from engine.result import LIKELY_AI, LIKELY_REAL, UNCERTAIN, Result

DETAIL_IMAGE_SIDE = 1600


def _size_text(size: int) -> str:
    amount = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return ""


LIKELY_REAL_MEANS = ("Likely real: the model found no strong trace of what it knows. That is not proof of a photo: "
                     "Help \u25b8 Model card lists what it cannot detect (the built-in model has never seen a "
                     "text-to-image generator).")
# Red reads as a verdict: say what the model saw, and that real photos edited the same way show it too.
LIKELY_AI_MEANS = ("Likely AI: the model found traces of the processing it learned from generated images "
                   "(upscaling, an image generator's decoder, denoising, inpainting). A real photo enlarged, "
                   "denoised or retouched by such tools can carry the same traces: a strong hint, not proof.")
UNCERTAIN_MEANS = "Uncertain: the model cannot tell either way. Do not read it as leaning towards AI."
# A score of one half or more called likely real reads as a contradiction unless it is explained.
ABOVE_HALF_BUT_REAL = ("Likely real although the score is 50% or more: the bands are set where real photos score, "
                       "and many real photos score this high.")
EXPERT_SHARES = "how much each of the model's experts weighed in, not a chance"
HEATMAP_TIP = ("Where the model looked hardest for generator artifacts (red: most). It does not reliably "
               "outline edited areas.")
MAX_TITLE_CHARS = 80  # a longer name is cut in the middle in the pane's title; the File facts give it whole


def elide_middle(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, cut in the middle with "…" (the extension stays in view)."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    return text[:(keep + 1) // 2] + "…" + text[len(text) - keep // 2:]


HASHED_TO_CONFIRM_BYTES = 64 * 1024 * 1024  # a changed-looking file is hashed up to this size (a photo: ms)


def changed_since_scan(row: Row) -> bool:
    """The file at the row's path is not the one scanned: its size differs from the scanned bytes' (edited,
    or replaced by another download under the same name), or it was written after the scan and its bytes
    differ (a viewer's lossless rotate keeps the size). Its verdict, crops and heatmap are the old file's."""
    result = row.result
    if not row.path or result is None or not result.ok or not result.file_size:
        return False
    try:
        info = os.stat(row.path)
        if info.st_size != result.file_size:
            return True
        # Written since: the bytes decide (a download of bytes scanned before is written after their scan).
        if info.st_mtime <= result.scanned_at or not result.sha256 or info.st_size > HASHED_TO_CONFIRM_BYTES:
            return False
        return _file_sha256(row.path, (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)) != result.sha256
    except OSError:  # gone: the image view says so
        return False


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, _version: tuple[int, int, int, int]) -> str:
    """Keyed by the file's inode, size and times as well (its inode-change time moves with every write,
    whatever a tool sets the modification time to): the pane asks on every show and image load, on the GUI
    thread; a file is read again only once it changed."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


CHANGED_SINCE_SCAN = ("This file has changed since it was scanned: the verdict below is for its earlier "
                      "content. Rescan it (Ctrl+R) for a verdict on what it holds now.")


def examined_share(result: Result) -> float:
    """The share of the image's pixels inside at least one crop (counted on an 8 px grid)."""
    if not result.crops or not result.width or not result.height:
        return 0.0
    cells = np.zeros((-(-result.height // 8), -(-result.width // 8)), dtype=bool)
    for crop in result.crops:
        cells[crop.top // 8:-(-(crop.top + crop.size) // 8), crop.left // 8:-(-(crop.left + crop.size) // 8)] = True
    return float(cells.mean())


def examined_text(result: Result | None, heatmap_shown: bool) -> str:
    """Under the picture: what the overlays cover (a faint heatmap over a few patches read as "all clean")."""
    if result is None or not result.crops or not result.width:
        return ""
    patches = "1 patch" if len(result.crops) == 1 else f"{len(result.crops)} patches"
    traces = ": red marks the strongest traces" if heatmap_shown else ""
    share = examined_share(result)
    # "0%" of a 96 MP photo read as "nothing was examined"; a whole small image has no rest.
    shown = "less than 1%" if 0 < share < 0.005 else f"{share:.0%}"
    rest = "" if share >= 0.995 else " The rest was not examined."
    return f"The model examined {patches} ({shown} of the image){traces}.{rest}"


CROP_LINK = "crop"  # the scheme of a crop score's link: crop:INDEX zooms the picture to that crop


def _crop_scores(row: Row, linked: bool) -> str:
    """The crops' scores; ``linked``: each a link that zooms the picture to its crop (where the picture and
    its crops are shown: not a browser image's, whose pixels are not kept, nor a file gone or changed)."""
    assert row.result is not None
    scores = [f"{crop.probability:.0%}" for crop in row.result.crops]
    if not linked:
        return html.escape(", ".join(scores))
    links = ", ".join(f"<a href='{CROP_LINK}:{index}'>{score}</a>" for index, score in enumerate(scores))
    return f"{links} <span class='muted'>(a score shows its crop up close)</span>"


def describe_row(row: Row) -> str:
    """The pane's text as HTML: verdict, why uncertain, artifact kind, provenance, file facts."""
    e = html.escape
    result = row.result
    parts = [f"<h3 style='margin:0'>{e(elide_middle(row.name, MAX_TITLE_CHARS))}</h3>"]
    if row.status == QUEUED or result is None:
        parts.append(f"<p>{QUEUED_TEXT}</p>" if row.status == QUEUED else "<p>Not scanned.</p>")
        if row.status == CANCELLED:
            parts.append("<p>The scan was cancelled. Rescan it (Ctrl+R) or drop it again.</p>")
        parts.append(_facts_table([("Path", row.path), ("Source", source_label(row.source))]))
        return "".join(parts)
    changed = changed_since_scan(row)
    if changed:
        parts.append(f"<p class='error'>{e(CHANGED_SINCE_SCAN)}</p>")
    if not result.ok:
        parts.append(f"<p><span class='error'>Could not be scanned</span>: {e(result.error or '')}</p>")
    else:
        fill, text = badge_colours(result.verdict)  # the verdict's own colours, the same in any theme
        parts.append(f"<p><span style='background:{fill.name()};color:{text.name()};padding:2px 8px'>&nbsp;"
                     f"{e(result.verdict_label)}&nbsp;</span>&nbsp; {score_text(result.probability)}</p>")
        # As shown: a score of 0.498 reads "50%".
        if result.verdict == LIKELY_REAL and result.probability is not None and round(result.probability * 100) >= 50:
            parts.append(f"<p class='muted'>{e(ABOVE_HALF_BUT_REAL)}</p>")
        # Every verdict says what it means and where its limits are (green reads as "a photo", red as "fake").
        means = {LIKELY_REAL: LIKELY_REAL_MEANS, LIKELY_AI: LIKELY_AI_MEANS, UNCERTAIN: UNCERTAIN_MEANS}
        if result.verdict in means:
            parts.append(f"<p class='muted'>{e(means[result.verdict])}</p>")
        if result.reasons:
            parts.append("<p><b>Why uncertain</b></p><ul style='margin-top:0'>"
                         + "".join(f"<li>{e(reason)}</li>" for reason in result.reasons) + "</ul>")
        if shows_artifact_kind(result):
            parts.append(f"<p><b>Kind of artifact</b>: {e(expert_mix_text(result.expert_weights))} "
                         f"<span class='muted'>({EXPERT_SHARES})</span></p>")
        if result.crops:
            linked = bool(row.path) and not changed and os.path.exists(row.path)
            parts.append(f"<p><b>Crop scores</b> ({counted(len(result.crops), 'crop')}): "
                         f"{_crop_scores(row, linked)}</p>")
    if not result.ok and not result.provenance:  # a file that could not be read has no metadata to report
        parts.append("<p><b>File</b></p>")
        parts.append(_facts_table(_facts(row, result)))
        return "".join(parts)
    parts.append("<p><b>Provenance</b> (what the file says about how it was made; shown beside the score, "
                 "never mixed into it)</p>")
    if result.provenance:
        items = []
        for hint in result.provenance:
            flag = " <span class='flag'>declares generative AI</span>" if hint.ai_generated else ""
            # Its lines kept: a C2PA detail is one fact a line (generator, validation, trust, source type).
            detail = f"<br><span class='muted'>{e(hint.detail).replace(chr(10), '<br>')}</span>" if hint.detail else ""
            items.append(f"<li>{e(hint.label)}{flag}{detail}</li>")
        parts.append("<ul style='margin-top:0'>" + "".join(items) + "</ul>")
    else:
        parts.append("<p class='muted' style='margin-top:0'>No provenance metadata (C2PA, IPTC source type, "
                     "generator parameters or EXIF software) in this file. Most photos and generated images "
                     "carry none: its absence proves nothing.</p>")
    parts.append("<p><b>File</b></p>")
    parts.append(_facts_table(_facts(row, result)))
    return "".join(parts)


def _facts(row: Row, result: Result) -> list[tuple[str, str]]:
    facts = [("Path", row.path or "(received as bytes)"), ("Source", source_label(result.source))]
    if result.page_url:
        facts.append(("Page", result.page_url))
    if result.width:
        facts.append(("Size", f"{result.width} × {result.height} px, {result.format}"))
    if result.jpeg_quality is not None:
        facts.append(("JPEG quality", f"about {result.jpeg_quality}"))
    if result.file_size:
        facts.append(("File size", _size_text(result.file_size)))
    if result.scanned_at:
        when = datetime.fromtimestamp(result.scanned_at).strftime("%Y-%m-%d %H:%M:%S")
        facts.append(("Scanned", when + (" (from the results store)" if result.cached else "")))
    if result.model_name:
        facts.append(("Model", f"{model_label(result.model_name, result.model_version)} on {result.provider.upper()}"))
    if "total" in result.timings_ms:
        facts.append(("Time", f"{result.timings_ms['total']:.0f} ms"))
    if result.sha256:
        facts.append(("SHA-256", result.sha256))
    return facts


def _facts_table(facts: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><td class='muted' style='padding-right:8px'>{html.escape(k)}</td>"
                   f"<td>{html.escape(str(v))}</td></tr>" for k, v in facts)
    return f"<table cellspacing='0'>{rows}</table>"


class DetailPane(QWidget):
    def __init__(self, images: ImageCache, parent: QWidget | None = None):
        super().__init__(parent)
        self._images = images
        self._row: Row | None = None
        self._overlays = False  # the row's crops and heatmap are drawn over its picture
        self._model_has_map = True
        self._can_scan = True
        self._heatmap_wanted = True  # the person's choice, kept while a model without maps hides it
        self.image_view = ImageView()
        self.regions = RegionReader(self)  # the file's own pixels where the picture is zoomed into
        self.heatmap_toggle = QCheckBox("&Artifact heatmap")
        self.heatmap_toggle.setChecked(True)
        self.heatmap_toggle.setToolTip(HEATMAP_TIP)
        self.crops_toggle = QCheckBox("Crop &scores")
        self.crops_toggle.setChecked(True)
        self.crops_toggle.setToolTip("The crops the model looked at, at native resolution, with each one's score")
        readable_indicators(self.heatmap_toggle, self.crops_toggle)
        self.info = QTextBrowser()
        self.info.setAccessibleName("Details of the selected image")
        self.info.setOpenLinks(False)
        # Crop scores are links for the mouse; Tab still leaves the text at once (a row of 28 crops would be 28
        # stops), and the picture's own keys zoom.
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.info.anchorClicked.connect(self._link_clicked)
        self.info.document().setDefaultStyleSheet(rich_text_css(QApplication.palette()))
        toggles = QHBoxLayout()
        toggles.addWidget(self.heatmap_toggle)
        toggles.addWidget(self.crops_toggle)
        toggles.addStretch(1)
        self.examined = QLabel()
        self.examined.setWordWrap(True)
        self.examined.setTextFormat(Qt.TextFormat.PlainText)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.image_view, 1)
        top_layout.addLayout(toggles)
        top_layout.addWidget(self.examined)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.info)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.heatmap_toggle.toggled.connect(self._overlays_changed)
        self.crops_toggle.toggled.connect(self._overlays_changed)
        images.imageReady.connect(self._image_ready)
        self.image_view.regionWanted.connect(self._region_wanted)
        self.regions.regionReady.connect(self._region_ready)
        self.show_row(None)

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            # Light to dark or back: the text's colours come from the palette, so render it again, once
            # the application's palette is complete (after this round of change events).
            QTimer.singleShot(0, self, self._palette_changed)  # not after the pane is gone
        super().changeEvent(event)

    def _palette_changed(self) -> None:
        css = rich_text_css(QApplication.palette())
        if css != self.info.document().defaultStyleSheet():
            self.info.document().setDefaultStyleSheet(css)
            self.show_row(self._row)

    @property
    def row(self) -> Row | None:
        return self._row

    def set_can_scan(self, can_scan: bool) -> None:
        """Whether a model can scan: the empty pane's hint says how to start, or what to do first."""
        if can_scan != self._can_scan:
            self._can_scan = can_scan
            if self._row is None:
                self.show_row(None)

    def show_row(self, row: Row | None) -> None:
        if row is None or self._row is None or row.path != self._row.path or not row.path:
            self.image_view.reset_zoom()  # another image: shown whole, the last one's pixels let go
            self.regions.release()
        self._row = row
        if row is None:
            self.info.setHtml("<p class='muted'>Drop images or folders anywhere on the window, "
                              "or use Open files… (Ctrl+O). Select a row to see its details here.</p>"
                              if self._can_scan else
                              "<p class='muted'>Choose a detector model first (the button above the list): "
                              "without one nothing can be scanned. Select a row to see its details here.</p>")
            self._overlays = False
            self.image_view.set_content(None, None, "No image selected")
            self._update_toggles()
            return
        self.info.setHtml(describe_row(row))
        self._refresh_image()

    def _refresh_image(self) -> None:
        row = self._row
        if row is None:
            return
        pixmap = self._images.get(row.path) if row.path else None
        if pixmap is not None:
            message = ""
        elif not row.path:
            message = "This image came from the browser; its pixels are not kept."
        elif not os.path.exists(row.path):
            # A file that never was (a mistyped path on the command line) was not "moved"; one that was read
            # (scanned, or failed on its bytes: its size is known) was. A link that leads nowhere says so.
            had_result = row.result is not None and (row.result.ok or bool(row.result.file_size))
            why = ("it is a link that leads to no file" if os.path.islink(row.path)
                   else "it was moved or deleted" if had_result else "there is no such file")
            message = f"{Path(row.path).name} cannot be shown: {why}."
        elif self._images.failed(row.path):
            # The scan's own reason says more than a guess: "truncated or corrupt", "above the 100 MP limit"...
            error = row.result.error if row.result is not None and not row.result.ok else ""
            message = f"{Path(row.path).name} cannot be shown: {error or 'not an image this viewer reads'}."
        else:
            message = "Loading…"
        # No crops or heatmap of another file's content over this one's picture, nor where no picture shows
        # (the toggles then go dead too).
        shows = pixmap is not None or message == "Loading…"
        self._overlays = shows and row.status not in (QUEUED, CANCELLED) and not changed_since_scan(row)
        result = row.result
        native = QSize(result.width, result.height) if result is not None and result.ok and result.width else None
        self.image_view.set_content(pixmap, result if self._overlays else None, message, native)
        self._update_toggles()

    def _image_ready(self, path: str) -> None:
        if self._row is not None and self._row.path == path:
            self._refresh_image()

    def _link_clicked(self, url: QUrl) -> None:
        if url.scheme() == CROP_LINK and url.path().isdigit():
            self.image_view.zoom_to_crop(int(url.path()))

    def _region_wanted(self, region: QRectF, device_size: QSize) -> None:
        row = self._row
        if row is None or not row.path:
            return
        if changed_since_scan(row):
            # Another picture than the one the result and overlays are for: none of it is read; the pane says
            # so once (the overlays go, and with them this refresh).
            if self._overlays:
                self.show_row(row)
            return
        self.regions.request(row.path, region, device_size)

    def _region_ready(self, path: str, region: QRectF, image: QImage, native_size: QSize) -> None:
        row = self._row
        if row is None or row.path != path:
            return
        if changed_since_scan(row):
            self.show_row(row)  # edited while zoomed: the pane says so; its new pixels never sit under old crops
            return
        result = row.result
        if result is not None and result.ok and result.width and native_size != QSize(result.width, result.height):
            return  # another file under the name (a replacement the same size on disk): not the one scanned
        self.image_view.set_detail(region, image, native_size)

    def stop(self) -> None:
        """The window is closing: the region reader's thread ends."""
        self.regions.stop()

    def set_model_has_artifact_map(self, has_map: bool) -> None:
        """A model without an ``artifact_map`` output never draws one: the box shows unticked and dead."""
        if has_map == self._model_has_map:
            return
        if not has_map:
            self._heatmap_wanted = self.heatmap_toggle.isChecked()
        self._model_has_map = has_map
        self.heatmap_toggle.setChecked(self._heatmap_wanted if has_map else False)
        self._update_toggles()

    def _update_toggles(self) -> None:
        has_crops = bool(self._overlays and self._row is not None and self._row.result is not None
                         and self._row.result.crops)
        self.crops_toggle.setEnabled(has_crops)
        self.crops_toggle.setToolTip("The crops the model looked at, at native resolution, with each one's score"
                                     if has_crops else "No crops were scored for this image")
        # A result keeps the map its model made: a history row from a model with maps can show it under one without.
        self.heatmap_toggle.setEnabled(self.image_view.has_heatmap)
        self._update_examined()
        if self.image_view.has_heatmap:
            self.heatmap_toggle.setToolTip(HEATMAP_TIP)
        elif not self._model_has_map:
            self.heatmap_toggle.setToolTip("The loaded model has no artifact map, so there is no heatmap to show")
        else:
            self.heatmap_toggle.setToolTip("No artifact map for this image")

    def _overlays_changed(self) -> None:
        self.image_view.set_overlays(self.heatmap_toggle.isChecked(), self.crops_toggle.isChecked())
        self._update_examined()

    def _update_examined(self) -> None:
        heatmap = self.heatmap_toggle.isChecked() and self.heatmap_toggle.isEnabled()
        crops = self.crops_toggle.isChecked() and self.crops_toggle.isEnabled()
        text = examined_text(self._row.result if self._row is not None else None, heatmap) if heatmap or crops else ""
        self.examined.setText(text)
        self.examined.setVisible(bool(text))
