"""The image at fit-to-pane size, with the artifact heatmap and per-crop boxes drawn over it."""

from __future__ import annotations

import functools

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.ui.style import (
    TRANSPARENCY_DARK, TRANSPARENCY_LIGHT, VERDICT_COLOURS, probability_colour, readable_badge, rgb_fractions,
)
from engine.result import LIKELY_AI, LIKELY_REAL, UNCERTAIN, Result

HEATMAP_OPACITY = 0.55


CROP_HALO = QColor(0, 0, 0, 170)
TRANSPARENCY_SQUARE = 8  # px of the checkerboard shown through transparent pixels, as image viewers do


@functools.cache  # one tile for every paint (made once a QGuiApplication exists: painting needs one)
def transparency_brush() -> QBrush:
    """Light and mid grey squares: a transparent area reads as transparent in any theme, not as the
    pane's own colour (a white logo on a light pane would vanish)."""
    tile = QPixmap(2 * TRANSPARENCY_SQUARE, 2 * TRANSPARENCY_SQUARE)
    tile.fill(TRANSPARENCY_LIGHT)
    painter = QPainter(tile)
    for corner in (0, TRANSPARENCY_SQUARE):
        painter.fillRect(corner, corner, TRANSPARENCY_SQUARE, TRANSPARENCY_SQUARE, TRANSPARENCY_DARK)
    painter.end()
    return QBrush(tile)


def heatmap_image(cells: list) -> QImage | None:
    """Artifact-map probabilities (rows of floats or None) as a small RGBA image: clear where
    the model saw nothing suspicious, red where it did, transparent where no crop looked.
    Computed with numpy: a per-pixel loop cost ~6 ms of the GUI thread for each selected row."""
    if not cells or not cells[0]:
        return None
    rows, cols = len(cells), max(len(row) for row in cells)
    values = np.full((rows, cols), np.nan)
    for y, row in enumerate(cells):
        values[y, :len(row)] = [np.nan if value is None else float(value) for value in row]
    looked = ~np.isnan(values)
    p = np.clip(np.nan_to_num(values), 0.0, 1.0)[..., None]
    real, uncertain, ai = (np.array(rgb_fractions(VERDICT_COLOURS[v])) for v in (LIKELY_REAL, UNCERTAIN, LIKELY_AI))
    # As probability_colour: green through amber to red.
    rgb = np.where(p < 0.5, real + (uncertain - real) * (p * 2), uncertain + (ai - uncertain) * ((p - 0.5) * 2))
    alpha = np.where(looked, np.clip(0.15 + 0.85 * p[..., 0], 0.0, 1.0), 0.0)
    pixels = np.ascontiguousarray(np.round(np.dstack([rgb, alpha]) * 255).astype(np.uint8))
    image = QImage(pixels.data, cols, rows, cols * 4, QImage.Format.Format_RGBA8888)
    return image.copy()  # own the pixels: ``pixels`` dies with this frame


# A small image is shown at most this many times its size: blown up further it is a blur of its pixels.
MAX_ZOOM = 2


def fit_rect(image_size: QSize, area: QRect) -> QRect:
    scaled = image_size.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    if scaled.width() > image_size.width() * MAX_ZOOM:
        scaled = image_size * MAX_ZOOM
    left = area.left() + (area.width() - scaled.width()) // 2
    top = area.top() + (area.height() - scaled.height()) // 2
    return QRect(left, top, scaled.width(), scaled.height())


def place_labels(boxes, bounds: QRectF, text_width, text_height: int) -> list:
    """(label, rectangle, colour) for the crops' score labels: each at its box's top left, moved inside
    ``bounds``, the highest scores first; a label that would cover one already placed is left out (the
    pane's text lists every crop's score). ``boxes``: (probability, box, colour) in widget coordinates."""
    placed: list = []
    for probability, box, colour in sorted(boxes, key=lambda item: -item[0]):
        label = f"{probability:.0%}"
        size = QSizeF(text_width(label) + 8, text_height + 2)
        if size.width() > bounds.width() or size.height() > bounds.height():
            continue  # a picture narrower than a label (a 300x6000 strip shown 27 px wide): no label past it
        left = max(bounds.left(), min(box.left() + 1, bounds.right() - size.width()))
        top = max(bounds.top(), min(box.top() + 1, bounds.bottom() - size.height()))
        tag = QRectF(QPointF(left, top), size)
        if not any(tag.intersects(other) for _label, other, _colour in placed):
            placed.append((label, tag, colour))
    return placed


