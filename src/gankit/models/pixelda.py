"""PixelDA's networks (Bousmalis et al. 2017, "Unsupervised Pixel-Level Domain Adaptation with Generative Adversarial
Networks", CVPR; §4 and figure 2, with the authors' released code, tensorflow/models research/domain_adaptation, for
what the paper leaves out). Family ``pixelda``.

* :class:`PixelDAGenerator` ``G(x_s, z)``: the source image with one extra channel made from the noise: z (``z_dim``
  values, U(−1, 1); the paper: 10) through a fully connected layer to R·R values (batch norm, ReLU, as the released
  code), reshaped to an R×R channel. Then a 3×3 conv to ``channels`` (64) and ReLU; ``blocks`` residual blocks (the
  paper: 6; 3×3 conv, BN, ReLU, 3×3 conv, BN, plus the block's input); a 3×3 conv to the image's channels and tanh.
  Every layer keeps the R×R resolution. (The released code's last conv is 1×1; the paper's figure and this file use
  3×3.)
* :class:`PixelDADiscriminator` ``D(x)``: a 3×3 stride-1 conv to ``channels`` (64) with LeakyReLU 0.2 and no norm,
  then 3×3 stride-2 convs doubling the channels, each with BN and LeakyReLU 0.2, until the map is 4×4 (32² → 16, 8,
  4: 128, 256, 512 channels); a fully connected layer to one logit. After every layer, dropout (``dropout``; the
  released code keeps 0.9) and, while training, Gaussian noise of std ``noise`` (0.2 in the released code), which is
  also added to D's input.
* :class:`TaskClassifier` ``T(x)``: the MNIST network of Ganin & Lempitsky 2015 that PixelDA reuses for MNIST → MNIST-M
  ("identical to the ones used in [5, 7]"): 5×5 conv ``width`` (32), ReLU, 2×2 max-pool; 5×5 conv 1.5·``width``
  (48), ReLU, 2×2 max-pool; fully connected 100, ReLU, 100, ReLU; ``classes`` logits. Widths scale with ``width``
  (the hidden layers are 100·width/32).
* :class:`PixelDAPair`: what a run exports, G and T side by side.

G and D are initialized N(0, 0.02) (the released code's ``normal_init_std``); T keeps PyTorch's default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..fields import option
from .layers import dcgan_init

Tensor = torch.Tensor


class ResidualBlock(nn.Module):
    """x + F(x), F = 3×3 conv, BN, ReLU, 3×3 conv, BN (no conv biases): N×C×H×W -> N×C×H×W."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(),
                                  nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class PixelDAGenerator(nn.Module):
    """G: (source images N×in_channels×R×R in [-1, 1], z N×z_dim) -> adapted images N×img_channels×R×R in [-1, 1]
    (see the module doc)."""

    def __init__(self, in_channels: int = 3, img_channels: int = 3, img_resolution: int = 32, z_dim: int = 10,
                 channels: int = 64, blocks: int = 6) -> None:
        super().__init__()
        self.in_channels, self.img_channels, self.img_resolution, self.z_dim = in_channels, img_channels, img_resolution, z_dim
        self.c_dim = 0
        r = img_resolution
        # z -> one R×R channel (the released code: a fully connected layer with batch norm and ReLU)
        self.noise = nn.Sequential(nn.Linear(z_dim, r * r, bias=False), nn.BatchNorm1d(r * r), nn.ReLU()) if z_dim else None
        self.stem = nn.Sequential(nn.Conv2d(in_channels + (1 if z_dim else 0), channels, 3, 1, 1), nn.ReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.out = nn.Sequential(nn.Conv2d(channels, img_channels, 3, 1, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        if self.noise is not None:
            if z is None:
                raise ValueError("PixelDAGenerator: give z (N×z_dim, U(-1, 1))")
            r = self.img_resolution
            x = torch.cat([x, self.noise(z.to(x.dtype)).view(-1, 1, r, r).to(x.dtype)], 1)
        return self.out(self.blocks(self.stem(x)))


class PixelDADiscriminator(nn.Module):
    """D: N×img_channels×R×R -> N real/fake logits (see the module doc). R a power of two ≥ 4."""

    def __init__(self, img_channels: int = 3, img_resolution: int = 32, channels: int = 64, noise: float = 0.2,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.img_channels, self.img_resolution, self.noise = img_channels, img_resolution, noise
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(img_channels, channels, 3, 1, 1), nn.LeakyReLU(0.2), nn.Dropout(dropout))]
        c, r = channels, img_resolution
        while r > 4:
            layers.append(nn.Sequential(nn.Conv2d(c, 2 * c, 3, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),
                                        nn.Dropout(dropout)))
            c, r = 2 * c, r // 2
        self.layers = nn.ModuleList(layers)
        self.fc = nn.Linear(c * r * r, 1)
        dcgan_init(self)

    def _noisy(self, h: Tensor) -> Tensor:
        return h + self.noise * torch.randn_like(h) if self.training and self.noise > 0 else h

    def forward(self, x: Tensor) -> Tensor:
        h = self._noisy(x)
        for layer in self.layers:
            h = self._noisy(layer(h))
        return self.fc(h.flatten(1)).squeeze(1)


class TaskClassifier(nn.Module):
    """T: N×img_channels×R×R in [-1, 1] -> N×classes logits (see the module doc); R a multiple of 4."""

    def __init__(self, img_channels: int = 3, img_resolution: int = 32, classes: int = 10, width: int = 32) -> None:
        super().__init__()
        self.img_channels, self.img_resolution, self.classes = img_channels, img_resolution, classes
        w2, hidden = width + width // 2, max(1, round(100 * width / 32))
        side = img_resolution // 4
        self.features = nn.Sequential(nn.Conv2d(img_channels, width, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(width, w2, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(w2 * side * side, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class PixelDAPair(nn.Module):
    """An exported PixelDA run: ``G`` (the adapting generator, from its kwargs) and ``T`` (the task classifier, from
    ``t``). ``forward(x, z)`` is G's."""

    def __init__(self, t: dict | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.G, self.T = PixelDAGenerator(**kwargs), TaskClassifier(**(t or {}))
        self.z_dim, self.img_resolution, self.img_channels, self.c_dim = self.G.z_dim, self.G.img_resolution, self.G.img_channels, 0
        self.classes = self.T.classes

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        return self.G(x, z)


# --------------------------------------------------------------------------- model.* options


@dataclass
class PixelDAOptions:
    """``model.*`` of the pixelda family (the paper's values by default; presets size them for a CPU)."""

    name: str = option("pixelda", help="model family", registry="models")
    z_dim: int = option(10, help="G's noise: z ~ U(-1, 1) of this many values, projected to one R×R input channel (the paper: 10; "
                                 "0: no noise)", low=0, high=4096)
    channels: int = option(64, help="G's channels in every layer (the paper: 64)", low=1, high=1024)
    blocks: int = option(6, help="G's residual blocks (the paper: 6 for MNIST → MNIST-M)", low=0, high=64)
    d_channels: int = option(64, help="D's first-layer channels, doubled by each stride-2 conv (the paper: 64)", low=1, high=1024)
    d_noise: float = option(0.2, help="std of the Gaussian noise added to D's input and every D layer while training (the "
                                      "released code: 0.2)", low=0.0, high=10.0)
    d_dropout: float = option(0.1, help="dropout after every D layer (the released code: keep probability 0.9)", low=0.0, high=0.95)
    t_width: int = option(32, help="task classifier T's first conv channels; the second has 1.5×, the hidden layers 100·t_width/32 "
                                   "(Ganin & Lempitsky's MNIST network, used by the paper: 32)", low=1, high=1024)


def options(cfg: Any, info: Any) -> dict[str, dict]:
    d = info.domains
    r, ca, cb = info.shape[-1], d["channels_a"], d["channels_b"]
    classes = d.get("classes") or 10
    return {"G": {"in_channels": ca, "img_channels": cb, "img_resolution": r, "z_dim": cfg.z_dim, "channels": cfg.channels,
                  "blocks": cfg.blocks},
            "D": {"img_channels": cb, "img_resolution": r, "channels": cfg.d_channels, "noise": cfg.d_noise, "dropout": cfg.d_dropout},
            # T reads source and adapted images alike: both have the target's channels (A's are replicated where grey)
            "T": {"img_channels": cb, "img_resolution": r, "classes": classes, "width": cfg.t_width}}


def check_config(cfg: Any, schema: str) -> None:
    if schema != "domains":
        raise ConfigError(f"model.name: {cfg.model.name} adapts labelled source images to a target domain; use domain data "
                          "(data.name=digits-m)")
    r = cfg.data.resolution
    if r < 4 or r & (r - 1):
        raise ConfigError(f"data.resolution: {cfg.model.name} needs a power of two ≥ 4 (D halves it to 4×4, T pools it twice); "
                          f"got {r} (use 16, 32, 64)")


__all__ = ["PixelDADiscriminator", "PixelDAGenerator", "PixelDAOptions", "PixelDAPair", "ResidualBlock", "TaskClassifier", "check_config",
           "options"]
