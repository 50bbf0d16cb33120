"""GANs whose discriminator learns the classes: ``acgan`` (Odena et al. 2017) and ``ssgan`` (Salimans et al. 2016, §5).

Both train on labelled images; with the few-label protocol (``data.labels_per_class=k data.unlabelled=true``) each
batch holds ``x`` (any training image, label hidden) and ``xl`` / ``yl`` (labelled images): the real/fake terms read
``x``, the class terms ``xl`` / ``yl``. Without hidden labels ``x`` / ``label`` serve both.

**AC-GAN.** D has 1 + K outputs: s (real/fake logit) and class logits. With L_S = log P(real | x) + log P(fake | G(z, c))
and L_C = log P(y | x) + log P(c | G(z, c)), D maximizes L_S + λ·L_C and G maximizes λ·L_C − L_S (the paper's
eqs. 2-3), G through the non-saturating −log P(real | G(z, c)). ``acgan.fake_cls=false`` keeps generated images out
of D's class term.

**Semi-supervised GAN.** D has K outputs l(x); the "fake" class K+1 has the implicit logit 0, so with Z(x) = Σ_k exp l_k(x)
D(x) = P(real | x) = Z / (Z + 1). D minimizes

    L = −E_{xl,yl} log softmax(l(xl))_{yl}                       (supervised: the K real classes)
        − E_x [lse l(x) − softplus(lse l(x))]                      (−log D(x), unlabelled real images)
        + E_z softplus(lse l(G(z)))                                (−log(1 − D(G(z))), generated images)

(the paper's L_supervised + L_unsupervised, §5). G minimizes feature matching ‖E f(x) − E f(G(z))‖² on D's
penultimate features (§3.1; the paper's choice for semi-supervised learning), optionally plus −log D(G(z)).

The product of both is D as a classifier: every ``eval.every`` steps (default ``train.sample_every``) and at the end a
``classify`` event logs D's accuracy on the test split. The export holds G (its average) and D: ``pipe(n, labels)``
samples, ``pipe.classify(x)`` gives class probabilities.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import build_dataset
from ..data.images import to_float
from ..errors import ConfigError
from ..models import build_networks
from ..types import Batch
from .base import Clock, Pipeline, Task, classify_in_eval_mode, critic_then_generator, export_with, score_hook
from .gan import GeneratorSampling, draw_latents, frozen, run_generator

Tensor = torch.Tensor
Stats = dict[str, Tensor]


def ssgan_d_terms(real_logits: Tensor, fake_logits: Tensor, labelled_logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """The semi-supervised GAN's D loss (Salimans et al. 2016, §5) from K class logits per image (the fake class's
    logit is the implicit 0): (supervised cross-entropy over the K classes, unsupervised −log D(x) − log(1 − D(G(z))))
    with D(x) = Z/(Z + 1), Z = Σ exp l_k. Inputs N×K logits, N int64 labels; returns two scalars."""
    sup = F.cross_entropy(labelled_logits, labels)
    lse_real, lse_fake = torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1)
    unsup = (F.softplus(lse_real) - lse_real).mean() + F.softplus(lse_fake).mean()
    return sup, unsup


def real_probability(logits: Tensor) -> Tensor:
    """D(x) = P(real | x) = Z/(Z + 1) of the K+1-class D: N×K logits -> N."""
    return torch.sigmoid(torch.logsumexp(logits, 1))


class ClassifyingGANTask(GeneratorSampling, Task):
    """What AC-GAN and the SSGAN share: G and D from the family, G_ema, the labelled / unlabelled batches, D's accuracy
    on the test split, the export of G_ema with D."""

    ema = {"G_ema": "G"}
    sampler = "G_ema"
    guarded = ("d_real", "d_fake")
    shown = {"d_loss": "D", "g_loss": "G"}
    conditional = False

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        if not info.num_classes:
            raise ConfigError(f"task.name: {self.name} learns classes; {info.name!r} has no labels")
        if cfg.train.updates != "alternating":
            raise ConfigError(f"train.updates: {self.name} alternates D's and G's updates; simultaneous updates are the gan "
                              "task's (task.name=gan)")
        self.networks, self.kwargs = build_networks(cfg.model, info)
        self.num_classes = info.num_classes
        self.classes = self.num_classes if self.conditional else 0
        self.z_dim = cfg.model.z_dim
        test = build_dataset(cfg.data, "test")
        self.test_x, self.test_y = to_float(test.images), test.labels

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        tc = self.cfg.train
        return {"G": (list(self.networks["G"].parameters()), tc.lr_g), "D": (list(self.networks["D"].parameters()), tc.lr_d)}

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = critic_then_generator(self.d_phase, self.g_phase, self.cfg.train.n_critic)

    @staticmethod
    def labelled(batch: Batch) -> tuple[Tensor, Tensor]:
        """(labelled images, labels) of a batch: ``xl`` / ``yl`` under the few-label protocol, else ``x`` / ``label``."""
        return (batch["xl"], batch["yl"]) if "xl" in batch else (batch["x"], batch["label"])

    def class_logits(self, out: Tensor) -> Tensor:
        """D's class logits N×K from its outputs."""
        return out

    def accuracy(self) -> dict[str, float]:
        logits = self.class_logits(classify_in_eval_mode(self.networks["D"], self.test_x, self.device))
        return {"test_acc": float((logits.argmax(1) == self.test_y).float().mean()), "n": len(self.test_y)}

    def hooks(self, trainer: Any) -> list:
        return [score_hook(self, "classify", self.accuracy)]

    def compile_targets(self) -> list[str]:
        return ["G"]  # D is called on several batches per phase: compiling it buys little

    def export_spec(self) -> tuple[str, nn.Module, dict]:
        """G_ema with D beside it (the classifier), as ``G_pair``."""
        return export_with(self, "D")

    def export_meta(self) -> dict[str, Any]:
        return {"classifier": self.name, "class_names": list(self.info.class_names)}


