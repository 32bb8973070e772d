"""Methods: every combination trains on CPU in seconds; SEF batches and freezes its experts; GAMMA maps keep the layout."""

from __future__ import annotations

import pytest
import torch

from training import DetectorConfig, GammaConfig, MoleConfig, SefConfig
from training.adapters import active_adapter, adapter_layers
from training.config import ConfigError

from .conftest import build, optimiser_step, sample_input, total_loss

EXPERTS = ("reconstruct", "upsample", "inpaint")
GAMMA = GammaConfig(enabled=True, seg_dim=16)
METHODS = {
    "mixed_lora": {},
    "mixed_mole": dict(adapter="mole", mole=MoleConfig(num_experts=3, top_k=2, last_blocks=1)),
    "sef": dict(method="sef"),
    "sef_gate_on_backbone": dict(method="sef", sef=SefConfig(gate_input="backbone", gate_hidden=8)),
    "gamma_mixed": dict(gamma=GAMMA),
    "gamma_mole": dict(adapter="mole", mole=MoleConfig(last_blocks=1), gamma=GAMMA),
    "gamma_sef": dict(method="sef", gamma=GAMMA),
}


@pytest.mark.parametrize("backbone", ["tiny_vit", "efficientnet_lite0"])
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_forward_and_backward(backbone, method):
    detector = build(backbone, **METHODS[method]).train()
    x = sample_input(backbone, batch=3)
    output = detector(x)
    assert output.logit.shape == (3,)
    sef, gamma = "sef" in method, "gamma" in method
    assert (output.expert_weights is not None) == sef and (output.artifact_map is not None) == gamma
    assert ("mole_balance" in output.aux_losses) == ("mole" in method)
    total_loss(output).backward()
    grads = {name: p.grad for name, p in detector.named_parameters() if p.requires_grad}
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert all(p.grad is None for p in detector.parameters() if not p.requires_grad)


@pytest.mark.parametrize("backbone", ["tiny_vit", "efficientnet_lite0"])
def test_sef_fusion_trains_the_gate_and_leaves_every_expert_unchanged(backbone):
    detector = build(backbone, method="sef", gamma=GAMMA)
    assert detector.stage == "fusion"
    experts = {k: v.clone() for k, v in detector.state_dict().items() if ".adapters." in k or "expert_heads" in k}
    assert {k.split(".adapters.")[1].split(".")[0] for k in experts if ".adapters." in k} == set(EXPERTS)
    gate = {k: v.clone() for k, v in detector.encoder.gate.state_dict().items()}
    x = sample_input(backbone)
    with torch.no_grad():
        weights = detector(x).expert_weights
    assert weights.shape == (2, 3)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    optimiser_step(detector, x)
    state = detector.state_dict()
    assert all(torch.equal(state[k], v) for k, v in experts.items())
    assert any(not torch.equal(detector.encoder.gate.state_dict()[k], v) for k, v in gate.items())


def test_sef_with_expert_verdicts_adds_their_gated_mix_and_trains_their_heads_not_their_loras():
    detector = build(method="sef", sef=SefConfig(expert_verdicts=True), gamma=GAMMA)
    x = sample_input("tiny_vit")
    with torch.no_grad():
        output = detector(x)
        encoded = detector.encoder(x)
        separate = []
        for name in EXPERTS:
            with active_adapter(detector.backbone, name):
                separate.append(detector.encoder.expert_heads[name](detector.backbone(x).cls_token).squeeze(-1))
        expected = detector.head(encoded.features)["logit"] + (output.expert_weights * torch.stack(separate, -1)).sum(-1)
    torch.testing.assert_close(output.logit, expected, atol=1e-5, rtol=1e-5)
    loras = {k: v.clone() for k, v in detector.state_dict().items() if ".adapters." in k}
    heads = {k: v.clone() for k, v in detector.encoder.expert_heads.state_dict().items()}
    optimiser_step(detector, x)
    assert all(torch.equal(detector.state_dict()[k], v) for k, v in loras.items())
    assert any(not torch.equal(detector.encoder.expert_heads.state_dict()[k], v) for k, v in heads.items())


def test_sef_expert_stage_trains_only_that_expert():
    detector = build(method="sef")
    detector.set_stage("expert:upsample")
    trainable = [name for name, p in detector.named_parameters() if p.requires_grad]
    assert trainable and all("upsample" in name for name in trainable)
    output = detector.train()(sample_input("tiny_vit"))
    assert output.expert_weights is None and output.logit.shape == (2,)
    with pytest.raises(ValueError, match="unknown SEF stage"):
        detector.set_stage("expert:jpeg")


