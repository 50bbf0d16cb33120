"""Blocks shared by the model families."""
from __future__ import annotations

import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """Weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0 (Radford et al. 2016, section 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class LabelEmbedding(nn.Module):
    """Conditioning for G: the label's learned embedding joined to z.

    ``forward(z: N×z_dim, c: N int64 or None) -> N×(z_dim + embed_dim)``; with c_dim = 0 it returns z.
    """

    def __init__(self, c_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.embed = nn.Embedding(c_dim, embed_dim) if c_dim > 0 else None
        self.out_extra = embed_dim if c_dim > 0 else 0

    def forward(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return z
        if c is None:
            raise ValueError("this generator is conditional: pass labels c (N int64)")
        return torch.cat([z, self.embed(c)], dim=1)


class LabelProjection(nn.Module):
    """The projection discriminator's class term ``<embed(c), h>`` (Miyato & Koyama 2018).

    ``forward(h: N×F, c: N int64) -> N``; added to D's unconditional logit.
    """

    def __init__(self, c_dim: int, features: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(c_dim, features)

    def forward(self, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if c is None:
            raise ValueError("this discriminator is conditional: pass labels c (N int64)")
        return (self.embed(c) * h).sum(dim=1)


def widths(base: int, stages: int, cap: int) -> list[int]:
    """Channels per stage from the 4×4 end outwards: base·2^(stages-1), ..., base, each ≤ cap."""
    return [min(base * 2 ** (stages - 1 - i), cap) for i in range(stages)]
