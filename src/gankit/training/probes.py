"""``trick.probe_adversarial``: D under attack during training (issue 23; formulas in gankit.metrics.robustness).

Every ``trick.probe_adversarial`` steps the hook takes 64 real samples (a separate seeded draw: the training stream is
not advanced) and G's samples of 64 fixed latents, and logs an ``adversarial`` event: D's mean score change under FGSM
and 10-step PGD of L∞ size ``trick.probe_eps`` toward the other side (real pushed down, fake pushed up) and D's local
Lipschitz estimate on each. It keeps that step's D and G's samples; after the next step (G updated) it logs how far
G's own update moved D's score against the worst-case perturbation of the same L2 norm (``g_ratio``, the "accidental
attack" question). Networks are probed in eval mode and restored; nothing here changes training (the global RNG is
forked).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch

from ..metrics.robustness import accidental_attack, probe
from ..tasks.gan import draw_latents
from .hooks import Hook

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

N_PROBE = 64


class AdversarialProbeHook(Hook):
    """See the module doc."""

    at_end = False

    def __init__(self, trainer: "Trainer") -> None:
        super().__init__(trainer.cfg.trick.probe_adversarial)
        self.eps = trainer.cfg.trick.probe_eps
        self.z, _ = draw_latents(N_PROBE, trainer.nets["G"].z_dim, 0, torch.Generator().manual_seed(trainer.cfg.train.seed + 4242))
        self.pending: tuple[int, torch.nn.Module, torch.Tensor] | None = None  # (step, D then, G's samples then)

    def due(self, t: "Trainer") -> bool:
        return super().due(t) or self.pending is not None

    def _fake(self, t: "Trainer") -> torch.Tensor:
        with torch.no_grad():
            return t.nets["G"](self.z.to(t.device), None).float()

    def fire(self, t: "Trainer") -> None:
        G, D = t.nets["G"], t.nets["D"]
        modes = (G.training, D.training)
        G.eval(), D.eval()
        try:
            with torch.random.fork_rng(devices=[t.device] if t.device.type == "cuda" else []):
                if self.pending is not None:
                    step, D_then, before = self.pending
                    self.pending = None
                    out = accidental_attack(D_then, before, self._fake(t))
                    t.log.write("adversarial", step=t.step, since_step=step, **{k: round(v, 6) for k, v in out.items()})
                if super().due(t):
                    real = t.batches.sample_reference(N_PROBE, seed=t.step).to(t.device).float()
                    fake = self._fake(t)
                    out = probe(D, real, fake, self.eps)
                    t.log.write("adversarial", step=t.step, eps=self.eps, **{k: round(v, 6) for k, v in out.items()})
                    self.pending = (t.step, copy.deepcopy(D).eval(), fake)
        finally:
            G.train(modes[0]), D.train(modes[1])


def probe_hooks(trainer: "Trainer") -> list[Hook]:
    """[AdversarialProbeHook] when ``trick.probe_adversarial`` is set (GAN task), else []."""
    trick = getattr(trainer.cfg, "trick", None)
    if trick is None or not getattr(trick, "probe_adversarial", 0):
        return []
    return [AdversarialProbeHook(trainer)]


__all__ = ["AdversarialProbeHook", "probe_hooks"]
