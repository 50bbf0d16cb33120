"""GANs as data for other models: the few-label protocol, synthetic labelled sets and their files.

The protocol (docs/downstream.md) asks whether generated images help a classifier when labels are scarce, next to
the answer everyone already has — classical augmentation. One fixed classifier (:class:`~gankit.models.semi.SmallCNN`,
:data:`CLASSIFIER`: the same architecture, optimizer and number of updates whatever it is given) is trained on

* the labelled images alone;
* the same with classical augmentation (:func:`classical_augment`: random shifts, small rotations and elastic
  distortions, Simard et al. 2003);
* real + generated images (:func:`synthesize` from a class-conditional generator), a fixed fraction of every batch
  synthetic (``ratio``);
* both;

and scored on the test split (:func:`accuracy`). Generated sets can be filtered (keep the samples a classifier trained
on the real labelled images assigns to the class they were drawn for) and truncated (z drawn from a normal truncated
at ±τ, BigGAN's trick); :func:`write_synthetic` writes them as NPZ (``x`` uint8 N×C×H×W, ``y``, ``class_names``) or a
folder per class of PNG files, for use outside gankit (``gankit augment``).
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data.images import to_float, to_uint8
from .errors import ConfigError, DataError
from .models.semi import SmallCNN
from .tasks.base import classify_in_eval_mode

Tensor = torch.Tensor

#: the downstream classifier's fixed recipe (every arm of the protocol trains exactly this)
CLASSIFIER = {"width": 32, "steps": 600, "batch": 64, "lr": 1e-3, "weight_decay": 5e-4}
#: classical augmentation: shift as a fraction of the side, rotation in degrees, elastic α and σ as fractions of the
#: side (Simard et al. 2003 on 28×28 MNIST: α = 34 px, σ = 4 px; α halved here: on 16×16 digits with 1 and 10 labels
#: per class it scored 0.69 / 0.95 against 0.68 / 0.88 at the full α; no augmentation: 0.55 / 0.94)
CLASSICAL = {"shift": 0.125, "rotate": 10.0, "elastic_alpha": 17 / 28, "elastic_sigma": 4 / 28}


def _gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of N×C×H×W with σ in pixels (kernel radius 3σ, zero padding)."""
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, r), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(r, 0), groups=c)


def classical_augment(x: Tensor, gen: torch.Generator, shift: float = CLASSICAL["shift"], rotate: float = CLASSICAL["rotate"],
                      elastic_alpha: float = CLASSICAL["elastic_alpha"], elastic_sigma: float = CLASSICAL["elastic_sigma"]) -> Tensor:
    """Random shift (up to ``shift``·side in each axis), rotation (up to ±``rotate`` degrees) and elastic distortion
    (a uniform random displacement field smoothed by a Gaussian of σ = ``elastic_sigma``·side, scaled to
    ``elastic_alpha``·side; Simard et al. 2003) of images N×C×R×R in [-1, 1]; one draw per image from ``gen`` (CPU).
    Pixels from outside the image are background (-1). Returns N×C×R×R."""
    n, _, h, w = x.shape
    a = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(rotate)
    t = (torch.rand(n, 2, generator=gen) * 2 - 1) * shift * 2  # normalized coordinates span 2
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
    theta[:, :, 2] = t
    grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)
    if elastic_alpha > 0:
        field = torch.rand(n, 2, h, w, generator=gen) * 2 - 1
        field = _gaussian_blur(field, elastic_sigma * h) * (elastic_alpha * 2)  # pixels·(2/side): normalized units, side cancels
        grid = grid + field.permute(0, 2, 3, 1)
    grid = grid.to(x.device, x.dtype)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


def train_classifier(x: Tensor, y: Tensor, classes: int, *, extra: tuple[Tensor, Tensor] | None = None, ratio: float = 0.5,
                     augment: bool = False, seed: int = 0, steps: int | None = None,
                     network: Callable[[], nn.Module] | None = None) -> nn.Module:
    """The fixed downstream classifier trained on images ``x`` (N×C×R×R in [-1, 1]) with labels ``y`` (N int64).

    ``extra``: synthetic (images, labels); each batch then holds round(ratio·batch) synthetic images, the rest real.
    ``augment``: classical augmentation of every image of every batch. Batches are drawn with replacement (there may
    be fewer labelled images than a batch); ``steps`` updates of Adam (:data:`CLASSIFIER`). Deterministic in ``seed``.
    ``network``: builds another classifier (N×C×R×R -> N×classes logits) in place of the SmallCNN. Returns it in eval mode.
    """
    rc = CLASSIFIER
    if len(x) == 0:
        raise ConfigError("train_classifier: no labelled images")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = network() if network is not None else SmallCNN(x.shape[1], x.shape[-1], classes, rc["width"])
        opt = torch.optim.Adam(net.parameters(), lr=rc["lr"], weight_decay=rc["weight_decay"])
        n_syn = round(ratio * rc["batch"]) if extra is not None and len(extra[0]) else 0
        net.train()
        for _ in range(steps or rc["steps"]):
            idx = torch.randint(len(x), (rc["batch"] - n_syn,), generator=gen)
            xb, yb = x[idx], y[idx]
            if n_syn:
                j = torch.randint(len(extra[0]), (n_syn,), generator=gen)
                xb, yb = torch.cat([xb, extra[0][j]]), torch.cat([yb, extra[1][j]])
            if augment:
                xb = classical_augment(xb, gen)
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval().requires_grad_(False)


