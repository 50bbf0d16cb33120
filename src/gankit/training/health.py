"""Training that needs no babysitting: the divergence guard, the health monitor and early stopping.

* :class:`DivergenceGuard` checks every step for NaN/inf in the losses or gradient norms and for an
  exploding output (the statistics the task guards, a GAN's ``|mean D| > health.max_abs_logit``). On a hit it rolls
  back to the last good in-memory snapshot (networks, optimizers, counters, data order, RNG, the objective's state
  such as ADA's p and the path-length mean), halves every learning
  rate, lets the task change what caused it (``task.strengthen()``: a GAN switches on or raises a gradient penalty;
  ``health.strengthen``)
  and tries again, at most ``health.max_retries`` times; then the run stops with a one-line :class:`DivergenceError`
  (exit code 3). Snapshots are taken every ``health.snapshot_every`` steps and only from a finite state.
* :class:`HealthHook` reads what the loop already computes and logs ``health`` events:
  ``d_overpowering`` (D right on nearly all real and fake samples while G's gradient norm collapsed),
  ``mode_collapse`` (the spread of a fixed batch of G_ema samples, or their class histogram, against the
  data's), and ``oscillation`` (information only: losses do not track quality).
* Early stopping lives with evaluation (training/evaluation.py, ``eval.patience``).
"""
from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import torch

from ..errors import DivergenceError
from ..io.checkpoint import latest_checkpoint, match_param_layout, rng_state, set_rng_state
from .hooks import Hook

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer


class DivergenceGuard:
    """Rolls a diverged run back to the last good snapshot with lower learning rates (see module doc)."""

    def __init__(self, trainer: "Trainer") -> None:
        hc = trainer.cfg.health
        self.enabled, self.every, self.max_retries = hc.guard, hc.snapshot_every, hc.max_retries
        self.max_abs_logit, self.lr_factor = hc.max_abs_logit, hc.lr_factor
        self.strengthen = hc.strengthen
        self.retries = 0
        # A step's statistics are measured before its own updates, so a state is known to be good only once the
        # *next* step passes: snapshots wait as `pending` for one step before they become the rollback target.
        self.snapshot: dict[str, Any] | None = None
        self.pending: dict[str, Any] | None = None

    def take_snapshot(self, t: "Trainer") -> dict[str, Any]:
        tensors, plain = rng_state()
        return {
            "nets": {k: copy.deepcopy(m.state_dict()) for k, m in t.networks().items()},
            "opts": {k: copy.deepcopy(o.state_dict()) for k, o in t.optimizers.items()},
            "counters": (t.step, t.counters(), t.images_seen), "batches": copy.deepcopy(t.batches.state_dict()),
            "rng": ({k: v.clone() for k, v in tensors.items()}, plain),
            "task": copy.deepcopy(t.task.state_dict()),  # the objective's own state: ADA's p and accumulators, the PL mean
        }

    def reason(self, t: "Trainer", stats: dict[str, torch.Tensor]) -> str | None:
        """Why this step diverged (None when it is fine). One device sync per step."""
        names = list(stats)
        values = torch.stack([stats[k].detach().float().reshape(()) for k in names]).cpu()
        bad = [n for n, v in zip(names, values.tolist()) if not math.isfinite(v)]
        if bad:
            return f"non-finite {', '.join(bad)}"
        for key in t.task.guarded:
            if key in stats and abs(values[names.index(key)].item()) > self.max_abs_logit:
                return f"exploding output ({key} = {values[names.index(key)].item():.3g})"
        return None

    def check(self, t: "Trainer", stats: dict[str, torch.Tensor]) -> bool:
        """After a step: True when it diverged and the run was rolled back (skip the step's hooks)."""
        if not self.enabled:
            return False
        why = self.reason(t, stats)
        if why is None:
            if self.pending is not None:
                self.snapshot, self.pending = self.pending, None
            if t.step % self.every == 0:
                self.pending = self.take_snapshot(t)
            return False
        self.pending = None
        self.retries += 1
        step = t.step
        if self.snapshot is None or self.retries > self.max_retries:
            t.log.write("diverged", step=step, reason=why, retries=self.retries - 1)
            last = latest_checkpoint(t.run_dir)
            where = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
            raise DivergenceError(f"training diverged at step {step} ({why}) and {self.max_retries} rollbacks did not help; "
                                  f"{where}; try lower learning rates (train.lr_g / train.lr_d, train.lr)")
        s = self.snapshot
        lrs = {k: [g.get("lr_peak", g["lr"]) * self.lr_factor for g in opt.param_groups] for k, opt in t.optimizers.items()}
        for k, m in t.networks().items():
            m.load_state_dict(s["nets"][k])
        for k, opt in t.optimizers.items():
            opt.load_state_dict(copy.deepcopy(s["opts"][k]))
            match_param_layout(opt)
        step_to, counters, images = s["counters"]
        t.set_counters(step_to, counters, images)
        t.batches.load_state_dict(copy.deepcopy(s["batches"]))
        set_rng_state(*s["rng"])
        # the objective's state as it was, except the term weights: the guard's lever keeps what earlier rollbacks raised
        task_state = copy.deepcopy(s["task"])
        if "weights" in task_state:
            task_state["weights"] = t.task.weights()
        t.task.load_state_dict(task_state)
        for k, opt in t.optimizers.items():  # the snapshot's optimizer state holds the old rates
            for g, lr in zip(opt.param_groups, lrs[k]):
                g["lr"] = lr
                if "lr_peak" in g:  # the schedule scales the lowered peak rate from the next step on
                    g["lr_peak"] = lr
        changed = t.task.strengthen() if self.strengthen else {}  # e.g. {"gp": [0.0, 10.0]}
        t.log_hook.reset()
        t.log.write("rollback", step=step, to_step=t.step, reason=why, retry=self.retries,
                    **{f"lr_{k.lower()}": opt.param_groups[0]["lr"] for k, opt in t.optimizers.items()}, strengthened=changed)
        return True

    def start(self, t: "Trainer") -> None:
        """Before the first step: the initial (or resumed, finite) state is the first rollback target."""
        if self.enabled:
            self.snapshot = self.take_snapshot(t)

    def state_dict(self) -> dict[str, Any]:
        return {"retries": self.retries}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.retries = state.get("retries", 0)


