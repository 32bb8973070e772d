"""A PyTorch Dataset over a manifest: crops at native resolution, as the engine sees images.

Each item is a dict:
    image        uint8 [S, S, 3] (the model contract's layout) or float32 [3, S, S] in [0, 1]
    label        float32 scalar, 1 = fake
    mask         uint8 [S, S], 1 = manipulated pixel (with_masks=True): from the inpaint mask,
                 all ones for whole-image fakes, all zeros for reals; padding is 0
    domain_map   int64 [S, S] DOMAIN_CODES per pixel (with_masks=True); whole-image fakes get
                 their domain's code, reals 0
    index        position in the manifest
Images smaller than S are padded the way the engine pads (engine.contract.CROP_PAD_MODE);
nothing is ever resized.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from engine.contract import CROP_PAD_MODE
from training.data import manifest
from training.data.forge.base import DOMAIN_CODES


def crop_at_native(arrays: Sequence[np.ndarray], size: int, rng: np.random.Generator | None,
                   anchor: tuple[int, int] | None = None) -> list[np.ndarray]:
    """One S x S window, the same for every array (image, mask, map): random when rng is given
    (among the windows that hold the pixel ``anchor`` = (y, x), when given), centred otherwise;
    arrays smaller than S are padded first."""
    height, width = arrays[0].shape[:2]
    padded = []
    for array in arrays:
        pad = [(0, max(size - height, 0)), (0, max(size - width, 0))] + [(0, 0)] * (array.ndim - 2)
        # masks are padded with "not manipulated", images by mirroring (as the engine does)
        padded.append(np.pad(array, pad, mode=CROP_PAD_MODE) if array.ndim == 3 else np.pad(array, pad))
    height, width = padded[0].shape[:2]
    if rng is None:
        top, left = (height - size) // 2, (width - size) // 2
    elif anchor is None:
        top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    else:
        (y, x), last_top, last_left = anchor, height - size, width - size
        top = int(rng.integers(min(max(y - size + 1, 0), last_top), min(y, last_top) + 1))
        left = int(rng.integers(min(max(x - size + 1, 0), last_left), min(x, last_left) + 1))
    return [a[top : top + size, left : left + size] for a in padded]


class ManifestDataset(Dataset):
    def __init__(
        self,
        manifest_path: str | os.PathLike,
        split: str | None = None,
        crop_size: int = 256,
        random_crop: bool = True,
        as_float: bool = False,
        with_masks: bool = False,
        domains: Sequence[str] | None = None,
        variants: Sequence[str] | None = None,
        seed: int = 0,
        record_filter: Callable[[manifest.Record], bool] | None = None,
    ):
        self.manifest_path = Path(manifest_path)
        records = manifest.read(self.manifest_path)
        self.records = [
            r for r in records
            if (split is None or r.split == split)
            and (domains is None or r.domain in domains)
            and (variants is None or r.variant in variants)
            and (record_filter is None or record_filter(r))
        ]
        self.crop_size = crop_size
        self.random_crop = random_crop
        self.as_float = as_float
        self.with_masks = with_masks
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """New random crops each epoch, reproducible from (seed, epoch, index)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def _read_png(self, relative: str) -> np.ndarray:
        return np.asarray(Image.open(manifest.resolve(self.manifest_path, relative)))

    def _masks(self, record: manifest.Record, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        if record.mask_path:
            mask = (self._read_png(record.mask_path) > 127).astype(np.uint8)
            domain_map = self._read_png(record.domain_map_path).astype(np.int64)
            return mask, domain_map
        fake = record.label == 1
        mask = np.full(shape, 1 if fake else 0, np.uint8)
        code = DOMAIN_CODES.get(record.domain, max(DOMAIN_CODES.values()) + 1) if fake else 0
        return mask, np.full(shape, code, np.int64)

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        data = manifest.resolve(self.manifest_path, record.path).read_bytes()
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        arrays = [rgb]
        if self.with_masks:
            arrays += list(self._masks(record, rgb.shape[:2]))
        rng = np.random.default_rng((self.seed, self.epoch, index)) if self.random_crop else None
        crops = crop_at_native(arrays, self.crop_size, rng)
        image = torch.from_numpy(np.ascontiguousarray(crops[0]))
        if self.as_float:
            image = image.permute(2, 0, 1).float().div(255.0)
        item = {"image": image, "label": torch.tensor(float(record.label)), "index": index}
        if self.with_masks:
            item["mask"] = torch.from_numpy(np.ascontiguousarray(crops[1]))
            item["domain_map"] = torch.from_numpy(np.ascontiguousarray(crops[2]))
        return item
