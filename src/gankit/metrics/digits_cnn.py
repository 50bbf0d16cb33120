"""``digits-cnn``: a small classifier trained deterministically on the bundled digits' train split.

It is the domain feature extractor for the digits data: 128-d penultimate features for FID / KID /
precision-recall, and class probabilities for the Inception Score and class coverage. Training takes a
few seconds on a CPU; the weights are cached on disk under a hash of the recipe, and their SHA-256 goes
into every result's provenance.

Inputs: N×C×H×W in [-1, 1], any size and channel count: RGB is turned to grey (ITU-R 601 luma) and the
image resized to 32×32 (bilinear, antialiased), as the classifier was trained.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ._common import cache_root

RECIPE = {"arch": "conv16-32-64-fc128", "epochs": 10, "batch": 64, "lr": 1e-3, "shift": 2, "seed": 0,
          "resolution": 32, "split": "train", "version": 1}
FEATURE_DIM = 128


class DigitsCNN(nn.Module):
    """``forward(x: N×1×32×32 in [-1, 1]) -> (features N×128, logits N×10)``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 16×16
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 8×8
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 4×4
            nn.Flatten(), nn.Linear(64 * 16, FEATURE_DIM), nn.ReLU())
        self.classifier = nn.Linear(FEATURE_DIM, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return h, self.classifier(h)


def prepare(x: torch.Tensor) -> torch.Tensor:
    """Any N×C×H×W batch in [-1, 1] -> N×1×32×32 grey, the classifier's input."""
    x = x.float()
    if x.shape[1] == 3:
        x = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    elif x.shape[1] != 1:
        raise ValueError(f"digits-cnn takes 1 or 3 channels, got {x.shape[1]}")
    if x.shape[-2:] != (32, 32):
        x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    return x


def _shift(x: torch.Tensor, gen: torch.Generator, max_shift: int) -> torch.Tensor:
    """Random integer translation by up to ``max_shift`` pixels (zero fill), one offset per batch."""
    dx, dy = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=gen))
    return torch.roll(F.pad(x, [max_shift] * 4, value=-1.0), (dy, dx), dims=(2, 3))[..., max_shift:-max_shift, max_shift:-max_shift]


def train_digits_cnn() -> DigitsCNN:
    """Train the classifier on the digits train split with the fixed RECIPE (deterministic on CPU)."""
    from ..data.images import load_digits, to_float

    data = load_digits(resolution=RECIPE["resolution"], channels=1, split=RECIPE["split"])
    x, y = to_float(data.images), data.labels
    gen = torch.Generator().manual_seed(RECIPE["seed"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RECIPE["seed"])
        net = DigitsCNN()
    opt = torch.optim.Adam(net.parameters(), lr=RECIPE["lr"])
    net.train()
    for _epoch in range(RECIPE["epochs"]):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), RECIPE["batch"]):
            idx = perm[i:i + RECIPE["batch"]]
            _, logits = net(_shift(x[idx], gen, RECIPE["shift"]))
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval().requires_grad_(False)


def recipe_key() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]


def load_digits_cnn() -> tuple[DigitsCNN, str]:
    """The cached classifier (trained on first use) and the SHA-256 of its weights file."""
    path = cache_root() / "extractors" / f"digits-cnn-{recipe_key()}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent processes: one trains, the others wait and load
        if not path.is_file():
            net = train_digits_cnn()
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(fd)
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp)
            os.replace(tmp, path)
    net = DigitsCNN()
    net.load_state_dict(load_file(str(path)))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return net.eval().requires_grad_(False), sha
