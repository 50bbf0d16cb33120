"""The ``superres`` task: single-image super-resolution, PSNR-oriented (SRResNet) or adversarial (SRGAN, ESRGAN).

Data: restoration pairs (gankit.data.photos, ``data.degrade=bicubic``): ``input`` the N×C×(R/s)×(R/s) low-resolution
patch, ``x`` the R×R original. G maps the first to the second (model families ``srresnet`` and ``rrdb``).

``sr.objective`` names the recipe; weights left empty take that paper's values:

=========  ======================================================================================  =========================
objective  G's loss (per step)                                                                       D's loss
=========  ======================================================================================  =========================
pixel      pixel loss (``sr.pixel``: mse, SRResNet; l1, ESRGAN's PSNR model)                        none (no D is trained)
srgan      w_perceptual · content + w_pixel · pixel + 10⁻³ · −log D(G(x_lr)) (Ledig et al. 2017)   −log D(x) − log(1 − D(G))
esrgan     1 · content + 10⁻² · L1 + 5·10⁻³ · relativistic average G loss (Wang et al. 2018)        relativistic average
=========  ======================================================================================  =========================

Per step G is updated on a fresh batch, then D on the same batch (BasicSR's order).

* **Content (perceptual) loss**: the distance of VGG19 feature maps (:func:`gankit.metrics.vgg.perceptual_distance`)
  at ``sr.layer``: SRGAN's φ5,4 after activation (``relu5_4``) with squared error; ESRGAN's before activation
  (``conv5_4``) with L1. ``sr.perceptual`` names the feature extractor (any registered one that gives maps):
  ``vgg19`` with ImageNet weights from ``sr.weights`` (the papers), ``vgg19-random`` (offline: a fixed random VGG19).
* **Relativistic average D** (ESRGAN eq. 1-2, after Jolicoeur-Martineau 2018): D_Ra(a, b) = σ(C(a) − E_b C(b));
  L_D = −E log D_Ra(x_r, x_f) − E log(1 − D_Ra(x_f, x_r)), and L_G the same with real and fake swapped.
* **Pixel-loss pretraining** (``sr.pretrain`` steps): both papers start the GAN from the
  PSNR-oriented network. During it G trains on the pixel loss alone and D waits; at its end a frozen copy of G is
  kept as ``G_psnr`` and exported beside the GAN, so that ESRGAN's **network interpolation**
  θ = (1 − α)·θ_PSNR + α·θ_GAN (``gankit upscale --alpha A``) picks a point between them after training.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..metrics.features import build_extractor
from ..metrics.vgg import perceptual_distance
from ..models import MODELS
from ..models.tiling import tiled
from ..types import Batch
from .base import Clock, Phase
from .pairs import PairPipeline, PairTask, standard_d_loss

Tensor = torch.Tensor
Stats = dict[str, Tensor]

#: each objective's paper values for the weights left empty
PAPER = {"pixel": {"pixel": "mse", "w_pixel": 1.0, "w_perceptual": 0.0, "w_adv": 0.0, "layer": "relu5_4", "distance": "l2"},
         "srgan": {"pixel": "mse", "w_pixel": 0.0, "w_perceptual": 1.0, "w_adv": 1e-3, "layer": "relu5_4", "distance": "l2"},
         "esrgan": {"pixel": "l1", "w_pixel": 1e-2, "w_perceptual": 1.0, "w_adv": 5e-3, "layer": "conv5_4", "distance": "l1"}}


def resolved(sc: Any) -> dict[str, Any]:
    """The objective's settings: the config's where given, else the paper's (see :data:`PAPER`)."""
    paper = PAPER[sc.objective]
    return {k: (getattr(sc, k) if getattr(sc, k) not in (None, "") else v) for k, v in paper.items()}


def pixel_loss(fake: Tensor, real: Tensor, kind: str) -> Tensor:
    """Per-image pixel loss (N): mean squared (mse) or absolute (l1) error."""
    d = (fake.float() - real.float())
    return (d.pow(2) if kind == "mse" else d.abs()).flatten(1).mean(1)


def relativistic_losses(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor]:
    """ESRGAN's relativistic average losses from critic outputs C(x_r), C(x_f) (N each): (L_D, L_G), scalars.

    L_D = −E log σ(C(x_r) − E C(x_f)) − E log(1 − σ(C(x_f) − E C(x_r))); L_G swaps real and fake."""
    rel_r, rel_f = d_real - d_fake.mean(), d_fake - d_real.mean()
    loss_d = F.softplus(-rel_r).mean() + F.softplus(rel_f).mean()
    loss_g = F.softplus(rel_r).mean() + F.softplus(-rel_f).mean()
    return loss_d, loss_g


