"""The likelihood-based families as tasks: ``flow``, ``autoregressive`` and ``diffusion``.

Each trains one network (a :class:`gankit.models.density.DensityModel`: RealNVP / Glow, MADE / gated PixelCNN, DDPM)
on its per-sample objective — −log p for flows and autoregressive models, DDPM's simplified ε-loss — in one phase,
``fit``, and samples with the averaged copy ``net_ema``:

==============  ===================  ============================  ======================================================
task            families             objective (logged)            samples (evaluations, pictures)
==============  ===================  ============================  ======================================================
flow            realnvp, glow        −log p(x) (``nll``)           z ~ N(0, T²I) through the inverse, ``flow.temperature``
autoregressive  made, pixelcnn       −log p(x) (``nll``)           one dimension / pixel at a time
diffusion       ddpm                 ‖ε − ε_θ(x_t, t)‖² (``mse``)  DDPM ancestral (T steps) or DDIM (``diffusion.steps``)
==============  ===================  ============================  ======================================================

With discrete images (``levels`` grey levels) ``bpd`` is logged too: the objective over D·ln 2 (flows: the uniform-
dequantization bound). Every ``eval.every`` steps (and at the end) a ``likelihood`` event gives the averaged network's
held-out log-likelihood: ``nll`` in nats per sample (test split; toys: a fixed draw from the mixture, beside its true
``entropy``, the floor), ``bpd`` for images, and ``kind`` (exact, or bound for Glow's dequantization and DDPM's
variational bound).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from ..data import build_dataset, toy
from ..data.images.core import to_float
from ..errors import ConfigError
from ..models import build_networks
from ..types import Batch
from .base import Clock, Phase, Pipeline, Task, score_hook

Tensor = torch.Tensor

TEST_SEED = 20240601  # the toys' held-out draw (any fixed seed; not the training stream's)


def sample_in_chunks(net: nn.Module, n: int, generator: torch.Generator, options: dict[str, Any], batch: int = 512) -> Tensor:
    """n samples of ``net`` (CPU, float32), ``batch`` at a time from one generator (the same n and seed: the same samples)."""
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            return torch.cat([net.sample(min(batch, n - i), generator, **options).float().cpu() for i in range(0, n, batch)])
    finally:
        net.train(was)


def log_prob_in_chunks(net: nn.Module, x: Tensor, generator: torch.Generator | None = None, batch: int = 512) -> Tensor:
    """``net.log_prob`` of x (N) in eval mode, in chunks, on the network's device; CPU float32 back."""
    device = next(net.parameters()).device
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            return torch.cat([net.log_prob(x[i:i + batch].to(device), generator).float().cpu() for i in range(0, len(x), batch)])
    finally:
        net.train(was)


def held_out(cfg: Any, info: Any, n: int) -> Tensor:
    """The data a likelihood is measured on: the test split of images; for toys, n points of a fixed draw."""
    if info.schema == "points":
        mixture = build_dataset(cfg.data, "test")
        return mixture.sample(n, torch.Generator().manual_seed(TEST_SEED))
    return to_float(build_dataset(cfg.data, "test").images)


def heldout_event(task: Task, log_prob: Callable[[Tensor], Tensor], kind: str, dims: int, bits: bool) -> dict[str, Any]:
    """A ``likelihood`` event of ``task``: −mean ``log_prob`` over its held-out data (drawn once and kept on the task)
    as ``nll`` in nats per sample, with ``kind`` (exact, bound, ...), ``n``, ``bpd`` when ``bits`` (discrete data of
    ``dims`` dimensions) and, for toys, the mixture's ``entropy`` (the floor)."""
    if getattr(task, "_test", None) is None:
        task._test = held_out(task.cfg, task.info, task.cfg.eval.n or 2500)
    nll = -float(log_prob(task._test).double().mean())
    out: dict[str, Any] = {"nll": nll, "kind": kind, "n": len(task._test)}
    if bits:
        out["bpd"] = nll / (dims * math.log(2.0))
    if task.info.schema == "points":
        out["entropy"] = mixture_entropy(task.info)
    return out


def mixture_entropy(info: Any, n: int = 200_000) -> float:
    """The toy mixture's differential entropy in nats, −E log p(x), by Monte Carlo over n draws (std error ~1e-3 nats)."""
    mixture = toy.ToyMixture(torch.tensor(info.centers), info.std)
    x = mixture.sample(n, torch.Generator().manual_seed(TEST_SEED + 1))
    return float(-mixture.log_prob(x.double()).mean())


