"""The ``model.*`` fields, declared per family: each family's options are a dataclass made of the pieces below.

A family lists only the fields it uses, so ``model.w_dim`` exists for the style-based families and nowhere else, and
a DCGAN run's config (and report) shows no mapping network. Pieces are mixins of typed :func:`~gankit.fields.option`
fields; ``gankit list --config`` prints every family's fields.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..fields import option


@dataclass
class GANModel:
    """Every GAN family: a generator G(z, c) and a discriminator D(x, c)."""

    name: str = option("dcgan", help="model family", registry="models")
    z_dim: int = option(100, help="noise dimension", low=1, high=4096)
    conditional: bool = option(False, help="condition G and D on the dataset's labels")
    g_width: int = option(64, help="G channels at the highest resolution (conv) or hidden units (mlp)", low=1, high=4096)
    d_width: int = option(64, help="D channels at the highest resolution (conv) or hidden units (mlp)", low=1, high=4096)


@dataclass
class MaxWidth:
    max_width: int = option(512, help="cap on channels of any convolutional layer", low=1, high=8192)


@dataclass
class SpectralNorm:
    spectral_norm: str = option("none", help="spectral normalization (Miyato et al. 2018) of every conv/linear/embedding weight in D, G, both or none",
                                choices=("none", "d", "g", "both"))


@dataclass
class Norms:
    g_norm: str = option("auto", help="G's normalization; auto: the family's published choice (batch)",
                         choices=("auto", "batch", "layer", "instance", "group", "none"))
    d_norm: str = option("auto", help="D's normalization; auto: the family's published choice (dcgan batch, resnet none)",
                         choices=("auto", "batch", "layer", "instance", "group", "none"))
    attention: int = option(0, help="feature-map side at which G and D get one SAGAN self-attention block; 0: off", low=0, high=1024)


@dataclass
class MinibatchStd:
    mbstd: int = option(0, help="D: group size of the minibatch standard-deviation feature (Karras et al. 2018); 0: off", low=0, high=1024)


@dataclass
class MinibatchFeatures(MinibatchStd):
    minibatch_discrimination: int = option(0, help="D: kernels B of minibatch discrimination (Salimans et al. 2016) on its penultimate "
                                                   "features; 0: off", low=0, high=1024)
    minibatch_dims: int = option(16, help="D: dimensions C of each minibatch-discrimination kernel", low=1, high=1024)


@dataclass
class Style:
    w_dim: int = option(512, help="dimension of the intermediate latent w", low=1, high=4096)
    mapping_layers: int = option(8, help="layers of the mapping network z -> w (Karras et al. 2019: 8)", low=1, high=32)
    mapping_lr_mul: float = option(0.01, help="learning-rate multiplier of the mapping network", low=0.0, high=1.0)
    style_mixing: float = option(0.9, help="probability of style-mixing regularization per training batch", low=0.0, high=1.0)
    w_avg_beta: float = option(0.995, help="decay of the tracked average w used by the truncation trick", low=0.0, high=1.0)


@dataclass
class Progressive:
    start_resolution: int = option(4, help="resolution the growing starts from (a power of two)", low=4, high=1024)
    phase_kimg: float = option(600.0, help="thousands of real images per fade-in phase and per stable phase (Karras et al. 2018: 800)", low=0.0)


@dataclass
class VAEModel:
    """Every VAE family: an encoder q(z|x) and a decoder p(x|z)."""

    name: str = option("vae-conv", help="model family", registry="models")
    z_dim: int = option(16, help="latent dimension", low=1, high=4096)
    width: int = option(64, help="channels at the highest resolution (conv) or hidden units (mlp) of encoder and decoder", low=1, high=4096)


__all__ = ["GANModel", "MaxWidth", "SpectralNorm", "Norms", "MinibatchStd", "MinibatchFeatures", "Style", "Progressive", "VAEModel"]
