"""UpscalerJS' networks, read from their npm packages by our TF.js reader: each matches the
result TensorFlow.js gave on the package's own fixture, and upscales by exactly its factor.

The four packages (about 140 MB) are fetched once into the package cache by npm."""
import numpy as np
import pytest
import torch
from PIL import Image

from tests.data.conftest import assert_faithful_super_resolution
from training.data.forge import registry, upscalerjs_sr
from training.data.forge.upsample import super_resolve


@pytest.fixture(scope="module")
def by_name():
    torch.set_num_threads(1)
    return {r.name: r for r in upscalerjs_sr.resolvers()}


def _fixture_pair(resolver):
    samples = resolver.package_folder / "assets"
    given = np.asarray(Image.open(samples / "fixture.png").convert("RGB"))
    expected = np.asarray(Image.open(samples / "samples" / resolver.spec.fixture / "result.png").convert("RGB"))
    return given, expected


@pytest.mark.parametrize("name", [s.name for s in upscalerjs_sr.SPECS])
def test_output_matches_tensorflow_js_on_the_packaged_fixture(by_name, name):
    resolver = by_name[name]
    given, expected = _fixture_pair(resolver)
    x = torch.from_numpy(given.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        ours = resolver.network()(x)[0].permute(1, 2, 0).clamp(0, 1).mul(255).round().numpy()
    assert ours.shape == expected.shape
    difference = np.abs(ours - expected)
    assert difference.max() <= 1 and difference.mean() < 0.01  # rounding alone


@pytest.mark.parametrize(("name", "wrong_scale"), [("upscalerjs-gans-rrdn-x4", 255.0), ("upscalerjs-esrgan-medium-x3", 1.0)])
def test_the_wrong_input_range_misses_the_fixture(by_name, name, wrong_scale):
    """The range is what makes these match: each design fed the other's range is off by more than rounding."""
    resolver = by_name[name]
    given, expected = _fixture_pair(resolver)
    wrong = upscalerjs_sr.TfjsLayersModel(resolver.model_json, input_scale=wrong_scale).eval()
    with torch.no_grad():
        out = wrong(torch.from_numpy(given.copy()).permute(2, 0, 1)[None].float() / 255)
    assert np.abs(out[0].permute(1, 2, 0).clamp(0, 1).mul(255).round().numpy() - expected).max() > 5


def test_the_fourteen_networks_are_opt_in_with_identities(by_name):
    assert len(by_name) == 14 and {r.family for r in by_name.values()} == {"rdn", "rrdn"}
    assert not set(by_name) & {r.name for r in registry.super_resolvers()}  # never in the default draw
    assert [r.name for r in registry.super_resolvers(["upscalerjs-esrgan-slim-x3"])] == ["upscalerjs-esrgan-slim-x3"]
    thick = by_name["upscalerjs-esrgan-thick-x4"]
    assert thick.identity.startswith("npm:@upscalerjs/esrgan-thick==1.0.0:x4:") and len(thick.identity.rsplit(":", 1)[1]) == 12


@pytest.mark.parametrize("name", ["upscalerjs-esrgan-slim-x3", "upscalerjs-gans-rrdn-x4"])
def test_a_real_photo_is_upscaled_faithfully_at_its_exact_size(by_name, name):
    from skimage import data

    real = data.astronaut()[100:197, 150:251]  # odd sizes: the padding must round-trip
    resolver = by_name[name]
    assert resolver.upscale(real[:13, :21]).shape == (13 * resolver.factor, 21 * resolver.factor, 3)
    assert_faithful_super_resolution(real, super_resolve(real, resolver), resolver.factor)


def test_the_networks_marked_as_tinting_are_the_ones_that_tint(by_name):
    """Training leaves out the networks that shift a photo's colour; the mark must match what they do."""
    from skimage import data

    for photo in (data.astronaut()[100:197, 150:251], data.chelsea()[50:200, 100:250]):
        for resolver in by_name.values():
            if resolver.spec.family != "rdn":  # RRDN is never trained on, marked or not
                continue
            shift = np.abs(super_resolve(photo, resolver).reshape(-1, 3).mean(0) - photo.reshape(-1, 3).mean(0)).max()
            assert (shift > 3.0) == resolver.spec.colour_cast, (resolver.name, shift)
