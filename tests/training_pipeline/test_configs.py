"""Every committed training config parses and builds its detector (random weights where none ship):
a config that no longer fits the code fails here, not hours into a run."""

from pathlib import Path

import pytest
import torch

from training.backbones import backbone_entry
from training.checkpoint import import_expert, warm_start
from training.detector import create_detector
from training.distill import load_teacher
from training.runs import load_run_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").rglob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: str(path.relative_to(path.parents[1])))
def test_config_loads_and_builds(path):
    detector_config, train_config = load_run_config(path)
    assert train_config.batch_size >= 1
    packaged = backbone_entry(detector_config.backbone).packaged_weights or detector_config.weights is not None
    detector = create_detector(detector_config, weights=None if packaged else "random")  # e.g. tiny_vit
    total, trainable = detector.parameter_counts()
    assert 0 < trainable < total


def _starts_from_checkpoints(path):
    training = load_run_config(path)[1]
    return bool(training.expert_init or training.init_from or training.distill_from)


STARTS_FROM_CHECKPOINTS = [path for path in CONFIGS if _starts_from_checkpoints(path)]


@pytest.mark.parametrize("path", STARTS_FROM_CHECKPOINTS, ids=lambda path: str(path.relative_to(path.parents[1])))
def test_the_checkpoints_a_config_starts_from_are_committed_and_fit(path):
    detector_config, train_config = load_run_config(path)
    root = Path(__file__).resolve().parents[2]
    detector = create_detector(detector_config)
    for expert, source in sorted(train_config.expert_init.items()):
        import_expert(detector, expert, root / source)
    if train_config.init_from:
        warm_start(detector, root / train_config.init_from)
    if train_config.distill_from:  # the teacher sees the student's crops and has the experts it mixes
        load_teacher(root / train_config.distill_from, detector, torch.device("cpu"))


SHIPPED_FUSION = Path(__file__).resolve().parents[2] / "configs" / "lite0-sef-gamma-v12.toml"


@pytest.mark.parametrize("variant", ["jpeg30", "npm"])
def test_an_experts_variant_trains_on_each_shipped_expert_as_its_chain_swaps_them(variant):
    """scripts/experts_candidate.sh trains configs/VARIANT/lite0-<expert>-VARIANT.toml for each of version 12's
    experts and puts the result where the fusion names the shipped one: a config started from another expert's
    checkpoint, or trained on another domain, would be found only after hours, in a fusion that mixes them up."""
    root = SHIPPED_FUSION.parents[1]
    shipped = load_run_config(SHIPPED_FUSION)[1].expert_init
    script = (root / "scripts" / "experts_candidate.sh").read_text()
    for expert, checkpoint in shipped.items():
        training = load_run_config(root / "configs" / variant / f"lite0-{expert}-{variant}.toml")[1]
        assert training.init_from == checkpoint and tuple(training.train_domains) == (expert,)
        assert f"[{expert}]={Path(checkpoint).name}" in script  # the name the chain replaces
