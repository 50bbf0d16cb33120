"""Animation frames of a toy run from its snapshots (RUN/snapshots/stepNNNNNNN.npz, see training/snapshots.py).

2-D data: G's samples as dots over D's decision surface (filled contours, the 0.5 level as a line) with
the true modes marked. 1-D data: the true density, G's histogram, D(x) and the optimal discriminator

    D*(x) = p_data(x) / (p_data(x) + p_g(x))

of Goodfellow et al. (2014), Prop. 1, with p_g a Gaussian KDE of G's samples: the theory of the original
paper made visible (least squares GANs with targets 0/1 have the same optimum, Mao et al. 2017).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from ..visual import write_gif  # noqa: E402,F401  (the animation's writer; re-exported for report/__init__)
from ..data.toy import ToyMixture

Density = Callable[[np.ndarray], np.ndarray]

#: losses whose raw D output is a logit: D(x) = sigmoid(raw) is a probability and D* applies
LOGISTIC = ("minimax", "nsgan")
MAX_FRAMES = 120


def load_snapshot(path: Path) -> dict[str, np.ndarray]:
    """The arrays of one snapshot (plain arrays only; nothing is unpickled)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))  # exact, no overflow


ELBO_FLOOR = -30.0


def d_view(raw: np.ndarray, loss: str) -> tuple[np.ndarray, str, bool]:
    """(values to draw, axis label, whether they estimate D* = p_data/(p_data+p_g)) for ``loss``.

    Logistic losses: D(x) = σ(raw) in [0, 1]; lsgan: the raw score (its optimum is D* too, Mao et al. 2017);
    wgan / hinge: the raw critic score, which has no fixed scale.
    """
    if loss in LOGISTIC:
        return sigmoid(raw), "D(x) = σ(raw D)", True
    if loss == "elbo":  # a log-density bound: floored at −30 nats so the colours resolve the data's neighbourhood
        return np.maximum(np.asarray(raw, dtype=np.float64), ELBO_FLOOR), "ELBO (nats)", False
    if loss == "lsgan":
        return np.asarray(raw, dtype=np.float64), "D(x) (least-squares score)", True
    return np.asarray(raw, dtype=np.float64), f"critic score ({loss or 'raw'})", False


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g), elementwise; 0.5 where both densities are 0 (no information)."""
    p_data, p_g = np.asarray(p_data, dtype=np.float64), np.asarray(p_g, dtype=np.float64)
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


def true_density(x: np.ndarray, centers: np.ndarray, std: float) -> np.ndarray:
    """p_data at 1-D points x (n,) for the equally weighted mixture of N(center, std²)."""
    import torch

    mix = ToyMixture(torch.tensor(np.asarray(centers, dtype=np.float32)), float(std))
    return mix.log_prob(torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1)).double().exp().numpy()


def kde_density(samples: np.ndarray, bandwidth: float | None = None, floor: float = 1e-3) -> Density:
    """A Gaussian KDE of 1-D samples (scipy.stats.gaussian_kde); a narrow Gaussian when they have collapsed.

    Args:
        bandwidth: at most this kernel standard deviation (x units); Scott's rule when smaller or None.
            Scott's rule assumes one bump and blurs a multimodal G; the data's component std / 2 keeps
            the peaks G forms at the data's own scale.
    """
    from scipy.stats import gaussian_kde

    s = np.asarray(samples, dtype=np.float64).reshape(-1)
    s = s[np.isfinite(s)]
    if s.size >= 2 and s.std() > floor:
        try:
            kde = gaussian_kde(s)
            if bandwidth is not None and kde.factor * s.std(ddof=1) > bandwidth:
                kde.set_bandwidth(bandwidth / s.std(ddof=1))
            return lambda x: kde(np.asarray(x, dtype=np.float64).reshape(-1))
        except np.linalg.LinAlgError:
            pass
    mu, sd = (float(s.mean()) if s.size else 0.0), max(float(s.std()) if s.size else 0.0, floor)
    return lambda x: np.exp(-0.5 * ((np.asarray(x, dtype=np.float64) - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))


def _rgb(fig: Figure) -> Image.Image:
    """The figure's pixels (drawn in memory; no PNG round trip)."""
    fig.canvas.draw()
    return Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())


