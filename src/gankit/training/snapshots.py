"""Toy snapshots: what the report's training animation of points is drawn from.

:class:`SnapshotHook` (points only) saves, about 60 times per run, ``RUN/snapshots/stepNNNNNNN.npz`` with
plain NumPy arrays (no pickles; load with ``np.load(path, allow_pickle=False)``):

=========  ===================================================================================
samples    N×D float32: the averaged network's samples of fixed latents (the same at every step, N = 1000)
d_raw      the task's field on a grid (a GAN: D's raw output; a VAE: the ELBO of each point): 2-D data: ny×nx
           (row iy, column ix is the point (grid_x[ix], grid_y[iy])); 1-D data: n values at grid_x
grid_x     nx float32 grid coordinates (1-D: the points themselves)
grid_y     ny float32 grid coordinates (2-D only)
centers    K×D float32 true mode centres;  std: the components' standard deviation (0-d)
step       0-d int64: steps done when the snapshot was taken
=========  ===================================================================================
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import torch

from .hooks import Hook

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

SNAPSHOTS_PER_RUN = 60
GRID_2D = 100
GRID_1D = 400
N_SAMPLES = 1000


def plot_box(centers: np.ndarray, std: float) -> tuple[float, float]:
    """The plotting interval [lo, hi] used on every axis for toy data: the modes plus a margin.

    2-D: the square (-span, span)² of the scatter plots in RUN/samples/ (so both pictures agree);
    1-D: the centres' range widened by 6 std and 0.5 on each side.
    """
    c = np.asarray(centers, dtype=np.float64)
    if c.shape[1] == 1:
        return float(c.min() - 6 * std - 0.5), float(c.max() + 6 * std + 0.5)
    span = float(np.abs(c).max() * 1.5 + std * 10 + 0.2)
    return -span, span


class SnapshotHook(Hook):
    """Every ``max(1, steps // 60)`` steps (and at the end): G_ema samples from fixed noise and D on a grid.

    The untrained networks are recorded when the hook is built and written as step 0 with the first
    snapshot (nothing is written before training starts; a resumed run keeps its own step 0).
    """

    def __init__(self, trainer: "Trainer") -> None:
        super().__init__(max(1, trainer.cfg.train.steps // SNAPSHOTS_PER_RUN))
        info = trainer.info
        self.centers = np.asarray(info.centers, dtype=np.float32)
        self.std = float(info.std or 0.0)
        self.dim = int(self.centers.shape[1])
        gen = torch.Generator().manual_seed(trainer.cfg.train.seed + 54321)
        self.latents = trainer.task.latents(N_SAMPLES, gen)
        lo, hi = plot_box(self.centers, self.std)
        if self.dim == 1:
            self.grid_x = np.linspace(lo, hi, GRID_1D, dtype=np.float32)
            self.grid_y = np.zeros(0, dtype=np.float32)
            self.points = torch.from_numpy(self.grid_x[:, None].copy())
        else:
            self.grid_x = np.linspace(lo, hi, GRID_2D, dtype=np.float32)
            self.grid_y = np.linspace(lo, hi, GRID_2D, dtype=np.float32)
            xx, yy = np.meshgrid(self.grid_x, self.grid_y, indexing="xy")  # ny×nx, row = y
            pts = np.zeros((xx.size, self.dim), dtype=np.float32)  # higher dimensions: the plane x3.. = 0
            pts[:, 0], pts[:, 1] = xx.ravel(), yy.ravel()
            self.points = torch.from_numpy(pts)
        self.folder = trainer.run_dir / "snapshots"
        self._initial = self.arrays(trainer) if trainer.step == 0 else None

    def d_on_grid(self, t: "Trainer") -> np.ndarray:
        """The task's field at the grid points (a GAN's D in eval mode, a VAE's ELBO)."""
        raw = t.task.field(self.points).numpy()
        return raw.reshape(len(self.grid_y), len(self.grid_x)) if self.dim > 1 else raw

    def arrays(self, t: "Trainer") -> dict[str, np.ndarray]:
        """One snapshot's arrays for the networks as they are now."""
        return {"samples": t.sample(self.latents).numpy().astype(np.float32), "d_raw": self.d_on_grid(t).astype(np.float32),
                "grid_x": self.grid_x, "grid_y": self.grid_y, "centers": self.centers,
                "std": np.float32(self.std), "step": np.int64(t.step)}

    def write(self, arrays: dict[str, np.ndarray]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step{int(arrays['step']):07d}.npz"
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)

    def fire(self, t: "Trainer") -> None:
        if self._initial is not None:
            if not (self.folder / "step0000000.npz").exists():
                self.write(self._initial)
            self._initial = None
        self.write(self.arrays(t))


def is_main(trainer: "Trainer") -> bool:
    """Whether this process writes files (rank 0, or not distributed)."""
    dist = getattr(trainer, "dist", None)
    return dist is None or bool(getattr(dist, "is_main", True))


def snapshot_hooks(trainer: "Trainer") -> list[Hook]:
    """[SnapshotHook] for points with known modes whose task draws a field, [] otherwise, on ranks other than 0 and with
    ``train.snapshots`` off."""
    if (trainer.schema.name != "points" or not trainer.info.centers or not is_main(trainer) or not trainer.task.draws_field
            or not trainer.cfg.train.snapshots):
        return []
    return [SnapshotHook(trainer)]
