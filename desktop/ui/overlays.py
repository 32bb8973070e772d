"""What is drawn over the picture: the artifact heatmap as an image, the crops' score labels placed so they
do not cover each other, and the checkerboard under transparent pixels."""

from __future__ import annotations

import functools

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSizeF
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPixmap

from desktop.ui.style import TRANSPARENCY_DARK, TRANSPARENCY_LIGHT, VERDICT_COLOURS, rgb_fractions
from engine.result import LIKELY_AI, LIKELY_REAL, UNCERTAIN

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
