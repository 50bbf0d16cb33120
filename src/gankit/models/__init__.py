"""Model families: a registry of (Generator, Discriminator, options) triples, one file per family.

``build_models(model_cfg, data_info)`` returns ``(G, D, g_kwargs, d_kwargs)``. The kwargs are plain JSON
values; they are saved with the weights so a network is rebuilt from config.json + safetensors alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from torch import nn

from ..registry import Registry
from . import dcgan, mlp, progan, resnet, stylegan


@dataclass(frozen=True)
class Family:
    """One model family: its two networks and how the config sizes them."""

    generator: type[nn.Module]
    discriminator: type[nn.Module]
    options: Callable[[Any, Any], tuple[dict, dict]]
    check_config: Callable[[Any], None]
    module: str


def family_of(module: ModuleType) -> Family:
    return Family(module.Generator, module.Discriminator, module.options, module.check_config, module.__name__)


MODELS: Registry[Family] = Registry("models", lambda f: isinstance(f, Family), "a gankit.models.Family")
MODELS.register("mlp", family_of(mlp), help="multilayer perceptron G and D (toys, flat vectors)")
MODELS.register("dcgan", family_of(dcgan), help="DCGAN (Radford et al. 2016), 8-256 px, batch norm, projection D")
MODELS.register("resnet", family_of(resnet), help="SNGAN-style ResNet (Miyato et al. 2018), 32/64/128 px, cBN G, projection D")
MODELS.register("progan", family_of(progan),
                help="ProGAN (Karras et al. 2018), progressive growing 8-1024 px, equalized lr, pixel norm, unconditional")
MODELS.register("stylegan", Family(stylegan.Generator, stylegan.Discriminator, stylegan.options, stylegan.check_config,
                                   stylegan.__name__),
                help="StyleGAN (Karras, Laine & Aila 2019), 8-1024 px: mapping net, AdaIN, noise, style mixing; ProGAN D")
MODELS.register("stylegan2", Family(stylegan.Generator2, stylegan.Discriminator2, stylegan.options2, stylegan.check_config2,
                                    stylegan.__name__),
                help="StyleGAN2 (Karras et al. 2020), 8-1024 px: modulated/demodulated convs, skip G, residual D")


def build_models(model_cfg: Any, info: Any, pack: int = 1) -> tuple[nn.Module, nn.Module, dict, dict]:
    """G, D and their constructor kwargs for ``model_cfg`` (ModelConfig) on data described by ``info``.

    ``pack`` > 1 (PacGAN, Lin et al. 2018): D judges ``pack`` samples joined on the channel / feature axis, so it
    is built with ``img_channels × pack`` inputs (every family names its input channels ``img_channels``).
    """
    fam = MODELS.get(model_cfg.name, "model.name")
    g_kwargs, d_kwargs = fam.options(model_cfg, info)
    if pack > 1:
        d_kwargs = {**d_kwargs, "img_channels": d_kwargs["img_channels"] * pack}
    return fam.generator(**g_kwargs), fam.discriminator(**d_kwargs), g_kwargs, d_kwargs


__all__ = ["MODELS", "Family", "build_models"]
