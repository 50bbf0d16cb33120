"""DiffAugment (Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN Training",
NeurIPS): :class:`DiffAugment` maps N×C×H×W images to augmented N×C×H×W images, differentiably.

D sees T(x) for real and T(G(z)) for fake samples, in D's and in G's update; every transform is made of
differentiable tensor operations, so G's gradient flows through T. Randomness comes from torch's global RNG
(seeded by train.seed and saved in checkpoints), so a resumed run draws the same augmentations.

Transforms (names for ``augment.policy``, comma separated; ``""`` = off), with the paper's strengths:

=============  ==========================================================================================
color          brightness + U[−0.5, 0.5]; saturation: channel-mean deviation × U[0, 2];
               contrast: image-mean deviation × U[0.5, 1.5] (one draw per sample each)
translation    shift by up to 1/8 of the image side in each direction (integer pixels), zero padding
cutout         zero a square of half the image side at a random centre (clipped at the borders)
flip           mirror left-right with probability ½ (used by consistency regularization, reg.bcr_*)
=============  ==========================================================================================

Images only (N×C×H×W); configuration refuses augmentation on 2-D toy data.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _uniform(x: Tensor, low: float, high: float) -> Tensor:
    """One U[low, high) per sample, shaped N×1×1×1."""
    return low + (high - low) * torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)


def brightness(x: Tensor) -> Tensor:
    return x + _uniform(x, -0.5, 0.5)


def saturation(x: Tensor) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _uniform(x, 0.0, 2.0) + mean


def contrast(x: Tensor) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(x, 0.5, 1.5) + mean


def color(x: Tensor) -> Tensor:
    """Brightness, then saturation, then contrast (DiffAugment's "color")."""
    return contrast(saturation(brightness(x)))


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by (dy, dx) integer pixels, |d| ≤ round(ratio·side), uncovered pixels 0. N×C×H×W."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    padded = F.pad(x, (sw, sw, sh, sh))  # zeros around the image, so every source index below exists
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy + sh  # N×H×1: output row i reads row i − dy
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx + sw  # N×1×W
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a square of side round(ratio·side) centred at a uniformly drawn pixel (clipped at the borders)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h, (n, 1, 1), device=x.device) - sh // 2
    left = torch.randint(0, w, (n, 1, 1), device=x.device) - sw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + sh) & (cols >= left) & (cols < left + sw)  # N×H×W
    return x * (~inside).unsqueeze(1).to(x.dtype)


def flip(x: Tensor) -> Tensor:
    """Mirror left-right with probability ½ per sample."""
    mask = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(mask, x.flip(3), x)


TRANSFORMS: dict[str, Callable[[Tensor], Tensor]] = {"color": color, "translation": translation, "cutout": cutout, "flip": flip}


def parse_policy(policy: str, field: str = "augment.policy") -> list[str]:
    """``"color,translation"`` -> ["color", "translation"]; unknown names raise a one-line ValueError."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    bad = [p for p in names if p not in TRANSFORMS]
    if bad:
        raise ValueError(f"{field}: unknown augmentation {bad[0]!r}; choose from: {', '.join(TRANSFORMS)} (comma separated)")
    return names


class DiffAugment:
    """``DiffAugment("color,translation,cutout")(x: N×C×H×W) -> N×C×H×W``; the empty policy is the identity."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.transforms = [TRANSFORMS[name] for name in parse_policy(policy)]

    def __bool__(self) -> bool:
        return bool(self.transforms)

    def __call__(self, x: Tensor) -> Tensor:
        if self.transforms and x.dim() != 4:
            raise ValueError(f"DiffAugment works on N×C×H×W images; got shape {tuple(x.shape)}")
        for t in self.transforms:
            x = t(x)
        return x.contiguous()

    def __repr__(self) -> str:
        return f"DiffAugment({self.policy!r})"
