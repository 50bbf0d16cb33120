"""The ``tvae`` task: TVAE (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", §4.5), a VAE on the same
encoded table as CTGAN.

One phase, ``VAE``, trains encoder and decoder on rows drawn uniformly (``batch.x``) with, per batch,

    loss = ``tvae.loss_factor`` · (1/N) Σ_rows [ Σ_α-spans ((α − tanh(out))² / (2σ²) + log σ) + Σ_one-hot-spans CE(out, category) ]
           + (1/N) Σ_rows KL(q(z|x) ‖ N(0, I)),

σ a learned scale per α span (the decoder's ``sigma``, clamped to [0.01, 1] after every step), loss_factor 2 as in the
authors' code. Samples: z ~ N(0, I), the decoder's outputs through tanh; α drawn from N(tanh(out), σ²) and each
one-hot span read by its argmax, as the authors' code samples. Logged: ``loss`` and its two parts, ``recon`` and ``kl``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..models import build_networks
from ..types import Batch
from .base import Clock, Phase, Task
from .tables import TableLayout, TablePipeline

Tensor = torch.Tensor
Stats = dict[str, Tensor]


def tvae_reconstruction(raw: Tensor, x: Tensor, sigma: Tensor, layout: TableLayout) -> Tensor:
    """Per row (N): Σ over α spans of (α − tanh(raw))² / (2σ²) + log σ, plus Σ over one-hot spans of the cross-entropy of
    raw's logits against the row's category (x: N×D encoded rows, raw: N×D decoder outputs, sigma: D)."""
    v, soft = layout.value_idx.to(x.device), layout.soft_idx.to(x.device)
    sd = sigma[v]
    gaussian = ((x[:, v] - torch.tanh(raw[:, v])).pow(2) / (2 * sd * sd) + torch.log(sd)).sum(1)
    # x is one-hot within each span: Σ_positions x · log softmax is each span's log-probability of its category
    cross_entropy = -(x[:, soft] * layout.segment_log_softmax(raw[:, soft])).sum(1)
    return gaussian + cross_entropy


class TVAETask(Task):
    """TVAE's encoder and decoder (see the module doc)."""

    name = "tvae"
    ema = {"decoder_ema": "decoder"}
    sampler = "decoder_ema"
    shown = {"loss": "loss"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        self.layout = TableLayout(info.table)
        self.networks, self.kwargs = build_networks(cfg.model, info)

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        params = [*self.networks["encoder"].parameters(), *self.networks["decoder"].parameters()]
        return {"VAE": (params, self.cfg.train.lr)}

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        sigma = self.networks["decoder"].sigma

        def clamp_sigma() -> None:
            with torch.no_grad():
                sigma.clamp_(0.01, 1.0)

        self.phases = [Phase("VAE", "VAE", ("encoder", "decoder"), self.loss, after=clamp_sigma)]

    def loss(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        x = batch["x"]
        mu, logvar = self.networks["encoder"](x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        raw = self.networks["decoder"](z)
        recon = tvae_reconstruction(raw, x, self.networks["decoder"].sigma, self.layout).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        loss = self.cfg.tvae.loss_factor * recon + kl
        return loss, {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """(z: n×z_dim standard normal, a seed for the draws of α)."""
        z = torch.randn(n, self.networks["decoder"].z_dim, generator=generator)
        return z, int(torch.randint(2**31 - 1, (1,), generator=generator))

    @torch.inference_mode()
    def decode(self, latents: tuple, batch: int = 512) -> Tensor:
        z, seed = latents
        return run_tvae(self.networks[self.sampler], self.layout, z, np.random.default_rng(seed), self.device, batch)


@torch.inference_mode()
def run_tvae(decoder: nn.Module, layout: TableLayout, z: Tensor, rng: np.random.Generator, device: torch.device,
             batch: int = 512) -> Tensor:
    """N×C codes of the decoder's rows for z (N×z_dim), in chunks (CPU, float64)."""
    sigma = decoder.sigma.detach().double().cpu().numpy()
    out = []
    for i in range(0, len(z), batch):
        enc = torch.tanh(decoder(z[i:i + batch].to(device))).double().cpu().numpy()
        out.append(layout.transformer.decode(enc, sigmas=sigma, rng=rng))
    return torch.from_numpy(np.concatenate(out))


class TVAEPipeline(TablePipeline):
    """A trained TVAE: ``pipe(n, seed=0, condition=None)`` -> DataFrame (conditions by keeping matching rows)."""

    def _draw(self, n: int, picks: list[tuple[int, int, float]], gen: torch.Generator, batch: int) -> np.ndarray:
        dec = self.module
        z = torch.randn(n, dec.z_dim, generator=gen)
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,), generator=gen)))
        return run_tvae(dec, self.layout, z, rng, next(dec.parameters()).device, batch).numpy()


TVAETask.pipeline = TVAEPipeline

__all__ = ["TVAETask", "TVAEPipeline", "tvae_reconstruction", "run_tvae"]
