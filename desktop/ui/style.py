"""Colours and the app icon, drawn in code so the app needs no image files.

The verdict colours are the app's own (a verdict looks the same everywhere); everything else takes
its colours from the palette, so a dark desktop theme gets light text on dark ground. Stylesheets and
rich text elsewhere in ``desktop/ui`` hold no colour literals: they come from the helpers below.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPen, QPixmap

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


def mix(first: QColor, second: QColor, share_of_second: float) -> QColor:
    return QColor.fromRgbF(*(a + (b - a) * share_of_second
                             for a, b in zip(first.getRgbF()[:3], second.getRgbF()[:3])))


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG 2 contrast ratio, 1 (none) to 21 (black on white); 4.5 is the floor for body text."""
    def luminance(colour: QColor) -> float:
        channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in colour.getRgbF()[:3]]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


MIN_CONTRAST = 4.5


def readable(colour: QColor, background: QColor, text: QColor, minimum: float = MIN_CONTRAST) -> QColor:
    """``colour``, moved toward the palette's text colour just enough to read on ``background``
    (the verdict red is fine on white and too dark on a dark theme)."""
    for step in range(11):
        candidate = mix(colour, text, step / 10)
        if contrast_ratio(candidate, background) >= minimum:
            return candidate
    return QColor(text)


def muted_text(palette: QPalette) -> QColor:
    """Secondary text (labels, hints): between text and its ground, still well readable on it."""
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    return readable(mix(text, base, 0.35), base, text)


def rich_text_css(palette: QPalette) -> str:
    """The default stylesheet for the app's rich text (detail pane, model card): classes, not colours."""
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    flag = readable(VERDICT_COLOURS[LIKELY_AI], base, text)
    error = readable(VERDICT_COLOURS[ERROR], base, text)
    return (f".muted {{ color: {muted_text(palette).name()}; }}"
            f".flag {{ color: {flag.name()}; font-weight: bold; }}"
            f".error {{ color: {error.name()}; font-weight: bold; }}")


def banner_stylesheet(name: str, accent: QColor, palette: QPalette) -> str:
    """A banner tinted with ``accent`` over the window colour, its text the palette's own."""
    window, text = palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.WindowText)
    background = mix(window, accent, 0.18)
    label = readable(text, background, text)
    return (f"#{name} {{ background: {background.name()}; border: 1px solid {accent.name()}; border-radius: 4px; }}"
            f"#{name} QLabel {{ color: {label.name()}; }}")


def pill_colours(palette: QPalette, ai_generated: bool = False) -> tuple[QColor, QColor]:
    """Fill and text of a provenance tag in the table: a tint of the text colour over the base."""
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    fill = mix(base, VERDICT_COLOURS[LIKELY_AI], 0.25) if ai_generated else mix(base, text, 0.14)
    return fill, readable(text, fill, text)


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
