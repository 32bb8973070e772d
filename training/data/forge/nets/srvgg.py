"""SRVGGNetCompact (Real-ESRGAN's compact net): a plain stack of 3x3 convs at the input
resolution, a pixel shuffle at the end, and the nearest-upsampled input added back, so the
convs only learn the residual. State-dict layout (BasicSR):

    body.0                  conv 3 -> nf       body.1   activation (PReLU: one slope per channel)
    body.2k, body.2k+1      conv nf -> nf, activation, for k = 1..num_conv
    body.{2*num_conv+2}     conv nf -> 3*scale**2, then PixelShuffle(scale)

RGB in and out, values in [0, 1]."""
from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn


class SRVGGNetCompact(nn.Module):
    def __init__(self, in_ch: int = 3, out_ch: int = 3, nf: int = 64, num_conv: int = 16, scale: int = 4):
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(in_ch, nf, 3, padding=1), nn.PReLU(nf)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(nf, nf, 3, padding=1), nn.PReLU(nf)]
        layers.append(nn.Conv2d(nf, out_ch * scale * scale, 3, padding=1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.scale, mode="nearest")

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> SRVGGNetCompact:
        if "body.0.weight" not in state:
            raise ValueError("not an SRVGGNetCompact state dict (no body.0.weight)")
        last = max(int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.", k)))
        in_ch = state["body.0.weight"].shape[1]
        out_ch = in_ch  # the file cannot tell out_ch from scale apart; every published SRVGG is RGB -> RGB
        scale = math.isqrt(state[f"body.{last}.weight"].shape[0] // out_ch)
        if out_ch * scale * scale != state[f"body.{last}.weight"].shape[0]:
            raise ValueError(f"last conv has {state[f'body.{last}.weight'].shape[0]} channels: not 3 x scale**2")
        # a PReLU stores its slopes under the activation's index; ReLU and LeakyReLU store
        # nothing, so which of the two a file was trained with cannot be read from it
        if "body.1.weight" not in state:
            raise ValueError("SRVGG state dict without PReLU slopes: its activation (ReLU or LeakyReLU) is unknown")
        net = cls(in_ch, out_ch, nf=state["body.0.weight"].shape[0], num_conv=(last - 2) // 2, scale=scale)
        net.load_state_dict(state, strict=True)
        return net
