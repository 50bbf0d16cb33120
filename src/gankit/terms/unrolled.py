"""Unrolled GAN (Metz, Poole, Pfau & Sohl-Dickstein 2017, "Unrolled Generative Adversarial Networks", ICLR).

G's loss is taken against D_k, the discriminator after k look-ahead updates of D's own loss, and G's gradient
flows *through* those updates (the surrogate loss f_K(θ_G, θ_D) = f(θ_G, θ_D^K(θ_G, θ_D)) of their eq. (5)-(6)):
G is rewarded for samples that stay good after D has reacted to them, which discourages hopping from mode to
mode. The look-ahead never touches D's real weights, buffers or optimizer state.

The look-ahead steps use D's loss on the given real batch and G's fake batch (the same batch for all k steps,
as the authors' 2-D mixture notebook does). Each step is Adam-style, continuing D's Adam moments where D's
optimizer is Adam (as in the paper, whose unrolled updates are the optimizer's own), and plain SGD with D's
learning rate otherwise (SGD, RMSprop). The step is written with tensors so that
``torch.autograd.grad(create_graph=True)`` differentiates it: second-order terms included.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from ..losses import AdversarialLoss

Tensor = torch.Tensor


def _adam_moments(optimizer: torch.optim.Optimizer | None, D: nn.Module) -> dict[str, tuple[Tensor, Tensor, float]] | None:
    """(exp_avg, exp_avg_sq, steps so far) per parameter name from D's Adam state; None if D's optimizer is not Adam."""
    if not isinstance(optimizer, torch.optim.Adam):
        return None
    out = {}
    for name, p in D.named_parameters():
        st = optimizer.state.get(p, {})
        zero = torch.zeros_like(p)
        out[name] = (st.get("exp_avg", zero).detach(), st.get("exp_avg_sq", zero).detach(), float(st.get("step", 0)))
    return out


def unrolled_critic(D: nn.Module, loss: AdversarialLoss, real: Tensor, c_real: Tensor | None, fake: Tensor,
                    c_fake: Tensor | None, k: int, optimizer: torch.optim.Optimizer | None = None,
                    lr: float | None = None) -> Callable[[Tensor, Tensor | None], Tensor]:
    """D after ``k`` differentiable look-ahead updates, as a function ``(x, c) -> N`` scores.

    Args:
        D: the discriminator (its parameters are the starting point; they are not changed).
        loss: the adversarial loss whose ``d_loss`` D minimizes in each look-ahead step.
        real, c_real: the real batch as D sees it. fake, c_fake: G's batch as D sees it, *not* detached:
            the look-ahead weights depend on G through it.
        optimizer: D's optimizer: Adam continues its moments, anything else means SGD steps.
        lr: the look-ahead learning rate (default: the optimizer's, i.e. train.lr_d).
    """
    group = optimizer.param_groups[0] if optimizer is not None else {}
    lr = float(group["lr"]) if lr is None else lr
    moments = _adam_moments(optimizer, D)
    beta1, beta2 = group.get("betas", (0.9, 0.999))
    eps = group.get("eps", 1e-8)
    # Start from D's weights as new leaves: gradients of G's loss must not land in D's .grad.
    params = {n: p.detach().requires_grad_(True) for n, p in D.named_parameters()}
    buffers = {n: b.clone() for n, b in D.named_buffers()}  # batch-norm statistics of the look-ahead stay private

    def critic(theta: dict[str, Tensor]) -> Callable[[Tensor, Tensor | None], Tensor]:
        return lambda x, c: functional_call(D, {**theta, **buffers}, (x, c))

    with torch.enable_grad():  # the look-ahead is made of gradients, even when the caller is in no_grad
        for _ in range(k):
            f = critic(params)
            d_loss = loss.d_loss(f(real, c_real), f(fake, c_fake))
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True, allow_unused=True)
            new = {}
            for (name, theta), g in zip(params.items(), grads):
                if g is None:  # a parameter this loss does not reach (e.g. an unused label embedding)
                    new[name] = theta
                elif moments is None:
                    new[name] = theta - lr * g
                else:
                    m, v, t = moments[name]
                    m, v, t = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g, t + 1
                    moments[name] = (m, v, t)
                    v_hat = (v / (1 - beta2**t)).clamp_min(1e-30)  # clamp: no inf·0 from sqrt' at exactly 0
                    new[name] = theta - lr * (m / (1 - beta1**t)) / (v_hat.sqrt() + eps)
            params = new
    return critic(params)


__all__ = ["unrolled_critic"]