class DensityTask(Task):
    """One :class:`~gankit.models.density.DensityModel` on its own objective (see the module doc)."""

    name = ""
    section = ""  # the config section with the sampling options ("" for none)
    ema = {"net_ema": "net"}
    sampler = "net_ema"
    shown = {"nll": "NLL"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        self.networks, self.kwargs = build_networks(cfg.model, info)
        net = self.networks["net"]
        self.loss_name = net.loss_name
        self.draws_field = info.schema == "points"
        self.bits = net.levels > 0
        self.options = self.sample_options(cfg)

    @classmethod
    def sample_options(cls, cfg: Any) -> dict[str, Any]:
        """The sampling options evaluations and pictures use (the task's config section)."""
        return {}

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        return {"net": (list(self.networks["net"].parameters()), self.cfg.train.lr)}

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = [Phase("fit", "net", ("net",), self.fit_phase, clip=self.cfg.train.grad_clip)]

    def fit_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, dict[str, Tensor]]:
        per_sample = self.networks["net"].loss(batch["x"]).float()
        loss = per_sample.mean()
        stats = {self.loss_name: loss.detach()}
        if self.bits and self.loss_name == "nll":
            stats["bpd"] = loss.detach() / (self.networks["net"].dims * math.log(2.0))
        return loss, stats

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """(n, a seed for the sampler's draws) from ``generator``."""
        return n, int(torch.randint(2**31 - 1, (1,), generator=generator))

    def decode(self, latents: tuple, batch: int = 512) -> Tensor:
        n, seed = latents
        return sample_in_chunks(self.networks[self.sampler], n, torch.Generator().manual_seed(seed), self.options, batch)

    def field(self, points: Tensor) -> Tensor | None:
        """Toys: log p (or its bound) of each point under the averaged network."""
        if not self.draws_field:
            return None
        return log_prob_in_chunks(self.networks[self.sampler], points, torch.Generator().manual_seed(0), 4096)

    def heldout_nll(self) -> dict[str, Any]:
        """Held-out log-likelihood of the averaged network: nll (nats per sample), bpd (images), kind, n; toys: entropy."""
        net = self.networks[self.sampler]
        return heldout_event(self, lambda x: log_prob_in_chunks(net, x, torch.Generator().manual_seed(0)), net.likelihood_kind,
                             net.dims, self.bits)

    def hooks(self, trainer: Any) -> list:
        return [score_hook(self, "likelihood", self.heldout_nll)]

    def export_meta(self) -> dict[str, Any]:
        return {"sample_options": self.options}


class FlowTask(DensityTask):
    name = "flow"

    @classmethod
    def sample_options(cls, cfg: Any) -> dict[str, Any]:
        return {"temperature": cfg.flow.temperature}


class AutoregressiveTask(DensityTask):
    name = "autoregressive"


class DiffusionTask(DensityTask):
    name = "diffusion"
    shown = {"mse": "ε-MSE"}

    FIELD_STEPS = 25  # the toy pictures' density: a stratified estimate of the bound over 25 of the T steps

    def field(self, points: Tensor) -> Tensor | None:
        """Toys: an unbiased stratified estimate of the bound (25 strata of the T steps), not the whole bound: a picture
        of 10⁴ grid points at T = 1000 would cost 10⁷ network passes each time it is drawn."""
        net = self.networks[self.sampler]
        full, net.bound_steps = net.bound_steps, min(self.FIELD_STEPS, net.bound_steps or self.FIELD_STEPS)
        try:
            return super().field(points)
        finally:
            net.bound_steps = full

    @classmethod
    def sample_options(cls, cfg: Any) -> dict[str, Any]:
        d = cfg.diffusion
        return {"sampler": "ddpm"} if d.sampler == "ddpm" else {"sampler": "ddim", "steps": d.steps, "eta": d.eta}


class DensityPipeline(Pipeline):
    """A trained likelihood-based model: ``pipe(n, seed=0, **options)`` samples (the run's sampling options unless given:
    ``temperature`` for flows; ``sampler``, ``steps``, ``eta`` for diffusion); ``pipe.log_prob(x)`` gives log p per
    sample in nats (``pipe.likelihood_kind``: exact or bound); flows also ``pipe.encode(x)`` and ``pipe.decode(z)``."""

    def __call__(self, n: int, labels: Any = None, seed: int = 0, batch: int = 512, **options: Any) -> Tensor:
        if n < 1:
            raise ConfigError(f"--n: {n} must be at least 1")
        if labels is not None:
            raise ConfigError(f"--class: this {self.meta.get('task')} model is unconditional; drop --class")
        opts = {**self.meta.get("sample_options", {}), **options}
        try:
            return sample_in_chunks(self.module, n, torch.Generator().manual_seed(seed), opts, batch)
        except ValueError as e:
            raise ConfigError(str(e)) from None

    def log_prob(self, x: Tensor, seed: int = 0, batch: int = 512) -> Tensor:
        """log p(x) per sample (N, nats); a lower bound where ``likelihood_kind`` is ``bound``."""
        return log_prob_in_chunks(self.module, x, torch.Generator().manual_seed(seed), batch)

    def decode(self, z: Tensor, c: Tensor | None = None, batch: int = 256) -> Tensor:
        """Flows: x of latents z (N×D), the exact inverse of :meth:`encode`."""
        if not self.module.reversible:
            raise ConfigError(f"decode: a {self.meta.get('family')} model has no latent space to decode; only flows do")
        with torch.no_grad():
            return torch.cat([self.module.decode(z[i:i + batch]).float().cpu() for i in range(0, len(z), batch)])

    def encode(self, x: Tensor, batch: int = 256) -> Tensor:
        """Flows: the latents z (N×D) of x."""
        if not self.module.reversible:
            raise ConfigError(f"encode: a {self.meta.get('family')} model has no encoder; only flows do")
        self.module.eval()
        with torch.no_grad():
            return torch.cat([self.module.encode(x[i:i + batch]).float().cpu() for i in range(0, len(x), batch)])


for _task in (FlowTask, AutoregressiveTask, DiffusionTask):
    _task.pipeline = DensityPipeline

__all__ = ["DensityTask", "FlowTask", "AutoregressiveTask", "DiffusionTask", "DensityPipeline", "held_out", "heldout_event",
           "mixture_entropy", "sample_in_chunks", "log_prob_in_chunks"]
