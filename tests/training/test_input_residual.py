"""The NPR input: what the backbone sees is the crop's local interdependence, not its content."""

import pytest
import torch
import torch.nn.functional as F

from training.config import ConfigError, DetectorConfig, SefConfig
from training.detector import create_detector
from training.input_residual import NPR_GAIN, npr_residual


def test_a_nearest_neighbour_upsample_leaves_no_residual_and_a_camera_like_image_does():
    torch.manual_seed(0)
    small = torch.rand(2, 3, 16, 16)
    upsampled = F.interpolate(small, scale_factor=2, mode="nearest")
    assert npr_residual(upsampled).abs().max() == 0
    noisy = torch.rand(2, 3, 32, 32)
    residual = npr_residual(noisy)
    assert residual.shape == noisy.shape
    assert residual[:, :, ::2, ::2].abs().max() == 0  # each 2x2 block's sample is itself
    assert residual[:, :, 1::2, 1::2].abs().mean() > 0.1
    # the residual of the pixels is the gain times what sets them apart from their block's sample
    assert torch.allclose(residual[:, :, 1, 1], NPR_GAIN * (noisy[:, :, 1, 1] - noisy[:, :, 0, 0]))


def test_the_residual_ignores_a_per_channel_offset_so_it_may_take_the_normalised_input():
    torch.manual_seed(1)
    x = torch.rand(1, 3, 24, 24)
    offset = torch.tensor([0.3, -1.0, 2.0]).view(1, 3, 1, 1)
    assert torch.allclose(npr_residual(x + offset), npr_residual(x), atol=1e-6)


def test_a_detector_on_the_residual_does_not_see_content_that_a_plain_one_does():
    torch.manual_seed(2)
    blocky = F.interpolate(torch.randn(2, 3, 16, 16), scale_factor=2, mode="nearest")
    other_blocky = F.interpolate(torch.randn(2, 3, 16, 16), scale_factor=2, mode="nearest")
    on_residual = create_detector(DetectorConfig(backbone="tiny_vit", crop_size=32, input_residual="npr"))
    plain = create_detector(DetectorConfig(backbone="tiny_vit", crop_size=32))
    plain.load_state_dict(on_residual.state_dict())
    with torch.no_grad():
        # two different pictures with no residual look alike to it, and not to the plain detector
        assert torch.allclose(on_residual(blocky).logit, on_residual(other_blocky).logit, atol=1e-6)
        assert not torch.allclose(plain(blocky).logit, plain(other_blocky).logit, atol=1e-3)


def test_the_config_names_the_input_and_refuses_an_unknown_one():
    config = DetectorConfig(backbone="tiny_vit", input_residual="npr")
    assert DetectorConfig.from_json(config.to_json()) == config
    assert DetectorConfig.from_dict({"backbone": "tiny_vit"}).input_residual == ""  # older checkpoints' configs
    with pytest.raises(ConfigError, match="input_residual"):
        DetectorConfig(backbone="tiny_vit", input_residual="srm")
    with pytest.raises(ConfigError, match="exclude each other"):  # an expert would see the residual of a residual
        DetectorConfig(backbone="tiny_vit", method="sef", input_residual="npr",
                       sef=SefConfig(expert_inputs={"upsample": "npr"}))
