"""EXIF orientation: from the pixels as stored to the image as shown.

The model scores the pixels as stored, the grid the camera or encoder wrote and the one training
saw (training never rotates), so a flag that only says how to show an image cannot change its score.
What a person sees (crop boxes, the heatmap, the size) is in the shown layout.
"""

from __future__ import annotations

import numpy as np

from engine.contract import CropBox

TRANSPOSED = (5, 6, 7, 8)  # orientations whose shown width is the stored height


# orientation -> (flip the rows, flip the columns, then swap the axes): the EXIF transforms, as Pillow's
# exif_transpose applies them (5 transposes; 6 and 8 turn a quarter clockwise and counter-clockwise).
_STEPS = {1: (False, False, False), 2: (False, True, False), 3: (True, True, False), 4: (True, False, False),
          5: (False, False, True), 6: (True, False, True), 7: (True, True, True), 8: (False, True, True)}


def shown_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """``array`` [H, W, ...] as shown under EXIF ``orientation`` (numpy views: no copy); as Pillow's exif_transpose."""
    flip_rows, flip_cols, swap = _STEPS.get(orientation, _STEPS[1])
    if flip_rows:
        array = array[::-1]
    if flip_cols:
        array = array[:, ::-1]
    return np.swapaxes(array, 0, 1) if swap else array


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
    """Where stored pixel (row, col) shows: the same steps as ``shown_array``, on one index."""
    flip_rows, flip_cols, swap = _STEPS.get(orientation, _STEPS[1])
    if flip_rows:
        row = height - 1 - row
    if flip_cols:
        col = width - 1 - col
    return (col, row) if swap else (row, col)
