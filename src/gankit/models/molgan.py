"""MolGAN's networks (De Cao & Kipf 2018, "MolGAN: An implicit generative model for small molecular graphs"), sized as
the authors' code sizes them.

* :class:`Generator`: z (N×z_dim) → an MLP (128, 256, 512, tanh) → edge logits N×M×M×B, symmetrized as (L + Lᵀ)/2,
  and node logits N×M×T (M atoms, B bond types and T atom types, each with its "none" type at index 0).
* :class:`Discriminator`: a relational graph convolution network. Each layer ℓ maps the annotations
  aᵢ = [hᵢ, xᵢ] (hidden state and one-hot atom type) to hᵢ' = tanh(f_s(aᵢ) + Σ_{y ≥ 1} Σ_j A_ijy f_y(aⱼ)) with one
  affine map f_y per bond type (no degree normalization, as in the authors' code); then the graph aggregation
  h_G = tanh(Σᵢ σ(g(aᵢ)) ⊙ tanh(k(aᵢ))) over [hᵢ, xᵢ], and an MLP (tanh) to one output. ``minibatch=True`` adds
  the authors' batch discriminator: features of the graph vector averaged over the batch, passed through a layer
  and appended to every sample's (Salimans et al. 2016's idea, in MolGAN's form). ``sigmoid=True`` makes the same
  network MolGAN's reward network V (an output in (0, 1)).

Inputs to D are one-hot or relaxed (softmax, Gumbel-softmax) tensors: edges N×M×M×B and nodes N×M×T.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..fields import option

Tensor = torch.Tensor


def _mlp(width: int, dims: list[int]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for d in dims:
        layers += [nn.Linear(width, d), nn.Tanh()]
        width = d
    return nn.Sequential(*layers), width


class Generator(nn.Module):
    """``forward(z: N×z_dim) -> (edge logits N×M×M×B, node logits N×M×T)``; edge logits symmetric in the two atom axes."""

    def __init__(self, z_dim: int = 8, atoms: int = 9, atom_types: int = 5, bond_types: int = 4,
                 dims: tuple[int, ...] | list[int] = (128, 256, 512)) -> None:
        super().__init__()
        self.z_dim, self.atoms, self.atom_types, self.bond_types, self.c_dim = z_dim, atoms, atom_types, bond_types, 0
        self.body, width = _mlp(z_dim, list(dims))
        self.edges = nn.Linear(width, bond_types * atoms * atoms)
        self.nodes = nn.Linear(width, atoms * atom_types)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(z)
        e = self.edges(h).view(-1, self.bond_types, self.atoms, self.atoms)
        e = ((e + e.transpose(-1, -2)) / 2).permute(0, 2, 3, 1)
        return e, self.nodes(h).view(-1, self.atoms, self.atom_types)


class GraphConvolution(nn.Module):
    """One relational graph convolution: annotations N×M×F and edges N×M×M×B → N×M×units (tanh)."""

    def __init__(self, features: int, units: int, bond_types: int) -> None:
        super().__init__()
        self.per_type = nn.Linear(features, units * (bond_types - 1))
        self.self_loop = nn.Linear(features, units)
        self.units, self.relations = units, bond_types - 1

    def forward(self, a: Tensor, edges: Tensor) -> Tensor:
        n, m, _ = a.shape
        msg = self.per_type(a).view(n, m, self.relations, self.units)  # f_y(a_j): N×M(j)×Y×U
        adj = edges[..., 1:]  # N×M(i)×M(j)×Y, "no bond" dropped
        return torch.tanh(torch.einsum("nijy,njyu->niu", adj, msg) + self.self_loop(a))


class Discriminator(nn.Module):
    """``forward(edges: N×M×M×B, nodes: N×M×T) -> N`` scores (``sigmoid``: in (0, 1), the reward network)."""

    def __init__(self, atom_types: int = 5, bond_types: int = 4, conv: tuple[int, ...] | list[int] = (128, 64), aggregate: int = 128,
                 dims: tuple[int, ...] | list[int] = (128, 64), minibatch: bool = False, sigmoid: bool = False) -> None:
        super().__init__()
        self.minibatch, self.sigmoid = minibatch, sigmoid
        self.convs = nn.ModuleList()
        hidden = 0
        for u in conv:
            self.convs.append(GraphConvolution(hidden + atom_types, u, bond_types))
            hidden = u
        self.gate = nn.Linear(hidden + atom_types, aggregate)
        self.value = nn.Linear(hidden + atom_types, aggregate)
        self.mlp, width = _mlp(aggregate, list(dims))
        if minibatch:
            k = max(dims[-2] if len(dims) > 1 else dims[-1], 8) // 8
            self.mb_in, self.mb_out = nn.Linear(aggregate, k), nn.Linear(k, k)
            width += k
        self.out = nn.Linear(width, 1, bias=sigmoid)  # a WGAN critic's bias cancels in E D(fake) − E D(real): it would never train

    def features(self, edges: Tensor, nodes: Tensor) -> Tensor:
        """The graph vector after the MLP (N×dims[-1], with the batch features when ``minibatch``)."""
        h = None
        for conv in self.convs:
            h = conv(nodes if h is None else torch.cat([h, nodes], -1), edges)
        a = torch.cat([h, nodes], -1) if h is not None else nodes
        g = torch.tanh((torch.sigmoid(self.gate(a)) * torch.tanh(self.value(a))).sum(1))
        f = self.mlp(g)
        if self.minibatch:
            b = torch.tanh(self.mb_out(torch.tanh(self.mb_in(g)).mean(0, keepdim=True))).expand(len(g), -1)
            f = torch.cat([f, b], -1)
        return f

    def forward(self, edges: Tensor, nodes: Tensor) -> Tensor:
        out = self.out(self.features(edges, nodes)).squeeze(-1)
        return torch.sigmoid(out) if self.sigmoid else out


@dataclass
class Options:
    """``model.*`` of the molgan family (defaults: the authors' code, example.py)."""

    name: str = option("molgan", help="model family", registry="models")
    z_dim: int = option(32, help="noise dimension (the paper: 32; the authors' example: 8, which collapses more: "
                                 "docs/benchmarks/molecules.md)", low=1, high=4096)
    g_dims: list[int] = option(help="widths of G's MLP (tanh)", factory=lambda: [128, 256, 512])
    d_conv: list[int] = option(help="widths of D's relational graph convolutions", factory=lambda: [128, 64])
    d_aggregate: int = option(128, help="width of D's graph aggregation", low=1)
    d_dims: list[int] = option(help="widths of D's MLP after the aggregation", factory=lambda: [128, 64])
    minibatch: bool = option(False, help="MolGAN's batch discriminator in D (a remedy for mode collapse)")


def options(cfg: Any, info: Any) -> dict[str, dict]:
    g = info.graph
    t, b = len(g["atoms"]) + 1, len(g["bonds"]) + 1
    d = {"atom_types": t, "bond_types": b, "conv": list(cfg.d_conv), "aggregate": cfg.d_aggregate, "dims": list(cfg.d_dims)}
    return {"G": {"z_dim": cfg.z_dim, "atoms": g["max_atoms"], "atom_types": t, "bond_types": b, "dims": list(cfg.g_dims)},
            "D": {**d, "minibatch": cfg.minibatch}, "V": {**d, "sigmoid": True}}


def check_config(cfg: Any, schema: str) -> None:
    if schema != "graph":
        raise ConfigError(f"model.name: molgan generates molecular graphs; {cfg.data.name!r} is {schema} data (use data.name=molecules)")
    dims = [*cfg.model.g_dims, *cfg.model.d_conv, *cfg.model.d_dims, cfg.model.d_aggregate]
    if any(d < 1 for d in dims) or not cfg.model.d_dims:
        raise ConfigError(f"model: layer widths must be positive and d_dims not empty, got {dims}")


__all__ = ["Generator", "Discriminator", "GraphConvolution", "Options", "options", "check_config"]
