"""Progressive growing of GANs (ProGAN; Karras, Aila, Laine & Lehtinen 2018), 8 to 1024 px, unconditional.

Training starts at a low resolution and doubles it in phases. Each new resolution is faded in smoothly: for a
phase of ``phase_kimg`` thousand images its output (G) / input (D) branch is blended with the upsampled /
downsampled branch of the previous resolution by a weight ``alpha`` that rises linearly from 0 to 1, then it is
trained alone for another ``phase_kimg`` (paper section 2 and figure 2; the paper uses 800k images per phase).

The stage is stored as a level of detail ``lod`` (0 = the full resolution R, k = R/2^k), a float buffer of both
networks, as in the official implementations: the fractional part is the fade, ``alpha = 1 - frac(lod)``.
Being a buffer, it travels with the weights (an exported G_ema and a resumed run know their stage, and the EMA
copies it from G). The loop calls :meth:`Generator.progress` / :meth:`Discriminator.progress` with the images
shown so far, which sets ``lod`` from :func:`lod_at`.

So that the data pipeline, metrics and sampling never see the stage, G always returns full-resolution images
(the current stage's output nearest-upsampled to R) and D always takes full-resolution images (average-pooled
down to the current stage's resolution). Only the layers of active stages are computed.

Layout (paper table 2), with channels at side r = min(max_width, width·R/r):

- G: z -> pixel norm -> EqualLinear to 4×4×C -> lrelu -> pixel norm -> conv3×3 -> lrelu -> pixel norm; each
  further stage: nearest ×2, two (conv3×3, lrelu, pixel norm); a linear 1×1 toRGB per stage. During a fade:
  ``rgb = lerp(up2(toRGB_prev(h_prev)), toRGB_cur(block(h_prev)), alpha)``. No tanh (the paper's output is linear).
- D: a 1×1 fromRGB + lrelu per stage; each stage block: conv3×3, conv3×3 (to the next width), 2×2 average pool;
  during a fade: ``h = lerp(fromRGB_prev(pool2(x)), block(fromRGB_cur(x)), alpha)``. The 4×4 end: minibatch
  standard deviation (group ``mbstd``, 0: off), conv3×3, flatten, EqualLinear to C, EqualLinear to 1 logit.
- Equalized learning rate (section 4.1) through :mod:`gankit.models.equalized`, whose layers scale by
  1/sqrt(fan_in); the paper's He gain sqrt(2) of the leaky-ReLU layers is applied after the activation
  (lrelu(√2·a) = √2·lrelu(a)), toRGB and the last layer have gain 1. Pixel norm after every conv of G (4.2).

Input fade of D (our choice, following the official code): during a fade D first blends its input at the
stage's resolution r as ``x <- lerp(up2(pool2(x)), x, alpha)``, so the details of the new resolution appear
gradually in the images D judges. The official code does this to the reals only, in its data pipeline; here the
pipeline is unchanged and D does it to every input, reals and fakes alike, which keeps the two treated the same
(the map is invertible for alpha > 0, so it changes what D sees, not which distributions it can tell apart).
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..fields import option
from .options import GANModel, MaxWidth, MinibatchStd, Progressive
from .equalized import EqualConv2d, EqualLinear, pixel_norm
from .layers import MinibatchStdDev, check_minibatch, require_images, widths

Tensor = torch.Tensor
_GAIN = math.sqrt(2.0)  # He's gain for leaky ReLU layers (Karras et al. 2018 use it for all but toRGB and the logit)


def _log2(n: int, what: str) -> int:
    k = int(n).bit_length() - 1
    if n < 4 or 2**k != n:
        raise ValueError(f"progan: {what} must be a power of two of at least 4, got {n}")
    return k


def _check_sizes(img_resolution: int, start_resolution: int) -> None:
    _log2(img_resolution, "img_resolution")
    _log2(start_resolution, "start_resolution")
    if not 8 <= img_resolution <= 1024:
        raise ValueError(f"progan: img_resolution must be a power of two from 8 to 1024, got {img_resolution}")
    if start_resolution > img_resolution:
        raise ValueError(f"progan: start_resolution {start_resolution} is larger than img_resolution {img_resolution}")


def lod_at(images_seen: int, img_resolution: int, start_resolution: int, phase_kimg: float) -> float:
    """The level of detail after ``images_seen`` real images (0 = full resolution R, k = R/2^k).

    With T = phase_kimg·1000 images and s = log2(R / start_resolution): stable at ``start_resolution`` for T
    images, then for each doubling a fade-in of T images (lod falls linearly by 1) and a stable phase of T
    images; after the last doubling lod stays 0. Closed form with t = images_seen / T, u = t − 1,
    k = floor(u / 2): lod = s for t < 1, else max(0, s − k − min(u − 2k, 1)). ``phase_kimg`` = 0: no growing
    (lod 0 from the start).
    """
    s = _log2(img_resolution, "img_resolution") - _log2(start_resolution, "start_resolution")
    if s < 0:
        raise ValueError(f"progan: start_resolution {start_resolution} is larger than img_resolution {img_resolution}")
    if phase_kimg <= 0:
        return 0.0
    t = images_seen / (phase_kimg * 1000.0)
    if t < 1.0:
        return float(s)
    u = t - 1.0
    k = math.floor(u / 2.0)
    return max(0.0, s - k - min(u - 2.0 * k, 1.0))


def _act(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2) * _GAIN


def _up(x: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour upsampling by an integer factor: N×C×H×W -> N×C×fH×fW (expand + reshape: exact, and
    its backward is a plain sum, deterministic on every device)."""
    if factor == 1:
        return x
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, factor, w, factor).reshape(n, c, h * factor, w * factor)


