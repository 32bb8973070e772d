"""Painting for the results table: a coloured verdict badge and provenance tags."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.results_model import RowRole, tag_text
from desktop.ui.style import badge_colours, pill_colours

BADGE_HEIGHT = 22
BADGE_PADDING = 20  # the pill's rounded ends around its text
CELL_INSET = 8  # the badge sits this many pixels inside its cell, half on each side
TAG_HEIGHT = 18


def _draw_pill(painter: QPainter, rect: QRect, text: str, fill: QColor, text_colour: QColor) -> None:
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
    painter.setPen(text_colour)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


class VerdictDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        row = index.data(RowRole)
        if row is None:
            return super().paint(painter, option, index)
        self.initStyleOption(option, index)
        option.text = ""
        style = option.widget.style() if option.widget else None
        if style:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        text, width = fit_badge(row.badge_texts(), QFontMetrics(option.font), option.rect.width() - CELL_INSET)
        top = option.rect.center().y() - BADGE_HEIGHT // 2 + 1
        badge = QRect(option.rect.left() + CELL_INSET // 2, top, width, BADGE_HEIGHT)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        _draw_pill(painter, badge, text, *badge_colours(row.verdict))
        painter.restore()

    def sizeHint(self, option, index) -> QSize:
        row = index.data(RowRole)
        text_width = QFontMetrics(option.font).horizontalAdvance(row.verdict_text) if row is not None else 0
        return QSize(max(150, text_width + BADGE_PADDING + 8), BADGE_HEIGHT + 8)


def fit_badge(texts: str | Sequence[str], metrics: QFontMetrics, available: int) -> tuple[str, int]:
    """The badge's text and width within ``available`` pixels: the first of ``texts`` (longest first)
    that fits, else the last elided with "…" at the end, never clipped at both ends (a centred
    text wider than its pill loses both)."""
    candidates = [texts] if isinstance(texts, str) else list(texts)
    text = next((candidate for candidate in candidates
                 if metrics.horizontalAdvance(candidate) + BADGE_PADDING <= available), None)
    if text is None:
        text = metrics.elidedText(candidates[-1], Qt.TextElideMode.ElideRight, max(0, available - BADGE_PADDING))
    return text, min(available, metrics.horizontalAdvance(text) + BADGE_PADDING)


# The widest badge the verdict column is sized for: every verdict with its score ("seen before"
# goes first when space is short).
WIDEST_VERDICT_BADGE = "Likely real · AI 100%"


def verdict_column_width(metrics: QFontMetrics) -> int:
    """Pixels the verdict column needs to show every verdict with its score whole."""
    return metrics.horizontalAdvance(WIDEST_VERDICT_BADGE) + BADGE_PADDING + CELL_INSET + 6  # 6: a little air


MORE_TAGS_WIDTH = 22  # the "…" pill that stands for tags with no room


class TagsDelegate(QStyledItemDelegate):
    """Provenance hints as small tags; a tag that declares generative AI is tinted and marked "AI"."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        row = index.data(RowRole)
        hints = row.result.provenance if row is not None and row.result is not None else []
        self.initStyleOption(option, index)
        option.text = ""
        style = option.widget.style() if option.widget else None
        if style:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        if not hints:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = option.font
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        x = option.rect.left() + 4
        top = option.rect.center().y() - TAG_HEIGHT // 2 + 1
        right = option.rect.right() - 4
        more = MORE_TAGS_WIDTH + 4  # what a "…" pill takes: kept free while later tags may need it
        for position, hint in enumerate(hints):
            label = tag_text(hint)
            width = metrics.horizontalAdvance(label) + 14
            later = position < len(hints) - 1
            if x + width + (more if later else 0) > right:
                if position == 0:  # the first tag, elided, beside the "…" when more follow
                    width = max(MORE_TAGS_WIDTH, right - x - (more if later else 0))
                    label = metrics.elidedText(label, Qt.TextElideMode.ElideRight, width - 14)
                    _draw_pill(painter, QRect(x, top, width, TAG_HEIGHT), label,
                               *pill_colours(option.palette, hint.ai_generated))
                    x += width + 4
                if later or position > 0:  # the rest: said to be there (the detail pane lists them)
                    _draw_pill(painter, QRect(x, top, MORE_TAGS_WIDTH, TAG_HEIGHT), "…", *pill_colours(option.palette))
                break
            _draw_pill(painter, QRect(x, top, width, TAG_HEIGHT), label,
                       *pill_colours(option.palette, hint.ai_generated))
            x += width + 4
        painter.restore()
