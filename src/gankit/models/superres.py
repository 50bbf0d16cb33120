"""Super-resolution networks: SRResNet (Ledig et al. 2017), ESRGAN's RRDB net (Wang et al. 2018) and the VGG-style
discriminator both papers use.

All take and give images in gankit's data space ([-1, 1], N×C×H×W); a generator maps N×C×h×w to N×C×(s·h)×(s·w)
(s = ``scale``: 2 or 4) without a final activation (the papers' linear output; callers clamp). With ``residual=True``
a generator adds the bicubic upsampling of its input to its output (global residual learning, Kim et al. 2016, VDSR)
and starts as exactly that (its last convolution zero-initialized): not in SRGAN or ESRGAN, but what lets a small
network trained for minutes on a CPU improve on bicubic instead of first having to learn it (the CPU presets use it;
docs/benchmarks/restoration.md).

* :class:`SRResNet` — a 9×9 convolution and PReLU, ``blocks`` residual blocks (3×3 conv, BN, PReLU, 3×3 conv, BN, +
  skip), a 3×3 conv + BN added to the first features, then per factor 2 a 3×3 conv to 4× channels, a sub-pixel
  shuffle (Shi et al. 2016) and PReLU, and a 9×9 conv to the image. The paper: 64 channels, 16 blocks.
* :class:`RRDBNet` — ESRGAN's generator: no batch norm; ``blocks`` residual-in-residual dense blocks, each three
  dense blocks of five 3×3 convs (growth ``growth``, LeakyReLU 0.2, residual scaling 0.2), scaled by 0.2 again; a
  trunk conv and a long skip; per factor 2 a nearest-neighbour upsampling and a 3×3 conv; two last convs. The paper:
  64 channels, growth 32, 23 blocks; initialization: Kaiming scaled by 0.1 (their "smaller initialization").
* :class:`VGGDiscriminator` — SRGAN's D: eight 3×3 convs (64, 64, 128, 128, 256, 256, 512, 512 channels ×
  ``channels``/64, stride 2 on every second, BN after all but the first, LeakyReLU 0.2), then dense 1024, LeakyReLU,
  dense 1: one logit per image; its input side (``img_resolution``) must be a multiple of 16. A relativistic D has no
  output bias (``out_bias=False``): it cancels in C(x_r) − E C(x_f) and would never train.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..fields import option

Tensor = torch.Tensor


def _check_scale(scale: int) -> int:
    if scale not in (2, 4, 8):
        raise ConfigError(f"scale: {scale} is not a power of two between 2 and 8")
    return int(math.log2(scale))


def _start_at_bicubic(last: nn.Conv2d, residual: bool) -> None:
    if residual:  # the output starts as the bicubic upsampling itself
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)


def _plus_bicubic(out: Tensor, x: Tensor, scale: int, residual: bool) -> Tensor:
    if not residual:
        return out
    return out + F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).to(out.dtype)


class _Residual(nn.Module):
    def __init__(self, ch: int, batch_norm: bool) -> None:
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(ch)) if batch_norm else nn.Identity
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), norm(), nn.PReLU(ch), nn.Conv2d(ch, ch, 3, padding=1), norm())

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """SRResNet (Ledig et al. 2017, Fig. 4): N×C×h×w -> N×C×(s·h)×(s·w) (see the module doc)."""

    def __init__(self, scale: int = 4, img_channels: int = 3, channels: int = 64, blocks: int = 16, batch_norm: bool = True,
                 residual: bool = False) -> None:
        super().__init__()
        self.scale, self.img_channels, self.residual = scale, img_channels, residual
        self.head = nn.Sequential(nn.Conv2d(img_channels, channels, 9, padding=4), nn.PReLU(channels))
        self.body = nn.Sequential(*[_Residual(channels, batch_norm) for _ in range(blocks)],
                                  nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels) if batch_norm else nn.Identity())
        up: list[nn.Module] = []
        for _ in range(_check_scale(scale)):
            up += [nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(channels)]
        self.up = nn.Sequential(*up)
        self.tail = nn.Conv2d(channels, img_channels, 9, padding=4)
        _start_at_bicubic(self.tail, residual)

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        return _plus_bicubic(self.tail(self.up(h + self.body(h))), x, self.scale, self.residual)


class _DenseBlock(nn.Module):
    """Five 3×3 convs, each seeing the input and all earlier outputs; the fifth's output scaled by 0.2 plus the input."""

    def __init__(self, ch: int, growth: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(ch + i * growth, growth if i < 4 else ch, 3, padding=1) for i in range(5)])

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(feats, 1))
            if i < 4:
                feats.append(F.leaky_relu(out, 0.2))
        return x + 0.2 * out


class _RRDB(nn.Module):
    def __init__(self, ch: int, growth: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[_DenseBlock(ch, growth) for _ in range(3)])

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.2 * self.blocks(x)


class RRDBNet(nn.Module):
    """ESRGAN's generator (Wang et al. 2018, Fig. 4): N×C×h×w -> N×C×(s·h)×(s·w) (see the module doc)."""

    def __init__(self, scale: int = 4, img_channels: int = 3, channels: int = 64, growth: int = 32, blocks: int = 23,
                 residual: bool = False) -> None:
        super().__init__()
        self.scale, self.img_channels, self.residual = scale, img_channels, residual
        self.head = nn.Conv2d(img_channels, channels, 3, padding=1)
        self.body = nn.Sequential(*[_RRDB(channels, growth) for _ in range(blocks)])
        self.trunk = nn.Conv2d(channels, channels, 3, padding=1)
        self.ups = nn.ModuleList([nn.Conv2d(channels, channels, 3, padding=1) for _ in range(_check_scale(scale))])
        self.hr = nn.Conv2d(channels, channels, 3, padding=1)
        self.last = nn.Conv2d(channels, img_channels, 3, padding=1)
        for m in self.modules():  # the paper's smaller initialization: Kaiming normal × 0.1 (eases training a deep net without BN)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                m.weight.data.mul_(0.1)
                nn.init.zeros_(m.bias)
        _start_at_bicubic(self.last, residual)

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        h = h + self.trunk(self.body(h))
        for conv in self.ups:
            h = F.leaky_relu(conv(F.interpolate(h, scale_factor=2, mode="nearest")), 0.2)
        return _plus_bicubic(self.last(F.leaky_relu(self.hr(h), 0.2)), x, self.scale, self.residual)


