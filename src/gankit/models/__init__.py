"""Model families: a registry of named sets of networks, one file per family.

A :class:`Family` says which task it serves (``gan``: G and D; ``vae``: encoder and decoder), its ``model.*``
options (a dataclass of its own, gankit.models.options), how those options size each network for a dataset
(``options(model_cfg, info) -> {network: constructor kwargs}``), its cross-field rules (``check_config``) and its
traits (``style_based``: G has ``mapping`` and ``synthesis``; ``d_embed``: D has ``embed(x, c)`` features).

:func:`build_networks` returns the networks and their constructor kwargs. The kwargs are plain JSON values; they are
saved with the weights so a network is rebuilt from config.json + safetensors alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from torch import nn

from ..registry import Registry
from . import autoregressive, dcgan, density, diffusion, flows, inpaint, semi, mlp, molgan, pixelda, progan, resnet, stylegan, superres, tables, translation, vae


@dataclass(frozen=True)
class Family:
    """One model family: its networks, its options and how the config sizes them."""

    task: str
    networks: dict[str, type[nn.Module]]
    options_cls: type
    options: Callable[[Any, Any], dict[str, dict]]
    check_config: Callable[[Any], None]
    module: str
    traits: frozenset[str] = field(default_factory=frozenset)
    sampler: str = "G"  # the network a sampling pipeline holds (exported at the end of a run)

    @property
    def generator(self) -> type[nn.Module]:
        """The sampling network's class (G for GANs, the decoder for VAEs)."""
        return self.networks[self.sampler]


def gan_family(module: ModuleType, G: type | None = None, D: type | None = None, options: Callable | None = None,
               check: Callable | None = None, options_cls: type | None = None, traits: tuple[str, ...] = ()) -> Family:
    """A GAN family from a module's Generator / Discriminator / options / check_config / Options (or the given ones)."""
    opts = options or module.options

    def sized(cfg: Any, info: Any) -> dict[str, dict]:
        g, d = opts(cfg, info)
        return {"G": g, "D": d}

    return Family("gan", {"G": G or module.Generator, "D": D or module.Discriminator}, options_cls or module.Options, sized,
                  check or module.check_config, module.__name__, frozenset(traits))


MODELS: Registry[Family] = Registry("models", lambda f: isinstance(f, Family), "a gankit.models.Family")
MODELS.register("mlp", gan_family(mlp, traits=("d_embed",)), help="multilayer perceptron G and D (toys, flat vectors)")
MODELS.register("dcgan", gan_family(dcgan, traits=("d_embed",)), help="DCGAN (Radford et al. 2016), 8-256 px, batch norm, projection D")
MODELS.register("resnet", gan_family(resnet, traits=("d_embed",)),
                help="SNGAN-style ResNet (Miyato et al. 2018), 32/64/128 px, cBN G, projection D")
MODELS.register("progan", gan_family(progan, traits=("d_embed",)),
                help="ProGAN (Karras et al. 2018), progressive growing 8-1024 px, equalized lr, pixel norm, unconditional")
MODELS.register("stylegan", gan_family(stylegan, stylegan.Generator, stylegan.Discriminator, stylegan.options, stylegan.check_config,
                                       stylegan.Options, traits=("style_based",)),
                help="StyleGAN (Karras, Laine & Aila 2019), 8-1024 px: mapping net, AdaIN, noise, style mixing; ProGAN D")
MODELS.register("stylegan2", gan_family(stylegan, stylegan.Generator2, stylegan.Discriminator2, stylegan.options2, stylegan.check_config2,
                                        stylegan.Options2, traits=("style_based",)),
                help="StyleGAN2 (Karras et al. 2020), 8-1024 px: modulated/demodulated convs, skip G, residual D")
MODELS.register("vae-mlp", Family("vae", {"encoder": vae.MLPEncoder, "decoder": vae.MLPDecoder}, vae.MLPOptions, vae.mlp_options,
                                  vae.check_mlp, vae.__name__, sampler="decoder"),
                help="VAE (Kingma & Welling 2014) with MLP encoder and decoder (toys, flat vectors)")
MODELS.register("vae-conv", Family("vae", {"encoder": vae.ConvEncoder, "decoder": vae.ConvDecoder}, vae.ConvOptions, vae.conv_options,
                                   vae.check_conv, vae.__name__, sampler="decoder"),
                help="VAE (Kingma & Welling 2014) with a DCGAN-shaped convolutional encoder and decoder, 8-256 px")


