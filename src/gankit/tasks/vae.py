"""The ``vae`` task: a variational autoencoder (Kingma & Welling 2014, "Auto-Encoding Variational Bayes").

One phase, ``VAE``, trains the encoder q(z|x) = N(μ(x), diag σ²(x)) and the decoder p(x|z) together on the negative
evidence lower bound, per sample

    −ELBO(x) = −E_{z~q(z|x)} log p(x|z) + KL(q(z|x) ‖ N(0, I)),

estimated with one reparameterized draw z = μ + σ·ε, ε ~ N(0, I) (their eq. 10), the KL in closed form (appendix B).
``vae.beta`` weights the KL (β-VAE, Higgins et al. 2017; 1 is the ELBO) and ``vae.kl_warmup`` ramps that weight up
from 0 over a fraction of the run (Sønderby et al. 2016); the logged ``elbo`` is always the unweighted bound.

Logged per step (means over the batch, nats per sample): ``elbo``, ``recon`` (E log p(x|z)), ``kl``, ``kl_weight``;
with the discrete ``logistic`` likelihood also ``bpd``, −ELBO / (D · ln 2): a bound on the bits per dimension of 8-bit
images. A sample is z ~ N(0, I) decoded to the mean of p(x|z), or drawn from it (``vae.sample``).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..likelihoods import LIKELIHOODS, gaussian_kl
from ..models import build_networks
from ..types import Batch
from .base import Clock, Phase, Pipeline, Task, score_hook

Tensor = torch.Tensor
Stats = dict[str, Tensor]


def resolve_likelihood(name: str, schema: str) -> str:
    """``auto``: gaussian for points, bernoulli for images."""
    if name != "auto":
        return name
    return "gaussian" if schema == "points" else "bernoulli"


def resolve_sample(mode: str, schema: str) -> str:
    """``auto``: draw x ~ p(x|z) for points (their spread is part of the data), the mean for images."""
    if mode != "auto":
        return mode
    return "draw" if schema == "points" else "mean"


@torch.inference_mode()
def run_decoder(decoder: nn.Module, z: Tensor, mode: str, generator: torch.Generator | None, device: torch.device,
                batch: int = 512) -> Tensor:
    """Samples of p(x|z) (``mode`` draw) or its means (``mean``) for z: N×z_dim, in chunks (CPU, float32)."""
    lk = LIKELIHOODS.get(decoder.likelihood)
    out = []
    for i in range(0, len(z), batch):
        params = decoder(z[i:i + batch].to(device)).float()
        out.append((lk.sample(params, generator) if mode == "draw" else lk.mean(params)).cpu())
    return torch.cat(out)


class VAETask(Task):
    """Encoder and decoder on the ELBO (see the module doc)."""

    name = "vae"
    ema = {"decoder_ema": "decoder"}
    sampler = "decoder_ema"
    draws_field = True
    shown = {"elbo": "ELBO"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        self.likelihood = resolve_likelihood(cfg.vae.likelihood, info.schema)
        self.sample_mode = resolve_sample(cfg.vae.sample, info.schema)
        self.networks, self.kwargs = build_networks(cfg.model, info, adjust={"decoder": {"likelihood": self.likelihood}})
        self.z_dim = cfg.model.z_dim
        self.lk = LIKELIHOODS.get(self.likelihood)
        self.dims = math.prod(info.shape)
        self.warmup_steps = round(cfg.vae.kl_warmup * cfg.train.steps)

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        params = [*self.networks["encoder"].parameters(), *self.networks["decoder"].parameters()]
        return {"VAE": (params, self.cfg.train.lr)}

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = [Phase("VAE", "VAE", ("encoder", "decoder"), self.elbo_phase, grad_stat="grad_norm")]

    def kl_weight(self, step: int) -> float:
        """β, ramped linearly from 0 over the warm-up steps."""
        beta = self.cfg.vae.beta
        return beta if not self.warmup_steps else beta * min(step / self.warmup_steps, 1.0)

    def elbo_terms(self, x: Tensor, noise: bool = True) -> tuple[Tensor, Tensor]:
        """(E log p(x|z), KL(q(z|x) ‖ p(z))) per sample, N each, with one reparameterized draw (or z = μ without noise)."""
        mu, logvar = self.networks["encoder"](x)
        mu, logvar = mu.float(), logvar.float()
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if noise else mu
        params = self.networks["decoder"](z).float()
        return self.lk.log_prob(params, x.float()), gaussian_kl(mu, logvar)

    def elbo_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        recon, kl = self.elbo_terms(batch["x"])
        w = self.kl_weight(clock.step)
        loss = (w * kl - recon).mean()
        elbo = (recon - kl).mean().detach()
        stats = {"elbo": elbo, "recon": recon.mean().detach(), "kl": kl.mean().detach(), "kl_weight": torch.tensor(w)}
        if self.lk.discrete:
            stats["bpd"] = -elbo / (self.dims * math.log(2.0))
        return loss, stats

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """(z: n×z_dim standard normal, a seed for the draws of p(x|z)) from ``generator``."""
        z = torch.randn(n, self.z_dim, generator=generator)
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        return z, seed

    def decode(self, latents: tuple, batch: int = 512) -> Tensor:
        z, seed = latents
        return run_decoder(self.networks[self.sampler], z, self.sample_mode, torch.Generator().manual_seed(seed), self.device, batch)

    @torch.no_grad()
    def field(self, points: Tensor) -> Tensor:
        """The ELBO of each point with z = μ(x) (no sampling noise): where the model puts its density."""
        nets = [self.networks["encoder"], self.networks["decoder"]]
        modes = [n.training for n in nets]
        for n in nets:
            n.eval()
        try:
            out = []
            for chunk in points.split(4096):
                recon, kl = self.elbo_terms(chunk.to(self.device), noise=False)
                out.append((recon - kl).cpu())
            return torch.cat(out)
        finally:
            for n, m in zip(nets, modes):
                n.train(m)

    def export_meta(self) -> dict[str, Any]:
        return {"sample": self.sample_mode, "likelihood": self.likelihood}

    @torch.no_grad()
    def iw_bound(self, x: Tensor, k: int = 64, generator: torch.Generator | None = None, batch: int = 64) -> Tensor:
        """The importance-weighted bound (Burda et al. 2016) of each x (N, nats): log (1/k) Σ_j p(x, z_j) / q(z_j|x),
        z_j ~ q(z|x), a lower bound on log p(x) for any proposal, tightening to it as k grows (k = 1: the ELBO).
        The encoder proposes; the averaged decoder (the one that samples) scores. Eval mode, in chunks."""
        enc, dec = self.networks["encoder"], self.networks[self.sampler]
        modes = [enc.training, dec.training]
        enc.eval(), dec.eval()
        try:
            out = []
            for chunk in x.split(batch):
                xb = chunk.to(self.device)
                mu, logvar = (t.float() for t in enc(xb))
                eps = torch.randn((len(xb), k, mu.shape[1]), generator=generator).to(self.device)
                z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps  # B×k×z
                log_q = (-0.5 * eps.pow(2) - 0.5 * logvar[:, None] - 0.5 * math.log(2 * math.pi)).sum(-1)
                log_pz = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).sum(-1)
                params = dec(z.flatten(0, 1)).float()
                log_px = self.lk.log_prob(params, xb.float().repeat_interleave(k, 0)).view(len(xb), k)
                out.append((torch.logsumexp(log_px + log_pz - log_q, 1) - math.log(k)).cpu())
            return torch.cat(out)
        finally:
            enc.train(modes[0]), dec.train(modes[1])

    def heldout_nll(self) -> dict[str, Any]:
        """Held-out log-likelihood (a ``likelihood`` event): the importance-weighted bound with 64 draws, nats per sample
        (bits per dimension with the discrete ``logistic`` likelihood; toys: with the mixture's entropy, the floor). With
        the Bernoulli likelihood on grey values the number is not a likelihood (kind says so)."""
        from .density import heldout_event

        proper = self.lk.discrete or self.info.schema == "points"  # Bernoulli on grey values is not a normalized density
        return heldout_event(self, lambda x: self.iw_bound(x, generator=torch.Generator().manual_seed(0)),
                             "bound" if proper else "not a likelihood", self.dims, self.lk.discrete)

    def hooks(self, trainer: Any) -> list:
        return [score_hook(self, "likelihood", self.heldout_nll)]


class VAEPipeline(Pipeline):
    """A trained VAE decoder: ``pipe(n, seed=0)`` -> n samples (z ~ N(0, I) decoded to the mean of p(x|z), or a draw from
    it, as the run's ``vae.sample`` said); ``pipe(n, mode="draw")`` chooses."""

    def __call__(self, n: int, labels: Any = None, seed: int = 0, batch: int = 512, mode: str | None = None) -> Tensor:
        if n < 1:
            raise ConfigError(f"--n: {n} must be at least 1")
        if labels is not None:
            raise ConfigError("--class: this VAE is unconditional; drop --class")
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.module.z_dim, generator=gen)
        mode = mode or self.meta.get("sample", "mean")
        return run_decoder(self.module, z, mode, gen, next(self.module.parameters()).device, batch)

    def decode(self, z: Tensor, c: Tensor | None = None, batch: int = 256) -> Tensor:
        """The means of p(x|z), in chunks."""
        return run_decoder(self.module, z, "mean", None, next(self.module.parameters()).device, batch)


VAETask.pipeline = VAEPipeline

__all__ = ["VAETask", "VAEPipeline", "resolve_likelihood", "resolve_sample", "run_decoder"]