class Frames2D:
    """Draws 2-D frames on one reused figure: D's surface as filled contours, G's samples, the true modes."""

    def __init__(self, first: dict[str, np.ndarray], loss: str, levels: np.ndarray, mid: float | None) -> None:
        self.loss, self.levels, self.mid = loss, levels, mid
        gx, gy, centers = first["grid_x"], first["grid_y"], first["centers"]
        self.fig, self.ax = plt.subplots(figsize=(5.8, 5.0), dpi=100)
        ax = self.ax
        self.contours: list = []
        self._surface(first)
        label = d_view(first["d_raw"][:1, :1], loss)[1]
        cb = self.fig.colorbar(self.contours[0], ax=ax, fraction=0.046, pad=0.03)
        cb.set_label(label, fontsize=8)
        cb.ax.tick_params(labelsize=7)
        self.dots = ax.scatter(first["samples"][:, 0], first["samples"][:, 1], s=4, color="black", alpha=0.55,
                               linewidths=0, label="samples, fixed latents", zorder=3)
        # hollow rings, so that samples sitting on a mode stay visible
        ax.scatter(centers[:, 0], centers[:, 1], s=130, marker="o", facecolors="none", edgecolors="lime",
                   linewidths=2.0, label="true modes", zorder=4)
        ax.set_xlim(gx[0], gx[-1])
        ax.set_ylim(gy[0], gy[-1])
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
        self.title = ax.set_title(" ", fontsize=10)
        self.fig.tight_layout()

    def _surface(self, snap: dict[str, np.ndarray]) -> None:
        for c in self.contours:
            c.remove()
        values = d_view(snap["d_raw"], self.loss)[0]
        gx, gy = snap["grid_x"], snap["grid_y"]
        self.contours = [self.ax.contourf(gx, gy, np.clip(values, self.levels[0], self.levels[-1]), levels=self.levels,
                                          cmap="coolwarm", alpha=0.75, zorder=1)]
        if self.mid is not None and np.nanmin(values) < self.mid < np.nanmax(values):
            self.contours.append(self.ax.contour(gx, gy, values, levels=[self.mid], colors="k", linewidths=1.0,
                                                 linestyles="--", zorder=2))

    def draw(self, snap: dict[str, np.ndarray], title: str) -> Image.Image:
        self._surface(snap)
        self.dots.set_offsets(snap["samples"][:, :2])
        self.title.set_text(title)
        return _rgb(self.fig)

    def close(self) -> None:
        plt.close(self.fig)


class Frames1D:
    """Draws 1-D frames on one reused figure: p_data, G's histogram and KDE (left axis), D and D* (right axis)."""

    BINS = 80

    def __init__(self, first: dict[str, np.ndarray], loss: str, ymax: float) -> None:
        self.loss = loss
        self.x = first["grid_x"].astype(np.float64)
        x = self.x
        self.p_data = true_density(x, first["centers"], float(first["std"]))
        self.std = float(first["std"])
        label, self.has_dstar = d_view(first["d_raw"][:1], loss)[1:]
        self.fig, ax = plt.subplots(figsize=(7.0, 4.8), dpi=100)
        self.ax = ax
        self.edges = np.linspace(x[0], x[-1], self.BINS + 1)
        _, _, self.bars = ax.hist([], bins=self.edges, color="tab:blue", alpha=0.35, label="samples (histogram)")
        ax.plot(x, self.p_data, color="tab:green", lw=2, label="p_data (true density)")
        (self.kde_line,) = ax.plot(x, np.zeros_like(x), color="tab:blue", lw=1.2, ls="--", label="p_g (KDE of G samples)")
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(0, ymax)
        ax.set_ylabel("density", fontsize=9)
        ax.set_xlabel("x", fontsize=9)
        ax.tick_params(labelsize=7)
        self.ax2 = ax2 = ax.twinx()
        (self.d_line,) = ax2.plot(x, np.zeros_like(x), color="tab:red", lw=1.8, label=label)
        self.dstar_line = None
        if self.has_dstar:
            (self.dstar_line,) = ax2.plot(x, np.zeros_like(x), color="black", lw=1.3, ls=":",
                                          label="D*(x) = p_data / (p_data + p_g)")
            ax2.set_ylim(-0.02, 1.02)
            ax2.set_ylabel("discriminator output", fontsize=9)
        else:
            ax2.set_ylabel(label, fontsize=9)
        ax2.tick_params(labelsize=7)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        self.fig.legend(h1 + h2, l1 + l2, loc="lower center", ncol=3, fontsize=7.5, frameon=False)
        self.title = ax.set_title(" ", fontsize=10)
        self.fig.tight_layout(rect=(0, 0.1, 1, 1))

    def draw(self, snap: dict[str, np.ndarray], title: str) -> Image.Image:
        samples = snap["samples"][:, 0].astype(np.float64)
        counts, _ = np.histogram(samples, bins=self.edges)
        heights = counts / max(samples.size, 1) / np.diff(self.edges)  # density over all samples (outside the box too)
        for bar, h in zip(self.bars, heights):
            bar.set_height(h)
        p_g = kde_density(samples, bandwidth=self.std / 2)(self.x)
        self.kde_line.set_ydata(p_g)
        values = d_view(snap["d_raw"], self.loss)[0]
        self.d_line.set_ydata(values)
        if self.dstar_line is not None:  # undefined where neither distribution has mass: not drawn there
            d_star = optimal_discriminator(self.p_data, p_g)
            total = self.p_data + p_g
            self.dstar_line.set_ydata(np.where(total > 1e-2 * total.max(), d_star, np.nan))
        else:
            lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
            self.ax2.set_ylim(lo - 0.05 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9))
        self.title.set_text(title)
        return _rgb(self.fig)

    def close(self) -> None:
        plt.close(self.fig)


