"""The image, fitted to the pane or zoomed into, with the artifact heatmap and per-crop boxes drawn over it.

Zoomed past its 1,600 px picture the view asks (``regionWanted``) for the part it shows at the file's own
resolution, and draws it over the enlarged picture once it comes (``set_detail``).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QImage, QPainter, QPen, QPixmap, QRegion
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from desktop.ui.overlays import CROP_HALO, HEATMAP_OPACITY, heatmap_image, place_labels, transparency_brush
from desktop.ui.picture_geometry import (
    MAX_PIXEL_ZOOM, fit_rect, fit_rectf, fraction_rect, shown_fraction, zoomed_rect,
)
from desktop.ui.style import probability_colour, readable_badge
from engine.result import Result

ZOOM_STEP = 1.25  # one wheel notch or key press
REGION_MARGIN = 0.25  # of the shown part, read around it on each side: a short drag needs no new read
REGION_DELAY_MS = 120  # after the last zoom or drag step: a drag asks once it rests, not at every step
ZOOM_HINT = ("Scroll or double-click to zoom in, drag to move around; double-click again to see it whole. "
             "Right-click for the zoom menu.")


class ImageView(QWidget):
    # The part shown (fractions of the image, with a margin) and the screen pixels it covers: the detail pane
    # reads it from the file and answers with ``set_detail``.
    regionWanted = Signal(QRectF, QSize)

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
        self._native: QSize | None = None  # the file's own size, where known (the picture may be reduced)
        self._zoom = 1.0  # times the fitted size
        self._centre = QPointF(0.5, 0.5)  # the image point (fractions) at the middle of the pane
        self._detail: tuple[QRectF, QImage] | None = None  # a region at the file's resolution, for the zoom
        self._drag_from: QPointF | None = None
        self._region_timer = QTimer(self)
        self._region_timer.setSingleShot(True)
        self._region_timer.setInterval(REGION_DELAY_MS)
        self._region_timer.timeout.connect(self._ask_for_region)
        self.setToolTip(ZOOM_HINT)
        self.setAccessibleDescription(self._message)

    # what the detail pane sets ---------------------------------------------------

    def set_content(self, pixmap: QPixmap | None, result: Result | None, message: str = "",
                    native_size: QSize | None = None) -> None:
        """The picture (maybe reduced from the file), the result drawn over it, or a message in its place;
        ``native_size``: the file's own size, where the pane knows it."""
        if pixmap is None or self._pixmap is None or pixmap.cacheKey() != self._pixmap.cacheKey():
            self._detail = None  # another picture, or the same file read again after a rescan
        self._pixmap = pixmap
        self._scaled = None
        self._result = result
        self._heatmap = heatmap_image(result.artifact_map) if result is not None and result.artifact_map else None
        self._message = message
        if native_size is not None and not native_size.isEmpty():
            self._native = QSize(native_size)
        self._describe()
        self._view_changed()

    def set_detail(self, region: QRectF, image: QImage, native_size: QSize) -> None:
        """The file's pixels under ``region`` (fractions of the image), as ``regionWanted`` asked for."""
        if self._pixmap is None or image.isNull() or region.isEmpty():
            return
        if not native_size.isEmpty():
            self._native = QSize(native_size)
        self._detail = (QRectF(region), image)
        self.update()

    def reset_zoom(self) -> None:
        """Back to the whole picture, forgetting the file's size and pixels (another image is selected)."""
        self._zoom, self._centre = 1.0, QPointF(0.5, 0.5)
        self._native, self._detail, self._drag_from = None, None, None
        self._region_timer.stop()
        self._view_changed()

    @property
    def message(self) -> str:
        """The text shown in place of the picture ("" while a picture is shown)."""
        return self._message

    @property
    def has_heatmap(self) -> bool:
        return self._heatmap is not None

    @property
    def zoom(self) -> float:
        """Times the fitted size: 1.0 shows the whole picture."""
        return self._zoom

    @property
    def has_detail(self) -> bool:
        """Whether file pixels read for the zoom are drawn over the picture."""
        return self._detail is not None and self._zoom > 1.0

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
        text = "The image" + (" with " + " and ".join(shown) if shown else "")
        percent = self.actual_size_percent()
        if self._zoom > 1.0:
            text += (f", zoomed to {percent:.0f}% of its pixels" if percent is not None else ", zoomed in")
            text += " (0 shows it whole)"
        self.setAccessibleDescription(text)

    # geometry ---------------------------------------------------------------------------

    def _area(self) -> QRect:
        return self.rect().adjusted(6, 6, -6, -6)

    def _fit(self) -> QRect | None:
        if self._pixmap is None or self._pixmap.isNull():
            return None
        return fit_rect(self._pixmap.size(), self._area())

    def _fitf(self) -> QRectF | None:
        """The fitted rectangle unrounded, in the file's proportions where known: a 100x9000 strip's picture is
        18x1600, 1.3% too wide, which would misplace its pixels and crops by 110 px at the far end."""
        if self._pixmap is None or self._pixmap.isNull():
            return None
        return fit_rectf(self._native if self._native is not None else self._pixmap.size(), self._area())

    def image_rectf(self) -> QRectF | None:
        """The whole image's rectangle in the view, zoom applied (it reaches past the view when zoomed)."""
        fit = self._fit()
        if fit is None:
            return None
        if self._zoom <= 1.0:
            return QRectF(fit)  # whole pixels: the fitted picture is drawn pixel for pixel
        return zoomed_rect(self._fitf() or QRectF(fit), QRectF(self._area()), self._zoom, self._centre)

    def image_rect(self) -> QRect | None:
        rect = self.image_rectf()
        return None if rect is None else rect.toAlignedRect()

    def _whole_file_shown(self) -> bool:
        """The picture holds every pixel of the file (a small image): nothing more to read, nothing to smooth."""
        return (self._native is not None and self._pixmap is not None
                and self._native.width() <= self._pixmap.width())

    def _zoom_for_pixels(self, width: int) -> float | None:
        fit = self._fitf()
        if fit is None or fit.width() <= 0:
            return None
        return width / self.devicePixelRatioF() / fit.width()

    def actual_size_zoom(self) -> float | None:
        """The zoom at which one of the file's pixels is one screen pixel; None until the file's size is known
        (a row not scanned yet: its picture may be reduced)."""
        return None if self._native is None else self._zoom_for_pixels(self._native.width())

    def actual_size_percent(self) -> float | None:
        """Screen pixels per file pixel, in per cent, at the zoom shown; None while the file's size is unknown."""
        rect = self.image_rectf()
        if rect is None or self._native is None:
            return None
        return 100.0 * rect.width() * self.devicePixelRatioF() / self._native.width()

    def max_zoom(self) -> float:
        # Until the file's size is known, the picture's: the first read tells it.
        width = self._native.width() if self._native is not None else self._pixmap.width() if self._pixmap else 0
        zoom = self._zoom_for_pixels(width) if width else None
        return 1.0 if zoom is None else max(1.0, zoom * MAX_PIXEL_ZOOM)

    def zoom_to(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` (clamped to fit .. 8 screen pixels per file pixel), keeping the image point under
        ``anchor`` (view coordinates; the middle when None) where it is."""
        before = self.image_rectf()
        if before is None:
            return
        zoom = min(max(1.0, zoom), self.max_zoom())
        area = QRectF(self._area())
        anchor = area.center() if anchor is None else QPointF(anchor)
        point = QPointF((anchor.x() - before.left()) / before.width(), (anchor.y() - before.top()) / before.height())
        fit = self._fitf()
        assert fit is not None  # as ``before``
        width, height = fit.width() * zoom, fit.height() * zoom
        # The image's new top left puts ``point`` under ``anchor``; the centre follows from it.
        left, top = anchor.x() - point.x() * width, anchor.y() - point.y() * height
        self._zoom = zoom
        self._centre = QPointF((area.center().x() - left) / width, (area.center().y() - top) / height)
        self._settle()

    def zoom_to_crop(self, index: int) -> None:
        """Show crop ``index`` of the result drawn over the picture at half the pane's size, in the middle (as
        far as the picture's edges let it), zoomed no further than 8 screen pixels per file pixel."""
        result, fit = self._result, self._fitf()
        if result is None or fit is None or not result.width or not 0 <= index < len(result.crops):
            return
        crop = result.crops[index]
        area = QRectF(self._area())
        shown_width = crop.size / result.width * fit.width()  # at fit
        shown_height = crop.size / result.height * fit.height()
        zoom = min(area.width() / 2 / shown_width, area.height() / 2 / shown_height)
        self._zoom = min(max(1.0, zoom), self.max_zoom())
        self._centre = QPointF((crop.left + crop.size / 2) / result.width, (crop.top + crop.size / 2) / result.height)
        self._settle()

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) view pixels, as a drag does; it stops at its edges."""
        rect = self.image_rectf()
        if rect is None or self._zoom <= 1.0:
            return
        self._centre = QPointF(self._centre.x() - dx / rect.width(), self._centre.y() - dy / rect.height())
        self._settle()

    def _settle(self) -> None:
        """The centre as the clamped rectangle shows it: a drag past an edge does not pile up beyond it."""
        rect = self.image_rectf()
        if rect is not None and self._zoom > 1.0:
            area = QRectF(self._area())
            self._centre = QPointF((area.center().x() - rect.left()) / rect.width(),
                                   (area.center().y() - rect.top()) / rect.height())
        else:
            self._zoom, self._centre = 1.0, QPointF(0.5, 0.5)
        self._describe()
        self._view_changed()

    def _view_changed(self) -> None:
        if self._detail is not None and self._detail_too_fine():
            self._detail = None  # zoomed back out: the picture (or a read at this size) shows it truly
        if self._needs_region():
            self._region_timer.start()
        else:
            self._region_timer.stop()
        self._update_cursor()
        self.update()

    def _detail_too_fine(self) -> bool:
        """The file's pixels read for a closer zoom, now drawn shrunk by more than a quarter (or not needed):
        the painter's smooth shrink aliases, and 1-px detail became a coarse false checkerboard at 13%."""
        rect = self.image_rectf()
        if self._detail is None or rect is None or self._pixmap is None or self._zoom <= 1.0:
            return True
        shown_pixels = rect.width() * self.devicePixelRatioF()
        region, image = self._detail
        held = image.width() / max(region.width(), 1e-9)
        return shown_pixels <= self._pixmap.width() * 1.05 or held > 1.25 * shown_pixels

    def _wanted_region(self) -> tuple[QRectF, QSize] | None:
        """The shown part with a margin around it, and the screen pixels it covers."""
        rect = self.image_rectf()
        if rect is None:
            return None
        shown = shown_fraction(rect, QRectF(self._area()))
        if shown.isEmpty():
            return None
        margin_x, margin_y = shown.width() * REGION_MARGIN, shown.height() * REGION_MARGIN
        wanted = shown.adjusted(-margin_x, -margin_y, margin_x, margin_y).intersected(QRectF(0, 0, 1, 1))
        ratio = self.devicePixelRatioF()
        size = QSize(max(1, math.ceil(wanted.width() * rect.width() * ratio)),
                     max(1, math.ceil(wanted.height() * rect.height() * ratio)))
        return wanted, size

    def _needs_region(self) -> bool:
        """Zoomed past the picture's own pixels, where the file has more, and what is drawn does not cover it."""
        rect = self.image_rectf()
        if self._zoom <= 1.0 or rect is None or self._pixmap is None or self._message:
            return False
        shown_pixels = rect.width() * self.devicePixelRatioF()
        if shown_pixels <= self._pixmap.width() * 1.05:
            return False  # the picture has the pixels to show
        if self._whole_file_shown():
            return False
        if self._detail is None:
            return True
        region, image = self._detail
        shown = shown_fraction(rect, QRectF(self._area()))
        slack = 1e-4  # fractions computed two ways differ in their last bits: a strip shown whole is inside
        if not region.adjusted(-slack, -slack, slack, slack).contains(shown):
            return True
        # As many of the file's pixels as the screen shows, and all of them once it shows more: a read reduced
        # for a lower zoom, kept, would blur every zoom above it.
        if self._native is None:
            return False  # (the answer carries the size)
        held = image.width() / max(region.width(), 1e-9)
        return held < 0.99 * min(float(self._native.width()), shown_pixels)

    def _ask_for_region(self) -> None:
        wanted = self._wanted_region() if self._needs_region() else None
        if wanted is not None:
            self.regionWanted.emit(*wanted)

    def sizeHint(self) -> QSize:
        return QSize(480, 360)

    def resizeEvent(self, event) -> None:
        """Zoomed, the picture keeps its scale (100% stays the file's own pixels) and its middle as the pane
        changes size; fitted, it fits the new size."""
        super().resizeEvent(event)
        old = event.oldSize()
        if self._zoom > 1.0 and self._pixmap is not None and old.isValid() and not old.isEmpty():
            basis = self._native if self._native is not None else self._pixmap.size()
            before = fit_rectf(basis, QRect(0, 0, old.width(), old.height()).adjusted(6, 6, -6, -6))
            now = self._fitf()
            if now is not None and now.width() > 0 and before.width() > 0:
                self._zoom = min(max(1.0, self._zoom * before.width() / now.width()), self.max_zoom())
            self._settle()
        else:
            self._view_changed()

    # zoom and drag ----------------------------------------------------------------------

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if self._fit() is None or self._message or not steps:
            super().wheelEvent(event)
            return
        self.zoom_to(self._zoom * ZOOM_STEP ** steps, event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._fit() is None or self._message:
            super().mouseDoubleClickEvent(event)
            return
        if self._zoom > 1.0:
            self.zoom_to(1.0)
        else:
            # The file's own pixels; a picture already shown at its size or larger goes to four times.
            actual = self.actual_size_zoom() or 1.0
            self.zoom_to(actual if actual > 1.05 else 4.0, event.position())
        event.accept()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._zoom > 1.0:
            self._drag_from = event.position()
            self._update_cursor()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_from is not None:
            position = event.position()
            self.pan_by(position.x() - self._drag_from.x(), position.y() - self._drag_from.y())
            self._drag_from = position
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_from is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = None
            event.accept()
        super().mouseReleaseEvent(event)
        self._update_cursor()

    def keyPressEvent(self, event) -> None:
        if self._fit() is None or self._message:
            super().keyPressEvent(event)
            return
        key, step = event.key(), QRectF(self._area()).width() / 8
        pans = {Qt.Key.Key_Left: (step, 0), Qt.Key.Key_Right: (-step, 0),
                Qt.Key.Key_Up: (0, step), Qt.Key.Key_Down: (0, -step)}
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_to(self._zoom * ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_to(self._zoom / ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.zoom_to(1.0)
        elif key == Qt.Key.Key_1 and self.actual_size_zoom() is not None:
            self.zoom_to(self.actual_size_zoom() or 1.0)
        elif key in pans and self._zoom > 1.0:
            self.pan_by(*pans[key])
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def zoom_menu(self) -> QMenu:
        """The picture's right-click menu: the zoom, for people who do not guess the wheel or the keys."""
        menu = QMenu(self)
        actual = self.actual_size_zoom()
        entries = (("Zoom &in\t+", lambda: self.zoom_to(self._zoom * ZOOM_STEP), self._zoom < self.max_zoom()),
                   ("Zoom &out\t-", lambda: self.zoom_to(self._zoom / ZOOM_STEP), self._zoom > 1.0),
                   ("&Actual pixels\t1", lambda: self.zoom_to(actual or 1.0),
                    actual is not None and abs(self._zoom - max(1.0, actual)) > 1e-6),
                   ("&Fit to the pane\t0", lambda: self.zoom_to(1.0), self._zoom > 1.0))
        for text, act, enabled in entries:
            action = menu.addAction(text)
            action.triggered.connect(act)
            action.setEnabled(enabled)
        return menu

    def contextMenuEvent(self, event) -> None:
        if self._fit() is None or self._message:
            super().contextMenuEvent(event)
            return
        self.zoom_menu().exec(event.globalPos())

    def _update_cursor(self) -> None:
        if self._drag_from is not None:
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif self._zoom > 1.0:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()

    # painting ---------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
            if self.hasFocus():
                # Inside its own edge: the ring drawn around it is cut off by the pane on three sides, and the
                # keys that zoom act only while it has the focus.
                painter.setPen(QPen(self.palette().windowText().color(), 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        finally:
            painter.end()  # never leave it to the garbage collector: Qt needs it ended before the flush

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().window())
        target, pixmap = self.image_rectf(), self._pixmap
        if target is None or pixmap is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect().adjusted(20, 20, -20, -20),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
            return
        area = QRectF(self._area())
        painter.save()
        painter.setClipRect(area)
        shown = target.intersected(area)
        if pixmap.hasAlphaChannel():
            painter.setBrushOrigin(target.topLeft())
            painter.fillRect(shown, transparency_brush())
        if self._zoom <= 1.0:
            self._paint_fitted(painter, target.toAlignedRect(), pixmap)
        else:
            self._paint_zoomed(painter, target, shown, pixmap)
        if self.show_heatmap and self._heatmap is not None:
            painter.setOpacity(HEATMAP_OPACITY)
            painter.drawImage(target, self._heatmap)
            painter.setOpacity(1.0)
        if self.show_crops and self._result is not None and self._result.crops and self._result.width:
            self._draw_crops(painter, target, shown, self._result)
        painter.restore()
        percent = self.actual_size_percent()
        if self._zoom > 1.0 and percent is not None:
            self._draw_zoom_badge(painter, area, percent)


    def _paint_fitted(self, painter: QPainter, target: QRect, pixmap: QPixmap) -> None:
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
        painter.drawPixmap(target.topLeft(), self._scaled)

    def _paint_zoomed(self, painter: QPainter, target: QRectF, shown: QRectF, pixmap: QPixmap) -> None:
        """Only the shown part is scaled (a 1600 px picture at 8x would be 160 MB): the picture smoothly, as a
        stand-in; the file's own pixels over it as squares, once read."""
        ratio = self.devicePixelRatioF()
        fraction = shown_fraction(target, shown)
        source = QRectF(fraction.left() * pixmap.width(), fraction.top() * pixmap.height(),
                        fraction.width() * pixmap.width(), fraction.height() * pixmap.height())
        placed = fraction_rect(target, self._detail[0]) if self._detail is not None else None
        painter.save()
        if placed is not None and pixmap.hasAlphaChannel():
            # Not under the file's pixels: a half-transparent pixel drawn twice would look twice as opaque.
            painter.setClipRegion(QRegion(shown.toAlignedRect()).subtracted(QRegion(placed.toRect())),
                                  Qt.ClipOperation.IntersectClip)
        # A picture that is the whole file (a small image) shows its pixels as squares, as the file's own do.
        whole_and_enlarged = self._whole_file_shown() and target.width() * ratio > pixmap.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not whole_and_enlarged)
        painter.drawPixmap(shown, pixmap, source)
        painter.restore()
        if self._detail is not None and placed is not None:
            image = self._detail[1]
            # At 100% the image lands on a fraction of a pixel: smoothed, every pixel would blend with its neighbour.
            reduced = placed.width() * ratio < image.width() * 0.995
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, reduced)
            painter.drawImage(placed, image)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)

    def _draw_zoom_badge(self, painter: QPainter, area: QRectF, percent: float) -> None:
        """How far in, at the top right: a zoomed crop of flat colour could be any part of any image."""
        label = f"{percent:.0f}%"
        metrics = painter.fontMetrics()
        tag = QRectF(0, 0, metrics.horizontalAdvance(label) + 12, metrics.height() + 4)
        tag.moveTopRight(area.topRight() + QPointF(-4, 4))
        painter.setOpacity(0.85)
        painter.fillRect(tag, self.palette().window())
        painter.setOpacity(1.0)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)

    def _draw_crops(self, painter: QPainter, target: QRectF, bounds: QRectF, result: Result) -> None:
        scale_x, scale_y = target.width() / result.width, target.height() / result.height
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        boxes = []
        for crop in result.crops:
            # A crop larger than the image (the engine pads a tiny one) is drawn around the image, not past it.
            box = QRectF(target.left() + crop.left * scale_x, target.top() + crop.top * scale_y,
                         crop.size * scale_x, crop.size * scale_y).intersected(target)
            colour = probability_colour(crop.probability)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            # A dark halo under the coloured line: amber on a grey photo is 1.1:1, the halo reads on any
            # but the darkest ground, where the colour itself does.
            painter.setPen(QPen(CROP_HALO, 4))
            painter.drawRect(box)
            painter.setPen(QPen(colour, 2))
            painter.drawRect(box)
            if box.intersects(bounds):  # zoomed in, a label is placed only for the boxes in view
                boxes.append((crop.probability, box, colour))
        metrics = painter.fontMetrics()
        for label, tag, colour in place_labels(boxes, bounds, metrics.horizontalAdvance, metrics.height()):
            fill, text = readable_badge(colour)
            painter.fillRect(tag, fill)
            painter.setPen(text)
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