def density_family(task: str, cls: type, options_cls: type, keys: tuple[str, ...], check: Callable) -> Family:
    """A likelihood-based family: one network, ``net``, sized by the data's shape and levels plus ``keys`` of model.*."""
    return Family(task, {"net": cls}, options_cls, density.sized(keys), check, cls.__module__, sampler="net")


MODELS.register("realnvp", density_family("flow", flows.RealNVP, density.RealNVPOptions, ("n_couplings", "width", "depth", "actnorm"),
                                          density.needs(("points",), "realnvp", "use model.name=glow for images")),
                help="RealNVP (Dinh et al. 2017): affine couplings with MLPs and ActNorm (points); exact likelihood and inverse")
MODELS.register("glow", density_family("flow", flows.Glow, density.GlowOptions, ("n_levels", "depth", "hidden"), density.check_glow),
                help="Glow (Kingma & Dhariwal 2018): ActNorm, invertible 1×1 convolutions, affine couplings, multi-scale (images)")
MODELS.register("made", density_family("autoregressive", autoregressive.MADE, density.MADEOptions, ("width", "depth", "components"),
                                       density.needs(("points", "image"), "made", "use data.name=ring, grid or digits")),
                help="MADE (Germain et al. 2015): a masked MLP, mixtures of Gaussians (points) or grey-level softmaxes (images)")
MODELS.register("pixelcnn", density_family("autoregressive", autoregressive.PixelCNN, density.PixelCNNOptions, ("layers", "channels", "kernel"),
                                           density.check_pixelcnn),
                help="gated PixelCNN (van den Oord et al. 2016): vertical and horizontal stacks, a softmax over grey levels (1-channel images)")
MODELS.register("ddpm", density_family("diffusion", diffusion.DDPM, density.DDPMOptions,
                                       ("timesteps", "schedule", "variance", "width", "depth", "channels", "mults", "blocks"), density.check_ddpm),
                help="DDPM (Ho et al. 2020) with DDIM sampling (Song et al. 2021): ε-MLP (points) or small U-Net (images)")

MODELS.register("ctgan", Family("ctgan", {"G": tables.Generator, "D": tables.Discriminator}, tables.CTGANOptions, tables.ctgan_options,
                                tables.check_table, tables.__name__),
                help="CTGAN (Xu et al. 2019): residual G with batch norm, PacGAN critic with dropout (tables)")
MODELS.register("tvae", Family("tvae", {"encoder": tables.Encoder, "decoder": tables.Decoder}, tables.TVAEOptions, tables.tvae_options,
                               tables.check_table, tables.__name__, sampler="decoder"),
                help="TVAE (Xu et al. 2019): MLP encoder and decoder with learned σ (tables)")


MODELS.register("molgan", Family("molgan", {"G": molgan.Generator, "D": molgan.Discriminator, "V": molgan.Discriminator}, molgan.Options,
                                 molgan.options, molgan.check_config, molgan.__name__),
                help="MolGAN (De Cao & Kipf 2018): MLP G of bond and atom types, relational-GCN D and reward network (molecules)")

MODELS.register("srresnet", Family("superres", {"G": superres.SRResNet, "D": superres.VGGDiscriminator, "G_pair": superres.SRResNetPair},
                                   superres.SRResNetOptions, superres.srresnet_options, superres.check_config, superres.__name__),
                help="SRResNet G (Ledig et al. 2017): residual blocks with BN, sub-pixel upsampling; SRGAN's VGG-style D")
MODELS.register("rrdb", Family("superres", {"G": superres.RRDBNet, "D": superres.VGGDiscriminator, "G_pair": superres.RRDBPair},
                               superres.RRDBOptions, superres.rrdb_options, superres.check_config, superres.__name__),
                help="ESRGAN's RRDB G (Wang et al. 2018): residual-in-residual dense blocks, no BN; VGG-style D")
MODELS.register("context-encoder", Family("inpaint", {"G": inpaint.ContextEncoder, "D": inpaint.PatchDiscriminator},
                                          inpaint.ContextEncoderOptions, inpaint.options, inpaint.check_config, inpaint.__name__),
                help="context encoder G (Pathak et al. 2016) with a channel-wise FC bottleneck; PatchGAN D (Isola et al. 2017)")