def _table_scale(codes: torch.Tensor) -> list[list[float]]:
    """[means, stds] of each column of N×C table codes, missing values left out (std 1 where a column is constant)."""
    x = codes.double()
    present = ~torch.isnan(x)
    n = present.sum(0).clamp(min=1)
    mean = torch.where(present, x, 0.0).sum(0) / n
    var = torch.where(present, (x - mean) ** 2, 0.0).sum(0) / n
    std = torch.where(var > 0, var.sqrt(), torch.ones_like(var))
    return [mean.tolist(), std.tolist()]


def _standardized(x: torch.Tensor, scale: list[list[float]] | None) -> torch.Tensor:
    """Table codes in units of the real columns' spread, a missing value at the mean; other samples as they are."""
    if scale is None:
        return x
    mean, std = (torch.tensor(v, dtype=torch.float64) for v in scale)
    return torch.nan_to_num((x.double() - mean) / std, nan=0.0)


def _mean_pairwise(x: torch.Tensor) -> float:
    x = x.flatten(1).double()
    d = torch.cdist(x, x)
    n = len(x)
    return float(d.sum() / max(n * (n - 1), 1))


class HealthHook(Hook):
    """Diagnoses from the log and from a fixed batch of samples; logs ``health`` events (see module doc)."""

    at_end = False

    def __init__(self, trainer: "Trainer") -> None:
        hc = trainer.cfg.health
        super().__init__(trainer.cfg.train.log_every)
        self.diversity_every = hc.diversity_every or trainer.cfg.train.sample_every
        self.collapse_ratio = hc.collapse_ratio
        self.history: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self._active: set[str] = set()
        gen = torch.Generator().manual_seed(trainer.cfg.train.seed + 777)
        self.latents = trainer.task.latents(256, gen)
        self._real_spread: float | None = None
        self._table_scale: list[list[float]] | None = None  # tables: the real columns' means and stds (codes have units)

    def _event(self, t: "Trainer", kind: str, level: str, message: str, **evidence: Any) -> None:
        # Report a condition when it starts, not on every interval while it lasts.
        if kind in self._active:
            return
        self._active.add(kind)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        t.log.write("health", step=t.step, kind=kind, level=level, message=message, **evidence)

    def _clear(self, kind: str) -> None:
        self._active.discard(kind)

    def fire(self, t: "Trainer") -> None:
        rec = t.last_log
        if rec:
            self.history.append({k: rec.get(k) for k in ("step", "d_loss", "g_loss", "d_acc_real", "d_acc_fake", "g_grad_norm")})
            self.history = self.history[-50:]
            self._check_overpowering(t)
            self._check_oscillation(t)
        if t.step % self.diversity_every == 0:
            self._check_diversity(t)

    def _check_overpowering(self, t: "Trainer") -> None:
        h = self.history
        early = [r["g_grad_norm"] for r in h[:5] if r.get("g_grad_norm") is not None]
        last = h[-1]
        if not early or last.get("d_acc_real") is None:
            return
        collapsed = last["g_grad_norm"] < 0.1 * (sorted(early)[len(early) // 2] or 1.0)
        if last["d_acc_real"] > 0.99 and last["d_acc_fake"] > 0.99 and collapsed:
            self._event(t, "d_overpowering", "warning",
                        "D separates real and fake almost perfectly and G's gradient has collapsed (vanishing gradient)",
                        d_acc_real=last["d_acc_real"], d_acc_fake=last["d_acc_fake"], g_grad_norm=last["g_grad_norm"])
        else:
            self._clear("d_overpowering")

    def _check_oscillation(self, t: "Trainer") -> None:
        vals = [r["d_loss"] for r in self.history[-12:] if r.get("d_loss") is not None]
        if len(vals) < 12:
            return
        diffs = [b - a for a, b in zip(vals, vals[1:])]
        flips = sum(1 for a, b in zip(diffs, diffs[1:]) if a * b < 0) / (len(diffs) - 1)
        mean = sum(vals) / len(vals)
        spread = (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5
        if flips > 0.7 and spread > 0.25 * abs(mean) + 1e-8:
            self._event(t, "oscillation", "info", "D's loss oscillates (information only: losses do not track quality)",
                        flip_rate=round(flips, 3), relative_spread=round(spread / (abs(mean) + 1e-12), 3))
        else:
            self._clear("oscillation")

    def _check_diversity(self, t: "Trainer") -> None:
        fake = t.sample(self.latents)
        if self._real_spread is None:
            real = t.batches.sample_reference(256)
            if t.schema.name == "table":  # codes in each column's own unit: standardize by the real rows first
                self._table_scale = _table_scale(real)
            self._real_spread = _mean_pairwise(_standardized(real, self._table_scale))
        ratio = _mean_pairwise(_standardized(fake, self._table_scale)) / max(self._real_spread, 1e-12)
        if ratio < self.collapse_ratio:
            self._event(t, "mode_collapse", "warning",
                        f"the model's samples are {ratio:.2f}× as spread out as the data's (below {self.collapse_ratio}): mode collapse",
                        diversity_ratio=round(ratio, 4))
        else:
            self._clear("mode_collapse")

    def summary(self) -> dict[str, int]:
        return dict(self.counts)

    def state_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "active": sorted(self._active), "history": self.history, "real_spread": self._real_spread,
                "table_scale": self._table_scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts = dict(state.get("counts", {}))
        self._active = set(state.get("active", []))
        self.history = list(state.get("history", []))
        self._real_spread = state.get("real_spread")
        self._table_scale = state.get("table_scale")
