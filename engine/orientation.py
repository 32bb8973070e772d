"""EXIF orientation: from the pixels as stored to the image as shown.

The model scores the pixels as stored, the grid the camera or encoder wrote and the one training
saw (training never rotates), so a flag that only says how to show an image cannot change its score.
What a person sees (crop boxes, the heatmap, the size) is in the shown layout.
"""

from __future__ import annotations

import numpy as np

from engine.contract import CropBox

TRANSPOSED = (5, 6, 7, 8)  # orientations whose shown width is the stored height


def shown_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """``array`` [H, W, ...] as shown under EXIF ``orientation`` (numpy views: no copy); as Pillow's exif_transpose."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return np.swapaxes(array, 0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return np.swapaxes(array[::-1, ::-1], 0, 1)
    if orientation == 8:
        return np.rot90(array, 1)
    return array


def shown_size(height: int, width: int, orientation: int) -> tuple[int, int]:
    """(height, width) as shown."""
    return (width, height) if orientation in TRANSPOSED else (height, width)


def shown_box(box: CropBox, orientation: int, height: int, width: int) -> CropBox:
    """A square crop of the stored ``height`` x ``width`` image, placed where it shows. A crop larger than a
    small image (padded past its bottom and right) starts at the shown image's edge."""
    last = box.size - 1
    corners = [_shown_point(row, col, orientation, height, width)
               for row, col in ((box.top, box.left), (box.top + last, box.left + last))]
    return CropBox(max(0, min(r for r, _ in corners)), max(0, min(c for _, c in corners)), box.size)


def _shown_point(row: int, col: int, orientation: int, height: int, width: int) -> tuple[int, int]:
    """Where stored pixel (row, col) shows; the inverse of ``shown_array``'s indexing."""
    if orientation == 2:
        return row, width - 1 - col
    if orientation == 3:
        return height - 1 - row, width - 1 - col
    if orientation == 4:
        return height - 1 - row, col
    if orientation == 5:
        return col, row
    if orientation == 6:
        return col, height - 1 - row
    if orientation == 7:
        return width - 1 - col, height - 1 - row
    if orientation == 8:
        return width - 1 - col, row
    return row, col