MODELS.register("unet", Family("pix2pix", {"G": translation.UNetGenerator, "D": translation.PatchDiscriminator}, translation.UNetOptions,
                               translation.unet_options, translation.check_config, translation.__name__),
                help="pix2pix (Isola et al. 2017): U-Net G with skips and dropout, conditional 70×70-style PatchGAN D")
MODELS.register("cyclegan", Family("cyclegan", {"G_AB": translation.ResnetGenerator, "G_BA": translation.ResnetGenerator,
                                                "D_A": translation.PatchDiscriminator, "D_B": translation.PatchDiscriminator,
                                                "pool_A": translation.ImagePool, "pool_B": translation.ImagePool,
                                                "G_pair": translation.CycleGANPair},
                                   translation.CycleGANOptions, translation.cyclegan_options, translation.check_config, translation.__name__,
                                   sampler="G_AB"),
                help="CycleGAN (Zhu et al. 2017): two ResNet Gs (6/9 blocks), two instance-norm PatchGANs, 50-image pools")
MODELS.register("stargan", Family("stargan", {"G": translation.StarGANGenerator, "D": translation.StarGANDiscriminator,
                                              "G_pair": translation.StarGANPair},
                                  translation.StarGANOptions, translation.stargan_options, translation.check_config, translation.__name__),
                help="StarGAN (Choi et al. 2018): G conditioned on a domain vector, D with real/fake and domain heads")
MODELS.register("pixelda", Family("pixelda", {"G": pixelda.PixelDAGenerator, "D": pixelda.PixelDADiscriminator, "T": pixelda.TaskClassifier,
                                              "G_pair": pixelda.PixelDAPair},
                                  pixelda.PixelDAOptions, pixelda.options, pixelda.check_config, pixelda.__name__),
                help="PixelDA (Bousmalis et al. 2017): residual G(x, z) at full resolution, noisy strided D, small CNN task classifier T")

MODELS.register("acgan", Family("acgan", {"G": dcgan.Generator, "D": semi.ClassifierDiscriminator, "G_pair": semi.GANClassifierPair},
                                semi.SemiOptions, semi.acgan_options, semi.check_config, semi.__name__, frozenset({"d_embed"})),
                help="AC-GAN (Odena et al. 2017): class-conditional DCGAN G, D with real/fake and class outputs")
MODELS.register("ssgan", Family("ssgan", {"G": dcgan.Generator, "D": semi.ClassifierDiscriminator, "G_pair": semi.GANClassifierPair},
                                semi.SemiOptions, semi.ssgan_options, semi.check_config, semi.__name__, frozenset({"d_embed"})),
                help="semi-supervised GAN (Salimans et al. 2016): DCGAN G, K-class D with an implicit fake class, weight norm")


def families_of(task: str) -> list[str]:
    """The family names that serve ``task``."""
    return [e.name for e in MODELS.entries() if e.obj.task == task]


def build_networks(model_cfg: Any, info: Any, adjust: dict[str, dict] | None = None) -> tuple[dict[str, nn.Module], dict[str, dict]]:
    """The family's networks and their constructor kwargs for ``model_cfg`` on data described by ``info``.

    ``adjust``: kwargs to change per network before building (e.g. PacGAN's D input channels).
    """
    fam = MODELS.get(model_cfg.name, "model.name")
    kwargs = fam.options(model_cfg, info)
    for net, changes in (adjust or {}).items():
        kwargs[net] = {**kwargs[net], **changes}
    return {name: fam.networks[name](**kw) for name, kw in kwargs.items()}, kwargs


def build_models(model_cfg: Any, info: Any, pack: int = 1) -> tuple[nn.Module, nn.Module, dict, dict]:
    """A GAN family's G, D and their constructor kwargs.

    ``pack`` > 1 (PacGAN, Lin et al. 2018): D judges ``pack`` samples joined on the channel / feature axis, so it
    is built with ``img_channels × pack`` inputs (every family names its input channels ``img_channels``).
    """
    fam = MODELS.get(model_cfg.name, "model.name")
    adjust = None
    if pack > 1:
        adjust = {"D": {"img_channels": fam.options(model_cfg, info)["D"]["img_channels"] * pack}}
    nets, kwargs = build_networks(model_cfg, info, adjust)
    return nets["G"], nets["D"], kwargs["G"], kwargs["D"]


__all__ = ["MODELS", "Family", "build_networks", "build_models", "families_of", "gan_family"]
