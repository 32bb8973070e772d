"""The forge on five tiny real photos: alignment, masks, splits, determinism, resumption."""
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from training.data import audit, corpus, manifest
from training.data.forge import runner
from training.data.forge.inpaint import Inpaint
from training.data.forge.base import DOMAIN_CODES, Generated

NCNN_SUPER_RESOLVERS = ["realesr-animevideov3-x2", "realesr-animevideov3-x4", "waifu2x-upconv7-photo-x2"]

DOMAINS = ("upsample", "reconstruct", "inpaint", "perturb")


def _forge(tiny_corpus, tiny_autoencoder, out, seed=0):
    options = runner.ForgeOptions(
        corpus=str(tiny_corpus), out=str(out), domains=DOMAINS, seed=seed, perturb_variants=2,
        domain_options={"weights": str(tiny_autoencoder), "super_resolvers": NCNN_SUPER_RESOLVERS},
    )
    runner.run(sorted(corpus.read_manifest(tiny_corpus), key=lambda e: e["id"]), options, workers=1, progress=False)
    return out / manifest.MANIFEST_NAME


@pytest.fixture(scope="module")
def forged(tiny_corpus, tiny_autoencoder, tmp_path_factory):
    return _forge(tiny_corpus, tiny_autoencoder, tmp_path_factory.mktemp("forged"))


def _groups(records):
    groups = defaultdict(list)
    for r in records:
        groups[(r.source_id, r.variant)].append(r)
    return groups


def test_every_photo_gets_every_domain_in_every_variant(forged):
    records = manifest.read(forged)
    groups = _groups(records)
    assert len(groups) == 5 * 3
    for members in groups.values():
        assert sorted(r.domain for r in members) == ["inpaint", "real", "reconstruct", "upsample"]
        for r in members:
            assert manifest.resolve(forged, r.path).exists()
            assert (r.label == 0) == (r.domain == "real")
            if r.label:
                assert r.generator and r.domain_version


def test_fakes_keep_their_reals_size_format_mode_and_jpeg_quality(forged):
    records = manifest.read(forged)
    for members in _groups(records).values():
        facts = {(r.format, r.width, r.height, r.mode, r.jpeg_quality) for r in members}
        assert len(facts) == 1, facts
        for r in members:  # the manifest says what the bytes say
            image = Image.open(manifest.resolve(forged, r.path))
            assert (image.format, image.size, image.mode) == (r.format, (r.width, r.height), r.mode)
    aligned_formats = {r.source_id: r.format for r in records if r.variant == "" and r.domain == "real"}
    assert sorted(aligned_formats.values()) == ["JPEG", "JPEG", "PNG", "PNG", "WEBP"]
    qualities = sorted(r.jpeg_quality for r in records if r.variant == "" and r.format == "JPEG" and r.domain == "real")
    assert qualities == [83, 94]


def test_no_container_statistic_separates_real_from_fake(forged):
    report = audit.separability(manifest.read(forged))
    for statistic in ("format", "width", "height", "mode", "jpeg_quality"):
        assert report[statistic]["paired_differences"] == 0, (statistic, report[statistic])
        assert report[statistic]["auc"] == pytest.approx(0.5), (statistic, report[statistic])
    assert 0.0 <= report["bytes_per_pixel"]["auc"] <= 1.0


def test_inpaint_mask_is_exactly_the_changed_pixels_on_lossless_photos(forged):
    records = manifest.read(forged)
    for fake in (r for r in records if r.domain == "inpaint" and r.variant == "" and r.format == "PNG"):
        real = next(r for r in records if r.source_id == fake.source_id and r.variant == "" and r.domain == "real")

        def load(rel):
            return np.asarray(Image.open(manifest.resolve(forged, rel)).convert("RGB")).astype(int)

        changed = np.abs(load(fake.path) - load(real.path)).max(axis=2) > 0
        mask = np.asarray(Image.open(manifest.resolve(forged, fake.mask_path))) > 127
        domain_map = np.asarray(Image.open(manifest.resolve(forged, fake.domain_map_path)))
        assert mask.any()
        assert not (changed & ~mask).any(), "pixels changed outside the mask"
        assert changed[mask].mean() > 0.5, "most masked pixels should differ from the real"
        assert not ((domain_map > 0) & ~mask).any()
        assert set(np.unique(domain_map)) == {DOMAIN_CODES["real"], DOMAIN_CODES["inpaint"]}  # what was done to each pixel


