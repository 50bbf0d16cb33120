"""Networks of the tabular models of Xu et al. 2019 ("Modeling Tabular Data using Conditional GAN", NeurIPS): ``ctgan``
and ``tvae``. Shapes use D = the encoded row's width (gankit.data.tables.transform) and C = the conditional vector's
width (the discrete columns' categories, 0 without discrete columns).

* CTGAN ``Generator(z ⊕ cond) -> N×D`` raw outputs: residual layers ``h ⊕ ReLU(BN(Linear(h)))`` (each widens the input
  by its width; §4.4: two of 256), then a linear layer to D. The task applies tanh / Gumbel-softmax per span.
* CTGAN ``Discriminator(rows ⊕ cond) -> N/pac``: PacGAN (Lin et al. 2018) with ``pac`` rows joined into one input
  (pac·(D + C) features), layers Linear → LeakyReLU(0.2) → Dropout(0.5) (two of 256), a linear score without bias (under the
  Wasserstein loss a constant cancels; the authors' bias gets no gradient).
* TVAE ``Encoder(rows) -> (μ, log σ²)`` N×z each: Linear → ReLU layers (two of 128); ``Decoder(z) -> N×D`` raw outputs
  (Linear → ReLU, two of 128) and ``sigma`` (D, a learned per-dimension σ of the tanh spans, clamped to [0.01, 1] by
  the task after each step).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..fields import option

Tensor = torch.Tensor


class Residual(nn.Module):
    """``forward(h: N×i) -> N×(o + i)``: ReLU(BN(Linear(h))) concatenated with h."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(i, o), nn.BatchNorm1d(o)

    def forward(self, h: Tensor) -> Tensor:
        return torch.cat([torch.relu(self.bn(self.fc(h))), h], dim=1)


class Generator(nn.Module):
    """CTGAN's G: ``forward(z: N×z_dim, cond: N×cond_dim | None) -> N×data_dim`` raw outputs (before activation)."""

    def __init__(self, z_dim: int = 128, cond_dim: int = 0, data_dim: int = 1, dims: tuple[int, ...] | list[int] = (256, 256)) -> None:
        super().__init__()
        self.z_dim, self.cond_dim, self.data_dim, self.c_dim = z_dim, cond_dim, data_dim, 0
        layers, width = [], z_dim + cond_dim
        for d in dims:
            layers.append(Residual(width, d))
            width += d
        layers.append(nn.Linear(width, data_dim))
        self.seq = nn.Sequential(*layers)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.seq(z if cond is None or self.cond_dim == 0 else torch.cat([z, cond], dim=1))


