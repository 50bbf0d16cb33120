"""VAE encoders and decoders (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"): ``vae-mlp`` and ``vae-conv``.

* Encoder ``forward(x) -> (mu, logvar)``, each N×z_dim: the Gaussian q(z | x) = N(μ, diag exp(logvar)).
* Decoder ``forward(z) -> params``: the parameters of p(x | z) for its ``likelihood`` (gankit.likelihoods): N×(k·D)
  for points, N×(k·C)×H×W for images, k parameters per dimension (2 for gaussian and logistic, 1 for bernoulli).

``vae-mlp`` works on flat vectors (points; images are flattened); ``vae-conv`` mirrors the DCGAN: the encoder halves
the side with 4×4 stride-2 convolutions (batch norm after the first, LeakyReLU 0.2) down to 4×4 and a linear layer
gives μ and log σ²; the decoder maps z to 4×4 and doubles with 4×4 stride-2 transposed convolutions (batch norm, ReLU).
Widths double towards the 4×4 end, capped at ``max_width``, as in the DCGAN family.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..fields import option
from ..likelihoods import LIKELIHOODS
from .layers import dcgan_init, widths
from .options import VAEModel


def _flat_size(img_resolution: int, img_channels: int) -> int:
    return img_channels * (img_resolution ** 2 if img_resolution else 1)


class MLPEncoder(nn.Module):
    """``forward(x: N×D or N×C×R×R) -> (mu, logvar)``, N×z_dim each."""

    def __init__(self, z_dim: int = 2, img_resolution: int = 0, img_channels: int = 2, width: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        fan_in = _flat_size(img_resolution, img_channels)
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(fan_in, 2 * z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.out(self.body(x.flatten(1))).chunk(2, dim=1)
        return mu, logvar


class MLPDecoder(nn.Module):
    """``forward(z: N×z_dim) -> params``: N×(k·D) for points, N×(k·C)×R×R for flattened images."""

    def __init__(self, z_dim: int = 2, img_resolution: int = 0, img_channels: int = 2, width: int = 128, depth: int = 3,
                 likelihood: str = "gaussian") -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, 0
        self.img_resolution, self.img_channels, self.likelihood = img_resolution, img_channels, likelihood
        self.k = LIKELIHOODS.get(likelihood).k
        layers: list[nn.Module] = []
        fan_in = z_dim
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        layers.append(nn.Linear(fan_in, self.k * _flat_size(img_resolution, img_channels)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        if self.img_resolution:  # parameter j of channel c is channel j·C + c
            return out.view(-1, self.k * self.img_channels, self.img_resolution, self.img_resolution)
        return out


def _stages(img_resolution: int) -> int:
    return max(img_resolution.bit_length() - 3, 1)  # halvings from R down to 4 (R = 4·2^stages)


class ConvEncoder(nn.Module):
    """``forward(x: N×C×R×R) -> (mu, logvar)``, N×z_dim each (DCGAN-D-shaped trunk)."""

    def __init__(self, z_dim: int = 16, img_resolution: int = 32, img_channels: int = 1, width: int = 64, max_width: int = 512) -> None:
        super().__init__()
        self.z_dim = z_dim
        n = _stages(img_resolution)
        chans = list(reversed(widths(width, n, max_width)))  # channels after each halving: width at R/2 … widest at 4×4
        layers: list[nn.Module] = []
        cin = img_channels
        for i, cout in enumerate(chans):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2))
            cin = cout
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(cin * 16, 2 * z_dim)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.out(self.body(x).flatten(1)).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """``forward(z: N×z_dim) -> params`` N×(k·C)×R×R (DCGAN-G-shaped)."""

    def __init__(self, z_dim: int = 16, img_resolution: int = 32, img_channels: int = 1, width: int = 64, max_width: int = 512,
                 likelihood: str = "bernoulli") -> None:
        super().__init__()
        self.z_dim, self.c_dim = z_dim, 0
        self.img_resolution, self.img_channels, self.likelihood = img_resolution, img_channels, likelihood
        self.k = LIKELIHOODS.get(likelihood).k
        n = _stages(img_resolution)
        chans = widths(width, n, max_width)  # widest at 4×4, width at R/2
        self.c0 = chans[0]
        self.input = nn.Sequential(nn.Linear(z_dim, chans[0] * 16), nn.Unflatten(1, (chans[0], 4, 4)),
                                   nn.BatchNorm2d(chans[0]), nn.ReLU())
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(chans[-1], self.k * img_channels, 4, 2, 1))
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.input(z))


@dataclass
class MLPOptions(VAEModel):
    """``model.*`` of the vae-mlp family."""

    name: str = option("vae-mlp", help="model family", registry="models")
    z_dim: int = option(2, help="latent dimension", low=1, high=4096)
    width: int = option(128, help="hidden units of encoder and decoder", low=1, high=4096)
    depth: int = option(3, help="hidden layers of encoder and decoder", low=1, high=32)


@dataclass
class ConvOptions(VAEModel):
    """``model.*`` of the vae-conv family."""

    max_width: int = option(512, help="cap on channels of any convolutional layer", low=1, high=8192)


def _data(info: Any) -> dict[str, int]:
    if info.schema == "points":
        return {"img_resolution": 0, "img_channels": info.shape[0]}
    return {"img_resolution": info.shape[1], "img_channels": info.shape[0]}


def mlp_options(cfg: Any, info: Any) -> dict[str, dict]:
    """Encoder and decoder constructor kwargs (the decoder's ``likelihood`` is set by the task)."""
    common = {"z_dim": cfg.z_dim, **_data(info), "width": cfg.width, "depth": cfg.depth}
    return {"encoder": dict(common), "decoder": dict(common)}


def conv_options(cfg: Any, info: Any) -> dict[str, dict]:
    common = {"z_dim": cfg.z_dim, **_data(info), "width": cfg.width, "max_width": cfg.max_width}
    return {"encoder": dict(common), "decoder": dict(common)}


def check_mlp(cfg: Any, schema: str) -> None:
    """Any data; images are flattened."""


def check_conv(cfg: Any, schema: str) -> None:
    if schema != "image":
        raise ConfigError(f"model.name: vae-conv needs image data, not {cfg.data.name!r} ({schema}); use model.name=vae-mlp for points")
    r = cfg.data.resolution
    if not (8 <= r <= 256 and r & (r - 1) == 0):
        raise ConfigError(f"data.resolution: {r} is not allowed for vae-conv; use a power of two from 8 to 256")


__all__ = ["MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder", "MLPOptions", "ConvOptions", "mlp_options", "conv_options"]