class ACGANTask(ClassifyingGANTask):
    """AC-GAN (see the module doc)."""

    name = "acgan"
    conditional = True

    def class_logits(self, out: Tensor) -> Tensor:
        return out[:, 1:]

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        ac, G, D = self.cfg.acgan, self.networks["G"], self.networks["D"]
        x = batch["x"]
        xl, yl = self.labelled(batch)
        z, c = self.train_latents(len(x), x.device)
        with torch.no_grad():
            fake = G(z, c)
        out_real, out_fake = D(x).float(), D(fake).float()
        src = F.softplus(-out_real[:, 0]).mean() + F.softplus(out_fake[:, 0]).mean()  # −L_S
        lab_logits = (out_real if xl is x else D(xl).float())[:, 1:]
        cls = F.cross_entropy(lab_logits, yl)
        if ac.fake_cls:
            cls = cls + F.cross_entropy(out_fake[:, 1:], c)
        loss = src + ac.cls * cls
        return loss, {"d_loss": loss.detach(), "d_src": src.detach(), "d_cls": cls.detach(), "d_real": out_real[:, 0].mean().detach(),
                      "d_fake": out_fake[:, 0].mean().detach(), "cls_acc": (lab_logits.argmax(1) == yl).float().mean().detach()}

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        ac, G, D = self.cfg.acgan, self.networks["G"], self.networks["D"]
        z, c = self.train_latents(len(batch["x"]), batch["x"].device)
        with frozen(D):
            out = D(G(z, c)).float()
        adv = F.softplus(-out[:, 0]).mean()
        cls = F.cross_entropy(out[:, 1:], c)
        loss = adv + ac.cls * cls
        return loss, {"g_loss": loss.detach(), "g_adv": adv.detach(), "g_cls": cls.detach(),
                      "fake_cls_acc": (out[:, 1:].argmax(1) == c).float().mean().detach()}


class SSGANTask(ClassifyingGANTask):
    """The semi-supervised GAN (see the module doc)."""

    name = "ssgan"
    shown = {"d_loss": "D", "fm": "FM"}

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        sc, G, D = self.cfg.ssgan, self.networks["G"], self.networks["D"]
        x = batch["x"]
        xl, yl = self.labelled(batch)
        z, _ = self.train_latents(len(x), x.device)
        with torch.no_grad():
            fake = G(z)
        real_logits, fake_logits = D(x).float(), D(fake).float()
        lab_logits = real_logits if xl is x else D(xl).float()
        sup, unsup = ssgan_d_terms(real_logits, fake_logits, lab_logits, yl)
        loss = sup + sc.unsup * unsup
        return loss, {"d_loss": loss.detach(), "d_sup": sup.detach(), "d_unsup": unsup.detach(),
                      "d_real": torch.logsumexp(real_logits, 1).mean().detach(), "d_fake": torch.logsumexp(fake_logits, 1).mean().detach(),
                      "train_acc": (lab_logits.argmax(1) == yl).float().mean().detach()}

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        sc, G, D = self.cfg.ssgan, self.networks["G"], self.networks["D"]
        x = batch["x"]
        z, _ = self.train_latents(len(x), x.device)
        fake = G(z)
        with frozen(D):
            with torch.no_grad():
                real_f = D.embed(x).float()
            fake_f = D.embed(fake).float()
            fm = (real_f.mean(0) - fake_f.mean(0)).pow(2).sum()
            loss = sc.fm * fm
            stats = {"fm": fm.detach()}
            if sc.adv:
                lse = torch.logsumexp(D.out(fake_f), 1)
                adv = (F.softplus(lse) - lse).mean()  # −log D(G(z))
                loss = loss + sc.adv * adv
                stats["g_adv"] = adv.detach()
        stats["g_loss"] = loss.detach()
        return loss, stats


class ClassifyingGANPipeline(Pipeline):
    """A trained AC-GAN or SSGAN: ``pipe(n, labels=None, seed=0)`` samples (AC-GAN: of the given classes, default the
    classes in turn) and ``pipe.classify(x)`` gives D's class probabilities N×K for images N×C×R×R in [-1, 1]."""

    def __call__(self, n: int, labels: Any = None, seed: int = 0, batch: int = 512) -> Tensor:
        if n < 1:
            raise ConfigError(f"--n: {n} must be at least 1")
        G = self.module.G
        z, c = draw_latents(n, G.z_dim, G.c_dim, torch.Generator().manual_seed(seed), labels)
        return run_generator(G.eval(), z, c, next(G.parameters()).device, batch)

    def decode(self, z: Tensor, c: Tensor | None = None, batch: int = 256) -> Tensor:
        return run_generator(self.module.G.eval(), z, c, next(self.module.parameters()).device, batch)

    @torch.inference_mode()
    def classify(self, x: Tensor, batch: int = 512) -> Tensor:
        D = self.module.D
        R, C = D.img_resolution, D.img_channels
        if x.dim() != 4 or tuple(x.shape[1:]) != (C, R, R):
            raise ConfigError(f"classify: images must be N×{C}×{R}×{R} in [-1, 1]; got {tuple(x.shape)}")
        logits = classify_in_eval_mode(D, x.float(), next(D.parameters()).device, batch)
        if self.meta.get("classifier") == "acgan":
            logits = logits[:, 1:]
        return logits.softmax(1)


ACGANTask.pipeline = ClassifyingGANPipeline
SSGANTask.pipeline = ClassifyingGANPipeline

__all__ = ["ACGANTask", "ClassifyingGANPipeline", "SSGANTask", "real_probability", "ssgan_d_terms"]