class Discriminator(nn.Module):
    """CTGAN's critic: ``forward(rows: N×data_dim, cond: N×cond_dim | None) -> (N/pac)`` scores; N must be a multiple of
    ``pac`` (the task drops the remainder)."""

    def __init__(self, data_dim: int = 1, cond_dim: int = 0, pac: int = 10, dims: tuple[int, ...] | list[int] = (256, 256),
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.data_dim, self.cond_dim, self.pac = data_dim, cond_dim, pac
        layers: list[nn.Module] = []
        width = (data_dim + cond_dim) * pac
        for d in dims:
            layers += [nn.Linear(width, d), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = d
        layers.append(nn.Linear(width, 1, bias=False))  # a critic's constant cancels in E D(real) − E D(fake): no bias
        self.seq = nn.Sequential(*layers)

    def pack(self, rows: Tensor, cond: Tensor | None = None) -> Tensor:
        """(N/pac)×(pac·(D + C)): ``pac`` consecutive rows (with their conditions) joined into one input."""
        x = rows if cond is None or self.cond_dim == 0 else torch.cat([rows, cond], dim=1)
        return x.reshape(-1, self.pac * x.shape[1])

    def judge(self, packed: Tensor) -> Tensor:
        """Scores of packed inputs: (N/pac)×(pac·(D + C)) -> N/pac."""
        return self.seq(packed).squeeze(1)

    def forward(self, rows: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.judge(self.pack(rows, cond))


class Encoder(nn.Module):
    """TVAE's encoder: ``forward(rows: N×data_dim) -> (mu, logvar)``, N×z_dim each."""

    def __init__(self, data_dim: int = 1, z_dim: int = 128, dims: tuple[int, ...] | list[int] = (128, 128)) -> None:
        super().__init__()
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        width = data_dim
        for d in dims:
            layers += [nn.Linear(width, d), nn.ReLU()]
            width = d
        self.seq = nn.Sequential(*layers)
        self.mu, self.logvar = nn.Linear(width, z_dim), nn.Linear(width, z_dim)

    def forward(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        h = self.seq(rows)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    """TVAE's decoder: ``forward(z: N×z_dim) -> N×data_dim`` raw outputs; ``sigma`` (data_dim) the σ of the tanh spans."""

    def __init__(self, z_dim: int = 128, data_dim: int = 1, dims: tuple[int, ...] | list[int] = (128, 128)) -> None:
        super().__init__()
        self.z_dim, self.data_dim, self.c_dim = z_dim, data_dim, 0
        layers: list[nn.Module] = []
        width = z_dim
        for d in dims:
            layers += [nn.Linear(width, d), nn.ReLU()]
            width = d
        layers.append(nn.Linear(width, data_dim))
        self.seq = nn.Sequential(*layers)
        self.sigma = nn.Parameter(torch.full((data_dim,), 0.1))

    def forward(self, z: Tensor) -> Tensor:
        return self.seq(z)


# --------------------------------------------------------------------------- options


@dataclass
class CTGANOptions:
    """``model.*`` of the ctgan family (defaults: Xu et al. 2019 and the authors' code)."""

    name: str = option("ctgan", help="model family", registry="models")
    z_dim: int = option(128, help="noise dimension (CTGAN's embedding_dim)", low=1, high=4096)
    g_dims: list[int] = option(help="widths of G's residual layers", factory=lambda: [256, 256])
    d_dims: list[int] = option(help="widths of D's layers", factory=lambda: [256, 256])
    pac: int = option(10, help="PacGAN: rows D judges jointly (CTGAN: 10); a batch's remainder modulo pac is dropped from D's input",
                      low=1, high=64)
    dropout: float = option(0.5, help="dropout after each of D's layers", low=0.0, high=0.95)


@dataclass
class TVAEOptions:
    """``model.*`` of the tvae family (defaults: Xu et al. 2019 and the authors' code)."""

    name: str = option("tvae", help="model family", registry="models")
    z_dim: int = option(128, help="latent dimension (TVAE's embedding_dim)", low=1, high=4096)
    dims: list[int] = option(help="widths of the encoder's layers (the decoder's, reversed)", factory=lambda: [128, 128])


def _table_dims(info: Any) -> tuple[int, int]:
    """(D: encoded width, C: conditional vector width) of a table's info."""
    spans = info.table["transformer"]["spans"]
    return int(info.shape[0]), sum(s["size"] for s in spans if s["role"] == "category")


def ctgan_options(cfg: Any, info: Any) -> dict[str, dict]:
    d, c = _table_dims(info)
    return {"G": {"z_dim": cfg.z_dim, "cond_dim": c, "data_dim": d, "dims": list(cfg.g_dims)},
            "D": {"data_dim": d, "cond_dim": c, "pac": cfg.pac, "dims": list(cfg.d_dims), "dropout": cfg.dropout}}


def tvae_options(cfg: Any, info: Any) -> dict[str, dict]:
    d, _ = _table_dims(info)
    return {"encoder": {"data_dim": d, "z_dim": cfg.z_dim, "dims": list(cfg.dims)},
            "decoder": {"z_dim": cfg.z_dim, "data_dim": d, "dims": list(reversed(cfg.dims))}}


def check_table(cfg: Any, schema: str) -> None:
    if schema != "table":
        raise ConfigError(f"model.name: {cfg.model.name} models tables; {cfg.data.name!r} is {schema} data (use data.name=table)")
    dims = [*getattr(cfg.model, "g_dims", []), *getattr(cfg.model, "d_dims", []), *getattr(cfg.model, "dims", [])]
    if any(d < 1 for d in dims):
        raise ConfigError(f"model: layer widths must be positive, got {dims}")


__all__ = ["Generator", "Discriminator", "Encoder", "Decoder", "Residual", "CTGANOptions", "TVAEOptions", "ctgan_options", "tvae_options",
           "check_table"]
