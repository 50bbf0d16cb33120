"""Toy mixtures of Gaussians with known centres, spread and log-density.

These are the standard mode-collapse testbeds (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018):

* ``ring``: ``n`` isotropic Gaussians with centres at angles 2πk/n on a circle (default 8 modes, radius 1, std 0.01);
* ``grid``: a √n × √n lattice centred on the origin (default 5×5 at {-4,-2,0,2,4}², std 0.05);
* ``mog1d``: ``n`` Gaussians on the line at spacing apart, centred on 0 (default 3 modes, spacing 2, std 0.25).

All components are equally weighted. Samples are drawn fresh for every batch (the data distribution is known
exactly, so there is no finite training set to memorize), unless ``train_size`` asks for a fixed training set
(``data.size``; PacGAN's code trains on 100,000 points per pack position).
"""
from __future__ import annotations

import math

import torch


class ToyMixture:
    """An equally weighted mixture of isotropic Gaussians.

    Args:
        centers: K×D tensor of component means.
        std: standard deviation of every component (isotropic).
        name: short name for plots and provenance.

    ``train_size``: the points of a fixed training set, drawn once (0, the default: training draws fresh points every
    batch); the dataset builder sets it from ``data.size``.
    """

    def __init__(self, centers: torch.Tensor, std: float, name: str = "mixture") -> None:
        if centers.ndim != 2 or centers.shape[0] < 1:
            raise ValueError(f"centers must be K×D with K ≥ 1, got shape {tuple(centers.shape)}")
        if not std > 0:
            raise ValueError(f"std must be positive, got {std}")
        self.centers = centers.to(torch.float32)
        self.std = float(std)
        self.name = name
        self.train_size = 0

    @property
    def dim(self) -> int:
        return int(self.centers.shape[1])

    @property
    def num_modes(self) -> int:
        return int(self.centers.shape[0])

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        """Draw n samples (n×D, float32). Component choice and noise come from ``generator``."""
        return self.sample_labelled(n, generator, device)[0]

    def sample_labelled(self, n: int, generator: torch.Generator | None = None,
                        device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(samples n×D float32, the component each came from (n,) int64): the same draws as :meth:`sample`."""
        idx = torch.randint(self.num_modes, (n,), generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return (self.centers[idx] + self.std * noise).to(device), idx

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) for x of shape N×D; returns N values (natural log)."""
        c = self.centers.to(x.device, x.dtype)
        sq = torch.cdist(x, c).pow(2)  # N×K
        d = self.dim
        log_norm = -0.5 * d * math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(-0.5 * sq / self.std**2, dim=1) + log_norm - math.log(self.num_modes)


def ring(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> ToyMixture:
    """``modes`` Gaussians at angles 2πk/modes on a circle of ``radius``."""
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    centers = torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)
    return ToyMixture(centers, std, name="ring")


def grid(modes: int = 25, spacing: float = 2.0, std: float = 0.05) -> ToyMixture:
    """A √modes × √modes lattice with ``spacing`` between neighbours, centred on the origin."""
    side = math.isqrt(modes)
    if side * side != modes:
        raise ValueError(f"grid needs a square number of modes, got {modes}")
    coords = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    xx, yy = torch.meshgrid(coords, coords, indexing="ij")
    return ToyMixture(torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1), std, name="grid")


def mog1d(modes: int = 3, spacing: float = 2.0, std: float = 0.25) -> ToyMixture:
    """``modes`` Gaussians on the real line, ``spacing`` apart, centred on 0."""
    coords = (torch.arange(modes, dtype=torch.float64) - (modes - 1) / 2) * spacing
    return ToyMixture(coords[:, None], std, name="mog1d")
