"""Penalties on the discriminator as pure functions returning one value per sample (shape N).

Every penalty takes D (anything called as ``D(x, c) -> N`` raw scores, higher = more real, as in gankit.losses)
and the inputs D judges, and returns the *unweighted* per-sample penalty. The terms of D's loss (gankit.terms) take
the mean, multiply by the configured weight and apply the lazy interval; nothing here knows about configs, steps or
weights. Input gradients are taken with
``torch.autograd.grad(create_graph=True)`` so that D's weights get the penalty's gradient in the same
backward pass as the adversarial loss (and so the distributed all-reduce covers it too).

=============  ==================================================  =========================================
name           per-sample value                                    paper
=============  ==================================================  =========================================
gp             (‖∇D(x̂)‖ − 1)², x̂ = εx + (1 − ε)G(z), ε ~ U[0,1]   Gulrajani et al. 2017 (WGAN-GP)
gp one-sided   max(0, ‖∇D(x̂)‖ − 1)²                              same paper, appendix; Petzka et al. 2018
dragan         (‖∇D(x̃)‖ − 1)², x̃ = x + α·0.5·std(x)·u,           Kodali et al. 2017 (DRAGAN)
               u ~ U[0,1] per element, α ~ U[0,1] per sample
r1             ‖∇D(x)‖² on real x                                  Mescheder et al. 2018 (weight γ/2)
r2             ‖∇D(G(z))‖² on fake samples                         Mescheder et al. 2018 (weight γ/2)
bcr            (D(x) − D(T(x)))² for an augmentation T             Zhao et al. 2020 (balanced consistency)
drift          D(x)²                                               Karras et al. 2018 (ProGAN, ε = 0.001)
=============  ==================================================  =========================================

``D`` here is any critic of the inputs given: the terms pass D applied to D's view of the images (augmentation
included), so the gradient is taken with respect to the images before augmentation. ``group`` > 1: D scores packs
of ``group`` consecutive samples (PacGAN); norms and interpolation coefficients are then per pack (N/group values).

Weight clipping (Arjovsky et al. 2017) is not a penalty but a constraint after each D step: :func:`clip_weights`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Tensor = torch.Tensor
Critic = Callable[[Tensor, "Tensor | None"], Tensor]  # D(x: N×..., c: N int64 | None) -> N

def input_gradient(D: Critic, x: Tensor, c: Tensor | None = None) -> Tensor:
    """∇_x ΣD(x, c): N×... (each row is the gradient of that sample's own score), differentiable in D's weights."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, c).sum(), x, create_graph=True)
    return grad


def _sq_norms(grad: Tensor, group: int = 1) -> Tensor:
    """‖∇‖² per D input: N×... -> N/group."""
    return grad.reshape(grad.shape[0] // group, -1).pow(2).sum(1)


def _norms(grad: Tensor, group: int = 1) -> Tensor:
    """‖∇‖ per D input: N×... -> N/group (the gradient of a pack is its samples' gradients together)."""
    return torch.linalg.vector_norm(grad.reshape(grad.shape[0] // group, -1), dim=1)


def _per_sample(shape: torch.Size, like: Tensor, group: int = 1) -> Tensor:
    """U[0, 1) per D input (sample, or pack of ``group`` samples), broadcastable over a sample (shape N×1×...)."""
    u = torch.rand((shape[0] // group,) + (1,) * (len(shape) - 1), device=like.device, dtype=like.dtype)
    return u.repeat_interleave(group, dim=0) if group > 1 else u


def gradient_penalty(D: Critic, real: Tensor, fake: Tensor, c: Tensor | None = None, one_sided: bool = False,
                     group: int = 1) -> Tensor:
    """(‖∇D(x̂)‖ − 1)² or, one-sided, max(0, ‖∇D(x̂)‖ − 1)²; N/group values.

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1: x̂ = εx + (1 − ε)x̃ with one
    ε ~ U[0, 1] per sample. The one-sided form only penalizes slopes above 1 (their appendix; Petzka et al.
    2018, "On the regularization of Wasserstein GANs"). ``real`` and ``fake`` are N×... and paired row by
    row; for a conditional D the interpolates are judged with the real rows' labels ``c``.
    """
    eps = _per_sample(real.shape, real, group)
    x_hat = eps * real.detach() + (1.0 - eps) * fake.detach()
    gap = _norms(input_gradient(D, x_hat, c), group) - 1.0
    return gap.clamp(min=0.0).pow(2) if one_sided else gap.pow(2)


def dragan_points(real: Tensor, scale: float = 0.5, group: int = 1) -> Tensor:
    """x̂ = x + α·(x_p − x) with x_p = x + scale·std(x)·u; u ~ U[0, 1) per element, α ~ U[0, 1) per sample (per pack).

    The authors' reference code (kodalinaveen3/DRAGAN): ``get_perturbed_batch`` draws x_p = x + 0.5·x.std()·U[0,1)
    (a one-sided uniform; one std for the whole batch), and the penalty is taken at the random interpolate between
    x and x_p, α ~ U[0, 1] per sample, exactly as WGAN-GP interpolates between real and fake.
    """
    x = real.detach()
    x_p = x + scale * x.std() * torch.rand_like(x)
    return x + _per_sample(x.shape, x, group) * (x_p - x)


def dragan_penalty(D: Critic, real: Tensor, c: Tensor | None = None, scale: float = 0.5, group: int = 1) -> Tensor:
    """(‖∇D(x̂)‖ − 1)² at x̂ = :func:`dragan_points` (real); N/group values.

    Kodali et al. 2017, "On Convergence and Stability of GANs" (DRAGAN), eq. (9), with the reference code's
    perturbation and interpolation (see :func:`dragan_points`).
    """
    return (_norms(input_gradient(D, dragan_points(real, scale, group), c), group) - 1.0).pow(2)


def r1_penalty(D: Critic, real: Tensor, c: Tensor | None = None, group: int = 1) -> Tensor:
    """‖∇_x D(x)‖² at the real samples; N/group values (the objective multiplies by γ/2).

    Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?", eq. (9).
    """
    return _sq_norms(input_gradient(D, real, c), group)


def r2_penalty(D: Critic, fake: Tensor, c: Tensor | None = None, group: int = 1) -> Tensor:
    """‖∇_x D(x)‖² at generated samples; N/group values (Mescheder et al. 2018, eq. (10); weight γ/2)."""
    return _sq_norms(input_gradient(D, fake, c), group)


def consistency_penalty(D: Critic, x: Tensor, augment: Callable[[Tensor], Tensor], c: Tensor | None = None,
                        logits: Tensor | None = None) -> Tensor:
    """(D(x) − D(T(x)))²; N values. Gradients flow through both terms.

    Zhang et al. 2020, "Consistency Regularization for GANs" (CR, on real data); Zhao et al. 2020, "Improved
    Consistency Regularization for GANs" (bCR: the same term on real and on generated samples, each with its own
    weight). ``logits``: D(x, c) when already computed (saves a forward pass).
    """
    if logits is None:
        logits = D(x, c)
    return (logits - D(augment(x), c)).pow(2)


def drift_penalty(real_logits: Tensor) -> Tensor:
    """D(x)² from D's raw scores on real samples; N values (weight ε_drift = 0.001 in the paper).

    Karras et al. 2018, "Progressive Growing of GANs", appendix A.1: keeps the critic's output from drifting
    far from zero under the WGAN-GP loss.
    """
    return real_logits.pow(2)


@torch.no_grad()
def clip_weights(D: nn.Module, c: float) -> None:
    """Clamp every parameter of D to [−c, c] in place (Arjovsky, Chintala & Bottou 2017, Algorithm 1, c = 0.01).

    Called after each D optimizer step; keeps the critic in a compact set of functions (a crude Lipschitz bound).
    """
    for p in D.parameters():
        p.clamp_(-c, c)


__all__ = ["input_gradient", "gradient_penalty", "dragan_points", "dragan_penalty", "r1_penalty",
           "r2_penalty", "consistency_penalty", "drift_penalty", "clip_weights"]


def path_lengths(G: nn.Module, z: Tensor, c: Tensor | None = None) -> Tensor:
    """StyleGAN2's path lengths ‖J_wᵀ y‖₂ per sample, N values, differentiable in G's weights.

    Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", §3.2: w = mapping(z), images
    g(w) of H×W pixels, y ~ N(0, I)/sqrt(H·W); the Jacobian-vector product is taken by autograd on
    Σ g(w)·y and its squared norm averaged over the num_ws rows of w before the square root. ``G`` must be
    style-based (``mapping(z, c) -> N×num_ws×w_dim`` and ``synthesis(ws) -> images``).
    """
    ws = G.mapping(z, c)
    img = G.synthesis(ws)
    y = torch.randn_like(img) / (img.shape[2] * img.shape[3]) ** 0.5
    (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
    return grad.pow(2).sum(dim=2).mean(dim=1).sqrt()