class VGGDiscriminator(nn.Module):
    """SRGAN's discriminator (Ledig et al. 2017, Fig. 4): N×C×R×R -> N logits (see the module doc)."""

    def __init__(self, img_resolution: int = 96, img_channels: int = 3, channels: int = 64, fc: int = 1024, out_bias: bool = True) -> None:
        super().__init__()
        if img_resolution % 16:
            raise ConfigError(f"data.resolution: the VGG-style discriminator halves the patch four times; {img_resolution} "
                              "is not a multiple of 16")
        layers: list[nn.Module] = []
        c_in = img_channels
        for i in range(8):
            c_out = channels * 2 ** (i // 2)
            layers += [nn.Conv2d(c_in, c_out, 3, stride=1 + i % 2, padding=1)]
            if i:
                layers += [nn.BatchNorm2d(c_out)]
            layers += [nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = img_resolution // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, fc), nn.LeakyReLU(0.2), nn.Linear(fc, 1, bias=out_bias))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).squeeze(1)


def _pair(cls: type) -> type:
    class Pair(nn.Module):
        """The PSNR-oriented network (``psnr``) and the GAN (``gan``) of one architecture, exported together for ESRGAN's
        network interpolation; both built from the same kwargs."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__()
            self.psnr, self.gan = cls(**kwargs), cls(**kwargs)
            self.scale, self.img_channels = self.gan.scale, self.gan.img_channels

        def forward(self, x: Tensor) -> Tensor:
            return self.gan(x)

    Pair.__name__ = Pair.__qualname__ = f"{cls.__name__}Pair"
    return Pair


SRResNetPair, RRDBPair = _pair(SRResNet), _pair(RRDBNet)


@dataclass
class SRResNetOptions:
    """``model.*`` of the srresnet family (defaults: Ledig et al. 2017)."""

    name: str = option("srresnet", help="model family", registry="models")
    channels: int = option(64, help="G's feature channels (the paper: 64)", low=1, high=1024)
    blocks: int = option(16, help="G's residual blocks (the paper: 16)", low=1, high=128)
    batch_norm: bool = option(True, help="batch norm in G's residual blocks (the paper: yes; EDSR and ESRGAN drop it)")
    residual: bool = option(False, help="G adds the bicubic upsampling of its input to its output and starts as it (VDSR's global "
                                        "residual; not the paper's: the CPU presets use it)")
    d_channels: int = option(64, help="D's first-layer channels (doubling every second layer to 8×)", low=1, high=512)
    d_fc: int = option(1024, help="D's dense layer width", low=1, high=8192)


@dataclass
class RRDBOptions:
    """``model.*`` of the rrdb family (defaults: Wang et al. 2018)."""

    name: str = option("rrdb", help="model family", registry="models")
    channels: int = option(64, help="G's feature channels (the paper: 64)", low=1, high=1024)
    growth: int = option(32, help="dense-block growth channels (the paper: 32)", low=1, high=512)
    blocks: int = option(23, help="residual-in-residual dense blocks (the paper: 23)", low=1, high=128)
    residual: bool = option(False, help="G adds the bicubic upsampling of its input to its output and starts as it (VDSR's global "
                                        "residual; not the paper's: the CPU presets use it)")
    d_channels: int = option(64, help="D's first-layer channels", low=1, high=512)
    d_fc: int = option(1024, help="D's dense layer width", low=1, high=8192)


def _d(cfg: Any, info: Any) -> dict:
    return {"img_resolution": info.shape[-1], "img_channels": info.shape[0], "channels": cfg.d_channels, "fc": cfg.d_fc}


def srresnet_options(cfg: Any, info: Any) -> dict[str, dict]:
    return {"G": {"scale": info.pairs["scale"], "img_channels": info.shape[0], "channels": cfg.channels, "blocks": cfg.blocks,
                  "batch_norm": cfg.batch_norm, "residual": cfg.residual}, "D": _d(cfg, info)}


def rrdb_options(cfg: Any, info: Any) -> dict[str, dict]:
    return {"G": {"scale": info.pairs["scale"], "img_channels": info.shape[0], "channels": cfg.channels, "growth": cfg.growth,
                  "blocks": cfg.blocks, "residual": cfg.residual}, "D": _d(cfg, info)}


def check_config(cfg: Any, schema: str) -> None:
    if schema != "pairs" or cfg.data.degrade != "bicubic":
        raise ConfigError(f"model.name: {cfg.model.name} upscales images; use data.name=photos with data.degrade=bicubic")
    if cfg.data.resolution % 16:
        raise ConfigError(f"data.resolution: {cfg.data.resolution} is not a multiple of 16 (the VGG-style discriminator halves it "
                          "four times); use 32, 48, 64, 96, 128")


__all__ = ["SRResNet", "RRDBNet", "SRResNetPair", "RRDBPair", "VGGDiscriminator", "SRResNetOptions", "RRDBOptions", "srresnet_options", "rrdb_options",
           "check_config"]
