"""Crop-level forging, processed reals and the leave-out protocol, on five tiny real photos."""
import dataclasses
import io
import json
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from training.data import audit, corpus, leaveout, manifest
from training.data.forge import crops, processing, runner

NCNN = ["realesr-animevideov3-x2", "realesr-animevideov3-x4", "waifu2x-upconv7-photo-x2"]
CROPS, PROCESSED = 3, 2


def _forge(tiny_corpus, tiny_autoencoder, out) -> None:
    """The crop forge on the tiny corpus; rerunning it into the same folder resumes."""
    options = runner.ForgeOptions(
        corpus=str(tiny_corpus), out=str(out), domains=("upsample", "reconstruct", "inpaint"), seed=0,
        domain_options={"weights": str(tiny_autoencoder), "super_resolvers": NCNN},
        crops_per_photo=CROPS, crop_sizes=(32, 64), processed_per_unit=PROCESSED,
    )
    runner.run(sorted(corpus.read_manifest(tiny_corpus), key=lambda e: e["id"]), options, workers=1, progress=False)


@pytest.fixture(scope="module")
def forged(tiny_corpus, tiny_autoencoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("crop-forged")
    _forge(tiny_corpus, tiny_autoencoder, out)
    return out / manifest.MANIFEST_NAME


def _units(records):
    units = defaultdict(list)
    for r in records:
        units[(r.source_id, r.crop["index"])].append(r)
    return units


def test_each_crop_gets_a_real_every_domain_and_its_processed_reals(forged):
    units = _units(manifest.read(forged))
    assert len(units) == 5 * CROPS
    for members in units.values():
        aligned = sorted(r.domain for r in members if not r.processing)
        assert aligned == ["inpaint", "real", "reconstruct", "upsample"]
        assert sum(1 for r in members if r.processing) == PROCESSED


def test_crops_are_native_grid_aligned_distinct_windows_with_their_reals_format(forged, tiny_corpus):
    photos = {e["id"]: e for e in corpus.read_manifest(tiny_corpus)}
    for (source, _), members in _units(manifest.read(forged)).items():
        crop = members[0].crop
        assert all(r.crop == crop for r in members)
        assert crop["x"] % crops.GRID == 0 and crop["y"] % crops.GRID == 0 and crop["size"] % crops.GRID == 0
        assert crop["x"] + crop["size"] <= photos[source]["width"] and crop["y"] + crop["size"] <= photos[source]["height"]
        aligned = [r for r in members if not r.processing]
        assert len({(r.format, r.width, r.height, r.mode, r.jpeg_quality) for r in aligned}) == 1
        assert aligned[0].width == aligned[0].height == crop["size"]
        assert aligned[0].format == photos[source]["format"]
    real = next(r for r in manifest.read(forged) if r.domain == "real" and not r.processing and r.format == "PNG")
    original = np.asarray(Image.open(tiny_corpus / photos[real.source_id]["path"]).convert("RGB"))
    c = real.crop
    cut = np.asarray(Image.open(manifest.resolve(forged, real.path)).convert("RGB"))
    assert np.array_equal(cut, original[c["y"] : c["y"] + c["size"], c["x"] : c["x"] + c["size"]])


def test_crop_plans_keep_windows_apart():
    rng = np.random.default_rng(0)
    plan = crops.plan(1200, 800, 20, (256, 512), rng)
    assert len(plan) >= 8
    for i, a in enumerate(plan):
        for b in plan[i + 1 :]:
            assert crops._overlap(a, b.x, b.y, b.size) <= crops.MAX_OVERLAP
    assert crops.plan(40, 40, 5, (256, 512), rng) == [crops.Crop(0, 0, 0, 32)]
    assert crops.plan(10, 300, 5, (256, 512), rng) == []


def test_processed_reals_are_label_zero_with_their_chain_recorded(forged):
    processed = [r for r in manifest.read(forged) if r.processing]
    assert len(processed) == 5 * CROPS * PROCESSED
    for r in processed:
        assert r.label == 0 and r.domain == "real" and r.generator == ""
        assert r.processing[-1]["op"] in processing.ENCODES
        image = Image.open(manifest.resolve(forged, r.path))
        assert image.size == (r.width, r.height) and image.format == r.format
        assert r.path.rsplit(".", 1)[1] == {"JPEG": "jpg", "HEIF": "heic"}.get(r.format, r.format.lower())
        assert max(r.width, r.height) <= r.crop["size"]
    assert len({json.dumps(r.processing) for r in processed}) > len(processed) // 2


@pytest.mark.parametrize("ops", [
    [{"op": "resize", "factor": 0.5, "resampler": "area"}, {"op": "jpeg", "quality": 40}],
    [{"op": "resize", "factor": 1.9, "resampler": "lanczos"}, {"op": "unsharp_mask", "radius": 1.5, "percent": 150, "threshold": 2},
     {"op": "double_jpeg", "first": 90, "quality": 70}],
    [{"op": "gaussian_blur", "sigma": 1.0}, {"op": "denoise", "method": "tv"}, {"op": "webp", "quality": 60}],
    [{"op": "tone", "gamma": 1.3, "contrast": 1.1}, {"op": "denoise", "method": "wavelet"}, {"op": "png_resave"}],
    [{"op": "unsharp_mask", "radius": 1.2, "percent": 120, "threshold": 1}, {"op": "heic", "quality": 50}],
    [{"op": "resize", "factor": 0.7, "resampler": "bicubic"}, {"op": "avif", "quality": 60}],
])
def test_each_processing_keeps_the_photo_recognisable(ops, real_photo):
    window = processing.source_window(128, ops)
    assert window * processing.scale(ops) >= 128
    out = processing.apply_pixels(real_photo[:window, :window], ops)
    assert min(out.shape[:2]) >= 128
    decoded = np.asarray(Image.open(io.BytesIO(processing.encode(out, ops))).convert("RGB"))
    assert decoded.shape == out.shape
    if processing.scale(ops) == 1.0:  # same geometry: close to the original, but changed
        difference = np.abs(decoded.astype(int) - real_photo[:window, :window]).mean()
        assert 0.5 < difference < 40


def test_same_seed_same_crops_and_resume_redoes_only_the_missing_row(forged, tiny_corpus, tiny_autoencoder, tmp_path):
    first = manifest.read(forged)
    victim = next(r for r in first if r.processing)
    out = forged.parent
    row = runner.row_path(out, victim.source_id, "aligned", f"processed{victim.path.rsplit('-', 1)[1].split('.')[0]}",
                          f"c{victim.crop['index']}")
    before = manifest.resolve(forged, victim.path).read_bytes()
    row.unlink()
    manifest.resolve(forged, victim.path).unlink()
    _forge(tiny_corpus, tiny_autoencoder, out)
    assert manifest.resolve(forged, victim.path).read_bytes() == before
    assert [r.path for r in manifest.read(forged)] == [r.path for r in first]


@pytest.mark.parametrize("by", leaveout.BY)
def test_leave_out_folds_hold_the_left_out_generator_only_in_test(forged, by):
    records = manifest.read(forged)
    counts = leaveout.names(records, by)
    assert len(counts) >= 3
    for held_out in counts:
        path = leaveout.write_fold(forged, by, held_out)
        fold = manifest.read(path)
        assert all(manifest.resolve(path, r.path).exists() for r in fold)
        for r in fold:
            if r.split != "test":
                assert held_out not in leaveout.held_names(r, by), (held_out, r.path)
            elif r.label == 1:
                assert held_out in leaveout.held_names(r, by)
        assert sum(r.label == 0 for r in fold) == sum(r.label == 0 for r in records)


def test_an_inpaint_filled_by_the_held_out_network_is_held_out_too(forged):
    records = manifest.read(forged)
    inpaint = next(r for r in records if r.domain == "inpaint")
    assert inpaint.lineage and set(inpaint.lineage) <= {"realesr-animevideov3-x2", "realesr-animevideov3-x4",
                                                         "waifu2x-upconv7-photo-x2", "synthspot-kl-f2"}
    for network in inpaint.lineage:
        assert network in leaveout.held_names(inpaint, "generator")


def test_contact_sheet_shows_the_real_each_domain_the_mask_and_processed_reals(forged):
    from training.data import contact_sheet

    sheet = contact_sheet.render(str(forged), rows=4, cell=32)
    columns = 1 + 3 + 1 + contact_sheet.PROCESSED_COLUMNS  # real, upsample/reconstruct/inpaint, mask, processed
    assert sheet.size == (32 * columns, 16 + 32 * 4)
    pixels = np.asarray(sheet)[16:]
    for column in range(columns):  # every column got a picture, not the white background
        assert (pixels[:, column * 32 : (column + 1) * 32] < 250).mean() > 0.3


def test_every_gamma_class_is_a_target_somewhere_in_the_forged_set(forged):
    """GAMMA's domain map must be able to predict each of its classes: none is a dead output."""
    from training.config import GammaConfig
    from training.data.dataset import ManifestDataset
    from training.train_data import domain_code_to_class

    classes = ("real", "upsample", "reconstruct", "inpaint")
    GammaConfig(enabled=True, domains=classes).validate()
    table = domain_code_to_class(classes)
    dataset = ManifestDataset(forged, crop_size=32, with_masks=True, random_crop=False)
    seen = set()
    for index in range(len(dataset)):
        seen |= set(table[np.unique(dataset[index]["domain_map"].numpy())].tolist())
    assert seen == set(range(len(classes)))


def test_a_photo_dropped_from_the_corpus_leaves_the_manifest(forged, tiny_corpus, tmp_path):
    records = manifest.read(forged)
    dropped = records[0].source_id
    smaller = tmp_path / "corpus"
    smaller.mkdir()
    kept = [line for line in (tiny_corpus / corpus.MANIFEST).read_text().splitlines() if dropped not in line]
    (smaller / corpus.MANIFEST).write_text("\n".join(kept) + "\n")
    count = runner.write_manifest(forged.parent, smaller)
    try:
        rewritten = manifest.read(forged)
        assert count == len(rewritten) == sum(r.source_id != dropped for r in records)
        assert dropped not in {r.source_id for r in rewritten}
    finally:
        runner.write_manifest(forged.parent, tiny_corpus)  # the module's fixture stays whole


def test_each_crop_fake_matches_its_own_real_in_every_container_statistic(forged):
    report = audit.separability(manifest.read(forged))
    for statistic in ("format", "width", "height", "mode", "jpeg_quality"):
        assert report[statistic]["paired_differences"] == 0, (statistic, report[statistic])
    # crops of one photo differ in size: pairing by photo alone would count differences here
    assert len({r.width for r in manifest.read(forged) if r.label == 1}) > 1


def test_fidelity_scores_each_crop_against_its_own_window(forged, tiny_corpus):
    split = manifest.read(forged)[0].split
    report = audit.fidelity(str(forged), str(tiny_corpus), split)
    assert report["upsample"]["images"] >= 1 and report["upsample"]["psnr"] > 18.0
    per_autoencoder = [name for name in report if name.startswith("reconstruct:")]
    assert per_autoencoder and report[per_autoencoder[0]]["images"] == report["reconstruct"]["images"]


def test_forgetting_a_domain_removes_only_its_outputs_and_the_next_run_remakes_them(forged, tiny_corpus, tiny_autoencoder, tmp_path):
    import shutil

    from training.data.forge import forget

    out = tmp_path / "copy"
    shutil.copytree(forged.parent, out)
    before = manifest.read(out / manifest.MANIFEST_NAME)
    kept = {r.path: (out / r.path).read_bytes() for r in before if r.domain != "reconstruct"}
    gone = [r.path for r in before if r.domain == "reconstruct"]
    counts = forget.forget(out, "reconstruct")
    assert counts["rows"] == len(gone) == 5 * CROPS and counts["cache"] > 0
    after = manifest.read(out / manifest.MANIFEST_NAME)
    assert {r.path for r in after} == set(kept) and not any((out / path).exists() for path in gone)
    assert all((out / path).read_bytes() == data for path, data in kept.items())
    with pytest.raises(ValueError, match="not a fake domain"):
        forget.forget(out, "processed")
    # Its settings go too: the next run may make it with other autoencoders.
    import json

    recorded = json.loads((out / runner.OPTIONS_FILE).read_text())["domains"]
    assert "reconstruct" not in recorded and "upsample" in recorded

    _forge(tiny_corpus, tiny_autoencoder, out)
    again = manifest.read(out / manifest.MANIFEST_NAME)
    assert sorted(r.path for r in again) == sorted(r.path for r in before)
    assert all((out / path).read_bytes() == data for path, data in kept.items())


@pytest.mark.parametrize("method", ["wavelet", "tv", "median3"])
def test_denoising_keeps_a_channel_without_detail(method):
    """A crop of flat sky, or a photo whose red is clipped, has channels with no detail; the noise
    estimate there is undefined, and the channel must keep its value, not turn black."""
    rgb = np.full((64, 64, 3), 197, np.uint8)
    rgb[..., 1] = np.random.default_rng(0).integers(60, 200, (64, 64))
    out = processing.apply_pixels(rgb, [{"op": "denoise", "method": method}])
    assert np.abs(out[..., 0].astype(int) - 197).max() <= 1 and np.abs(out[..., 2].astype(int) - 197).max() <= 1
    assert 100 < out[..., 1].mean() < 160


def test_a_snapshot_holds_the_finished_photos_only_with_paths_that_resolve_from_anywhere(forged, tiny_corpus,
                                                                                         tiny_autoencoder, tmp_path):
    """While a long forge goes on, work can start on the photos it has finished (its own manifest is written
    only at the end of its run)."""
    records = manifest.read(forged)
    unfinished = next(r.source_id for r in records if r.split == "train")
    row = next((forged.parent / runner.ROWS / unfinished).glob("*.json"))
    aside = row.with_suffix(".aside")
    options = runner.ForgeOptions(
        corpus=str(tiny_corpus), out=str(forged.parent), domains=("upsample", "reconstruct", "inpaint"), seed=0,
        domain_options={"weights": str(tiny_autoencoder), "super_resolvers": NCNN},
        crops_per_photo=CROPS, crop_sizes=(32, 64), processed_per_unit=PROCESSED,
    )
    entries = sorted(corpus.read_manifest(tiny_corpus), key=lambda e: e["id"])
    row.rename(aside)  # one output of one photo not written yet
    try:
        photos, rows = runner.snapshot(entries, options, tmp_path / "snapshot")
    finally:
        aside.rename(row)
    taken = manifest.read(tmp_path / "snapshot" / manifest.MANIFEST_NAME)
    assert photos == len(entries) - 1 and rows == len(taken)
    assert {r.source_id for r in taken} == {r.source_id for r in records} - {unfinished}
    assert sorted(r.path for r in taken) == sorted(str(manifest.resolve(forged, r.path).resolve())
                                                   for r in records if r.source_id != unfinished)
    assert all(manifest.resolve(tmp_path / "snapshot" / manifest.MANIFEST_NAME, r.path).is_file() for r in taken)
    # other flags than the forge's: no photo is finished by them
    more = dataclasses.replace(options, processed_per_unit=PROCESSED + 1)
    assert runner.snapshot(entries, more, tmp_path / "other") == (0, 0)
    # and a fold is cut from a snapshot as from the forge's own manifest
    test_fake = next(r for r in taken if r.split == "test" and r.domain == "upsample")
    held_out = sorted(leaveout.held_names(test_fake, "generator"))[0]
    fold = leaveout.write_fold(tmp_path / "snapshot" / manifest.MANIFEST_NAME, "generator", held_out)
    assert all(manifest.resolve(fold, r.path).is_file() for r in manifest.read(fold))