@pytest.mark.parametrize("gate_input", ["experts", "backbone"])
def test_sef_batched_pass_equals_one_pass_per_expert(gate_input):
    detector = build(method="sef", sef=SefConfig(gate_input=gate_input))
    with torch.no_grad():
        for layer in adapter_layers(detector):  # make the experts different from each other
            for adapter in layer.adapters.values():
                adapter.lora_B.weight.normal_(0, 0.1)
    x = sample_input("tiny_vit", batch=4)
    calls = []
    hook = detector.backbone.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    with torch.no_grad():
        fused = detector.encoder(x)
    hook.remove()
    assert calls == [4 * (3 if gate_input == "experts" else 4)]  # one backbone call for all experts
    with torch.no_grad():
        separate = []
        for name in EXPERTS:
            with active_adapter(detector.backbone, name):
                separate.append(detector.backbone(x))
        with active_adapter(detector.backbone, None):
            plain = detector.backbone(x).cls_token
    gate_in = plain if gate_input == "backbone" else torch.cat([f.cls_token for f in separate], dim=-1)
    weights = detector.encoder.gate(gate_in).softmax(-1)
    torch.testing.assert_close(fused.expert_weights, weights, atol=1e-5, rtol=1e-5)
    expected_cls = sum(weights[:, i : i + 1] * f.cls_token for i, f in enumerate(separate))
    torch.testing.assert_close(fused.features.cls_token, expected_cls, atol=1e-5, rtol=1e-5)
    expected_patches = sum(weights[:, i, None, None] * f.patch_tokens for i, f in enumerate(separate))
    torch.testing.assert_close(fused.features.patch_tokens, expected_patches, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "backbone, height, width, cells",
    # 1/8 of the crop: EfficientNet's 1/32 grid is decoded with its stride-8 map; tiny_vit's patches are 8 px
    [("tiny_vit", 32, 48, (4, 6)), ("tiny_vit", 56, 24, (7, 3)), ("efficientnet_lite0", 64, 128, (8, 16))],
)
def test_gamma_maps_are_drawn_at_an_eighth_of_the_crop(backbone, height, width, cells):
    detector = build(backbone, gamma=GAMMA)
    with torch.no_grad():
        output = detector(sample_input(backbone, height=height, width=width))
    assert output.artifact_map.shape == (2, 1, *cells)
    assert output.domain_map.shape == (2, len(GAMMA.domains), *cells)


def test_gamma_map_cells_answer_for_their_own_part_of_the_crop():
    """With the coarse path held constant, a change in the crop's right end moves only the map's right
    cells: the fine path is local and keeps the layout (no transposition, no flip)."""
    detector = build("efficientnet_lite0", gamma=GAMMA)
    with torch.no_grad():
        for layer in detector.head.seg_neck:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.zero_()
        x = sample_input("efficientnet_lite0", height=64, width=256)
        changed = x.clone()
        changed[..., 224:] = changed[..., 224:].flip(-2)
        delta = (detector(changed).artifact_map - detector(x).artifact_map).abs()[:, 0]
    assert delta[..., 24:].amax() > 1e-3  # the changed columns (x >= 224 px: cells 28-31) and their neighbours
    assert delta[..., :8].amax() == 0  # the left quarter (x < 64 px) never sees it


def test_reverse_cross_attention_lets_segmentation_features_change_the_logit():
    detector = build(gamma=GAMMA)
    x = sample_input("tiny_vit")
    with torch.no_grad():
        before = detector(x).logit
        detector.head.correction.weight.normal_(0, 0.5)
        assert not torch.allclose(detector(x).logit, before)


def test_config_validates_and_round_trips_through_json():
    config = DetectorConfig(backbone="efficientnet_lite0", method="sef", gamma=GAMMA, sef=SefConfig(experts=("upsample", "regenerate")))
    assert DetectorConfig.from_json(config.to_json()) == config
    for bad in (
        dict(method="moe"),
        dict(adapter="mole", method="sef"),
        dict(sef=SefConfig(experts=("upsample",))),
        dict(sef=SefConfig(experts=("upsample", "blur"))),
        dict(gamma=GammaConfig(domains=("real", "upsampling"))),
        dict(mole=MoleConfig(top_k=9)),
        dict(gamma=GammaConfig(domains=("real", "real"))),
    ):
        with pytest.raises(ConfigError):
            DetectorConfig(**bad)
    with pytest.raises(ConfigError, match="unknown config fields"):
        DetectorConfig.from_dict({"backbone": "tiny_vit", "colour": "red"})
    with pytest.raises(ConfigError, match="not a multiple of tiny_vit.s 8"):
        build(crop_size=36)


def test_input_spec_tells_export_what_to_wrap():
    spec = build(method="sef", gamma=GAMMA).input_spec
    assert spec.crop_size == 32 and spec.size_multiple == 8
    assert spec.expert_names == EXPERTS and spec.domain_names == GAMMA.domains and spec.has_artifact_map
    assert spec.mean == (0.485, 0.456, 0.406) and spec.std == (0.229, 0.224, 0.225)
    plain = build("efficientnet_lite0").input_spec
    assert plain.crop_size == 224 and plain.expert_names == () and not plain.has_artifact_map


