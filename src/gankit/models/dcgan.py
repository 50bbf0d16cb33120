"""DCGAN (Radford, Metz & Chintala 2016), any power-of-two resolution from 8 to 256.

Following the paper's guidelines: strided convolutions in D and fractionally-strided (transposed)
convolutions in G instead of pooling; batch norm in G except the output layer and in D except the input
layer; ReLU in G with tanh at the output; LeakyReLU(0.2) in D; weights N(0, 0.02).

Widths double towards the 4×4 end: at 32×32 with ``width=64`` G has 256-128-64 channels at 4-8-16 and D
has 64-128-256 at 16-8-4 (the canonical layout). Conditional models (c_dim > 0): G joins a label
embedding to z; D uses a projection head on the globally summed last feature map.

Stabilizers (all off by default, so the defaults are the paper's network): ``norm`` replaces batch norm by
layer / instance / group norm or nothing (convolutions then get a bias; D's input layer never has a norm);
``attention`` inserts one SAGAN self-attention block (Zhang et al. 2019) after the layer that outputs that
side, in G and D; ``spectral_norm`` normalizes every weight (Miyato et al. 2018); D's ``mbstd`` (Karras et al.
2018) and ``minibatch_discrimination`` (Salimans et al. 2016) add feature maps to the last 4×4 map, before
the final convolution.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import torch
from torch import nn

from ..errors import ConfigError
from ..fields import option
from .options import GANModel, MaxWidth, MinibatchFeatures, Norms, SpectralNorm
from .layers import (LabelEmbedding, LabelProjection, MinibatchDiscrimination, MinibatchStdDev, SelfAttention,
                     apply_spectral_norm, check_attention, check_attention_field, check_minibatch, conv_options, dcgan_init, norm2d,
                     require_images, widths)


def _stages(img_resolution: int) -> int:
    s = int(math.log2(img_resolution)) - 2
    if 2 ** (s + 2) != img_resolution or not 8 <= img_resolution <= 256:
        raise ValueError(f"DCGAN resolution must be a power of two from 8 to 256, got {img_resolution}")
    return s


def attention_resolutions(img_resolution: int) -> list[int]:
    """Sides of the feature maps G and D both have (4 ... R/2), where self-attention may go."""
    return [2**k for k in range(2, _stages(img_resolution) + 2)]


def _norm(kind: str, channels: int) -> list[nn.Module]:
    return [] if kind == "none" else [norm2d(kind, channels)]


class Generator(nn.Module):
    """``forward(z: N×z_dim, c: N int64 | None) -> N×img_channels×R×R`` in [-1, 1]."""

    def __init__(self, z_dim: int = 100, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3,
                 width: int = 64, max_width: int = 512, norm: str = "batch", attention: int = 0,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        ch = widths(width, _stages(img_resolution), max_width)
        check_attention(attention, attention_resolutions(img_resolution))
        norm2d(norm, 1)  # an unknown name fails here, before anything is built
        bias = norm == "none"  # a normalization's shift replaces the bias
        self.cond = LabelEmbedding(c_dim, min(z_dim, 64) if c_dim else 0)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + self.cond.out_extra, ch[0], 4, 1, 0, bias=bias),  # 1×1 -> 4×4
            *_norm(norm, ch[0]), nn.ReLU(True),
        ]
        side = 4
        for cin, cout in zip(ch[:-1], ch[1:]):
            layers += [SelfAttention(cin)] if attention == side else []
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias), *_norm(norm, cout), nn.ReLU(True)]
            side *= 2
        layers += [SelfAttention(ch[-1])] if attention == side else []
        layers += [nn.ConvTranspose2d(ch[-1], img_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)  # after init: init writes the raw weights

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.cond(z, c)
        return self.net(h[:, :, None, None])


class Discriminator(nn.Module):
    """``forward(x: N×img_channels×R×R, c: N int64 | None) -> N`` raw logits.

    ``head(h: N×C×4×4) -> N×(C + extra)×4×4`` appends the minibatch features (1 map for mbstd, B constant maps
    for minibatch discrimination on the spatially averaged features); the final conv and the projection read it.
    """

    def __init__(self, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3,
                 width: int = 64, max_width: int = 512, norm: str = "batch", attention: int = 0,
                 spectral_norm: bool = False, mbstd: int = 0, minibatch_discrimination: int = 0,
                 minibatch_dims: int = 16) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        ch = list(reversed(widths(width, _stages(img_resolution), max_width)))  # R/2 ... 4×4
        check_attention(attention, attention_resolutions(img_resolution))
        norm2d(norm, 1)
        bias = norm == "none"
        layers: list[nn.Module] = [nn.Conv2d(img_channels, ch[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        side = img_resolution // 2
        for cin, cout in zip(ch[:-1], ch[1:]):
            layers += [SelfAttention(cin)] if attention == side else []
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=bias), *_norm(norm, cout), nn.LeakyReLU(0.2, True)]
            side //= 2
        layers += [SelfAttention(ch[-1])] if attention == side else []
        self.features = nn.Sequential(*layers)  # N×ch[-1]×4×4
        self.mbstd = MinibatchStdDev(mbstd) if mbstd else None
        self.mbd = MinibatchDiscrimination(ch[-1], minibatch_discrimination, minibatch_dims) if minibatch_discrimination else None
        feat = ch[-1] + (1 if mbstd else 0) + minibatch_discrimination
        self.out = nn.Conv2d(feat, 1, 4, 1, 0)  # the paper's final 4×4 convolution to one logit
        self.proj = LabelProjection(c_dim, feat) if c_dim > 0 else None
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        parts = [self.mbstd(h) if self.mbstd is not None else h]
        if self.mbd is not None:
            o = self.mbd(h.mean(dim=(2, 3)))[:, h.shape[1]:]  # N×B, constant over the 4×4 positions
            parts.append(o[:, :, None, None].expand(-1, -1, *h.shape[2:]))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def embed(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """D's last 4×4 feature map, flattened: N×(C·16) (feature matching, Salimans et al. 2016)."""
        del c  # the label enters only through the projection head
        return self.head(self.features(x)).flatten(1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.head(self.features(x))
        logits = self.out(h).flatten()
        if self.proj is not None:
            logits = logits + self.proj(h.sum(dim=(2, 3)), c)  # projection on globally summed features
        return logits


@dataclass
class Options(MinibatchFeatures, Norms, SpectralNorm, MaxWidth, GANModel):
    """``model.*`` of the dcgan family."""


def check_config(cfg, schema: str) -> None:  # noqa: ANN001 - Config
    require_images(schema, cfg, "dcgan")
    r = cfg.data.resolution
    if not (8 <= r <= 256 and r & (r - 1) == 0):
        raise ConfigError(f"data.resolution: {r} is not allowed for dcgan; use a power of two from 8 to 256")
    check_minibatch(cfg)
    check_attention_field(cfg, "dcgan", attention_resolutions(r))


def options(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    """G and D constructor arguments (D's ``auto`` norm: batch)."""
    return conv_options(cfg, info, Generator, Discriminator, d_norm_default="batch")
