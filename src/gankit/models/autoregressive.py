"""Autoregressive density models: ``MADE`` (points and discrete images) and the gated ``PixelCNN`` (discrete images).

Both factorize p(x) = Π_i p(x_i | x_<i) in a fixed order, so ``log_prob`` is exact (``likelihood_kind = "exact"``),
``loss = −log_prob`` and ``sample`` is sequential (one network pass per dimension / pixel).

* :class:`MADE` — Germain, Gregor, Murray & Larochelle 2015, "MADE: Masked Autoencoder for Distribution Estimation"
  (ICML). A ReLU MLP whose weight matrices are masked so that the outputs of dimension i see only inputs x_<i:
  inputs get the degrees 1..D in the natural order (dimension d has degree d + 1), hidden unit k of every hidden
  layer the degree 1 + (k mod max(D − 1, 1)) (deterministic, no seed), and a connection exists from degree a to a
  hidden degree b iff b ≥ a, from a hidden degree b to the outputs of dimension d iff d + 1 > b. Conditionals:

  - continuous points (``levels`` = 0): a mixture of ``components`` Gaussians per dimension (logits, means and
    log-stds; log σ clamped to ≥ −7, as in MADE-MoG of Papamakarios et al. 2017, "Masked Autoregressive Flow").
    Data-dependent init: the first training-mode ``log_prob``/``loss`` sets the output biases so that every
    conditional starts as a mixture at the batch's marginal quantiles; the ``initialized`` buffer records it (saved
    with the weights; eval mode never initializes);
  - discrete data (``levels`` = K > 1, data_shape [D] or [C, H, W] flattened in C, H, W raster order): a categorical
    over the K levels, the network fed the [−1, 1] values of the levels.

* :class:`PixelCNN` — van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016, "Conditional Image
  Generation with PixelCNN Decoders" (NeurIPS), unconditional and for one channel (C = 1). Each gated layer has a
  vertical stack (a ⌈k/2⌉×k convolution over the rows at and above the current one, done by padding the top) and a
  horizontal stack (a 1×⌈k/2⌉ convolution over the current pixel and those to its left; in the first layer, masked
  type A, the k//2 pixels strictly to its left). The vertical pre-activations, shifted down one row (so they see only
  rows above), reach the horizontal stack through a 1×1 convolution; both stacks use the gate
  tanh(W_f ∗ x) ⊙ σ(W_g ∗ x); the horizontal stack has a 1×1 convolution and a residual connection after its gate
  (not in the first layer, whose input is the image itself). This has no blind spot: with r = L·(k//2) after L
  layers, the logits of pixel (i, j) see the rows i − 1 − r .. i − 1 (columns j − r .. j + r, and further left) and
  the pixels j − r .. j − 1 of row i. Head: ReLU, 1×1 conv to ``channels``, ReLU, 1×1 conv to K logits.
  The network is fed the [−1, 1] values of the levels (one input channel).

Keyword arguments (all plain JSON):

==============  =======  ==============================================================================
kwarg           default  meaning
==============  =======  ==============================================================================
data_shape      —        [D] for points, [C, H, W] for images (PixelCNN: C must be 1)
levels          0 / —    MADE: 0 (points) or K > 1; PixelCNN (required): K > 1; levels −1 + 2k/(K − 1)
width           256      MADE: hidden units per layer
depth           2        MADE: hidden layers
components      10       MADE, continuous only: Gaussians per conditional
layers          5        PixelCNN: gated layers (the first is type A)
channels        32       PixelCNN: feature maps per stack, and of the head's hidden 1×1 conv
kernel          3        PixelCNN: odd kernel size k ≥ 3 (vertical ⌈k/2⌉×k, horizontal 1×⌈k/2⌉)
==============  =======  ==============================================================================

Sampling takes no options. Random draws come from the given CPU ``torch.Generator`` (all of them before the first
network pass) and are moved to the module's device, so the same seed gives bitwise the same samples.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .density import DensityModel, check_options, from_levels, to_levels

Tensor = torch.Tensor

MIN_LOG_STD = -7.0


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def _inverse_cdf(logits: Tensor, u: Tensor) -> Tensor:
    """Categorical draws from ``logits`` (N×K) given uniforms ``u`` (N) in [0, 1): the k with cdf_{k−1} ≤ u < cdf_k.
    Returns N int64."""
    cdf = torch.softmax(logits.float(), dim=-1).cumsum(-1)
    return (cdf < u.unsqueeze(-1)).sum(-1).clamp(max=logits.shape[-1] - 1)


def _check_levels(levels: int, allow_continuous: bool, family: str) -> None:
    if levels == 0 and allow_continuous:
        return
    if levels < 2:
        need = "0 (continuous) or K > 1" if allow_continuous else "K > 1 (discrete images)"
        raise ValueError(f"{family}: levels must be {need}, not {levels}")


# ------------------------------------------------------------------------------------------------------------ MADE


class MaskedLinear(nn.Linear):
    """``nn.Linear`` with its weight times a fixed 0/1 ``mask`` (out×in buffer). ``forward(x: N×in) -> N×out``."""

    def __init__(self, mask: Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float().clone())

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(dims: int, width: int, depth: int, per_dim: int) -> list[Tensor]:
    """The MADE masks (out×in, 0/1 float) for ``depth`` hidden layers of ``width`` units and ``per_dim`` outputs per
    dimension, outputs ordered dimension-major (unit o belongs to dimension o // per_dim).

    Degrees: inputs 1..D; hidden unit k: 1 + (k mod max(D − 1, 1)); outputs of dimension d: d + 1. Hidden-from-below
    connections need degree_out ≥ degree_in, outputs need degree_out > degree_in."""
    d_in = torch.arange(1, dims + 1)
    d_hidden = 1 + torch.arange(width) % max(dims - 1, 1)
    d_out = torch.arange(dims).repeat_interleave(per_dim) + 1
    masks, below = [], d_in
    for _ in range(depth):
        masks.append((d_hidden[:, None] >= below[None, :]).float())
        below = d_hidden
    masks.append((d_out[:, None] > below[None, :]).float())
    return masks


class MADE(DensityModel):
    """Masked autoencoder for distribution estimation (see the module doc).

    ``conditionals(x: N×shape) -> N×D×P``: the parameters of p(x_d | x_<d) (P = 3·components: logits, means,
    log-stds (unclamped) for points; P = K logits for discrete data); row d depends only on x_<d.
    ``log_prob_terms(x) -> N×D``: log p(x_d | x_<d). ``log_prob(x) -> N`` (nats), ``loss(x) -> N`` = −log_prob,
    ``sample(n) -> n×shape``.
    """

    def __init__(self, data_shape: list[int] | tuple[int, ...], levels: int = 0, width: int = 256, depth: int = 2,
                 components: int = 10) -> None:
        super().__init__(data_shape, levels)
        _check_levels(self.levels, True, "MADE")
        if self.levels == 0 and len(self.data_shape) != 1:
            raise ValueError(f"MADE: continuous data must have data_shape [D], not {list(self.data_shape)}")
        if width < 1 or depth < 1 or components < 1:
            raise ValueError(f"MADE: width, depth and components must be ≥ 1 (got {width}, {depth}, {components})")
        self.width, self.depth, self.components = int(width), int(depth), int(components)
        self.per_dim = self.levels if self.levels else 3 * self.components
        masks = made_masks(self.dims, self.width, self.depth, self.per_dim)
        layers: list[nn.Module] = []
        for mask in masks[:-1]:
            layers += [MaskedLinear(mask), nn.ReLU()]
        layers.append(MaskedLinear(masks[-1]))
        self.net = nn.Sequential(*layers)
        self.register_buffer("initialized", torch.tensor(self.levels > 0))

    @torch.no_grad()
    def _data_init(self, x: Tensor) -> None:
        """Points only, on the first training-mode ``log_prob``/``loss`` (x: N×D): the output biases start the
        mixture of dimension d at the marginal quantiles (c + ½)/C of x_d (equal weights, σ = std(x_d)/C), so the
        unconditional first dimension does not have to walk its means out from 0 one Adam step at a time."""
        q = torch.quantile(x, (torch.arange(self.components, device=x.device) + 0.5) / self.components, dim=0)
        log_std = torch.log(x.std(0, unbiased=False).clamp(min=1e-3) / self.components)
        bias = self.net[-1].bias.view(self.dims, 3, self.components)
        bias[:, 0] = 0.0
        bias[:, 1] = q.T
        bias[:, 2] = log_std.unsqueeze(1)
        self.initialized.fill_(True)

    def _inputs(self, x: Tensor) -> Tensor:
        return x.to(_device(self), torch.float32).reshape(x.shape[0], self.dims)

    def conditionals(self, x: Tensor) -> Tensor:
        """Parameters of each conditional: N×shape (float, not snapped) -> N×D×P."""
        return self.net(self._inputs(x)).view(x.shape[0], self.dims, self.per_dim)

    def _terms(self, params: Tensor, target: Tensor) -> Tensor:
        """log p(x_d | x_<d): params N×D×P, target N×D (levels int64 or values float) -> N×D."""
        if self.levels:
            return torch.log_softmax(params, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
        logits, mean, log_std = params.split(self.components, dim=-1)
        log_std = log_std.clamp(min=MIN_LOG_STD)
        z = (target.unsqueeze(-1) - mean) * torch.exp(-log_std)
        log_normal = -0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)
        return torch.logsumexp(torch.log_softmax(logits, dim=-1) + log_normal, dim=-1)

    def log_prob_terms(self, x: Tensor) -> Tensor:
        """log p(x_d | x_<d) per dimension: N×shape -> N×D. Discrete inputs are snapped to the nearest level."""
        x = self._inputs(x)
        if self.levels:
            k = to_levels(x, self.levels)
            return self._terms(self.conditionals(from_levels(k, self.levels)), k)
        if self.training and not bool(self.initialized):
            self._data_init(x)
        return self._terms(self.conditionals(x), x)

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Exact log-likelihood in nats (log-density for points, log-probability of the levels): N×shape -> N."""
        return self.log_prob_terms(x).sum(1)

    def loss(self, x: Tensor) -> Tensor:
        """−log p(x): N×shape -> N."""
        return -self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, **options: Any) -> Tensor:
        """n×shape samples, one network pass per dimension. Draws (on the CPU): n×D uniforms (the categorical or the
        mixture component) and, for points, n×D standard normals."""
        check_options("MADE", options, self.sample_options)
        device = _device(self)
        u = torch.rand(n, self.dims, generator=generator).to(device)
        eps = None if self.levels else torch.randn(n, self.dims, generator=generator).to(device)
        x = torch.zeros(n, self.dims, device=device)
        for d in range(self.dims):
            params = self.conditionals(x)[:, d]
            if self.levels:
                x[:, d] = from_levels(_inverse_cdf(params, u[:, d]), self.levels)
            else:
                logits, mean, log_std = params.split(self.components, dim=-1)
                c = _inverse_cdf(logits, u[:, d]).unsqueeze(-1)
                std = torch.exp(log_std.gather(-1, c).squeeze(-1).clamp(min=MIN_LOG_STD))
                x[:, d] = mean.gather(-1, c).squeeze(-1) + std * eps[:, d]
        return x.view(n, *self.data_shape)


