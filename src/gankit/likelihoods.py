"""Likelihoods p(x | z) of a decoder's output, as pure functions of its parameters (the VAE's reconstruction term).

A decoder outputs ``k`` parameter maps per data channel (N×(k·C)×H×W for images, N×(k·D) for points); a
:class:`Likelihood` reads them. ``log_prob`` returns one value per sample (N, nats, summed over every dimension);
``mean`` the distribution's mean in data space; ``sample`` a draw.

==========  ==========================================================  ===========================================
name        p(x | z), per dimension                                     for
==========  ==========================================================  ===========================================
gaussian    N(x; μ, σ²), σ = exp(log σ) (decoder outputs μ and log σ)   points (Kingma & Welling 2014, appendix C.2)
bernoulli   p^y (1 − p)^(1−y), y = (x + 1)/2 in [0, 1], p = σ(logit)    images (Kingma & Welling 2014, appendix C.1)
logistic    P(x in its 8-bit bin) under Logistic(μ, s), edges open      images: a discrete likelihood (Kingma et al.
                                                                        2016, IAF; Salimans et al. 2017, PixelCNN++)
==========  ==========================================================  ===========================================

The Bernoulli form on grey values (y between 0 and 1) is the cross-entropy most VAE code uses on MNIST-like data; it
is not a normalized density of grey values, so its ELBO is not a bound on a likelihood there. The discretized logistic
is a proper probability of 8-bit images: its negative ELBO over ln 2 and the number of dimensions is a bound in bits
per dimension, the number the generative-family comparison reports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .registry import Registry

Tensor = torch.Tensor
BIN = 1.0 / 255.0  # half the width of an 8-bit step on the [-1, 1] scale (steps of 2/255)
LOG_SCALE_MIN = -7.0  # the PixelCNN++ floor on log s: keeps the bin probabilities representable


def _split(params: Tensor, k: int) -> list[Tensor]:
    """N×(k·C)×... -> k tensors of N×C×... (parameter j of channel c is channel j·C + c)."""
    return list(params.chunk(k, dim=1))


def _sum_per_sample(t: Tensor) -> Tensor:
    return t.flatten(1).sum(1)


@dataclass(frozen=True)
class Likelihood:
    """``k`` parameters per dimension; ``log_prob(params, x) -> N``; ``mean(params) -> x``; ``sample(params, gen) -> x``."""

    name: str
    k: int
    log_prob: Callable[[Tensor, Tensor], Tensor]
    mean: Callable[[Tensor], Tensor]
    sample: Callable[[Tensor, torch.Generator | None], Tensor]
    discrete: bool = False  # log_prob is a probability of 8-bit values (bits per dimension are meaningful)


LIKELIHOODS: Registry[Likelihood] = Registry("likelihoods", lambda o: isinstance(o, Likelihood), "a gankit.likelihoods.Likelihood")


def _randn_like(t: Tensor, gen: torch.Generator | None) -> Tensor:
    return torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device) if gen is not None else torch.randn_like(t)


def _rand_like(t: Tensor, gen: torch.Generator | None) -> Tensor:
    return torch.rand(t.shape, generator=gen, dtype=t.dtype).to(t.device) if gen is not None else torch.rand_like(t)


# ------------------------------------------------------------------ Gaussian

def gaussian_log_prob(params: Tensor, x: Tensor) -> Tensor:
    """Σ_d log N(x_d; μ_d, σ_d²) per sample; params = [μ, log σ] on the channel / feature axis."""
    mu, log_sigma = _split(params, 2)
    z = (x - mu) * torch.exp(-log_sigma)
    return _sum_per_sample(-0.5 * z.pow(2) - log_sigma - 0.5 * math.log(2 * math.pi))


LIKELIHOODS.register("gaussian", Likelihood(
    "gaussian", 2, gaussian_log_prob, lambda p: _split(p, 2)[0],
    lambda p, g: _split(p, 2)[0] + torch.exp(_split(p, 2)[1]) * _randn_like(_split(p, 2)[0], g)),
    help="N(μ, σ²) per dimension with a learned σ (points)")


# ------------------------------------------------------------------ Bernoulli

def bernoulli_log_prob(logits: Tensor, x: Tensor) -> Tensor:
    """Σ_d [y log p + (1 − y) log(1 − p)] per sample, y = (x + 1)/2, p = σ(logit)."""
    y = (x + 1.0) / 2.0
    return -_sum_per_sample(F.binary_cross_entropy_with_logits(logits, y, reduction="none"))


LIKELIHOODS.register("bernoulli", Likelihood(
    "bernoulli", 1, bernoulli_log_prob, lambda p: torch.sigmoid(p) * 2.0 - 1.0,
    lambda p, g: (_rand_like(p, g) < torch.sigmoid(p)).to(p.dtype) * 2.0 - 1.0),
    help="Bernoulli pixels on (x + 1)/2: the usual VAE cross-entropy on grey images")


# ------------------------------------------------------------------ discretized logistic

def logistic_log_prob(params: Tensor, x: Tensor) -> Tensor:
    """Σ_d log P(x_d's 8-bit bin) under Logistic(μ, s) per sample; the bins at −1 and 1 extend to ∓∞.

    params = [μ, log s]; x on the 8-bit grid of [-1, 1]. Computed in log space (log σ(a) − log σ(b) through
    softplus), with the density at the bin centre where the difference underflows (as PixelCNN++ does).
    """
    mu, log_s = _split(params, 2)
    log_s = log_s.clamp(min=LOG_SCALE_MIN)
    inv_s = torch.exp(-log_s)
    centred = x - mu
    plus, minus = inv_s * (centred + BIN), inv_s * (centred - BIN)
    log_cdf_plus = plus - F.softplus(plus)          # log σ(plus)
    log_one_minus_cdf_minus = -F.softplus(minus)    # log (1 − σ(minus))
    cdf_delta = torch.sigmoid(plus) - torch.sigmoid(minus)
    mid = inv_s * centred
    log_pdf_mid = mid - log_s - 2.0 * F.softplus(mid)  # log density at the centre
    inner = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)), log_pdf_mid + math.log(2 * BIN))
    out = torch.where(x < -1.0 + BIN, log_cdf_plus, torch.where(x > 1.0 - BIN, log_one_minus_cdf_minus, inner))
    return _sum_per_sample(out)


def logistic_mean(params: Tensor) -> Tensor:
    """E[clamp(X, −1, 1)] for X ~ Logistic(μ, s): −1 + s·(softplus((μ + 1)/s) − softplus((μ − 1)/s)), the integral of
    P(X > t) over [−1, 1] (the 8-bit rounding inside moves it by less than a step). Unlike clamp(μ), it is right where
    the edge bins hold the mass (μ outside [−1, 1], or a wide s)."""
    mu, log_s = _split(params, 2)
    s = torch.exp(log_s.clamp(min=LOG_SCALE_MIN))
    return -1.0 + s * (F.softplus((mu + 1.0) / s) - F.softplus((mu - 1.0) / s))


def _logistic_sample(params: Tensor, gen: torch.Generator | None) -> Tensor:
    mu, log_s = _split(params, 2)
    u = _rand_like(mu, gen).clamp(1e-5, 1.0 - 1e-5)
    x = mu + torch.exp(log_s.clamp(min=LOG_SCALE_MIN)) * (torch.log(u) - torch.log1p(-u))
    return x.clamp(-1.0, 1.0)


LIKELIHOODS.register("logistic", Likelihood(
    "logistic", 2, logistic_log_prob, logistic_mean, _logistic_sample, discrete=True),
    help="discretized logistic per pixel (8-bit bins; PixelCNN++): a proper probability, bits/dim")


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, diag exp(logvar)) ‖ N(0, I)) per sample (N): ½ Σ (μ² + σ² − log σ² − 1) (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(1)


__all__ = ["LIKELIHOODS", "Likelihood", "gaussian_log_prob", "bernoulli_log_prob", "logistic_log_prob", "logistic_mean", "gaussian_kl",
           "BIN"]
