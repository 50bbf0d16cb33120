"""Diffusion models for the generative-family comparison: :class:`DDPM` (trained on the ε-loss, evaluated on its variational
bound, sampled ancestrally or with DDIM).

References:

* J. Ho, A. Jain, P. Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020 — the forward process
  q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I), its marginal q(x_t | x_0) = N(√ᾱ_t x_0, (1−ᾱ_t) I) (eq. 4), the
  posterior q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I) (eq. 6–7), the reverse model p_θ(x_{t−1} | x_t) = N(μ_θ, σ_t² I) with
  μ_θ = (x_t − β_t/√(1−ᾱ_t) ε_θ(x_t, t))/√α_t (eq. 11), the bound L = L_T + Σ_{t≥2} L_{t−1} + L_0 (eq. 5), the
  discretized Gaussian decoder (eq. 13), L_simple (eq. 14), the linear β schedule 1e-4 … 0.02, the U-Net shape
  (GroupNorm residual blocks with the time embedding added inside, concatenated skips), ancestral sampling (Alg. 2).
* J. Song, C. Meng, S. Ermon, "Denoising Diffusion Implicit Models", ICLR 2021 — the sampler of eq. 12 on a
  subsequence τ of the steps, σ_τ(η) = η √((1−ᾱ_{τ_{i−1}})/(1−ᾱ_{τ_i})) √(1 − ᾱ_{τ_i}/ᾱ_{τ_{i−1}}) (eq. 16).
* A. Nichol, P. Dhariwal, "Improved Denoising Diffusion Probabilistic Models", ICML 2021 — the cosine schedule
  ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s) · π/2), s = 0.008, β_t = min(1 − ᾱ_t/ᾱ_{t−1}, 0.999).

Conventions. Steps are numbered t = 1..T; the schedule buffers have T + 1 entries with entry 0 for t = 0 (β_0 = 0,
ᾱ_0 = 1), so ``alphas_cumprod[t - 1]`` is ᾱ_{t−1} for every t ≥ 1. They are computed and stored in float64; the bound
is evaluated in float64 (network in float32), sampling in float32. ``sample_options = ("sampler", "steps", "eta")``,
``likelihood_kind = "bound"``, ``loss_name = "mse"``.

``DDPM`` kwargs (data_shape [D] for points with an MLP ε-network, [C, H, W] for images with a U-Net):

============ ========= ===================================================================================================
kwarg        default   meaning
============ ========= ===================================================================================================
data_shape   —         [D] (points) or [C, H, W] (images; H = W a power of two ≥ 8, divisible by 2^(len(mults)−1))
levels       0         0: continuous data; K > 1: grey levels −1 + 2k/(K−1) (discretized decoder for L_0)
timesteps    1000      T, the number of diffusion steps
schedule     "linear"  "linear" (β_t from 1e-4 to 0.02 over t = 1..T) or "cosine" (Nichol & Dhariwal, β ≤ 0.999)
variance     "beta"    reverse variance σ_t²: "beta" (β_t) or "beta_tilde" (β̃_t for t ≥ 2, σ_1² = β̃_2; see below)
width        128       points: hidden units of the MLP (also the time-embedding size)
depth        3         points: hidden layers of the MLP (SiLU; the time embedding is added before each activation)
channels     32        images: base channels of the U-Net (also the sinusoidal embedding size; its MLP has 4×)
mults        [1, 2]    images: channel multiplier per resolution (len(mults) − 1 stride-2 downsamplings)
blocks       1         images: residual blocks per resolution on the way down (blocks + 1 on the way up)
bound_steps  0         log_prob: 0 evaluates L_{t−1} at every t = 2..T (the bound); S > 0 draws one t in each of S equal
                       strata of 2..T (with ``generator``) and weights it by the stratum size — an unbiased *estimate*
                       of the bound, cheaper, not itself a bound
bound_batch  2048      log_prob: rows per ε-network call (t values × samples per chunk; only speed/memory, not values)
============ ========= ===================================================================================================

Choices stated:

* σ_1² is used only by the decoder L_0 (sampling adds no noise at t = 1). "beta": σ_1² = β_1. "beta_tilde": β̃_1 = 0
  would be degenerate, so σ_1² = β̃_2 (Ho et al.'s released code clips the log-variance so; it also uses β̃_2 with "beta",
  which here cost 0.25 nats on a 2-D Gaussian with the exact denoiser against 0.01 with β_1, so "beta" keeps β_1).
* Images (data_shape [C, H, W]): the predicted x̂_0 = (x_t − √(1−ᾱ_t) ε_θ)/√ᾱ_t is clipped to [−1, 1] and the reverse
  mean is the posterior mean μ̃_t(x̂_0, x_t) — in the DDPM sampler, in the DDIM sampler (ε is then recomputed from the
  clipped x̂_0) and in the bound, so the bound is that of the model the sampler draws from. Points: no clipping, μ_θ of
  eq. 11 (equal to μ̃_t(x̂_0, x_t) without clipping).
* DDIM timesteps: τ_i = 1 + ⌊i·T/S⌋, i = 0..S−1 for S = ``steps`` (None: S = T) — exactly Song et al.'s "uniform"
  range(0, T, T/S) + 1 when S divides T (e.g. T = 1000, S = 50: 1, 21, …, 981), near-uniform otherwise. Sampling
  starts from x ~ N(0, I) at τ_S and the last step returns x̂_0 of τ_1. With η = 1 and S = T it is DDPM with
  σ_t² = β̃_t (the same noise draws in the same order).
* ``sampler="ddpm"`` runs all T steps and ignores ``steps`` and ``eta``. Discrete images (levels K) are snapped to the
  nearest level at the end of either sampler.
* Random draws: ``loss`` uses torch's global RNG on the data's device; ``sample`` and ``log_prob`` draw on the CPU with
  ``generator`` (torch's global CPU RNG when None) and move to the model's device — x_T, then one N×shape noise per step
  (``log_prob``: per evaluated t, in increasing t; the draws do not depend on ``bound_batch``).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .density import DensityModel, check_options, snap

Tensor = torch.Tensor

SCHEDULES = ("linear", "cosine")
VARIANCES = ("beta", "beta_tilde")
SAMPLERS = ("ddpm", "ddim")


# ---------------------------------------------------------------- schedules and closed forms


def beta_schedule(name: str, timesteps: int) -> Tensor:
    """β_1..β_T (float64, shape T) of the named schedule."""
    T = int(timesteps)
    if name == "linear":
        return torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    if name == "cosine":
        s = 0.008
        t = torch.arange(T + 1, dtype=torch.float64)
        f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
        abar = f / f[0]
        return (1 - abar[1:] / abar[:-1]).clamp(max=0.999)
    raise ValueError(f"schedule: {name!r} is not one of {', '.join(SCHEDULES)}")


def gaussian_kl(mean1: Tensor, var1: Tensor, mean2: Tensor, var2: Tensor) -> Tensor:
    """KL(N(mean1, var1) ‖ N(mean2, var2)) per element, in nats (all arguments broadcast; variances > 0)."""
    return 0.5 * (torch.log(var2) - torch.log(var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1.0)


def gaussian_log_prob(x: Tensor, mean: Tensor, var: Tensor) -> Tensor:
    """log N(x; mean, var) per element, in nats (arguments broadcast)."""
    return -0.5 * (math.log(2 * math.pi) + torch.log(var) + (x - mean) ** 2 / var)


def _log_diff_ndtr(a: Tensor, b: Tensor) -> Tensor:
    """log(Φ(b) − Φ(a)) for a < b (elementwise, stable in both tails; a may be −∞, b may be +∞)."""
    flip = a > 0  # both in the upper tail: Φ(b) − Φ(a) = Φ(−a) − Φ(−b)
    lo = torch.where(flip, -b, a)
    hi = torch.where(flip, -a, b)
    lhi = torch.special.log_ndtr(hi)
    llo = torch.special.log_ndtr(lo)
    return lhi + torch.log(-torch.expm1(llo - lhi))


def discretized_gaussian_log_prob(x: Tensor, mean: Tensor, std: Tensor, levels: int) -> Tensor:
    """log P(x) per element under N(mean, std²) integrated over x's bin (Ho et al. eq. 13).

    x holds values on the grid −1 + 2k/(levels − 1) (others are snapped to the nearest level); the bin is
    x ± 1/(levels − 1), open to −∞ at x = −1 and to +∞ at
    x = 1, so the K probabilities of one element sum to 1. Shapes broadcast; std > 0.
    """
    k = torch.round((x.clamp(-1, 1) + 1) * ((levels - 1) / 2))  # the level, so the bin edges tile [−∞, ∞] exactly
    step = 2.0 / (levels - 1)
    lo = torch.where(k <= 0, torch.full_like(x, -math.inf), ((k - 0.5) * step - 1 - mean) / std)
    hi = torch.where(k >= levels - 1, torch.full_like(x, math.inf), ((k + 0.5) * step - 1 - mean) / std)
    return _log_diff_ndtr(lo, hi)


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of steps t (N, any numeric dtype) -> N×dim float32: [sin(t·ω_k), cos(t·ω_k)],
    ω_k = 10000^(−k/⌈dim/2⌉) (Vaswani et al. 2017; zero-padded when dim is odd)."""
    half = (dim + 1) // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)[:, :dim]


