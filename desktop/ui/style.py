"""Colours and the app icon, drawn in code so the app needs no image files.

The verdict colours are the app's own (a verdict looks the same everywhere); everything else takes
its colours from the palette, so a dark desktop theme gets light text on dark ground. Stylesheets and
rich text elsewhere in ``desktop/ui`` hold no colour literals: they come from the helpers below.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle

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


def rgb_fractions(colour: QColor) -> tuple[float, float, float]:
    """The red, green and blue of ``colour``, 0..1."""
    return colour.redF(), colour.greenF(), colour.blueF()


def probability_colour(probability: float) -> QColor:
    """Green through amber to red as the probability of being AI-generated rises."""
    p = min(1.0, max(0.0, probability))
    low, high = (VERDICT_COLOURS[LIKELY_REAL], VERDICT_COLOURS[UNCERTAIN]) if p < 0.5 else \
        (VERDICT_COLOURS[UNCERTAIN], VERDICT_COLOURS[LIKELY_AI])
    t = p * 2 if p < 0.5 else (p - 0.5) * 2
    return QColor.fromRgbF(*(a + (b - a) * t for a, b in zip(rgb_fractions(low), rgb_fractions(high), strict=True)))


def mix(first: QColor, second: QColor, share_of_second: float) -> QColor:
    return QColor.fromRgbF(*(a + (b - a) * share_of_second
                             for a, b in zip(rgb_fractions(first), rgb_fractions(second), strict=True)))


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG 2 contrast ratio, 1 (none) to 21 (black on white); 4.5 is the floor for body text."""
    def luminance(colour: QColor) -> float:
        channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb_fractions(colour)]
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


BADGE_LIGHT_TEXT = QColor("#ffffff")
BADGE_DARK_TEXT = QColor("#1a1a1a")
# The checkerboard behind transparent pixels: the same in any theme, as image viewers draw it.
TRANSPARENCY_LIGHT = QColor("#cccccc")
TRANSPARENCY_DARK = QColor("#999999")


def readable_badge(fill: QColor) -> tuple[QColor, QColor]:
    """Fill and text of a badge on ``fill``, at 4.5:1 or more in any theme: white text on darker colours,
    the fill darkened just enough where needed; near-black text on light ones (the amber of "Uncertain",
    which white text cannot reach 4.5:1 on). Cached: the table paints a badge per visible row."""
    return _readable_badge(fill.rgba())


@functools.lru_cache(maxsize=512)
def _readable_badge(rgba: int) -> tuple[QColor, QColor]:
    fill = QColor.fromRgba(rgba)
    if contrast_ratio(fill, BADGE_LIGHT_TEXT) >= 3.0:
        text, away = BADGE_LIGHT_TEXT, QColor("#000000")
    else:
        text, away = BADGE_DARK_TEXT, QColor("#ffffff")
    candidate = QColor(fill)
    for step in range(1, 21):  # move the fill away from the text until it reads
        if contrast_ratio(candidate, text) >= MIN_CONTRAST:
            break
        candidate = mix(fill, away, step / 40)
    return candidate, QColor(text)


def badge_colours(verdict: str) -> tuple[QColor, QColor]:
    """A verdict badge's fill and text (the table's and the detail pane's)."""
    return readable_badge(verdict_colour(verdict))


def muted_text(palette: QPalette) -> QColor:
    """Secondary text (labels, hints): between text and its ground, still well readable on it."""
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    return readable(mix(text, base, 0.35), base, text)


def over(colour: QColor, ground: QColor) -> QColor:
    """``colour`` as it shows on ``ground``, its alpha blended in."""
    return mix(ground, QColor(colour.red(), colour.green(), colour.blue()), colour.alphaF())


READABLE_GROUPS = (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive)
MIN_BOUNDARY_CONTRAST = 3.0  # WCAG 1.4.11: a control's outline against what surrounds it


