"""GANs whose discriminator is also a classifier: AC-GAN (Odena et al. 2017) and the semi-supervised GAN (Salimans et al.
2016, "Improved Techniques for Training GANs", §5). Families ``acgan`` and ``ssgan``.

G is the DCGAN generator (class-conditional for AC-GAN through its label embedding, unconditional for the SSGAN).
D (:class:`ClassifierDiscriminator`) is a DCGAN-style stack of strided 4×4 convolutions with LeakyReLU(0.2), dropout
and Gaussian noise on its input, ending in a global average and a linear layer of ``outputs`` logits: K class logits
for the SSGAN (the fake class's logit is the implicit 0), 1 + K for AC-GAN (column 0 is real/fake, the rest the
classes). Salimans et al.'s D uses weight normalization, dropout and input noise; ``norm`` offers weight normalization,
but batch norm (the default, as in AC-GAN's D) measured far better on the few-label digits: the SSGAN's D reached 0.80
test accuracy with one label per class against 0.54 with weight normalization (docs/downstream.md).

:class:`GANClassifierPair` is what a run exports: G (its averaged copy) and D, so the pipeline both samples and
classifies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..fields import option
from . import dcgan
from .layers import dcgan_init, require_images, widths


class ClassifierDiscriminator(nn.Module):
    """``forward(x: N×img_channels×R×R, c=None) -> N×outputs`` logits; ``embed(x) -> N×F`` penultimate features.

    Strided 4×4 convolutions halve the side from R to 4 (channels ``width`` doubling to ``max_width``), then a
    3×3 convolution, a global average (the F features) and a linear layer. ``norm``: batch, weight (weight
    normalization, Salimans & Kingma 2016; the SSGAN paper's choice) or none. ``noise``: std of Gaussian noise added to the
    input while training (Salimans et al. use 0.15 on CIFAR-10, 0.3 on MNIST); ``dropout`` after every block.
    """

    def __init__(self, img_resolution: int = 32, img_channels: int = 1, outputs: int = 10, width: int = 64, max_width: int = 256,
                 norm: str = "batch", dropout: float = 0.2, noise: float = 0.15, c_dim: int = 0) -> None:
        super().__init__()
        if norm not in ("weight", "batch", "none"):
            raise ValueError(f"norm must be weight, batch or none, got {norm!r}")
        stages = int(torch.tensor(img_resolution).log2().item()) - 2
        if 2 ** (stages + 2) != img_resolution or stages < 1:
            raise ValueError(f"ClassifierDiscriminator: resolution must be a power of two ≥ 8, got {img_resolution}")
        self.img_resolution, self.img_channels, self.outputs, self.c_dim = img_resolution, img_channels, outputs, c_dim
        self.noise = noise
        ch = list(reversed(widths(width, stages, max_width)))  # R/2 ... 4×4

        def conv(cin: int, cout: int, k: int, s: int, p: int) -> list[nn.Module]:
            layer = nn.Conv2d(cin, cout, k, s, p)
            if norm == "weight":
                return [nn.utils.parametrizations.weight_norm(layer)]
            return [layer, nn.BatchNorm2d(cout)] if norm == "batch" else [layer]

        layers: list[nn.Module] = []
        cin = img_channels
        for cout in ch:
            layers += [*conv(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, True), nn.Dropout(dropout)]
            cin = cout
        layers += [*conv(cin, cin, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(cin, outputs)
        self.feature_dim = cin
        if norm != "weight":
            dcgan_init(self)

    def embed(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """N×F: the globally averaged last feature map (feature matching reads these)."""
        del c
        if self.training and self.noise > 0:
            x = x + self.noise * torch.randn_like(x)
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.embed(x))


class GANClassifierPair(nn.Module):
    """The export of a classifying GAN: ``G`` (built from its kwargs) and ``D`` (from ``d``)."""

    def __init__(self, d: dict | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.G, self.D = dcgan.Generator(**kwargs), ClassifierDiscriminator(**(d or {}))
        self.z_dim, self.c_dim = self.G.z_dim, self.G.c_dim
        self.img_resolution, self.img_channels = self.G.img_resolution, self.G.img_channels

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z, c)


@dataclass
class SemiOptions:
    """``model.*`` of the acgan and ssgan families."""

    name: str = option("ssgan", help="model family", registry="models")
    z_dim: int = option(100, help="noise dimension", low=1, high=4096)
    g_width: int = option(64, help="G channels at the highest resolution (DCGAN generator)", low=1, high=4096)
    d_width: int = option(64, help="D channels at the highest resolution", low=1, high=4096)
    max_width: int = option(256, help="cap on channels of any convolutional layer", low=1, high=8192)
    d_norm: str = option("batch", help="D's normalization: batch, weight (Salimans et al. 2016's choice) or none; batch measured "
                                       "better here (SSGAN D, 1 label per class: 0.80 vs 0.54 test accuracy)",
                         choices=("weight", "batch", "none"))
    dropout: float = option(0.2, help="D's dropout after every block (the SSGAN paper: 0.2 on the input, 0.5 inside)", low=0.0, high=0.95)
    noise: float = option(0.15, help="std of Gaussian noise on D's input while training (the SSGAN paper: 0.15 on CIFAR-10)", low=0.0)


def check_config(cfg: Any, schema: str) -> None:
    require_images(schema, cfg, cfg.model.name)
    r = cfg.data.resolution
    if not (8 <= r <= 256 and r & (r - 1) == 0):
        raise ConfigError(f"data.resolution: {r} is not allowed for {cfg.model.name}; use a power of two from 8 to 256")


def _options(cfg: Any, info: Any, conditional: bool) -> dict[str, dict]:
    classes = info.num_classes
    res, ch = info.shape[1], info.shape[0]
    g = {"z_dim": cfg.z_dim, "c_dim": classes if conditional else 0, "img_resolution": res, "img_channels": ch, "width": cfg.g_width,
         "max_width": cfg.max_width}
    d = {"img_resolution": res, "img_channels": ch, "outputs": classes + (1 if conditional else 0), "width": cfg.d_width,
         "max_width": cfg.max_width, "norm": cfg.d_norm, "dropout": cfg.dropout, "noise": cfg.noise}
    return {"G": g, "D": d}


def acgan_options(cfg: Any, info: Any) -> dict[str, dict]:
    """AC-GAN: G conditioned on the class, D with 1 + K outputs."""
    return _options(cfg, info, True)


def ssgan_options(cfg: Any, info: Any) -> dict[str, dict]:
    """SSGAN: an unconditional G, D with K outputs (the fake class's logit is 0)."""
    return _options(cfg, info, False)




class SmallCNN(nn.Module):
    """The fixed downstream classifier of the few-label protocol: ``forward(x: N×C×R×R in [-1, 1]) -> N×classes`` logits.

    Two 3×3 convolutions of ``width`` channels, a 2×2 max-pool, a 3×3 convolution of 2·width, a 2×2 max-pool, then
    dropout 0.5, a hidden layer of 128 and the logits (ReLU throughout). R a multiple of 4.
    """

    def __init__(self, img_channels: int = 1, img_resolution: int = 16, classes: int = 10, width: int = 32) -> None:
        super().__init__()
        if img_resolution % 4:
            raise ValueError(f"SmallCNN: the resolution must be a multiple of 4, got {img_resolution}")
        side = img_resolution // 4
        self.img_channels, self.img_resolution, self.classes = img_channels, img_resolution, classes
        self.net = nn.Sequential(
            nn.Conv2d(img_channels, width, 3, padding=1), nn.ReLU(True), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(True),
            nn.MaxPool2d(2), nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2), nn.Flatten(),
            nn.Dropout(0.5), nn.Linear(2 * width * side * side, 128), nn.ReLU(True), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


__all__ = ["ClassifierDiscriminator", "GANClassifierPair", "SemiOptions", "SmallCNN", "acgan_options", "check_config", "ssgan_options"]
