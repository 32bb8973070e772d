"""LoRA on spatial convolutions (a stem, depthwise filters) and per-expert targets: the low-level
SEF expert of issue "A detector that detects"."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from training import DetectorConfig, create_backbone
from training.adapters import LoraLayer, LowRank, adapter_layers, inject_lora
from training.config import ConfigError, LoraConfig, SefConfig

from .conftest import build, optimiser_step, sample_input

LOW_LEVEL = ("_conv_stem", "_blocks.0._depthwise_conv", "_blocks.1._expand_conv", "_blocks.1._depthwise_conv")


def _perturb(module: nn.Module, scale: float = 0.05) -> None:
    with torch.no_grad():
        for low_rank in module.modules():
            if isinstance(low_rank, LowRank):
                low_rank.lora_B.weight.normal_(0, scale)


def _same_padding_conv(layer: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """TensorFlow "same" padding written out, independent of the package's layer."""
    height, width = x.shape[-2:]
    kernel_h, kernel_w = weight.shape[-2:]
    stride_h, stride_w = layer.stride
    pad_h = max((-(-height // stride_h) - 1) * stride_h + kernel_h - height, 0)
    pad_w = max((-(-width // stride_w) - 1) * stride_w + kernel_w - width, 0)
    x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
    return F.conv2d(x, weight, None, layer.stride, 0, 1, layer.groups)


@pytest.mark.parametrize("target", ["_conv_stem", "_blocks.1._depthwise_conv"])
def test_spatial_lora_is_the_layer_with_a_low_rank_kernel_update(target):
    backbone = create_backbone("efficientnet_lite0").eval()
    names = inject_lora(backbone, (target,), "low", rank=2, alpha=4, spatial=True)
    layer = backbone.get_submodule(names[0])
    assert names == [f"net.{target}"] and isinstance(layer, LoraLayer) and layer.spatial
    x = torch.randn(2, layer.base_layer.in_channels, 33, 30)  # odd sizes: uneven "same" padding
    with torch.no_grad():
        start = layer(x)
        torch.testing.assert_close(start, layer.base_layer(x))  # B starts at zero
        _perturb(layer)
        adapted = layer(x)
        delta = layer.adapters["low"].delta_weight().reshape(layer.base_layer.weight.shape)
        assert delta.flatten(1).shape[1] == layer.base_layer.weight[0].numel()
        assert torch.linalg.matrix_rank(delta.flatten(1)) <= 2
        expected = _same_padding_conv(layer.base_layer, x, layer.base_layer.weight + delta)
    assert not torch.allclose(adapted, start, atol=1e-4)
    torch.testing.assert_close(adapted, expected, atol=1e-5, rtol=1e-5)
    weight = layer.base_layer.weight.clone()
    layer.merge()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), adapted, atol=1e-5, rtol=1e-5)
    layer.unmerge()
    torch.testing.assert_close(layer.base_layer.weight, weight, atol=1e-6, rtol=1e-6)


def test_spatial_lora_batches_one_chunk_per_adapter_and_refuses_dropout():
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True)
    layer = LoraLayer(conv)
    layer.add_adapter("a", 2, 4)
    layer.add_adapter("b", 2, 4)
    _perturb(layer)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        layer.active_adapters = ["a"]
        only_a = layer(x)
        layer.active_adapters = ["b"]
        only_b = layer(x)
        layer.batch_adapters = [None, "a", "b"]
        batched = layer(x.repeat(3, 1, 1, 1))
    torch.testing.assert_close(batched, torch.cat([conv(x), only_a, only_b]))
    with pytest.raises(ValueError, match="no input dropout"):
        layer.add_adapter("c", 2, 4, dropout=0.1)


def test_spatial_convolutions_stay_out_unless_asked_and_dotted_tails_pick_blocks():
    pointwise = inject_lora(create_backbone("efficientnet_lite0"), ("_conv_stem", "_expand_conv"), "p", rank=2, alpha=4)
    assert pointwise and not any("_conv_stem" in name for name in pointwise)
    lite = create_backbone("efficientnet_lite0")
    names = inject_lora(lite, LOW_LEVEL, "low", rank=2, alpha=4, spatial=True)
    assert names == sorted(f"net.{target}" for target in LOW_LEVEL)
    with pytest.raises(ValueError, match="1x1 Conv2d"):
        inject_lora(create_backbone("efficientnet_lite0"), ("_conv_stem",), "low", rank=2, alpha=4)


def test_low_level_sef_expert_trains_alone_and_merges_for_inference():
    sef = SefConfig(experts=("upsample", "reconstruct"), expert_targets={"upsample": list(LOW_LEVEL)})
    with pytest.raises(ConfigError, match="set lora.spatial"):  # spatial convolutions only where the config says so
        build("efficientnet_lite0", method="sef", sef=sef)
    detector = build("efficientnet_lite0", method="sef", sef=sef, lora=LoraConfig(spatial=True))
    layers = {name: layer for name, layer in detector.named_modules() if isinstance(layer, LoraLayer)}
    stem = next(layer for name, layer in layers.items() if name.endswith("_conv_stem"))
    assert list(stem.adapters) == ["upsample"]  # the other expert keeps the 1x1 defaults
    assert sum("upsample" in layer.adapters for layer in layers.values()) == len(LOW_LEVEL)
    assert sum("reconstruct" in layer.adapters for layer in layers.values()) > len(LOW_LEVEL)

    detector.set_stage("expert:upsample")
    x = sample_input("efficientnet_lite0")
    _perturb(detector)
    trainable = {name: p.clone() for name, p in detector.named_parameters() if p.requires_grad}
    assert trainable and all("upsample" in name for name in trainable)
    optimiser_step(detector, x)
    moved = [name for name, p in detector.named_parameters() if name in trainable and not torch.equal(p, trainable[name])]
    assert any("_conv_stem.adapters.upsample.lora_A" in name for name in moved)

    detector.set_stage("fusion")
    with torch.no_grad():
        batched = detector.eval()(x)
        detector.encoder.merge_experts()
        merged = detector(x)
    torch.testing.assert_close(merged.logit, batched.logit, atol=1e-4, rtol=1e-4)
    assert all(not layer.merged_adapters for layer in adapter_layers(detector.encoder.backbone))


def test_expert_targets_are_checked_and_survive_the_config_round_trip():
    with pytest.raises(ConfigError, match="not in sef.experts"):
        SefConfig(experts=("upsample", "reconstruct"), expert_targets={"inpaint": ["_conv_stem"]}).validate()
    config = DetectorConfig(backbone="efficientnet_lite0", method="sef",
                            sef=SefConfig(experts=("upsample", "reconstruct"), expert_targets={"upsample": list(LOW_LEVEL)}))
    again = DetectorConfig.from_json(config.to_json())
    assert again == config and again.sef.expert_targets == {"upsample": LOW_LEVEL}
