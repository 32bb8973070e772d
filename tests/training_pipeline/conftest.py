"""Fixtures for the pipeline tests: a flat real/fake folder made in-process (fast), and a tiny
forged set (the forge itself, on the data tests' five small photos)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from training.checkpoint import save_checkpoint
from training.config import DetectorConfig
from training.data import manifest, readers
from training.detector import create_detector


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write_flat_set(root, count: int = 12, size: int = 48, seed: int = 0):
    """Reals: smooth random fields with sensor-like noise; fakes: the same made blocky (a visible
    "artifact" a tiny model can learn in a few steps). Every file is labelled train/val/test by hash."""
    rng = np.random.default_rng(seed)
    for folder in ("real", "fake"):
        (root / folder).mkdir(parents=True)
    for index in range(count):
        base = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        smooth = Image.fromarray(base).resize((size, size), Image.BICUBIC).filter(ImageFilter.GaussianBlur(1))
        real = np.clip(np.asarray(smooth, np.int16) + rng.integers(-6, 7, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(real).save(root / "real" / f"{index}.png")
        Image.fromarray(base).resize((size, size), Image.NEAREST).save(root / "fake" / f"{index}.png")
    records = readers.read_flat(root, fake_domain="upsample")
    # deterministic 2/3 train, 1/6 val, 1/6 test regardless of hashing, so every split has both labels
    for record in records:
        index = int(record.path.split("/")[-1].split(".")[0])
        record.split = "train" if index % 6 < 4 else ("val" if index % 6 == 4 else "test")
    path = root / manifest.MANIFEST_NAME
    manifest.write(records, path)
    return path


@pytest.fixture
def flat_manifest(tmp_path):
    return write_flat_set(tmp_path / "flat")


@pytest.fixture(scope="module")
def forged_manifest(tmp_path_factory):
    """The real forge (upsample + reconstruct with an untrained autoencoder) on five small photos."""
    from tests.data.conftest import ingest_small_photos, make_tiny_autoencoder
    from training.data import corpus
    from training.data.forge import runner

    root = tmp_path_factory.mktemp("pipeline")
    ingest_small_photos(root / "corpus")
    make_tiny_autoencoder(root / "ae")
    options = runner.ForgeOptions(corpus=str(root / "corpus"), out=str(root / "forged"),
                                  domains=("upsample", "reconstruct"), domain_options={"weights": str(root / "ae"),
                                                                     "super_resolvers": ["realesr-animevideov3-x2", "waifu2x-upconv7-photo-x2"]})
    entries = sorted(corpus.read_manifest(root / "corpus"), key=lambda e: e["id"])
    runner.run(entries, options, workers=1, progress=False)
    path = root / "forged" / manifest.MANIFEST_NAME
    # Five photos cannot fill three hashed splits: put every photo in each, for the plumbing only.
    records = manifest.read(path)
    copies = [manifest.Record(**{**r.__dict__, "split": split}) for r in records for split in ("train", "val", "test")]
    manifest.write(copies, path)
    return path


TINY_MIXED = DetectorConfig(backbone="tiny_vit", crop_size=32)


def trained_checkpoint(path, config=TINY_MIXED):
    """A checkpoint whose LoRA and head have left their start values."""
    torch.manual_seed(1)
    donor = create_detector(config)
    with torch.no_grad():  # LoRA's B starts at zero: make the adapter change the output
        for name, value in donor.named_parameters():
            if "lora_" in name or name.startswith("head."):
                value.normal_(0, 0.05)
    save_checkpoint(donor.eval(), path)
    return donor
