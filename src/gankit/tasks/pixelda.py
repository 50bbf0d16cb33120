"""PixelDA: unsupervised pixel-level domain adaptation (Bousmalis et al. 2017, "Unsupervised Pixel-Level Domain
Adaptation with Generative Adversarial Networks", CVPR).

Labelled source images x_s (domain A), unlabelled target images x_t (domain B). A generator G(x_s, z) adapts source
images to look like target images; a discriminator D tells adapted images from real target ones; a task classifier T
learns the labels on source and adapted images, so that it works on the target domain whose labels it never sees.
Networks: :mod:`gankit.models.pixelda`. Data: unpaired domain data with labels for A (``digits-m``: MNIST-M's
construction over the bundled digits; B's labels are read for evaluation only).

Per step, two phases:

**D** (on the loop's batch: source images ``a``, target images ``b``; G fixed), non-saturating GAN loss of logits:

    L_D = −log D(x_t) − log(1 − D(G(x_s, z)))

**G and T** (one Adam over both; a labelled source batch of the task's own stream, D fixed):

    L = α·(−log D(G(x_s, z))) + β·L_t + γ·L_c
    L_t = CE(T(x_s), y_s) + CE(T(G(x_s, z)), y_s)
    L_c = PMSE(x_s, G(x_s, z); m)   (eq. 4, :func:`pmse`), m: source pixels above ``pixelda.mask_threshold``

z ~ U(−1, 1)^z_dim. The paper alternates a step of (θ_D, θ_T) with one of θ_G; here D steps alone and T together
with G (one joint gradient step on the objective both minimize, eq. 1). D's loss is left unweighted: with Adam the
weight α would not change D's update. α, β, γ default to the released MNIST → MNIST-M run's (0.011, 0.01, 0): L_c
is for renders with a known object mask (LineMod).

The loop's data stream (:class:`~gankit.data.domains.DomainBatches`) carries no labels for unpaired data, so the
labelled source batches of the G phase come from the task's own seeded stream (a
:class:`~gankit.data.batches.TensorBatches` over A and its labels, sharded like the loop's, its position
checkpointed in :meth:`state_dict`).

While training, a ``classify`` event every ``eval.every`` (else ``train.sample_every``) steps and at the end gives
T's accuracy on the target test split (``target_acc``, B's labels) and on the source test split (``source_acc``).
Sample grids show fixed test source images and their adaptations; the export holds G (its averaged copy G_ema) and T:
``gankit.load(run)`` gives a :class:`PixelDAPipeline`, ``pipe(x)`` adapts, ``pipe.classify(x)`` gives T's class
probabilities.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import build_dataset
from ..data.batches import make_batches
from ..data.images import ImageData, to_float
from ..errors import ConfigError
from ..models import build_networks
from ..types import Batch
from .base import Clock, Phase, classify_in_eval_mode, export_with, score_hook
from .translation import TranslationPipeline, TranslationTask, chunked, grey_to

Tensor = torch.Tensor
Stats = dict[str, Tensor]


def pmse(x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """The masked pairwise mean squared error (Bousmalis et al. 2017, eq. 4; Eigen et al. 2014's scale-invariant
    error): with d = (x − y)⊙m over the k masked values of each sample,

        PMSE = (1/k)·Σ d² − (1/k²)·(Σ d)²

    i.e. the variance of the masked differences: it penalizes differences between pairs of pixels, not an offset of
    the whole foreground. x, y N×C×H×W; mask N×1×H×W or N×C×H×W (1 inside). Returns N values (0 where the mask is
    empty)."""
    m = mask.to(torch.float32).expand_as(x)
    d = ((x.float() - y.float()) * m).flatten(1)
    k = m.flatten(1).sum(1).clamp_min(1.0)
    return d.pow(2).sum(1) / k - d.sum(1).pow(2) / k.pow(2)


def fixed_noise(n: int, z_dim: int, seed: int = 0) -> Tensor:
    """n noise vectors U(−1, 1)^z_dim (CPU) of a seed: the same z for the same images every call."""
    return torch.rand(n, z_dim, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class PixelDATask(TranslationTask):
    """G(x_s, z), D, and the task classifier T (see the module doc)."""

    name = "pixelda"
    ema = {"G_ema": "G"}  # a parameter copy per step: cheap next to the step itself; pictures and the export use it
    sampler = "G_ema"
    shown = {"task": "L_t", "loss_d": "D"}
    g_nets = ("G", "T")
    d_nets = ("D",)

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        if self.domains["kind"] != "unpaired":
            raise ConfigError(f"task.name: pixelda adapts a source domain to an unpaired target domain; {info.name!r} is "
                              f"{self.domains['kind']} data (use data.name=digits-m)")
        train = build_dataset(cfg.data, "train")
        if train.label_a is None:
            raise ConfigError(f"task.name: pixelda learns its task from labelled source images; {info.name!r} has no labels for "
                              "domain A (use data.name=digits-m)")
        self.n_classes = int(train.classes or int(train.label_a.max()) + 1)
        self.source = ImageData(train.a, train.label_a, [str(i) for i in range(self.n_classes)], train.source)
        self.networks, self.kwargs = build_networks(cfg.model, info)
        self.channels = self.domains["channels_b"]
        test = self.test_data
        self.test_a, self.test_label_a = to_float(test.a), test.label_a
        self.test_b = to_float(test.b) if test.b is not None else None
        self.test_label_b = test.label_b
        self._source_batches: Any = None

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        tc = self.cfg.train
        # labelled source batches: the loop's unpaired batches carry no labels (see the module doc)
        self._source_batches = make_batches(self.source, tc.batch_size, device, tc.seed + 7919, (self.rank, self.world))
        self.phases = [Phase("D", "D", self.d_nets, self.d_phase, repeat=tc.n_critic, counter="d_updates", grad_stat="d_grad_norm"),
                       Phase("G", "G", self.g_nets, self.g_phase, data="last", grad_stat="g_grad_norm")]

    def _z(self, n: int, device: torch.device) -> Tensor:
        return torch.rand(n, self.networks["G"].z_dim, device=device) * 2 - 1

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        G, D = self.networks["G"], self.networks["D"]
        xs, xt = batch["a"], batch["b"]
        with torch.no_grad():
            fake = G(xs, self._z(len(xs), xs.device))
        d_real, d_fake = D(xt).float(), D(fake).float()
        loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        return loss, {"loss_d": loss.detach(), "d_real": d_real.mean().detach(), "d_fake": d_fake.mean().detach()}

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        pc, n = self.cfg.pixelda, self.networks
        src = self._source_batches.next()
        xs, ys = src["x"], src["label"]
        fake = n["G"](xs, self._z(len(xs), xs.device))
        adv = F.softplus(-n["D"](fake).float()).mean()
        source = grey_to(xs, self.channels)  # T reads target-shaped images
        task_source = F.cross_entropy(n["T"](source).float(), ys)
        task_adapted = F.cross_entropy(n["T"](fake).float(), ys)
        task = task_source + task_adapted
        mask = xs.float().mean(1, keepdim=True) > pc.mask_threshold
        content = pmse(source, fake, mask).mean()
        loss = pc.alpha * adv + pc.beta * task + pc.gamma * content
        return loss, {"adv": adv.detach(), "task": task.detach(), "task_source": task_source.detach(),
                      "task_adapted": task_adapted.detach(), "content": content.detach(), "loss_g": loss.detach()}

    # ------------------------------------------------------------------ what T learned

    def accuracy(self) -> dict[str, float]:
        """T's accuracy on the target test split (``target_acc``, when B has labels) and the source test split
        (``source_acc``); ``n`` target test images."""
        T = self.networks["T"]
        out: dict[str, float] = {}
        if self.test_b is not None and self.test_label_b is not None:
            logits = classify_in_eval_mode(T, self.test_b, self.device)
            out["target_acc"] = float((logits.argmax(1) == self.test_label_b).float().mean())
        logits = classify_in_eval_mode(T, grey_to(self.test_a, self.channels), self.device)
        out["source_acc"] = float((logits.argmax(1) == self.test_label_a).float().mean())
        out["n"] = len(self.test_b) if self.test_b is not None else len(self.test_a)
        return out

    def hooks(self, trainer: Any) -> list:
        return [score_hook(self, "classify", self.accuracy)]

    def state_dict(self) -> dict[str, Any]:
        return {"source_batches": self._source_batches.state_dict()} if self._source_batches is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "source_batches" in state and self._source_batches is not None:
            self._source_batches.load_state_dict(state["source_batches"])

    # ------------------------------------------------------------------ pictures and export

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.networks["G_ema"]}

    def export_spec(self) -> tuple[str, nn.Module, dict]:
        """G_ema and T (the classifier the accuracy events scored) as one ``G_pair``."""
        return export_with(self, "T")

    def export_meta(self) -> dict[str, Any]:
        return {"domains": self.domains, "classes": self.n_classes}


class PixelDAPipeline(TranslationPipeline):
    """A trained PixelDA run: ``pipe(x, seed=0)`` -> adapted images of source images x (N×C×R×R in [-1, 1] -> N×C×R×R,
    CPU float32; z drawn from ``seed``), ``pipe.classify(x)`` -> N×classes probabilities of the task classifier T
    (for target images, or any images of the target's shape)."""

    def translators(self) -> dict[str, nn.Module]:
        return {"G": self.module.G.eval()}

    @staticmethod
    def outputs(nets: dict[str, nn.Module], items: Batch, batch: int, device: Any, main_only: bool = False) -> dict[str, Tensor]:
        G = nets["G"]
        return {"ab": chunked(G, items["a"], fixed_noise(len(items["a"]), G.z_dim), batch=batch, device=device)}

    @staticmethod
    def picture_rows(items: Batch, out: dict[str, Tensor]) -> list[Tensor]:
        return [items["a"], out["ab"]]

    def __call__(self, images: Tensor, labels: Any = None, seed: int = 0, batch: int = 64, direction: str | None = None) -> Tensor:
        if direction not in (None, "AtoB"):
            raise ConfigError("--direction: a PixelDA model adapts one way, source to target (AtoB)")
        self._check(images)
        G = self.module.G.eval()
        return chunked(G, images, fixed_noise(len(images), G.z_dim, seed), batch=batch, device=next(G.parameters()).device)

    def classify(self, images: Tensor, batch: int = 512) -> Tensor:
        """T's class probabilities N×classes (CPU float32) of images N×C×R×R in [-1, 1]."""
        T = self.module.T
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, T.img_channels):
            raise ConfigError(f"classify: give images as an N×{T.img_channels}×R×R tensor in [-1, 1]")
        x = grey_to(images.float(), T.img_channels)
        return classify_in_eval_mode(T, x, next(T.parameters()).device, batch).softmax(1)


PixelDATask.pipeline = PixelDAPipeline

__all__ = ["PixelDAPipeline", "PixelDATask", "fixed_noise", "pmse"]
