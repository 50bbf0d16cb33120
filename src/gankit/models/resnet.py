"""ResNet G and D in the SNGAN style, at 32, 64 or 128 pixels.

Layouts (Miyato et al. 2018, "Spectral normalization for GANs", appendix B.4; Miyato & Koyama 2018,
"cGANs with projection discriminator", appendix; residual blocks of Gulrajani et al. 2017):

* G: linear z → 4×4×ch, up-blocks (BN-ReLU-up2-conv3-BN-ReLU-conv3, plus up2-conv1×1 shortcut) to R×R,
  then BN-ReLU-conv3-tanh.
* D: an "optimized" first block (conv3-ReLU-conv3-avgpool, shortcut avgpool-conv1×1), pre-activation blocks
  (ReLU-conv3-ReLU-conv3[-avgpool], shortcut conv1×1[-avgpool] where the shape changes), ReLU, global sum
  pooling, linear to one logit.

Widths, sized by ``width`` and capped at ``max_width``:

* R = 32 (the CIFAR-10 networks): constant width; G 4→8→16→32, D blocks at 16, 8, 8, 8. SNGAN's CIFAR
  models are ``model.g_width=256 model.d_width=128`` (with max_width ≥ 256).
* R = 64, 128 (the ImageNet networks): widths double towards 4×4 (G at side s: width·R/s; D: width, 2·width,
  … down to 4×4, then one more block at 4×4 with twice the channels). Miyato & Koyama's models are
  ``model.g_width=64 model.d_width=64 model.max_width=1024``.

Conditioning (c_dim > 0): G uses conditional batch norm (per-class gain and bias in every up-block, as in
Miyato & Koyama 2018; the final norm is unconditional as in their code), chosen over a label embedding joined
to z because it feeds the label to every resolution; D adds the projection ⟨embed(c), h⟩ (same paper).

Stabilizers: ``norm`` (G default batch, D default none as published), one SAGAN ``attention`` block (Zhang
et al. 2019) after the block that outputs that side, ``spectral_norm`` of every weight (Miyato et al. 2018;
the hinge-loss SNGAN recipe puts it on D through ``model.spectral_norm=d``), and D's ``mbstd`` (before its
last block, Karras et al. 2018) and ``minibatch_discrimination`` (on the pooled features, Salimans et al. 2016).
Initialization follows the published code: Xavier-uniform, gain √2 on the 3×3 convolutions of the residual
paths and 1 elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..fields import option
from .options import GANModel, MaxWidth, MinibatchFeatures, Norms, SpectralNorm
from .layers import (ConditionalNorm2d, LabelProjection, MinibatchDiscrimination, MinibatchStdDev, SelfAttention,
                     apply_spectral_norm, check_attention, check_attention_field, check_minibatch, conv_options, norm2d,
                     require_images)

RESOLUTIONS = (32, 64, 128)


def _check_resolution(img_resolution: int) -> None:
    if img_resolution not in RESOLUTIONS:
        raise ValueError(f"ResNet resolution must be one of 32, 64, 128, got {img_resolution}")


def g_widths(img_resolution: int, width: int, max_width: int) -> list[int]:
    """G channels at sides 4, 8, ..., R."""
    _check_resolution(img_resolution)
    sides = [2**k for k in range(2, int(math.log2(img_resolution)) + 1)]
    if img_resolution == 32:
        return [min(width, max_width)] * len(sides)
    return [min(width * img_resolution // s, max_width) for s in sides]


def d_layout(img_resolution: int, width: int, max_width: int) -> list[tuple[int, int]]:
    """D blocks as (output channels, output side); the first is the optimized block."""
    _check_resolution(img_resolution)
    if img_resolution == 32:
        w = min(width, max_width)
        return [(w, 16), (w, 8), (w, 8), (w, 8)]
    layout, side, k = [], img_resolution // 2, 0
    while side >= 4:
        layout.append((min(width * 2**k, max_width), side))
        side, k = side // 2, k + 1
    return layout + [(min(width * 2**k, max_width), 4)]


def attention_resolutions(img_resolution: int) -> list[int]:
    """Sides after a G block and after a D block (8 ... R/2): where self-attention may go."""
    _check_resolution(img_resolution)
    return [2**k for k in range(3, int(math.log2(img_resolution)))]


def _conv(cin: int, cout: int, k: int, gain: float = 1.0) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, k, 1, k // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GBlock(nn.Module):
    """``forward(x: N×cin×s×s, c: N int64 | None) -> N×cout×2s×2s``: BN-ReLU-up-conv3-BN-ReLU-conv3 + up-conv1×1(x)."""

    def __init__(self, cin: int, cout: int, norm: str, c_dim: int) -> None:
        super().__init__()
        self.n1 = ConditionalNorm2d(norm, cin, c_dim) if c_dim else norm2d(norm, cin)
        self.c1 = _conv(cin, cout, 3, math.sqrt(2))
        self.n2 = ConditionalNorm2d(norm, cout, c_dim) if c_dim else norm2d(norm, cout)
        self.c2 = _conv(cout, cout, 3, math.sqrt(2))
        self.sc = _conv(cin, cout, 1)

    @staticmethod
    def _norm(m: nn.Module, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return m(x, c) if isinstance(m, ConditionalNorm2d) else m(x)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = self.c1(_up(F.relu(self._norm(self.n1, x, c))))
        h = self.c2(F.relu(self._norm(self.n2, h, c)))
        return h + _up(self.sc(x))  # a 1×1 conv commutes with nearest upsampling: convolve the smaller map


class DBlock(nn.Module):
    """``forward(x: N×cin×s×s) -> N×cout×s'×s'`` (s' = s/2 when ``down``).

    Optimized (first) block: conv3-[norm]-ReLU-conv3-avgpool + conv1×1(avgpool(x)); otherwise
    [norm]-ReLU-conv3-[norm]-ReLU-conv3-[avgpool] + shortcut (conv1×1 when the channels change, avgpool when down).
    """

    def __init__(self, cin: int, cout: int, down: bool, norm: str, optimized: bool = False) -> None:
        super().__init__()
        self.down, self.optimized = down, optimized
        self.n1 = nn.Identity() if optimized else norm2d(norm, cin)  # no norm on the input image
        self.c1 = _conv(cin, cout, 3, math.sqrt(2))
        self.n2 = norm2d(norm, cout)
        self.c2 = _conv(cout, cout, 3, math.sqrt(2))
        self.sc = _conv(cin, cout, 1) if optimized or cin != cout or down else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.optimized else F.relu(self.n1(x))
        h = self.c2(F.relu(self.n2(self.c1(h))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.optimized:
            return h + self.sc(F.avg_pool2d(x, 2))
        s = self.sc(x) if self.sc is not None else x
        return h + (F.avg_pool2d(s, 2) if self.down else s)


def _xavier(m: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(m.weight)
    if getattr(m, "bias", None) is not None:
        nn.init.zeros_(m.bias)
    return m


class Generator(nn.Module):
    """``forward(z: N×z_dim, c: N int64 | None) -> N×img_channels×R×R`` in [-1, 1]."""

    def __init__(self, z_dim: int = 128, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3,
                 width: int = 256, max_width: int = 1024, norm: str = "batch", attention: int = 0,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        ch = g_widths(img_resolution, width, max_width)
        check_attention(attention, attention_resolutions(img_resolution))
        norm2d(norm, 1)  # an unknown name fails before anything is built
        self.linear = _xavier(nn.Linear(z_dim, 16 * ch[0]))
        blocks: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(ch[:-1], ch[1:])):
            blocks.append(GBlock(cin, cout, norm, c_dim))
            if attention == 2 ** (i + 3):
                blocks.append(SelfAttention(cout))
        self.blocks = nn.ModuleList(blocks)
        self.out_norm = norm2d(norm, ch[-1])
        self.out_conv = _conv(ch[-1], img_channels, 3)
        for b in blocks:
            if isinstance(b, SelfAttention):
                for conv in (b.f, b.g, b.h, b.v):
                    _xavier(conv)
        if spectral_norm:
            apply_spectral_norm(self)  # after init: init writes the raw weights

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if self.c_dim and c is None:
            raise ValueError("this generator is conditional: pass labels c (N int64)")
        h = self.linear(z).view(z.shape[0], -1, 4, 4)
        for b in self.blocks:
            h = b(h, c) if isinstance(b, GBlock) else b(h)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))


class Discriminator(nn.Module):
    """``forward(x: N×img_channels×R×R, c: N int64 | None) -> N`` raw logits.

    ``embed(x, c) -> N×F`` (c unused) is the globally sum-pooled ReLU of the last block, with minibatch discrimination's B
    features appended when on (computed from the mean-pooled map, so the exp(−L1) kernels start in range);
    the linear head and the projection read it.
    """

    def __init__(self, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3, width: int = 128,
                 max_width: int = 1024, norm: str = "none", attention: int = 0, spectral_norm: bool = False,
                 mbstd: int = 0, minibatch_discrimination: int = 0, minibatch_dims: int = 16) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        layout = d_layout(img_resolution, width, max_width)
        check_attention(attention, attention_resolutions(img_resolution))
        norm2d(norm, 1)
        blocks: list[nn.Module] = []
        cin, side, placed = img_channels, img_resolution, False
        for i, (cout, out_side) in enumerate(layout):
            if mbstd and i == len(layout) - 1:
                blocks.append(MinibatchStdDev(mbstd))
                cin += 1
            blocks.append(DBlock(cin, cout, out_side < side, norm, optimized=i == 0))
            if attention == out_side and not placed:
                blocks.append(SelfAttention(cout))
                placed = True
            cin, side = cout, out_side
        self.blocks = nn.Sequential(*blocks)
        self.mbd = MinibatchDiscrimination(cin, minibatch_discrimination, minibatch_dims) if minibatch_discrimination else None
        feat = cin + minibatch_discrimination
        self.out = _xavier(nn.Linear(feat, 1))
        self.proj = LabelProjection(c_dim, feat) if c_dim > 0 else None
        for m in self.modules():
            if isinstance(m, SelfAttention):
                for conv in (m.f, m.g, m.h, m.v):
                    _xavier(conv)
        if self.proj is not None:
            _xavier(self.proj.embed)
        if spectral_norm:
            apply_spectral_norm(self)

    def embed(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        del c  # the label enters through the projection only
        h = F.relu(self.blocks(x))
        pooled = h.sum(dim=(2, 3))
        if self.mbd is None:
            return pooled
        return torch.cat([pooled, self.mbd(h.mean(dim=(2, 3)))[:, h.shape[1]:]], dim=1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embed(x)
        logits = self.out(h).squeeze(1)
        return logits + self.proj(h, c) if self.proj is not None else logits


@dataclass
class Options(MinibatchFeatures, Norms, SpectralNorm, MaxWidth, GANModel):
    """``model.*`` of the resnet family."""

    name: str = option("resnet", help="model family", registry="models")
    g_width: int = option(128, help="G channels at the highest resolution", low=1, high=4096)
    d_width: int = option(128, help="D channels at the highest resolution", low=1, high=4096)


def check_config(cfg, schema: str) -> None:  # noqa: ANN001 - Config
    require_images(schema, cfg, "resnet")
    r = cfg.data.resolution
    if r not in RESOLUTIONS:
        raise ConfigError(f"data.resolution: {r} is not allowed for resnet; use 32, 64 or 128 (or model.name=dcgan)")
    check_minibatch(cfg)
    check_attention_field(cfg, "resnet", attention_resolutions(r))


def options(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    """G and D constructor arguments (D's ``auto`` norm: none)."""
    return conv_options(cfg, info, Generator, Discriminator, d_norm_default="none")
