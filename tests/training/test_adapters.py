"""LoRA and MoLE: zero-initialised start, frozen base, merge/unmerge/unload, routing and balance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from training import DetectorConfig, MoleConfig, create_backbone, create_detector
from training.adapters import (
    LoraLayer,
    LowRank,
    MoleLayer,
    adapter_layers,
    balance_loss,
    inject_lora,
    inject_mole,
    merge_lora,
    route,
    unload_adapters,
    unmerge_lora,
)

from .conftest import build, optimiser_step, sample_input


def _perturb_lora(model: nn.Module, scale: float = 0.05) -> None:
    """Give every low-rank update (LoRA or MoLE expert) a non-zero B, as training would."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LowRank):
                module.lora_B.weight.normal_(0, scale)


@pytest.mark.parametrize("name", ["tiny_vit", "efficientnet_lite0"])
def test_zero_initialised_lora_leaves_the_backbone_output_unchanged(name):
    backbone = create_backbone(name).eval()
    x = sample_input(name)
    with torch.no_grad():
        before = backbone(x)
    targets = ("qkv", "proj", "fc1", "fc2") if name == "tiny_vit" else ("_expand_conv", "_project_conv")
    wrapped = inject_lora(backbone, targets, "default", rank=4, alpha=8)
    assert len(wrapped) >= 8 and all(isinstance(backbone.get_submodule(n), LoraLayer) for n in wrapped)
    with torch.no_grad():
        after = backbone(x)
    assert torch.equal(before.cls_token, after.cls_token)
    assert torch.equal(before.patch_tokens, after.patch_tokens)


@pytest.mark.parametrize("adapter", ["lora", "mole"])
@pytest.mark.parametrize("name", ["tiny_vit", "efficientnet_lite0"])
def test_optimiser_step_moves_adapters_and_head_but_no_frozen_weight(name, adapter):
    detector = build(name, adapter=adapter)
    frozen = {k: v.clone() for k, v in detector.state_dict(keep_vars=True).items() if not v.requires_grad}
    trainable = {k: v.clone() for k, v in detector.named_parameters() if v.requires_grad}
    assert any(".lora_B." in key for key in trainable) and any(key.startswith("head.") for key in trainable)
    assert not any(".base_layer." in key for key in trainable)
    _perturb_lora(detector)  # so that A receives a gradient too
    trainable = {k: v.clone() for k, v in detector.named_parameters() if v.requires_grad}
    optimiser_step(detector, sample_input(name))
    state = detector.state_dict()
    for key, value in frozen.items():  # weights and BatchNorm statistics alike
        assert torch.equal(state[key], value), key
    moved = [key for key, value in trainable.items() if not torch.equal(state[key], value)]
    assert len(moved) == len(trainable)


@pytest.mark.parametrize("name", ["tiny_vit", "efficientnet_lite0"])
def test_merge_unmerge_round_trips_and_unload_returns_the_untouched_backbone(name):
    detector = build(name)
    backbone = detector.backbone
    original = {k: v.clone() for k, v in backbone.state_dict().items() if "adapters" not in k}
    x = sample_input(name)
    with torch.no_grad():
        base = detector(x).logit
    _perturb_lora(detector)
    with torch.no_grad():
        adapted = detector(x).logit
        merge_lora(backbone)
        merged = detector(x).logit
        merge_lora(backbone)  # merging twice is a no-op
        assert torch.allclose(detector(x).logit, merged)
        unmerge_lora(backbone)
        unmerged = detector(x).logit
    assert not torch.allclose(adapted, base, atol=1e-3)  # the adapters do change the output
    torch.testing.assert_close(merged, adapted, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(unmerged, adapted, atol=1e-5, rtol=1e-5)
    for key, value in backbone.state_dict().items():
        if key in original:
            torch.testing.assert_close(value, original[key], atol=1e-6, rtol=1e-5)
    unload_adapters(backbone)
    assert not list(adapter_layers(backbone))
    assert set(backbone.state_dict()) == {k.replace(".base_layer", "") for k in original}


def test_merge_refuses_non_finite_weights():
    detector = build()
    layer = next(adapter_layers(detector))
    before = layer.base_layer.weight.clone()
    with torch.no_grad():
        layer.adapters["default"].lora_B.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match="non-finite"):
        layer.merge()
    assert torch.equal(layer.base_layer.weight, before) and layer.merged_adapters == []


