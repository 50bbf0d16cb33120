"""Style-based generators: StyleGAN (Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for
Generative Adversarial Networks") and StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality
of StyleGAN"), at power-of-two resolutions from 8 to 1024. Two families in one file, registered as ``stylegan``
(:class:`Generator`, :class:`Discriminator`, :func:`options`, :func:`check_config`) and ``stylegan2``
(:class:`Generator2`, :class:`Discriminator2`, :func:`options2`, :func:`check_config2`).

Both generators share the latent side (:class:`StyleGenerator`):

* mapping network f: z → w, an MLP of ``mapping_layers`` equalized-lr layers with learning-rate multiplier
  ``mapping_lr_mul`` (0.01 in the papers) and LeakyReLU(0.2); z is pixel-normalized first. Conditional models
  (c_dim > 0) embed the label, normalize the embedding and join it to z, as the StyleGAN2-ADA code does
  (Karras et al. 2020b). w is broadcast to ``num_ws`` = 2·log2(R) − 2 style vectors, one per layer.
* truncation trick: w' = w_avg + ψ·(w − w_avg) for the first ``truncation_cutoff`` style vectors, with
  ``w_avg`` a buffer tracking the mean w during training (decay ``w_avg_beta``).
* style mixing regularization (StyleGAN §3.1): in training mode, with probability ``style_mixing`` per batch,
  a second z2 is drawn and the style vectors from a crossover index k ~ U{1, …, num_ws − 1} on come from z2.

StyleGAN synthesis: a learned 4×4 constant, then per resolution two 3×3 convolutions (the first after ×2
upsampling), each followed by per-pixel noise with learned per-channel strengths, bias, LeakyReLU and AdaIN
(instance norm, then a per-channel scale and shift computed from w; the scale's bias starts at 1); a 1×1 toRGB
at the end, linear output. Its D is the ProGAN D (Karras et al. 2018): fromRGB, two 3×3 convolutions and 2×2
average pooling per resolution, then minibatch stddev, a 3×3 convolution and two dense layers at 4×4.

StyleGAN2 synthesis: modulated convolutions (weights scaled per input channel by the style s = A(w), then
demodulated by rsqrt(Σ w'² + 1e-8) per output channel; implemented as one grouped convolution with a weight per
sample), noise after the convolution with one learned strength per layer, bias and LeakyReLU; the "skip"
output: a modulated, non-demodulated 1×1 toRGB at every resolution, upsampled and summed. Its D is residual:
fromRGB, then per resolution conv3×3 → conv3×3 → pool, plus a pooled 1×1 shortcut, the sum scaled by 1/√2;
then the 4×4 epilogue with minibatch stddev.

Departures from the published code, to stay plain PyTorch: ×2 upsampling is bilinear interpolation
(``align_corners=False``, which in the interior *is* the [1, 3, 3, 1] FIR filter of the StyleGAN2 code; the
borders replicate instead of zero-padding) and downsampling is 2×2 average pooling, not the FIR filter; the 4×4
constant starts N(0, 1) (as in the StyleGAN2 code; a constant of ones, as in the StyleGAN code, is wiped out by
the first instance norm); both discriminators condition through a StyleGAN2-ADA-style projection whose label
embedding is one equalized dense layer (the ADA code uses a full mapping MLP). Every LeakyReLU is scaled by
√2 so that activations keep unit variance (the "gain" of the StyleGAN2 code).

Widths: ``width`` channels at R×R, doubling towards 4×4, each at most ``max_width``; the published 1024×1024
networks are width 16 (StyleGAN) or 32 (StyleGAN2 config F), max_width 512. All randomness (noise, style
mixing) comes from torch's global RNG, so runs resume bitwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..fields import option
from .options import GANModel, MaxWidth, MinibatchStd, Style
from . import progan
from .equalized import EqualConv2d, EqualLinear, pixel_norm
from .layers import check_minibatch, require_images, widths

Tensor = torch.Tensor
NOISE_MODES = ("random", "const", "none")


def _log2(img_resolution: int) -> int:
    k = int(math.log2(img_resolution)) if img_resolution > 0 else 0
    if 2**k != img_resolution or not 8 <= img_resolution <= 1024:
        raise ValueError(f"StyleGAN resolution must be a power of two from 8 to 1024, got {img_resolution}")
    return k


def channels(img_resolution: int, width: int, max_width: int) -> dict[int, int]:
    """Channels at each side 4, 8, …, R: ``width`` at R, doubling towards 4×4, capped at ``max_width``."""
    k = _log2(img_resolution)
    return dict(zip([2**i for i in range(2, k + 1)], widths(width, k - 1, max_width)))


def lrelu(x: Tensor) -> Tensor:
    """LeakyReLU(0.2)·√2: the √2 gain keeps unit-variance inputs at about unit second moment."""
    return F.leaky_relu(x, 0.2) * math.sqrt(2)


def up2(x: Tensor) -> Tensor:
    """N×C×H×W -> N×C×2H×2W, bilinear (see the module docstring)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def down2(x: Tensor) -> Tensor:
    """N×C×H×W -> N×C×H/2×W/2, 2×2 average pooling."""
    return F.avg_pool2d(x, 2)


