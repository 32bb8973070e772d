import io
import json

import numpy as np
from PIL import Image
from skimage import data

from training.data import corpus, photo_filter, sources
from training.data.splits import split_for


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def test_add_folder_keeps_photos_drops_clipart_icons_and_duplicates(tmp_path, small_images_allowed):
    folder = tmp_path / "mine"
    folder.mkdir()
    photo = data.astronaut()[:200, :200]
    (folder / "photo.png").write_bytes(_png(photo))
    # the same photo at a smaller size: a perceptual duplicate; the larger one is kept
    (folder / "photo_small.png").write_bytes(_png(np.asarray(Image.fromarray(photo).resize((120, 120)))))
    clipart = np.zeros((200, 200, 3), np.uint8)
    clipart[50:150, 50:150] = (255, 0, 0)
    (folder / "clipart.png").write_bytes(_png(clipart))
    (folder / "icon.png").write_bytes(_png(data.coffee()[:32, :32]))
    (folder / "notes.txt").write_text("not an image")
    (folder / "coffee.png").write_bytes(_png(data.coffee()[:150, :180]))

    root = tmp_path / "corpus"
    assert corpus.main(["add", str(folder), "--corpus", str(root), "--licence", "CC0"]) == 0
    entries = corpus.read_manifest(root)
    assert sorted(e["original_path"].rsplit("/", 1)[1] for e in entries) == ["coffee.png", "photo.png"]
    for entry in entries:
        assert (root / entry["path"]).exists()
        assert entry["split"] == split_for(entry["id"])
        assert entry["licence"] == "CC0" and entry["source_package"] == "user"
        assert entry["format"] == "PNG" and entry["width"] >= 150
    reasons = [json.loads(line)["reason"] for line in (root / corpus.REJECTED).read_text().splitlines()]
    assert any(r.startswith("duplicate of") for r in reasons)
    assert any(r.startswith(("few colours", "flat areas")) for r in reasons)
    assert any(r.startswith("too small") for r in reasons)

    # adding the same folder again changes nothing: every file is a duplicate of itself
    corpus.main(["add", str(folder), "--corpus", str(root)])
    assert len(corpus.read_manifest(root)) == 2


def test_photo_filter_on_real_photo_and_flat_render():
    assert photo_filter.judge(_png(data.astronaut())).is_photo
    flat = np.zeros((300, 300, 3), np.uint8)
    flat[:, 150:] = 200
    assert not photo_filter.judge(_png(flat)).is_photo


def test_splits_are_deterministic_and_roughly_proportional():
    ids = [f"{i:016x}" for i in range(4000)]
    first = [split_for(i) for i in ids]
    assert first == [split_for(i) for i in ids]
    share = {name: first.count(name) / len(ids) for name in ("train", "val", "test")}
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["val"] - 0.1) < 0.02


def test_allow_lists_name_photo_sets_only():
    assert not any("paintings" in s or "words_sample" in s for s in sources.GCOMPRIS_PHOTO_SETS)
    assert "data/starry_night.jpg" not in sources.OPENCV_PHOTOS
