"""What a detector sees of its crop: the pixels, or only their local interdependence.

``npr``: the crop minus the nearest-neighbour re-upsampling of its 2x-downsampled self (Tan et al.,
"Rethinking the Up-Sampling Operations in CNN-based Generative Network for Generalizable Deepfake
Detection", CVPR 2024). An upsampler leaves its neighbouring pixels correlated in ways a camera does
not, whatever its training data; the residual keeps those correlations and drops the content, which is
what the paper credits for detecting upsamplers it never saw. The residual is a quarter zeros (each 2x2
block's top-left pixel is its own sample) and about a fifth of the image's spread, so it is scaled up to
reach the frozen backbone at a scale like an image's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

INPUT_RESIDUALS = ("", "npr")
# A photo's residual spreads about a fifth as wide as its pixels (0.03-0.06 against 0.14-0.32 on
# scikit-image's photos, 0..1 scale): four brings it near the spread the backbone was trained on.
NPR_GAIN = 4.0


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """NCHW ``x`` minus its nearest-neighbour 2x down-and-up copy, times ``NPR_GAIN``. Linear, so it can
    take the normalised input: a per-channel offset cancels (a constant image has no residual)."""
    resampled = F.interpolate(x[:, :, ::2, ::2], size=x.shape[-2:], mode="nearest")
    return NPR_GAIN * (x - resampled)


def apply_input_residual(kind: str, x: torch.Tensor) -> torch.Tensor:
    if kind == "npr":
        return npr_residual(x)
    return x
