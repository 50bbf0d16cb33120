"""What the paired-image tasks share (super-resolution, inpainting): fixed evaluation pairs as their "latents", a network
applied to inputs as their samples, pictures of input → output → target, and a pipeline that restores images.

Their ``latents(n)`` are not noise: they are the first n fixed pairs of the test photos
(:func:`gankit.data.photos.eval_pairs` with ``eval.seed``), so sample grids follow the same test patches over training
and the ``restoration`` metric compares outputs with exactly those patches' targets.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import build_dataset
from ..data.photos import eval_pairs
from ..models import build_networks
from .base import Pipeline, Task

Tensor = torch.Tensor


def standard_d_loss(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """The standard GAN loss of D from its logits (any shape): −log σ(D(x)) − log(1 − σ(D(G))), means; and its statistics."""
    loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    return loss, {"loss_d": loss.detach(), "d_real": d_real.mean().detach(), "d_fake": d_fake.mean().detach()}


class PairTask(Task):
    """Base of the tasks whose data are (input, target) pairs (schema ``pairs``): a G from inputs to targets and, when
    ``adversarial``, a D on targets."""

    ema = {"G_ema": "G"}
    sampler = "G_ema"
    guarded = ("d_real", "d_fake")
    adversarial = True

    def build(self, adjust: dict[str, dict] | None = None) -> None:
        """The family's networks for this data (without D when the task is not adversarial)."""
        self.networks, self.kwargs = build_networks(self.cfg.model, self.info, adjust)
        if not self.adversarial:
            del self.networks["D"]

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        tc = self.cfg.train
        groups = {"G": (list(self.networks["G"].parameters()), tc.lr_g)}
        if self.adversarial:
            groups["D"] = (list(self.networks["D"].parameters()), tc.lr_d)
        return groups

    def restore(self, net: nn.Module, inputs: Tensor, masks: Tensor | None) -> Tensor:
        """The network's output for a chunk of inputs on the device, clamped to [-1, 1] (float32)."""
        raise NotImplementedError

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """(inputs, targets, masks or None) of the first n fixed test pairs (CPU); ``generator`` is not used."""
        pairs = eval_pairs(build_dataset(self.cfg.data, "test"), n, self.cfg.eval.seed)
        return pairs["input"], pairs["x"], pairs.get("mask")

    @torch.inference_mode()
    def decode(self, latents: tuple, batch: int = 64) -> Tensor:
        inputs, _, masks = latents
        net = self.networks[self.sampler]
        out = []
        for i in range(0, len(inputs), batch):
            m = masks[i:i + batch].to(self.device) if masks is not None else None
            out.append(self.restore(net, inputs[i:i + batch].to(self.device), m).float().cpu())
        return torch.cat(out)

    def picture(self, latents: tuple, samples: Tensor) -> tuple[Tensor, int]:
        """Rows of input (nearest-upsampled to the target's size), output, target: (images 3N×C×H×W, 3 per row)."""
        inputs, targets, _ = latents
        n = len(samples)
        inputs = F.interpolate(inputs[:n], size=targets.shape[-2:], mode="nearest")
        return torch.stack([inputs, samples, targets[:n]], 1).flatten(0, 1), 3


class PairPipeline(Pipeline):
    """A trained restoration network: ``pipe(inputs)`` -> restored images (N×C×H×W in [-1, 1], CPU float32)."""

    def eval_outputs(self, data_cfg: Any, n: int, seed: int) -> Tensor:
        """The outputs for the n fixed test pairs of ``data_cfg`` (as the ``restoration`` metric's targets are made)."""
        pairs = eval_pairs(build_dataset(data_cfg, "test"), n, seed)
        return self(pairs["input"], masks=pairs.get("mask"))


__all__ = ["PairTask", "PairPipeline", "standard_d_loss"]