# -------------------------------------------------------------------------------------------------------- PixelCNN


def _gate(x: Tensor) -> Tensor:
    """tanh(first half of the channels) ⊙ σ(second half): N×2p×H×W -> N×p×H×W."""
    f, g = x.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """One gated PixelCNN layer. ``forward(v, h) -> (v', h')``, inputs N×c_in×H×W, outputs N×channels×H×W.

    v' at row i sees v at rows ≤ i; h' at (i, j) sees h at (i, j − k//2 .. j) (first layer: j − k//2 .. j − 1) and v
    at rows ≤ i − 1 (the vertical pre-activation shifted down one row)."""

    def __init__(self, c_in: int, channels: int, kernel: int, first: bool) -> None:
        super().__init__()
        self.half, self.first = kernel // 2, first
        self.v_conv = nn.Conv2d(c_in, 2 * channels, (self.half + 1, kernel))
        self.h_conv = nn.Conv2d(c_in, 2 * channels, (1, self.half if first else self.half + 1))
        self.link = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)

    def forward(self, v: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        height, width = v.shape[-2:]
        v_pre = self.v_conv(F.pad(v, (self.half, self.half, self.half, 0)))        # row i: rows i − k//2 .. i
        v_down = F.pad(v_pre, (0, 0, 1, 0))[:, :, :height]                         # row i: rows ≤ i − 1
        h_pre = self.h_conv(F.pad(h, (self.half, 0, 0, 0)))[..., :width]           # type A: crop drops pixel j
        h_new = self.h_out(_gate(h_pre + self.link(v_down)))
        return _gate(v_pre), h_new if self.first else h + h_new


class PixelCNN(DensityModel):
    """Gated PixelCNN for one-channel discrete images (see the module doc).

    ``logits(x: N×1×H×W) -> N×K×H×W``: the logits of p(x_ij | x_<ij) (raster order), fed the float values as they
    are. ``log_prob(x) -> N`` (nats), ``loss(x) -> N`` = −log_prob, ``sample(n) -> n×1×H×W`` on the levels.
    """

    def __init__(self, data_shape: list[int] | tuple[int, ...], levels: int, layers: int = 5,
                 channels: int = 32, kernel: int = 3) -> None:
        super().__init__(data_shape, levels)
        _check_levels(self.levels, False, "PixelCNN")
        if len(self.data_shape) != 3:
            raise ValueError(f"PixelCNN: data_shape must be [C, H, W], not {list(self.data_shape)}")
        if self.data_shape[0] != 1:
            raise ValueError(f"PixelCNN supports one-channel images only (C = 1), not C = {self.data_shape[0]}")
        if kernel < 3 or kernel % 2 == 0:
            raise ValueError(f"PixelCNN: kernel must be odd and ≥ 3, not {kernel}")
        if layers < 1 or channels < 1:
            raise ValueError(f"PixelCNN: layers and channels must be ≥ 1 (got {layers}, {channels})")
        self.n_layers, self.channels, self.kernel = int(layers), int(channels), int(kernel)
        self.layers = nn.ModuleList(
            GatedLayer(1 if i == 0 else channels, channels, kernel, first=i == 0) for i in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv2d(channels, self.levels, 1))

    def logits(self, x: Tensor) -> Tensor:
        """N×1×H×W float (not snapped) -> N×K×H×W; the logits at (i, j) depend only on pixels before (i, j)."""
        x = x.to(_device(self), torch.float32).reshape(x.shape[0], *self.data_shape)
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head(h)

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Exact log-probability of the grey levels in nats: N×1×H×W in [−1, 1] (snapped to the levels) -> N."""
        k = to_levels(x.to(_device(self)).reshape(x.shape[0], *self.data_shape), self.levels)
        logp = torch.log_softmax(self.logits(from_levels(k, self.levels)), dim=1)
        return logp.gather(1, k).flatten(1).sum(1)

    def loss(self, x: Tensor) -> Tensor:
        """−log p(x): N×1×H×W -> N."""
        return -self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, **options: Any) -> Tensor:
        """n×1×H×W samples on the grey levels, one full network pass per pixel (H·W passes). Draws n×H×W uniforms on
        the CPU."""
        check_options("PixelCNN", options, self.sample_options)
        device = _device(self)
        _, height, width = self.data_shape
        u = torch.rand(n, height, width, generator=generator).to(device)
        x = torch.zeros(n, *self.data_shape, device=device)
        for i in range(height):
            for j in range(width):
                k = _inverse_cdf(self.logits(x)[:, :, i, j], u[:, i, j])
                x[:, 0, i, j] = from_levels(k, self.levels)
        return x


__all__ = ["MADE", "PixelCNN", "MaskedLinear", "GatedLayer", "made_masks"]
