"""Periodic work after a step: logging, sample pictures, checkpoints. Each hook is a small object with an
interval; the loop calls every hook after every step and each decides whether it is due.

New periodic behaviour (evaluation, health checks, TensorBoard) is a new hook, never a branch in the loop.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch

from ..data.tables.schema import save_codes
from ..io.checkpoint import all_finite, save_checkpoint
from ..metrics.molecule_scores import codes_to_smiles
from ..visual import save_grid, save_molecules, save_scatter

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
        rec = t.log.write("log", step=t.step, **t.counters(), images_seen=t.images_seen,
                          **{f"lr_{name.lower()}": opt.param_groups[0]["lr"] for name, opt in t.optimizers.items()},
                          img_s=round(img_s, 2), wall_s=round(t.wall_time(), 2), **means)
        t.last_log = rec
        self._sums, self._counts, self._t0, self._images0 = {}, {}, now, t.images_seen


class SampleHook(Hook):
    """Samples from fixed latents with the averaged network, shown as the data's schema says: a scatter plot over the
    true modes (points), a PNG grid (images; one row per class for conditional models; restoration: input, output and
    target of eight fixed test pairs), a CSV of 500 rows (tables) or
    RDKit drawings with a .smi of 64 molecules (graphs)."""

    def __init__(self, every: int, trainer: "Trainer") -> None:
        super().__init__(every)
        gen = torch.Generator().manual_seed(trainer.cfg.train.seed + 12345)
        k = trainer.task.classes
        if trainer.schema.render == "scatter":
            n, self.nrow = 1000, None
        elif trainer.schema.render == "table":
            n, self.nrow = 500, None
        elif trainer.schema.render == "pairs":  # eight fixed test pairs: input, output, target
            n, self.nrow = 8, 3
        elif k:
            n, self.nrow = k * max(1, 64 // k), k
        else:
            n, self.nrow = 64, 8
        self.latents = trainer.task.latents(n, gen)
        self.folder = trainer.run_dir / "samples"
        self.folder.mkdir(parents=True, exist_ok=True)

    def fire(self, t: "Trainer") -> None:
        x = t.sample(self.latents)
        path = self.folder / f"step{t.step:07d}.png"
        if t.schema.render == "table":
            path = save_codes(x, t.info.table, path.with_suffix(".csv"))
        elif t.schema.render == "molecules":  # a picture of the valid ones and every SMILES beside it
            smiles = codes_to_smiles(x, t.info.graph)
            save_molecules(smiles, path.with_suffix(".smi"))
            save_molecules(smiles, path)
        elif t.schema.render == "scatter":
            save_scatter(x, path, t.info.centers, title=f"{t.cfg.name or t.info.name} — step {t.step}", std=t.info.std)
        else:
            images, nrow = t.task.picture(self.latents, x)
            save_grid(images, path, nrow=nrow or self.nrow)
        t.log.write("samples", step=t.step, path=str(path.relative_to(t.run_dir)))


class CheckpointHook(Hook):
    """Saves every network, optimizer, RNG, counters and data order (atomically)."""

    def fire(self, t: "Trainer") -> None:
        if not all_finite(t.networks()):  # a checkpoint never holds NaN or inf
            t.log.write("checkpoint_skipped", step=t.step, reason="non-finite weights")
            return
        path = save_checkpoint(t.run_dir, t.step, t.networks(), t.optimizers, t.state_dict(),
                               keep=t.cfg.train.keep_checkpoints)
        t.log.write("checkpoint", step=t.step, path=str(path.relative_to(t.run_dir)))