def accuracy(net: nn.Module, x: Tensor, y: Tensor, batch: int = 512) -> float:
    """Fraction of images ``x`` (N×C×R×R) whose argmax class under ``net`` equals ``y``."""
    return float(accuracy_mask(net, x, y, batch).float().mean())


def truncated_normal(n: int, dim: int, threshold: float, gen: torch.Generator) -> Tensor:
    """n×dim standard normal draws, each entry beyond ±``threshold`` redrawn until inside (BigGAN's truncation trick;
    threshold 0: no truncation)."""
    z = torch.randn(n, dim, generator=gen)
    if threshold > 0:
        out = z.abs() > threshold
        while out.any():
            z[out] = torch.randn(int(out.sum()), generator=gen)
            out = z.abs() > threshold
    return z


@torch.no_grad()
def synthesize(pipe: Any, per_class: int, *, seed: int = 0, truncation: float = 0.0, keep: nn.Module | None = None,
               max_rounds: int = 20) -> tuple[Tensor, Tensor]:
    """``per_class`` samples of every class from a class-conditional generator pipeline (gan with
    model.conditional=true, acgan): (images N×C×R×R in [-1, 1], labels N), classes in turn.

    ``truncation``: τ of the truncated normal z (0: off). ``keep``: a classifier; only samples it assigns to the class they
    were drawn for are kept, drawing more (up to ``max_rounds`` rounds) until each class has ``per_class`` — a class the
    classifier never agrees on ends with fewer (the labels say how many of each).
    """
    G = pipe.module.G if hasattr(pipe.module, "G") else pipe.module
    classes = int(getattr(G, "c_dim", 0))
    if not classes:
        raise ConfigError("augment: this generator is unconditional; labelled samples need a class-conditional run "
                          "(task acgan, or task gan with model.conditional=true)")
    if per_class < 1:
        raise ConfigError(f"--n-per-class: {per_class} must be at least 1")
    gen = torch.Generator().manual_seed(seed)
    have = [[] for _ in range(classes)]
    count = torch.zeros(classes, dtype=torch.long)
    for _ in range(max_rounds if keep is not None else 1):
        need = (per_class - count).clamp(min=0)
        if not need.any():
            break
        c = torch.repeat_interleave(torch.arange(classes), need if keep is None else need * 2)
        z = truncated_normal(len(c), G.z_dim, truncation, gen)
        x = pipe.decode(z, c)
        ok = torch.ones(len(c), dtype=torch.bool) if keep is None else accuracy_mask(keep, x, c)
        for k in range(classes):
            take = x[(c == k) & ok][: int(need[k])]
            have[k].append(take)
            count[k] += len(take)
    xs = torch.cat([t for k in range(classes) for t in have[k]])
    ys = torch.repeat_interleave(torch.arange(classes), count)
    return xs, ys


def accuracy_mask(net: nn.Module, x: Tensor, y: Tensor, batch: int = 512) -> Tensor:
    """N bool: where ``net``'s argmax class of ``x`` (in eval mode, on its own device) equals ``y``."""
    return classify_in_eval_mode(net, x, next(net.parameters()).device, batch).argmax(1) == y.cpu()


def write_synthetic(x: Tensor, y: Tensor, out: str | Path, class_names: list[str]) -> Path:
    """Write a labelled set: ``out`` ending in .npz -> ``x`` uint8 N×C×H×W, ``y`` int64 N, ``class_names``; otherwise a
    folder with one subfolder per class name holding PNG files (000000.png, ...), the layout ``data.name=folder`` reads.
    Written to a temporary name and renamed: nothing half-written. An existing non-empty folder is refused."""
    out = Path(out)
    pixels = to_uint8(x).cpu()
    labels = y.cpu().long()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".npz")
        os.close(fd)
        np.savez_compressed(tmp, x=pixels.numpy(), y=labels.numpy(), class_names=np.array(class_names, dtype=str))
        os.replace(tmp, out)
        return out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not an empty folder; give a new folder or a .npz file")
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        for k, name in enumerate(class_names):
            (tmp / name).mkdir()
        for i, (img, k) in enumerate(zip(pixels, labels.tolist())):
            arr = img.permute(1, 2, 0).numpy()
            Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(tmp / class_names[k] / f"{i:06d}.png")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_synthetic(path: str | Path) -> tuple[Tensor, Tensor, list[str]]:
    """An NPZ written by :func:`write_synthetic`: (images N×C×H×W float in [-1, 1], labels N, class names). Read
    without pickle."""
    try:
        with np.load(path, allow_pickle=False) as f:
            x, y, names = f["x"], f["y"], [str(s) for s in f["class_names"]]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path}: not a labelled NPZ with x, y and class_names ({e})") from None
    return to_float(torch.from_numpy(x)), torch.from_numpy(y).long(), names


__all__ = ["CLASSICAL", "CLASSIFIER", "accuracy", "accuracy_mask", "classical_augment", "read_synthetic", "synthesize", "train_classifier",
           "truncated_normal", "write_synthetic"]
