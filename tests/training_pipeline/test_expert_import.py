"""SEF experts imported from trained checkpoints (``TrainConfig.expert_init``): the
expert computes exactly what the donor did, its stage is skipped, and it stays frozen in fusion."""

from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from training.checkpoint import CheckpointError, import_expert
from training.config import ConfigError, DetectorConfig, GammaConfig, LoraConfig, SefConfig
from training.detector import create_detector
from training.runs import TrainConfig
from tests.training_pipeline.conftest import trained_checkpoint as _trained_donor
from training.train import Stage, plan_stages, train

MIXED = DetectorConfig(backbone="tiny_vit", crop_size=32)
SEF = DetectorConfig(backbone="tiny_vit", crop_size=32, method="sef", sef=SefConfig(experts=("upsample", "reconstruct")))


def test_an_imported_expert_gives_the_donors_logit(tmp_path):
    donor = _trained_donor(tmp_path / "donor")
    torch.manual_seed(2)
    fused = create_detector(SEF)
    backbone = {k: v for k, v in donor.state_dict().items() if k in donor.pretrained_state_keys()}
    fused.load_state_dict(backbone, strict=False)  # tiny_vit is random: share the donor's backbone
    import_expert(fused, "upsample", tmp_path / "donor")
    fused.set_stage("expert:upsample")
    images = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(fused.eval().encoder(images).expert_logit, donor(images).logit, atol=1e-6)
        fused.set_stage("expert:reconstruct")  # the other expert was not touched
        assert not torch.allclose(fused.eval().encoder(images).expert_logit, donor(images).logit, atol=1e-3)


def test_an_sef_donor_gives_its_expert_and_a_gamma_donor_its_lora(tmp_path):
    donor = _trained_donor(tmp_path / "sef", SEF)
    torch.manual_seed(3)
    fused = create_detector(replace(SEF, sef=SefConfig(experts=("reconstruct", "inpaint"))))
    fused.load_state_dict({k: v for k, v in donor.state_dict().items() if k in donor.pretrained_state_keys()}, strict=False)
    import_expert(fused, "reconstruct", tmp_path / "sef")
    images = torch.rand(2, 3, 32, 32)
    donor.set_stage("expert:reconstruct")
    fused.set_stage("expert:reconstruct")
    with torch.no_grad():
        assert torch.allclose(fused.eval().encoder(images).expert_logit, donor.eval().encoder(images).expert_logit, atol=1e-6)
    with pytest.raises(CheckpointError, match="has no such LoRA"):
        import_expert(fused, "inpaint", tmp_path / "sef")  # the SEF donor has no inpaint expert
    gamma = _trained_donor(tmp_path / "gamma", replace(MIXED, gamma=GammaConfig(enabled=True, seg_dim=8)))
    import_expert(fused, "inpaint", tmp_path / "gamma")
    lora = next(k for k in gamma.state_dict() if ".adapters.default.lora_B" in k)
    assert torch.equal(fused.state_dict()[lora.replace(".default.", ".inpaint.")], gamma.state_dict()[lora])
    assert all(not p.any() for p in fused.encoder.expert_heads["inpaint"].parameters())  # no head given: a neutral verdict


def test_a_donor_that_does_not_fit_is_refused(tmp_path):
    _trained_donor(tmp_path / "rank4", replace(MIXED, lora=LoraConfig(rank=4)))
    with pytest.raises(CheckpointError, match="differs from this detector in lora"):
        import_expert(create_detector(SEF), "upsample", tmp_path / "rank4")
    with pytest.raises(CheckpointError, match="has no config.json"):
        import_expert(create_detector(SEF), "upsample", tmp_path / "nowhere")


def test_a_low_level_donor_becomes_an_expert_with_its_own_targets(tmp_path):
    low_level = ("patch_embed", "blocks.0.attn.qkv")  # tiny_vit's patch embedding is an 8x8 strided Conv2d
    spatial = LoraConfig(spatial=True)
    donor = _trained_donor(tmp_path / "low", replace(MIXED, lora=replace(spatial, targets=low_level)))
    fused = create_detector(replace(SEF, lora=spatial, sef=SefConfig(experts=("upsample", "reconstruct"),
                                                                   expert_targets={"upsample": low_level})))
    # share the donor's random backbone; a layer wrapped in one model only has another key there
    bare = {k.replace(".base_layer", ""): v for k, v in donor.state_dict().items() if k in donor.pretrained_state_keys()}
    fused.load_state_dict({k: bare[k.replace(".base_layer", "")] for k in fused.pretrained_state_keys()}, strict=False)
    import_expert(fused, "upsample", tmp_path / "low")
    assert list(fused.encoder.backbone.patch_embed.adapters) == ["upsample"]
    fused.set_stage("expert:upsample")
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(fused.eval().encoder(images).expert_logit, donor(images).logit, atol=1e-6)
    with pytest.raises(CheckpointError, match="differs from this detector in lora"):
        import_expert(fused, "reconstruct", tmp_path / "low")  # that expert sits in the default layers


def test_an_imported_experts_stage_is_skipped():
    config = TrainConfig(epochs=3, expert_epochs=5, expert_init={"upsample": "somewhere"})
    assert plan_stages(SEF, config) == [Stage("expert:reconstruct", ("reconstruct",), 5), Stage("fusion", None, 3)]


def test_training_keeps_the_imported_expert_frozen(flat_manifest, tmp_path):
    _trained_donor(tmp_path / "donor")
    donated = load_file(str(tmp_path / "donor" / "model.safetensors"))
    config = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1, expert_epochs=1,
                         expert_init={"reconstruct": str(tmp_path / "donor")})  # the set's fakes are upsamples
    checkpoint = train(SEF, config, tmp_path / "run", resume=False, progress=False)
    saved = load_file(str(checkpoint / "model.safetensors"))
    for key, value in donated.items():
        if ".adapters.default." in key:
            assert torch.equal(saved[key.replace(".adapters.default.", ".adapters.reconstruct.")], value)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "expert reconstruct imported" in log and "stage expert:reconstruct" not in log
    assert "stage expert:upsample" in log and "stage fusion" in log


def test_an_import_for_an_expert_the_detector_lacks_is_refused(flat_manifest, tmp_path):
    config = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1,
                         expert_init={"inpaint": str(tmp_path)})
    with pytest.raises(ConfigError, match="not SEF experts"):
        train(SEF, config, tmp_path / "run", resume=False, progress=False)


def test_the_train_command_says_which_expert_cannot_be_imported(flat_manifest, tmp_path, capsys):
    from training.__main__ import main

    config = tmp_path / "run.toml"
    config.write_text('[detector]\nbackbone = "tiny_vit"\ncrop_size = 32\nmethod = "sef"\n'
                      '[detector.sef]\nexperts = ["upsample", "reconstruct"]\n'
                      f'[training.expert_init]\nupsample = "{tmp_path / "missing"}"\n')
    assert main(["train", "--config", str(config), "--run", str(tmp_path / "run"), "--manifest", str(flat_manifest),
                 "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "expert 'upsample'" in error and "has no config.json" in error
