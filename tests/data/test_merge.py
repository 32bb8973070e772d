"""Merging two forges of one corpus: the second's fakes join the first's, its reals are not counted twice."""
from pathlib import Path

import pytest

from training.data import corpus, manifest, merge
from training.data.forge import runner


def _forge(tiny_corpus, out, network, processed):
    options = runner.ForgeOptions(corpus=str(tiny_corpus), out=str(out), domains=("upsample",), seed=0,
                                  domain_options={"super_resolvers": [network]},
                                  crops_per_photo=2, crop_sizes=(32, 64), processed_per_unit=processed)
    runner.run(sorted(corpus.read_manifest(tiny_corpus), key=lambda e: e["id"]), options, workers=1, progress=False)
    return out / manifest.MANIFEST_NAME


@pytest.fixture(scope="module")
def two_forges(tiny_corpus, tmp_path_factory):
    first = _forge(tiny_corpus, tmp_path_factory.mktemp("first"), "realesr-animevideov3-x2", processed=1)
    second = _forge(tiny_corpus, tmp_path_factory.mktemp("second"), "waifu2x-upconv7-photo-x2", processed=0)
    third = _forge(tiny_corpus, tmp_path_factory.mktemp("third"), "realesr-animevideov3-x4", processed=1)
    return first, second, third


def test_fakes_of_both_and_each_real_once(two_forges, tmp_path):
    first, second, _ = two_forges
    out = tmp_path / "merged.jsonl"
    assert merge.main([str(out), str(first), str(second)]) == 0
    merged, a, b = manifest.read(out), manifest.read(first), manifest.read(second)
    plain_reals = [r for r in a if r.domain == "real" and not r.processing]
    assert len(plain_reals) == 10 and len([r for r in b if r.domain == "real"]) == 10
    assert len(merged) == len(a) + len(b) - 10  # the second forge's reals are the first's crops again
    assert {r.network for r in merged if r.label == 1} == {"realesr-animevideov3-x2", "waifu2x-upconv7-photo-x2"}
    assert all(Path(r.path).is_absolute() and Path(r.path).is_file() for r in merged)
    assert sum(1 for r in merged if r.processing) == 10  # the first forge's processed reals stay


def test_processed_reals_made_again_are_not_counted_twice(two_forges, tmp_path):
    first, _, third = two_forges
    out = tmp_path / "merged.jsonl"
    assert merge.main([str(out), str(first), str(third)]) == 0
    merged = manifest.read(out)
    assert sum(1 for r in merged if r.label == 0) == sum(1 for r in manifest.read(first) if r.label == 0)
    assert sum(1 for r in merged if r.label == 1) == 20


def test_a_real_crop_that_differs_is_refused(two_forges, tmp_path, capsys):
    first, second, _ = two_forges
    rows = manifest.read(second)
    real = next(r for r in rows if r.domain == "real")
    changed = tmp_path / "changed"
    changed.mkdir()
    data = bytearray((second.parent / real.path).read_bytes())
    data[-3] ^= 0xFF  # same size, other pixels
    (changed / "real.bin").write_bytes(bytes(data))
    rows = [r if r is not real else manifest.Record(**{**real.__dict__, "path": str(changed / "real.bin")}) for r in rows]
    edited = tmp_path / "edited.jsonl"
    manifest.write([r if r.path.startswith("/") else manifest.Record(**{**r.__dict__, "path": str(second.parent / r.path)})
                    for r in rows], edited)
    assert merge.main([str(tmp_path / "out.jsonl"), str(first), str(edited)]) == 1
    assert "differ: were they forged from different corpora?" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_refuses_to_overwrite_an_input_or_take_one_twice(two_forges, tmp_path, capsys):
    first, second, _ = two_forges
    with pytest.raises(SystemExit):
        merge.main([str(first), str(first), str(second)])
    assert "would overwrite one of the inputs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        merge.main([str(tmp_path / "out.jsonl"), str(first), str(first)])
    assert "given twice" in capsys.readouterr().err
