"""Multilayer perceptron G and D, for toy mixtures and flat vectors (and small flattened images).

``img_resolution = 0`` means flat vectors of ``img_channels`` features (toys: img_channels = 2);
otherwise samples are C×R×R images and G ends in tanh.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import LabelEmbedding, LabelProjection


def _numel(img_resolution: int, img_channels: int) -> int:
    return img_channels * (img_resolution**2 if img_resolution else 1)


class Generator(nn.Module):
    """``forward(z: N×z_dim, c: N int64 | None) -> N×img_channels`` (or N×C×R×R images in [-1, 1])."""

    def __init__(self, z_dim: int = 2, c_dim: int = 0, img_resolution: int = 0, img_channels: int = 2,
                 width: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.cond = LabelEmbedding(c_dim, min(z_dim, 64) if c_dim else 0)
        layers: list[nn.Module] = []
        fan_in = z_dim + self.cond.out_extra
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        layers.append(nn.Linear(fan_in, _numel(img_resolution, img_channels)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.net(self.cond(z, c))
        if self.img_resolution:
            return torch.tanh(x).view(-1, self.img_channels, self.img_resolution, self.img_resolution)
        return x


class Discriminator(nn.Module):
    """``forward(x: N×img_channels or N×C×R×R, c: N int64 | None) -> N`` raw logits."""

    def __init__(self, c_dim: int = 0, img_resolution: int = 0, img_channels: int = 2,
                 width: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        layers: list[nn.Module] = []
        fan_in = _numel(img_resolution, img_channels)
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.LeakyReLU(0.2)]
            fan_in = width
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(fan_in, 1)
        self.proj = LabelProjection(c_dim, fan_in) if c_dim > 0 else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x.flatten(1))
        logits = self.out(h).squeeze(1)
        return logits + self.proj(h, c) if self.proj is not None else logits


def check_config(cfg) -> None:  # noqa: ANN001 - Config
    """MLP works on anything; nothing to check beyond field ranges."""
    del cfg


def options(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    """G and D constructor arguments from the model config and the data."""
    if info.kind == "toy":
        res, ch = 0, info.shape[0]
    else:
        ch, res = info.shape[0], info.shape[1]
    c_dim = info.num_classes if cfg.conditional else 0
    common = {"c_dim": c_dim, "img_resolution": res, "img_channels": ch, "depth": cfg.depth}
    return ({"z_dim": cfg.z_dim, "width": cfg.g_width, **common}, {"width": cfg.d_width, **common})


