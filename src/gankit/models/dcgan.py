"""DCGAN (Radford, Metz & Chintala 2016), any power-of-two resolution from 8 to 256.

Following the paper's guidelines: strided convolutions in D and fractionally-strided (transposed)
convolutions in G instead of pooling; batch norm in G except the output layer and in D except the input
layer; ReLU in G with tanh at the output; LeakyReLU(0.2) in D; weights N(0, 0.02).

Widths double towards the 4×4 end: at 32×32 with ``width=64`` G has 256-128-64 channels at 4-8-16 and D
has 64-128-256 at 16-8-4 (the canonical layout). Conditional models (c_dim > 0): G joins a label
embedding to z; D uses a projection head on the globally summed last feature map.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from .layers import LabelEmbedding, LabelProjection, dcgan_init, widths


def _stages(img_resolution: int) -> int:
    s = int(math.log2(img_resolution)) - 2
    if 2 ** (s + 2) != img_resolution or not 8 <= img_resolution <= 256:
        raise ValueError(f"DCGAN resolution must be a power of two from 8 to 256, got {img_resolution}")
    return s


class Generator(nn.Module):
    """``forward(z: N×z_dim, c: N int64 | None) -> N×img_channels×R×R`` in [-1, 1]."""

    def __init__(self, z_dim: int = 100, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3,
                 width: int = 64, max_width: int = 512) -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        ch = widths(width, _stages(img_resolution), max_width)
        self.cond = LabelEmbedding(c_dim, min(z_dim, 64) if c_dim else 0)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + self.cond.out_extra, ch[0], 4, 1, 0, bias=False),  # 1×1 -> 4×4
            nn.BatchNorm2d(ch[0]), nn.ReLU(True),
        ]
        for cin, cout in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ch[-1], img_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.cond(z, c)
        return self.net(h[:, :, None, None])


class Discriminator(nn.Module):
    """``forward(x: N×img_channels×R×R, c: N int64 | None) -> N`` raw logits."""

    def __init__(self, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3,
                 width: int = 64, max_width: int = 512) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        ch = list(reversed(widths(width, _stages(img_resolution), max_width)))  # R/2 ... 4×4
        layers: list[nn.Module] = [nn.Conv2d(img_channels, ch[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for cin, cout in zip(ch[:-1], ch[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)  # N×ch[-1]×4×4
        self.out = nn.Conv2d(ch[-1], 1, 4, 1, 0)  # the paper's final 4×4 convolution to one logit
        self.proj = LabelProjection(c_dim, ch[-1]) if c_dim > 0 else None
        dcgan_init(self)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        logits = self.out(h).flatten()
        if self.proj is not None:
            logits = logits + self.proj(h.sum(dim=(2, 3)), c)  # projection on globally summed features
        return logits


def check_config(cfg) -> None:  # noqa: ANN001 - Config
    if cfg.data.name in ("ring", "grid", "mog1d"):
        raise ConfigError(f"model.name: dcgan needs image data, not {cfg.data.name!r}; use model.name=mlp for toys")
    r = cfg.data.resolution
    if not (8 <= r <= 256 and r & (r - 1) == 0):
        raise ConfigError(f"data.resolution: {r} is not allowed for dcgan; use a power of two from 8 to 256")


def options(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    c_dim = info.num_classes if cfg.conditional else 0
    common = {"c_dim": c_dim, "img_resolution": info.shape[1], "img_channels": info.shape[0], "max_width": cfg.max_width}
    return ({"z_dim": cfg.z_dim, "width": cfg.g_width, **common}, {"width": cfg.d_width, **common})