def with_readable_palette(palette: QPalette) -> QPalette | None:
    """``palette`` with placeholder text (the filter box's hint, the image view's message) at 4.5:1 on
    its ground and selected rows' text at 4.5:1 on their highlight, or None when both already are.
    Qt's default placeholder is black at half opacity: grey on white (3.9:1), and all but invisible on a
    dark theme that does not set its own (1.1:1); Fusion's white on its blue highlight is 3.7:1."""
    fixed, changed = QPalette(palette), False
    for group in READABLE_GROUPS:
        base, text = palette.color(group, QPalette.ColorRole.Base), palette.color(group, QPalette.ColorRole.Text)
        if contrast_ratio(over(palette.color(group, QPalette.ColorRole.PlaceholderText), base), base) < MIN_CONTRAST:
            fixed.setColor(group, QPalette.ColorRole.PlaceholderText, readable(mix(text, base, 0.35), base, text))
            changed = True
        highlight = palette.color(group, QPalette.ColorRole.Highlight)
        selected_text = palette.color(group, QPalette.ColorRole.HighlightedText)
        if contrast_ratio(highlight, selected_text) < MIN_CONTRAST:
            fixed.setColor(group, QPalette.ColorRole.Highlight, away_from(highlight, selected_text))
            changed = True
    return fixed if changed else None


def away_from(fill: QColor, text: QColor, minimum: float = MIN_CONTRAST) -> QColor:
    """``fill`` moved toward black or white, whichever is further from ``text``, just enough for
    ``text`` to read on it (the selection's blue darkened under white text)."""
    away = QColor("#000000") if contrast_ratio(text, QColor("#000000")) > contrast_ratio(text, QColor("#ffffff")) \
        else QColor("#ffffff")
    for step in range(1, 41):
        candidate = mix(fill, away, step / 40)
        if contrast_ratio(candidate, text) >= minimum:
            return candidate
    return away


def keep_palette_readable() -> None:
    """Apply ``with_readable_palette`` to the application's palette (at start and after a theme switch)."""
    fixed = with_readable_palette(QApplication.palette())
    if fixed is not None:
        QApplication.setPalette(fixed)


def indicator_outline(palette: QPalette) -> QColor:
    """A check box's outline at 3:1 against the window: Fusion's own (the window colour darkened) moved
    toward the text colour as far as needed."""
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    return readable(window.darker(140).lighter(110), window, text, MIN_BOUNDARY_CONTRAST)


class ReadableIndicatorStyle(QProxyStyle):
    """Fusion with check boxes that stay visible on a dark theme: Fusion outlines an unticked box in the
    window colour darkened by 40%, which on a dark window is 1.1:1, so the box disappears. Only the
    outline is drawn again; everything else is Fusion's."""

    _CHECK_BOX = QStyle.PrimitiveElement.PE_IndicatorCheckBox
    _FOCUS = QStyle.StateFlag.State_HasFocus | QStyle.StateFlag.State_KeyboardFocusChange

    def drawPrimitive(self, element, option, painter, widget=None) -> None:  # noqa: N802 (Qt's name)
        super().drawPrimitive(element, option, painter, widget)
        if element != self._CHECK_BOX or (option.state & self._FOCUS) == self._FOCUS:  # focus: Fusion's highlight
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.translate(0.5, 0.5)  # as Fusion draws its own outline
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(indicator_outline(option.palette)))
        painter.drawRect(option.rect.adjusted(0, 0, -1, -1))
        painter.restore()


_indicator_style: ReadableIndicatorStyle | None = None


def readable_indicators(*widgets) -> None:
    """Under Fusion (Qt's own style, used where the desktop offers none), give the check boxes of these
    widgets (check boxes, lists with checkable items) outlines that read on a dark theme; native styles
    (Breeze, Windows, macOS) draw their own and are left alone.
    Per widget, not for the whole app: the style's Python override runs for every primitive it paints
    (~50,000 calls in a 1,000-image scan app-wide, each taking the GIL from the scanner threads)."""
    global _indicator_style
    app = QApplication.instance()
    if not isinstance(app, QApplication) or app.style().name().lower() != "fusion":
        return
    if _indicator_style is None:
        _indicator_style = ReadableIndicatorStyle("fusion")
        _indicator_style.setParent(app)
    for widget in widgets:
        widget.setStyle(_indicator_style)


def rich_text_css(palette: QPalette) -> str:
    """The default stylesheet for the app's rich text (detail pane, model card): classes, not colours."""
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    flag = readable(VERDICT_COLOURS[LIKELY_AI], base, text)
    error = readable(VERDICT_COLOURS[ERROR], base, text)
    # A dark theme may keep Qt's default link blue, 2.3:1 on near-black.
    link = readable(palette.color(QPalette.ColorRole.Link), base, text)
    return (f".muted {{ color: {muted_text(palette).name()}; }}"
            f"a {{ color: {link.name()}; }}"
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
