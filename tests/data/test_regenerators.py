"""The regenerate domain's networks on a real photo: same size out, faithful, aligned, not a copy."""
import functools
import json
import math

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio as psnr

from training.data.forge import regenerators
from training.data.forge.regenerate import Regenerate

NAMES = ["oidn-denoise", "amt-s-interpolate"]


@functools.cache
def network(name: str):
    return {"oidn-denoise": regenerators.OidnDenoise, "amt-s-interpolate": regenerators.AmtInterpolate}[name]()


def test_factory_names_families_and_identities():
    found = regenerators.regenerators()
    assert [(n.name, n.family) for n in found] == [("oidn-denoise", "oidn"), ("amt-s-interpolate", "amt")]
    assert found[0].identity.startswith("pyoidn==") and found[1].identity.startswith("markdiffusion==")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("crop", [(slice(100, 161), slice(200, 287)), (slice(30, 67), slice(300, 345))], ids=["61x87", "37x45"])
def test_same_size_faithful_and_not_a_copy(name, crop):
    real = data.coffee()[crop]
    fake, params = network(name).regenerate(real, np.random.default_rng(3))
    assert fake.shape == real.shape and fake.dtype == np.uint8
    assert not np.array_equal(fake, real)
    assert psnr(real, fake) > 30.0  # OIDN ~36-42 dB, AMT-S ~44-50 dB on photos
    assert np.abs(fake.reshape(-1, 3).mean(0) - real.reshape(-1, 3).mean(0)).max() < 1.5  # no colour cast
    json.dumps(params)
    again, params_again = network(name).regenerate(real, np.random.default_rng(3))
    assert np.array_equal(again, fake) and params_again == params


def test_denoiser_removes_most_of_the_added_noise():
    real = data.astronaut()[100:196, 150:246]
    noisy = regenerators.camera_noise(real, np.random.default_rng(0), photons_at_white=300.0, read_noise=1.5e-3)
    as_uint8 = np.round(noisy * 255).astype(np.uint8)
    denoised = np.round(np.clip(network("oidn-denoise").denoise(noisy), 0, 1) * 255).astype(np.uint8)
    assert psnr(real, denoised) > psnr(real, as_uint8) + 3.0


def test_camera_noise_grows_with_the_signal():
    flat = np.concatenate([np.full((64, 64, 3), 40, np.uint8), np.full((64, 64, 3), 200, np.uint8)], axis=1)
    noisy = regenerators.camera_noise(flat, np.random.default_rng(0), photons_at_white=500.0, read_noise=1e-4)
    linear = regenerators.srgb_to_linear(noisy.astype(np.float64))
    assert linear[:, 64:].std() > 2 * linear[:, :64].std()  # shot noise: variance proportional to the signal


def test_interpolated_frame_is_aligned_with_the_photo():
    real = data.chelsea()[40:137, 100:211]
    fake, params = network("amt-s-interpolate").regenerate(real, np.random.default_rng(5))
    angle = math.radians(params["shift_angle_deg"])
    half = params["shift_px"] / 2
    shifted = regenerators.subpixel_shift(real.astype(np.float64) / 255, half * math.sin(angle), half * math.cos(angle))
    shifted = np.round(np.clip(shifted, 0, 1) * 255).astype(np.uint8)
    # the middle frame sits on the photo, not on either input frame
    assert psnr(real, fake) > psnr(shifted, fake) + 3.0


def test_regenerate_domain_records_the_network_and_its_choices():
    domain = Regenerate([network(n) for n in NAMES])
    real = data.coffee()[100:161, 200:287]
    made = {domain.generate(real, np.random.default_rng(seed), {}).network for seed in range(6)}
    assert made == set(NAMES)
    fake = domain.generate(real, np.random.default_rng(0), {})
    assert fake.pixels.shape == real.shape and fake.family in {"oidn", "amt"}
    assert fake.params["network"] == fake.network


def test_loading_amt_leaves_pillow_strict_about_truncated_files():
    """AMT's own utils switch on LOAD_TRUNCATED_IMAGES for the whole process; the loader undoes it."""
    from PIL import ImageFile

    from training.data import packages

    root, _ = packages.unpacked("pypi", "markdiffusion")
    regenerators._import_amt_s(root)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
