"""The real generators on a real photo: output size exact, content faithful (not garbage)."""
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from skimage.metrics import peak_signal_noise_ratio as psnr

from training.data.forge import autoencoder
from training.data.forge.reconstruct import DEFAULT_WEIGHTS, Reconstruct
from training.data.forge.train_autoencoder import loss_fn, random_crops, reconstruct_array
from training.data.forge.upsample import ncnn_resolvers, super_resolve


@pytest.mark.parametrize("resolver", ncnn_resolvers(), ids=lambda r: r.name)
def test_super_resolution_restores_exact_size_and_is_close_to_bicubic(resolver):
    factor = resolver.factor
    real = data.astronaut()[100:197, 150:251]  # odd sizes: padding must round-trip
    fake = super_resolve(real, resolver)
    assert fake.shape == real.shape and fake.dtype == np.uint8
    small = Image.fromarray(real).resize((real.shape[1] // factor, real.shape[0] // factor), Image.LANCZOS)
    bicubic = np.asarray(small.resize((real.shape[1], real.shape[0]), Image.BICUBIC))
    # a sane SR output is near the bicubic baseline's fidelity; a broken backend lands far below
    assert psnr(real, fake) > psnr(real, bicubic) - 4.0
    assert psnr(real, fake) > 18.0
    assert not np.array_equal(fake, bicubic)


def test_autoencoder_shapes_and_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = autoencoder.KLAutoencoder(autoencoder.AutoencoderConfig(channels=(8, 8, 8), latent_channels=4, groups=4)).eval()
    assert model.config.downsampling == 4
    x = torch.rand(1, 3, 32, 48) * 2 - 1
    recon, mean, _ = model(x, sample=False)
    assert recon.shape == x.shape and mean.shape == (1, 4, 8, 12)
    autoencoder.save(model, tmp_path)
    loaded = autoencoder.load(tmp_path)
    image = data.coffee()[:37, :45]
    assert np.abs(reconstruct_array(model, image).astype(int) - reconstruct_array(loaded, image)).max() <= 2


def test_a_few_training_steps_reduce_the_loss():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = autoencoder.KLAutoencoder(autoencoder.AutoencoderConfig(channels=(16, 16), latent_channels=4, groups=4))
    images = [data.astronaut()[:128, :128], data.coffee()[:128, :128]]
    batch = random_crops(images, 8, 32, rng)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = loss_fn(model, batch).item()
    for _ in range(30):
        loss = loss_fn(model, batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.6 * first


def test_user_supplied_diffusers_vae_directory_is_used(tmp_path):
    """A tiny randomly initialised AutoencoderKL saved the way a user's SD VAE folder is."""
    diffusers = pytest.importorskip("diffusers", reason="optional extra 'vae'")
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
                                  up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=4,
                                  layers_per_block=1)
    vae.save_pretrained(tmp_path / "vae")
    domain = Reconstruct(vae=tmp_path / "vae")
    real = data.coffee()[:37, :45]
    fake = domain.generate(real, np.random.default_rng(0), {})
    assert fake.pixels.shape == real.shape and fake.pixels.dtype == np.uint8
    assert fake.generator.startswith("diffusers-AutoencoderKL:vae:")
    again = Reconstruct(vae=tmp_path / "vae").generate(real, np.random.default_rng(1), {})
    assert np.array_equal(fake.pixels, again.pixels)  # the mean latent: no sampling noise


def test_vae_option_without_diffusers_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "diffusers", None)  # as on a machine without the extra
    with pytest.raises(RuntimeError, match="pip install diffusers"):
        Reconstruct(vae=tmp_path).generate(np.zeros((8, 8, 3), np.uint8), np.random.default_rng(0), {})


@pytest.mark.skipif(not (DEFAULT_WEIGHTS / "autoencoder.safetensors").exists(), reason="bundled autoencoder not trained yet")
def test_bundled_autoencoder_is_small_and_faithful():
    assert (DEFAULT_WEIGHTS / "autoencoder.safetensors").stat().st_size < 20 * 2**20
    real = data.chelsea()[:128, :160]
    fake = Reconstruct().generate(real, np.random.default_rng(0), {}).pixels
    assert fake.shape == real.shape
    assert psnr(real, fake) > 25.0


def test_colour_calibration_removes_a_global_cast_and_keeps_spatial_detail():
    from training.data.forge.reconstruct import calibrate_colour

    real = data.coffee()[100:196, 200:296]
    cast = np.clip(real.astype(float) @ np.array([[0.9, 0.1, 0.0], [0.0, 0.7, 0.0], [0.0, 0.1, 1.0]]) + 12, 0, 255)
    blurred = np.asarray(Image.fromarray(cast.astype(np.uint8)).resize((24, 24)).resize((96, 96), Image.BICUBIC))
    corrected, matrix = calibrate_colour(real, blurred)
    colour_error = lambda image: np.abs(image.reshape(-1, 3).mean(0) - real.reshape(-1, 3).mean(0)).max()
    assert colour_error(blurred) > 10 and colour_error(corrected) < 1.0
    assert psnr(real, corrected) > psnr(real, blurred) + 3.0
    assert len(matrix) == 4 and len(matrix[0]) == 3
    # the blur (a spatial trace) stays: calibration cannot sharpen
    detail = lambda image: np.abs(np.diff(image.astype(float), axis=1)).mean()
    assert detail(corrected) < 0.8 * detail(real)