def _groups(c: int) -> int:
    """The most GroupNorm groups ≤ 8 that divide c."""
    return next(g for g in range(min(8, c), 0, -1) if c % g == 0)


# ---------------------------------------------------------------- ε-networks


class EpsMLP(nn.Module):
    """ε-network for points: ``forward(x: N×D, t: N int) -> N×D``.

    h_0 = x; h_i = SiLU(W_i h_{i−1} + E_i e(t)) for i = 1..depth with e(t) = MLP(sinusoid(t)) (width units each);
    out = W_out h_depth, zero-initialized.
    """

    def __init__(self, dim: int, width: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.width = width
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())
        self.layers = nn.ModuleList(nn.Linear(dim if i == 0 else width, width) for i in range(depth))
        self.time_proj = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.out = nn.Linear(width, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        emb = self.time(timestep_embedding(t, self.width).to(x.dtype))
        h = x
        for layer, proj in zip(self.layers, self.time_proj):
            h = F.silu(layer(h) + proj(emb))
        return self.out(h)


class ResBlock(nn.Module):
    """``forward(x: N×cin×H×W, emb: N×tdim) -> N×cout×H×W``: GN–SiLU–conv3×3, + Linear(SiLU(emb)) per channel,
    GN–SiLU–conv3×3, plus the input (1×1 conv when cin ≠ cout)."""

    def __init__(self, cin: int, cout: int, tdim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """``forward(x: N×c×H×W) -> N×c×(H/2)×(W/2)``: a stride-2 3×3 convolution."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """``forward(x: N×c×H×W) -> N×c×2H×2W``: nearest-neighbour ×2, then a 3×3 convolution."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class EpsUNet(nn.Module):
    """ε-network for images: ``forward(x: N×C×H×W, t: N int) -> N×C×H×W`` (no attention).

    conv3×3 C -> ch; down: per resolution i, ``blocks`` ResBlocks to ch·mults[i] (each output kept as a skip), then a
    stride-2 conv (its output kept too) except at the last; middle: one ResBlock; up: per resolution from the lowest,
    ``blocks`` + 1 ResBlocks on [h, skip] concatenated along channels, then nearest ×2 + conv except at the top;
    out: GN–SiLU–conv3×3 to C, zero-initialized. Time: sinusoid(t, ch) -> Linear(4ch)–SiLU–Linear(4ch), added inside
    every ResBlock.
    """

    def __init__(self, in_channels: int, channels: int = 32, mults: tuple[int, ...] = (1, 2), blocks: int = 1) -> None:
        super().__init__()
        self.channels = channels
        tdim = 4 * channels
        self.time = nn.Sequential(nn.Linear(channels, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.conv_in = nn.Conv2d(in_channels, channels, 3, padding=1)
        skips = [channels]
        cur = channels
        self.down = nn.ModuleList()
        for i, m in enumerate(mults):
            for _ in range(blocks):
                self.down.append(ResBlock(cur, channels * m, tdim))
                cur = channels * m
                skips.append(cur)
            if i < len(mults) - 1:
                self.down.append(Downsample(cur))
                skips.append(cur)
        self.mid = ResBlock(cur, cur, tdim)
        self.up = nn.ModuleList()
        for i in reversed(range(len(mults))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock(cur + skips.pop(), channels * mults[i], tdim))
                cur = channels * mults[i]
            if i > 0:
                self.up.append(Upsample(cur))
        self.norm_out = nn.GroupNorm(_groups(cur), cur)
        self.conv_out = nn.Conv2d(cur, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        emb = self.time(timestep_embedding(t, self.channels).to(x.dtype))
        h = self.conv_in(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        h = self.mid(h, emb)
        for layer in self.up:
            h = layer(torch.cat([h, hs.pop()], dim=1), emb) if isinstance(layer, ResBlock) else layer(h)
        return self.conv_out(F.silu(self.norm_out(h)))


# ---------------------------------------------------------------- the model


class DDPM(DensityModel):
    """Denoising diffusion probabilistic model (see the module doc for kwargs and conventions).

    ``loss(x: N×shape) -> N`` (L_simple), ``log_prob(x, generator) -> N`` (−L, nats), ``sample(n, generator, sampler,
    steps, eta) -> n×shape``; helpers ``q_sample``, ``q_posterior``, ``predict_x0``, ``p_mean``, ``bound_terms``.
    ``net`` is the ε-network, ``forward(x_t: N×shape, t: N int64 in 1..T) -> N×shape``.
    """

    likelihood_kind: ClassVar[str] = "bound"
    loss_name: ClassVar[str] = "mse"
    sample_options: ClassVar[tuple[str, ...]] = ("sampler", "steps", "eta")

    def __init__(self, data_shape: Any, levels: int = 0, timesteps: int = 1000, schedule: str = "linear",
                 variance: str = "beta", width: int = 128, depth: int = 3, channels: int = 32, mults: Any = (1, 2),
                 blocks: int = 1, bound_steps: int = 0, bound_batch: int = 2048) -> None:
        super().__init__(data_shape, levels)
        shape = self.data_shape
        if len(shape) not in (1, 3) or min(shape) < 1:
            raise ValueError(f"data_shape: {list(shape)} is neither [D] (points) nor [C, H, W] (images)")
        if self.levels == 1 or self.levels < 0:
            raise ValueError(f"levels: {levels} must be 0 (continuous) or at least 2")
        if int(timesteps) < 2:
            raise ValueError(f"timesteps: {timesteps} must be at least 2")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule: {schedule!r} is not one of {', '.join(SCHEDULES)}")
        if variance not in VARIANCES:
            raise ValueError(f"variance: {variance!r} is not one of {', '.join(VARIANCES)}")
        if int(bound_steps) < 0 or int(bound_batch) < 1:
            raise ValueError(f"bound_steps ({bound_steps}) must be ≥ 0 and bound_batch ({bound_batch}) ≥ 1")
        self.timesteps, self.schedule, self.variance = int(timesteps), schedule, variance
        self.bound_steps, self.bound_batch = int(bound_steps), int(bound_batch)
        self.is_image = len(shape) == 3
        if self.is_image:
            mults = tuple(int(m) for m in mults)
            c, h, w = shape
            if h != w or h < 8 or h & (h - 1):
                raise ValueError(f"data_shape: images must be square with a power-of-two side ≥ 8; got {h}×{w}")
            if not mults or min(mults) < 1 or h % (2 ** (len(mults) - 1)) or int(channels) < 1 or int(blocks) < 1:
                raise ValueError(f"mults {list(mults)}, channels {channels}, blocks {blocks}: need positive values and "
                                 f"a side ({h}) divisible by 2^(len(mults) − 1)")
            self.net: nn.Module = EpsUNet(c, int(channels), mults, int(blocks))
        else:
            if int(width) < 1 or int(depth) < 1:
                raise ValueError(f"width ({width}) and depth ({depth}) must be at least 1")
            self.net = EpsMLP(shape[0], int(width), int(depth))

        T = self.timesteps
        betas = torch.cat([torch.zeros(1, dtype=torch.float64), beta_schedule(schedule, T)])
        alphas = 1.0 - betas
        abar = torch.cumprod(alphas, 0)
        post_var = torch.zeros_like(betas)
        post_var[1:] = (1 - abar[:-1]) / (1 - abar[1:]) * betas[1:]  # β̃_t; β̃_1 = 0
        sigma2 = betas.clone() if variance == "beta" else post_var.clone()
        if variance == "beta_tilde":
            sigma2[1] = post_var[2]  # σ_1² = β̃_2, not β̃_1 = 0 (decoder only)
        sigma2[0] = 0.0
        self.register_buffer("betas", betas)
        self.register_buffer("alphas", alphas)
        self.register_buffer("alphas_cumprod", abar)
        self.register_buffer("posterior_variance", post_var)
        self.register_buffer("model_variance", sigma2)

    # ------------------------------------------------------------ helpers

    @property
    def device(self) -> torch.device:
        return self.betas.device

    def _coef(self, values: Tensor, like: Tensor) -> Tensor:
        """Per-sample coefficients (N, computed in the buffers' float64) shaped N×1…1 in like's dtype."""
        return values.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def _prepare(self, x: Tensor) -> Tensor:
        """x (N×shape) as float32 on the model's device; discrete data snapped to the nearest level."""
        x = x.to(self.device, torch.float32).reshape(x.shape[0], *self.data_shape)
        if self.levels:
            x = snap(x, self.levels)
        return x

    def _randn(self, n: int, generator: torch.Generator | None) -> Tensor:
        return torch.randn((n, *self.data_shape), generator=generator).to(self.device)

    def eps(self, xt: Tensor, t: Tensor) -> Tensor:
        """ε_θ(x_t, t): x_t N×shape, t N int64 -> N×shape float32."""
        return self.net(xt.float(), t).float()

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (eq. 4): x0, noise N×shape, t N int64 in 0..T -> N×shape (x0's dtype)."""
        abar = self.alphas_cumprod[t]
        return self._coef(abar.sqrt(), x0) * x0 + self._coef((1 - abar).sqrt(), x0) * noise

    def q_posterior(self, x0: Tensor, xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I) (eq. 6–7): x0, xt N×shape, t N int64 in 1..T -> (μ̃_t N×shape,
        β̃_t N×1…1), with μ̃_t = √ᾱ_{t−1} β_t/(1−ᾱ_t) x_0 + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t) x_t."""
        abar, abar_prev = self.alphas_cumprod[t], self.alphas_cumprod[t - 1]
        c0 = abar_prev.sqrt() * self.betas[t] / (1 - abar)
        ct = self.alphas[t].sqrt() * (1 - abar_prev) / (1 - abar)
        mean = self._coef(c0, x0) * x0 + self._coef(ct, xt) * xt
        return mean, self._coef(self.posterior_variance[t], x0)

    def predict_x0(self, xt: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """x̂_0 = (x_t − √(1−ᾱ_t) ε)/√ᾱ_t (N×shape; clipped to [−1, 1] for images)."""
        abar = self.alphas_cumprod[t]
        x0 = self._coef(abar.rsqrt(), xt) * xt - self._coef(((1 - abar) / abar).sqrt(), xt) * eps
        return x0.clamp(-1, 1) if self.is_image else x0

    def p_mean(self, xt: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """The mean of p_θ(x_{t−1} | x_t) (N×shape, xt's dtype): eq. 11 for points, μ̃_t(clip(x̂_0), x_t) for images."""
        if self.is_image:
            return self.q_posterior(self.predict_x0(xt, t, eps), xt, t)[0]
        rsqrt_alpha = self.alphas[t].rsqrt()
        return self._coef(rsqrt_alpha, xt) * xt - self._coef(rsqrt_alpha * self.betas[t] / (1 - self.alphas_cumprod[t]).sqrt(), xt) * eps

    # ------------------------------------------------------------ training objective

    def loss(self, x: Tensor) -> Tensor:
        """L_simple (eq. 14) per sample: mean over dimensions of (ε − ε_θ(x_t, t))², t ~ U{1..T}, ε ~ N(0, I) from torch's
        global RNG on x's device (t drawn first). x: N×shape -> N."""
        x0 = self._prepare(x)
        n = x0.shape[0]
        t = torch.randint(1, self.timesteps + 1, (n,), device=x0.device)
        noise = torch.randn_like(x0)
        err = noise - self.eps(self.q_sample(x0, t, noise), t)
        return err.pow(2).flatten(1).mean(1)

    # ------------------------------------------------------------ the variational bound

    def prior_kl(self, x: Tensor) -> Tensor:
        """L_T = KL(q(x_T | x_0) ‖ N(0, I)) in nats: x N×shape -> N (float64)."""
        x0 = self._prepare(x).double()
        abar = self.alphas_cumprod[-1].to(x0.dtype)
        return gaussian_kl(abar.sqrt() * x0, 1 - abar, torch.zeros_like(x0), torch.ones_like(abar)).flatten(1).sum(1)

    def _bound_steps(self, generator: torch.Generator | None) -> tuple[list[int], list[float]]:
        """The t in 2..T whose L_{t−1} is evaluated, and their weights (all, weight 1; or one per stratum)."""
        T, S = self.timesteps, self.bound_steps
        if S == 0 or S >= T - 1:
            return list(range(2, T + 1)), [1.0] * (T - 1)
        edges = [2 + (j * (T - 1)) // S for j in range(S + 1)]
        u = torch.rand(S, generator=generator, dtype=torch.float64)
        ts = [edges[j] + min(int(u[j] * (edges[j + 1] - edges[j])), edges[j + 1] - edges[j] - 1) for j in range(S)]
        return ts, [float(edges[j + 1] - edges[j]) for j in range(S)]

    def bound_terms(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The terms of the bound in nats per sample (each N, float64): (L_T, Σ_{t=2..T} L_{t−1}, L_0).

        x: N×shape. L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) with x_t ~ q(x_t | x_0) drawn with
        ``generator``; L_0 = −log p_θ(x_0 | x_1): discretized Gaussian (levels K) or Gaussian density (continuous)
        with mean p_mean(x_1, 1) and variance σ_1².
        """
        x0 = self._prepare(x)
        n = x0.shape[0]
        prior = self.prior_kl(x0)
        ts, weights = self._bound_steps(generator)
        ts, weights = [1] + ts, [1.0] + weights
        terms = torch.zeros(len(ts), n, dtype=torch.float64, device=self.device)
        chunk = max(1, self.bound_batch // n)
        for a in range(0, len(ts), chunk):
            tc = torch.tensor(ts[a:a + chunk], device=self.device)
            c = len(tc)
            tt = tc.repeat_interleave(n)
            x0c = x0.unsqueeze(0).expand(c, *x0.shape).reshape(c * n, *self.data_shape)
            noise = torch.cat([self._randn(n, generator) for _ in range(c)])  # one N×shape draw per t, increasing t
            xt = self.q_sample(x0c, tt, noise)
            eps = self.eps(xt, tt)
            x0d, xtd = x0c.double(), xt.double()
            mean = self.p_mean(xtd, tt, eps.double())
            var = self._coef(self.model_variance[tt], xtd)
            post_mean, post_var = self.q_posterior(x0d, xtd, tt)
            post_var = post_var.clamp(min=1e-300)  # β̃_1 = 0: the t = 1 rows are replaced by L_0 below
            terms[a:a + c] = gaussian_kl(post_mean, post_var, mean, var).flatten(1).sum(1).view(c, n)
            if a == 0:  # the first n rows are t = 1: L_0 = −log p_θ(x_0 | x_1)
                m1, v1, x01 = mean[:n], var[:n], x0d[:n]
                if self.levels:
                    ll = discretized_gaussian_log_prob(x01, m1, v1.sqrt(), self.levels)
                else:
                    ll = gaussian_log_prob(x01, m1, v1)
                terms[0] = -ll.flatten(1).sum(1)
        w = torch.tensor(weights, dtype=torch.float64, device=self.device)
        return prior, (terms[1:] * w[1:, None]).sum(0), terms[0]

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """−L = −(L_T + Σ_{t≥2} L_{t−1} + L_0), a lower bound on log p(x) in nats (one draw of x_t per t): x N×shape ->
        N float32. With ``bound_steps`` > 0 an unbiased stratified estimate of it instead."""
        prior, diffusion, decoder = self.bound_terms(x, generator)
        return (-(prior + diffusion + decoder)).float()

    # ------------------------------------------------------------ sampling

    def ddim_timesteps(self, steps: int) -> list[int]:
        """τ_1 < … < τ_S: τ_i = 1 + ⌊(i−1)·T/S⌋ (Song et al.'s uniform skip when S divides T)."""
        return [1 + (i * self.timesteps) // steps for i in range(steps)]

    def sample(self, n: int, generator: torch.Generator | None = None, **options: Any) -> Tensor:
        """n samples (n×shape float32 on the model's device).

        Options: ``sampler`` "ddpm" (default; ancestral over all T steps, σ_t² per ``variance``, no noise at t = 1;
        ``steps``/``eta`` ignored) or "ddim" (eq. 12 on τ of ``steps`` steps, default T; σ from ``eta``, default 0).
        """
        check_options("diffusion", options, self.sample_options)
        sampler = options.get("sampler") or "ddpm"
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler: {sampler!r} is not one of {', '.join(SAMPLERS)}")
        steps = options.get("steps")
        steps = self.timesteps if steps is None else int(steps)
        eta = float(options.get("eta") or 0.0)
        if sampler == "ddim" and not 1 <= steps <= self.timesteps:
            raise ValueError(f"steps: {steps} must be between 1 and the model's {self.timesteps} timesteps")
        if sampler == "ddim" and eta < 0:
            raise ValueError(f"eta: {eta} must be ≥ 0")
        with torch.no_grad():
            x = self._randn(n, generator)
            x = self._ddpm(x, generator) if sampler == "ddpm" else self._ddim(x, generator, steps, eta)
        if self.levels:
            x = snap(x, self.levels)
        return x.float()

    def _ddpm(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        for step in range(self.timesteps, 0, -1):
            t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
            x = self.p_mean(x, t, self.eps(x, t))
            if step > 1:
                x = x + float(self.model_variance[step].sqrt()) * self._randn(x.shape[0], generator)
        return x

    def _ddim(self, x: Tensor, generator: torch.Generator | None, steps: int, eta: float) -> Tensor:
        taus = self.ddim_timesteps(steps)
        abars = self.alphas_cumprod
        for i in range(len(taus) - 1, -1, -1):
            step, prev = taus[i], (taus[i - 1] if i > 0 else 0)
            t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
            eps = self.eps(x, t)
            a_t, a_prev = float(abars[step]), float(abars[prev])
            x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
            if self.is_image:
                x0 = x0.clamp(-1, 1)
                eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
            sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t)) * math.sqrt(max(1 - a_t / a_prev, 0.0))
            x = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma ** 2, 0.0)) * eps
            if sigma > 0:
                x = x + sigma * self._randn(x.shape[0], generator)
        return x


__all__ = ["DDPM", "EpsMLP", "EpsUNet", "ResBlock", "beta_schedule", "gaussian_kl", "gaussian_log_prob",
           "discretized_gaussian_log_prob", "timestep_embedding"]