@pytest.mark.parametrize("backbone", ["tiny_vit", "efficientnet_lite0"])
def test_sef_gamma_detector_traces_to_onnx_with_a_free_batch_size(backbone, tmp_path):
    """Not the export (a later step): only that nothing in the model core stops tracing, batched experts included."""
    import warnings

    import numpy as np
    import onnxruntime as ort

    detector = build(backbone, method="sef", gamma=GAMMA)

    class Outputs(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            output = self.inner(x)
            return output.logit, output.expert_weights, output.artifact_map

    wrapped, path = Outputs(detector), tmp_path / "detector.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped, (sample_input(backbone),), str(path), input_names=["x"], dynamic_axes={"x": {0: "n"}}, dynamo=False
        )
    x = sample_input(backbone, batch=3)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    results = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = wrapped(x)
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=1e-4)


def _sef_with_working_experts(backbone, gate_input):
    detector = build(backbone, method="sef", sef=SefConfig(gate_input=gate_input, expert_verdicts=True), gamma=GAMMA)
    with torch.no_grad():
        for name, parameter in detector.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05)  # B starts at zero: make every expert change the backbone
    return detector


@pytest.mark.parametrize("backbone, gate_input", [("tiny_vit", "backbone"), ("efficientnet_lite0", "experts")])
def test_sef_merged_for_inference_gives_the_batched_outputs(backbone, gate_input):
    detector = _sef_with_working_experts(backbone, gate_input)
    x = sample_input(backbone)
    with torch.no_grad():
        batched = detector.eval()(x)
        detector.encoder.merge_experts()
        merged = detector(x)
    for field in ("logit", "expert_weights", "artifact_map", "domain_map"):
        torch.testing.assert_close(getattr(merged, field), getattr(batched, field), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="merged for inference"):
        detector.set_stage("expert:upsample")


@pytest.mark.parametrize("backbone, gate_input", [("tiny_vit", "backbone"), ("efficientnet_lite0", "experts")])
def test_fusion_on_folded_experts_gives_the_batched_outputs_and_gradients(backbone, gate_input):
    detector = _sef_with_working_experts(backbone, gate_input)
    detector.set_stage("fusion")
    detector.train()
    x = sample_input(backbone)
    saved_keys = set(detector.state_dict())

    def loss_and_gate_grad():
        detector.zero_grad()
        output = detector(x)
        (output.logit.sum() + output.artifact_map.mean()).backward()
        return output, detector.encoder.gate.weight.grad.clone()

    batched, batched_grad = loss_and_gate_grad()
    detector.encoder.fold_frozen_experts()
    folded, folded_grad = loss_and_gate_grad()
    for field in ("logit", "expert_weights", "artifact_map"):
        torch.testing.assert_close(getattr(folded, field), getattr(batched, field), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(folded_grad, batched_grad, atol=1e-4, rtol=1e-4)
    assert set(detector.state_dict()) == saved_keys  # the copies are never saved
    detector.set_stage("expert:upsample")  # an expert stage trains its LoRA: the copies are dropped
    assert detector.encoder._fusion_copies is None
    with pytest.raises(ValueError, match="fusion stage only"):
        detector.encoder.fold_frozen_experts()


def test_an_sef_expert_on_the_npr_residual_sees_it_in_its_own_stage_the_batched_pass_and_the_merged_one():
    from training.input_residual import npr_residual

    detector = build(method="sef", sef=SefConfig(expert_inputs={"upsample": "npr"}), gamma=GAMMA)
    with torch.no_grad():
        for name, parameter in detector.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05)
    x = sample_input("tiny_vit", batch=4)
    with torch.no_grad():
        fused = detector.eval().encoder(x)
        separate = []
        for name in EXPERTS:
            with active_adapter(detector.backbone, name):
                separate.append(detector.backbone(npr_residual(x) if name == "upsample" else x))
        detector.set_stage("expert:upsample")
        own_stage = detector.encoder(x).expert_logit
        detector.set_stage("fusion")
    weights = detector.encoder.gate(torch.cat([f.cls_token for f in separate], dim=-1)).softmax(-1)
    expected_cls = sum(weights[:, i : i + 1] * f.cls_token for i, f in enumerate(separate))
    torch.testing.assert_close(fused.features.cls_token, expected_cls, atol=1e-5, rtol=1e-5)
    upsample = EXPERTS.index("upsample")
    torch.testing.assert_close(own_stage, detector.encoder.expert_heads["upsample"](separate[upsample].cls_token)
                               .squeeze(-1), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        batched = detector(x)
        detector.encoder.merge_experts()
        merged = detector(x)
    for field in ("logit", "expert_weights", "artifact_map", "domain_map"):
        torch.testing.assert_close(getattr(merged, field), getattr(batched, field), atol=1e-4, rtol=1e-4)
    with pytest.raises(ConfigError, match="expert_inputs"):
        SefConfig(expert_inputs={"upsample": "srm"}).validate()
    with pytest.raises(ConfigError, match="not in sef.experts"):
        SefConfig(experts=("upsample", "reconstruct"), expert_inputs={"inpaint": "npr"}).validate()
