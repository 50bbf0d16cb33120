"""Tasks: one file per kind of model. A task owns its networks, its phases, the terms of each phase's loss and how
it samples (the only place latents are drawn); the training loop (gankit.training.loop) runs any task the same way.

==============  ==================================================================================================
gan             a generator G(z, c) against a discriminator D(x, c): phases D (n_critic times) and G (the step)
vae             a variational autoencoder: encoder q(z|x) and decoder p(x|z) trained together on the ELBO
ctgan           CTGAN on tables: a conditional G against a packed WGAN-GP critic, training-by-sampling
tvae            TVAE on tables: encoder and decoder on the same encoded rows
molgan          MolGAN on molecular graphs: G of bond and atom types against a relational-GCN critic, plus a reward network
superres        super-resolution: SRResNet on a pixel loss, SRGAN / ESRGAN with a perceptual loss and a VGG-style D
inpaint         inpainting: a context encoder against a PatchGAN, the known pixels copied back
pix2pix         paired translation: a U-Net G against a conditional PatchGAN, plus L1
cyclegan        unpaired translation: two generators, two PatchGANs, cycle consistency and an image history
stargan         multi-domain translation: one G conditioned on a domain vector, D with a domain head, WGAN-GP
pixelda         pixel-level domain adaptation: G adapts source images to the target, T learns the task on both
acgan           AC-GAN: a class-conditional G, D with real/fake and class outputs (few labels: + unlabelled images)
ssgan           semi-supervised GAN: D a K-class classifier with an implicit fake class, G on feature matching
flow            a normalizing flow (RealNVP, Glow) on −log p(x): exact likelihood and inverse
autoregressive  MADE or a gated PixelCNN on −log p(x): exact likelihood, one dimension at a time to sample
diffusion       a DDPM on its ε-loss: the variational bound as likelihood, ancestral or DDIM sampling
==============  ==================================================================================================

``gankit list`` shows the registry; ``task.name`` in the config selects one (default ``gan``).
"""
from __future__ import annotations

from ..io.export import load_export
from ..registry import Registry
from .base import Clock, Phase, Pipeline, Task

TASKS: Registry[type] = Registry("tasks", lambda c: isinstance(c, type) and issubclass(c, Task), "a subclass of gankit.tasks.Task")

from .gan import GANPipeline, GANTask  # noqa: E402
from .vae import VAEPipeline, VAETask  # noqa: E402
from .ctgan import CTGANPipeline, CTGANTask  # noqa: E402
from .tvae import TVAEPipeline, TVAETask  # noqa: E402
from .tables import TablePipeline  # noqa: E402
from .molgan import MolGANPipeline, MolGANTask  # noqa: E402
from .pairs import PairPipeline  # noqa: E402
from .superres import SuperResolutionPipeline, SuperResolutionTask  # noqa: E402
from .inpaint import InpaintPipeline, InpaintTask  # noqa: E402
from .translation import CycleGANPipeline, CycleGANTask, Pix2PixPipeline, Pix2PixTask, StarGANPipeline, StarGANTask, TranslationPipeline  # noqa: E402
from .pixelda import PixelDAPipeline, PixelDATask  # noqa: E402

TASKS.register("gan", GANTask, help="a generator against a discriminator (every GAN recipe)")
TASKS.register("vae", VAETask, help="variational autoencoder (Kingma & Welling 2014): the ELBO, no discriminator")
TASKS.register("ctgan", CTGANTask, help="CTGAN (Xu et al. 2019): conditional tabular GAN, WGAN-GP with PacGAN, training-by-sampling")
TASKS.register("tvae", TVAETask, help="TVAE (Xu et al. 2019): a VAE on the same encoded tables")
TASKS.register("molgan", MolGANTask, help="MolGAN (De Cao & Kipf 2018): molecular graphs, WGAN-GP plus a reward network")
TASKS.register("superres", SuperResolutionTask, help="super-resolution: SRResNet, SRGAN (Ledig et al. 2017), ESRGAN (Wang et al. 2018)")
TASKS.register("inpaint", InpaintTask, help="inpainting: context encoder (Pathak et al. 2016) against a PatchGAN")
TASKS.register("pix2pix", Pix2PixTask, help="paired image-to-image translation (Isola et al. 2017): U-Net G, conditional PatchGAN, L1")
TASKS.register("cyclegan", CycleGANTask, help="unpaired translation (Zhu et al. 2017): two Gs, two PatchGANs, cycle and identity losses")
TASKS.register("stargan", StarGANTask, help="multi-domain translation (Choi et al. 2018): one conditional G, D with a domain head, WGAN-GP")
TASKS.register("pixelda", PixelDATask, help="pixel-level domain adaptation (Bousmalis et al. 2017): G adapts source images to the target, "
                                            "a task classifier T learns on source and adapted images")

from .semi import ACGANTask, ClassifyingGANPipeline, SSGANTask  # noqa: E402
from .density import AutoregressiveTask, DensityPipeline, DiffusionTask, FlowTask  # noqa: E402

TASKS.register("acgan", ACGANTask, help="AC-GAN (Odena et al. 2017): D predicts the class beside real/fake; G is class-conditional")
TASKS.register("ssgan", SSGANTask, help="semi-supervised GAN (Salimans et al. 2016): a K+1-class D, feature matching for G")
TASKS.register("flow", FlowTask, help="normalizing flow (RealNVP, Glow): exact log-likelihood, exact inverse, sampling at a temperature")
TASKS.register("autoregressive", AutoregressiveTask, help="autoregressive model (MADE, gated PixelCNN): exact log-likelihood, sequential sampling")
TASKS.register("diffusion", DiffusionTask, help="diffusion model (DDPM): the variational bound, ancestral or DDIM sampling")


def pipeline_for(module, meta: dict) -> Pipeline:  # noqa: ANN001 - an exported network
    """The pipeline of an exported network (``meta``: its config.json); exports older than the task engine are GANs."""
    return TASKS.get(meta.get("task", "gan")).pipeline(module, meta)


def load_pipeline(path, device="cpu") -> Pipeline:  # noqa: ANN001 - str | Path, str | torch.device
    """An export (a run directory, RUN/generator, RUN/best) as its task's pipeline, on ``device``."""
    module = load_export(path, device)
    return pipeline_for(module, module.gankit_meta)


__all__ = ["TASKS", "Task", "Phase", "Clock", "Pipeline", "GANTask", "GANPipeline", "VAETask", "VAEPipeline", "CTGANTask", "CTGANPipeline",
           "TVAETask", "TVAEPipeline", "TablePipeline", "MolGANTask", "MolGANPipeline", "PairPipeline", "SuperResolutionTask",
           "SuperResolutionPipeline", "InpaintTask", "InpaintPipeline", "Pix2PixTask", "Pix2PixPipeline", "CycleGANTask",
           "CycleGANPipeline", "StarGANTask", "StarGANPipeline", "TranslationPipeline", "PixelDATask", "PixelDAPipeline", "ACGANTask", "SSGANTask",
           "ClassifyingGANPipeline", "FlowTask", "AutoregressiveTask", "DiffusionTask", "DensityPipeline", "pipeline_for", "load_pipeline"]
