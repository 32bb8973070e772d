"""Colours and the app icon, drawn in code so the app needs no image files."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from engine.result import ERROR, LIKELY_AI, LIKELY_REAL, UNCERTAIN

VERDICT_COLOURS = {
    LIKELY_AI: QColor("#c83737"),
    UNCERTAIN: QColor("#c98a00"),
    LIKELY_REAL: QColor("#2e8b57"),
    ERROR: QColor("#7a7a7a"),
    "pending": QColor("#5b7fa6"),
}


def verdict_colour(verdict: str) -> QColor:
    return VERDICT_COLOURS.get(verdict, VERDICT_COLOURS["pending"])


def probability_colour(probability: float) -> QColor:
    """Green through amber to red as the probability of being AI-generated rises."""
    p = min(1.0, max(0.0, probability))
    low, high = (VERDICT_COLOURS[LIKELY_REAL], VERDICT_COLOURS[UNCERTAIN]) if p < 0.5 else \
        (VERDICT_COLOURS[UNCERTAIN], VERDICT_COLOURS[LIKELY_AI])
    t = p * 2 if p < 0.5 else (p - 0.5) * 2
    return QColor.fromRgbF(*(a + (b - a) * t for a, b in zip(low.getRgbF()[:3], high.getRgbF()[:3])))


def app_icon(verdict: str = "") -> QIcon:
    """A magnifier over a spark; tinted by the last verdict for the tray."""
    icon = QIcon()
    for size in (16, 22, 32, 48, 64, 128, 256):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = verdict_colour(verdict) if verdict else QColor("#3b5bdb")
        stroke = max(1.5, size / 10)
        painter.setPen(QPen(colour, stroke))
        painter.setBrush(QColor(255, 255, 255, 230))
        lens = QRectF(size * 0.1, size * 0.1, size * 0.58, size * 0.58)
        painter.drawEllipse(lens)
        painter.setPen(QPen(colour, stroke * 1.4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(int(size * 0.62), int(size * 0.62), int(size * 0.9), int(size * 0.9))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        centre, arm = lens.center(), size * 0.14
        painter.drawEllipse(centre, arm * 0.45, arm * 0.45)
        painter.end()
        icon.addPixmap(pixmap)
    return icon
