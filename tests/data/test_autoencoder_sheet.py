"""The autoencoder sheet: scores each autoencoder and shows the same textured detail for each."""
import json

import numpy as np
import torch
from PIL import Image

from training.data.corpus import read_manifest
from training.data.forge import autoencoder_sheet


def test_detail_is_taken_where_the_texture_is():
    image = np.full((256, 256, 3), 128, np.uint8)
    image[:, 160:] = np.random.default_rng(0).integers(0, 256, (256, 96, 3), dtype=np.uint8)
    top, left = autoencoder_sheet._detail(image)
    assert left >= 64  # the window reaches into the noisy right part rather than the flat left


def test_sheet_scores_every_autoencoder_and_shows_each_beside_the_real(tiny_corpus, tiny_autoencoder, tmp_path, capsys):
    split = read_manifest(tiny_corpus)[0]["split"]
    out = tmp_path / "sheet.png"
    code = autoencoder_sheet.main([str(tiny_autoencoder), str(tiny_autoencoder), "--corpus", str(tiny_corpus),
                                   "--split", split, "--show", "1", "--out", str(out)])
    assert code == 0
    assert torch.is_grad_enabled()  # called in-process, it leaves autograd as it found it
    printed = capsys.readouterr().out
    scores = json.loads(printed[: printed.rindex("}") + 1])
    (name, figures), = scores.items()  # the same folder twice: one name
    assert name == tiny_autoencoder.name and 5 < figures["psnr"] < 60 and figures["images"] >= 1
    cell = autoencoder_sheet.DETAIL * autoencoder_sheet.ZOOM
    assert Image.open(out).size[0] == cell * 3  # real + two columns


def test_an_empty_split_is_a_clear_error(tiny_corpus, tiny_autoencoder, tmp_path, capsys):
    assert autoencoder_sheet.main([str(tiny_autoencoder), "--corpus", str(tiny_corpus), "--split", "nowhere",
                                   "--out", str(tmp_path / "s.png")]) == 2
    assert "no photos in split 'nowhere'" in capsys.readouterr().err


def test_colour_calibrated_scores_are_what_the_forge_writes(tiny_corpus, tiny_autoencoder, tmp_path, capsys):
    split = read_manifest(tiny_corpus)[0]["split"]

    def psnr(*extra):
        autoencoder_sheet.main([str(tiny_autoencoder), "--corpus", str(tiny_corpus), "--split", split, "--show", "1",
                                "--out", str(tmp_path / "s.png"), *extra])
        printed = capsys.readouterr().out
        return json.loads(printed[: printed.rindex("}") + 1])[tiny_autoencoder.name]["psnr"]

    # the colour map is a least-squares fit of the reconstruction onto the real: never further from it
    raw, calibrated = psnr(), psnr("--colour-calibrated")
    assert calibrated > raw + 1.0  # a tiny autoencoder's colour cast is most of its error