def test_router_weights_sum_to_one_and_top_k_keeps_k_experts():
    logits = torch.randn(2, 7, 5)
    probs, weights = route(logits, top_k=None)
    assert torch.equal(probs, weights)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 7))
    probs, weights = route(logits, top_k=2)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 7))
    assert torch.equal((weights > 0).sum(-1), torch.full((2, 7), 2))
    assert torch.equal(weights.argmax(-1), probs.argmax(-1))


def test_balance_loss_is_minimal_for_a_uniform_router():
    experts = 4
    uniform = torch.full((10, experts), 1 / experts)
    assert balance_loss(uniform, uniform).item() == pytest.approx(1.0)
    for _ in range(20):
        probs, weights = route(torch.randn(10, experts) * 3, top_k=None)
        assert balance_loss(probs, weights).item() > 1.0
    collapsed = torch.nn.functional.one_hot(torch.zeros(10, dtype=torch.long), experts).float()
    assert balance_loss(collapsed, collapsed).item() == pytest.approx(experts)


@pytest.mark.parametrize("name", ["tiny_vit", "efficientnet_lite0"])
def test_mole_sits_in_the_last_blocks_mlps_only_and_starts_as_the_backbone(name):
    backbone = create_backbone(name).eval()
    x = sample_input(name)
    with torch.no_grad():
        before = backbone(x).cls_token
    targets = ("fc1", "fc2") if name == "tiny_vit" else ("_expand_conv", "_project_conv")
    inject_mole(backbone.blocks, targets, last_blocks=1, num_experts=3, rank=2, alpha=4)
    layers_per_block = [sum(isinstance(m, MoleLayer) for m in block.modules()) for block in backbone.blocks]
    assert layers_per_block[-1] == 2 and sum(layers_per_block[:-1]) == 0
    with torch.no_grad():
        after = backbone(x).cls_token
    assert torch.equal(before, after)
    layer = next(m for m in backbone.modules() if isinstance(m, MoleLayer))
    torch.testing.assert_close(layer.last_router_weights.sum(-1), torch.ones(layer.last_router_weights.shape[:-1]))
    assert 1.0 <= layer.last_balance_loss.item() < 1.1  # a near-uniform start
    with torch.no_grad():
        layer.router.weight.zero_()
        backbone(x)
    assert layer.last_balance_loss.item() == pytest.approx(1.0)  # a uniform router is the minimum


def test_mole_detector_trains_router_and_experts_but_not_attention():
    detector = build(adapter="mole", mole=MoleConfig(num_experts=3, top_k=2, last_blocks=1))
    trainable = [name for name, p in detector.named_parameters() if p.requires_grad]
    assert any(".router." in n for n in trainable) and any(".experts." in n for n in trainable)
    assert any(".shared." in n for n in trainable)
    # Only the last block's MLP layers and the head: attention and norms stay frozen.
    assert all(n.startswith(("head.", "encoder.backbone.blocks.1.mlp.")) for n in trainable)
    assert not any("base_layer" in n for n in trainable)
    output = detector.train()(sample_input("tiny_vit"))
    assert output.aux_losses["mole_balance"].item() >= 1.0 - 1e-6


def test_mole_trainable_ratio_for_clip_vit_l14_is_about_a_tenth_of_a_percent():
    with torch.device("meta"):  # shapes only: no weights, no memory
        detector = create_detector(DetectorConfig(backbone="clip_vit_l14", weights="random", adapter="mole"))
    total, trainable = detector.parameter_counts()
    assert 300e6 < total < 310e6
    assert 0.0005 < trainable / total < 0.002