def test_inpaint_regions_come_from_the_other_domains_for_the_same_photo():
    rng = np.random.default_rng(3)
    real = np.zeros((64, 80, 3), np.uint8)
    made = {"upsample": Generated(np.full_like(real, 100), "up"), "reconstruct": Generated(np.full_like(real, 200), "rec")}
    result = Inpaint().generate(real, rng, made)
    core = result.domain_map == DOMAIN_CODES["inpaint"]
    assert core.any() and set(np.unique(result.domain_map)) == {DOMAIN_CODES["real"], DOMAIN_CODES["inpaint"]}
    sources = {region["source"] for region in result.params["regions"]}
    floor = min({"upsample": 100, "reconstruct": 200}[s] for s in sources)
    assert (result.pixels[core] >= floor // 2).all()  # dominated pixels are at least half a source's value
    assert set(result.lineage) == {made[s].generator for s in sources}  # no network names: generators stand in
    assert (result.pixels[~result.mask] == 0).all()


def test_splits_never_leak_a_source_photo(forged, tiny_corpus):
    corpus_split = {e["id"]: e["split"] for e in corpus.read_manifest(tiny_corpus)}
    splits_per_source = defaultdict(set)
    for r in manifest.read(forged):
        splits_per_source[r.source_id].add(r.split)
        assert r.split == corpus_split[r.source_id]
    assert all(len(s) == 1 for s in splits_per_source.values())


def test_perturbations_are_shared_by_a_real_and_its_fakes(forged):
    for (_source, variant), members in _groups(manifest.read(forged)).items():
        if variant:
            assert len({str(r.perturbations) for r in members}) == 1
            assert members[0].perturbations[-1]["op"] in ("jpeg", "webp", "keep_format")
        else:
            assert all(r.perturbations == [] for r in members)


def test_same_seed_same_bytes_and_resume_redoes_only_missing(forged, tiny_corpus, tiny_autoencoder, tmp_path):
    again = _forge(tiny_corpus, tiny_autoencoder, tmp_path / "again")
    first, second = manifest.read(forged), manifest.read(again)
    assert [r.path for r in first] == [r.path for r in second]
    for a, b in zip(first, second, strict=True):
        assert manifest.resolve(forged, a.path).read_bytes() == manifest.resolve(again, b.path).read_bytes(), a.path

    out = tmp_path / "again"
    victim = second[0]
    row = runner.row_path(out, victim.source_id, victim.variant or "aligned", victim.domain)
    row.unlink()
    manifest.resolve(again, victim.path).unlink()
    untouched = manifest.resolve(again, second[-1].path)
    before = untouched.stat().st_mtime_ns
    _forge(tiny_corpus, tiny_autoencoder, out)
    assert manifest.resolve(again, victim.path).read_bytes() == manifest.resolve(forged, first[0].path).read_bytes()
    assert untouched.stat().st_mtime_ns == before
    assert len(manifest.read(again)) == len(first)


def test_another_seed_changes_the_random_choices(forged, tiny_corpus, tiny_autoencoder, tmp_path):
    other = manifest.read(_forge(tiny_corpus, tiny_autoencoder, tmp_path / "seed1", seed=1))

    def params(records):
        return [(r.path, r.params, r.perturbations) for r in records if r.domain == "inpaint"]

    assert params(other) != params(manifest.read(forged))


def test_a_later_run_adds_domains_reusing_cached_inputs(tiny_corpus, tiny_autoencoder, tmp_path, forged):
    """Forge upsample first, then inpaint: inpaint reads upsample's cached pixels and the
    result is byte-identical to forging everything at once."""
    entries = sorted(corpus.read_manifest(tiny_corpus), key=lambda e: e["id"])
    out = tmp_path / "staged"
    stamps = {}
    for domains in (("upsample",), ("upsample", "reconstruct", "inpaint")):
        options = runner.ForgeOptions(corpus=str(tiny_corpus), out=str(out), domains=domains,
                                      domain_options={"weights": str(tiny_autoencoder), "super_resolvers": NCNN_SUPER_RESOLVERS})
        runner.run(entries, options, workers=1, progress=False)
        stamps[domains] = {p: p.stat().st_mtime_ns for p in (out / runner.CACHE).glob("*/upsample.npy")}
    first, second = stamps.values()
    assert len(first) == 5 and first == second, "upsample was regenerated instead of read from the cache"
    staged = {r.path: r for r in manifest.read(out / manifest.MANIFEST_NAME)}
    whole = {r.path: r for r in manifest.read(forged) if r.variant == ""}
    assert staged.keys() == whole.keys()
    for path in staged:
        assert (out / path).read_bytes() == manifest.resolve(forged, path).read_bytes(), path


def test_a_cache_entry_cut_short_is_made_again_not_an_error(tmp_path):
    made = Generated(np.arange(48, dtype=np.uint8).reshape(4, 4, 3), "net==1", params={"scale": 2}, network="net",
                     family="fam", lineage=("net",))
    runner._store(tmp_path, "photo", "upsample", "", "v1", made)
    again = runner._cached(tmp_path, "photo", "upsample", "", "v1")
    assert again is not None and np.array_equal(again.pixels, made.pixels) and again.lineage == ("net",)
    assert not list(tmp_path.rglob("*.partial"))  # written beside, then renamed
    pixels, meta = runner._cache_paths(tmp_path, "photo", "upsample", "")
    meta.write_text(meta.read_text()[:10])  # a crash (or a full disk) in the middle of the metadata
    assert runner._cached(tmp_path, "photo", "upsample", "", "v1") is None
    runner._store(tmp_path, "photo", "upsample", "", "v1", made)
    pixels.write_bytes(pixels.read_bytes()[:40])  # ...or of the pixels
    assert runner._cached(tmp_path, "photo", "upsample", "", "v1") is None


def test_fidelity_report_scores_generators_against_their_reals(forged, tiny_corpus):
    split = manifest.read(forged)[0].split
    report = audit.fidelity(str(forged), str(tiny_corpus), split)
    assert report["upsample"]["images"] >= 1 and report["reconstruct"]["images"] >= 1
    # super-resolution of a real photo lands near the bicubic baseline, far above noise
    assert report["upsample"]["psnr"] > 18.0
    assert report["upsample"]["psnr"] > report["bicubic_baseline"]["psnr"] - 5.0