def interpolate_state(psnr: dict[str, Tensor], gan: dict[str, Tensor], alpha: float) -> dict[str, Tensor]:
    """ESRGAN's network interpolation: (1 − α)·θ_PSNR + α·θ_GAN for every floating tensor (integer buffers from the GAN)."""
    return {k: (torch.lerp(psnr[k], v, alpha) if v.is_floating_point() else v) for k, v in gan.items()}


class SuperResolutionTask(PairTask):
    """G: low-resolution -> high-resolution, with an optional adversary (see the module doc)."""

    name = "superres"
    shown = {"psnr": "PSNR", "loss_g": "G"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        sc = cfg.sr
        self.settings = resolved(sc)
        self.adversarial = sc.objective != "pixel"
        # a relativistic critic's output bias cancels in C(x_r) − E C(x_f): it is left out rather than never trained
        self.build(adjust={"D": {"out_bias": sc.objective != "esrgan"}})
        self.pretrain_steps = sc.pretrain if self.adversarial else 0
        if self.pretrain_steps >= cfg.train.steps:
            raise ConfigError(f"sr.pretrain: {sc.pretrain} steps of pixel loss leave none of train.steps={cfg.train.steps} for the GAN; "
                              "lower sr.pretrain or raise train.steps")
        if self.pretrain_steps:
            self.networks["G_psnr"] = copy.deepcopy(self.networks["G"]).requires_grad_(False).eval()
            self.kwargs["G_psnr"] = self.kwargs["G"]
        self.feature_net = None
        if self.settings["w_perceptual"] > 0:
            with torch.random.fork_rng():  # building the extractor does not move the training's random stream
                ext = build_extractor(sc.perceptual, weights=sc.weights)
            if ext.network is None or not hasattr(ext.network, "maps"):
                raise ConfigError(f"sr.perceptual: extractor {sc.perceptual!r} gives no feature maps; use vgg19 or vgg19-random")
            self.feature_net, self.feature_name, self.feature_sha = ext.network, ext.name, ext.weights_sha256

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        if self.feature_net is not None:
            self.feature_net = self.feature_net.to(device)
        # G first on a fresh batch, then D on the same batch (BasicSR's order), D only after the pretraining
        self.phases = [Phase("G", "G", ("G",), self.g_phase, grad_stat="g_grad_norm")]
        if self.adversarial:
            self.phases.append(Phase("D", "D", ("D",), self.d_phase, data="last", counter="d_updates", grad_stat="d_grad_norm",
                                     active=lambda step: step >= self.pretrain_steps))

    def hooks(self, trainer: Any) -> list:
        return [_KeepPSNRModel(self)] if self.pretrain_steps else []

    # ------------------------------------------------------------------ the phases

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        D = self.networks["D"]
        with torch.no_grad():
            fake = self.networks["G"](batch["input"])
        d_real, d_fake = D(batch["x"]).float(), D(fake).float()
        if self.cfg.sr.objective != "esrgan":
            return standard_d_loss(d_real, d_fake)
        loss, _ = relativistic_losses(d_real, d_fake)
        return loss, {"loss_d": loss.detach(), "d_real": d_real.mean().detach(), "d_fake": d_fake.mean().detach()}

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        s = self.settings
        fake = self.networks["G"](batch["input"])
        real = batch["x"]
        pix = pixel_loss(fake, real, s["pixel"]).mean()
        with torch.no_grad():
            mse = (fake.detach().float().clamp(-1, 1) - real.float()).pow(2).flatten(1).mean(1)
            psnr = (10 * torch.log10(4.0 / mse.clamp_min(1e-10))).mean()  # the [-1, 1] range is 2 wide: peak² = 4
        stats: Stats = {"pixel": pix.detach(), "psnr": psnr}
        if clock.step < self.pretrain_steps or not self.adversarial:
            return pix, {**stats, "loss_g": pix.detach()}
        loss = s["w_pixel"] * pix
        if self.feature_net is not None:
            content = perceptual_distance(self.feature_net, fake, real, s["layer"], s["distance"]).mean()
            loss = loss + s["w_perceptual"] * content
            stats["content"] = content.detach()
        D = self.networks["D"]
        d_fake = D(fake).float()
        if self.cfg.sr.objective == "esrgan":
            with torch.no_grad():
                d_real = D(real).float()
            _, adv = relativistic_losses(d_real, d_fake)
        else:
            adv = F.softplus(-d_fake).mean()
        loss = loss + s["w_adv"] * adv
        return loss, {**stats, "adv": adv.detach(), "loss_g": loss.detach()}

    # ------------------------------------------------------------------ sampling and export

    def restore(self, net: nn.Module, inputs: Tensor, masks: Tensor | None) -> Tensor:
        return net(inputs).float().clamp(-1, 1)

    def export_spec(self) -> tuple[str, nn.Module, dict]:
        """G_ema; with a pretraining also G_psnr, together as one ``G_pair`` (psnr.*, gan.*) for network interpolation."""
        if not self.pretrain_steps:
            return super().export_spec()
        pair = MODELS.get(self.cfg.model.name).networks["G_pair"](**self.kwargs["G"])
        pair.psnr.load_state_dict(self.networks["G_psnr"].state_dict())
        pair.gan.load_state_dict(self.networks[self.sampler].state_dict())
        return "G_pair", pair, self.kwargs["G"]

    def export_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"objective": self.cfg.sr.objective, "scale": self.info.pairs["scale"],
                                "interpolable": bool(self.pretrain_steps)}
        if self.feature_net is not None:
            meta["perceptual"] = {"extractor": self.feature_name, "sha256": self.feature_sha, "layer": self.settings["layer"]}
        return meta


