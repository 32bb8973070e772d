"""Which records each training stage reads: ``plan_stages`` (one stage, or SEF's expert stages then
fusion) and ``RecordFilter`` (split, fake domain, excluded generators, variants)."""

from dataclasses import replace

import pytest

import training.train as train_module
from training.config import ConfigError, DetectorConfig, SefConfig
from training.data import manifest
from training.runs import TrainConfig
from training.train import Stage, plan_stages, train
from training.train_data import RecordFilter, TrainingSet

SEF = DetectorConfig(backbone="tiny_vit", crop_size=32, method="sef", sef=SefConfig(experts=("upsample", "reconstruct")))


def test_a_single_stage_method_trains_once_on_the_training_domains():
    config = TrainConfig(train_domains=("upsample",), epochs=3, expert_epochs=5)
    assert plan_stages(DetectorConfig(backbone="tiny_vit"), config) == [Stage("train", ("upsample",), 3)]
    mole = DetectorConfig(backbone="tiny_vit", adapter="mole")
    assert plan_stages(mole, TrainConfig(epochs=2)) == [Stage("train", None, 2)]


def test_sef_trains_each_expert_on_its_own_domain_then_fuses_on_all():
    stages = plan_stages(SEF, TrainConfig(epochs=3, expert_epochs=5))
    assert stages == [Stage("expert:upsample", ("upsample",), 5), Stage("expert:reconstruct", ("reconstruct",), 5),
                      Stage("fusion", None, 3)]
    limited = plan_stages(SEF, TrainConfig(train_domains=("reconstruct", "upsample"), epochs=3))
    assert limited[-1] == Stage("fusion", ("reconstruct", "upsample"), 3)


def test_sef_refuses_an_expert_whose_domain_is_not_trained_on():
    with pytest.raises(ConfigError, match="'reconstruct' needs its domain"):
        plan_stages(SEF, TrainConfig(train_domains=("upsample",)))


def _record(split="train", label=1, domain="upsample", generator="esrgan", variant=""):
    return manifest.Record(path=f"{split}/{domain}.png", label=label, domain=domain, source_id="photo", split=split,
                           format="png", mode="RGB", width=32, height=32, bytes=1, generator=generator,
                           variant=variant)


def test_record_filter_keeps_reals_and_the_stage_domains_fakes_of_its_split():
    expert = RecordFilter("train", ("upsample",))
    assert expert(_record(label=0, domain="real", generator=""))
    assert expert(_record(domain="upsample"))
    assert not expert(_record(domain="reconstruct", generator="vae"))
    assert not expert(_record(split="val"))
    assert not expert(_record(split="val", label=0, domain="real", generator=""))
    assert RecordFilter("train", None)(_record(domain="inpaint", generator="mix"))


def test_record_filter_excludes_generators_of_fakes_only_and_variants_of_all():
    leave_out = RecordFilter("train", None, exclude_generators=("esrgan",))
    assert not leave_out(_record(generator="realesrgan-x4plus"))  # a substring names the generator
    assert leave_out(_record(generator="waifu2x"))
    assert leave_out(_record(label=0, domain="real", generator="esrgan"))  # reals are never left out
    aligned = RecordFilter("train", None, variants=("",))
    assert aligned(_record()) and aligned(_record(label=0, domain="real"))
    assert not aligned(_record(variant="p0")) and not aligned(_record(label=0, domain="real", variant="p0"))


def test_each_sef_stage_reads_what_its_filter_says(flat_manifest, tmp_path, monkeypatch):
    """The real training loop on a manifest with every kind of record: what each stage's dataset holds."""
    records = manifest.read(flat_manifest)
    fakes = [r for r in records if r.label == 1]
    extra = ([replace(r, domain="reconstruct", generator="vae-ft") for r in fakes]
             + [replace(r, domain="regenerate", generator="oidn-denoise") for r in fakes]
             + [replace(r, variant="p0") for r in records])
    path = tmp_path / "mixed-manifest.jsonl"
    manifest.write(records + extra, path)
    for record in records:  # the manifest's paths are relative to its folder
        target = tmp_path / record.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(manifest.resolve(flat_manifest, record.path))

    seen = []

    class Spy(TrainingSet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append({(r.split, r.label, r.domain, r.variant) for r in self.records})

    monkeypatch.setattr(train_module, "TrainingSet", Spy)
    config = TrainConfig(manifest=str(path), batch_size=4, steps_per_epoch=1, epochs=1, expert_epochs=1,
                         exclude_generators=("oidn",), variants=("",))
    train(SEF, config, tmp_path / "run", resume=False, progress=False)
    real = ("train", 0, "real", "")
    assert seen == [
        {real, ("train", 1, "upsample", "")},  # expert:upsample
        {real, ("train", 1, "reconstruct", "")},  # expert:reconstruct
        {real, ("train", 1, "upsample", ""), ("train", 1, "reconstruct", "")},  # fusion: no oidn, no p0, no val
    ]
