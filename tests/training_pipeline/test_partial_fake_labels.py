"""Training labels of partial fakes: a crop of an inpaint is fake only where its mask is."""

import numpy as np
from PIL import Image

from training.augment import AugmentConfig
from training.data import manifest
from training.train_data import RecordFilter, TrainingSet


def _inpaint_manifest(root, size=128, box=24):
    """One inpaint whose manipulated box (top-left) is white on a black real: the crop's white
    share is its manipulated share, readable from the image alone."""
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[:box, :box] = 255
    mask = np.zeros((size, size), np.uint8)
    mask[:box, :box] = 255
    Image.fromarray(pixels).save(root / "fake.png")
    Image.fromarray(mask).save(root / "fake.mask.png")
    Image.fromarray((mask > 0).astype(np.uint8) * 4).save(root / "fake.domains.png")
    Image.fromarray(np.zeros_like(pixels)).save(root / "real.png")
    common = dict(source_id="s", split="train", format="PNG", mode="RGB", width=size, height=size, bytes=1)
    records = [manifest.Record(path="real.png", label=0, domain="real", **common),
               manifest.Record(path="fake.png", label=1, domain="inpaint", mask_path="fake.mask.png",
                               domain_map_path="fake.domains.png", **common)]
    path = root / manifest.MANIFEST_NAME
    manifest.write(records, path)
    return path


def test_inpaint_crops_are_fake_only_where_manipulated(tmp_path):
    path = _inpaint_manifest(tmp_path)
    dataset = TrainingSet(path, RecordFilter("train"), crop_size=32, augment=AugmentConfig(enabled=False),
                          min_manipulated=0.02)
    fake_index = next(i for i, r in enumerate(dataset.records) if r.label == 1)
    labels, shares = [], []
    for position in range(200):
        item = dataset[(fake_index, (0, 0, position))]
        share = float((item["image"].numpy()[..., 0] > 127).mean())
        labels.append(float(item["label"]))
        shares.append(share)
    labels, shares = np.array(labels), np.array(shares)
    assert np.all((labels == 1) == (shares >= 0.02))
    # A uniformly random 32 px window of 128 px holds 2% of the 24 px box about 6% of the time;
    # windows cut around a manipulated pixel almost always do.
    assert labels.mean() > 0.9


def test_whole_image_labels_are_unchanged(tmp_path):
    path = _inpaint_manifest(tmp_path)
    dataset = TrainingSet(path, RecordFilter("train"), crop_size=32, augment=AugmentConfig(enabled=False))
    real_index = next(i for i, r in enumerate(dataset.records) if r.label == 0)
    assert all(float(dataset[(real_index, (0, 0, p))]["label"]) == 0.0 for p in range(20))


def test_a_crop_that_cannot_hold_enough_manipulated_pixels_is_labelled_real(tmp_path):
    path = _inpaint_manifest(tmp_path)  # the 24 px box fills at most 56% of a 32 px crop
    dataset = TrainingSet(path, RecordFilter("train"), crop_size=32, augment=AugmentConfig(enabled=False),
                          min_manipulated=0.6)
    fake_index = next(i for i, r in enumerate(dataset.records) if r.label == 1)
    assert all(float(dataset[(fake_index, (0, 0, p))]["label"]) == 0.0 for p in range(20))


def test_the_decoded_cache_changes_no_crop(tmp_path):
    path = _inpaint_manifest(tmp_path)
    plain, cached = (TrainingSet(path, RecordFilter("train"), crop_size=32, augment=AugmentConfig(),
                                 cache_decoded=flag) for flag in (False, True))
    for position in range(12):
        for index in range(len(plain)):
            a, b = plain[(index, (0, 0, position))], cached[(index, (0, 0, position))]
            assert np.array_equal(a["image"].numpy(), b["image"].numpy()) and float(a["label"]) == float(b["label"])
    assert len(cached._decoded) == len(cached)  # each file decoded once
