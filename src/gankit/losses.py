"""Adversarial losses as pure functions of the discriminator's raw outputs.

Sign convention (for every loss here): D returns a raw score per sample, *higher means "more real"*
(for the probabilistic losses the score is a logit and D(x) = sigmoid(score)). Each loss returns a scalar
that its player **minimizes**:

========  ===================================================  ===================================================
name      D minimizes                                          G minimizes
========  ===================================================  ===================================================
minimax   −E log D(x) − E log(1 − D(G(z)))                     E log(1 − D(G(z)))  (saturating, Goodfellow 2014)
nsgan     same as minimax                                      −E log D(G(z))      (non-saturating, same paper)
wgan      E f(G(z)) − E f(x)                                   −E f(G(z))          (Arjovsky et al. 2017)
hinge     E relu(1 − f(x)) + E relu(1 + f(G(z)))               −E f(G(z))          (Lim & Ye 2017; Miyato 2018)
lsgan     ½E (f(x) − 1)² + ½E f(G(z))²                         ½E (f(G(z)) − 1)²   (Mao et al. 2017, a=0 b=c=1)
ragan     E sp(m_f − f(x)) + E sp(f(G(z)) − m_r)               E sp(m_r − f(G(z))) + E sp(f(x) − m_f)
rahinge   E relu(1 + m_f − f(x)) + E relu(1 + f(G(z)) − m_r)   E relu(1 + m_r − f(G(z))) + E relu(1 + f(x) − m_f)
========  ===================================================  ===================================================

The relativistic average losses (Jolicoeur-Martineau 2019, "The relativistic discriminator: a key element
missing from standard GAN"; sp = softplus, m_r = E f(x), m_f = E f(G(z)) over the batch) judge each sample
against the mean score of the other kind, so G's loss needs real scores too: they set ``g_loss_rel(fake,
real)`` and callers use :meth:`AdversarialLoss.generator`. ``critic`` marks losses whose D output is an
unbounded score (wgan, hinge, rahinge): they are the ones a Lipschitz penalty keeps in check.

``real_target`` (< 1 gives one-sided label smoothing, Salimans et al. 2016) replaces D's target for real
samples in the losses that have a target (minimax, nsgan, lsgan); fake targets are never smoothed.
Log-sigmoids are computed with softplus, which is exact and never takes log(0).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .registry import Registry

Tensor = torch.Tensor


@dataclass(frozen=True)
class AdversarialLoss:
    """A pair of pure functions: ``d_loss(real_logits: N, fake_logits: M) -> scalar``, ``g_loss(fake_logits: M) -> scalar``."""

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    g_loss_rel: Callable[[Tensor, Tensor], Tensor] | None = None  # (fake_logits, real_logits) -> scalar
    critic: bool = False
    d_real: Callable[[Tensor], Tensor] | None = None  # D's loss term on real scores (None: relativistic, it does not split)
    boundary: float | None = 0.0  # D's decision threshold on its raw score; None: a Wasserstein critic has none

    def margins(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor] | None:
        """How far each score lies on its correct side of D's decision boundary: (real − b, b − fake), N and M values.

        b is the loss's own boundary: logit 0 for minimax / nsgan (D(x) = ½), 0 for hinge (its margins are ±1),
        (0 + real_target)/2 for lsgan (halfway between its targets), and for the relativistic losses the mean score of the
        other kind (RaGAN's D says "real" when f(x) > E f(G(z))). None for wgan: a critic's output is defined only up to
        a constant, so it has no boundary (ADA needs one; D's accuracy is not logged).
        """
        if self.relativistic:
            return real_logits - fake_logits.mean(), real_logits.mean() - fake_logits
        if self.boundary is None:
            return None
        return real_logits - self.boundary, self.boundary - fake_logits

    @property
    def relativistic(self) -> bool:
        return self.g_loss_rel is not None

    def generator(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """G's loss: ``g_loss_rel(fake, real)`` for relativistic losses (real scores required), else ``g_loss(fake)``."""
        if self.g_loss_rel is None:
            return self.g_loss(fake_logits)
        if real_logits is None:
            raise ValueError(f"the {self.name} generator loss compares with real scores: pass real_logits")
        return self.g_loss_rel(fake_logits, real_logits)


LOSSES: Registry[Callable[..., AdversarialLoss]] = Registry("losses", callable, "a function (real_target) -> AdversarialLoss", item="loss")


def _no_target(name: str, real_target: float) -> None:
    if real_target != 1.0:
        raise ValueError(f"loss.real_target: {name} has no real label to smooth (one-sided label smoothing applies to minimax, "
                         f"nsgan and lsgan); leave loss.real_target=1")


def _bce_real(real: Tensor, target: float) -> Tensor:
    # −[t log σ(r) + (1 − t) log(1 − σ(r))] with log σ(r) = −softplus(−r), log(1 − σ(r)) = −softplus(r).
    return (target * F.softplus(-real) + (1.0 - target) * F.softplus(real)).mean()


def _d_logistic(target: float) -> Callable[[Tensor, Tensor], Tensor]:
    return lambda real, fake: _bce_real(real, target) + F.softplus(fake).mean()


@LOSSES.register("minimax", help="original saturating GAN loss (Goodfellow et al. 2014)")
def minimax(real_target: float = 1.0) -> AdversarialLoss:
    """G minimizes E log(1 − D(G(z))) = −E softplus(f)."""
    return AdversarialLoss("minimax", _d_logistic(real_target), lambda fake: -F.softplus(fake).mean(),
                           d_real=lambda real: _bce_real(real, real_target))


@LOSSES.register("nsgan", help="non-saturating GAN loss: G maximizes log D(G(z))")
def nsgan(real_target: float = 1.0) -> AdversarialLoss:
    """G minimizes −E log D(G(z)) = E softplus(−f)."""
    return AdversarialLoss("nsgan", _d_logistic(real_target), lambda fake: F.softplus(-fake).mean(),
                           d_real=lambda real: _bce_real(real, real_target))


@LOSSES.register("wgan", help="Wasserstein critic loss (pair with clipping or a gradient penalty)")
def wgan(real_target: float = 1.0) -> AdversarialLoss:
    _no_target("wgan", real_target)  # a critic has no target
    return AdversarialLoss("wgan", lambda real, fake: fake.mean() - real.mean(), lambda fake: -fake.mean(), critic=True,
                           d_real=lambda real: -real.mean(), boundary=None)


@LOSSES.register("hinge", help="hinge loss (geometric GAN / SNGAN)")
def hinge(real_target: float = 1.0) -> AdversarialLoss:
    _no_target("hinge", real_target)
    return AdversarialLoss("hinge", lambda real, fake: F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean(),
                           lambda fake: -fake.mean(), critic=True, d_real=lambda real: F.relu(1.0 - real).mean())


@LOSSES.register("lsgan", help="least-squares GAN (targets 0 fake, 1 real)")
def lsgan(real_target: float = 1.0) -> AdversarialLoss:
    return AdversarialLoss("lsgan", lambda real, fake: 0.5 * (real - real_target).pow(2).mean() + 0.5 * fake.pow(2).mean(),
                           lambda fake: 0.5 * (fake - 1.0).pow(2).mean(),
                           d_real=lambda real: 0.5 * (real - real_target).pow(2).mean(), boundary=0.5 * real_target)


def _no_fake_only(name: str) -> Callable[[Tensor], Tensor]:
    def g_loss(fake: Tensor) -> Tensor:
        raise ValueError(f"the {name} generator loss compares with real scores: use generator(fake, real) / g_loss_rel")

    return g_loss


def _ra_logistic(real: Tensor, fake: Tensor) -> Tensor:
    # −E log σ(r − m_f) − E log(1 − σ(f − m_r)): "real more real than the average fake", and vice versa.
    return F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean()


def _ra_hinge(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1.0 - (real - fake.mean())).mean() + F.relu(1.0 + (fake - real.mean())).mean()


@LOSSES.register("ragan", help="relativistic average standard GAN (Jolicoeur-Martineau 2019)")
def ragan(real_target: float = 1.0) -> AdversarialLoss:
    """D: −E log σ(f(x) − E f(G(z))) − E log(1 − σ(f(G(z)) − E f(x))); G: the same with real and fake swapped."""
    _no_target("ragan", real_target)  # the relativistic targets are differences, not labels
    return AdversarialLoss("ragan", _ra_logistic, _no_fake_only("ragan"), g_loss_rel=lambda fake, real: _ra_logistic(fake, real))


@LOSSES.register("rahinge", help="relativistic average hinge loss (Jolicoeur-Martineau 2019)")
def rahinge(real_target: float = 1.0) -> AdversarialLoss:
    """D: E relu(1 − (f(x) − E f(G(z)))) + E relu(1 + (f(G(z)) − E f(x))); G: real and fake swapped."""
    _no_target("rahinge", real_target)
    return AdversarialLoss("rahinge", _ra_hinge, _no_fake_only("rahinge"), g_loss_rel=lambda fake, real: _ra_hinge(fake, real),
                           critic=True)


def build_loss(cfg) -> AdversarialLoss:  # noqa: ANN001 - LossConfig
    return LOSSES.get(cfg.name, "loss.name")(real_target=cfg.real_target)
