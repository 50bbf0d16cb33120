"""The ``gan`` task: a generator G(z, c) against a discriminator D(x, c).

Phases, in order, every step:

* ``D`` (``train.n_critic`` times, a fresh real batch each): D's loss on the real batch and a fresh fake batch of the
  same size = adversarial loss (gankit.losses) + Σ D's terms (gankit.terms: gradient penalties, consistency, drift).
  A *lazy* term is evaluated every ``every`` D updates with its weight multiplied by ``every`` (StyleGAN2 §B). After
  each D optimizer step: weight clipping (``reg.clip``).
* ``G`` (once; it is the step): G's adversarial loss against the critic (D, or D after the unrolled look-ahead) on the
  scores its ``select`` terms keep (top-k), + Σ G's terms (feature matching, path length). It is given the last real
  batch of the D phase (relativistic losses, feature matching and unrolling compare with it).

What D sees (:class:`DView`): DiffAugment or ADA, then annealed instance noise, then PacGAN packing; the same view is
applied to real and fake samples, in D's and in G's phase. The input-gradient penalties differentiate D's score of its
view with respect to the images before the view, through it (StyleGAN2-ADA's and DiffAugment's convention).

With ``train.reuse_fake`` the G phase reuses the D phase's last fake batch, still attached to G's graph (same G
weights, so the same gradients, one G forward pass fewer). That batch is the task's, handed from one phase to the
next in this file; no term reads it.

``train.updates=simultaneous`` (simultaneous gradient descent, as the unrolled-GAN notebook, ALI's and PacGAN's code
run: one session call computes both gradients, then applies both updates): the phases run G first, on a fresh real
batch, then D on the same real batch and G's fake batch, detached. D's gradient depends on θ_G only through those
fakes, made before G's step, and G's gradient was taken against D before D's step, so both gradients are those at the
same (θ_G, θ_D). It needs ``n_critic`` 1.

``trick.pack_split`` (PacGAN's code): G makes pack position j of every pack in a call of its own, so batch norm in G
normalizes over B/m samples per call; without batch statistics in G the samples are the same as one call's.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import torch
from torch import nn

from ..augment import build_augment
from ..errors import ConfigError
from ..losses import build_loss
from ..models import build_models
from ..regularizers import clip_weights
from ..terms import TERMS, DContext, GContext, Term, of_phase
from ..types import Batch
from .base import Clock, Phase, Pipeline, Task

Tensor = torch.Tensor
Stats = dict[str, Tensor]
STRENGTHEN_GP = 10.0  # λ switched on by the guard for critic losses (Gulrajani et al. 2017's default)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turn off gradients for ``module``'s parameters (no weight gradients are computed for it)."""
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)


