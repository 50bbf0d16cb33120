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


class EMA:
    """G_ema ← β·G_ema + (1 − β)·G for parameters, buffers copied from G, with both networks' tensors listed once
    (loading a checkpoint or rolling back copies into the same tensors, so the lists stay valid)."""

    def __init__(self, G_ema: nn.Module, G: nn.Module) -> None:
        self.ema_p, self.g_p = list(G_ema.parameters()), list(G.parameters())
        self.ema_b, self.g_b = list(G_ema.buffers()), list(G.buffers())

    @torch.no_grad()
    def update(self, beta: float) -> None:
        if beta == 0.0:
            torch._foreach_copy_(self.ema_p, self.g_p)
        else:
            torch._foreach_lerp_(self.ema_p, self.g_p, 1.0 - beta)
        if self.ema_b:
            torch._foreach_copy_(self.ema_b, self.g_b)


def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """G_ema ← β·G_ema + (1 − β)·G for parameters; buffers copied from G (once; :class:`EMA` for every step)."""
    EMA(G_ema, G).update(beta)
