"""A GAN task around hand-made networks, for tests of the objective's math (d_loss, g_loss, terms)."""
from __future__ import annotations

import torch

from gankit.config import load_preset
from gankit.data import DataInfo
from gankit.tasks.gan import GANTask

RING = DataInfo("points", (2,), centers=[[1.0, 0.0]], std=0.01, name="ring")


def make_task(*overrides: str, z_dim: int = 2, classes: int = 0, opt_d: torch.optim.Optimizer | None = None) -> GANTask:
    """A GANTask built from the ring preset with ``overrides`` (its own networks unused: tests pass G and D to
    d_loss / g_loss); ``z_dim`` and ``classes`` set what its latents draw, ``opt_d`` what the unrolled look-ahead
    continues."""
    cfg = load_preset("ring", [f"model.z_dim={z_dim}", "model.g_width=4", "model.d_width=4", "model.depth=1", *overrides])
    task = GANTask(cfg, RING)
    task.classes, task.opt_d = classes, opt_d
    return task
