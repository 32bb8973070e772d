import io
import json

import numpy as np
import pytest
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


def test_add_says_what_it_passed_over_and_refuses_what_is_no_folder_of_photos(tmp_path, capsys, small_images_allowed):
    folder = tmp_path / "Trip [2023]"  # glob's special characters in a name
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)  # a loop
    (folder / "photo.png").write_bytes(_png(data.astronaut()[:200, :200]))
    (folder / "sub" / "coffee.png").write_bytes(_png(data.coffee()[:150, :180]))
    (folder / "clip.gif").write_bytes(b"GIF89a")
    (folder / ".hidden.png").write_bytes(_png(data.coffee()[:150, :150]))
    root = tmp_path / "corpus"
    assert corpus.main(["add", str(folder), "--corpus", str(root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outcomes"] == {"kept": 2}  # each photo once, the loop not followed
    assert report["skipped"] == {"not a photo format taken (.gif)": 1, "hidden": 1}

    for bad, said in ((tmp_path / "nope", "is not a folder"), (folder / "photo.png", "is not a folder"),
                      (tmp_path / "empty", "no photos")):
        if bad.name == "empty":
            bad.mkdir()
        assert corpus.main(["add", str(bad), "--corpus", str(tmp_path / "other")]) == 2
        assert said in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_an_interrupted_add_keeps_a_manifest_that_names_only_files_that_exist(tmp_path, small_images_allowed):
    root = tmp_path / "corpus"
    small = np.asarray(Image.fromarray(data.astronaut()).resize((200, 200)))
    corpus.ingest(root, [sources.SourcePhoto(_png(small), "user", "/small.png", "CC0", "")])

    def photos():  # the same photo, larger (it replaces the small one), then the person presses Ctrl-C
        yield sources.SourcePhoto(_png(data.astronaut()), "user", "/large.png", "CC0", "")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        corpus.ingest(root, photos())
    [entry] = corpus.read_manifest(root)
    assert entry["original_path"] == "/large.png" and (root / entry["path"]).is_file()
    assert len(list((root / "images").iterdir())) == 1  # the replaced file went once the manifest said so


def test_a_16_bit_grey_photo_is_judged_on_its_tones_not_clipped_to_white():
    grey = np.asarray(Image.fromarray(data.astronaut()).convert("L"), np.uint16) * 257
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "PNG")  # mode I;16
    assert photo_filter.judge(buffer.getvalue()).is_photo
    assert photo_filter.judge(b"").reason == "undecodable: not an image Pillow reads"


def test_add_takes_a_phones_heic_and_avif_photos(tmp_path, small_images_allowed):
    import pillow_heif  # the encoder: training's dependency (the app only decodes)

    folder = tmp_path / "phone"
    folder.mkdir()
    pillow_heif.from_pillow(Image.fromarray(data.astronaut()[:240, :240])).save(folder / "IMG_0001.HEIC", quality=90)
    Image.fromarray(data.coffee()[:200, :260]).save(folder / "IMG_0002.avif", quality=90)
    root = tmp_path / "corpus"
    assert corpus.main(["add", str(folder), "--corpus", str(root)]) == 0
    entries = {e["original_path"].rsplit("/", 1)[1]: e for e in corpus.read_manifest(root)}
    assert set(entries) == {"IMG_0001.HEIC", "IMG_0002.avif"}
    heic, avif = entries["IMG_0001.HEIC"], entries["IMG_0002.avif"]
    assert (heic["format"], heic["path"][-5:], heic["width"]) == ("HEIF", ".heic", 240)
    assert (avif["format"], avif["path"][-5:], avif["width"]) == ("AVIF", ".avif", 260)
    with Image.open(root / heic["path"]) as kept:  # the corpus's copy opens as the photo it is
        assert kept.size == (240, 240)
