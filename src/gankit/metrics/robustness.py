"""D under attack: how far a discriminator's score moves under small input perturbations (issue 23, "D under attack").

A discriminator ``D(x, c) -> N`` raw scores (logits) is probed in data space (pixels in [-1, 1], or coordinates):

* **FGSM** (Goodfellow, Shlens & Szegedy 2015): x' = x + ε·sign(∇ₓ D(x)) · s with s = −1 for real samples (push their
  score down) and +1 for fake ones (push it up); the change of the score is reported. For a linear D(x) = w·x + b it is
  exactly ε‖w‖₁ — the largest change any L∞ perturbation of size ε can make to a linear score.
* **PGD** (Madry et al. 2018): ``steps`` signed-gradient steps of size ε/4 projected back onto the L∞ ball of radius
  ε around x: a stronger attack, the score change it finds is a lower bound on the worst case.
* **Local Lipschitz estimate**: ‖∇ₓ D(x)‖₂ per sample (a first-order bound on the change under an L2 perturbation).
* **The "accidental attack"**: when G's update moves a fake sample from x₀ to x₁, how much of the score gain
  D(x₁) − D(x₀) a worst-case perturbation of the same L2 norm would give: gain / (‖∇ₓ D(x₀)‖₂ · ‖x₁ − x₀‖₂), both
  under the same D. A ratio near 1 says G's step went along D's steepest direction, as an adversarial example would;
  near 0, that G's samples moved in directions D barely sees.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

Tensor = torch.Tensor


def _scores(D: nn.Module, x: Tensor, c: Tensor | None) -> Tensor:
    return D(x, c).float().reshape(len(x))


def input_gradient(D: nn.Module, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(scores N, ∇ₓ of the sum of scores: one gradient per sample, the shape of x)."""
    x = x.detach().requires_grad_(True)
    s = _scores(D, x, c)
    (g,) = torch.autograd.grad(s.sum(), x)
    return s.detach(), g


def fgsm_shift(D: nn.Module, x: Tensor, eps: float, direction: float, c: Tensor | None = None) -> Tensor:
    """Per-sample change of D's score under FGSM of L∞ size ``eps`` moving the score in ``direction`` (+1 up, −1 down)."""
    s0, g = input_gradient(D, x, c)
    with torch.no_grad():
        return _scores(D, x + direction * eps * g.sign(), c) - s0


def pgd_shift(D: nn.Module, x: Tensor, eps: float, direction: float, c: Tensor | None = None, steps: int = 10) -> Tensor:
    """Per-sample change of D's score under L∞ PGD (``steps`` signed steps of ε/4, projected on the ε-ball around x)."""
    x0 = x.detach()
    with torch.no_grad():
        s0 = _scores(D, x0, c)
    adv = x0.clone()
    for _ in range(steps):
        _, g = input_gradient(D, adv, c)
        adv = (x0 + (adv + direction * (eps / 4) * g.sign() - x0).clamp(-eps, eps)).detach()
    with torch.no_grad():
        return _scores(D, adv, c) - s0


def lipschitz_estimate(D: nn.Module, x: Tensor, c: Tensor | None = None) -> Tensor:
    """‖∇ₓ D(x)‖₂ per sample: the local Lipschitz constant of D's score at x, to first order."""
    _, g = input_gradient(D, x, c)
    return g.flatten(1).norm(dim=1)


def accidental_attack(D: nn.Module, before: Tensor, after: Tensor, c: Tensor | None = None) -> dict[str, float]:
    """How G's update (fake samples ``before`` -> ``after``, same latents) compares with a worst-case perturbation of the
    same L2 norm, both under D (see the module doc). Means over samples."""
    s0, g = input_gradient(D, before, c)
    with torch.no_grad():
        gain = _scores(D, after, c) - s0
        step = (after - before).flatten(1).norm(dim=1)
        worst = g.flatten(1).norm(dim=1) * step
    return {"g_gain": float(gain.mean()), "g_worst": float(worst.mean()), "g_step": float(step.mean()),
            "g_ratio": float(gain.mean() / worst.mean().clamp(min=1e-12))}


def probe(D: nn.Module, real: Tensor, fake: Tensor, eps: float, c_real: Tensor | None = None, c_fake: Tensor | None = None,
          steps: int = 10) -> dict[str, Any]:
    """ε-robustness of D on a real and a fake batch: mean score changes under FGSM and PGD toward the other side, and
    the mean local Lipschitz estimate on each."""
    out: dict[str, Any] = {}
    for name, x, c, direction in (("real", real, c_real, -1.0), ("fake", fake, c_fake, 1.0)):
        out[f"fgsm_{name}"] = float(fgsm_shift(D, x, eps, direction, c).mean())
        out[f"pgd_{name}"] = float(pgd_shift(D, x, eps, direction, c, steps).mean())
        out[f"lipschitz_{name}"] = float(lipschitz_estimate(D, x, c).mean())
    return out


__all__ = ["input_gradient", "fgsm_shift", "pgd_shift", "lipschitz_estimate", "accidental_attack", "probe"]
