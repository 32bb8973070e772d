"""The real generators on a real photo: output size exact, content faithful (not garbage)."""
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from skimage.metrics import peak_signal_noise_ratio as psnr

from tests.data.conftest import assert_faithful_super_resolution, make_tiny_autoencoder
from training.data.forge import autoencoder, gan_losses, own_sr
from training.data.forge.reconstruct import DEFAULT_WEIGHTS, Reconstruct, autoencoder_folders
from training.data.forge.train_autoencoder import Trainer, loss_fn, random_crops, reconstruct_array
from training.data.forge.upsample import ncnn_resolvers, super_resolve

BUNDLED_AUTOENCODERS = autoencoder_folders(DEFAULT_WEIGHTS)


@pytest.mark.parametrize("resolver", ncnn_resolvers(), ids=lambda r: r.name)
def test_super_resolution_restores_exact_size_and_is_close_to_bicubic(resolver):
    factor = resolver.factor
    real = data.astronaut()[100:197, 150:251]  # odd sizes: padding must round-trip
    assert_faithful_super_resolution(real, super_resolve(real, resolver), factor)


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


TINY_DESIGNS = {
    "kl-nearest": autoencoder.AutoencoderConfig(channels=(8, 8, 8, 8), groups=4),
    "kl-pixelshuffle": autoencoder.AutoencoderConfig(channels=(8, 8, 8, 8), groups=4, decoder="pixelshuffle"),
    "vq": autoencoder.AutoencoderConfig(channels=(8, 8, 8, 8), groups=4, latent_channels=8, quantiser="vq",
                                        codebook_size=16, codebook_groups=2),
}


@pytest.mark.parametrize("family", sorted(TINY_DESIGNS))
def test_each_design_has_f8_shapes_and_round_trips_a_checkpoint(family, tmp_path):
    torch.manual_seed(0)
    config = TINY_DESIGNS[family]
    model = autoencoder.Autoencoder(config)
    assert config.downsampling == 8 and config.family == family
    model(torch.rand(2, 3, 32, 32) * 2 - 1)  # a training pass (vq: initialises the codebook from the batch)
    model.eval()
    x = torch.rand(1, 3, 32, 48) * 2 - 1
    recon, latent, penalty = model(x, sample=False)
    assert recon.shape == x.shape and latent.shape == (1, config.latent_channels, 4, 6) and penalty.ndim == 0
    autoencoder.save(model, tmp_path)
    loaded = autoencoder.load(tmp_path)
    assert loaded.config == config
    image = data.coffee()[:37, :45]
    assert np.abs(reconstruct_array(model, image).astype(int) - reconstruct_array(loaded, image)).max() <= 2
    made = Reconstruct(weights=tmp_path).generate(image, np.random.default_rng(0), {})
    assert made.network == config.network and made.family == family and made.pixels.shape == image.shape


def test_reconstruct_draws_from_a_folder_of_autoencoders(tmp_path):
    for family in ("kl-pixelshuffle", "vq"):
        torch.manual_seed(0)
        autoencoder.save(autoencoder.Autoencoder(TINY_DESIGNS[family]), tmp_path / family)
    make_tiny_autoencoder(tmp_path / "kl-f2")
    domain = Reconstruct(weights=tmp_path)
    real = data.coffee()[:40, :48]
    made = [domain.generate(real, np.random.default_rng(seed), {}) for seed in range(12)]
    assert {m.network for m in made} == {"synthspot-kl-f2", "synthspot-kl-f8-pixelshuffle", "synthspot-vq-f8"}
    assert {m.family for m in made} == {"kl-nearest", "kl-pixelshuffle", "vq"}
    assert all(m.params["autoencoder"] == m.network and m.generator.startswith(m.network + ":") for m in made)
    assert len(domain.identity.split(",")) == 3
    again = Reconstruct(weights=tmp_path).generate(real, np.random.default_rng(5), {})
    assert np.array_equal(again.pixels, made[5].pixels) and again.network == made[5].network


def test_old_autoencoder_json_without_design_keys_loads_as_kl_nearest(tmp_path):
    import json

    model = autoencoder.Autoencoder(autoencoder.AutoencoderConfig(channels=(8, 8), groups=4))
    autoencoder.save(model, tmp_path)
    meta = json.loads((tmp_path / "autoencoder.json").read_text())
    meta["config"] = {"channels": [8, 8], "latent_channels": 4, "groups": 4}  # as saved before the design options
    (tmp_path / "autoencoder.json").write_text(json.dumps(meta))
    config = autoencoder.load(tmp_path).config
    assert (config.quantiser, config.decoder, config.network, config.family) == ("kl", "nearest", "synthspot-kl-f2", "kl-nearest")


