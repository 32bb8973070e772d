"""ESRGAN's RRDB network (Wang et al. 2018), in the "old ESRGAN" layout that community
models such as NMKD's are saved in: one flat `model` Sequential whose indices are the keys.

    model.0                 first conv, 3 -> nf
    model.1.sub.{0..nb-1}   residual-in-residual dense blocks (RRDB1..3 of 5 convs each)
    model.1.sub.{nb}        trunk conv; model.1 adds its input back (a shortcut)
    then per x2 stage:      nearest x2, conv, LeakyReLU
    then                    HR conv, LeakyReLU, last conv nf -> 3

RGB in and out, values in [0, 1]."""
from __future__ import annotations

import re

import torch
from torch import nn

_SLOPE = 0.2  # ESRGAN uses LeakyReLU(0.2) everywhere


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


def _conv_act(cin: int, cout: int) -> nn.Sequential:
    # old ESRGAN wraps every conv in a Sequential (conv, act): hence the ".0" in "conv1.0.weight"
    return nn.Sequential(_conv(cin, cout), nn.LeakyReLU(_SLOPE, inplace=True))


class DenseBlock(nn.Module):
    """Five convs, each seeing the input and all earlier outputs; residual scaled by 0.2."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.conv1 = _conv_act(nf, gc)
        self.conv2 = _conv_act(nf + gc, gc)
        self.conv3 = _conv_act(nf + 2 * gc, gc)
        self.conv4 = _conv_act(nf + 3 * gc, gc)
        self.conv5 = nn.Sequential(_conv(nf + 4 * gc, nf))  # no activation on the last one

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(conv(torch.cat(features, 1)))
        return x + 0.2 * self.conv5(torch.cat(features, 1))


class RRDB(nn.Module):
    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.RDB1, self.RDB2, self.RDB3 = DenseBlock(nf, gc), DenseBlock(nf, gc), DenseBlock(nf, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.RDB3(self.RDB2(self.RDB1(x)))


class Shortcut(nn.Module):
    def __init__(self, sub: nn.Module):
        super().__init__()
        self.sub = sub

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sub(x)


class RRDBNet(nn.Module):
    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4):
        super().__init__()
        if scale not in (1, 2, 4, 8):
            raise ValueError(f"RRDBNet upsamples in x2 stages; scale {scale} is not a power of two up to 8")
        self.scale = scale
        trunk = nn.Sequential(*(RRDB(nf, gc) for _ in range(nb)), _conv(nf, nf))
        layers: list[nn.Module] = [_conv(in_nc, nf), Shortcut(trunk)]
        for _ in range(scale.bit_length() - 1):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(nf, nf), nn.LeakyReLU(_SLOPE, inplace=True)]
        layers += [_conv(nf, nf), nn.LeakyReLU(_SLOPE, inplace=True), _conv(nf, out_nc)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> RRDBNet:
        if "model.1.sub.0.RDB1.conv1.0.weight" not in state:
            raise ValueError("not an old-layout ESRGAN RRDB state dict (no model.1.sub.0.RDB1.conv1.0.weight)")
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB1\.", k))}
        nb = max(blocks) + 1
        # convs after the trunk: one per x2 stage, then the HR conv and the last conv
        tail = sorted({int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.weight$", k)) and int(m.group(1)) > 1})
        scale = 2 ** (len(tail) - 2)
        net = cls(in_nc=state["model.0.weight"].shape[1], out_nc=state[f"model.{tail[-1]}.weight"].shape[0],
                  nf=state["model.0.weight"].shape[0], nb=nb, gc=state["model.1.sub.0.RDB1.conv1.0.weight"].shape[0],
                  scale=scale)
        net.load_state_dict(state, strict=True)
        return net