def surface_levels(snaps: list[dict[str, np.ndarray]], loss: str) -> tuple[np.ndarray, float | None]:
    """Contour levels shared by all frames, and the decision level drawn as a line (None: no natural one).

    σ(D) for logistic losses: 0..1 with the line at 0.5; other scores: the 1st..99th percentile over all frames.
    """
    if loss in LOGISTIC:
        return np.linspace(0.0, 1.0, 11), 0.5
    vals = np.concatenate([d_view(s["d_raw"], loss)[0].ravel() for s in snaps])
    vals = vals[np.isfinite(vals)]
    lo, hi = (np.percentile(vals, [1, 99]) if vals.size else (0.0, 1.0))
    if not hi > lo:
        lo, hi = lo - 1.0, lo + 1.0
    mid = {"lsgan": 0.5, "elbo": None}.get(loss, 0.0)  # a density has no decision level
    return np.linspace(lo, hi, 11), mid


def render_frames(snapshots: list[tuple[int, Path]], loss: str, name: str) -> list[Image.Image]:
    """One frame per snapshot (at most MAX_FRAMES, evenly spaced, always the last), all on the same axes."""
    if not snapshots:
        return []
    if len(snapshots) > MAX_FRAMES:
        idx = np.unique(np.linspace(0, len(snapshots) - 1, MAX_FRAMES).round().astype(int))
        snapshots = [snapshots[i] for i in idx]
    snaps = [load_snapshot(p) for _, p in snapshots]
    first = snaps[0]
    if first["samples"].shape[1] == 1:
        x = first["grid_x"].astype(np.float64)
        ymax = 1.6 * float(true_density(x, first["centers"], float(first["std"])).max())
        drawer: Frames1D | Frames2D = Frames1D(first, loss, ymax)
    else:
        drawer = Frames2D(first, loss, *surface_levels(snaps, loss))
    try:
        return [drawer.draw(snap, f"{name} — step {step}" + (f" ({loss})" if loss else ""))
                for (step, _), snap in zip(snapshots, snaps)]
    finally:
        drawer.close()


def write_mp4(frames: list[Image.Image], path: Path, fps: int = 8) -> Path | None:
    """An H.264 MP4 through ffmpeg when it is on PATH; None (silently) when it is not or it fails."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or not frames:
        return None
    w, h = frames[0].size
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps),
           "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp)]
    data = b"".join(f.convert("RGB").resize((w, h)).tobytes() for f in frames)
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        warnings.warn(f"ffmpeg failed, no MP4 written: {e}", RuntimeWarning, stacklevel=2)
        return None
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        warnings.warn(f"ffmpeg failed, no MP4 written: {msg[-1] if msg else proc.returncode}", RuntimeWarning, stacklevel=2)
        return None
    os.replace(tmp, path)
    return path
