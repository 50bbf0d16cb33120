"""What every likelihood-based model of the generative-family comparison is: a :class:`DensityModel`.

Flows (RealNVP, Glow), autoregressive models (MADE, gated PixelCNN) and diffusion models (DDPM with DDIM sampling)
are single networks trained on a per-sample objective, so one task runs them all (gankit.tasks.density). Each is an
``nn.Module`` built from plain JSON keyword arguments (saved with its weights on export) that offers:

* ``loss(x) -> N``: the per-sample training objective (nats for flows and autoregressive models: −log p; DDPM's
  simplified ε-loss, not a likelihood). The task minimizes its mean.
* ``log_prob(x, generator=None) -> N``: log-likelihood of each sample in nats (float32). For continuous data (points)
  a log-density; for discrete images (``levels`` > 0) the log-probability of the grey levels. ``likelihood_kind``
  says what it is: ``"exact"`` (flows on points, autoregressive models) or ``"bound"`` (a lower bound: a flow's
  uniform dequantization, DDPM's variational bound), so tables can mark bounds as bounds.
* ``sample(n, generator=None, **options) -> n×shape`` in data space (points; images in [-1, 1] on their grey
  levels), float32. Options a family understands: ``temperature`` (flows), ``sampler`` / ``steps`` / ``eta``
  (diffusion); unknown options are refused with a ``ValueError``.
* flows only: ``encode(x) -> z`` and ``decode(z) -> x`` (exact inverses; ``reversible = True``).

Images with ``levels`` = K grey levels take the values −1 + 2k/(K − 1), k = 0..K−1 (the bundled 8×8 digits: K = 17,
8-bit images: K = 256); :func:`to_levels` and :func:`from_levels` convert. Inputs a little off the grid (8-bit rounding)
map to the nearest level.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import ConfigError
from ..fields import option

Tensor = torch.Tensor


def to_levels(x: Tensor, levels: int) -> Tensor:
    """[-1, 1] values -> integer levels 0..levels−1 (int64), nearest level."""
    return torch.round((x.float().clamp(-1, 1) + 1) * (levels - 1) / 2).long()


def from_levels(k: Tensor, levels: int) -> Tensor:
    """Integer levels -> [-1, 1] values −1 + 2k/(levels − 1) (float32)."""
    return k.float() * (2.0 / (levels - 1)) - 1.0


def snap(x: Tensor, levels: int) -> Tensor:
    """Samples onto the nearest of the grey levels (float32); a NaN stays NaN, so a diverged sample shows as non-finite
    rather than as a level."""
    return torch.where(torch.isnan(x), x.float(), from_levels(to_levels(x, levels), levels).to(x.device))


def check_options(family: str, options: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """A ``ValueError`` naming the first sampling option ``family`` does not understand."""
    for key in options:
        if key not in allowed:
            raise ValueError(f"{family} sampling takes {', '.join(allowed) or 'no options'}; not {key!r}")


class DensityModel(nn.Module):
    """Base of the likelihood-based families (see the module doc). Subclasses set ``data_shape`` and ``levels``."""

    likelihood_kind: ClassVar[str] = "exact"
    loss_name: ClassVar[str] = "nll"  # what ``loss`` is: nll (−log p, nats) or mse (DDPM's ε-loss)
    reversible: ClassVar[bool] = False
    sample_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, data_shape: tuple[int, ...], levels: int = 0) -> None:
        super().__init__()
        self.data_shape = tuple(int(s) for s in data_shape)
        self.levels = int(levels)
        self.c_dim = 0  # unconditional (what sampling commands ask of any sampling network)

    @property
    def dims(self) -> int:
        """Dimensions of one sample (D, or C·H·W)."""
        n = 1
        for s in self.data_shape:
            n *= s
        return n

    def loss(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None, **options: Any) -> Tensor:
        raise NotImplementedError


# ------------------------------------------------------------------ model.* of each family, sized from the data


@dataclass
class RealNVPOptions:
    """``model.*`` of ``realnvp`` (points)."""

    name: str = option("realnvp", help="model family", registry="models")
    n_couplings: int = option(8, help="affine coupling layers (masks alternate)", low=1, high=256)
    width: int = option(128, help="hidden units of each coupling's scale/translation MLP", low=1, high=8192)
    depth: int = option(2, help="hidden layers of each coupling's MLP", low=1, high=32)
    actnorm: bool = option(True, help="ActNorm (Kingma & Dhariwal 2018) before each coupling")


@dataclass
class GlowOptions:
    """``model.*`` of ``glow`` (images)."""

    name: str = option("glow", help="model family", registry="models")
    n_levels: int = option(2, help="levels L of the multi-scale architecture (a squeeze before each, a split after all but the last)",
                           low=1, high=8)
    depth: int = option(8, help="steps K per level (ActNorm, invertible 1×1 convolution, affine coupling)", low=1, high=256)
    hidden: int = option(64, help="channels of each coupling's network", low=1, high=8192)


@dataclass
class MADEOptions:
    """``model.*`` of ``made`` (points; images as vectors of grey levels)."""

    name: str = option("made", help="model family", registry="models")
    width: int = option(256, help="hidden units of each masked layer", low=1, high=8192)
    depth: int = option(2, help="hidden masked layers", low=1, high=32)
    components: int = option(10, help="points: Gaussians in each conditional's mixture", low=1, high=256)


@dataclass
class PixelCNNOptions:
    """``model.*`` of ``pixelcnn`` (one-channel images of discrete grey levels)."""

    name: str = option("pixelcnn", help="model family", registry="models")
    layers: int = option(5, help="gated layers, the first masked type A (the current pixel hidden), the rest type B", low=1, high=128)
    channels: int = option(32, help="channels of both stacks", low=1, high=8192)
    kernel: int = option(3, help="kernel size (odd, at least 3)", low=3, high=15)


@dataclass
class DDPMOptions:
    """``model.*`` of ``ddpm`` (points: an MLP ε-network; images: a small U-Net)."""

    name: str = option("ddpm", help="model family", registry="models")
    timesteps: int = option(1000, help="diffusion steps T (Ho et al. 2020: 1000)", low=2, high=100000)
    schedule: str = option("linear", help="β schedule: linear 1e-4 … 0.02 (Ho et al. 2020) or cosine (Nichol & Dhariwal 2021)",
                           choices=("linear", "cosine"))
    variance: str = option("beta", help="reverse-process variance σ_t²: beta (β_t) or beta_tilde (the posterior's β̃_t)",
                           choices=("beta", "beta_tilde"))
    width: int = option(128, help="points: hidden units of the ε-MLP", low=1, high=8192)
    depth: int = option(3, help="points: hidden layers of the ε-MLP", low=1, high=32)
    channels: int = option(32, help="images: U-Net channels at full resolution", low=1, high=8192)
    mults: list[int] = option(help="images: channel multiplier per U-Net resolution (each but the first halves the side)", factory=lambda: [1, 2])
    blocks: int = option(1, help="images: residual blocks per U-Net resolution", low=1, high=16)


def _data_kwargs(info: Any) -> dict[str, Any]:
    return {"data_shape": list(info.shape), "levels": info.levels if info.schema == "image" else 0}


def sized(keys: tuple[str, ...]) -> Any:
    """An options function: ``net``'s kwargs = the data's shape and levels + the named ``model.*`` fields."""
    def options(cfg: Any, info: Any) -> dict[str, dict]:
        return {"net": {**_data_kwargs(info), **{k: getattr(cfg, k) for k in keys}}}
    return options


def needs(schemas: tuple[str, ...], family: str, alternative: str) -> Any:
    """A check_config: ``family`` models only data of ``schemas`` (else one line naming ``alternative``)."""
    def check(cfg: Any, schema: str) -> None:
        if schema not in schemas:
            raise ConfigError(f"model.name: {family} models {' or '.join(schemas)} data, not {cfg.data.name!r} ({schema}); {alternative}")
    return check


def check_glow(cfg: Any, schema: str) -> None:
    needs(("image",), "glow", "use model.name=realnvp for points")(cfg, schema)
    r, step = cfg.data.resolution, 2 ** cfg.model.n_levels
    if r % step:
        raise ConfigError(f"model.n_levels: {cfg.model.n_levels} levels squeeze the side {cfg.model.n_levels} times; data.resolution={r} is not "
                          f"divisible by {step}: use fewer levels or a resolution divisible by {step}")


def check_pixelcnn(cfg: Any, schema: str) -> None:
    needs(("image",), "pixelcnn", "use model.name=made for points")(cfg, schema)
    if cfg.data.channels != 1:
        raise ConfigError(f"data.channels: this gated PixelCNN models one channel; got {cfg.data.channels}: use data.channels=1")
    if cfg.model.kernel % 2 == 0:
        raise ConfigError(f"model.kernel: {cfg.model.kernel} is even; use an odd kernel size (3, 5, 7)")


def check_ddpm(cfg: Any, schema: str) -> None:
    needs(("points", "image"), "ddpm", "use data.name=ring, grid or digits")(cfg, schema)
    if schema == "image":
        r, step = cfg.data.resolution, 2 ** (len(cfg.model.mults) - 1)
        if not cfg.model.mults or r % step or r // step < 2:
            raise ConfigError(f"model.mults: {len(cfg.model.mults)} U-Net resolutions halve data.resolution={r} "
                              f"{len(cfg.model.mults) - 1} times; use fewer entries or a larger resolution")


__all__ = ["DensityModel", "to_levels", "from_levels", "snap", "check_options", "RealNVPOptions", "GlowOptions", "MADEOptions", "PixelCNNOptions",
           "DDPMOptions", "sized", "needs", "check_glow", "check_pixelcnn", "check_ddpm"]
