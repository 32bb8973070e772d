"""What a training stage reads: records chosen by split, fake domain and generator, balanced
real/fake epochs, and augmented crops (``training.augment``) with their masks for GAMMA.

Every crop is a pure function of (seed, epoch, position in the epoch), so a resumed run and a
run split across processes see exactly the crops a single uninterrupted run sees.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from training.augment import AugmentConfig, augment_crop
from training.config import ConfigError
from training.data import manifest
from training.data.dataset import ManifestDataset
from training.domains import DOMAIN_CODES, MIN_MANIPULATED

IGNORE_INDEX = -100


@dataclass(frozen=True)
class RecordFilter:
    """Reals, plus fakes of ``domains`` (None: all) whose generator names none of ``exclude_generators``."""

    split: str
    domains: tuple[str, ...] | None = None
    exclude_generators: tuple[str, ...] = ()
    variants: tuple[str, ...] | None = None  # None: aligned and perturbed copies alike

    def __call__(self, record: manifest.Record) -> bool:
        if record.split != self.split:
            return False
        if self.variants is not None and record.variant not in self.variants:
            return False
        if record.label == 0:
            return True
        if self.domains is not None and record.domain not in self.domains:
            return False
        return not any(part in record.generator for part in self.exclude_generators)


def domain_code_to_class(class_names: Sequence[str]) -> np.ndarray:
    """Lookup: DOMAIN_CODES value -> index in GAMMA's ``domains`` (IGNORE_INDEX if absent)."""
    table = np.full(max(DOMAIN_CODES.values()) + 2, IGNORE_INDEX, np.int64)
    for name, code in DOMAIN_CODES.items():
        if name in class_names:
            table[code] = list(class_names).index(name)
    return table


def balanced_epoch(labels: np.ndarray, seed: int, stage: int, epoch: int) -> np.ndarray:
    """Every fake once and as many reals (repeated when fewer), shuffled: a 1:1 epoch."""
    rng = np.random.default_rng((seed, stage, epoch, 7))
    reals, fakes = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    if len(reals) == 0 or len(fakes) == 0:
        raise ValueError("a training stage needs both real and fake images")
    repeats = -(-len(fakes) // len(reals))
    reals = np.concatenate([rng.permutation(reals) for _ in range(repeats)])[: len(fakes)]
    return rng.permutation(np.concatenate([reals, fakes]))


class TrainingSet(ManifestDataset):
    """Items are addressed by ``(record index, draw key)``; the key seeds that crop's randomness.

    A partial fake (an inpaint, with a mask) is fake only where its mask is: its crop is cut
    around a random manipulated pixel, drawn again (up to ``PARTIAL_FAKE_DRAWS`` times) until at
    least ``min_manipulated`` of it is manipulated, and a crop that still holds (almost) none is
    labelled real, because its pixels are.
    """

    PARTIAL_FAKE_DRAWS = 4

    def __init__(self, manifest_path: str | os.PathLike, record_filter: RecordFilter, crop_size: int,
                 augment: AugmentConfig, seed: int = 0, with_masks: bool = False,
                 domain_classes: Sequence[str] = (), min_manipulated: float = MIN_MANIPULATED,
                 cache_decoded: bool = False):
        super().__init__(manifest_path, crop_size=crop_size, with_masks=with_masks, seed=seed,
                         record_filter=record_filter)
        self.augment = augment
        self.min_manipulated = min_manipulated
        # Decoded pixels kept in memory (about 0.3 MB a 320 px crop): each file is decoded once per
        # stage instead of once per draw. Only worth it in the training process (workers = 0).
        self._decoded: dict[int, tuple[np.ndarray, list[np.ndarray]]] | None = {} if cache_decoded else None
        self.code_table = domain_code_to_class(domain_classes) if with_masks else None
        self.labels = np.array([r.label for r in self.records], np.int64)
        self._check_files_exist()

    def _check_files_exist(self) -> None:
        """Every image and mask the stage will draw is there: a missing one is found now, not hours in."""
        named = [path for record in self.records for path in (record.path, record.mask_path) if path]
        missing = [path for path in named if not manifest.resolve(self.manifest_path, path).is_file()]
        if missing:
            raise ConfigError(f"{len(missing):,} of the {len(named):,} files {self.manifest_path} names for this "
                              f"stage are missing, e.g. {', '.join(missing[:3])}")

    def __getitem__(self, key) -> dict:
        index, draw = key
        record = self.records[index]
        partial = record.label == 1 and bool(record.mask_path)
        rgb, masks = self._pixels(index, record, self.with_masks or partial)
        rng = np.random.default_rng((self.seed, *draw))
        label = float(record.label)
        manipulated = np.flatnonzero(masks[0]) if partial else ()
        for _ in range(self.PARTIAL_FAKE_DRAWS if partial else 1):
            anchor = None
            if len(manipulated):
                anchor = divmod(int(manipulated[rng.integers(len(manipulated))]), rgb.shape[1])
            image, crop_masks = augment_crop(rgb, masks, self.crop_size, rng, self.augment, anchor)
            if not partial or crop_masks[0].mean() >= self.min_manipulated:
                break
        else:
            label = 0.0
        item = {"image": torch.from_numpy(image), "label": torch.tensor(label)}
        if self.with_masks:
            codes = np.clip(crop_masks[1], 0, len(self.code_table) - 1)
            item["mask"] = torch.from_numpy(crop_masks[0].astype(np.float32))
            item["domain_map"] = torch.from_numpy(self.code_table[codes])
        return item

    def _pixels(self, index: int, record: manifest.Record, masks_wanted: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        if self._decoded is not None and index in self._decoded:
            return self._decoded[index]
        path = manifest.resolve(self.manifest_path, record.path)
        try:
            rgb = np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"))
        except (OSError, ValueError) as error:  # Pillow names a BytesIO, not the file
            raise ValueError(f"{path}: {error}") from error
        masks = [m.astype(np.uint8) for m in self._masks(record, rgb.shape[:2])] if masks_wanted else []
        if self._decoded is not None:
            self._decoded[index] = (rgb, masks)
        return rgb, masks
