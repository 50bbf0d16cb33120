"""Normalizing flows for the generative-family comparison: :class:`RealNVP` (points) and :class:`Glow` (images).

A flow is a bijection f: x -> z with a tractable Jacobian; with a Gaussian base, log p(x) = log N(f(x); 0, I) +
log |det ∂f/∂x| (change of variables). Both classes are :class:`~gankit.models.density.DensityModel` s with
``reversible = True`` (``encode`` is f, ``decode`` is f⁻¹) and ``sample_options = ("temperature",)``.

References:

* L. Dinh, J. Sohl-Dickstein, S. Bengio, "Density estimation using Real NVP", ICLR 2017 — affine coupling layers
  y_b = x_b·exp(s(x_a)) + t(x_a) with binary masks, scale s through tanh times a learned factor.
* D. P. Kingma, P. Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018 — ActNorm with
  data-dependent initialization, LU-decomposed invertible 1×1 convolutions, affine coupling with scale
  sigmoid(h + 2) (the authors' code), multi-scale squeeze / split with learned conditional priors, temperature.
* L. Theis, A. van den Oord, M. Bethge, "A note on the evaluation of generative models", ICLR 2016, and J. Ho et al.,
  "Flow++", ICML 2019, §3.1 — uniform dequantization: log P(levels) ≥ E_u[log p(x + u)] + D·log h.

``RealNVP`` (vectors, data_shape [D], levels 0, D ≥ 2); ``likelihood_kind = "exact"``:

============== ======= ===========================================================================
kwarg          default meaning
============== ======= ===========================================================================
n_couplings    8       affine coupling layers (masks: even/odd index, then first/second half, ...)
width          128     hidden units of each coupling's MLP
depth          2       hidden layers (ReLU) of each coupling's MLP
actnorm        true    an ActNorm before each coupling (data-dependent init on the first training
                       forward; an ``initialized`` buffer records it)
============== ======= ===========================================================================

``Glow`` (images, data_shape [C, H, W], levels K > 1, H and W divisible by 2**n_levels); ``likelihood_kind =
"bound"``:

============== ======= ===========================================================================
kwarg          default meaning
============== ======= ===========================================================================
n_levels       2       scales: squeeze (2×2 space-to-depth), ``depth`` steps, split (all but last)
depth          8       steps per level: ActNorm -> invertible 1×1 conv (LU) -> affine coupling
hidden         64      channels of the coupling network (conv3×3, ReLU, conv1×1, ReLU, zero conv3×3)
learn_top      true    the top prior is N(μ, diag σ²) with per-channel μ, log σ (zero-initialized);
                       false: N(0, I)
============== ======= ===========================================================================

Latents: ``encode`` returns *standardized* latents ε (N×D): for every Gaussian factor z ~ N(μ, σ²) of the model
(each factored-out half of a Glow level, the top), ε = (z − μ)/σ, so the base is N(0, I) throughout, ``decode(ε)``
is the exact inverse, a temperature-T sample is ``decode(T·ε)`` with ε ~ N(0, I) and ``encode_logdet`` returns
log |det ∂ε/∂x| (the prior's −Σ log σ included): log p(x) = log N(ε; 0, I) + logdet.
Glow's ε order is fixed: the factored-out half of level 0 (C·H·W/2 values, flattened channel-major), then of level 1,
..., then the top.

Glow's dequantization: x on the K-level grid (step h = 2/(K−1)) is snapped to the grid, then u = h·(r − ½) with
r = ``torch.rand(x.shape, generator=generator)`` (CPU; ``log_prob``) or from torch's global RNG on x's device
(``loss``) is added; log_prob returns log p(x + u) + D·log h, a one-draw estimate of the lower bound of
log P(levels).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from .density import DensityModel, check_options, from_levels, snap, to_levels

Tensor = torch.Tensor

_LOG_2PI = math.log(2 * math.pi)


def _std_normal_log_prob(eps: Tensor) -> Tensor:
    """log N(eps; 0, I) per row: eps N×D -> N."""
    return -0.5 * eps.pow(2).sum(1) - 0.5 * eps.shape[1] * _LOG_2PI


def _temperature(options: dict[str, Any]) -> float:
    return float(options.get("temperature", 1.0))


class ActNorm(nn.Module):
    """Per-channel affine y = (x + bias)·exp(log_scale) (Kingma & Dhariwal 2018, §3.1).

    x: N×C (``image=False``) or N×C×H×W (``image=True``). On the first forward in training mode with ≥ 2 values per
    channel, bias and log_scale are set so that y has zero mean and unit variance per channel on that batch
    (σ + 1e-6, as in the authors' code) and the ``initialized`` buffer becomes true (saved in the state dict).
    Before that (e.g. an untrained model in eval mode) the layer is the identity.
    """

    def __init__(self, channels: int, image: bool) -> None:
        super().__init__()
        shape = (1, channels, 1, 1) if image else (1, channels)
        self.bias = nn.Parameter(torch.zeros(shape))
        self.log_scale = nn.Parameter(torch.zeros(shape))
        self.register_buffer("initialized", torch.tensor(False))

    def _initialize(self, x: Tensor) -> None:
        dims = [0, *range(2, x.dim())]
        if x.numel() // x.shape[1] < 2:
            return  # one value per channel has no spread: wait for a larger batch
        with torch.no_grad():
            mean = x.mean(dims, keepdim=True)
            std = x.std(dims, keepdim=True, unbiased=False)
            self.bias.copy_(-mean)
            self.log_scale.copy_(-torch.log(std + 1e-6))
            self.initialized.fill_(True)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x -> (y same shape as x, logdet N)."""
        if self.training and not bool(self.initialized):
            self._initialize(x)
        y = (x + self.bias) * torch.exp(self.log_scale)
        spatial = x[0, 0].numel()
        return y, (self.log_scale.sum() * spatial).expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


# ---------------------------------------------------------------- RealNVP


def _coupling_mask(dims: int, index: int) -> Tensor:
    """Kept coordinates (1.0) of coupling ``index``: couplings 0, 1 use even / odd indices, 2, 3 the first / second
    half, then again (for D = 2 both patterns are [1, 0] / [0, 1], so the kept coordinate alternates)."""
    i = torch.arange(dims)
    kept = (i % 2 == 0) if (index // 2) % 2 == 0 else (i < dims // 2)
    if index % 2 == 1:
        kept = ~kept
    return kept.float()


class _VectorCoupling(nn.Module):
    """RealNVP affine coupling on N×D: y = x·exp(s) + t on the free coordinates, s = factor·tanh(raw), (raw, t) =
    MLP(x ⊙ mask); kept coordinates pass through. Output layer zero-initialized: the identity at init."""

    def __init__(self, mask: Tensor, width: int, depth: int) -> None:
        super().__init__()
        dims = mask.numel()
        self.register_buffer("mask", mask, persistent=False)
        layers: list[nn.Module] = []
        fan_in = dims
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(fan_in, 2 * dims)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.scale_factor = nn.Parameter(torch.ones(dims))

    def _scale_shift(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        raw, shift = self.out(self.body(kept)).chunk(2, dim=1)
        free = 1 - self.mask
        return self.scale_factor * torch.tanh(raw) * free, shift * free

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x N×D -> (y N×D, logdet N)."""
        s, t = self._scale_shift(x * self.mask)
        return x * torch.exp(s) + t, s.sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        s, t = self._scale_shift(y * self.mask)
        return (y - t) * torch.exp(-s)


class RealNVP(DensityModel):
    """RealNVP on points (Dinh et al. 2017): x N×D -> ε N×D, base N(0, I), exact log-density (see the module doc)."""

    likelihood_kind = "exact"
    reversible = True
    sample_options = ("temperature",)

    def __init__(self, data_shape: list[int] | tuple[int, ...], levels: int = 0, n_couplings: int = 8,
                 width: int = 128, depth: int = 2, actnorm: bool = True) -> None:
        super().__init__(data_shape, levels)
        if len(self.data_shape) != 1 or self.data_shape[0] < 2:
            raise ConfigError(f"RealNVP models points: data_shape must be [D] with D >= 2, not {list(self.data_shape)}")
        if self.levels != 0:
            raise ConfigError(f"RealNVP models continuous points (levels 0), not levels={self.levels}; use glow for images")
        if n_couplings < 1 or width < 1 or depth < 0:
            raise ConfigError(f"RealNVP needs n_couplings >= 1, width >= 1, depth >= 0 (got {n_couplings}, {width}, {depth})")
        dims = self.data_shape[0]
        self.norms = nn.ModuleList(ActNorm(dims, image=False) if actnorm else nn.Identity() for _ in range(n_couplings))
        self.couplings = nn.ModuleList(_VectorCoupling(_coupling_mask(dims, i), width, depth) for i in range(n_couplings))

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        p = next(self.parameters())
        return p.device, p.dtype

    def encode_logdet(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x N×D -> (ε N×D, log |det ∂ε/∂x| N)."""
        device, dtype = self._device_dtype()
        h = x.to(device=device, dtype=dtype).reshape(x.shape[0], -1)
        logdet = h.new_zeros(h.shape[0])
        for norm, coupling in zip(self.norms, self.couplings):
            if isinstance(norm, ActNorm):
                h, ld = norm(h)
                logdet = logdet + ld
            h, ld = coupling(h)
            logdet = logdet + ld
        return h, logdet

    def encode(self, x: Tensor) -> Tensor:
        """x N×D -> ε N×D."""
        return self.encode_logdet(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        """ε N×D -> x N×D (the exact inverse of :meth:`encode`)."""
        device, dtype = self._device_dtype()
        h = z.to(device=device, dtype=dtype)
        for norm, coupling in zip(reversed(self.norms), reversed(self.couplings)):
            h = coupling.inverse(h)
            if isinstance(norm, ActNorm):
                h = norm.inverse(h)
        return h

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """x N×D -> log p(x) N (nats; exact; ``generator`` unused)."""
        eps, logdet = self.encode_logdet(x)
        return _std_normal_log_prob(eps) + logdet

    def loss(self, x: Tensor) -> Tensor:
        """x N×D -> −log p(x) N."""
        return -self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, **options: Any) -> Tensor:
        """n×D samples decode(T·ε), ε ~ N(0, I) drawn on the CPU from ``generator``; option ``temperature`` T."""
        check_options("RealNVP", options, self.sample_options)
        device, dtype = self._device_dtype()
        eps = torch.randn(n, self.data_shape[0], generator=generator) * _temperature(options)
        return self.decode(eps.to(device=device, dtype=dtype))


# ---------------------------------------------------------------- Glow


def squeeze2x2(x: Tensor) -> Tensor:
    """Space-to-depth: N×C×H×W -> N×4C×(H/2)×(W/2); output channel 4c + 2i + j holds pixel (2y + i, 2x + j) of c."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze2x2(x: Tensor) -> Tensor:
    """Inverse of :func:`squeeze2x2`: N×4C×H×W -> N×C×2H×2W."""
    n, c4, h, w = x.shape
    c = c4 // 4
    x = x.reshape(n, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c, 2 * h, 2 * w)


class InvConv1x1(nn.Module):
    """Invertible 1×1 convolution with LU-decomposed weight W = P·L·(U + diag(sign(s)·exp(log|s|))) (Kingma &
    Dhariwal 2018, §3.2), initialized as a random rotation (QR of a Gaussian matrix, global RNG). P and sign(s) are
    fixed buffers. x: N×C×H×W; logdet = H·W·Σ log|s|."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        q = torch.linalg.qr(torch.randn(channels, channels))[0]
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.lower = nn.Parameter(torch.tril(lower, -1))
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight(self) -> Tensor:
        """The C×C matrix W."""
        eye = torch.eye(self.log_s.numel(), dtype=self.log_s.dtype, device=self.log_s.device)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x N×C×H×W -> (W·x per pixel, logdet N)."""
        w = self.weight()
        y = F.conv2d(x, w[:, :, None, None])
        return y, (self.log_s.sum() * x[0, 0].numel()).expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        w_inv = torch.linalg.inv(self.weight())
        return F.conv2d(y, w_inv[:, :, None, None])


def _zero_conv(c_in: int, c_out: int) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 3, padding=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class _ImageCoupling(nn.Module):
    """Glow's affine coupling on N×C×H×W: x = (x_a, x_b) split by channel (first C//2 condition), (shift, raw) =
    NN(x_a), y_b = (x_b + shift)·sigmoid(raw + 2); NN = conv3×3 -> ReLU -> conv1×1 -> ReLU -> zero conv3×3."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.c_a = channels // 2
        self.c_b = channels - self.c_a
        self.net = nn.Sequential(nn.Conv2d(self.c_a, hidden, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden, hidden, 1), nn.ReLU(), _zero_conv(hidden, 2 * self.c_b))

    def _shift_raw(self, x_a: Tensor) -> tuple[Tensor, Tensor]:
        h = self.net(x_a)
        return h[:, :self.c_b], h[:, self.c_b:] + 2.0

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x_a, x_b = x[:, :self.c_a], x[:, self.c_a:]
        shift, raw = self._shift_raw(x_a)
        y_b = (x_b + shift) * torch.sigmoid(raw)
        return torch.cat([x_a, y_b], 1), F.logsigmoid(raw).sum((1, 2, 3))

    def inverse(self, y: Tensor) -> Tensor:
        y_a, y_b = y[:, :self.c_a], y[:, self.c_a:]
        shift, raw = self._shift_raw(y_a)
        return torch.cat([y_a, y_b / torch.sigmoid(raw) - shift], 1)


class _GlowStep(nn.Module):
    """ActNorm -> invertible 1×1 conv -> affine coupling on N×C×H×W."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([ActNorm(channels, image=True), InvConv1x1(channels),
                                     _ImageCoupling(channels, hidden)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logdet = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y


class Glow(DensityModel):
    """Glow on K-level images (Kingma & Dhariwal 2018): x N×C×H×W -> ε N×(C·H·W), dequantized lower bound on log
    P(levels) (see the module doc)."""

    likelihood_kind = "bound"
    reversible = True
    sample_options = ("temperature",)

    def __init__(self, data_shape: list[int] | tuple[int, ...], levels: int, n_levels: int = 2, depth: int = 8,
                 hidden: int = 64, learn_top: bool = True) -> None:
        super().__init__(data_shape, levels)
        if len(self.data_shape) != 3:
            raise ConfigError(f"Glow models images: data_shape must be [C, H, W], not {list(self.data_shape)}")
        if self.levels < 2:
            raise ConfigError(f"Glow models discrete images: levels must be K >= 2, not {self.levels}")
        if n_levels < 1 or depth < 1 or hidden < 1:
            raise ConfigError(f"Glow needs n_levels, depth, hidden >= 1 (got {n_levels}, {depth}, {hidden})")
        c, h, w = self.data_shape
        if h % 2 ** n_levels or w % 2 ** n_levels:
            raise ConfigError(f"Glow with n_levels={n_levels} needs H and W divisible by {2 ** n_levels}, not {h}×{w}")
        self.flows = nn.ModuleList()
        self.priors = nn.ModuleList()
        self._pieces: list[tuple[int, int, int]] = []  # shapes of the ε pieces, in encode order
        for level in range(n_levels):
            c, h, w = 4 * c, h // 2, w // 2
            self.flows.append(nn.ModuleList(_GlowStep(c, hidden) for _ in range(depth)))
            if level < n_levels - 1:
                keep = c // 2
                self.priors.append(_zero_conv(keep, 2 * (c - keep)))
                self._pieces.append((c - keep, h, w))
                c = keep
        self._pieces.append((c, h, w))
        self.learn_top = bool(learn_top)
        if self.learn_top:
            self.top_mean = nn.Parameter(torch.zeros(1, c, 1, 1))
            self.top_log_std = nn.Parameter(torch.zeros(1, c, 1, 1))

    @property
    def step(self) -> float:
        """The grid step h = 2/(K − 1)."""
        return 2.0 / (self.levels - 1)

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        p = next(self.parameters())
        return p.device, p.dtype

    def encode_logdet(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x N×C×H×W (continuous) -> (ε N×D, log |det ∂ε/∂x| N)."""
        device, dtype = self._device_dtype()
        h = x.to(device=device, dtype=dtype).reshape(x.shape[0], *self.data_shape)
        logdet = h.new_zeros(h.shape[0])
        pieces = []
        for level, steps in enumerate(self.flows):
            h = squeeze2x2(h)
            for step in steps:
                h, ld = step(h)
                logdet = logdet + ld
            if level < len(self.flows) - 1:
                keep = h.shape[1] // 2
                h, z = h[:, :keep], h[:, keep:]
                mean, log_std = self.priors[level](h).chunk(2, dim=1)
                pieces.append(((z - mean) * torch.exp(-log_std)).flatten(1))
                logdet = logdet - log_std.sum((1, 2, 3))
        if self.learn_top:
            log_std = self.top_log_std.expand_as(h)
            h = (h - self.top_mean) * torch.exp(-log_std)
            logdet = logdet - log_std.sum((1, 2, 3))
        pieces.append(h.flatten(1))
        return torch.cat(pieces, 1), logdet

    def encode(self, x: Tensor) -> Tensor:
        """x N×C×H×W -> ε N×D (no dequantization)."""
        return self.encode_logdet(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        """ε N×D -> x N×C×H×W, the exact inverse of :meth:`encode` (not snapped to the grid)."""
        device, dtype = self._device_dtype()
        z = z.to(device=device, dtype=dtype).reshape(z.shape[0], -1)
        sizes = [c * h * w for c, h, w in self._pieces]
        chunks = list(torch.split(z, sizes, dim=1))
        h = chunks[-1].reshape(z.shape[0], *self._pieces[-1])
        if self.learn_top:
            h = self.top_mean + torch.exp(self.top_log_std) * h
        for level in range(len(self.flows) - 1, -1, -1):
            if level < len(self.flows) - 1:
                mean, log_std = self.priors[level](h).chunk(2, dim=1)
                eps = chunks[level].reshape(z.shape[0], *self._pieces[level])
                h = torch.cat([h, mean + torch.exp(log_std) * eps], 1)
            for step in reversed(self.flows[level]):
                h = step.inverse(h)
            h = unsqueeze2x2(h)
        return h

    def _bound(self, x: Tensor, u: Tensor) -> Tensor:
        device, dtype = self._device_dtype()
        k = self.levels
        grid = from_levels(to_levels(x, k), k).to(device=device, dtype=dtype)
        eps, logdet = self.encode_logdet(grid + u.to(device=device, dtype=dtype))
        return _std_normal_log_prob(eps) + logdet + self.dims * math.log(self.step)

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """x N×C×H×W on the K-level grid -> N one-draw estimates of the dequantization lower bound on log P(levels)
        (nats), u drawn on the CPU from ``generator``."""
        u = (torch.rand(x.shape, generator=generator) - 0.5) * self.step
        return self._bound(x, u)

    def loss(self, x: Tensor) -> Tensor:
        """x N×C×H×W -> −(dequantized bound) N, u from torch's global RNG on x's device."""
        u = (torch.rand(x.shape, device=x.device) - 0.5) * self.step
        return -self._bound(x, u)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, **options: Any) -> Tensor:
        """n×C×H×W images on the grid: decode(T·ε), ε ~ N(0, I) drawn on the CPU from ``generator``, snapped to the
        nearest level; option ``temperature`` T."""
        check_options("Glow", options, self.sample_options)
        device, dtype = self._device_dtype()
        eps = torch.randn(n, self.dims, generator=generator) * _temperature(options)
        x = self.decode(eps.to(device=device, dtype=dtype))
        return snap(x, self.levels)


__all__ = ["RealNVP", "Glow", "ActNorm", "InvConv1x1", "squeeze2x2", "unsqueeze2x2"]
