"""Weight interpolation (WiSE-FT) between a checkpoint and one trained on from it."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from training import load_checkpoint, save_checkpoint
from training.adapters import LoraLayer, adapter_layers
from training.checkpoint import WEIGHTS_FILE, CheckpointError
from training.interpolate import RECORD_FILE, interpolate, main

from .conftest import build, sample_input

LORA = dict(backbone="efficientnet_lite0", crop_size=64)


def _lora_layers(detector) -> list[LoraLayer]:
    return [layer for layer in adapter_layers(detector) if isinstance(layer, LoraLayer)]


def _pair(tmp_path, end_update):
    """A start checkpoint with non-zero LoRA updates and a head, and an end made from it by ``end_update``."""
    detector = build(**LORA)
    with torch.no_grad():
        for layer in _lora_layers(detector):
            for low_rank in layer.adapters.values():
                low_rank.lora_B.weight.normal_(0, 0.05)
        detector.head.fc.weight.normal_(0, 0.1)
    save_checkpoint(detector, tmp_path / "start")
    end_update(detector)
    save_checkpoint(detector, tmp_path / "end")
    return tmp_path / "start", tmp_path / "end"


def _scale_updates(factor: float):
    def update(detector) -> None:
        with torch.no_grad():
            for layer in _lora_layers(detector):
                for low_rank in layer.adapters.values():
                    low_rank.lora_B.weight.mul_(factor)
            detector.head.fc.weight.mul_(factor)
    return update


def _logits(directory, x) -> torch.Tensor:
    with torch.no_grad():
        return load_checkpoint(directory)(x).logit


def test_interpolation_moves_every_update_alpha_of_the_way(tmp_path):
    # The end's updates are three times the start's: alpha 0.5 is exactly twice the start's, a rank-r
    # update the truncation keeps whole, so the interpolated model is that model to float precision.
    start, end = _pair(tmp_path, _scale_updates(3.0))
    record = interpolate(start, end, 0.5, tmp_path / "half")
    expected = load_checkpoint(start)
    _scale_updates(2.0)(expected)
    x = sample_input("efficientnet_lite0")
    with torch.no_grad():
        assert torch.allclose(_logits(tmp_path / "half", x), expected(x).logit, atol=1e-5)
    assert not torch.allclose(_logits(start, x), _logits(end, x), atol=1e-3)
    assert record["lora_layers_interpolated"] == len(_lora_layers(build(**LORA))) and record["dropped_energy_max"] < 1e-10
    assert json.loads((tmp_path / "half" / RECORD_FILE).read_text())["alpha"] == 0.5


@pytest.mark.parametrize("alpha, same_as", [(0.0, "start"), (1.0, "end")])
def test_the_ends_of_the_path_are_the_checkpoints(tmp_path, alpha, same_as):
    start, end = _pair(tmp_path, _scale_updates(-1.5))
    interpolate(start, end, alpha, tmp_path / "out")
    x = sample_input("efficientnet_lite0")
    assert torch.allclose(_logits(tmp_path / "out", x), _logits(tmp_path / same_as, x), atol=1e-5)
    written, wanted = (load_file(str(path / WEIGHTS_FILE)) for path in (tmp_path / "out", tmp_path / same_as))
    assert written.keys() == wanted.keys() and all(torch.equal(written[key], wanted[key]) for key in wanted)


def test_an_sef_fusions_unchanged_experts_stay_bit_for_bit(tmp_path):
    detector = build(backbone="efficientnet_lite0", crop_size=64, method="sef")
    with torch.no_grad():
        for name, parameter in detector.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05)
    save_checkpoint(detector, tmp_path / "start")
    with torch.no_grad():  # only the upsample expert trains on
        for name, parameter in detector.named_parameters():
            if ".adapters.upsample.lora_B" in name:
                parameter.mul_(2.0)
    save_checkpoint(detector, tmp_path / "end")
    record = interpolate(tmp_path / "start", tmp_path / "end", 0.5, tmp_path / "half")
    start, half = (load_file(str(tmp_path / name / WEIGHTS_FILE)) for name in ("start", "half"))
    others = [key for key in start if ".adapters." in key and ".adapters.upsample." not in key]
    assert others and all(torch.equal(half[key], start[key]) for key in others)
    assert record["lora_layers_interpolated"] == sum(".adapters.upsample.lora_A" in key for key in start)


def test_updates_in_other_directions_keep_their_best_rank_r_part(tmp_path):
    def new_directions(detector) -> None:
        with torch.no_grad():
            for layer in _lora_layers(detector):
                for low_rank in layer.adapters.values():
                    low_rank.lora_A.weight.normal_(0, 0.1)
                    low_rank.lora_B.weight.normal_(0, 0.05)
    start, end = _pair(tmp_path, new_directions)
    record = interpolate(start, end, 0.5, tmp_path / "half")
    first, last, mixed = (load_file(str(path / WEIGHTS_FILE)) for path in (start, end, tmp_path / "half"))
    key = next(k.removesuffix(".lora_A.weight") for k in mixed if k.endswith(".lora_A.weight") and "_expand_conv" in k)
    product = {name: t[key + ".lora_B.weight"].double() @ t[key + ".lora_A.weight"].double() for name, t in
               (("first", first), ("last", last), ("mixed", mixed))}
    wanted = (product["first"] + product["last"]) / 2  # rank up to 2r
    singular = torch.linalg.svdvals(wanted)
    rank = mixed[key + ".lora_A.weight"].shape[0]
    assert torch.linalg.matrix_rank(wanted) > rank  # the truncation has something to drop
    # the best rank-r approximation (Eckart-Young): the error is the energy of the dropped directions
    error = torch.linalg.norm(product["mixed"] - wanted)
    assert torch.isclose(error, singular[rank:].square().sum().sqrt(), rtol=1e-4)
    assert 0 < record["dropped_energy_max"] < 1


def test_it_refuses_what_is_not_one_model_trained_on(tmp_path, capsys):
    start, end = _pair(tmp_path, _scale_updates(2.0))
    save_checkpoint(build(backbone="efficientnet_lite0", crop_size=96), tmp_path / "other")
    with pytest.raises(CheckpointError, match="crop_size"):
        interpolate(start, tmp_path / "other", 0.5, tmp_path / "out")
    save_checkpoint(build(backbone="tiny_vit", adapter="mole"), tmp_path / "mole")
    with pytest.raises(CheckpointError, match="LoRA"):
        interpolate(tmp_path / "mole", tmp_path / "mole", 0.5, tmp_path / "out")
    tensors = load_file(str(end / WEIGHTS_FILE))
    save_file({k: v for k, v in tensors.items() if "_expand_conv" not in k or "lora_B" not in k}, str(tmp_path / "b.safetensors"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text((end / "config.json").read_text())
    (tmp_path / "b.safetensors").rename(tmp_path / "broken" / WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="without both factors"):
        interpolate(tmp_path / "broken", tmp_path / "broken", 0.5, tmp_path / "out")
    with pytest.raises(ValueError, match="alpha"):
        interpolate(start, end, 1.5, tmp_path / "out")
    before = (start / WEIGHTS_FILE).read_bytes()
    assert main([str(start), "--start", str(start), "--end", str(end), "--alpha", "0.5"]) == 2
    assert "already holds a checkpoint" in capsys.readouterr().err
    assert (start / WEIGHTS_FILE).read_bytes() == before  # nothing overwritten
