"""A tiny corpus of real photographs (scikit-image samples, cropped small) in the formats the
forge must keep aligned: baseline JPEG at two qualities, PNG, lossy WebP, greyscale PNG."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from training.data import corpus, photo_filter, sources


def _encode(array: np.ndarray, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **save)
    return buffer.getvalue()


def small_photos() -> list[sources.SourcePhoto]:
    from skimage import data

    specs = [
        ("astronaut", data.astronaut()[40:136, 150:262], "JPEG", {"quality": 83}),
        ("coffee", data.coffee()[100:180, 200:300], "PNG", {}),
        ("chelsea", data.chelsea()[60:156, 120:228], "JPEG", {"quality": 94, "subsampling": 0}),
        ("rocket", data.rocket()[300:396, 250:350], "WEBP", {"quality": 80}),
        ("camera", data.camera()[100:190, 180:280], "PNG", {}),
    ]
    return [sources.SourcePhoto(_encode(a, fmt, **kw), "test", f"skimage:{name}", "test", "scikit-image") for name, a, fmt, kw in specs]


@pytest.fixture
def small_images_allowed(monkeypatch):
    """The photo filter's minimum size is for real corpora; these fixtures are tiny on purpose."""
    monkeypatch.setattr(photo_filter, "MIN_LONG_SIDE", 64)
    monkeypatch.setattr(photo_filter, "MIN_SHORT_SIDE", 64)


def ingest_small_photos(root) -> dict[str, int]:
    """The five small photos into a corpus at ``root``, with the photo filter's minimum size lowered."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(photo_filter, "MIN_LONG_SIDE", 64)
        patch.setattr(photo_filter, "MIN_SHORT_SIDE", 64)
        return corpus.ingest(root, small_photos())


def make_tiny_autoencoder(folder):
    """An untrained two-level autoencoder saved to ``folder``: the forge only needs a deterministic round trip."""
    import torch

    from training.data.forge import autoencoder

    torch.manual_seed(0)
    model = autoencoder.KLAutoencoder(autoencoder.AutoencoderConfig(channels=(8, 8), latent_channels=4, groups=4))
    autoencoder.save(model, folder)
    return folder


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    counts = ingest_small_photos(root)
    assert counts == {"kept": 5}, counts
    return root


@pytest.fixture(scope="module")
def tiny_autoencoder(tmp_path_factory):
    return make_tiny_autoencoder(tmp_path_factory.mktemp("ae"))


def assert_faithful_super_resolution(real: np.ndarray, fake: np.ndarray, factor: int) -> tuple[float, float]:
    """A super-resolved fake of `real` at `factor`: its exact size, and near the bicubic baseline's
    fidelity (a broken backend or architecture lands far below). Returns (fake, bicubic) PSNR."""
    from skimage.metrics import peak_signal_noise_ratio as psnr

    assert fake.shape == real.shape and fake.dtype == np.uint8
    small = Image.fromarray(real).resize((real.shape[1] // factor, real.shape[0] // factor), Image.LANCZOS)
    bicubic = np.asarray(small.resize((real.shape[1], real.shape[0]), Image.BICUBIC))
    fake_psnr, bicubic_psnr = psnr(real, fake), psnr(real, bicubic)
    assert fake_psnr > bicubic_psnr - 4.0 and fake_psnr > 18.0, (fake_psnr, bicubic_psnr)
    assert not np.array_equal(fake, bicubic)
    return fake_psnr, bicubic_psnr
