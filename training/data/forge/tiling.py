"""Tiled inference for super-resolution networks: memory bounded by the tile size on any
photo, and no seams, since every written pixel keeps `margin` pixels of context on each side."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

TILE = 128  # input pixels per tile side, margins included
MARGIN = 16  # least context kept on each side of a written pixel: hides the seams


def tile_spans(length: int, tile: int = TILE, margin: int = MARGIN) -> list[tuple[int, int, int, int]]:
    """Cover 0..length with windows of `tile` pixels: (read_start, read_end, write_start, write_end).

    Windows step by tile - 2*margin and the last one sits flush with the end, so each is read
    whole (all tiles the same size), and each writes only up to the middle of its overlaps:
    every written pixel has at least `margin` pixels of real context on both sides."""
    if length <= tile:
        return [(0, length, 0, length)]
    step = tile - 2 * margin
    starts = list(range(0, length - tile, step)) + [length - tile]
    bounds = [0] + [(starts[i + 1] + starts[i] + tile) // 2 for i in range(len(starts) - 1)] + [length]
    return [(s, s + tile, bounds[i], bounds[i + 1]) for i, s in enumerate(starts)]


def upscale_tiled(net: nn.Module, factor: int, small: np.ndarray, tile: int = TILE, margin: int = MARGIN,
                  channels_last: bool = False) -> np.ndarray:
    """HxWx3 uint8 -> (factor*H)x(factor*W)x3 uint8, one tile at a time (memory bounded by the
    tile size), float32 in [0, 1], rounded back to uint8."""
    h, w = small.shape[:2]
    image = torch.from_numpy(small.copy()).permute(2, 0, 1)[None].float().div_(255.0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    out = np.empty((h * factor, w * factor, 3), np.uint8)
    with torch.no_grad():
        for ry0, ry1, wy0, wy1 in tile_spans(h, tile, margin):
            for rx0, rx1, wx0, wx1 in tile_spans(w, tile, margin):
                piece = net(image[:, :, ry0:ry1, rx0:rx1].contiguous(memory_format=layout))
                piece = piece[0, :, (wy0 - ry0) * factor:(wy1 - ry0) * factor, (wx0 - rx0) * factor:(wx1 - rx0) * factor]
                out[wy0 * factor:wy1 * factor, wx0 * factor:wx1 * factor] = (
                    piece.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy())
    return out
