"""The one vocabulary of fake domains: the forge makes them, the manifest records them, SEF
trains one expert per domain and GAMMA's domain map classifies pixels by them.

    upsample     downscaled, then brought back by a super-resolution network
    reconstruct  a round trip through an autoencoder (what latent-diffusion decoders leave)
    regenerate   redrawn at its own size by an image-to-image network (denoiser, interpolator)
    inpaint      regions of a real photo replaced by generated content, the rest untouched

DOMAIN_CODES are the per-pixel values of GAMMA's domain maps: what was done to each pixel.
A whole-image fake is its domain's code everywhere; an inpaint fake is INPAINT where pixels
were replaced and REAL elsewhere (its fillers are recorded in the manifest's params)."""
from __future__ import annotations

REAL = "real"
UPSAMPLE, RECONSTRUCT, REGENERATE, INPAINT = "upsample", "reconstruct", "regenerate", "inpaint"
FAKE_DOMAINS = (UPSAMPLE, RECONSTRUCT, REGENERATE, INPAINT)
DOMAIN_CODES = {REAL: 0, UPSAMPLE: 1, RECONSTRUCT: 2, REGENERATE: 3, INPAINT: 4}
# A crop of an inpaint is labelled fake when at least this share of it was manipulated (training's
# default, and what the segmentation scores count as fakes).
MIN_MANIPULATED = 0.02


def check_domain(name: str, what: str = "domain") -> str:
    if name not in FAKE_DOMAINS:
        raise ValueError(f"{what} {name!r} is not a fake domain; known: {', '.join(FAKE_DOMAINS)}")
    return name
