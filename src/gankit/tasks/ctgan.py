"""The ``ctgan`` task: CTGAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", NeurIPS).

Data: a table encoded by mode-specific normalization (gankit.data.tables.transform); batches carry CTGAN's
training-by-sampling draw (gankit.data.tables.data.TableBatches): a conditional vector ``cond`` — one category of one
discrete column per row, the column uniform, the category by log-frequency — and real rows ``x_cond`` having it.

Per step (``train.n_critic`` D updates, then one G update; the authors' code: 1):

* **D** (WGAN-GP critic over PacGAN packs of ``model.pac`` rows, each row joined with its conditional vector):
  ``−(E D(real ⊕ c) − E D(fake ⊕ c)) + λ·E (‖∇D(x̂)‖₂ − 1)²`` with x̂ = α·real + (1 − α)·fake per pack (α ~ U(0, 1)),
  λ = ``ctgan.gp`` (10); fake = activation(G(z ⊕ c)): tanh on α spans, Gumbel-softmax (τ = ``ctgan.tau``, 0.2) on
  one-hot spans.
* **G**: ``−E D(fake ⊕ c) + CE(G's logits of the conditioned column, the conditioned category)``, the cross-entropy
  averaged over the batch (§4.3: it makes G produce the asked category).

The rows of a batch that do not fill a whole pack (``batch_size mod pac``) are left out of D's input — a batch of
500 with pac 10 uses all 500; the run's ``start`` event says how many rows a batch drops. ``ctgan.conditional=false``
is the paper's ablation without the conditional vector and training-by-sampling (rows drawn uniformly).

Samples: z ~ N(0, I) with a conditional vector whose column is uniform and category drawn by its frequency in the
training split; G's outputs read as tanh for α and a category drawn from each one-hot span's softmax (what the
argmax of a Gumbel-softmax sample is).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models import build_networks
from ..types import Batch
from .base import Clock, Phase, Task
from .tables import TableLayout, TablePipeline

Tensor = torch.Tensor
Stats = dict[str, Tensor]


def packed_gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, cond: Tensor | None, generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017) on PacGAN packs, per pack (N/pac): (‖∇ D.judge(x̂)‖₂ − 1)², x̂ = α·real + (1 − α)·fake
    with one α ~ U(0, 1) per pack, the gradient's norm over the whole packed input (rows and conditions)."""
    real_p, fake_p = D.pack(real, cond), D.pack(fake.detach(), cond)
    alpha = torch.rand(real_p.shape[0], 1, generator=generator, device=real_p.device) if generator is not None else \
        torch.rand(real_p.shape[0], 1, device=real_p.device)
    x_hat = (alpha * real_p + (1 - alpha) * fake_p).requires_grad_(True)
    (grad,) = torch.autograd.grad(D.judge(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm(2, dim=1) - 1.0).pow(2)


def conditional_cross_entropy(raw: Tensor, cond: Tensor, cond_column: Tensor, layout: TableLayout) -> Tensor:
    """Per row (N): the cross-entropy of G's logits over the conditioned column's categories against the category its
    conditional vector asks for (Xu et al. 2019, §4.3)."""
    losses, start = [], 0
    for s in layout.conditions:
        target = cond[:, start:start + s.size].argmax(1)
        losses.append(F.cross_entropy(raw[:, s.start:s.end], target, reduction="none"))
        start += s.size
    return torch.stack(losses, dim=1).gather(1, cond_column[:, None]).squeeze(1)


class CTGANTask(Task):
    """CTGAN's G and packed critic D on training-by-sampling batches (see the module doc)."""

    name = "ctgan"
    ema = {"G_ema": "G"}
    sampler = "G_ema"
    guarded = ("d_real", "d_fake")
    shown = {"loss_d": "D", "loss_g": "G"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        self.layout = TableLayout(info.table)
        self.conditional = cfg.ctgan.conditional and bool(self.layout.conditions)
        adjust = None if self.conditional else {"G": {"cond_dim": 0}, "D": {"cond_dim": 0}}
        self.networks, self.kwargs = build_networks(cfg.model, info, adjust)
        self.pac = cfg.model.pac
        local = cfg.train.batch_size // self.world
        self.used = local - local % self.pac
        dropped = local - self.used
        if dropped:
            self.notes.append(f"model.pac={self.pac}: each batch of {local} rows gives D {self.used} ({dropped} dropped: "
                              f"not a whole pack)")

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        tc = self.cfg.train
        return {"G": (list(self.networks["G"].parameters()), tc.lr_g), "D": (list(self.networks["D"].parameters()), tc.lr_d)}

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = [Phase("D", "D", ("D",), self.d_phase, repeat=self.cfg.train.n_critic, counter="d_updates", grad_stat="d_grad_norm"),
                       Phase("G", "G", ("G",), self.g_phase, data="last", grad_stat="g_grad_norm")]

    # ------------------------------------------------------------------ the phases

    def _cond(self, batch: Batch) -> tuple[Tensor | None, Tensor]:
        """(the conditional vectors or None, the real rows D sees), cut to whole packs."""
        n = self.used
        if self.conditional:
            return batch["cond"][:n], batch["x_cond"][:n]
        return None, batch["x"][:n]

    def _fake(self, n: int, cond: Tensor | None) -> Tensor:
        z = torch.randn(n, self.networks["G"].z_dim, device=self.device)
        return self.networks["G"](z, cond)

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        D = self.networks["D"]
        cond, real = self._cond(batch)
        with torch.no_grad():
            fake = self.layout.activate(self._fake(len(real), cond), self.cfg.ctgan.tau)
        d_real, d_fake = D(real, cond), D(fake, cond)
        loss_adv = -(d_real.mean() - d_fake.mean())
        gp = packed_gradient_penalty(D, real, fake, cond).mean()
        loss = loss_adv + self.cfg.ctgan.gp * gp
        return loss, {"loss_d": loss_adv.detach(), "gp": gp.detach(), "d_real": d_real.mean().detach(),
                      "d_fake": d_fake.mean().detach(), "wasserstein": -loss_adv.detach()}

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        D = self.networks["D"]
        cond, _ = self._cond(batch)
        raw = self._fake(self.used, cond)
        adv = -D(self.layout.activate(raw, self.cfg.ctgan.tau), cond).mean()
        stats: Stats = {"loss_g": adv.detach()}
        loss = adv
        if cond is not None:
            ce = conditional_cross_entropy(raw, cond, batch["cond_column"][:self.used], self.layout).mean()
            loss = loss + ce
            stats["cond_ce"] = ce.detach()
        return loss, stats

    # ------------------------------------------------------------------ sampling

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """(z: n×z_dim, the conditional vectors n×C or None, a seed for the categories' draws)."""
        z = torch.randn(n, self.networks["G"].z_dim, generator=generator)
        cond = self.layout.cond_vector(n, [], generator or torch.Generator()) if self.conditional else None
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        return z, cond, seed

    @torch.inference_mode()
    def decode(self, latents: tuple, batch: int = 512) -> Tensor:
        z, cond, seed = latents
        return run_ctgan(self.networks[self.sampler], self.layout, z, cond, torch.Generator().manual_seed(seed), self.device, batch)

    def strengthen(self) -> dict[str, list[float]]:
        old = self.cfg.ctgan.gp
        self.cfg.ctgan.gp = old * 2
        return {"ctgan.gp": [old, old * 2]}

    def compile_targets(self) -> list[str]:
        return ["G"]  # D is differentiated twice by the gradient penalty

    def state_dict(self) -> dict[str, Any]:
        return {"gp": self.cfg.ctgan.gp}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "gp" in state:
            self.cfg.ctgan.gp = state["gp"]

    def export_meta(self) -> dict[str, Any]:
        return {"conditional": self.conditional}


@torch.inference_mode()
def run_ctgan(G: nn.Module, layout: TableLayout, z: Tensor, cond: Tensor | None, generator: torch.Generator, device: torch.device,
              batch: int = 512) -> Tensor:
    """N×C codes of G's rows for latents z (N×z_dim) and conditional vectors (N×C or None), in chunks (CPU, float64);
    G in eval mode (batch norm with its running statistics)."""
    was = G.training
    G.eval()
    try:
        out = []
        for i in range(0, len(z), batch):
            c = cond[i:i + batch].to(device) if cond is not None else None
            raw = G(z[i:i + batch].to(device), c)
            out.append(layout.transformer.decode(layout.draw(raw, generator)))
        return torch.from_numpy(np.concatenate(out))
    finally:
        G.train(was)


class CTGANPipeline(TablePipeline):
    """A trained CTGAN: ``pipe(n, seed=0, condition=None)`` -> DataFrame (see TablePipeline)."""

    def _draw(self, n: int, picks: list[tuple[int, int, float]], gen: torch.Generator, batch: int) -> np.ndarray:
        G = self.module
        z = torch.randn(n, G.z_dim, generator=gen)
        cond = self.layout.cond_vector(n, picks, gen) if G.cond_dim else None
        dev = next(G.parameters()).device
        return run_ctgan(G, self.layout, z, cond, gen, dev, batch).numpy()


CTGANTask.pipeline = CTGANPipeline

__all__ = ["CTGANTask", "CTGANPipeline", "packed_gradient_penalty", "conditional_cross_entropy", "run_ctgan"]
