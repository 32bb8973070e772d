"""The budgeted loop that trains the forge's own networks (gan_training), driven by injected
clocks, and train_autoencoder's command run for real on a tiny corpus, then resumed."""

import itertools
import json

import torch

from training.data.forge import autoencoder, gan_losses, gan_training, train_autoencoder


def _tiny_trainer():
    torch.manual_seed(0)
    model = autoencoder.Autoencoder(autoencoder.AutoencoderConfig(channels=(8, 8), latent_channels=4, groups=4))
    return train_autoencoder.Trainer(model, discriminator=gan_losses.PatchDiscriminator(channels=8, layers=2))


def _clock(step):
    ticks = itertools.count(0, step)
    return lambda: float(next(ticks))


def _batch():
    return (torch.rand(2, 3, 16, 16) * 2 - 1,)


def test_the_loop_spends_its_cpu_budget_switches_the_gan_on_and_checkpoints():
    saved = []
    budget = gan_training.Budget(minutes=1, gan_start_minutes=0.5, max_wall_minutes=60, checkpoint_minutes=0.25)
    progress = gan_training.train_within_budget(_tiny_trainer(), _batch, budget, {}, lambda p: saved.append(p.steps),
                                                cpu_clock=_clock(10), wall_clock=_clock(0))
    # CPU elapsed 10..50 s train (60 s is the budget); the GAN from 30 s on; saves once 15, 30 and 45 s are passed
    assert (progress.steps, progress.gan_steps) == (5, 3)
    assert saved == [2, 3, 5]


def test_a_resumed_network_counts_its_warm_up_over_all_runs_and_the_wall_cap_stops_it():
    budget = gan_training.Budget(minutes=1, gan_start_minutes=0.5, max_wall_minutes=1, checkpoint_minutes=10)
    progress = gan_training.train_within_budget(_tiny_trainer(), _batch, budget, {"train_cpu_seconds": 30, "steps": 7},
                                                lambda p: None, cpu_clock=_clock(10), wall_clock=_clock(25))
    assert (progress.steps, progress.gan_steps) == (2, 2)  # wall 25, 50 s; 75 s > 60 s stops it
    assert progress.totals({"train_cpu_seconds": 30, "steps": 7})["steps"] == 9


def test_train_autoencoder_runs_saves_and_resumes(tiny_corpus, tmp_path, capsys):
    out, state = tmp_path / "ae", tmp_path / "state"
    common = ["--corpus", str(tiny_corpus), "--out", str(out), "--state", str(state), "--batch", "2", "--crop", "32",
              "--perceptual-weight", "0", "--gan-start-minutes", "0", "--threads", "1"]
    assert train_autoencoder.main(common + ["--design", "kl-f4-nearest", "--max-steps", "3"]) == 0
    first = json.loads((out / "autoencoder.json").read_text())["metrics"]
    assert (first["steps"], first["gan_steps"], first["design"]) == (3, 3, "kl-f4-nearest")
    assert (state / gan_training.DISCRIMINATOR_FILE).is_file()
    assert train_autoencoder.main(common + ["--resume", str(out), "--max-steps", "2"]) == 0
    second = json.loads((out / "autoencoder.json").read_text())["metrics"]
    assert (second["steps"], second["design"]) == (5, "kl-f4-nearest")
    assert second["train_cpu_seconds"] >= first["train_cpu_seconds"]
    assert second["val_centre512"]["images"] == 0  # five photos leave the val split empty: said, not NaN
