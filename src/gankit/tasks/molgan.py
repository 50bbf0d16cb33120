"""The ``molgan`` task: MolGAN (De Cao & Kipf 2018, "MolGAN: An implicit generative model for small molecular graphs").

Data: molecular graphs (gankit.data.molecules): batches of one-hot ``edges`` (N×M×M×B) and ``nodes`` (N×M×T).

G maps z ~ N(0, I) to edge and node logits; what D and V see of a fake graph is set by ``molgan.output``:
``softmax`` (the authors' default: the class probabilities), ``gumbel`` (a Gumbel-softmax sample, temperature
``molgan.tau``) or ``hard-gumbel`` (its one-hot argmax with the Gumbel-softmax's gradient: straight-through). A sample
(pictures, evaluation, rewards) is a categorical draw per atom and per atom pair — the argmax of Gumbel-perturbed
logits — decoded to a molecule by RDKit.

Per step (``train.n_critic`` D updates, then V, then one G update):

* **D** (WGAN-GP): ``E D(fake) − E D(real) + λ_gp · GP``; the penalty is the authors' form: on x̂ = ε·real + (1 − ε)·
  softmax(fake) (one ε ~ U(0, 1) per graph), the mean over atom pairs of (1 − ‖∂D/∂x̂_ij‖)² plus the mean over atoms
  of (1 − ‖∂D/∂x̂_i‖)², norms over the type axis. With ``molgan.replay=K`` a buffer of the last K generated graphs
  (hard samples) replaces ``molgan.replay_fraction`` of D's fake batch (experience replay; Shrivastava et al. 2017).
* **V** (when λ < 1): the reward network regresses the oracle's reward of real molecules and of G's samples, squared
  error (the authors' loss).
* **G**: ``λ · (−E D(fake)) + (1 − λ) · α · (−E V(fake))`` with α = |L_WGAN / L_RL| held constant (the authors'
  code: the two terms at the same scale); λ = ``molgan.la``, 1 for the first ``molgan.rl_start`` steps.

The reward of a molecule is the product of the named oracles (``molgan.reward``, e.g. ``qed`` or ``qed,sa``; see
:data:`REWARDS`: RDKit's QED, MolGAN's normalized logP and SA, validity, and any ``SMILES -> float`` registered with
:func:`register_reward`); an invalid graph earns 0. The elite-sample loop (``molgan.elite_every``) adds the top
``molgan.elite_fraction`` of ``molgan.elite_pool`` generated molecules by reward (valid, distinct) to the real data
between rounds.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.molecules import MolVocab, codes_to_smiles, decode_batch, split_codes, to_codes
from ..errors import ConfigError
from ..metrics.molecules import REWARDS as ORACLES
from ..metrics.molecules import mol_reward
from ..models import build_networks
from ..types import Batch
from .base import Clock, Phase, Pipeline, Task

Tensor = torch.Tensor
Stats = dict[str, Tensor]

#: reward oracles by name: SMILES (None: invalid) -> a float in [0, 1]
REWARDS: dict[str, Callable[[str | None], float]] = {k: (lambda s, k=k: mol_reward(s, k)) for k in ORACLES}


def register_reward(name: str, fn: Callable[[str], float]) -> None:
    """Make ``fn`` (canonical SMILES -> float, ideally in [0, 1]) usable as ``molgan.reward=name``; invalid molecules
    earn 0 without calling it. Rewards are not saved with a run: register it again before resuming."""
    if not callable(fn):
        raise ConfigError(f"register_reward: {fn!r} is not callable; give a function SMILES -> float")
    REWARDS[name] = lambda s: 0.0 if s is None else float(fn(s))


def reward_of(smiles: list[str | None], names: list[str]) -> np.ndarray:
    """The product of the named rewards per molecule (N,), float32."""
    out = np.ones(len(smiles), dtype=np.float32)
    for name in names:
        out *= np.array([REWARDS[name](s) for s in smiles], dtype=np.float32)
    return out


def categorical(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One draw per row of the last axis: the argmax of logits + Gumbel noise (type indices, int64)."""
    u = torch.rand(logits.shape, generator=generator, device="cpu" if generator is not None else logits.device).to(logits.device)
    return (logits - torch.log(-torch.log(u.clamp_min(1e-20)))).argmax(-1)