def test_vq_quantiser_passes_the_gradient_straight_through_and_uses_its_codebook():
    torch.manual_seed(0)
    quantiser = autoencoder.VectorQuantiser(4, 8, groups=2).train()
    z = torch.randn(2, 4, 5, 5, requires_grad=True)
    z_q, commitment, indices = quantiser(z)
    assert indices.shape == (2, 5, 5, 2) and int(indices.max()) < 8
    codes = torch.cat([quantiser.codebook[g][indices[..., g]] for g in range(2)], dim=-1).permute(0, 3, 1, 2)
    assert torch.allclose(z_q, codes, atol=1e-5) or quantiser.training  # EMA moved the codebook after the lookup
    quantiser.eval()
    z_q, commitment, indices = quantiser(z)
    codes = torch.cat([quantiser.codebook[g][indices[..., g]] for g in range(2)], dim=-1).permute(0, 3, 1, 2)
    assert torch.allclose(z_q, codes, atol=1e-5)  # the forward value is the nearest code
    (z_q * torch.arange(z.numel()).reshape(z.shape)).sum().backward(retain_graph=True)
    assert torch.equal(z.grad, torch.arange(z.numel(), dtype=z.dtype).reshape(z.shape))  # identity gradient
    z.grad = None
    commitment.backward()
    assert z.grad.abs().sum() > 0  # the commitment loss pulls the encoder output towards its code


@pytest.fixture(scope="module")
def perceptual():
    return gan_losses.PerceptualLoss()


def test_perceptual_loss_is_zero_on_identical_images_and_grows_with_blur(perceptual):
    x = torch.from_numpy(data.astronaut()[:64, :64].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
    assert perceptual(x, x).item() < 1e-6
    assert perceptual(blurred, x).item() > 0.05
    assert not any(p.requires_grad for p in perceptual.parameters())


@pytest.mark.parametrize("family", ["kl-pixelshuffle", "vq"])
def test_a_few_adversarial_training_steps_reduce_the_reconstruction_loss(family, perceptual):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = autoencoder.Autoencoder(TINY_DESIGNS[family])
    trainer = Trainer(model, lr=3e-3, perceptual=perceptual, adversarial_weight=0.5,
                      discriminator=gan_losses.PatchDiscriminator(channels=8, layers=2))
    images = [data.astronaut()[:128, :128], data.coffee()[:128, :128]]
    batch = random_crops(images, 4, 32, rng)
    first = trainer.step(batch, adversarial=False)["rec"]
    for step in range(25):
        logs = trainer.step(batch, adversarial=step >= 10)
    assert {"g", "d", "w"} <= set(logs) and logs["w"] >= 0
    assert logs["rec"] < 0.8 * first


def test_a_few_sr_gan_training_steps_reduce_the_loss(perceptual):
    from training.data.forge.train_sr_gan import SRTrainer, random_pairs

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = own_sr.ESRGANLite(own_sr.GeneratorConfig(features=8, growth=4, blocks=1))
    trainer = SRTrainer(model, lr=2e-3, perceptual=perceptual, discriminator=gan_losses.PatchDiscriminator(channels=8, layers=2))
    low, high = random_pairs([data.astronaut()[:128, :128], data.coffee()[:128, :128]], 4, 32, rng)
    assert low.shape == (4, 3, 16, 16) and high.shape == (4, 3, 32, 32)
    # the generator starts as a bilinear upsample (zero last layer), already close: perturb it first
    torch.nn.init.normal_(model.conv_last.weight, std=0.05)
    first = trainer.step(low, high, adversarial=False)["l1"]
    for step in range(30):
        logs = trainer.step(low, high, adversarial=step >= 20)
    assert {"g", "d"} <= set(logs)
    assert logs["l1"] < 0.8 * first


def test_own_sr_network_returns_exactly_twice_the_size(tmp_path):
    torch.manual_seed(0)
    own_sr.save(own_sr.ESRGANLite(own_sr.GeneratorConfig(features=8, growth=4, blocks=1)), tmp_path)
    resolver = own_sr.OwnSuperResolver(tmp_path)
    assert (resolver.name, resolver.family, resolver.factor) == ("synthspot-esrgan-lite-x2", "synthspot-esrgan", 2)
    assert resolver.identity.startswith("synthspot:own_sr:synthspot-esrgan-lite-x2:")
    small = np.random.default_rng(0).integers(0, 256, (141, 150, 3), dtype=np.uint8)  # over a tile: seams and edges
    assert resolver.upscale(small).shape == (282, 300, 3)


@pytest.mark.skipif(not (own_sr.WEIGHTS / "generator.safetensors").exists(), reason="own SR network not trained yet")
def test_bundled_own_sr_network_is_registered_small_and_close_to_bicubic():
    from training.data.forge import registry

    assert (own_sr.WEIGHTS / "generator.safetensors").stat().st_size < 5 * 2**20
    [resolver] = registry.super_resolvers(["synthspot-esrgan-lite-x2"])
    real = data.astronaut()[100:197, 150:251]
    assert_faithful_super_resolution(real, super_resolve(real, resolver), 2)


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
    make_tiny_autoencoder(tmp_path / "small")
    domain = Reconstruct(weights=tmp_path / "small", vae=tmp_path / "vae")  # drawn from, beside the small one
    real = data.coffee()[:37, :45]
    fakes = [domain.generate(real, np.random.default_rng(seed), {}) for seed in range(8)]
    assert {f.network for f in fakes} == {"diffusers-vae-vae", "synthspot-kl-f2"}
    drawn = [f for f in fakes if f.network == "diffusers-vae-vae"]
    assert all(f.pixels.shape == real.shape and f.pixels.dtype == np.uint8 for f in fakes)
    assert all(f.generator.startswith("diffusers-AutoencoderKL:vae:") for f in drawn)
    assert all(np.array_equal(drawn[0].pixels, f.pixels) for f in drawn)  # the mean latent: no sampling noise


def test_vae_option_without_diffusers_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "diffusers", None)  # as on a machine without the extra
    with pytest.raises(RuntimeError, match="pip install diffusers"):
        Reconstruct(vae=tmp_path).generate(np.zeros((8, 8, 3), np.uint8), np.random.default_rng(0), {})


