"""Exponential moving average of a network's weights (a GAN's G_ema, a VAE's decoder_ema), with a half-life in images.

β per step = 0.5 ** (batch / half_life_images), as in Karras et al. 2018/2020 (ProGAN, StyleGAN2); with a
ramp-up the half-life is at most ``rampup × images shown so far``, so early averages do not drag in the
random initialization. Buffers (batch-norm statistics) are copied, not averaged.
"""
from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch: int, images_seen: int, half_life_kimg: float, rampup: float | None) -> float:
    """The averaging weight of the old G_ema for one step (0 copies G)."""
    if half_life_kimg <= 0:
        return 0.0
    half_life = half_life_kimg * 1000.0
    if rampup is not None and rampup > 0:
        half_life = min(half_life, images_seen * rampup)
    return 0.5 ** (batch / max(half_life, 1e-8))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """G_ema ← β·G_ema + (1 − β)·G for parameters; buffers copied from G."""
    ema_p = list(G_ema.parameters())
    g_p = list(G.parameters())
    if beta == 0.0:
        torch._foreach_copy_(ema_p, g_p)
    else:
        torch._foreach_lerp_(ema_p, g_p, 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)
