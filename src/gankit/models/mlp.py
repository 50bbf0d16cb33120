"""Multilayer perceptron G and D, for toy mixtures and flat vectors (and small flattened images).

``img_resolution = 0`` means flat vectors of ``img_channels`` features (toys: img_channels = 2);
otherwise samples are C×R×R images and G ends in tanh.

Stabilizers (off by default): ``spectral_norm`` normalizes every weight (Miyato et al. 2018); D's ``mbstd``
(Karras et al. 2018) and ``minibatch_discrimination`` (Salimans et al. 2016) append features to its last
hidden layer, which the output layer and the projection read.

The papers' 2-D mixture networks need a few more choices (every default keeps the original network):
``activation`` (``relu``: ReLU in G, LeakyReLU(0.2) in D; ``tanh``: tanh in both, as Metz et al.'s and GDPP's
mixture code), G's ``norm`` (``batch``: BatchNorm after each bias-free hidden layer, as PacGAN's G), D's ``maxout``
(k pieces per hidden unit, Goodfellow et al. 2013, as PacGAN's and ALI's D), separate hidden-layer counts, and the
weight ``init`` (``normal``: N(0, 0.02²) weights, zero biases, PacGAN/ALI; ``orthogonal``: orthogonal with gain 1.4,
zero biases, the unrolled-GAN notebook and GDPP).
"""
from __future__ import annotations

import torch
from torch import nn

from dataclasses import dataclass

from ..fields import option
from .layers import (LabelEmbedding, LabelProjection, MinibatchDiscrimination, MinibatchStdDev, apply_spectral_norm,
                     check_minibatch, nondefault)
from .options import GANModel, MinibatchFeatures, SpectralNorm


def _numel(img_resolution: int, img_channels: int) -> int:
    return img_channels * (img_resolution**2 if img_resolution else 1)


INITS = ("default", "normal", "orthogonal")
ORTHOGONAL_GAIN = 1.4  # poolio/unrolled_gan and GDPP's synthetic experiments


def init_weights(module: nn.Module, init: str) -> None:
    """Re-initialize every Linear of ``module``: ``normal`` N(0, 0.02²), ``orthogonal`` gain 1.4; biases 0 (``default``:
    PyTorch's own, unchanged)."""
    if init == "default":
        return
    for m in module.modules():
        if isinstance(m, nn.Linear):
            if init == "normal":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.orthogonal_(m.weight, gain=ORTHOGONAL_GAIN)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Maxout(nn.Module):
    """``forward(x: N×A) -> N×B``: the max over ``pieces`` affine maps per unit (Goodfellow et al. 2013)."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], -1, self.pieces).amax(dim=2)


class Generator(nn.Module):
    """``forward(z: N×z_dim, c: N int64 | None) -> N×img_channels`` (or N×C×R×R images in [-1, 1])."""

    def __init__(self, z_dim: int = 2, c_dim: int = 0, img_resolution: int = 0, img_channels: int = 2,
                 width: int = 128, depth: int = 3, spectral_norm: bool = False, activation: str = "relu",
                 norm: str = "none", init: str = "default") -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.cond = LabelEmbedding(c_dim, min(z_dim, 64) if c_dim else 0)
        layers: list[nn.Module] = []
        fan_in = z_dim + self.cond.out_extra
        for _ in range(depth):
            if norm == "batch":  # PacGAN's G: bias-free Linear -> BatchNorm -> ReLU
                layers += [nn.Linear(fan_in, width, bias=False), nn.BatchNorm1d(width, momentum=0.05)]  # their population update
            else:
                layers.append(nn.Linear(fan_in, width))
            layers.append(nn.Tanh() if activation == "tanh" else nn.ReLU())
            fan_in = width
        layers.append(nn.Linear(fan_in, _numel(img_resolution, img_channels)))
        self.net = nn.Sequential(*layers)
        init_weights(self.net, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.net(self.cond(z, c))
        if self.img_resolution:
            return torch.tanh(x).view(-1, self.img_channels, self.img_resolution, self.img_resolution)
        return x


class Discriminator(nn.Module):
    """``forward(x: N×img_channels or N×C×R×R, c: N int64 | None) -> N`` raw logits.

    ``head(h: N×width) -> N×(width + extra)`` appends the minibatch features (1 for mbstd, B for minibatch
    discrimination) to the last hidden layer.
    """

    def __init__(self, c_dim: int = 0, img_resolution: int = 0, img_channels: int = 2,
                 width: int = 128, depth: int = 3, spectral_norm: bool = False, mbstd: int = 0,
                 minibatch_discrimination: int = 0, minibatch_dims: int = 16, activation: str = "relu",
                 maxout: int = 0, init: str = "default") -> None:
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        layers: list[nn.Module] = []
        fan_in = _numel(img_resolution, img_channels)
        for _ in range(depth):
            if maxout:  # PacGAN's and ALI's D: maxout units, no other non-linearity
                layers.append(Maxout(fan_in, width, maxout))
            else:
                layers += [nn.Linear(fan_in, width), nn.Tanh() if activation == "tanh" else nn.LeakyReLU(0.2)]
            fan_in = width
        self.features = nn.Sequential(*layers)
        self.mbstd = MinibatchStdDev(mbstd) if mbstd else None
        self.mbd = MinibatchDiscrimination(fan_in, minibatch_discrimination, minibatch_dims) if minibatch_discrimination else None
        fan_in += (1 if mbstd else 0) + minibatch_discrimination
        self.out = nn.Linear(fan_in, 1)
        self.proj = LabelProjection(c_dim, fan_in) if c_dim > 0 else None
        init_weights(self.features, init)
        init_weights(self.out, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        parts = [self.mbstd(h) if self.mbstd is not None else h]
        if self.mbd is not None:
            parts.append(self.mbd(h)[:, h.shape[1]:])
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def embed(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """D's penultimate features, N×F (what ``out`` reads; feature matching, Salimans et al. 2016)."""
        del c  # the label enters only through the projection head
        return self.head(self.features(x.flatten(1)))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.head(self.features(x.flatten(1)))
        logits = self.out(h).squeeze(1)
        return logits + self.proj(h, c) if self.proj is not None else logits


