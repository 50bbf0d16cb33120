"""What a training step optimizes. The objective owns the math; the loop owns the schedule.

An objective turns (G, D, a real batch) into D's loss and G's loss plus a few detached statistics for the
log. Penalties, regularizers and tricks are terms composed into one :class:`GANObjective`, never flags inside
the loop. The loop hands over its counters (``d_update``: D updates so far, ``step``: G updates so far) and
calls :meth:`GANObjective.after_d_step` after each D optimizer step; it never knows which terms exist.

* D's loss = adversarial loss + Σ weight · mean per-sample penalty (gankit.regularizers). A *lazy* term is
  evaluated every ``every`` D updates with its weight multiplied by ``every`` (Karras et al. 2020, StyleGAN2 §B).
* G's loss = adversarial loss (through k unrolled D updates with ``trick.unroll``; over the samples D scores most
  realistic only, with ``trick.topk``) + feature matching.
* What D sees (:class:`DView`): DiffAugment, then annealed instance noise, then PacGAN packing; the same view is
  applied to real and fake samples, in D's and in G's update, and the penalties act on it.
* After each D step: weight clipping. On a rollback the divergence guard calls :meth:`GANObjective.strengthen`.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import nn

from .. import regularizers as R
from ..augment import DiffAugment, build_augment
from ..errors import ConfigError
from ..losses import AdversarialLoss
from .unrolled import unrolled_critic

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


def pack(x: Tensor, m: int) -> Tensor:
    """PacGAN packing (Lin et al. 2018): N×C×... -> (N/m)×(m·C)×..., samples i·m … i·m+m−1 side by side on axis 1."""
    if m == 1:
        return x
    if x.shape[0] % m:
        raise ValueError(f"PacGAN: a batch of {x.shape[0]} does not split into packs of {m}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


class DView:
    """What D sees of a batch: ``augment`` (DiffAugment), then instance noise, then packing.

    Instance noise (Sønderby et al. 2017, "Amortised MAP Inference for Image Super-resolution", §3.2; Arjovsky &
    Bottou 2017, "Towards Principled Methods for Training GANs", §3): x + σ_t·ε, ε ~ N(0, I), on real and fake
    inputs alike, with σ_t = σ_0 · max(0, 1 − step / noise_steps) annealed linearly to 0.
    """

    def __init__(self, augment: Callable[[Tensor], Tensor] | None = None, noise: float = 0.0, noise_steps: int = 1,
                 pack: int = 1) -> None:
        self.augment, self.noise, self.noise_steps, self.m = augment, noise, max(noise_steps, 1), pack

    def sigma(self, step: int) -> float:
        return self.noise * max(0.0, 1.0 - step / self.noise_steps)

    def __call__(self, x: Tensor, step: int) -> Tensor:
        if self.augment:
            x = self.augment(x)
        s = self.sigma(step)
        if s > 0:
            x = x + s * torch.randn_like(x)
        return pack(x, self.m)


@dataclass
class DBatch:
    """One D update's batch, as D sees it (after the :class:`DView`); logits are D's, not detached."""

    real: Tensor
    fake: Tensor
    c_real: Tensor | None
    c_fake: Tensor | None
    real_logits: Tensor
    fake_logits: Tensor


@dataclass
class Term:
    """``weight · scale · mean(fn(D, batch))`` in D's loss, every ``every`` D updates (then × every).

    ``weight`` is in config units (λ, γ, ε); ``scale`` turns it into the coefficient (½ for R1/R2's γ/2).
    """

    name: str
    weight: float
    fn: Callable[[nn.Module, DBatch], Tensor]
    every: int = 1
    scale: float = 1.0


GRADIENT_TERMS = ("gp", "dragan", "r1", "r2")  # penalties on input gradients: the lazy interval applies to these
STRENGTHEN_GP = 10.0  # λ switched on by the guard for critic losses (Gulrajani et al. 2017's default)


def feature_matching(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """‖E f(x) − E f(G(z))‖² over the batch means of D's penultimate features, N×F each (Salimans et al. 2016, §3.1)."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


class GANObjective:
    """The adversarial game with composed penalties and tricks (see the module doc).

    Args:
        loss: the adversarial loss pair.
        z_dim: noise dimension; z ~ N(0, I).
        num_classes: > 0 for conditional models: fake labels are drawn uniformly from [0, num_classes).
        shard: (rank, world) of a distributed job.
        terms: penalty terms of D's loss (see :func:`penalty_term`).
        view: what D sees (augmentation, instance noise, packing); default: the batch itself.
        clip: WGAN weight clipping bound c (0: off).
        feature_matching: weight of the feature-matching term in G's loss (0: off); D must have ``embed``.
        unroll: look-ahead D updates in G's loss (0: off). d_optimizer: D's optimizer (for Adam-style look-ahead).
        bcr_augment: the augmentation T that new consistency terms use (strengthen / load_state_dict).
        topk, topk_steps, topk_stop: top-k training (0: off): G's loss keeps the fraction ``topk`` of its N scores
            (N = batch / pack) that D rates highest, on a schedule in G steps (:meth:`topk_count`); per process
            under DDP.
    """

    def __init__(self, loss: AdversarialLoss, z_dim: int, num_classes: int = 0, shard: tuple[int, int] = (0, 1), *,
                 terms: list[Term] = (), view: DView | None = None, clip: float = 0.0, feature_matching: float = 0.0,
                 unroll: int = 0, d_optimizer: torch.optim.Optimizer | None = None, gp_one_sided: bool = False,
                 lazy: int = 1, bcr_augment: Callable[[Tensor], Tensor] | None = None, reuse_fake: bool = False,
                 path_length: float = 0.0, pl_lazy: int = 4, topk: float = 0.0, topk_steps: int = 1, topk_stop: int = 0) -> None:
        self.loss, self.z_dim, self.num_classes = loss, z_dim, num_classes
        self.rank, self.world = shard
        self.terms = list(terms)
        self.view = view or DView()
        self.clip, self.fm_weight, self.unroll, self.d_optimizer = clip, feature_matching, unroll, d_optimizer
        self.gp_one_sided, self.lazy, self.bcr_augment = gp_one_sided, lazy, bcr_augment
        self._real: tuple[Tensor, Tensor | None] | None = None  # the last D update's real batch, for G's terms
        self.reuse_fake = reuse_fake
        self._fake: tuple[Tensor, Tensor | None] | None = None  # the last D update's fake batch, still attached to G
        self.pl_weight, self.pl_lazy, self.pl_mean = path_length, pl_lazy, 0.0
        self.topk, self.topk_steps, self.topk_stop = topk, max(topk_steps, 1), topk_stop

    def latents(self, n: int, device: torch.device) -> tuple[Tensor, Tensor | None]:
        """z: n×z_dim standard normal; c: n labels or None, from torch's global RNG (seeded, resumable).

        In a job of ``world`` processes every rank draws the global n·world batch and keeps its own n rows,
        so the job computes exactly what one process does with the global batch.
        """
        total = n * self.world
        z = torch.randn(total, self.z_dim, device=device)[self.rank * n:(self.rank + 1) * n]
        c = torch.randint(self.num_classes, (total,), device=device)[self.rank * n:(self.rank + 1) * n] if self.num_classes else None
        return z, c

    # ------------------------------------------------------------------ D

    def d_loss(self, G: nn.Module, D: nn.Module, real: Tensor, c_real: Tensor | None, *, d_update: int = 0,
               step: int = 0) -> tuple[Tensor, Stats]:
        """D's loss on a real batch and a fresh fake batch of the same size (G is not differentiated).

        ``d_update``: D updates before this one (decides which lazy terms are due); ``step``: G updates so far.
        """
        z, c = self.latents(real.shape[0], real.device)
        if self.reuse_fake:  # keep G's graph: G's update reuses this batch instead of a second forward pass
            fake = G(z, c)
            self._fake = (fake, c)
            fake = fake.detach()
        else:
            with torch.no_grad():
                fake = G(z, c)
        c_real = c_real if self.num_classes else None
        self._real = (real, c_real)
        x_real, x_fake = self.view(real, step), self.view(fake, step)
        real_logits, fake_logits = D(x_real, c_real), D(x_fake, c)
        loss = self.loss.d_loss(real_logits, fake_logits)
        stats = self.d_stats(loss, real_logits, fake_logits)
        observe = getattr(self.view.augment, "observe", None)
        if observe is not None:  # adaptive augmentation steers p from the sign of D on reals
            observe(real_logits.detach())
            # r_t is NaN until the first adjustment: leave it out rather than trip the divergence guard
            stats.update({k: torch.tensor(v) for k, v in self.view.augment.stats().items() if math.isfinite(v)})
        if self.view.noise:
            stats["noise_std"] = torch.tensor(self.view.sigma(step))
        batch = DBatch(x_real, x_fake, c_real, c, real_logits, fake_logits)
        reg = torch.zeros((), device=real.device)
        for term in self.terms:
            if d_update % term.every:
                continue
            value = term.fn(D, batch).mean()
            stats[term.name] = value.detach()
            reg = reg + (term.weight * term.scale * term.every) * value
        if self.terms:
            stats["d_reg"] = reg.detach()
        return loss + reg, stats

    def after_d_step(self, D: nn.Module) -> None:
        """Constraints after each D optimizer step: WGAN weight clipping."""
        if self.clip:
            R.clip_weights(D, self.clip)

    @staticmethod
    def d_stats(loss: Tensor, real_logits: Tensor, fake_logits: Tensor) -> Stats:
        """Mean raw D outputs and D's accuracy (real scored > 0, fake < 0) for the log and health checks."""
        r, f = real_logits.detach(), fake_logits.detach()
        return {"d_loss": loss.detach(), "d_real": r.mean(), "d_fake": f.mean(),
                "d_acc_real": (r > 0).float().mean(), "d_acc_fake": (f < 0).float().mean()}

    def judge(self, D: nn.Module, x: Tensor, c: Tensor | None = None) -> Tensor:
        """D's raw score of single samples x: N×... -> N, without augmentation or noise; under PacGAN the score
        of a pack of m copies of each sample (for pictures of D, e.g. the toy report's D(x) field)."""
        m = self.view.m
        return D(pack(x.repeat_interleave(m, dim=0), m) if m > 1 else x, c)

    # ------------------------------------------------------------------ G

    def g_loss(self, G: nn.Module, D: nn.Module, batch_size: int, device: torch.device, *, step: int = 0) -> tuple[Tensor, Stats]:
        """G's loss on a fresh fake batch; D's weights get no gradients.

        Relativistic losses, feature matching and unrolling also use the real batch of the last D update.
        """
        if self._fake is not None and self._fake[0].shape[0] == batch_size:
            fake, c = self._fake  # the last D update's batch (same G weights): the same gradients, one forward fewer
        else:
            z, c = self.latents(batch_size, device)
            fake = G(z, c)
        self._fake = None
        needs_real = self.loss.relativistic or self.fm_weight or self.unroll
        if needs_real and self._real is None:
            raise RuntimeError("this objective's G loss uses the last real batch: run d_loss first")
        with frozen(D):
            x_fake = self.view(fake, step)
            x_real, c_real = (self.view(self._real[0], step), self._real[1]) if needs_real else (None, None)
            critic = D
            if self.unroll:
                critic = unrolled_critic(D, self.loss, x_real, c_real, x_fake, c, self.unroll, self.d_optimizer)
            real_logits = None
            if self.loss.relativistic:
                with torch.no_grad():
                    real_logits = critic(x_real, c_real)
            fake_logits = critic(x_fake, c)
            stats: Stats = {}
            if self.topk:
                n = fake_logits.shape[0]
                k = self.topk_count(n, step)
                fake_logits = fake_logits.topk(k, dim=0).values
                stats["topk"] = torch.tensor(k / n)
            loss = self.loss.generator(fake_logits, real_logits)
            stats["g_loss"] = loss.detach()
            if self.fm_weight:
                with torch.no_grad():
                    real_features = D.embed(x_real, c_real)
                fm = feature_matching(real_features, D.embed(x_fake, c))
                stats["fm"] = fm.detach()
                loss = loss + self.fm_weight * fm
        if self.pl_weight and step % self.pl_lazy == 0:
            loss = loss + self.pl_weight * self.pl_lazy * self.path_length_term(G, max(batch_size // 2, 1), device, stats)
        return loss, stats

    def topk_count(self, n: int, step: int) -> int:
        """Top-k training (Sinha et al. 2020): how many of G's n scored samples (packs under PacGAN) its loss keeps at
        G step ``step``. The kept fraction falls linearly from 1 to ``topk`` over the first ``topk_steps`` steps and
        stays there; with ``topk_stop`` it rises linearly back to 1 over the ``topk_steps`` before that step.
        The paper decays k geometrically per epoch to a floor and never stops; the toys have no epochs, hence steps."""
        ramp = self.topk_steps
        frac = 1.0 - (1.0 - self.topk) * min(step / ramp, 1.0)
        if self.topk_stop:
            frac += (1.0 - frac) * min(max((step - (self.topk_stop - ramp)) / ramp, 0.0), 1.0)
        return max(1, min(n, round(frac * n)))

    def path_length_term(self, G: nn.Module, n: int, device: torch.device, stats: Stats) -> Tensor:
        """StyleGAN2 path-length regularization (Karras et al. 2020, §3.2) on n fresh latents:
        mean (‖J_wᵀy‖ − a)², with a the running mean of the path lengths (decay 0.01)."""
        z, c = self.latents(n, device)
        lengths = R.path_lengths(G, z, c)
        self.pl_mean += 0.01 * (lengths.mean().item() - self.pl_mean)
        stats["pl_length"] = lengths.mean().detach()
        penalty = (lengths - self.pl_mean).pow(2).mean()
        stats["pl"] = penalty.detach()
        return penalty

    # ------------------------------------------------------------------ the guard's lever, and resume

    def strengthen(self) -> dict[str, list[float]]:
        """After a divergence rollback: switch on or raise a gradient penalty; returns {term: [old, new weight]}.

        Critic losses (wgan, hinge, rahinge): the GP is switched on at λ = 10 (Gulrajani et al. 2017) or doubled.
        Other losses: an active gradient penalty (gp, dragan, r1, r2) is doubled; with none active nothing changes.
        """
        weights = self.weights()
        if self.loss.critic:
            name = "gp"
        else:
            active = [n for n in GRADIENT_TERMS if weights.get(n)]
            if not active:
                return {}
            name = active[0]
        old = weights.get(name, 0.0)
        new = 2.0 * old if old else STRENGTHEN_GP
        self.set_weight(name, new)
        return {name: [old, new]}

    def weights(self) -> dict[str, float]:
        return {t.name: t.weight for t in self.terms}

    def set_weight(self, name: str, weight: float) -> None:
        """Change a term's weight (in config units), adding the term when it is not there yet."""
        for t in self.terms:
            if t.name == name:
                t.weight = weight
                return
        self.terms.append(penalty_term(name, weight, self.lazy, self.gp_one_sided, self.bcr_augment))

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready: the penalty weights (the guard may have changed them), the path-length mean, ADA's p."""
        out: dict[str, Any] = {"weights": self.weights(), "pl_mean": self.pl_mean}
        if hasattr(self.view.augment, "state_dict"):
            out["augment"] = self.view.augment.state_dict()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, w in state.get("weights", {}).items():
            self.set_weight(name, float(w))
        self.pl_mean = float(state.get("pl_mean", 0.0))
        if "augment" in state and hasattr(self.view.augment, "load_state_dict"):
            self.view.augment.load_state_dict(state["augment"])


# --------------------------------------------------------------------------- building from the config

def penalty_term(name: str, weight: float, lazy: int = 1, one_sided: bool = False,
                 bcr_augment: Callable[[Tensor], Tensor] | None = None) -> Term:
    """The D-loss term ``name`` (a reg.* config key) with its weight in config units."""
    every = lazy if name in GRADIENT_TERMS else 1
    fns: dict[str, Callable[[nn.Module, DBatch], Tensor]] = {
        "gp": lambda D, b: R.gradient_penalty(D, b.real, b.fake, b.c_real, one_sided=one_sided),
        "dragan": lambda D, b: R.dragan_penalty(D, b.real, b.c_real),
        "r1": lambda D, b: R.r1_penalty(D, b.real, b.c_real),
        "r2": lambda D, b: R.r2_penalty(D, b.fake, b.c_fake),
        "bcr_real": lambda D, b: R.consistency_penalty(D, b.real, bcr_augment, b.c_real, b.real_logits),
        "bcr_fake": lambda D, b: R.consistency_penalty(D, b.fake, bcr_augment, b.c_fake, b.fake_logits),
        "drift": lambda D, b: R.drift_penalty(b.real_logits),
    }
    if name not in fns:
        raise ValueError(f"unknown penalty term {name!r}; known: {', '.join(fns)}")
    if name.startswith("bcr") and bcr_augment is None:
        raise ValueError(f"{name}: consistency regularization needs an augmentation T")
    return Term(name, weight, fns[name], every, 0.5 if name in ("r1", "r2") else 1.0)


def build_objective(cfg: Any, loss: AdversarialLoss, num_classes: int, shard: tuple[int, int] = (0, 1),
                    D: nn.Module | None = None, d_optimizer: torch.optim.Optimizer | None = None) -> GANObjective:
    """The objective a Config describes: cfg.loss (given built), cfg.reg, cfg.augment and cfg.trick."""
    reg, trick = cfg.reg, cfg.trick
    bcr_augment = DiffAugment(cfg.augment.bcr_policy) if cfg.augment.bcr_policy else None
    names = ("gp", "dragan", "r1", "r2", "bcr_real", "bcr_fake", "drift")
    terms = [penalty_term(n, getattr(reg, n), reg.lazy, reg.gp_one_sided, bcr_augment) for n in names if getattr(reg, n)]
    if trick.feature_matching and D is not None and not callable(getattr(D, "embed", None)):
        raise ConfigError(f"trick.feature_matching: the {cfg.model.name} discriminator has no embed(x, c) features; "
                          "use model.name=mlp, dcgan, resnet or progan, or set trick.feature_matching=0")
    per_rank = cfg.train.batch_size // shard[1]
    if per_rank % trick.pack:
        raise ConfigError(f"trick.pack: each of {shard[1]} processes gets {per_rank} samples, not a multiple of {trick.pack}; "
                          f"use train.batch_size divisible by {trick.pack * shard[1]}")
    view = DView(build_augment(cfg.augment, cfg.train.batch_size), trick.instance_noise, trick.instance_noise_steps or cfg.train.steps, trick.pack)
    return GANObjective(loss, cfg.model.z_dim, num_classes, shard, terms=terms, view=view, clip=reg.clip,
                        feature_matching=trick.feature_matching, unroll=trick.unroll, d_optimizer=d_optimizer,
                        gp_one_sided=reg.gp_one_sided, lazy=reg.lazy, bcr_augment=bcr_augment,
                        reuse_fake=cfg.train.reuse_fake, path_length=reg.pl, pl_lazy=reg.pl_lazy, topk=trick.topk,
                        topk_steps=round(trick.topk_ramp * cfg.train.steps), topk_stop=round(trick.topk_stop * cfg.train.steps))
