"""Pictures of samples: PNG image grids (Pillow), toy scatter plots over the true modes (matplotlib) and looping GIFs."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .data.images import to_uint8


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def grid_array(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """N×C×H×W images in [-1, 1] -> H'×W'×C uint8 grid (C = 1 or 3), ``nrow`` images per row."""
    x = to_uint8(images.detach().float().cpu()).numpy()
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    out = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = x[i].transpose(1, 2, 0)
    return out


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int = 0) -> Path:
    """Write a PNG grid of N×C×H×W images in [-1, 1]; small images are enlarged (nearest) to ≥ 256 px wide."""
    from PIL import Image

    arr = grid_array(images, nrow)
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    scale = scale or max(1, 512 // max(arr.shape[1], 1))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    tmp = _atomic_target(path)
    img.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def save_scatter(points: torch.Tensor, path: str | Path, centers: Sequence[Sequence[float]] | None = None,
                 title: str = "", std: float | None = None) -> Path:
    """Scatter plot of N×2 samples over the true mode centres (or a histogram for N×1 samples)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = points.detach().float().cpu().numpy()
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    if p.shape[1] == 1:
        ax.hist(p[:, 0], bins=100, density=True, color="tab:blue", alpha=0.7, label="samples")
        if centers is not None:
            for c in centers:
                ax.axvline(c[0], color="tab:red", lw=0.8)
    else:
        ax.scatter(p[:, 0], p[:, 1], s=3, alpha=0.5, color="tab:blue", label="samples", rasterized=True)
        if centers is not None:
            c = np.asarray(centers)
            ax.scatter(c[:, 0], c[:, 1], s=40, marker="x", color="tab:red", label="true modes")
            span = np.abs(c).max() * 1.5 + (std or 0) * 10 + 0.2
            ax.set_xlim(-span, span)
            ax.set_ylim(-span, span)
        ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    tmp = _atomic_target(path)
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def write_gif(frames: list[Image.Image], path: Path, ms_per_frame: int = 120, hold_last_ms: int = 2000) -> Path:
    """An endlessly looping GIF of PIL frames (written atomically); the last frame stays on screen a little longer."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    durations = [ms_per_frame] * (len(frames) - 1) + [hold_last_ms]
    pal = [f.quantize(colors=255, method=Image.Quantize.MEDIANCUT) for f in frames]
    pal[0].save(tmp, format="GIF", save_all=True, append_images=pal[1:], duration=durations, loop=0, disposal=1)
    os.replace(tmp, path)
    return path


def save_molecules(smiles: Sequence[str | None], path: str | Path, per_row: int = 8, size: int = 200) -> Path:
    """Write molecules as a picture (.png: RDKit drawings of the valid ones, at most 48, ``per_row`` a row, each
    ``size`` px, the SMILES as legend) or as text (.smi: one SMILES per line, ``invalid`` where the graph was not a
    molecule). Atomic: the file appears whole or not at all."""
    path = Path(path)
    tmp = _atomic_target(path)
    if path.suffix.lower() == ".smi":
        tmp.write_text("".join(f"{s or 'invalid'}\n" for s in smiles))
    else:
        from rdkit import Chem
        from rdkit.Chem import Draw

        valid = [s for s in smiles if s][:48]
        mols = [Chem.MolFromSmiles(s) for s in valid]
        if mols:
            img = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(size, size), legends=valid)
        else:
            img = Image.new("RGB", (size * 2, size // 2), "white")
        img.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
