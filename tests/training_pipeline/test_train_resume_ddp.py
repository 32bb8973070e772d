"""Training mechanics: an interrupted run resumes to the same weights, and two gloo processes
under DistributedDataParallel agree with one process."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.config import ConfigError, DetectorConfig, LoraConfig
from training.detector import create_detector
from training.runs import RunFolder, TrainConfig, autocast_dtype
from training.train import load_trainable_state, train, trainable_state

ROOT = Path(__file__).resolve().parents[2]


def _weights(run):
    return load_file(str(Path(run) / "checkpoint" / "model.safetensors"))


def _assert_same(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0 if atol == 0 else 1e-4, msg=key)


def test_interrupted_run_resumes_to_the_same_weights(flat_manifest, tmp_path, monkeypatch):
    detector = DetectorConfig(backbone="tiny_vit", crop_size=32)  # mixed: one stage, two epochs
    config = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=2, epochs=2)
    train(detector, config, tmp_path / "straight", resume=False, progress=False)

    saves = []
    original = RunFolder.save_resume

    def save_then_crash(self, state):
        original(self, state)
        saves.append(state["epoch"])
        raise KeyboardInterrupt  # the process dies right after epoch 1's state is on disk

    monkeypatch.setattr(RunFolder, "save_resume", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(detector, config, tmp_path / "interrupted", resume=False, progress=False)
    monkeypatch.setattr(RunFolder, "save_resume", original)
    assert saves == [0] and not (tmp_path / "interrupted" / "checkpoint").exists()
    train(detector, config, tmp_path / "interrupted", resume=True, progress=False)
    _assert_same(_weights(tmp_path / "straight"), _weights(tmp_path / "interrupted"))
    log = (tmp_path / "interrupted" / "train.log").read_text()
    assert "resumed at stage 0 epoch 0" in log


def test_a_run_whose_config_changed_is_not_resumed(flat_manifest, tmp_path):
    detector = DetectorConfig(backbone="tiny_vit", crop_size=32)
    config = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1)
    run = tmp_path / "run"
    train(detector, config, run, resume=False, progress=False)
    saved = (run / "run_config.json").read_text()
    changed = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1, lr=2e-3)
    other_rank = DetectorConfig(backbone="tiny_vit", crop_size=32, lora=LoraConfig(rank=4))
    with pytest.raises(ConfigError, match=r"training\.lr: 0\.001 -> 0\.002") as refused:
        train(other_rank, changed, run, resume=True, progress=False)
    assert "detector.lora.rank: 8 -> 4" in str(refused.value) and "--no-resume" in str(refused.value)
    assert (run / "run_config.json").read_text() == saved  # the refused config was not written over it
    # how the run executes (threads, workers, device, caching) may change between sessions
    again = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1, threads=1,
                        cache_decoded=True)
    train(detector, again, run, resume=True, progress=False)
    # and starting over is always allowed
    train(other_rank, changed, run, resume=False, progress=False)
    assert '"rank": 4' in (run / "run_config.json").read_text()


def test_a_run_from_before_a_new_config_field_resumes_when_the_field_is_at_its_default(flat_manifest, tmp_path):
    # An ablation run stopped before `training.init_from` existed could not resume ("(absent) -> """).
    import json

    detector = DetectorConfig(backbone="tiny_vit", crop_size=32)
    config = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1)
    run = RunFolder(tmp_path / "run")
    run.save_config(detector, config)
    saved = json.loads((run.path / "run_config.json").read_text())
    del saved["training"]["init_from"]
    (run.path / "run_config.json").write_text(json.dumps(saved))
    assert run.config_changes(detector, config) == []
    warm = TrainConfig(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=1, epochs=1, init_from="runs/x")
    assert run.config_changes(detector, warm) == ['training.init_from: (absent) -> "runs/x"']


def test_a_saved_state_must_fit_the_detector_exactly():
    detector = create_detector(DetectorConfig(backbone="tiny_vit", crop_size=32))
    state = trainable_state(detector)
    load_trainable_state(detector, state)  # every trainable key, none of the pretrained ones
    adapter_key = next(key for key in state if "lora_A" in key)
    with pytest.raises(ConfigError, match="missing"):
        load_trainable_state(detector, {k: v for k, v in state.items() if k != adapter_key})
    with pytest.raises(ConfigError, match="unexpected.*head.extra"):
        load_trainable_state(detector, {**state, "head.extra": torch.zeros(1)})


SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from training.config import DetectorConfig
from training.runs import TrainConfig
from training.train import train
# LoRA: its loss is a mean over images, so half batches on two processes average to the whole batch
# (MoLE's load-balancing term is a batch statistic, and agrees only approximately).
detector = DetectorConfig(backbone="tiny_vit", crop_size=32)
config = TrainConfig(manifest=sys.argv[1], batch_size=4, steps_per_epoch=3, epochs=1, lr=5e-3)
train(detector, config, sys.argv[2], resume=False, progress=False)
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(script, manifest, run, world):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
           "WORLD_SIZE": str(world), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(manifest), str(run)],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}, cwd=ROOT) for r in range(world)]
    assert [p.wait(timeout=120) for p in procs] == [0] * world


def test_two_gloo_processes_agree_with_one(flat_manifest, tmp_path):
    script = SCRIPT
    _launch(script, flat_manifest, tmp_path / "one", 1)
    _launch(script, flat_manifest, tmp_path / "two", 2)
    _assert_same(_weights(tmp_path / "one"), _weights(tmp_path / "two"), atol=1e-5)
    # and training moved the weights at all (the comparison is not between two untouched models)
    untouched = tmp_path / "zero"
    script_zero = script.replace("lr=5e-3", "lr=1e-12")
    _launch(script_zero, flat_manifest, untouched, 1)
    changed = _weights(tmp_path / "one")["head.fc.weight"] - _weights(untouched)["head.fc.weight"]
    assert changed.abs().max() > 1e-4


def test_bf16_autocast_and_channels_last_train_close_to_fp32(flat_manifest, tmp_path):
    # A conv backbone, so channels_last really changes the memory layout the convolutions see.
    detector = DetectorConfig(backbone="efficientnet_lite0", crop_size=32)
    base = dict(manifest=str(flat_manifest), batch_size=4, steps_per_epoch=2, epochs=1, lr=5e-3)
    train(detector, TrainConfig(**base, channels_last=False), tmp_path / "fp32", resume=False, progress=False)
    train(detector, TrainConfig(**base, channels_last=True), tmp_path / "nhwc", resume=False, progress=False)
    train(detector, TrainConfig(**base, autocast="bf16"), tmp_path / "bf16", resume=False, progress=False)
    fp32, nhwc, bf16 = (_weights(tmp_path / name) for name in ("fp32", "nhwc", "bf16"))
    _assert_same(fp32, nhwc, atol=1e-5)
    if autocast_dtype("bf16", "cpu") is None:  # no native bf16 here: the run trained in fp32 instead
        _assert_same(fp32, bf16, atol=1e-5)
        return
    # bf16 keeps 8 mantissa bits: the same direction of travel, not the same digits. (Adam's first
    # steps are nearly sign updates, so single small entries may flip: compare the whole update.)
    trained = [key for key in fp32 if key.endswith("lora_B.weight") or key.startswith("head")]
    assert trained and all(torch.isfinite(bf16[key]).all() for key in trained)
    update_fp32 = torch.cat([fp32[key].flatten() for key in trained])
    update_bf16 = torch.cat([bf16[key].flatten() for key in trained])
    assert update_fp32.abs().max() > 0  # training moved the weights at all
    assert torch.nn.functional.cosine_similarity(update_fp32, update_bf16, dim=0) > 0.9


def test_bf16_autocast_runs_only_where_the_cpu_has_native_bf16():
    # Emulated bf16 trained ~10x slower than fp32 on an AVX2-only CPU: such CPUs train in fp32.
    assert autocast_dtype("bf16", "cpu", cpu_bf16_native=False) is None
    assert autocast_dtype("bf16", "cpu", cpu_bf16_native=True) is torch.bfloat16
    assert autocast_dtype("bf16", "cuda", cpu_bf16_native=False) is torch.bfloat16
    assert autocast_dtype("fp16", "cpu", cpu_bf16_native=False) is torch.float16
    assert autocast_dtype(None, "cpu") is None
    # this machine's own answer follows its CPU
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert autocast_dtype("bf16", "cpu") is (torch.bfloat16 if native else None)


def test_an_unknown_autocast_precision_is_refused():
    from training.config import ConfigError

    with pytest.raises(ConfigError, match="autocast"):
        TrainConfig(autocast="int8")