def _down(x: Tensor, factor: int) -> Tensor:
    """Box-filter downsampling (mean of factor×factor blocks): N×C×H×W -> N×C×H/f×W/f."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


class _Growing(nn.Module):
    """The stage bookkeeping shared by G and D: the ``lod`` buffer, :meth:`progress` and the derived stage."""

    lod: Tensor

    def _init_growth(self, img_resolution: int, start_resolution: int, phase_kimg: float) -> None:
        _check_sizes(img_resolution, start_resolution)
        self.img_resolution, self.start_resolution, self.phase_kimg = img_resolution, start_resolution, phase_kimg
        self.max_lod = _log2(img_resolution, "img_resolution") - 2  # the lod of the 4×4 stage
        self.register_buffer("lod", torch.tensor(lod_at(0, img_resolution, start_resolution, phase_kimg)))
        self._lod_seen: tuple | None = None

    def _lod_value(self) -> float:
        """``lod`` as a Python float, clamped to [0, max_lod]. Reading a GPU buffer would wait for the device on
        every forward, so the value is remembered together with the buffer's identity and version counter: any
        write (progress, load_state_dict, the EMA's buffer copy, ``.to()``) makes it read again."""
        t = self.lod
        try:
            version = t._version
        except RuntimeError:  # inference tensors keep no version counter
            return min(max(float(t), 0.0), float(self.max_lod))
        seen = self._lod_seen
        if seen is None or seen[0] is not t or seen[1] != version:
            seen = (t, version, float(t))
            self._lod_seen = seen
        return min(max(seen[2], 0.0), float(self.max_lod))

    @torch.no_grad()
    def progress(self, images_seen: int) -> None:
        """Set ``lod`` from the schedule (:func:`lod_at`) for ``images_seen`` real images shown so far."""
        value = lod_at(images_seen, self.img_resolution, self.start_resolution, self.phase_kimg)
        self.lod.fill_(value)
        try:
            stored = float(torch.tensor(value, dtype=self.lod.dtype))  # what reading the buffer would give
            self._lod_seen = (self.lod, self.lod._version, stored)
        except RuntimeError:
            self._lod_seen = None

    def stage(self) -> tuple[int, float]:
        """(resolution, alpha): the highest active side and its fade-in weight in [0, 1] (1: stable)."""
        lod = self._lod_value()
        level = math.floor(lod)
        return self.img_resolution >> level, 1.0 - (lod - level)

    @property
    def resolution(self) -> int:
        """The highest active side of the current stage (for logging)."""
        return self.stage()[0]

    @property
    def alpha(self) -> float:
        """The fade-in weight of the current stage's resolution: rises 0 -> 1 during a fade, 1 when stable."""
        return self.stage()[1]

    def _check_stage(self, resolution: int, alpha: float) -> int:
        level = _log2(resolution, "resolution")
        if resolution > self.img_resolution:
            raise ValueError(f"progan: resolution {resolution} is larger than img_resolution {self.img_resolution}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"progan: alpha must be in [0, 1], got {alpha}")
        return level


class _GInput(nn.Module):
    """z: N×z_dim -> N×C×4×4: pixel norm, EqualLinear to 4×4×C, lrelu, pixel norm, conv3×3, lrelu, pixel norm."""

    def __init__(self, z_dim: int, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.dense = EqualLinear(z_dim, channels * 16)
        self.conv = EqualConv2d(channels, channels, 3)

    def forward(self, z: Tensor) -> Tensor:
        h = pixel_norm(_act(self.dense(pixel_norm(z))).view(-1, self.channels, 4, 4))
        return pixel_norm(_act(self.conv(h)))


class _GBlock(nn.Module):
    """N×Cin×r×r -> N×Cout×2r×2r: nearest ×2, then two (conv3×3, lrelu, pixel norm)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = EqualConv2d(cin, cout, 3)
        self.conv2 = EqualConv2d(cout, cout, 3)

    def forward(self, h: Tensor) -> Tensor:
        h = pixel_norm(_act(self.conv1(_up(h, 2))))
        return pixel_norm(_act(self.conv2(h)))


class Generator(_Growing):
    """``forward(z: N×z_dim, c: None) -> N×img_channels×R×R``: the current stage's image, nearest-upsampled to R.

    The output is linear (no tanh), as in the paper; data live in [-1, 1]. ``synthesis(z, resolution, alpha)``
    gives one stage's image at its own side. Parameters of every stage exist from the start (the state dict
    does not depend on the stage); ``lod`` is a buffer.
    """

    def __init__(self, z_dim: int = 512, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3,
                 width: int = 64, max_width: int = 512, start_resolution: int = 4, phase_kimg: float = 600.0) -> None:
        super().__init__()
        if c_dim:
            raise ValueError("progan is unconditional: c_dim must be 0")
        self.z_dim, self.c_dim, self.img_channels = z_dim, 0, img_channels
        self._init_growth(img_resolution, start_resolution, phase_kimg)
        sides = [2**k for k in range(2, self.max_lod + 3)]  # 4, 8, ..., R
        ch = dict(zip(sides, widths(width, len(sides), max_width)))
        blocks: dict[str, nn.Module] = {"4": _GInput(z_dim, ch[4])}
        blocks.update({str(r): _GBlock(ch[r // 2], ch[r]) for r in sides[1:]})
        self.blocks = nn.ModuleDict(blocks)
        self.to_rgb = nn.ModuleDict({str(r): EqualConv2d(ch[r], img_channels, 1) for r in sides})

    def synthesis(self, z: Tensor, resolution: int, alpha: float = 1.0) -> Tensor:
        """z: N×z_dim -> N×img_channels×r×r at side r = ``resolution``, with the fade weight ``alpha`` of r's
        branch (alpha = 0: the previous stage's image upsampled ×2; 1: r's own toRGB)."""
        level = self._check_stage(resolution, alpha)
        h = self.blocks["4"](z)
        fading = alpha < 1.0 and resolution > 4
        prev = None
        for r in (2**k for k in range(3, level + 1)):
            if r == resolution and fading:
                prev = h
            h = self.blocks[str(r)](h)
        rgb = self.to_rgb[str(resolution)](h)
        if prev is not None:
            rgb = torch.lerp(_up(self.to_rgb[str(resolution // 2)](prev), 2), rgb, alpha)
        return rgb

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        del c  # unconditional
        resolution, alpha = self.stage()
        return _up(self.synthesis(z, resolution, alpha), self.img_resolution // resolution)


class DBlock(nn.Module):
    """N×Cin×r×r -> N×Cout×r/2×r/2: conv3×3, lrelu, conv3×3 (to Cout), lrelu, 2×2 average pool.

    Also the block of StyleGAN's D, which is the ProGAN D (:mod:`gankit.models.stylegan` subclasses this). The two
    families have always named the two convolutions differently (here ``conv1``, ``conv2``; StyleGAN ``conv0``,
    ``conv1``), and saved weights carry those names, so a subclass sets its own in ``conv_names``.
    """

    conv_names: tuple[str, str] = ("conv1", "conv2")

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        first, second = self.conv_names
        # First the Cin -> Cin convolution, then the one to Cout: this order fixes the draws from the global RNG,
        # and so the initial weights.
        setattr(self, first, EqualConv2d(cin, cin, 3))
        setattr(self, second, EqualConv2d(cin, cout, 3))

    def forward(self, h: Tensor) -> Tensor:
        first, second = (getattr(self, name) for name in self.conv_names)
        return _down(_act(second(_act(first(h)))), 2)


class DEpilogue(nn.Module):
    """The 4×4 end of D. ``features(h: N×C×4×4) -> N×C`` (mbstd, conv3×3, lrelu, flatten, EqualLinear, lrelu);
    ``forward(h) -> N`` logits (a last EqualLinear with gain 1).

    ``outputs``: width of that last layer (1: the logit). StyleGAN's D ends the same way and subclasses this to add
    its label projection; its dense layer has always been saved as ``fc``, ProGAN's as ``dense``, so a subclass
    sets the name in ``dense_name``.
    """

    dense_name = "dense"

    def __init__(self, channels: int, mbstd: int, outputs: int = 1) -> None:
        super().__init__()
        self.mbstd = MinibatchStdDev(mbstd) if mbstd else None
        # Created in this order (conv, dense, out): it fixes the draws from the global RNG and the state dict order.
        self.conv = EqualConv2d(channels + (1 if mbstd else 0), channels, 3)
        setattr(self, self.dense_name, EqualLinear(channels * 16, channels))
        self.out = EqualLinear(channels, outputs)

    def features(self, h: Tensor) -> Tensor:
        if self.mbstd is not None:
            h = self.mbstd(h)
        dense = getattr(self, self.dense_name)
        return _act(dense(_act(self.conv(h)).flatten(1)))

    def forward(self, h: Tensor) -> Tensor:
        return self.out(self.features(h)).flatten()


class Discriminator(_Growing):
    """``forward(x: N×img_channels×R×R, c: None) -> N`` raw logits of the current stage (x average-pooled to it).

    ``score(x_r, resolution, alpha)`` judges images already at side r; ``embed(x)`` gives the N×C features
    before the last layer (feature matching).
    """

    def __init__(self, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3, width: int = 64,
                 max_width: int = 512, start_resolution: int = 4, phase_kimg: float = 600.0, mbstd: int = 4) -> None:
        super().__init__()
        if c_dim:
            raise ValueError("progan is unconditional: c_dim must be 0")
        if mbstd < 0 or mbstd == 1:
            raise ValueError(f"progan: mbstd must be 0 (off) or a group size of at least 2, got {mbstd}")
        self.c_dim, self.img_channels = 0, img_channels
        self._init_growth(img_resolution, start_resolution, phase_kimg)
        sides = [2**k for k in range(2, self.max_lod + 3)]
        ch = dict(zip(sides, widths(width, len(sides), max_width)))
        self.from_rgb = nn.ModuleDict({str(r): EqualConv2d(img_channels, ch[r], 1) for r in sides})
        self.blocks = nn.ModuleDict({str(r): DBlock(ch[r], ch[r // 2]) for r in sides[1:]})
        self.final = DEpilogue(ch[4], mbstd)

    def _trunk(self, x: Tensor, resolution: int, alpha: float) -> Tensor:
        """x: N×C×r×r -> N×C4×4×4, the feature map that enters the 4×4 end."""
        self._check_stage(resolution, alpha)
        if resolution == 4:
            return _act(self.from_rgb["4"](x))
        fading = alpha < 1.0
        if fading:
            low = _down(x, 2)
            x = torch.lerp(_up(low, 2), x, alpha)  # the input fade (module docstring)
        h = self.blocks[str(resolution)](_act(self.from_rgb[str(resolution)](x)))
        if fading:
            h = torch.lerp(_act(self.from_rgb[str(resolution // 2)](low)), h, alpha)
        r = resolution // 2
        while r > 4:
            h = self.blocks[str(r)](h)
            r //= 2
        return h

    def score(self, x: Tensor, resolution: int, alpha: float = 1.0) -> Tensor:
        """x: N×img_channels×r×r at side r = ``resolution`` -> N logits, with r's fade weight ``alpha``
        (alpha = 0: exactly the previous stage on pool2(x); 1: r's stable stage)."""
        return self.final(self._trunk(x, resolution, alpha))

    def _at_stage(self, x: Tensor) -> tuple[Tensor, int, float]:
        resolution, alpha = self.stage()
        return _down(x, self.img_resolution // resolution), resolution, alpha

    def embed(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """x: N×img_channels×R×R -> N×C: the features under the logit (Salimans et al. 2016 feature matching)."""
        del c
        return self.final.features(self._trunk(*self._at_stage(x)))

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        del c  # unconditional
        return self.score(*self._at_stage(x))


@dataclass
class Options(Progressive, MinibatchStd, MaxWidth, GANModel):
    """``model.*`` of the progan family."""

    name: str = option("progan", help="model family", registry="models")


def check_config(cfg, schema: str) -> None:  # noqa: ANN001 - Config
    """Cross-field rules of ``model.name=progan``: unconditional images, power-of-two sides."""
    require_images(schema, cfg, "progan")
    m = cfg.model
    if m.conditional:
        raise ConfigError("model.conditional: progan is unconditional; use model.name=stylegan2 or dcgan for conditional models")
    r = cfg.data.resolution
    if not (8 <= r <= 1024 and r & (r - 1) == 0):
        raise ConfigError(f"data.resolution: {r} is not allowed for progan; use a power of two from 8 to 1024")
    s = m.start_resolution
    if s & (s - 1) or s > r:
        raise ConfigError(f"model.start_resolution: {s} is not allowed with data.resolution {r}; use a power of two from 4 to {r}")
    check_minibatch(cfg)


def options(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    """G and D constructor arguments from ModelConfig and DataInfo (``info.shape`` = (C, R, R)).

    ``model.mbstd`` is passed as it is (0: off); the paper's setting is 4.
    """
    channels, res = info.shape[0], info.shape[1]
    common = {"img_resolution": res, "img_channels": channels, "max_width": cfg.max_width,
              "start_resolution": cfg.start_resolution, "phase_kimg": float(cfg.phase_kimg)}
    return ({"z_dim": cfg.z_dim, "width": cfg.g_width, **common},
            {"width": cfg.d_width, "mbstd": cfg.mbstd, **common})


__all__ = ["DBlock", "DEpilogue", "Discriminator", "Generator", "check_config", "lod_at", "options"]
