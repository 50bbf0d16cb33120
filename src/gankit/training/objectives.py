"""What a training step optimizes. The objective owns the math; the loop owns the schedule.

An objective turns (G, D, a real batch) into D's loss and G's loss plus a few detached statistics for the
log. Penalties, regularizers and tricks arrive as new objectives or as terms composed into one, never as
flags inside the loop.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from ..losses import AdversarialLoss

Tensor = torch.Tensor
Stats = dict[str, Tensor]


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turn off gradients for ``module``'s parameters (no weight gradients are computed for it)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


class GANObjective:
    """The plain adversarial game: D's and G's loss from one :class:`~gankit.losses.AdversarialLoss`.

    Args:
        loss: the adversarial loss pair.
        z_dim: noise dimension; z ~ N(0, I).
        num_classes: > 0 for conditional models: fake labels are drawn uniformly from [0, num_classes).
    """

    def __init__(self, loss: AdversarialLoss, z_dim: int, num_classes: int = 0, shard: tuple[int, int] = (0, 1)) -> None:
        self.loss, self.z_dim, self.num_classes = loss, z_dim, num_classes
        self.rank, self.world = shard

    def latents(self, n: int, device: torch.device) -> tuple[Tensor, Tensor | None]:
        """z: n×z_dim standard normal; c: n labels or None, from torch's global RNG (seeded, resumable).

        In a job of ``world`` processes every rank draws the global n·world batch and keeps its own n rows,
        so the job computes exactly what one process does with the global batch.
        """
        total = n * self.world
        z = torch.randn(total, self.z_dim, device=device)[self.rank * n:(self.rank + 1) * n]
        c = torch.randint(self.num_classes, (total,), device=device)[self.rank * n:(self.rank + 1) * n] if self.num_classes else None
        return z, c

    def d_loss(self, G: nn.Module, D: nn.Module, real: Tensor, c_real: Tensor | None) -> tuple[Tensor, Stats]:
        """D's loss on a real batch and a fresh fake batch of the same size (G is not differentiated)."""
        z, c = self.latents(real.shape[0], real.device)
        with torch.no_grad():
            fake = G(z, c)
        real_logits = D(real, c_real if self.num_classes else None)
        fake_logits = D(fake, c)
        loss = self.loss.d_loss(real_logits, fake_logits)
        return loss, self.d_stats(loss, real_logits, fake_logits)

    def g_loss(self, G: nn.Module, D: nn.Module, batch_size: int, device: torch.device) -> tuple[Tensor, Stats]:
        """G's loss on a fresh fake batch; D's weights get no gradients."""
        z, c = self.latents(batch_size, device)
        with frozen(D):
            fake_logits = D(G(z, c), c)
            loss = self.loss.g_loss(fake_logits)
        return loss, {"g_loss": loss.detach()}

    @staticmethod
    def d_stats(loss: Tensor, real_logits: Tensor, fake_logits: Tensor) -> Stats:
        """Mean raw D outputs and D's accuracy (real scored > 0, fake < 0) for the log and health checks."""
        r, f = real_logits.detach(), fake_logits.detach()
        return {"d_loss": loss.detach(), "d_real": r.mean(), "d_fake": f.mean(),
                "d_acc_real": (r > 0).float().mean(), "d_acc_fake": (f < 0).float().mean()}
