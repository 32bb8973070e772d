"""Where the picture goes in the view: fitted to the pane, or zoomed about a point of it, and the conversions
between the image's fractions and the view's coordinates that the region reads and the overlays share."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt

# A small image is shown at most this many times its size: blown up further it is a blur of its pixels.
MAX_ZOOM = 2
# Zoomed in, a file's pixel is shown at most this many screen pixels wide: enough to see one pixel's neighbours.
MAX_PIXEL_ZOOM = 8


def fit_rect(image_size: QSize, area: QRect) -> QRect:
    scaled = image_size.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    if scaled.width() > image_size.width() * MAX_ZOOM:
        scaled = image_size * MAX_ZOOM
    left = area.left() + (area.width() - scaled.width()) // 2
    top = area.top() + (area.height() - scaled.height()) // 2
    return QRect(left, top, scaled.width(), scaled.height())


def fit_rectf(image_size: QSize, area: QRect) -> QRectF:
    """``fit_rect`` unrounded: zoomed, a rounded 5 px width for a 5.67 px one would stretch a strip by 13%."""
    scale = min(area.width() / image_size.width(), area.height() / image_size.height(), float(MAX_ZOOM))
    width, height = image_size.width() * scale, image_size.height() * scale
    return QRectF(area.left() + (area.width() - width) / 2, area.top() + (area.height() - height) / 2, width, height)


def zoomed_rect(fit: QRectF, area: QRectF, zoom: float, centre: QPointF) -> QRectF:
    """The whole image's rectangle at ``zoom`` times its fitted size, with its point ``centre`` (fractions of
    its width and height) at the middle of ``area``; moved so that no empty space shows on a side the
    image could fill, and centred on an axis where it is narrower than the area."""
    width, height = fit.width() * zoom, fit.height() * zoom

    def place(start: float, length: float, extent: float, fraction: float) -> float:
        if extent <= length:
            return start + (length - extent) / 2
        return min(start, max(start + length - extent, start + length / 2 - fraction * extent))

    return QRectF(place(area.left(), area.width(), width, centre.x()),
                  place(area.top(), area.height(), height, centre.y()), width, height)


def shown_fraction(image: QRectF, area: QRectF) -> QRectF:
    """The part of ``image`` inside ``area``, as fractions of the image."""
    shown = image.intersected(area)
    if shown.isEmpty():
        return QRectF()
    return QRectF((shown.left() - image.left()) / image.width(), (shown.top() - image.top()) / image.height(),
                  shown.width() / image.width(), shown.height() / image.height())


def fraction_rect(image: QRectF, fraction: QRectF) -> QRectF:
    """``fraction`` (of the image) in the coordinates ``image`` is drawn in."""
    return QRectF(image.left() + fraction.left() * image.width(), image.top() + fraction.top() * image.height(),
                  fraction.width() * image.width(), fraction.height() * image.height())