class ImageView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        # Reached by Tab after the list, so a screen reader says what the picture shows (its description:
        # heatmap, crop boxes) and a keyboard user sees the ring on it; a click does not take it.
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._pixmap: QPixmap | None = None
        self._scaled: QPixmap | None = None  # the pixmap at its on-screen size, made once per size
        self._result: Result | None = None
        self._heatmap: QImage | None = None
        self._message = "Select an image to see why SynthSpot scored it as it did."
        self.show_heatmap = True
        self.show_crops = True
        self.setAccessibleDescription(self._message)

    # what the detail pane sets ---------------------------------------------------

    def set_content(self, pixmap: QPixmap | None, result: Result | None, message: str = "") -> None:
        self._pixmap = pixmap
        self._scaled = None
        self._result = result
        self._heatmap = heatmap_image(result.artifact_map) if result is not None and result.artifact_map else None
        self._message = message
        self._describe()
        self.update()

    @property
    def message(self) -> str:
        """The text shown in place of the picture ("" while a picture is shown)."""
        return self._message

    @property
    def has_heatmap(self) -> bool:
        return self._heatmap is not None

    def set_overlays(self, heatmap: bool, crops: bool) -> None:
        self.show_heatmap, self.show_crops = heatmap, crops
        self._describe()
        self.update()

    def _describe(self) -> None:
        """What is painted, in words for a screen reader: the message, or the picture and its overlays."""
        if self._message or self._pixmap is None:
            self.setAccessibleDescription(self._message)
            return
        shown = []
        if self.show_heatmap and self._heatmap is not None:
            shown.append("the artifact heatmap (red where the model found most evidence)")
        crops = len(self._result.crops) if self._result is not None else 0
        if self.show_crops and crops:
            boxes = "1 crop box with its score" if crops == 1 else f"{crops} crop boxes with their scores"
            shown.append(f"{boxes} (listed in the details)")
        self.setAccessibleDescription("The image" + (" with " + " and ".join(shown) if shown else ""))

    def image_rect(self) -> QRect | None:
        if self._pixmap is None or self._pixmap.isNull():
            return None
        return fit_rect(self._pixmap.size(), self.rect().adjusted(6, 6, -6, -6))

    def sizeHint(self) -> QSize:
        return QSize(480, 360)

    # painting ---------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()  # never leave it to the garbage collector: Qt needs it ended before the flush

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().window())
        target, pixmap = self.image_rect(), self._pixmap
        if target is None or pixmap is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect().adjusted(20, 20, -20, -20),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
            return
        # Scaled to the screen's pixels, not the layout's: on a 2x screen a picture scaled to the layout's
        # size was blown up again by the painter, and fine artifacts became a grey smear.
        ratio = self.devicePixelRatioF()
        device_size = QSize(round(target.width() * ratio), round(target.height() * ratio))
        if self._scaled is None or self._scaled.size() != device_size:
            # Smooth scaling of a 1600 px image costs tens of ms: once per size, not on every paint. Enlarged,
            # the pixels are shown as they are: smoothing would add a blur that reads as an artifact.
            enlarged = device_size.width() > pixmap.width()
            self._scaled = pixmap.scaled(device_size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                         Qt.TransformationMode.FastTransformation if enlarged
                                         else Qt.TransformationMode.SmoothTransformation)
            self._scaled.setDevicePixelRatio(ratio)
        if pixmap.hasAlphaChannel():
            painter.setBrushOrigin(target.topLeft())
            painter.fillRect(target, transparency_brush())
        painter.drawPixmap(target.topLeft(), self._scaled)
        if self.show_heatmap and self._heatmap is not None:
            painter.setOpacity(HEATMAP_OPACITY)
            painter.drawImage(target, self._heatmap)
            painter.setOpacity(1.0)
        if self.show_crops and self._result is not None and self._result.crops and self._result.width:
            self._draw_crops(painter, target, self._result)

    def _draw_crops(self, painter: QPainter, target: QRect, result: Result) -> None:
        scale_x, scale_y = target.width() / result.width, target.height() / result.height
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        boxes = []
        for crop in result.crops:
            # A crop larger than the image (the engine pads a tiny one) is drawn around the image, not past it.
            box = QRectF(target.left() + crop.left * scale_x, target.top() + crop.top * scale_y,
                         crop.size * scale_x, crop.size * scale_y).intersected(QRectF(target))
            colour = probability_colour(crop.probability)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            # A dark halo under the coloured line: amber on a grey photo is 1.1:1, the halo reads on any
            # but the darkest ground, where the colour itself does.
            painter.setPen(QPen(CROP_HALO, 4))
            painter.drawRect(box)
            painter.setPen(QPen(colour, 2))
            painter.drawRect(box)
            boxes.append((crop.probability, box, colour))
        metrics = painter.fontMetrics()
        for label, tag, colour in place_labels(boxes, QRectF(target), metrics.horizontalAdvance, metrics.height()):
            fill, text = readable_badge(colour)
            painter.fillRect(tag, fill)
            painter.setPen(text)
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