def pack(x: Tensor, m: int) -> Tensor:
    """PacGAN packing (Lin et al. 2018): N×C×... -> (N/m)×(m·C)×..., samples i·m … i·m+m−1 side by side on axis 1."""
    if m == 1:
        return x
    if x.shape[0] % m:
        raise ValueError(f"PacGAN: a batch of {x.shape[0]} does not split into packs of {m}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


class DView:
    """What D sees of a batch: ``augment`` (DiffAugment or ADA), then instance noise, then packing.

    Instance noise (Sønderby et al. 2017, "Amortised MAP Inference for Image Super-resolution", §3.2; Arjovsky &
    Bottou 2017, "Towards Principled Methods for Training GANs", §3): x + σ_t·ε, ε ~ N(0, I), on real and fake
    inputs alike, with σ_t = σ_0 · max(0, 1 − step / noise_steps) annealed linearly to 0.
    """

    def __init__(self, augment: Any = None, noise: float = 0.0, noise_steps: int = 1, pack: int = 1) -> None:
        self.augment, self.noise, self.noise_steps, self.m = augment, noise, max(noise_steps, 1), pack

    @property
    def active(self) -> bool:
        """Whether D's view differs from the samples (then penalties differentiate through it)."""
        return bool(self.augment) or self.noise > 0 or self.m > 1

    def sigma(self, step: int) -> float:
        return self.noise * max(0.0, 1.0 - step / self.noise_steps)

    def __call__(self, x: Tensor, step: int) -> Tensor:
        if self.augment:
            x = self.augment(x)
        s = self.sigma(step)
        if s > 0:
            x = x + s * torch.randn_like(x)
        return pack(x, self.m)


def draw_latents(n: int, z_dim: int, classes: int, generator: torch.Generator | None = None,
                 labels: Any = None) -> tuple[Tensor, Tensor | None]:
    """z: n×z_dim standard normal from ``generator``; c: the given labels (one for all, or n), else the classes in turn
    (0, 1, …, classes − 1, 0, …), or None when unconditional. Every fixed-noise picture, evaluation and pipeline call
    draws its latents here."""
    z = torch.randn(n, z_dim, generator=generator)
    if not classes:
        if labels is not None:
            raise ConfigError("--class: this generator is unconditional; drop --class")
        return z, None
    if labels is None:
        return z, torch.arange(n) % classes
    c = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    c = c.expand(n) if c.numel() == 1 else c
    if c.numel() != n or int(c.min()) < 0 or int(c.max()) >= classes:
        raise ConfigError(f"--class: labels must be in 0..{classes - 1} (one, or one per sample)")
    return z, c


@torch.inference_mode()
def run_generator(G: nn.Module, z: Tensor, c: Tensor | None, device: torch.device, batch: int = 512) -> Tensor:
    """G(z, c) on ``device`` in chunks: N×... samples in data space (CPU, float32)."""
    out = []
    for i in range(0, len(z), batch):
        cc = c[i:i + batch].to(device) if c is not None else None
        out.append(G(z[i:i + batch].to(device), cc).float().cpu())
    return torch.cat(out)


class GeneratorSampling:
    """Latents and samples of a task whose sampler is G(z, c): ``z_dim``, ``classes`` (0: unconditional), the shard
    (``rank``, ``world``), ``device``, ``networks`` and ``sampler`` come from the task (GANTask, AC-GAN, the SSGAN)."""

    def train_latents(self, n: int, device: torch.device) -> tuple[Tensor, Tensor | None]:
        """z: n×z_dim standard normal; c: n labels or None, from torch's global RNG (seeded, resumable).

        In a job of ``world`` processes every rank draws the global n·world batch and keeps its own n rows,
        so the job computes exactly what one process does with the global batch.
        """
        total = n * self.world
        z = torch.randn(total, self.z_dim, device=device)[self.rank * n:(self.rank + 1) * n]
        c = torch.randint(self.classes, (total,), device=device)[self.rank * n:(self.rank + 1) * n] if self.classes else None
        return z, c

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor | None]:
        return draw_latents(n, self.z_dim, self.classes, generator)

    def decode(self, latents: tuple, batch: int = 512) -> Tensor:
        z, c = latents
        return run_generator(self.networks[self.sampler], z, c, self.device, batch)


