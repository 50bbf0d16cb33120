"""Sampling beyond a plain grid: the truncation trick, style-mixing grids and latent interpolations.

- Truncation (Karras et al. 2019, §2 / Appendix B; Brock et al. 2019 for z): w' = w̄ + ψ·(w − w̄) with w̄ the average w
  tracked during training; ψ = 1 is the plain generator, ψ = 0 gives w̄'s image for every z.
- Style mixing (Karras et al. 2019, §3.1, Figure 3): the coarse styles (the first ``cutoff`` rows of w, the low
  resolutions) of source B with the remaining styles of source A.
- Interpolation: spherical in z (slerp keeps the norm a Gaussian z is concentrated at) or linear in w.

Style-based generators (``gankit.models.stylegan``) expose ``mapping(z, c, truncation_psi) -> ws: N×num_ws×w_dim`` and
``synthesis(ws, noise_mode) -> images``; truncation, mixing and w-space interpolation need them. Per-layer noise is
held constant (``noise_mode="const"``) so that pictures are deterministic and frames do not flicker.

Every function takes a pipeline (``gankit.load``) or the generator module; latents come from the GAN task's
:func:`~gankit.tasks.gan.draw_latents`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .data.images import to_uint8
from .errors import ConfigError
from .tasks.base import module_of
from .tasks.gan import draw_latents, run_generator
from .visual import write_gif

Tensor = torch.Tensor


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of z0 and z1 (N×D) at fractions t (T,) -> N×T×D.

    Falls back to linear interpolation where the two latents are (nearly) parallel.
    """
    a, b = z0[:, None, :], z1[:, None, :]
    tt = t[None, :, None]
    cos = (torch.nn.functional.normalize(z0, dim=1) * torch.nn.functional.normalize(z1, dim=1)).sum(1).clamp(-1, 1)
    omega = torch.arccos(cos)[:, None, None]
    so = torch.sin(omega)
    lerp = (1 - tt) * a + tt * b
    spherical = (torch.sin((1 - tt) * omega) * a + torch.sin(tt * omega) * b) / so.clamp_min(1e-6)
    return torch.where(so > 1e-4, spherical, lerp)


def is_style_based(G: nn.Module) -> bool:
    G = module_of(G)
    return callable(getattr(G, "mapping", None)) and callable(getattr(G, "synthesis", None))


def require_style_based(G: nn.Module, option: str) -> None:
    G = module_of(G)
    if not is_style_based(G):
        family = getattr(G, "gankit_meta", {}).get("family", type(G).__name__)
        raise ConfigError(f"{option}: needs a style-based generator (model.name=stylegan or stylegan2); this one is {family}")


def _labels(G: nn.Module, n: int, label: int | None) -> Tensor | None:
    c_dim = getattr(G, "c_dim", 0)
    if not c_dim:
        if label is not None:
            raise ConfigError("--class: this generator is unconditional; drop --class")
        return None
    if label is not None and not 0 <= label < c_dim:
        raise ConfigError(f"--class: {label} is not a class of this generator; use 0..{c_dim - 1}")
    return torch.full((n,), label if label is not None else 0, dtype=torch.long)


def _device(G: nn.Module) -> torch.device:
    return next(G.parameters()).device


@torch.inference_mode()
def synthesize(G: nn.Module, ws: Tensor, batch: int = 256) -> Tensor:
    """Images of ws (N×num_ws×w_dim) with constant noise, on CPU, in chunks."""
    G = module_of(G)
    dev = _device(G)
    return torch.cat([G.synthesis(ws[i:i + batch].to(dev), noise_mode="const").float().cpu() for i in range(0, len(ws), batch)])


@torch.inference_mode()
def mapped(G: nn.Module, z: Tensor, c: Tensor | None, psi: float = 1.0) -> Tensor:
    G = module_of(G)
    dev = _device(G)
    return G.mapping(z.to(dev), c.to(dev) if c is not None else None, truncation_psi=psi).cpu()


def style_mixing_grid(G: nn.Module, n: int = 5, seed: int = 0, psi: float = 1.0, cutoff: int | None = None,
                      label: int | None = None) -> Tensor:
    """(n+1)²×C×H×W images in [-1, 1]: row 0 the n sources B, column 0 the n sources A (corner blank), and cell
    (i, j) the image with B_j's first ``cutoff`` styles (coarse: pose, shape) and A_i's others (fine: stroke, colour).

    ``cutoff`` defaults to the styles of the resolutions up to 8×8 (4 rows of w, as in Karras et al. 2019's "coarse").
    """
    G = module_of(G)
    require_style_based(G, "--style-mixing")
    num_ws = G.num_ws
    cutoff = min(4, num_ws - 1) if cutoff is None else cutoff
    if not 0 < cutoff < num_ws:
        raise ConfigError(f"--cutoff: {cutoff} must be between 1 and {num_ws - 1} (this generator has {num_ws} styles)")
    z, _ = draw_latents(2 * n, G.z_dim, 0, torch.Generator().manual_seed(seed))
    ws = mapped(G, z, _labels(G, 2 * n, label), psi)
    wa, wb = ws[:n], ws[n:]
    mix = torch.cat([wb[None, :, :cutoff].expand(n, n, -1, -1), wa[:, None, cutoff:].expand(n, n, -1, -1)], dim=2)
    img_a, img_b, img_mix = synthesize(G, wa), synthesize(G, wb), synthesize(G, mix.reshape(n * n, num_ws, -1))
    blank = torch.full_like(img_a[:1], -1.0)
    rows = [torch.cat([blank, img_b])]
    for i in range(n):
        rows.append(torch.cat([img_a[i:i + 1], img_mix[i * n:(i + 1) * n]]))
    return torch.cat(rows)


