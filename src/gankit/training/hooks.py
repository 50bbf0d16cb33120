"""Periodic work after a step: logging, sample pictures, checkpoints. Each hook is a small object with an
interval; the loop calls every hook after every step and each decides whether it is due.

New periodic behaviour (evaluation, health checks, TensorBoard) is a new hook, never a branch in the loop.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..visual import save_grid, save_scatter
from .checkpoint import save_checkpoint

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer


class Hook:
    """Runs ``fire(trainer)`` every ``every`` steps (and at the end when ``at_end``)."""

    at_end = True

    def __init__(self, every: int) -> None:
        self.every = every

    def due(self, t: "Trainer") -> bool:
        return self.every > 0 and t.step % self.every == 0

    def __call__(self, t: "Trainer", final: bool = False) -> None:
        if self.due(t) or (final and self.at_end):
            self.fire(t)

    def fire(self, t: "Trainer") -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class MetricsLog:
    """Appends one JSON object per event to RUN/metrics.jsonl (flushed at once: a crash loses nothing).

    With ``path=None`` (ranks other than 0 in a distributed job) nothing is written.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, "time": round(time.time(), 3), **fields}
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(record, allow_nan=True) + "\n")
        return record


class LogHook(Hook):
    """Means of the step statistics over the interval, gradient norms, learning rates and images/s."""

    at_end = False

    def __init__(self, every: int) -> None:
        super().__init__(every)
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}  # per key: lazy penalties appear only on the updates that compute them
        self._t0 = time.perf_counter()
        self._images0 = 0

    def reset(self) -> None:
        """Forget the interval's sums (after a rollback they hold the diverged step)."""
        self._sums, self._counts = {}, {}

    def accumulate(self, stats: dict[str, torch.Tensor]) -> None:
        for k, v in stats.items():
            self._sums[k] = self._sums[k] + v if k in self._sums else v.clone()
            self._counts[k] = self._counts.get(k, 0) + 1

    def fire(self, t: "Trainer") -> None:
        now = time.perf_counter()
        means = {k: round(float(v) / self._counts[k], 6) for k, v in self._sums.items()}
        img_s = (t.images_seen - self._images0) / max(now - self._t0, 1e-9)
        rec = t.log.write("log", step=t.step, d_updates=t.d_updates, images_seen=t.images_seen,
                          lr_g=t.opt_g.param_groups[0]["lr"], lr_d=t.opt_d.param_groups[0]["lr"],
                          img_s=round(img_s, 2), wall_s=round(t.wall_time(), 2), **means)
        t.last_log = rec
        self._sums, self._counts, self._t0, self._images0 = {}, {}, now, t.images_seen


class SampleHook(Hook):
    """Pictures from fixed noise with G_ema: a PNG grid (images) or a scatter plot over the true modes (toys)."""

    def __init__(self, every: int, trainer: "Trainer") -> None:
        super().__init__(every)
        info = trainer.info
        gen = torch.Generator().manual_seed(trainer.cfg.train.seed + 12345)
        if info.kind == "toy":
            n, self.nrow = 1000, None
        elif info.num_classes and trainer.objective.num_classes:
            self.nrow = info.num_classes
            n = info.num_classes * max(1, 64 // info.num_classes)
        else:
            n, self.nrow = 64, 8
        self.z = torch.randn(n, trainer.objective.z_dim, generator=gen)
        self.c = (torch.arange(n) % trainer.objective.num_classes) if trainer.objective.num_classes else None
        self.folder = trainer.run_dir / "samples"
        self.folder.mkdir(parents=True, exist_ok=True)

    def fire(self, t: "Trainer") -> None:
        x = t.generate(self.z, self.c)
        path = self.folder / f"step{t.step:07d}.png"
        if t.info.kind == "toy":
            save_scatter(x, path, t.info.centers, title=f"{t.cfg.name or t.info.name} — step {t.step}", std=t.info.std)
        else:
            save_grid(x, path, nrow=self.nrow)
        t.log.write("samples", step=t.step, path=str(path.relative_to(t.run_dir)))


class CheckpointHook(Hook):
    """Saves G, D, G_ema, optimizers, RNG, counters and data order (atomically)."""

    def fire(self, t: "Trainer") -> None:
        from .health import all_finite

        if not all_finite(t.networks()):  # a checkpoint never holds NaN or inf
            t.log.write("checkpoint_skipped", step=t.step, reason="non-finite weights")
            return
        path = save_checkpoint(t.run_dir, t.step, t.networks(), {"G": t.opt_g, "D": t.opt_d}, t.state_dict(),
                               keep=t.cfg.train.keep_checkpoints)
        t.log.write("checkpoint", step=t.step, path=str(path.relative_to(t.run_dir)))
