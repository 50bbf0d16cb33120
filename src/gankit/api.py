"""What the CLI and Python users call. No argument parsing here.

>>> import gankit
>>> run = gankit.train("ring", out="runs/ring", overrides=["train.steps=500"])   # doctest: +SKIP
>>> G = gankit.load("runs/ring")                                                 # doctest: +SKIP
>>> x = gankit.generate(G, 1000, seed=0)                                         # doctest: +SKIP
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .config import Config, load_file, load_preset
from .errors import ConfigError, DataError
from .models.pretrained import UNSAFE_SUFFIXES, load_generator


def resolve_config(preset: str | None = None, config: str | Path | Config | None = None,
                   overrides: Sequence[str] = (), game: str | None = None) -> Config:
    """A validated Config from a preset name (optionally playing preset ``game``'s game: its loss, penalties, tricks and
    optimizer settings on the preset's data and network), a config file / RUN directory, or a Config object."""
    if game is not None and config is not None:
        raise ConfigError("--game puts a preset's game on another preset; use it with --preset, not --config")
    if isinstance(config, Config):
        from .config import from_dict

        return from_dict(config.to_dict(), list(overrides))
    if config is not None:
        return load_file(config, list(overrides))
    return load_preset(preset or "digits", list(overrides), game=game)


def default_run_dir(cfg: Config) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg.name or cfg.data.name}-{stamp}"


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} exists and is not a directory; give a new directory")
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"--out: {out} is not empty; give a new directory, or continue it with --resume {out}")


def train(preset: str | None = None, *, config: str | Path | Config | None = None, out: str | Path | None = None,
          overrides: Sequence[str] = (), resume: str | Path | None = None, game: str | None = None) -> dict[str, Any]:
    """Train a GAN; returns a summary dict (steps, images seen, wall time, run_dir).

    Args:
        preset: a shipped preset name (``gankit presets``); default ``digits``.
        config: a YAML/JSON config file, a RUN directory (re-creates that run) or a Config.
        out: the run directory to create (default runs/<name>-<timestamp>).
        overrides: dotted ``section.key=value`` strings applied last.
        resume: a run directory to continue from its latest checkpoint (overrides apply, e.g. train.steps).
        game: another preset whose game (loss, reg, trick, optimizer settings, spectral norm) ``preset`` plays,
            e.g. ``train("digits", game="wgan-gp")``.
    """
    from .training.loop import Trainer

    if resume is not None and game is not None:
        raise ConfigError("--game applies to a new run; a resumed run keeps its config")
    if resume is not None:
        run_dir = Path(resume)
        if run_dir.suffix.lower() in UNSAFE_SUFFIXES:
            raise ConfigError(f"--resume: {run_dir.name} looks like a pickle ({run_dir.suffix}); gankit never unpickles. "
                              "Give a gankit run directory (config.json + checkpoints/)")
        if not (run_dir / "config.json").is_file():
            raise ConfigError(f"--resume: {run_dir} is not a run directory (no config.json)")
        cfg = load_file(run_dir / "config.json", list(overrides))
        return Trainer(cfg, run_dir, resume=True).run()
    cfg = resolve_config(preset, config, overrides, game)
    run_dir = Path(out) if out is not None else default_run_dir(cfg)
    _check_out_dir(run_dir)
    return Trainer(cfg, run_dir).run()


def load(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """An exported generator (RUN or RUN/generator) as a module in eval mode, ready to sample."""
    return load_generator(path, device)


@torch.inference_mode()
def generate(G: nn.Module, n: int, seed: int = 0, labels: int | Sequence[int] | torch.Tensor | None = None,
             batch: int = 512) -> torch.Tensor:
    """n samples in data space from a loaded generator: toys n×D, images n×C×H×W in [-1, 1].

    Args:
        labels: for conditional generators: one class for all samples, or n labels; default: cycle
            through the classes (0, 1, ..., c_dim-1, 0, ...).
    """
    if n < 1:
        raise ConfigError(f"--n: {n} must be at least 1")
    c_dim = getattr(G, "c_dim", 0)
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=gen)
    if c_dim:
        if labels is None:
            c = torch.arange(n) % c_dim
        else:
            c = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
            c = c.expand(n) if c.numel() == 1 else c
            if c.numel() != n or int(c.min()) < 0 or int(c.max()) >= c_dim:
                raise ConfigError(f"--class: labels must be in 0..{c_dim - 1} (one, or one per sample)")
    else:
        if labels is not None:
            raise ConfigError("--class: this generator is unconditional; drop --class")
        c = None
    out = [G(z[i:i + batch].to(device), c[i:i + batch].to(device) if c is not None else None).float().cpu()
           for i in range(0, n, batch)]
    return torch.cat(out)


def save_samples(x: torch.Tensor, out: str | Path, nrow: int | None = None, centers: Any = None) -> Path:
    """Write samples as .npy (data space) or a .png grid / scatter plot over ``centers`` (toys)."""
    from .visual import save_grid, save_scatter

    out = Path(out)
    if out.suffix not in (".npy", ".png"):
        raise ConfigError(f"--out: {out.name} must end in .npy (samples in data space) or .png (a picture)")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        tmp = out.with_name(f".{out.stem}.tmp.npy")
        np.save(tmp, x.numpy())
        tmp.replace(out)
    elif x.ndim == 4:
        save_grid(x, out, nrow=nrow)
    else:
        save_scatter(x, out, centers=centers)
    return out


__all__ = ["train", "load", "generate", "save_samples", "resolve_config", "DataError"]
