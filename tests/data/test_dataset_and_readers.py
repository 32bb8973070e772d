
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from training.data import manifest, readers
from training.data.dataset import ManifestDataset, crop_at_native


def _save(path, array, fmt="PNG", **save):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, fmt, **save)


def _tree(root, layout):
    real, fake = data.astronaut()[:70, :90], data.coffee()[:60, :50]
    if layout == "genimage":
        for split in ("train", "val"):
            _save(root / "sdv14" / split / "nature" / "a.png", real)
            _save(root / "sdv14" / split / "ai" / "b.jpg", fake, "JPEG", quality=90)
    elif layout == "forensynths":
        for split in ("train", "test"):
            _save(root / split / "progan" / "cat" / "0_real" / "a.png", real)
            _save(root / split / "progan" / "cat" / "1_fake" / "b.png", fake)
    else:
        _save(root / "real" / "a.png", real)
        _save(root / "fake" / "b.jpg", fake, "JPEG", quality=90)


@pytest.mark.parametrize("layout", ["genimage", "forensynths", "flat"])
def test_readers_write_the_same_manifest_for_every_layout(tmp_path, layout):
    _tree(tmp_path, layout)
    assert readers.detect_layout(tmp_path) == layout
    records = manifest.read(readers.write_manifest_for(tmp_path))
    expected = {"genimage": 4, "forensynths": 4, "flat": 2}[layout]
    assert len(records) == expected
    for r in records:
        assert manifest.resolve(tmp_path / "manifest.jsonl", r.path).exists()
        assert (r.label == 1) == (r.domain != "real")
        assert r.split in ("train", "val", "test")
    fakes = [r for r in records if r.label]
    if layout == "genimage":
        assert {r.domain for r in fakes} == {"sdv14"} and {r.split for r in records} == {"train", "val"}
        assert {r.jpeg_quality for r in fakes} == {90}
    if layout == "forensynths":
        assert {r.domain for r in fakes} == {"progan"} and {r.split for r in records} == {"train", "test"}
    dataset = ManifestDataset(tmp_path / "manifest.jsonl", crop_size=64, with_masks=True)
    item = dataset[0]
    assert item["image"].shape == (64, 64, 3) and item["image"].dtype == torch.uint8
    assert item["mask"].shape == (64, 64)


def test_crop_is_a_window_of_the_original_never_resized():
    image = data.astronaut()[:100, :120]
    mask = np.zeros((100, 120), np.uint8)
    mask[10:30, 40:80] = 1
    rng = np.random.default_rng(0)
    for _ in range(20):
        crop, mask_crop = crop_at_native([image, mask], 48, rng)
        hits = [(y, x) for y in range(53) for x in range(73) if np.array_equal(image[y : y + 48, x : x + 48], crop)]
        assert hits, "crop is not a window of the image"
        y, x = hits[0]
        assert np.array_equal(mask[y : y + 48, x : x + 48], mask_crop)


def test_small_images_are_padded_by_mirroring_not_scaled():
    image = data.coffee()[:30, :40]
    (crop,) = crop_at_native([image], 64, None)
    assert crop.shape == (64, 64, 3)
    assert np.array_equal(crop[:30, :40], image)
    assert np.array_equal(crop[30:60, :40], image[::-1])


def test_dataset_on_forged_manifest_returns_float_or_uint8_with_masks(tiny_corpus, tiny_autoencoder, tmp_path):
    from tests.data.test_forge import _forge

    path = _forge(tiny_corpus, tiny_autoencoder, tmp_path / "forged")
    float_set = ManifestDataset(path, crop_size=32, as_float=True, with_masks=True, variants=[""])
    uint_set = ManifestDataset(path, crop_size=32, with_masks=True, variants=[""], domains=["real", "inpaint"])
    assert len(float_set) == 20 and len(uint_set) == 10
    item = float_set[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    labels = {float(uint_set[i]["label"]) for i in range(len(uint_set))}
    assert labels == {0.0, 1.0}
    for i in range(len(float_set)):
        item, record = float_set[i], float_set.records[i]
        if record.domain == "real":
            assert int(item["mask"].sum()) == 0
        elif record.domain in ("upsample", "reconstruct"):
            assert bool(item["mask"].all()) and int(item["domain_map"][0, 0]) in (1, 2)
    # crops repeat for the same epoch and change with the epoch
    again = ManifestDataset(path, crop_size=32, variants=[""])
    first = again[3]["image"].clone()
    assert torch.equal(first, again[3]["image"])
    again.set_epoch(1)
    assert not torch.equal(first, again[3]["image"])
