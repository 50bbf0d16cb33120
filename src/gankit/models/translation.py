"""Networks for image-to-image translation: pix2pix's U-Net, CycleGAN's ResNet generator and StarGAN's G and D.

* :class:`UNetGenerator` — pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial
  Networks", appendix 6.1.1; the reference's ``unet_256``). ``n = log2(R)`` 4×4 stride-2 pad-1 convs take R×R down
  to 1×1, widths ``channels·min(2^i, max_mult)``; LeakyReLU 0.2 before every down conv but the first, norm after
  every down conv but the first and the innermost (the 1×1 bottleneck). The decoder mirrors it: ReLU, a 4×4 stride-2
  transposed conv, norm; from the second decoder layer on its input is the channel concatenation (skip first) of the
  mirror encoder feature and the previous decoder output. The ``min(dropout_layers, n − 2)`` decoder layers right
  after the innermost one end in dropout (pix2pix's noise z). The outermost layer is ReLU, transposed conv to the
  image's channels, tanh. Convs carry biases unless the norm is ``batch``.
* :class:`ResnetGenerator` — CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
  Adversarial Networks", appendix 7.2), after Johnson et al. 2016: c7s1-64 (reflection pad 3, 7×7 conv, norm, ReLU),
  ``downsamplings`` × (3×3 stride-2 conv doubling the channels, norm, ReLU), ``blocks`` residual blocks (reflection
  pad 1, 3×3 conv, norm, ReLU, reflection pad 1, 3×3 conv, norm; x + F(x)), ``downsamplings`` × (3×3 stride-2
  transposed conv halving the channels, norm, ReLU), reflection pad 3, 7×7 conv to the image's channels, tanh.
  Biases unless the norm is ``batch`` (the final conv always has one).
* :class:`StarGANGenerator` and :class:`StarGANDiscriminator` — StarGAN (Choi et al. 2018, "StarGAN: Unified
  Generative Adversarial Networks for Multi-Domain Image-to-Image Translation", appendix Tables 4 and 5). G takes the
  image with the target domain label tiled over it (N×(C+c_dim)×R×R): 7×7 conv, IN, ReLU; ``downsamplings`` × (4×4
  stride-2 conv doubling, IN, ReLU); ``blocks`` residual blocks (3×3 conv, IN, ReLU, 3×3 conv, IN); ``downsamplings``
  × (4×4 stride-2 transposed conv halving, IN, ReLU); 7×7 conv, tanh. No conv biases; IN is affine and uses each
  image's own statistics (in inference too, as the reference's test does). D: ``layers`` 4×4 stride-2 convs (bias,
  LeakyReLU 0.01, doubling up to ``max_width``), then two heads on the h×h map: ``src`` (3×3 conv to 1 channel: N×1×h×h real/fake logits) and ``cls`` (an h×h conv to c_dim:
  N×c_dim domain logits). D has no normalization (it is trained with WGAN-GP).

Norm names: ``batch`` (BatchNorm2d), ``instance`` (InstanceNorm2d, affine=False, as the pix2pix/CycleGAN reference)
or ``none``.
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

NORMS = ("batch", "instance", "none")


def _norm(kind: str, ch: int) -> nn.Module:
    """The norm layer for ``ch`` channels: BatchNorm2d, InstanceNorm2d (affine=False) or Identity."""
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=False)
    return nn.Identity()


def _check_norm(owner: str, norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"{owner}: norm={norm!r} is not known; use one of {', '.join(NORMS)}")


def _check_divisible(owner: str, img_resolution: int, stages: int) -> None:
    if stages < 0 or img_resolution < 2 ** stages or img_resolution % (2 ** stages):
        raise ConfigError(f"{owner}: img_resolution={img_resolution} is not a multiple of 2^{stages}; "
                          f"use a resolution that halves {stages} times")


class UNetGenerator(nn.Module):
    """pix2pix's U-Net: N×in_channels×R×R -> N×img_channels×R×R in [-1, 1] (see the module doc).

    ``encoder[i]`` maps to ``widths[i]`` channels at R/2^(i+1); ``encoder[-1]`` is the innermost (1×1) bottleneck.
    ``decoder[j]`` is the j-th up layer from the inside out; ``decoder[-1]`` outputs the image.
    """

    def __init__(self, in_channels: int = 3, img_channels: int = 3, img_resolution: int = 256, channels: int = 64,
                 max_mult: int = 8, dropout: float = 0.5, dropout_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        _check_norm("UNetGenerator", norm)
        n = int(round(math.log2(img_resolution))) if img_resolution > 0 else 0
        if img_resolution < 8 or 2 ** n != img_resolution:
            raise ConfigError(f"UNetGenerator: img_resolution={img_resolution} is not a power of two ≥ 8; "
                              "use 8, 16, …, 256")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"UNetGenerator: dropout={dropout} is outside [0, 1); use 0.5 (pix2pix) or 0 to disable")
        self.in_channels, self.img_channels, self.img_resolution = in_channels, img_channels, img_resolution
        self.widths = [channels * min(2 ** i, max_mult) for i in range(n)]
        bias = norm != "batch"
        enc: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(self.widths):
            layer: list[nn.Module] = [nn.LeakyReLU(0.2)] if i else []
            layer += [nn.Conv2d(c, w, 4, 2, 1, bias=bias)]
            if 0 < i < n - 1:
                layer += [_norm(norm, w)]
            enc.append(nn.Sequential(*layer))
            c = w
        self.encoder = nn.ModuleList(enc)
        n_drop = min(dropout_layers, n - 2) if dropout > 0 else 0
        dec: list[nn.Module] = []
        for j in range(n):
            level = n - 1 - j  # the encoder layer this decoder layer mirrors
            c_in = self.widths[level] * (1 if j == 0 else 2)
            if level == 0:
                layer = [nn.ReLU(), nn.ConvTranspose2d(c_in, img_channels, 4, 2, 1), nn.Tanh()]
            else:
                layer = [nn.ReLU(), nn.ConvTranspose2d(c_in, self.widths[level - 1], 4, 2, 1, bias=bias),
                         _norm(norm, self.widths[level - 1])]
                if 1 <= j <= n_drop:
                    layer += [nn.Dropout(dropout)]
            dec.append(nn.Sequential(*layer))
        self.decoder = nn.ModuleList(dec)

    def forward(self, x: Tensor) -> Tensor:
        feats: list[Tensor] = []
        h = x
        for layer in self.encoder:
            h = layer(h)
            feats.append(h)
        n = len(feats)
        h = self.decoder[0](feats[-1])
        for j in range(1, n):
            h = self.decoder[j](torch.cat([feats[n - 1 - j], h], 1))
        return h


class ResnetBlock(nn.Module):
    """x + F(x), F = reflection pad 1, 3×3 conv, norm, ReLU, reflection pad 1, 3×3 conv, norm.

    N×C×H×W -> N×C×H×W."""

    def __init__(self, ch: int, norm: str = "instance") -> None:
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=bias), _norm(norm, ch), nn.ReLU(),
                                  nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=bias), _norm(norm, ch))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: N×in_channels×R×R -> N×img_channels×R×R in [-1, 1] (see the module doc).
    R must be a multiple of 2^downsamplings."""

    def __init__(self, in_channels: int = 3, img_channels: int = 3, img_resolution: int = 256, channels: int = 64,
                 blocks: int = 9, downsamplings: int = 2, norm: str = "instance") -> None:
        super().__init__()
        _check_norm("ResnetGenerator", norm)
        _check_divisible("ResnetGenerator", img_resolution, downsamplings)
        self.in_channels, self.img_channels, self.img_resolution = in_channels, img_channels, img_resolution
        bias = norm != "batch"
        c = channels
        seq: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, c, 7, bias=bias), _norm(norm, c),
                                nn.ReLU()]
        for _ in range(downsamplings):
            seq += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), _norm(norm, 2 * c), nn.ReLU()]
            c *= 2
        seq += [ResnetBlock(c, norm) for _ in range(blocks)]
        for _ in range(downsamplings):
            seq += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias), _norm(norm, c // 2), nn.ReLU()]
            c //= 2
        seq += [nn.ReflectionPad2d(3), nn.Conv2d(c, img_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*seq)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _star_norm(ch: int) -> nn.Module:
    """StarGAN's norm: InstanceNorm2d with affine weights, normalizing by each image's own statistics in training and
    inference alike. The reference builds it with ``track_running_stats=True`` but never switches G to eval mode, so its
    test images are normalized by their own statistics too; running statistics in eval mode are measured much worse
    here (docs/translation.md), so none are kept."""
    return nn.InstanceNorm2d(ch, affine=True, track_running_stats=False)


class StarResidualBlock(nn.Module):
    """x + F(x), F = 3×3 conv, IN, ReLU, 3×3 conv, IN (no biases, zero padding): N×C×H×W -> N×C×H×W."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), _star_norm(ch), nn.ReLU(),
                                  nn.Conv2d(ch, ch, 3, 1, 1, bias=False), _star_norm(ch))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class StarGANGenerator(nn.Module):
    """StarGAN's G: (N×C×R×R image, N×c_dim target domain) -> N×C×R×R in [-1, 1] (see the module doc).
    R must be a multiple of 2^downsamplings."""

    def __init__(self, img_channels: int = 3, c_dim: int = 5, img_resolution: int = 128, channels: int = 64,
                 blocks: int = 6, downsamplings: int = 2) -> None:
        super().__init__()
        _check_divisible("StarGANGenerator", img_resolution, downsamplings)
        self.img_channels, self.c_dim, self.img_resolution = img_channels, c_dim, img_resolution
        c = channels
        seq: list[nn.Module] = [nn.Conv2d(img_channels + c_dim, c, 7, 1, 3, bias=False), _star_norm(c), nn.ReLU()]
        for _ in range(downsamplings):
            seq += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), _star_norm(2 * c), nn.ReLU()]
            c *= 2
        seq += [StarResidualBlock(c) for _ in range(blocks)]
        for _ in range(downsamplings):
            seq += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), _star_norm(c // 2), nn.ReLU()]
            c //= 2
        seq += [nn.Conv2d(c, img_channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*seq)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        tiled = c.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.net(torch.cat([x, tiled], 1))


class StarGANDiscriminator(nn.Module):
    """StarGAN's D: N×C×R×R -> (N×1×h×h real/fake logits, N×c_dim domain logits), h = R / 2^layers (see the
    module doc). ``layers`` defaults to log2(R) − 1 (6 at 128², h = 2)."""

    def __init__(self, img_channels: int = 3, c_dim: int = 5, img_resolution: int = 128, channels: int = 64,
                 layers: int | None = None, max_width: int = 2048) -> None:
        super().__init__()
        if layers is None:
            layers = int(math.log2(img_resolution)) - 1 if img_resolution > 0 else 0
        if layers < 1:
            raise ConfigError(f"StarGANDiscriminator: layers={layers} is below 1; "
                              "use log2(img_resolution) − 1 or fewer")
        _check_divisible("StarGANDiscriminator", img_resolution, layers)
        self.img_channels, self.c_dim, self.img_resolution, self.layers = img_channels, c_dim, img_resolution, layers
        self.patch = img_resolution // 2 ** layers
        seq: list[nn.Module] = []
        c_in, c = img_channels, channels
        for _ in range(layers):
            seq += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.01)]
            c_in, c = c, min(2 * c, max_width)
        self.net = nn.Sequential(*seq)
        self.src = nn.Conv2d(c_in, 1, 3, 1, 1, bias=False)
        self.cls = nn.Conv2d(c_in, c_dim, self.patch, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.net(x)
        return self.src(h), self.cls(h).flatten(1)


class ImagePool(nn.Module):
    """CycleGAN's history of generated images (Shrivastava et al. 2017; Zhu et al. 2017 §4): D sees, for each new fake,
    either that fake or, with probability ½ once the pool is full, a stored older one that the new fake replaces.
    While the pool is not full every fake is stored and returned. ``size`` 0: every fake is returned as it is.

    The images are buffers (checkpointed with the networks); the draws use torch's global generator on the pool's
    device (checkpointed too), so a resumed run draws the same."""

    def __init__(self, size: int = 50, img_channels: int = 3, img_resolution: int = 256) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, img_channels, img_resolution, img_resolution))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fakes: Tensor) -> Tensor:
        """fakes N×C×R×R -> N×C×R×R: what D trains on (see the class doc)."""
        if self.size == 0:
            return fakes
        out = []
        for x in fakes:
            n = int(self.count)
            if n < self.size:
                self.images[n] = x
                self.count += 1
                out.append(x)
            elif float(torch.rand((), device=self.images.device)) < 0.5:
                j = int(torch.randint(self.size, (), device=self.images.device))
                out.append(self.images[j].clone())
                self.images[j] = x
            else:
                out.append(x)
        return torch.stack(out).to(fakes.dtype)


class CycleGANPair(nn.Module):
    """An exported CycleGAN: ``ab`` (A → B) and ``ba`` (B → A), two :class:`ResnetGenerator` of the same kwargs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.ab, self.ba = ResnetGenerator(**kwargs), ResnetGenerator(**kwargs)
        self.img_resolution, self.img_channels = self.ab.img_resolution, self.ab.img_channels


class StarGANPair(nn.Module):
    """An exported StarGAN: ``G`` and, beside it, ``D`` (its domain head reads an input's own attributes)."""

    def __init__(self, d: dict | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.G, self.D = StarGANGenerator(**kwargs), StarGANDiscriminator(**(d or {}))
        self.img_resolution, self.img_channels, self.c_dim = self.G.img_resolution, self.G.img_channels, self.G.c_dim


# --------------------------------------------------------------------------- model.* options


@dataclass
class UNetOptions:
    """``model.*`` of the unet family (pix2pix)."""

    name: str = option("unet", help="model family", registry="models")
    channels: int = option(64, help="G's first-layer channels (doubling to 8×)", low=1, high=1024)
    dropout: float = option(0.5, help="dropout rate of the inner decoder layers (pix2pix's noise; 0: deterministic G)", low=0.0, high=0.95)
    dropout_layers: int = option(3, help="decoder layers after the bottleneck that end in dropout (pix2pix: 3)", low=0, high=16)
    norm: str = option("batch", help="G's and D's normalization (pix2pix: batch)", choices=NORMS)
    d_channels: int = option(64, help="PatchGAN D's first-layer channels", low=1, high=1024)
    d_layers: int = option(0, help="PatchGAN D's stride-2 layers (receptive field 16, 34, 70, 142, 286 px for 1-5); 0: sized to the "
                                   "resolution as 70×70 at 256²", low=0, high=5)


@dataclass
class CycleGANOptions:
    """``model.*`` of the cyclegan family."""

    name: str = option("cyclegan", help="model family", registry="models")
    channels: int = option(64, help="G's first-layer channels", low=1, high=1024)
    blocks: int = option(0, help="residual blocks of each G (the paper: 6 at 128², 9 at 256²); 0: by resolution", low=0, high=64)
    norm: str = option("instance", help="G's and D's normalization (CycleGAN: instance)", choices=NORMS)
    d_channels: int = option(64, help="PatchGAN D's first-layer channels", low=1, high=1024)
    d_layers: int = option(0, help="PatchGAN D's stride-2 layers; 0: sized to the resolution as 70×70 at 256²", low=0, high=5)


@dataclass
class StarGANOptions:
    """``model.*`` of the stargan family."""

    name: str = option("stargan", help="model family", registry="models")
    channels: int = option(64, help="G's and D's first-layer channels", low=1, high=1024)
    blocks: int = option(6, help="G's residual blocks (the paper: 6)", low=0, high=64)
    d_layers: int = option(0, help="D's stride-2 layers (the paper: 6 at 128²); 0: log2(resolution) − 1", low=0, high=10)


def _sizes(info: Any) -> tuple[int, int, int]:
    d = info.domains
    return info.shape[-1], d["channels_a"], d["channels_b"]


def unet_options(cfg: Any, info: Any) -> dict[str, dict]:
    res, ca, cb = _sizes(info)
    return {"G": {"in_channels": ca, "img_channels": cb, "img_resolution": res, "channels": cfg.channels, "dropout": cfg.dropout,
                  "dropout_layers": cfg.dropout_layers, "norm": cfg.norm},
            "D": {"img_channels": ca + cb, "channels": cfg.d_channels, "layers": cfg.d_layers or layers_for(res), "norm": cfg.norm}}


def cyclegan_options(cfg: Any, info: Any) -> dict[str, dict]:
    res, ca, cb = _sizes(info)
    blocks = cfg.blocks or (9 if res >= 256 else 6)
    g = {"img_resolution": res, "channels": cfg.channels, "blocks": blocks, "norm": cfg.norm}
    d = {"channels": cfg.d_channels, "layers": cfg.d_layers or layers_for(res), "norm": cfg.norm}
    return {"G_AB": {**g, "in_channels": ca, "img_channels": cb}, "G_BA": {**g, "in_channels": cb, "img_channels": ca},
            "D_A": {**d, "img_channels": ca}, "D_B": {**d, "img_channels": cb},
            "pool_A": {"size": 50, "img_channels": ca, "img_resolution": res}, "pool_B": {"size": 50, "img_channels": cb, "img_resolution": res}}


def stargan_options(cfg: Any, info: Any) -> dict[str, dict]:
    res, c, _ = _sizes(info)
    c_dim = info.domains["c_dim"]
    return {"G": {"img_channels": c, "c_dim": c_dim, "img_resolution": res, "channels": cfg.channels, "blocks": cfg.blocks},
            "D": {"img_channels": c, "c_dim": c_dim, "img_resolution": res, "channels": cfg.channels,
                  "layers": cfg.d_layers or max(1, int(math.log2(res)) - 1)}}


def check_config(cfg: Any, schema: str) -> None:
    if schema != "domains":
        raise ConfigError(f"model.name: {cfg.model.name} translates images between domains; use translation data "
                          "(data.name=edges2digits, digits2color, digits-attrs or translation)")
    r = cfg.data.resolution
    if r < 8 or r & (r - 1):
        raise ConfigError(f"data.resolution: {cfg.model.name} needs a power of two ≥ 8; got {r} (use 32, 64, 128, 256)")
    if cfg.model.name == "cyclegan" and r < 16:
        raise ConfigError(f"data.resolution: cyclegan's generators downsample twice and its PatchGAN needs ≥ 16 px; got {r}")


__all__ = ["UNetGenerator", "ResnetGenerator", "ResnetBlock", "StarGANGenerator", "StarGANDiscriminator",
           "StarResidualBlock", "NORMS", "ImagePool", "CycleGANPair", "StarGANPair", "PatchDiscriminator", "UNetOptions",
           "CycleGANOptions", "StarGANOptions", "unet_options", "cyclegan_options", "stargan_options", "check_config"]
