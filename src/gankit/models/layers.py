"""Blocks shared by the model families: label conditioning, normalization choices, spectral norm,
self-attention and the minibatch layers of D.

The stabilizers here are chosen per network by constructor arguments (set from ``model.*`` config fields by each
family's ``options``), so an exported network is rebuilt exactly from its JSON kwargs.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from ..errors import ConfigError


def dcgan_init(module: nn.Module) -> None:
    """Weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0 (Radford et al. 2016, section 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class LabelEmbedding(nn.Module):
    """Conditioning for G: the label's learned embedding joined to z.

    ``forward(z: N×z_dim, c: N int64 or None) -> N×(z_dim + embed_dim)``; with c_dim = 0 it returns z.
    """

    def __init__(self, c_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.c_dim = c_dim
        self.embed = nn.Embedding(c_dim, embed_dim) if c_dim > 0 else None
        self.out_extra = embed_dim if c_dim > 0 else 0

    def forward(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return z
        if c is None:
            raise ValueError("this generator is conditional: pass labels c (N int64)")
        return torch.cat([z, self.embed(c)], dim=1)


class LabelProjection(nn.Module):
    """The projection discriminator's class term ``<embed(c), h>`` (Miyato & Koyama 2018).

    ``forward(h: N×F, c: N int64) -> N``; added to D's unconditional logit.
    """

    def __init__(self, c_dim: int, features: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(c_dim, features)

    def forward(self, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if c is None:
            raise ValueError("this discriminator is conditional: pass labels c (N int64)")
        return (self.embed(c) * h).sum(dim=1)


def widths(base: int, stages: int, cap: int) -> list[int]:
    """Channels per stage from the 4×4 end outwards: base·2^(stages-1), ..., base, each ≤ cap."""
    return [min(base * 2 ** (stages - 1 - i), cap) for i in range(stages)]


# ------------------------------------------------------------------------------------------ normalization

NORMS = ("batch", "layer", "instance", "group", "none")


def group_count(channels: int) -> int:
    """Groups of group norm (Wu & He 2018 use 32): the largest divisor of C that is at most min(32, C // 2),
    so each group holds at least two channels (one channel per group would be instance norm)."""
    cap = max(1, min(32, channels // 2))
    return max(g for g in range(1, cap + 1) if channels % g == 0)


def norm2d(kind: str, channels: int, affine: bool = True) -> nn.Module:
    """A normalization of N×C×H×W feature maps by name (shape-preserving).

    batch: BatchNorm2d (Ioffe & Szegedy 2015); layer: GroupNorm(1, C), i.e. over C, H, W per sample (Ba et al.
    2016); instance: InstanceNorm2d (Ulyanov et al. 2016); group: GroupNorm(group_count(C), C) (Wu & He 2018);
    none: Identity.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=affine)
    if kind == "layer":
        return nn.GroupNorm(1, channels, affine=affine)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=affine)
    if kind == "group":
        return nn.GroupNorm(group_count(channels), channels, affine=affine)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm {kind!r} is not one of: {', '.join(NORMS)}")


class ConditionalNorm2d(nn.Module):
    """Class-conditional normalization: ``norm(x) · γ[c] + β[c]`` with per-class gain and bias tables
    (conditional batch norm of de Vries et al. 2017, as used by Miyato & Koyama 2018 in the projection-cGAN G).

    ``forward(x: N×C×H×W, c: N int64) -> N×C×H×W``. γ starts at 1 and β at 0 (the unconditional start). The
    tables are exempt from spectral norm: they scale normalized features, and dividing an all-ones table by its
    top singular value (sqrt(c_dim·C)) would shrink every gain towards 0. With kind="none" this is a per-class
    affine map (FiLM) so that G still sees the label.
    """

    def __init__(self, kind: str, channels: int, c_dim: int) -> None:
        super().__init__()
        self.norm = norm2d(kind, channels, affine=False)
        self.gain = nn.Embedding(c_dim, channels)
        self.bias = nn.Embedding(c_dim, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)
        self.gain.spectral_norm_exempt = self.bias.spectral_norm_exempt = True

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if c is None:
            raise ValueError("this generator is conditional: pass labels c (N int64)")
        return self.norm(x) * self.gain(c)[:, :, None, None] + self.bias(c)[:, :, None, None]


# ------------------------------------------------------------------------------------------ spectral norm

SN_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
             nn.Linear, nn.Embedding)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) of every Conv/Linear/Embedding weight in ``module``, in place.

    Each weight W is replaced by W / σ(W), σ estimated by one power iteration per training-mode forward (the
    vectors u, v are buffers, so they are saved, loaded and averaged like batch-norm statistics); W is
    reshaped to (out, in·k·k) (transposed convolutions: dim 1 is "out"). The state_dict keys become
    ``<layer>.parametrizations.weight.original`` and ``...weight.0._u`` / ``._v``: rebuild the module with the
    same option before loading. Call after the weights are initialised (init writes to ``original`` only through
    the parametrization). Layers marked ``spectral_norm_exempt`` and already normalized ones are skipped.
    """
    for m in list(module.modules()):
        if isinstance(m, SN_LAYERS) and not getattr(m, "spectral_norm_exempt", False) \
                and not nn.utils.parametrize.is_parametrized(m, "weight"):
            _sn(m)
    return module


# ------------------------------------------------------------------------------------------ attention

class SelfAttention(nn.Module):
    """Self-attention over the positions of a feature map (SAGAN, Zhang et al. 2019, section 3).

    ``forward(x: N×C×H×W) -> N×C×H×W = x + γ·o``: with f, g, h 1×1 convolutions to C/8 channels,
    β[j, i] = softmax_i(f(x_i)·g(x_j)) and o_j = v(Σ_i β[j, i] h(x_i)), v a 1×1 convolution back to C. γ is
    learned and starts at 0, so the block starts as the identity. Memory grows as (H·W)² per sample.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.f = nn.Conv2d(channels, inner, 1, bias=False)
        self.g = nn.Conv2d(channels, inner, 1, bias=False)
        self.h = nn.Conv2d(channels, inner, 1, bias=False)
        self.v = nn.Conv2d(inner, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, hh, ww = x.shape
        key, query, value = self.f(x).flatten(2), self.g(x).flatten(2), self.h(x).flatten(2)  # N×C'×P
        beta = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # N×P(j)×P(i), rows sum to 1
        o = (value @ beta.transpose(1, 2)).view(n, -1, hh, ww)  # o_j = Σ_i β[j, i] h(x_i)
        return x + self.gamma * self.v(o)


# ------------------------------------------------------------------------------------------ minibatch layers

class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN, section 3): one extra feature per sample.

    ``forward(x: N×C×H×W or N×F) -> N×(C+1)×H×W or N×(F+1)``. Samples n = g·M + m (M = N/G) form group m
    of G = the largest divisor of N that is at most ``group_size``; the extra channel of every member of a group
    is the mean over features (and positions) of the within-group standard deviation sqrt(Var_g + 1e-8),
    with the biased (1/G) variance, as in the published code.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = max(d for d in range(1, min(self.group_size, n) + 1) if n % d == 0)
        y = x.float().reshape(g, n // g, *x.shape[1:])
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # M×C×H×W
        s = std.flatten(1).mean(dim=1).repeat(g).to(x.dtype)  # N: the group's value for each member
        extra = s.view(n, 1, *([1] * (x.ndim - 2))).expand(n, 1, *x.shape[2:])
        return torch.cat([x, extra], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, section 3.2): B features measuring closeness to the rest
    of the batch, concatenated to D's penultimate features.

    ``forward(h: N×A) -> N×(A+B)``. M = h·T reshaped N×B×C (T: A×(B·C), a bias-free Linear);
    c_b(i, j) = exp(-‖M[i,b] − M[j,b]‖₁); o(i)_b = Σ_{j ≠ i} c_b(i, j) + b_b, as the released code's ``MinibatchLayer``
    (openai/improved-gan, nn.py): a *sum* over the other samples (the paper's eq.; so o grows with the batch) and a
    learned bias per kernel, initialized to −1 as declared there. Not reproduced: that layer's weight normalization of T
    and its data-dependent initialization (b = −mean o and T's scale from 500 examples). Computed in row chunks so
    that large evaluation batches stay within memory.
    """

    max_elements = 2**22  # B·rows·N floats per chunk of the pairwise kernel

    def __init__(self, in_features: int, kernels: int, kernel_dims: int = 16) -> None:
        super().__init__()
        self.kernels, self.kernel_dims = kernels, kernel_dims
        self.T = nn.Linear(in_features, kernels * kernel_dims, bias=False)
        self.bias = nn.Parameter(torch.full((kernels,), -1.0))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        n = h.shape[0]
        m = self.T(h).view(n, self.kernels, self.kernel_dims).transpose(0, 1)  # B×N×C
        chunk = max(1, self.max_elements // max(1, self.kernels * n))
        rows = []
        for i in range(0, n, chunk):
            c = torch.exp(-torch.cdist(m[:, i:i + chunk], m, p=1))  # B×chunk×N
            rows.append(c.sum(dim=2) - 1.0)  # minus c(i, i) = exp(0) = 1
        o = torch.cat(rows, dim=1).t() + self.bias  # N×B
        return torch.cat([h, o.to(h.dtype)], dim=1)


# ------------------------------------------------------------------------------------------ options and checks

def check_attention(attention: int, allowed: list[int]) -> None:
    """Constructors: ``attention`` is 0 (off) or one of the feature-map sides ``allowed``."""
    if attention and attention not in allowed:
        raise ValueError(f"attention at {attention}×{attention} is not possible here; use 0 or one of {allowed}")


def nondefault(cls: type, **kwargs: Any) -> dict[str, Any]:
    """The kwargs whose value differs from ``cls.__init__``'s default: stabilizer options enter the saved
    kwargs only when used, so networks exported before they existed keep the same config.json."""
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kwargs.items() if v != params[k].default}


def check_minibatch(cfg: Any) -> None:
    """``model.mbstd`` rules shared by the families that have it (``cfg``: a Config)."""
    m = cfg.model
    if m.mbstd == 1:
        raise ConfigError("model.mbstd: 1 is a group of one (its standard deviation is always 0); use 0 (off) or 2 or more, e.g. 4")
    if m.mbstd > cfg.train.batch_size:
        raise ConfigError(f"model.mbstd: group size {m.mbstd} is larger than train.batch_size {cfg.train.batch_size}; use at most the batch size")


def check_attention_field(cfg: Any, family: str, attention_resolutions: list[int]) -> None:
    """``model.attention`` must be 0 or a feature-map side of the family at ``data.resolution``."""
    m = cfg.model
    if m.attention and m.attention not in attention_resolutions:
        allowed = ", ".join(map(str, attention_resolutions))
        raise ConfigError(f"model.attention: {m.attention} is not a feature-map side of {family} at data.resolution "
                          f"{cfg.data.resolution}; use 0 (off) or one of {allowed}")


def require_images(schema: str, cfg: Any, family: str) -> None:
    """Convolutional families refuse data that is not images with a one-line ConfigError."""
    if schema != "image":
        raise ConfigError(f"model.name: {family} needs image data, not {cfg.data.name!r} ({schema}); use model.name=mlp for points")


def conv_options(cfg, info, generator: type, discriminator: type, d_norm_default: str) -> tuple[dict, dict]:  # noqa: ANN001
    """G and D constructor kwargs of a convolutional family from ModelConfig and DataInfo.

    ``auto`` norms resolve to the family's published choice (G: batch; D: ``d_norm_default``); stabilizer
    options appear only when they differ from the constructor defaults, so saved kwargs stay minimal.
    """
    c_dim = info.num_classes if cfg.conditional else 0
    common = {"c_dim": c_dim, "img_resolution": info.shape[1], "img_channels": info.shape[0], "max_width": cfg.max_width}
    g = {"z_dim": cfg.z_dim, "width": cfg.g_width, **common}
    d = {"width": cfg.d_width, **common}
    g.update(nondefault(generator, norm="batch" if cfg.g_norm == "auto" else cfg.g_norm, attention=cfg.attention,
                        spectral_norm=cfg.spectral_norm in ("g", "both")))
    d.update(nondefault(discriminator, norm=d_norm_default if cfg.d_norm == "auto" else cfg.d_norm, attention=cfg.attention,
                        spectral_norm=cfg.spectral_norm in ("d", "both"), mbstd=cfg.mbstd,
                        minibatch_discrimination=cfg.minibatch_discrimination,
                        minibatch_dims=cfg.minibatch_dims if cfg.minibatch_discrimination else 16))
    return g, d