@torch.inference_mode()
def interpolation_frames(G: nn.Module, frames: int = 16, space: str = "z", seed: int = 0, psi: float = 1.0,
                         label: int | None = None, keys: int = 2) -> Tensor:
    """frames×C×H×W images along a path through ``keys`` random latents: slerp in z, or lerp in w (style-based)."""
    G = module_of(G)
    if space not in ("z", "w"):
        raise ConfigError(f"--interpolate: {space!r} is not a latent space; use z or w")
    if frames < 2:
        raise ConfigError(f"--frames: {frames} must be at least 2")
    if space == "w" or psi != 1.0:
        require_style_based(G, "--interpolate w" if space == "w" else "--truncation")
    zk, _ = draw_latents(keys, G.z_dim, 0, torch.Generator().manual_seed(seed))
    seg = max(frames // (keys - 1), 2)
    t = torch.linspace(0, 1, seg)
    c = _labels(G, 1, label)
    if space == "z":
        path = torch.cat([slerp(zk[i:i + 1], zk[i + 1:i + 2], t)[0] for i in range(keys - 1)])[:frames]
        cc = c.expand(len(path)) if c is not None else None
        if is_style_based(G):
            return synthesize(G, mapped(G, path, cc, psi))
        return run_generator(G, path, cc, _device(G))
    wk = mapped(G, zk, c.expand(keys) if c is not None else None, psi)
    path = torch.cat([(1 - t)[:, None, None] * wk[i] + t[:, None, None] * wk[i + 1] for i in range(keys - 1)])[:frames]
    return synthesize(G, path)


def truncated_samples(G: nn.Module, n: int, seed: int = 0, psi: float = 1.0, label: int | None = None) -> Tensor:
    """n samples with truncation ψ (style-based generators), constant noise, deterministic in ``seed``."""
    G = module_of(G)
    require_style_based(G, "--truncation")
    z, c = draw_latents(n, G.z_dim, getattr(G, "c_dim", 0), torch.Generator().manual_seed(seed), label)
    return synthesize(G, mapped(G, z, c, psi))


def project(G: nn.Module, target: Tensor, steps: int = 300, lr: float = 0.05, distance: Callable | None = None,
            seed: int = 0, label: int | None = None) -> tuple[Tensor, Tensor, list[float]]:
    """GAN inversion: the w whose image reproduces ``target`` (C×H×W in [-1, 1]).

    One w (w_dim) broadcast to every style row, started at the average w (Karras et al. 2020, StyleGAN2 §5 and
    Appendix D, without their noise optimization: noise is held constant), optimized by Adam on
    mean squared pixel error + ``distance(image, target)`` when given (e.g. LPIPS or a feature distance), with a
    small Gaussian perturbation of w that shrinks to zero over the first three quarters of the steps.

    Returns (ws: 1×num_ws×w_dim, the image 1×C×H×W, the loss per step).
    """
    G = module_of(G)
    require_style_based(G, "project")
    if target.shape != (G.img_channels, G.img_resolution, G.img_resolution):
        raise ConfigError(f"project: the image is {tuple(target.shape)}, the generator makes "
                          f"{(G.img_channels, G.img_resolution, G.img_resolution)}")
    dev = _device(G)
    target = target[None].to(dev)
    c = _labels(G, 1, label)
    gen = torch.Generator().manual_seed(seed)
    w_avg = G.w_avg.detach().clone()
    with torch.no_grad():  # the spread of w, for the perturbation's scale
        z = draw_latents(1000, G.z_dim, 0, gen)[0].to(dev)
        w_std = (G.mapping(z, c.expand(1000).to(dev) if c is not None else None)[:, 0] - w_avg).pow(2).sum(1).mean().sqrt()
    w = w_avg[None].clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999))
    losses = []
    for i in range(steps):
        noise_scale = float(w_std) * 0.05 * max(0.0, 1.0 - i / (0.75 * steps)) ** 2
        w_in = w + noise_scale * torch.randn(w.shape, generator=gen).to(dev)
        img = G.synthesis(w_in[:, None].expand(1, G.num_ws, -1), noise_mode="const")
        loss = (img - target).pow(2).mean()
        if distance is not None:
            loss = loss + distance(img, target).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    ws = w.detach()[:, None].expand(1, G.num_ws, -1).cpu()
    return ws, synthesize(G, ws), losses


def save_gif(images: Tensor, path: str | Path, ms_per_frame: int = 80, min_side: int = 128) -> Path:
    """An endlessly looping GIF of frames×C×H×W images in [-1, 1], played forward then backward."""
    from PIL import Image

    arr = to_uint8(images.float()).permute(0, 2, 3, 1).numpy()
    scale = max(1, -(-min_side // arr.shape[1]))
    frames = [Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).convert("RGB") for a in arr]
    frames = [f.resize((f.width * scale, f.height * scale), Image.NEAREST) for f in frames]
    frames = frames + frames[-2:0:-1]  # ping-pong: the loop has no jump
    return write_gif(frames, Path(path), ms_per_frame=ms_per_frame, hold_last_ms=ms_per_frame)


__all__ = ["slerp", "is_style_based", "project", "style_mixing_grid", "interpolation_frames", "truncated_samples", "save_gif",
           "synthesize", "mapped"]