class _KeepPSNRModel:
    """At the end of the pixel-loss pretraining: G_psnr := G (the PSNR-oriented network the GAN starts from)."""

    def __init__(self, task: SuperResolutionTask) -> None:
        self.task = task

    def due(self, t: Any) -> bool:
        return t.step == self.task.pretrain_steps

    def __call__(self, t: Any, final: bool = False) -> None:
        if self.due(t):
            t.nets["G_psnr"].load_state_dict(t.nets["G"].state_dict())
            t.log.write("psnr_model", step=t.step, note="pixel-loss pretraining done: G_psnr kept, the adversary starts")


class SuperResolutionPipeline(PairPipeline):
    """A trained upscaler: ``pipe(lr, alpha=None, tile=0)`` -> N×C×(s·h)×(s·w) in [-1, 1].

    ``alpha`` (exports with a PSNR model): ESRGAN's network interpolation, 0 the PSNR model, 1 the GAN (default 1).
    ``tile`` > 0: process overlapping tiles of that many input pixels (:func:`gankit.models.tiling.tiled`) to bound memory."""

    def network(self, alpha: float | None = None) -> nn.Module:
        m = self.module
        if not hasattr(m, "gan"):
            if alpha is not None:
                raise ConfigError("--alpha: this model has no PSNR-oriented network to interpolate with (train it with sr.pretrain > 0)")
            return m
        if alpha is None or alpha == 1.0:
            return m.gan
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"--alpha: {alpha} is outside [0, 1] (0: the PSNR model, 1: the GAN)")
        net = copy.deepcopy(m.gan)
        net.load_state_dict(interpolate_state(m.psnr.state_dict(), m.gan.state_dict(), alpha))
        return net

    @torch.inference_mode()
    def __call__(self, inputs: Tensor, labels: Any = None, seed: int = 0, batch: int = 16, alpha: float | None = None,
                 tile: int = 0, masks: Tensor | None = None) -> Tensor:
        if not isinstance(inputs, torch.Tensor) or inputs.ndim != 4:
            raise ConfigError("upscale: give images as an N×C×H×W tensor in [-1, 1]")
        net = self.network(alpha).eval()
        device = next(net.parameters()).device
        scale = int(self.module.scale)  # a G and a G_pair both carry it
        fn = lambda x: net(x.to(device)).float().clamp(-1, 1).cpu()  # noqa: E731
        out = [tiled(fn, inputs[i:i + batch], scale, tile) if tile else fn(inputs[i:i + batch]) for i in range(0, len(inputs), batch)]
        return torch.cat(out)


SuperResolutionTask.pipeline = SuperResolutionPipeline

__all__ = ["SuperResolutionTask", "SuperResolutionPipeline", "PAPER", "interpolate_state", "pixel_loss", "relativistic_losses", "resolved"]
