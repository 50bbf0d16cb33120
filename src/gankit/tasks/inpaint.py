"""The ``inpaint`` task: fill holes in photos with a context encoder against a PatchGAN (Pathak et al. 2016, "Context
Encoders: Feature Learning by Inpainting").

Data: restoration pairs with ``data.degrade=mask`` (gankit.data.photos): ``x`` the photo patch, ``mask`` N×1×R×R (1 in
the hole), ``input`` = x·(1 − mask). G sees the masked image and the mask and outputs a whole image; the known region
is copied back, ``y = input + G·mask``, for D, the losses and every output (so known pixels are preserved bitwise).

Per step: D (``train.n_critic`` updates) on the standard GAN loss over its patch logits, real x against fake y; then G:

    L_G = λ_rec · L_rec + λ_adv · (−log D(y)),   L_rec = Σ mask·(G − x)² / Σ mask   (per image, over the hole),

with the paper's λ_rec = 0.999, λ_adv = 0.001 (``inpaint.rec``, ``inpaint.adv``; ``inpaint.adv=0`` is the paper's
L2-only ablation, blurry). ``inpaint.distance=l1`` uses the absolute error instead.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..models.tiling import tiled_fixed
from ..types import Batch
from .base import Clock, critic_then_generator
from .pairs import PairPipeline, PairTask, standard_d_loss

Tensor = torch.Tensor
Stats = dict[str, Tensor]


def composite(inputs: Tensor, output: Tensor, mask: Tensor) -> Tensor:
    """Known pixels from ``inputs``, the hole from ``output``: inputs·(1 − m) + output·m (m is 0 or 1, so exact)."""
    return torch.where(mask.bool(), output.to(inputs.dtype), inputs)


def hole_loss(output: Tensor, target: Tensor, mask: Tensor, kind: str = "l2") -> Tensor:
    """Per-image reconstruction error over the hole (N): Σ m·d / (C·Σ m), d the squared (l2) or absolute (l1) error."""
    d = (output.float() - target.float())
    d = d.pow(2) if kind == "l2" else d.abs()
    m = mask.float()
    return (d * m).flatten(1).sum(1) / (m.flatten(1).sum(1) * d.shape[1]).clamp_min(1.0)


class InpaintTask(PairTask):
    """Context encoder G and PatchGAN D (see the module doc)."""

    name = "inpaint"
    shown = {"rec": "rec", "loss_d": "D"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        self.adversarial = cfg.inpaint.adv > 0
        self.build()

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = critic_then_generator(self.d_phase, self.g_phase, self.cfg.train.n_critic, self.adversarial)

    def _fill(self, batch: Batch) -> Tensor:
        return composite(batch["input"], self.networks["G"](batch["input"], batch["mask"]), batch["mask"])

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        D = self.networks["D"]
        with torch.no_grad():
            fake = self._fill(batch)
        return standard_d_loss(D(batch["x"]).float(), D(fake).float())

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        ic = self.cfg.inpaint
        out = self.networks["G"](batch["input"], batch["mask"])
        rec = hole_loss(out, batch["x"], batch["mask"], ic.distance).mean()
        loss = ic.rec * rec
        stats: Stats = {"rec": rec.detach()}
        if self.adversarial:
            adv = F.softplus(-self.networks["D"](composite(batch["input"], out, batch["mask"])).float()).mean()
            loss = loss + ic.adv * adv
            stats["adv"] = adv.detach()
        return loss, {**stats, "loss_g": loss.detach()}

    def restore(self, net: nn.Module, inputs: Tensor, masks: Tensor | None) -> Tensor:
        return composite(inputs, net(inputs, masks).float().clamp(-1, 1), masks)

    def export_meta(self) -> dict[str, Any]:
        return {"mask": self.cfg.data.mask, "resolution": self.info.shape[-1]}


class InpaintPipeline(PairPipeline):
    """A trained inpainter: ``pipe(images, masks=M)`` -> completed images (N×C×H×W in [-1, 1]; masks N×1×H×W, 1 in the
    hole). Images of another size than the training patches are processed in overlapping windows of that size
    (:func:`gankit.models.tiling.tiled_fixed`); the known pixels are returned unchanged."""

    @torch.inference_mode()
    def __call__(self, inputs: Tensor, labels: Any = None, seed: int = 0, batch: int = 16, masks: Tensor | None = None,
                 overlap: int | None = None) -> Tensor:
        if masks is None:
            raise ConfigError("inpaint: give the holes as masks (N×1×H×W, 1 in the hole)")
        if not isinstance(inputs, torch.Tensor) or inputs.ndim != 4 or masks.shape[-2:] != inputs.shape[-2:]:
            raise ConfigError("inpaint: give images as N×C×H×W in [-1, 1] and masks of the same height and width")
        net = self.module.eval()
        device = next(net.parameters()).device
        size = net.img_resolution
        masks = (masks > 0.5).float()
        holed = inputs * (1 - masks)

        def fn(x: Tensor, m: Tensor) -> Tensor:
            return net(x.to(device), m.to(device)).float().clamp(-1, 1).cpu()

        out = []
        for i in range(0, len(inputs), batch):
            x, m = holed[i:i + batch], masks[i:i + batch]
            y = fn(x, m) if tuple(x.shape[-2:]) == (size, size) else tiled_fixed(fn, x, m, size, overlap)
            out.append(composite(inputs[i:i + batch], y, m))
        return torch.cat(out)


InpaintTask.pipeline = InpaintPipeline

__all__ = ["InpaintTask", "InpaintPipeline", "composite", "hole_loss"]
