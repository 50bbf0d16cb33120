"""The context encoder (Pathak et al. 2016, "Context Encoders: Feature Learning by Inpainting") for inpainting, with a
PatchGAN discriminator (:mod:`gankit.models.patchgan`).

:class:`ContextEncoder` maps the masked image and its mask (N×(C+1)×R×R: the image with the hole set to 0, and the
mask, 1 in the hole) to a whole image N×C×R×R in [-1, 1] (tanh):

* encoder: 4×4 stride-2 convs (``channels``, doubling up to 8×; LeakyReLU 0.2, batch norm after the first) down to 4×4;
* the paper's **channel-wise fully-connected** bottleneck: each channel's 4×4 map is connected to itself by its own
  16×16 weight matrix (information spreads across positions without the m²n⁴ parameters of a full layer), then a
  1×1 (stride-1) convolution mixes the channels;
* decoder: 4×4 stride-2 transposed convs back to R×R (batch norm, ReLU), tanh.

The paper fills only the central region and feeds D that region; here G outputs the whole image so that any mask
works, and the task copies the known pixels back (``input·(1 − m) + G·m``), as later inpainting work does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..fields import option
from .patchgan import PatchDiscriminator, layers_for

Tensor = torch.Tensor


class ChannelwiseFC(nn.Module):
    """Per channel, a dense layer over its H·W positions (Pathak et al. §3.1): N×C×H×W -> N×C×H×W."""

    def __init__(self, ch: int, side: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(ch, side * side, side * side) / side)
        self.bias = nn.Parameter(torch.zeros(ch, side * side))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        out = torch.einsum("ncp,cpq->ncq", x.reshape(n, c, h * w), self.weight) + self.bias
        return out.reshape(n, c, h, w)


class ContextEncoder(nn.Module):
    """N×(C+1)×R×R (masked image, mask) -> N×C×R×R (see the module doc). R a power of two ≥ 16."""

    def __init__(self, img_resolution: int = 64, img_channels: int = 3, channels: int = 64) -> None:
        super().__init__()
        stages = int(math.log2(img_resolution)) - 2
        if 2 ** (stages + 2) != img_resolution or stages < 2:
            raise ConfigError(f"data.resolution: the context encoder needs a power of two ≥ 16; got {img_resolution}")
        self.img_resolution, self.img_channels = img_resolution, img_channels
        widths = [channels * min(2 ** i, 8) for i in range(stages)]
        enc: list[nn.Module] = []
        c = img_channels + 1
        for i, w in enumerate(widths):
            enc += [nn.Conv2d(c, w, 4, 2, 1), *([nn.BatchNorm2d(w)] if i else []), nn.LeakyReLU(0.2)]
            c = w
        self.encoder = nn.Sequential(*enc)
        self.bottleneck = nn.Sequential(ChannelwiseFC(c, 4), nn.ReLU(), nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU())
        dec: list[nn.Module] = []
        for w in reversed([img_channels, *widths[:-1]]):
            last = w == img_channels and len(dec) == 3 * (stages - 1)
            dec += [nn.ConvTranspose2d(c, w, 4, 2, 1)]
            dec += [nn.Tanh()] if last else [nn.BatchNorm2d(w), nn.ReLU()]
            c = w
        self.decoder = nn.Sequential(*dec)

    def forward(self, masked: Tensor, mask: Tensor) -> Tensor:
        return self.decoder(self.bottleneck(self.encoder(torch.cat([masked, mask], 1))))


@dataclass
class ContextEncoderOptions:
    """``model.*`` of the context-encoder family."""

    name: str = option("context-encoder", help="model family", registry="models")
    channels: int = option(64, help="G's first-layer channels (doubling to 8×)", low=1, high=1024)
    d_channels: int = option(64, help="PatchGAN D's first-layer channels", low=1, high=1024)
    d_layers: int = option(0, help="PatchGAN D's stride-2 layers (receptive field 16, 34, 70, 142, 286 px for 1-5); 0: sized to "
                                   "the resolution as 70×70 at 256²", low=0, high=5)
    d_norm: str = option("batch", help="PatchGAN D's normalization", choices=("batch", "instance", "none"))


def options(cfg: Any, info: Any) -> dict[str, dict]:
    res, ch = info.shape[-1], info.shape[0]
    return {"G": {"img_resolution": res, "img_channels": ch, "channels": cfg.channels},
            "D": {"img_channels": ch, "channels": cfg.d_channels, "layers": cfg.d_layers or layers_for(res), "norm": cfg.d_norm}}


def check_config(cfg: Any, schema: str) -> None:
    if schema != "pairs" or cfg.data.degrade != "mask":
        raise ConfigError("model.name: context-encoder fills holes; use data.name=photos with data.degrade=mask")
    r = cfg.data.resolution
    if r < 16 or r & (r - 1):
        raise ConfigError(f"data.resolution: the context encoder needs a power of two ≥ 16; got {r} (use 32, 64, 128)")


__all__ = ["ChannelwiseFC", "ContextEncoder", "ContextEncoderOptions", "PatchDiscriminator", "options", "check_config"]