def _one_hot(c: Tensor | None, c_dim: int, dtype: torch.dtype, who: str) -> Tensor:
    if c is None:
        raise ValueError(f"this {who} is conditional: pass labels c (N int64)")
    return F.one_hot(c.long(), c_dim).to(dtype)


# ------------------------------------------------------------------------------------------ mapping network

class MappingNetwork(nn.Module):
    """f: (z, c) -> w. ``forward(z: N×z_dim, c: N int64 | None) -> N×w_dim``.

    z is pixel-normalized; with c_dim > 0 the one-hot label goes through an equalized dense layer to w_dim
    features, is normalized the same way and joined to z (StyleGAN2-ADA). Then ``layers`` dense layers with
    learning-rate multiplier ``lr_mul`` and LeakyReLU.
    """

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, layers: int, lr_mul: float) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.embed = EqualLinear(c_dim, w_dim) if c_dim else None
        dims = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * layers
        self.fcs = nn.ModuleList(EqualLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        x = pixel_norm(z)
        if self.embed is not None:
            y = pixel_norm(self.embed(_one_hot(c, self.c_dim, z.dtype, "generator")))
            x = torch.cat([x, y], dim=1)
        for fc in self.fcs:
            x = lrelu(fc(x))
        return x


class StyleGenerator(nn.Module):
    """What both style-based generators share: mapping, truncation, ``w_avg`` and style mixing.

    Subclasses build the synthesis network and implement :meth:`synthesis`. Attributes: ``z_dim, c_dim, w_dim,
    img_resolution, img_channels, num_ws`` and the buffer ``w_avg`` (w_dim,).
    """

    def __init__(self, z_dim: int = 512, c_dim: int = 0, w_dim: int = 512, img_resolution: int = 32,
                 img_channels: int = 3, width: int = 64, max_width: int = 512, mapping_layers: int = 8,
                 mapping_lr_mul: float = 0.01, style_mixing: float = 0.9, w_avg_beta: float = 0.995) -> None:
        super().__init__()
        if not 0.0 <= style_mixing <= 1.0 or not 0.0 <= w_avg_beta <= 1.0:
            raise ValueError(f"style_mixing ({style_mixing}) and w_avg_beta ({w_avg_beta}) must be in [0, 1]")
        if mapping_lr_mul <= 0:
            raise ValueError(f"mapping_lr_mul must be > 0, got {mapping_lr_mul}")
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.num_ws = 2 * _log2(img_resolution) - 2  # two per resolution, 4×4 … R×R
        self.style_mixing, self.w_avg_beta = style_mixing, w_avg_beta
        self.map = MappingNetwork(z_dim, c_dim, w_dim, mapping_layers, mapping_lr_mul)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        ch = channels(img_resolution, width, max_width)
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.build_synthesis(ch)

    def build_synthesis(self, ch: dict[int, int]) -> None:
        """Create the synthesis layers from the channels per resolution ``ch`` (side -> channels)."""
        raise NotImplementedError

    def mapping(self, z: Tensor, c: Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_w_avg: bool = False) -> Tensor:
        """ws: N×num_ws×w_dim from z: N×z_dim (and labels c: N int64).

        ``update_w_avg``: first move ``w_avg`` towards this batch's mean w, w_avg ← mean + β·(w_avg − mean).
        Truncation (StyleGAN §B): ws[:, i] = w_avg + ψ·(w − w_avg) for i < ``truncation_cutoff`` (None: all).
        """
        w = self.map(z, c)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).to(self.w_avg.dtype).lerp(self.w_avg, self.w_avg_beta))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            k = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :k] = self.w_avg.to(ws.dtype).lerp(ws[:, :k], truncation_psi)
        return ws

    def synthesis(self, ws: Tensor, noise_mode: str = "random") -> Tensor:
        """N×num_ws×w_dim -> N×img_channels×R×R."""
        raise NotImplementedError

    def mix_styles(self, ws: Tensor, z: Tensor, c: Tensor | None, truncation_psi: float = 1.0,
                   truncation_cutoff: int | None = None) -> Tensor:
        """Style mixing regularization: with probability ``style_mixing``, ws[:, k:] from a fresh z2 ~ N(0, I),
        k ~ U{1, …, num_ws − 1}; one draw per batch, as in both papers' code. N×num_ws×w_dim -> same."""
        if self.style_mixing <= 0 or self.num_ws < 2 or float(torch.rand(())) >= self.style_mixing:
            return ws
        k = int(torch.randint(1, self.num_ws, ()))
        ws2 = self.mapping(torch.randn_like(z), c, truncation_psi, truncation_cutoff)  # no w_avg update
        return torch.cat([ws[:, :k], ws2[:, k:]], dim=1)

    def forward(self, z: Tensor, c: Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "random") -> Tensor:
        """N×z_dim (+ labels N int64) -> N×img_channels×R×R, linear output (about [-1, 1] once trained).

        Training mode also updates ``w_avg`` and applies style mixing; eval mode does neither."""
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_w_avg=self.training)
        if self.training:
            ws = self.mix_styles(ws, z, c, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode)

    def _check_ws(self, ws: Tensor, noise_mode: str) -> None:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be N×{self.num_ws}×{self.w_dim}, got {tuple(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode {noise_mode!r} is not one of: {', '.join(NOISE_MODES)}")


class NoiseInput(nn.Module):
    """x + strength·noise, with one noise image N×1×H×W broadcast over channels (StyleGAN §2, "B").

    ``forward(x: N×C×H×W, noise_mode) -> N×C×H×W``. ``channels`` strengths (StyleGAN: per channel; StyleGAN2:
    1, one per layer), starting at 0. noise_mode "random": fresh N(0, 1) noise; "const": the buffer
    ``noise_const`` drawn once at construction (saved with the weights); "none": no noise.
    """

    def __init__(self, channels: int, resolution: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: Tensor, noise_mode: str) -> Tensor:
        if noise_mode == "none":
            return x
        if noise_mode == "const":
            noise = self.noise_const.to(x.dtype)
        else:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        return x + noise * self.strength.to(x.dtype).view(1, -1, 1, 1)


# ------------------------------------------------------------------------------------------ StyleGAN

class AdaIN(nn.Module):
    """Adaptive instance norm (StyleGAN eq. 1): ``forward(x: N×C×H×W, w: N×w_dim) -> N×C×H×W``,
    y_s,i · (x_i − μ(x_i)) / σ(x_i) + y_b,i with y_s = A_s(w) (bias starts at 1) and y_b = A_b(w)."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.scale = EqualLinear(w_dim, channels, bias_init=1.0)
        self.shift = EqualLinear(w_dim, channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = F.instance_norm(x, eps=1e-8)
        return x * self.scale(w)[:, :, None, None] + self.shift(w)[:, :, None, None]


class AdaINLayer(nn.Module):
    """One StyleGAN layer: [×2 up] → [conv3×3] → noise → bias → LeakyReLU → AdaIN(w).

    ``forward(x: N×cin×s×s, w: N×w_dim, noise_mode) -> N×cout×S×S`` (S = 2s with ``up``); the first 4×4 layer
    has no convolution (it styles the constant).
    """

    def __init__(self, cin: int, cout: int, w_dim: int, resolution: int, up: bool = False, conv: bool = True) -> None:
        super().__init__()
        self.up = up
        self.conv = EqualConv2d(cin, cout, 3, bias=False) if conv else None
        self.noise = NoiseInput(cout, resolution)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.adain = AdaIN(cout, w_dim)

    def forward(self, x: Tensor, w: Tensor, noise_mode: str) -> Tensor:
        if self.up:
            x = up2(x)
        if self.conv is not None:
            x = self.conv(x)
        x = self.noise(x, noise_mode) + self.bias.view(1, -1, 1, 1)
        return self.adain(lrelu(x), w)


class Generator(StyleGenerator):
    """StyleGAN generator. ``forward(z: N×z_dim, c: N int64 | None) -> N×img_channels×R×R``.

    Layer i (0 … num_ws − 1) is styled by ws[:, i]: two per resolution 4, 8, …, R; toRGB takes no style.
    """

    def build_synthesis(self, ch: dict[int, int]) -> None:
        w_dim = self.w_dim
        layers = [AdaINLayer(ch[4], ch[4], w_dim, 4, conv=False), AdaINLayer(ch[4], ch[4], w_dim, 4)]
        for s in list(ch)[1:]:
            layers += [AdaINLayer(ch[s // 2], ch[s], w_dim, s, up=True), AdaINLayer(ch[s], ch[s], w_dim, s)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = EqualConv2d(ch[self.img_resolution], self.img_channels, 1)
        assert len(self.layers) == self.num_ws

    def synthesis(self, ws: Tensor, noise_mode: str = "random") -> Tensor:
        """N×num_ws×w_dim -> N×img_channels×R×R."""
        self._check_ws(ws, noise_mode)
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1).to(ws.dtype)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noise_mode)
        return self.to_rgb(x)


class DEpilogue(progan.DEpilogue):
    """D's 4×4 end (both families): [minibatch stddev] → conv3×3 → dense → dense → logit, i.e. ProGAN's
    (:class:`gankit.models.progan.DEpilogue`, whose code this reuses), with the first dense layer named ``fc``.

    ``features(x: N×C×4×4) -> N×C`` (the penultimate activations); ``forward(x, c) -> N`` raw logits.
    Conditional (c_dim > 0): the last dense layer outputs C features h and the logit is ⟨h, e(c)⟩/√C with e(c)
    a normalized label embedding (the projection of StyleGAN2-ADA's D, Miyato & Koyama 2018).
    """

    dense_name = "fc"  # the name StyleGAN checkpoints have always used

    def __init__(self, channels: int, c_dim: int, mbstd: int) -> None:
        super().__init__(channels, mbstd, outputs=channels if c_dim else 1)
        self.c_dim = c_dim
        self.embed = EqualLinear(c_dim, channels) if c_dim else None  # after ``out``, as always: same initial weights

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = self.out(self.features(x))
        if self.embed is None:
            return h.squeeze(1)
        e = pixel_norm(self.embed(_one_hot(c, self.c_dim, h.dtype, "discriminator")))
        return (h * e).sum(dim=1) / math.sqrt(h.shape[1])


class _StyleDiscriminator(nn.Module):
    """fromRGB (1×1 + LeakyReLU) at R×R → ``blocks`` down to 4×4 → :class:`DEpilogue`.

    ``forward(x: N×img_channels×R×R, c: N int64 | None) -> N`` raw logits; ``embed(x, c) -> N×C4`` D's
    penultimate features (for feature matching).
    """

    block: type[nn.Module]

    def __init__(self, c_dim: int = 0, img_resolution: int = 32, img_channels: int = 3, width: int = 64,
                 max_width: int = 512, mbstd: int = 4) -> None:
        super().__init__()
        if mbstd == 1 or mbstd < 0:
            raise ValueError(f"mbstd must be 0 (off) or a group size of 2 or more, got {mbstd}")
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        ch = channels(img_resolution, width, max_width)
        self.from_rgb = EqualConv2d(img_channels, ch[img_resolution], 1)
        sides = sorted(ch, reverse=True)[:-1]  # R, R/2, …, 8: each block halves the side
        self.blocks = nn.Sequential(*(self.block(ch[s], ch[s // 2]) for s in sides))
        self.epilogue = DEpilogue(ch[4], c_dim, mbstd)

    def _trunk(self, x: Tensor) -> Tensor:
        return self.blocks(lrelu(self.from_rgb(x)))

    def embed(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        del c  # the label enters only through the projection
        return self.epilogue.features(self._trunk(x))

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.epilogue(self._trunk(x), c)


class ProGANDBlock(progan.DBlock):
    """``forward(x: N×cin×s×s) -> N×cout×s/2×s/2``: conv3×3 → LeakyReLU → conv3×3 → LeakyReLU → pool.

    ProGAN's D block (:class:`gankit.models.progan.DBlock`), under the parameter names StyleGAN checkpoints have
    always used.
    """

    conv_names = ("conv0", "conv1")


class Discriminator(_StyleDiscriminator):
    """StyleGAN's discriminator: the ProGAN D (Karras et al. 2018) with minibatch stddev group ``mbstd``.

    ``forward(x: N×img_channels×R×R, c: N int64 | None) -> N`` raw logits.
    """

    block = ProGANDBlock


# ------------------------------------------------------------------------------------------ StyleGAN2

class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated convolution (§2.2): ``forward(x: N×cin×H×W, w: N×w_dim) -> N×cout×H'×W'``.

    s = A(w) (N×cin, bias starts at 1); w'_ijk = s_i·c·w_ijk (c = 1/√(cin·k²), equalized lr); with
    ``demodulate``, w''_ijk = w'_ijk / √(Σ_ik w'_ijk² + 1e-8) per sample and output channel j, so unit-variance
    inputs give unit-variance outputs. One grouped convolution applies each sample's own weights. ``up``: ×2
    bilinear upsampling before the convolution (H' = 2H).
    """

    def __init__(self, cin: int, cout: int, kernel_size: int, w_dim: int, demodulate: bool = True,
                 up: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(cin * kernel_size * kernel_size)
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)
        self.demodulate, self.up = demodulate, up

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        n, cin, _, _ = x.shape
        cout, _, k, _ = self.weight.shape
        s = self.affine(w)  # N×cin
        weight = self.weight.unsqueeze(0) * (self.scale * s[:, None, :, None, None])  # N×cout×cin×k×k
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        if self.up:
            x = up2(x)
        out = F.conv2d(x.reshape(1, n * cin, *x.shape[2:]), weight.reshape(n * cout, cin, k, k).to(x.dtype),
                       padding=k // 2, groups=n)
        return out.reshape(n, cout, *out.shape[2:])


class StyleConv(nn.Module):
    """Modulated conv3×3 → noise (one strength) → bias → LeakyReLU.
    ``forward(x: N×cin×s×s, w: N×w_dim, noise_mode) -> N×cout×S×S`` (S = 2s with ``up``)."""

    def __init__(self, cin: int, cout: int, w_dim: int, resolution: int, up: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 3, w_dim, demodulate=True, up=up)
        self.noise = NoiseInput(1, resolution)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str) -> Tensor:
        x = self.noise(self.conv(x, w), noise_mode)
        return lrelu(x + self.bias.view(1, -1, 1, 1).to(x.dtype))


class ToRGB(nn.Module):
    """Modulated 1×1 convolution without demodulation, plus bias, linear.
    ``forward(x: N×cin×s×s, w: N×w_dim) -> N×img_channels×s×s``."""

    def __init__(self, cin: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(cin, img_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1).to(x.dtype)


class SynthesisBlock(nn.Module):
    """One StyleGAN2 resolution of the skip generator.

    ``forward(x: N×cin×s×s, img: N×C×s×s | None, ws: N×(num_conv+1)×w_dim, noise_mode) -> (x: N×cout×S×S,
    img: N×C×S×S)``: [conv0 with ×2 up] → conv1 → toRGB, added to the upsampled image so far. The 4×4 block
    (``first``) has conv1 only and reads the constant; its ws rows: conv1, toRGB; others: conv0, conv1, toRGB
    (toRGB shares its w with the next block's conv0, as in the StyleGAN2 code).
    """

    def __init__(self, cin: int, cout: int, w_dim: int, img_channels: int, resolution: int, first: bool) -> None:
        super().__init__()
        self.conv0 = None if first else StyleConv(cin, cout, w_dim, resolution, up=True)
        self.conv1 = StyleConv(cout, cout, w_dim, resolution)
        self.to_rgb = ToRGB(cout, img_channels, w_dim)
        self.num_conv = 1 if first else 2

    def forward(self, x: Tensor, img: Tensor | None, ws: Tensor, noise_mode: str) -> tuple[Tensor, Tensor]:
        if self.conv0 is not None:
            x = self.conv0(x, ws[:, 0], noise_mode)
        x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode)
        y = self.to_rgb(x, ws[:, self.num_conv])
        return x, y if img is None else up2(img) + y


class Generator2(StyleGenerator):
    """StyleGAN2 generator (config F layout: skip G). ``forward(z: N×z_dim, c: N int64 | None) -> N×C×R×R``."""

    def build_synthesis(self, ch: dict[int, int]) -> None:
        self.blocks = nn.ModuleList(SynthesisBlock(ch[max(s // 2, 4)], ch[s], self.w_dim, self.img_channels, s, first=s == 4)
                                    for s in ch)
        assert sum(b.num_conv for b in self.blocks) + 1 == self.num_ws

    def synthesis(self, ws: Tensor, noise_mode: str = "random") -> Tensor:
        """N×num_ws×w_dim -> N×img_channels×R×R."""
        self._check_ws(ws, noise_mode)
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1).to(ws.dtype)
        img, i = None, 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, i:i + block.num_conv + 1], noise_mode)
            i += block.num_conv
        return img


class ResidualDBlock(ProGANDBlock):
    """``forward(x: N×cin×s×s) -> N×cout×s/2×s/2``: (pool(conv1×1(x)) + the ProGAN block(x))/√2.

    The 1/√2 keeps the variance of the sum of two unit-variance paths at one (StyleGAN2 §4.1, Fig. 7c).
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(cin, cout)
        self.skip = EqualConv2d(cin, cout, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return (self.skip(down2(x)) + super().forward(x)) * math.sqrt(0.5)


class Discriminator2(_StyleDiscriminator):
    """StyleGAN2's residual discriminator with minibatch stddev group ``mbstd`` at 4×4.

    ``forward(x: N×img_channels×R×R, c: N int64 | None) -> N`` raw logits.
    """

    block = ResidualDBlock


# ------------------------------------------------------------------------------------------ options and checks

def _options(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    c_dim = info.num_classes if cfg.conditional else 0
    img = {"img_resolution": info.shape[1], "img_channels": info.shape[0]}
    g = {"z_dim": cfg.z_dim, "c_dim": c_dim, "w_dim": cfg.w_dim, **img, "width": cfg.g_width,
         "max_width": cfg.max_width, "mapping_layers": cfg.mapping_layers, "mapping_lr_mul": cfg.mapping_lr_mul,
         "style_mixing": cfg.style_mixing, "w_avg_beta": cfg.w_avg_beta}
    d = {"c_dim": c_dim, **img, "width": cfg.d_width, "max_width": cfg.max_width, "mbstd": cfg.mbstd}
    return g, d


def options(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    """StyleGAN G and D constructor kwargs (plain JSON) from ModelConfig and DataInfo; D's mbstd is model.mbstd."""
    return _options(cfg, info)


def options2(cfg, info) -> tuple[dict, dict]:  # noqa: ANN001 - ModelConfig, DataInfo
    """StyleGAN2 G and D constructor kwargs (plain JSON) from ModelConfig and DataInfo; D's mbstd is model.mbstd."""
    return _options(cfg, info)


@dataclass
class Options(Style, MinibatchStd, MaxWidth, GANModel):
    """``model.*`` of the stylegan family."""

    name: str = option("stylegan", help="model family", registry="models")


@dataclass
class Options2(Options):
    """``model.*`` of the stylegan2 family."""

    name: str = option("stylegan2", help="model family", registry="models")


def _check(cfg, schema: str, family: str) -> None:  # noqa: ANN001 - Config
    require_images(schema, cfg, family)
    r, m = cfg.data.resolution, cfg.model
    if not (8 <= r <= 1024 and r & (r - 1) == 0):
        raise ConfigError(f"data.resolution: {r} is not allowed for {family}; use a power of two from 8 to 1024")
    if m.mapping_lr_mul <= 0:
        raise ConfigError(f"model.mapping_lr_mul: {m.mapping_lr_mul} would freeze the mapping network; "
                          f"use a value in (0, 1], e.g. 0.01 as published")
    check_minibatch(cfg)


def check_config(cfg, schema: str) -> None:  # noqa: ANN001 - Config
    """Cross-field rules of ``stylegan`` (raises ConfigError)."""
    _check(cfg, schema, "stylegan")


def check_config2(cfg, schema: str) -> None:  # noqa: ANN001 - Config
    """Cross-field rules of ``stylegan2`` (raises ConfigError)."""
    _check(cfg, schema, "stylegan2")


__all__ = ["AdaIN", "AdaINLayer", "DEpilogue", "Discriminator", "Discriminator2", "Generator", "Generator2",
           "MappingNetwork", "ModulatedConv2d", "NoiseInput", "Options", "Options2", "ProGANDBlock", "ResidualDBlock", "StyleConv",
           "StyleGenerator", "SynthesisBlock", "ToRGB", "channels", "check_config", "check_config2", "options",
           "options2"]