@pytest.mark.skipif(not BUNDLED_AUTOENCODERS, reason="bundled autoencoders not trained yet")
@pytest.mark.parametrize("folder", BUNDLED_AUTOENCODERS, ids=lambda p: p.name)
def test_bundled_autoencoder_is_small_and_faithful(folder):
    assert (folder / "autoencoder.safetensors").stat().st_size < 20 * 2**20
    real = data.chelsea()[:128, :160]
    made = Reconstruct(weights=folder).generate(real, np.random.default_rng(0), {})
    assert made.pixels.shape == real.shape
    assert made.network == autoencoder.read_config(folder).network and made.family == autoencoder.read_config(folder).family
    assert psnr(real, made.pixels) > FAITHFUL_PSNR.get(made.family, 25.0)


FAITHFUL_PSNR = {"vq": 22.0}  # a quantised latent loses more


@pytest.mark.skipif(len(BUNDLED_AUTOENCODERS) < 2, reason="fewer than two bundled autoencoders")
def test_reconstruct_draws_every_bundled_autoencoder_with_unique_names():
    domain = Reconstruct()
    real = data.coffee()[:40, :48]
    networks = {domain.generate(real, np.random.default_rng(seed), {}).network for seed in range(40)}
    assert networks == {autoencoder.read_config(f).network for f in BUNDLED_AUTOENCODERS}
    assert len(domain.identity.split(",")) == len(BUNDLED_AUTOENCODERS)
    again = Reconstruct().generate(real, np.random.default_rng(3), {})
    assert np.array_equal(again.pixels, domain.generate(real, np.random.default_rng(3), {}).pixels)


def test_colour_calibration_removes_a_global_cast_and_keeps_spatial_detail():
    from training.data.forge.reconstruct import calibrate_colour

    real = data.coffee()[100:196, 200:296]
    cast = np.clip(real.astype(float) @ np.array([[0.9, 0.1, 0.0], [0.0, 0.7, 0.0], [0.0, 0.1, 1.0]]) + 12, 0, 255)
    blurred = np.asarray(Image.fromarray(cast.astype(np.uint8)).resize((24, 24)).resize((96, 96), Image.BICUBIC))
    corrected, matrix = calibrate_colour(real, blurred)

    def colour_error(image):
        return np.abs(image.reshape(-1, 3).mean(0) - real.reshape(-1, 3).mean(0)).max()

    assert colour_error(blurred) > 10 and colour_error(corrected) < 1.0
    assert psnr(real, corrected) > psnr(real, blurred) + 3.0
    assert len(matrix) == 4 and len(matrix[0]) == 3
    # the blur (a spatial trace) stays: calibration cannot sharpen

    def detail(image):
        return np.abs(np.diff(image.astype(float), axis=1)).mean()

    assert detail(corrected) < 0.8 * detail(real)


def test_transplant_starts_a_deeper_design_with_the_trained_full_resolution_layers():
    torch.manual_seed(0)
    f4 = autoencoder.Autoencoder(autoencoder.AutoencoderConfig(channels=(8, 12, 16), groups=4))
    f8 = autoencoder.Autoencoder(autoencoder.AutoencoderConfig(channels=(8, 12, 16, 20), groups=4))
    copied = autoencoder.transplant(f4, f8)
    offset = len(f8.decoder) - len(f4.decoder)
    source = f4.state_dict()
    for name in copied:
        part, index, rest = name.split(".", 2)
        origin = f"{part}.{int(index) - offset if part == 'decoder' else index}.{rest}"
        assert torch.equal(f8.state_dict()[name], source[origin]), name
    # the input conv and the output conv are copied; the new, deepest level is not
    assert "encoder.0.weight" in copied and f"decoder.{len(f8.decoder) - 1}.weight" in copied
    assert not any(name.startswith(("decoder.0.", "decoder.1.", "encoder.7.")) for name in copied)
    # a design whose upsampling differs keeps only the layers after its last upsampling
    shuffle = autoencoder.Autoencoder(autoencoder.AutoencoderConfig(channels=(8, 12, 16, 20), groups=4, decoder="pixelshuffle"))
    assert len([n for n in autoencoder.transplant(f4, shuffle) if n.startswith("decoder")]) < len(
        [n for n in copied if n.startswith("decoder")])