@dataclass
class Options(MinibatchFeatures, SpectralNorm, GANModel):
    """``model.*`` of the mlp family."""

    name: str = option("mlp", help="model family", registry="models")
    depth: int = option(3, help="hidden layers of G and D", low=1, high=32)
    g_depth: int = option(0, help="hidden layers of G; 0: model.depth", low=0, high=32)
    d_depth: int = option(0, help="hidden layers of D; 0: model.depth", low=0, high=32)
    activation: str = option("relu", help="hidden non-linearity: relu (ReLU in G, LeakyReLU 0.2 in D) or tanh in both "
                                          "(Metz et al. 2017's and GDPP's mixture networks)", choices=("relu", "tanh"))
    g_norm: str = option("none", help="G's hidden layers: none, or batch (bias-free Linear, BatchNorm, as PacGAN's G)",
                         choices=("none", "batch"))
    maxout: int = option(0, help="D: maxout pieces per hidden unit (PacGAN / ALI: 5); 0: plain units", low=0, high=64)
    init: str = option("default", help="weight init: default (PyTorch's), normal (N(0, 0.02²), zero biases: PacGAN) or "
                                       "orthogonal (gain 1.4, zero biases: the unrolled-GAN notebook, GDPP)", choices=INITS)


def check_config(cfg, schema: str) -> None:  # noqa: ANN001 - Config
    """MLP works on any data (images are flattened)."""
    check_minibatch(cfg)


def options(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    """G and D constructor arguments from the model config and the data."""
    if info.schema == "points":
        res, ch = 0, info.shape[0]
    else:
        ch, res = info.shape[0], info.shape[1]
    c_dim = info.num_classes if cfg.conditional else 0
    common = {"c_dim": c_dim, "img_resolution": res, "img_channels": ch}
    g = {"z_dim": cfg.z_dim, "width": cfg.g_width, "depth": cfg.g_depth or cfg.depth, **common}
    d = {"width": cfg.d_width, "depth": cfg.d_depth or cfg.depth, **common}
    g.update(nondefault(Generator, spectral_norm=cfg.spectral_norm in ("g", "both"), activation=cfg.activation,
                        norm=cfg.g_norm, init=cfg.init))
    d.update(nondefault(Discriminator, spectral_norm=cfg.spectral_norm in ("d", "both"), mbstd=cfg.mbstd,
                        minibatch_discrimination=cfg.minibatch_discrimination,
                        minibatch_dims=cfg.minibatch_dims if cfg.minibatch_discrimination else 16,
                        activation=cfg.activation, maxout=cfg.maxout, init=cfg.init))
    return g, d