def symmetric_draw(edge_logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Edge types (N×M×M, int64) drawn once per atom pair (upper triangle, mirrored), no self-bonds."""
    e = categorical(edge_logits, generator)
    upper = torch.triu(e, diagonal=1)
    return upper + upper.transpose(1, 2)


def relax(logits: Tensor, how: str, tau: float) -> Tensor:
    """What D sees of G's logits (last axis: types): softmax, a Gumbel-softmax sample, or its straight-through argmax."""
    if how == "softmax":
        return logits.softmax(-1)
    return F.gumbel_softmax(logits, tau=tau, hard=how == "hard-gumbel", dim=-1)


def molgan_penalty(D: nn.Module, real: tuple[Tensor, Tensor], fake: tuple[Tensor, Tensor]) -> Tensor:
    """The authors' WGAN-GP term per graph (N): mean_ij (1 − ‖∇_{e_ij}‖)² + mean_i (1 − ‖∇_{n_i}‖)² at x̂ = ε·real + (1 − ε)·fake."""
    (e_r, n_r), (e_f, n_f) = real, fake
    eps = torch.rand(e_r.shape[0], device=e_r.device)
    e_hat = (eps.view(-1, 1, 1, 1) * e_r + (1 - eps.view(-1, 1, 1, 1)) * e_f.detach()).requires_grad_(True)
    n_hat = (eps.view(-1, 1, 1) * n_r + (1 - eps.view(-1, 1, 1)) * n_f.detach()).requires_grad_(True)
    ge, gn = torch.autograd.grad(D(e_hat, n_hat).sum(), (e_hat, n_hat), create_graph=True)
    return (1 - ge.norm(dim=-1)).pow(2).mean((1, 2)) + (1 - gn.norm(dim=-1)).pow(2).mean(1)


class MolGANTask(Task):
    """MolGAN's G, D and reward network V (see the module doc)."""

    name = "molgan"
    ema = {"G_ema": "G"}
    sampler = "G_ema"
    guarded = ("d_real", "d_fake")
    shown = {"loss_d": "D", "loss_g": "G"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        mc = cfg.molgan
        self.vocab = MolVocab.from_dict(info.graph)
        self.rewards = [r.strip() for r in mc.reward.split(",") if r.strip()]
        unknown = [r for r in self.rewards if r not in REWARDS]
        if unknown:
            raise ConfigError(f"molgan.reward: {unknown[0]!r} is not a reward; known: {', '.join(REWARDS)} "
                              "(or register one with gankit.molecules.register_reward)")
        self.networks, self.kwargs = build_networks(cfg.model, info)
        self.use_rl = mc.la < 1.0
        if not self.use_rl:
            del self.networks["V"]
        self.replay: deque = deque(maxlen=mc.replay) if mc.replay else deque(maxlen=1)

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        tc = self.cfg.train
        groups = {"G": (list(self.networks["G"].parameters()), tc.lr_g), "D": (list(self.networks["D"].parameters()), tc.lr_d)}
        if self.use_rl:
            groups["V"] = (list(self.networks["V"].parameters()), tc.lr_d)
        return groups

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = [Phase("D", "D", ("D",), self.d_phase, repeat=self.cfg.train.n_critic, counter="d_updates", grad_stat="d_grad_norm")]
        if self.use_rl:
            self.phases.append(Phase("V", "V", ("V",), self.v_phase, data="last", counter="v_updates", grad_stat="v_grad_norm"))
        self.phases.append(Phase("G", "G", ("G",), self.g_phase, data="last", grad_stat="g_grad_norm"))

    # ------------------------------------------------------------------ the phases

    def _fake_logits(self, n: int) -> tuple[Tensor, Tensor]:
        return self.networks["G"](torch.randn(n, self.networks["G"].z_dim, device=self.device))

    def _relaxed(self, e: Tensor, n: Tensor) -> tuple[Tensor, Tensor]:
        mc = self.cfg.molgan
        return relax(e, mc.output, mc.tau), relax(n, mc.output, mc.tau)

    def _hard(self, e: Tensor, n: Tensor) -> tuple[Tensor, Tensor]:
        """One-hot categorical samples of G's logits (no gradient)."""
        nodes, edges = categorical(n.detach()), symmetric_draw(e.detach())
        return F.one_hot(edges, self.vocab.num_bond_types).float(), F.one_hot(nodes, self.vocab.num_atom_types).float()

    def _smiles(self, edges_1h: Tensor, nodes_1h: Tensor) -> list[str | None]:
        return decode_batch(nodes_1h.argmax(-1).cpu().numpy(), edges_1h.argmax(-1).cpu().numpy(), self.vocab)

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        D, mc = self.networks["D"], self.cfg.molgan
        real = (batch["edges"], batch["nodes"])
        with torch.no_grad():
            e, n = self._fake_logits(len(real[0]))
            fake = self._relaxed(e, n)
            soft = (e.softmax(-1), n.softmax(-1))
            if mc.replay:
                hard = self._hard(e, n)
                self.replay.extend(zip(hard[0].cpu(), hard[1].cpu()))
                k = int(round(mc.replay_fraction * len(real[0])))
                if k and len(self.replay) >= k:
                    pick = torch.randint(len(self.replay), (k,)).tolist()
                    old_e = torch.stack([self.replay[i][0] for i in pick]).to(self.device)
                    old_n = torch.stack([self.replay[i][1] for i in pick]).to(self.device)
                    fake = (torch.cat([fake[0][k:], old_e]), torch.cat([fake[1][k:], old_n]))
                    soft = (torch.cat([soft[0][k:], old_e]), torch.cat([soft[1][k:], old_n]))
        d_real, d_fake = D(*real), D(*fake)
        loss_adv = d_fake.mean() - d_real.mean()
        gp = molgan_penalty(D, real, soft).mean()
        return loss_adv + mc.gp * gp, {"loss_d": loss_adv.detach(), "gp": gp.detach(), "d_real": d_real.mean().detach(),
                                       "d_fake": d_fake.mean().detach(), "wasserstein": -loss_adv.detach()}

    def v_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        V = self.networks["V"]
        real = (batch["edges"], batch["nodes"])
        with torch.no_grad():
            fake = self._hard(*self._fake_logits(len(real[0])))
        r_real = torch.from_numpy(reward_of(self._smiles(*real), self.rewards)).to(self.device)
        fake_smiles = self._smiles(*fake)
        r_fake = torch.from_numpy(reward_of(fake_smiles, self.rewards)).to(self.device)
        loss = (V(*real) - r_real).pow(2).mean() + (V(*fake) - r_fake).pow(2).mean()
        valid = sum(s is not None for s in fake_smiles) / len(fake_smiles)
        return loss, {"loss_v": loss.detach(), "reward_real": r_real.mean(), "reward_fake": r_fake.mean(),
                      "valid_fake": torch.tensor(valid)}

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        mc = self.cfg.molgan
        fake = self._relaxed(*self._fake_logits(len(batch["edges"])))
        loss_g = -self.networks["D"](*fake).mean()
        stats: Stats = {"loss_g": loss_g.detach()}
        la = mc.la if clock.step >= mc.rl_start else 1.0
        if not self.use_rl or la >= 1.0:
            return loss_g, stats
        loss_rl = -self.networks["V"](*fake).mean()
        alpha = (loss_g / loss_rl).abs().detach()
        stats |= {"loss_rl": loss_rl.detach(), "la": torch.tensor(la)}
        return la * loss_g + (1 - la) * alpha * loss_rl, stats

    # ------------------------------------------------------------------ sampling

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """(z: n×z_dim, a seed for the categorical draws)."""
        z = torch.randn(n, self.networks["G"].z_dim, generator=generator)
        return z, int(torch.randint(2**31 - 1, (1,), generator=generator))

    @torch.inference_mode()
    def decode(self, latents: tuple, batch: int = 512) -> Tensor:
        z, seed = latents
        return draw_graphs(self.networks[self.sampler], z, torch.Generator().manual_seed(seed), self.device, batch)

    def hooks(self, trainer: Any) -> list:
        return [EliteHook(self.cfg.molgan.elite_every, self)] if self.cfg.molgan.elite_every else []

    def compile_targets(self) -> list[str]:
        return ["G"]  # D is differentiated twice by the gradient penalty

    def state_dict(self) -> dict[str, Any]:
        """The replay buffer, as type indices (a resumed run replays the same graphs)."""
        if not self.cfg.molgan.replay:
            return {}
        return {"replay_edges": [e.argmax(-1).tolist() for e, _ in self.replay],
                "replay_nodes": [n.argmax(-1).tolist() for _, n in self.replay]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.replay.clear()
        for e, n in zip(state.get("replay_edges", []), state.get("replay_nodes", [])):
            self.replay.append((F.one_hot(torch.tensor(e), self.vocab.num_bond_types).float(),
                                F.one_hot(torch.tensor(n), self.vocab.num_atom_types).float()))

    def export_meta(self) -> dict[str, Any]:
        return {"graph": self.info.graph}


@torch.inference_mode()
def draw_graphs(G: nn.Module, z: Tensor, generator: torch.Generator, device: torch.device, batch: int = 512) -> Tensor:
    """Graph codes N×(M + M²) (CPU, float32) of categorical draws from G's logits for latents z (N×z_dim)."""
    out = []
    for i in range(0, len(z), batch):
        e, n = G(z[i:i + batch].to(device))
        out.append(to_codes(categorical(n.cpu().float(), generator), symmetric_draw(e.cpu().float(), generator)))
    return torch.cat(out) if out else torch.zeros(0, G.atoms + G.atoms**2)


class EliteHook:
    """The elite-sample loop: every ``every`` steps, the top fraction of a pool of generated molecules by reward (valid
    and distinct) joins the real data (``trainer.batches.add``); an ``elite`` event logs how many and their reward."""

    def __init__(self, every: int, task: MolGANTask) -> None:
        self.every, self.task = every, task

    def due(self, t: Any) -> bool:
        return self.every > 0 and t.step % self.every == 0

    def __call__(self, t: Any, final: bool = False) -> None:
        if final or not self.due(t):  # not at the end: data added after the last step would serve nothing
            return
        mc, task = t.cfg.molgan, self.task
        gen = torch.Generator().manual_seed(t.cfg.train.seed * 1000003 + t.step)
        codes = draw_graphs(task.networks["G"], torch.randn(mc.elite_pool, task.networks["G"].z_dim, generator=gen), gen, task.device)
        nodes, edges = split_codes(codes, task.vocab.max_atoms)
        smiles = decode_batch(nodes, edges, task.vocab)
        reward = reward_of(smiles, task.rewards)
        keep, seen = [], set()
        for i in np.argsort(-reward, kind="stable"):
            if smiles[i] is not None and smiles[i] not in seen and len(keep) < max(1, int(mc.elite_fraction * mc.elite_pool)):
                keep.append(i)
                seen.add(smiles[i])
        if keep:
            t.batches.add(torch.from_numpy(nodes[keep]), torch.from_numpy(edges[keep]))
        t.log.write("elite", step=t.step, added=len(keep), reward=float(reward[keep].mean()) if keep else 0.0)


class MolGANPipeline(Pipeline):
    """A trained MolGAN: ``pipe(n, seed=0)`` -> n canonical SMILES (None where the graph is not a valid molecule);
    ``pipe.codes(n, seed)`` -> graph codes N×(M + M²) (what evaluation scores)."""

    def __init__(self, module: nn.Module, meta: dict) -> None:
        super().__init__(module, meta)
        self.vocab = MolVocab.from_dict(meta["graph"])

    def codes(self, n: int, seed: int = 0, batch: int = 512) -> Tensor:
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.module.z_dim, generator=gen)
        return draw_graphs(self.module, z, gen, next(self.module.parameters()).device, batch)

    def __call__(self, n: int, labels: Any = None, seed: int = 0, batch: int = 512) -> list[str | None]:  # type: ignore[override]
        if labels is not None:
            raise ConfigError("MolGAN is unconditional: drop the labels")
        return codes_to_smiles(self.codes(n, seed, batch), self.vocab)


MolGANTask.pipeline = MolGANPipeline

__all__ = ["MolGANTask", "MolGANPipeline", "REWARDS", "register_reward", "reward_of", "molgan_penalty", "draw_graphs",
           "categorical", "symmetric_draw", "relax", "EliteHook"]
