"""Panels for image runs, drawn from the exported model's pipeline (RUN/generator) and the training data.

* :func:`interpolation_png`: rows of spherical interpolations (slerp) between fixed pairs of latents;
* :func:`class_grid_png`: conditional generators: one row per class, one fixed z per column;
* :func:`nearest_png`: generated samples next to their nearest training images in pixel space (L2 in
  [-1, 1]), the usual first check for memorization, with the typical train→train nearest distance for scale.
"""
from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from ..sampling import slerp  # noqa: E402,F401  (re-exported for the report)
from ..tasks import Pipeline  # noqa: E402
from ..tasks.gan import draw_latents  # noqa: E402
from ..visual import grid_array  # noqa: E402
from .plots import fig_png  # noqa: E402


def png_bytes(arr: np.ndarray, min_width: int = 640) -> bytes:
    """H×W×C uint8 array -> PNG bytes, enlarged (nearest neighbour) to at least ``min_width`` pixels."""
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    scale = max(1, min_width // max(img.width, 1))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def interpolation_png(G: Pipeline, rows: int = 6, cols: int = 10, seed: int = 0) -> bytes:
    """``rows`` slerp paths of ``cols`` images each (conditional: row r keeps class r mod c_dim)."""
    gen = torch.Generator().manual_seed(seed)
    z0, z1 = draw_latents(rows, G.z_dim, 0, gen)[0], draw_latents(rows, G.z_dim, 0, gen)[0]
    z = slerp(z0, z1, torch.linspace(0, 1, cols)).reshape(rows * cols, G.z_dim)
    c = (torch.arange(rows) % G.c_dim).repeat_interleave(cols) if getattr(G, "c_dim", 0) else None
    return png_bytes(grid_array(G.decode(z, c), nrow=cols))


def _show(ax: Any, img: torch.Tensor) -> None:
    """One C×H×W image in [-1, 1] on ``ax`` without ticks."""
    x = img.clamp(-1, 1).add(1).div(2).permute(1, 2, 0).numpy()
    ax.imshow(x[..., 0] if x.shape[2] == 1 else x, cmap="gray" if x.shape[2] == 1 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def class_grid_png(G: Pipeline, class_names: list[str] | None = None, cols: int = 10, seed: int = 0) -> bytes:
    """Rows = classes (labelled), columns = one fixed z each, so a column shows one "style" across classes."""
    k = int(G.c_dim)
    z = draw_latents(cols, G.z_dim, 0, torch.Generator().manual_seed(seed))[0].repeat(k, 1)
    c = torch.arange(k).repeat_interleave(cols)
    x = G.decode(z, c)
    names = list(class_names or [])
    names += [str(i) for i in range(len(names), k)]
    fig, axes = plt.subplots(k, cols, figsize=(0.75 * cols + 1.2, 0.75 * k + 0.2), squeeze=False)
    for r in range(k):
        for q in range(cols):
            _show(axes[r, q], x[r * cols + q])
        axes[r, 0].set_ylabel(names[r], rotation=0, ha="right", va="center", fontsize=9)
    fig.subplots_adjust(left=0.12, right=0.99, top=0.99, bottom=0.01, wspace=0.05, hspace=0.05)
    return fig_png(fig)


def _nearest(queries: torch.Tensor, images: torch.Tensor, k: int, self_index: torch.Tensor | None = None,
             chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances Q×k, indices Q×k) of the k nearest uint8 ``images`` (N×C×H×W) to float ``queries`` in [-1, 1].

    ``self_index``: (Q,) training indices of the queries themselves, skipped (train→train distances).
    """
    q = queries.flatten(1).double()
    best_d = torch.full((len(q), k), float("inf"), dtype=torch.float64)
    best_i = torch.zeros((len(q), k), dtype=torch.long)
    for s in range(0, len(images), chunk):
        x = images[s:s + chunk].double().div(127.5).sub(1).flatten(1)
        d = torch.cdist(q, x)
        cols = torch.arange(s, s + len(x))
        if self_index is not None:
            d[self_index[:, None] == cols[None, :]] = float("inf")
        best_d, pos = torch.cat([best_d, d], 1).topk(k, dim=1, largest=False)
        best_i = torch.cat([best_i, cols.expand(len(q), -1)], 1).gather(1, pos)
    return best_d, best_i


def nearest_png(G: Pipeline, data: Any, n: int = 8, k: int = 3, seed: int = 0) -> tuple[bytes, dict[str, float]]:
    """``n`` generated samples (column 1) and their ``k`` nearest training images, with L2 distances.

    Returns the PNG and {"median_gen_to_train": ..., "median_train_to_train": ...}: generated samples much
    closer to the training set than training images are to each other suggest memorization.
    """
    images: torch.Tensor = data.images
    gen = torch.Generator().manual_seed(seed)
    z, c = draw_latents(n, G.z_dim, getattr(G, "c_dim", 0), gen)
    fake = G.decode(z, c)
    if fake.shape[1:] != images.shape[1:]:
        raise ValueError(f"generator makes {tuple(fake.shape[1:])} images but the training data is {tuple(images.shape[1:])}")
    d, idx = _nearest(fake, images, k)
    probe = torch.randperm(len(images), generator=gen)[:64]
    tt = _nearest(images[probe].double().div(127.5).sub(1), images, 1, self_index=probe)[0][:, 0]
    tt = tt[torch.isfinite(tt)]
    stats = {"median_gen_to_train": float(d[:, 0].median()),
             "median_train_to_train": float(tt.median()) if len(tt) else float("nan")}
    blocks = 2 if n >= 4 else 1  # two side-by-side blocks of (generated | k neighbours) keep the panel short
    rows = -(-n // blocks)
    ratios = ([1.0] * (k + 1) + [0.35]) * blocks
    fig = plt.figure(figsize=(1.2 * sum(ratios) + 0.2, 1.3 * rows + 0.1))
    gs = fig.add_gridspec(rows, len(ratios) - 1, width_ratios=ratios[:-1], left=0.01, right=0.99, top=0.95,
                          bottom=0.01, wspace=0.08, hspace=0.35)
    for i in range(n):
        b, r = divmod(i, rows)
        col0 = b * (k + 2)
        ax = fig.add_subplot(gs[r, col0])
        _show(ax, fake[i])
        ax.set_title("generated" if r == 0 else "", fontsize=8)
        for j in range(k):
            ax = fig.add_subplot(gs[r, col0 + 1 + j])
            _show(ax, images[idx[i, j]].float().div(127.5).sub(1))
            ax.set_title(f"L2 {d[i, j]:.2f}", fontsize=7)
    return fig_png(fig), stats