class GANTask(GeneratorSampling, Task):
    """The adversarial game with composed terms (see the module doc)."""

    name = "gan"
    ema = {"G_ema": "G"}
    guarded = ("d_real", "d_fake")  # an exploding |mean D output| is a divergence
    sampler = "G_ema"
    draws_field = True
    shown = {"d_loss": "D", "g_loss": "G"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        trick = cfg.trick
        G, D, gk, dk = build_models(cfg.model, info, pack=trick.pack)
        self.networks, self.kwargs = {"G": G, "D": D}, {"G": gk, "D": dk}
        self.loss = build_loss(cfg.loss)
        self.z_dim = cfg.model.z_dim
        self.classes = info.num_classes if cfg.model.conditional else 0
        per_rank = cfg.train.batch_size // self.world
        if per_rank % trick.pack:
            raise ConfigError(f"trick.pack: each of {self.world} processes gets {per_rank} samples, not a multiple of {trick.pack}; "
                              f"use train.batch_size divisible by {trick.pack * self.world}")
        self.view = DView(build_augment(cfg.augment, cfg.train.batch_size), trick.instance_noise,
                          trick.instance_noise_steps or cfg.train.steps, trick.pack)
        if hasattr(self.view.augment, "distribute"):  # ADA: one p for the job, parameters drawn for the global batch
            self.view.augment.distribute(self.rank, self.world)
        self.terms: dict[str, list[Term]] = {ph: [cls(cfg) for cls in of_phase(ph) if cls.active(cfg)] for ph in ("D", "G")}
        self.reuse_fake = cfg.train.reuse_fake
        self._fake: tuple[Tensor, Tensor | None] | None = None  # the D phase's last fake batch, attached to G
        self.simultaneous = cfg.train.updates == "simultaneous"
        if self.simultaneous and cfg.train.n_critic != 1:
            raise ConfigError(f"train.updates=simultaneous takes both gradients at the same weights, once per step; "
                              f"train.n_critic is {cfg.train.n_critic}: use train.n_critic=1 or train.updates=alternating")
        self._given: tuple[Tensor, Tensor | None] | None = None  # simultaneous: G's phase's fakes (detached) for D's
        if trick.pack_split and trick.pack == 1:
            raise ConfigError("trick.pack_split: G's calls are split per pack position, but trick.pack is 1; set trick.pack ≥ 2 "
                              "or trick.pack_split=false")
        self.split = trick.pack if trick.pack_split else 1
        self.opt_d: torch.optim.Optimizer | None = None

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        tc = self.cfg.train
        return {"G": (list(self.networks["G"].parameters()), tc.lr_g), "D": (list(self.networks["D"].parameters()), tc.lr_d)}

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.opt_d, self.device = optimizers["D"], device
        sim = self.simultaneous  # G first on a fresh batch, D on the same one (see the module doc)
        d = Phase("D", "D", ("D",), self.d_phase, repeat=self.cfg.train.n_critic, counter="d_updates", grad_stat="d_grad_norm",
                  after=self.after_d_step, data="last" if sim else "fresh")
        g = Phase("G", "G", ("G",), self.g_phase, data="fresh" if sim else "last", grad_stat="g_grad_norm")
        self.phases = [g, d] if sim else [d, g]

    def generate(self, G: nn.Module, z: Tensor, c: Tensor | None) -> Tensor:
        """G(z, c): N×... samples; under ``trick.pack_split`` one call per pack position (samples j, j+m, j+2m, …), put
        back in order."""
        m = self.split
        if m == 1:
            return G(z, c)
        parts = [G(z[j::m], None if c is None else c[j::m]) for j in range(m)]
        return torch.stack(parts, dim=1).flatten(0, 1)

    # ------------------------------------------------------------------ D

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        return self.d_loss(self.networks["G"], self.networks["D"], batch["x"], batch.get("label"), d_update=clock.updates,
                           step=clock.step)

    def d_loss(self, G: nn.Module, D: nn.Module, real: Tensor, c_real: Tensor | None, *, d_update: int = 0,
               step: int = 0) -> tuple[Tensor, Stats]:
        """D's loss on a real batch and a fresh fake batch of the same size (G is not differentiated).

        ``d_update``: D updates before this one (decides which lazy terms are due); ``step``: G updates so far.
        """
        if self._given is not None:  # simultaneous updates: G's phase made them, before G's step
            (fake, c), self._given = self._given, None
        elif self.reuse_fake:  # keep G's graph: G's update reuses this batch instead of a second forward pass
            z, c = self.train_latents(real.shape[0], real.device)
            fake = self.generate(G, z, c)
            self._fake = (fake, c)
            fake = fake.detach()
        else:
            z, c = self.train_latents(real.shape[0], real.device)
            with torch.no_grad():
                fake = self.generate(G, z, c)
        c_real = c_real if self.classes else None
        x_real, x_fake = self.view(real, step), self.view(fake, step)
        real_logits, fake_logits = D(x_real, c_real), D(x_fake, c)
        loss = self.loss.d_loss(real_logits, fake_logits)
        stats = self.d_stats(loss, real_logits, fake_logits)
        observe = getattr(self.view.augment, "observe", None)
        if observe is not None:  # ADA steers p from which side of D's decision boundary the real scores fall
            observe(self.loss.margins(real_logits.detach(), fake_logits.detach())[0])
            # r_t is NaN until the first adjustment: leave it out rather than trip the divergence guard
            stats.update({k: torch.tensor(v) for k, v in self.view.augment.stats().items() if math.isfinite(v)})
        if self.view.noise:
            stats["noise_std"] = torch.tensor(self.view.sigma(step))
        ctx = DContext(D, x_real, x_fake, c_real, c, real_logits, fake_logits, step, stats,
                       judge=(lambda x, cc: D(self.view(x, step), cc)) if self.view.active else D,
                       real_input=real, fake_input=fake, group=self.view.m)
        reg = None  # the terms due on this update (none: the loss alone, no extra op in the step)
        for term in self.terms["D"]:
            if not term.due(d_update):
                continue
            value = term(ctx).mean()
            stats[term.key] = value.detach()
            weighted = (term.weight * term.scale * term.every) * value
            reg = weighted if reg is None else reg + weighted
        if self.terms["D"]:
            stats["d_reg"] = torch.zeros((), device=real.device) if reg is None else reg.detach()
        return (loss, stats) if reg is None else (loss + reg, stats)

    def after_d_step(self) -> None:
        """Constraints after each D optimizer step: WGAN weight clipping."""
        if self.cfg.reg.clip:
            clip_weights(self.networks["D"], self.cfg.reg.clip)

    def d_stats(self, loss: Tensor, real_logits: Tensor, fake_logits: Tensor) -> Stats:
        """Mean raw D outputs and D's accuracy (each score on its side of the loss's decision boundary,
        :meth:`~gankit.losses.AdversarialLoss.margins`; none for a Wasserstein critic) for the log and health checks."""
        r, f = real_logits.detach(), fake_logits.detach()
        stats = {"d_loss": loss.detach(), "d_real": r.mean(), "d_fake": f.mean()}
        margins = self.loss.margins(r, f)
        if margins is not None:
            stats["d_acc_real"], stats["d_acc_fake"] = (margins[0] > 0).float().mean(), (margins[1] > 0).float().mean()
        return stats

    def judge(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """D's raw score of single samples x: N×... -> N, without augmentation or noise; under PacGAN the score
        of a pack of m copies of each sample (for pictures of D, e.g. the toy report's D(x) field)."""
        D, m = self.networks["D"], self.view.m
        return D(pack(x.repeat_interleave(m, dim=0), m) if m > 1 else x, c)

    @torch.no_grad()
    def field(self, points: Tensor) -> Tensor:
        """D's raw output at the points (eval mode for this call, then D's mode is restored)."""
        D = self.networks["D"]
        was_training = D.training
        D.eval()
        try:
            return torch.cat([self.judge(chunk.to(self.device)).float().reshape(-1).cpu() for chunk in points.split(4096)])
        finally:
            D.train(was_training)

    # ------------------------------------------------------------------ G

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        return self.g_loss(self.networks["G"], self.networks["D"], self.cfg.train.batch_size // self.world, self.device,
                           step=clock.step, real=batch["x"], c_real=batch.get("label"))

    def g_loss(self, G: nn.Module, D: nn.Module, batch_size: int, device: torch.device, *, step: int = 0,
               real: Tensor | None = None, c_real: Tensor | None = None) -> tuple[Tensor, Stats]:
        """G's loss on a fresh fake batch (or the D phase's, see the module doc); D's weights get no gradients.

        ``real``, ``c_real``: the real batch this phase is given; relativistic losses and the terms that compare with
        real data (``needs_real``) use it.
        """
        if self._fake is not None and self._fake[0].shape[0] == batch_size:
            fake, c = self._fake
        else:
            z, c = self.train_latents(batch_size, device)
            fake = self.generate(G, z, c)
        self._fake = None
        if self.simultaneous:
            self._given = (fake.detach(), c)
        terms = self.terms["G"]
        needs_real = self.loss.relativistic or any(t.needs_real for t in terms)
        if needs_real and real is None:
            raise ValueError("this G loss compares with real data: pass the phase's real batch")
        stats: Stats = {}
        with frozen(D):
            x_fake = self.view(fake, step)
            c_real = c_real if self.classes else None
            x_real = self.view(real, step) if needs_real else None
            ctx = GContext(G, D, x_fake, c, x_real, c_real if needs_real else None, self.loss, step, batch_size, device,
                           lambda n: self.train_latents(n, device), self.opt_d, stats)
            critic: Any = D
            for t in terms:
                if t.kind == "critic":
                    critic = t.critic(critic, ctx)
            # Against D itself the real scores do not depend on G (no gradient needed). Against the unrolled critic D_K
            # they do, through the look-ahead: Metz et al.'s surrogate f_K(θ_G) = f(θ_G, θ_D^K(θ_G)) differentiates D's
            # whole objective at θ_D^K, real-data term included (poolio/unrolled_gan: G minimizes −L_D(θ_D^K)).
            unrolled = critic is not D
            real_logits = None
            if self.loss.relativistic or unrolled:
                with torch.set_grad_enabled(unrolled and torch.is_grad_enabled()):
                    real_logits = critic(x_real, ctx.c_real)
            fake_logits = critic(x_fake, c)
            for t in terms:
                if t.kind == "select":
                    fake_logits = t.select(fake_logits, ctx)
            loss = self.loss.generator(fake_logits, real_logits)
            if unrolled and not self.loss.relativistic:  # G maximizes D's real-data term at θ_D^K (minimax: −L_D(θ_D^K))
                loss = loss - self.loss.d_real(real_logits)
            stats["g_loss"] = loss.detach()
            for t in terms:
                if t.kind == "loss" and t.due(step):
                    value = t(ctx)
                    stats[t.key] = value.detach()
                    loss = loss + (t.weight * t.scale * t.every) * value
        return loss, stats

    # ------------------------------------------------------------------ the guard's lever, compile, resume, export

    def strengthen(self) -> dict[str, list[float]]:
        """After a divergence rollback: switch on or raise a gradient penalty; returns {term: [old, new weight]}.

        Critic losses (wgan, hinge, rahinge): the GP is switched on at λ = 10 (Gulrajani et al. 2017) or doubled.
        Other losses: an active gradient penalty (gp, dragan, r1, r2) is doubled; with none active nothing changes.
        """
        weights = self.weights()
        if self.loss.critic:
            name = "gp"
        else:
            active = [t.name for t in self.terms["D"] if t.strengthen and t.weight]
            if not active:
                return {}
            name = active[0]
        old = weights.get(name, 0.0)
        new = 2.0 * old if old else STRENGTHEN_GP
        self.set_weight(name, new)
        return {name: [old, new]}

    def weights(self) -> dict[str, float]:
        """D's term weights in config units (what the guard raises and a checkpoint restores)."""
        return {t.name: t.weight for t in self.terms["D"]}

    def set_weight(self, name: str, weight: float) -> None:
        """Change a D term's weight (in config units), adding the term when it is not there yet."""
        for t in self.terms["D"]:
            if t.name == name:
                t.weight = weight
                return
        self.terms["D"].append(TERMS.get(name)(self.cfg, weight=weight))

    def compile_targets(self) -> list[str]:
        """G and D, except a network a term differentiates twice (input-gradient penalties on D, path length on G, the
        unrolled look-ahead) or D when the guard may switch a GP on (critic losses): torch.compile does not support
        double backward."""
        twice = {n for ts in self.terms.values() for t in ts for n in t.twice}
        if self.cfg.health.guard and self.cfg.health.strengthen and self.loss.critic:
            twice.add("D")
        return [n for n in ("G", "D") if n not in twice]

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready: D's term weights (the guard may have changed them), the terms' own state (path-length mean), ADA's p."""
        out: dict[str, Any] = {"weights": self.weights()}
        for ts in self.terms.values():
            for t in ts:
                out.update(t.state_dict())
        out.setdefault("pl_mean", 0.0)
        if hasattr(self.view.augment, "state_dict"):
            out["augment"] = self.view.augment.state_dict()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, w in state.get("weights", {}).items():
            self.set_weight(name, float(w))
        for ts in self.terms.values():
            for t in ts:
                t.load_state_dict(state)
        if "augment" in state and hasattr(self.view.augment, "load_state_dict"):
            self.view.augment.load_state_dict(state["augment"])


class GANPipeline(Pipeline):
    """A trained generator: ``pipe(n, labels=None, seed=0)`` -> n samples in data space (points n×D, images n×C×H×W in
    [-1, 1]). ``labels``: for conditional generators one class for all samples or n labels; default the classes in turn."""

    def __call__(self, n: int, labels: Any = None, seed: int = 0, batch: int = 512) -> Tensor:
        if n < 1:
            raise ConfigError(f"--n: {n} must be at least 1")
        G = self.module
        z, c = draw_latents(n, G.z_dim, getattr(G, "c_dim", 0), torch.Generator().manual_seed(seed), labels)
        device = next(G.parameters()).device
        # randomness inside G (a style-based G's per-layer noise) comes from the same seed, without touching the caller's
        # random stream: the same seed gives the same samples
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            return run_generator(G, z, c, device, batch)

    def decode(self, z: Tensor, c: Tensor | None = None, batch: int = 256) -> Tensor:
        """G(z, c), in chunks."""
        return run_generator(self.module, z, c, next(self.module.parameters()).device, batch)


GANTask.pipeline = GANPipeline

__all__ = ["GANTask", "GANPipeline", "GeneratorSampling", "DView", "pack", "frozen", "draw_latents", "run_generator", "STRENGTHEN_GP"]
