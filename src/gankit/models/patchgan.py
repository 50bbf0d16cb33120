"""PatchGAN: the discriminator that classifies every overlapping patch of an image as real or fake (Isola et al. 2017,
"Image-to-Image Translation with Conditional Adversarial Networks", §3.2.2 and appendix 6.1.2).

Layers (k = 4, LeakyReLU 0.2): C64 (stride 2, no norm), then ``layers − 1`` more stride-2 convs doubling the channels
(capped at 8× ``channels``), one stride-1 conv, and a stride-1 conv to one channel: an N×1×h×w map of logits, one per
patch. Its receptive field is :func:`receptive_field`: 16, 34, 70, 142, 286 pixels for 1–5 layers; the paper's
"70×70 PatchGAN" is ``layers=3`` at 256². :func:`layers_for` picks the depth whose field is closest to the same
fraction (70/256) of a smaller image. Norm: ``batch`` (pix2pix), ``instance`` (CycleGAN; affine=False) or ``none``.
The intermediate convs carry biases unless the norm is ``batch`` (as the reference: instance norm has no affine
shift, so the convs keep theirs): 2,764,737 parameters at ``layers=3`` with instance norm and 3 input channels
(CycleGAN's D), 2,768,705 with batch norm and 6 (pix2pix's conditional D).
"""
from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor


def receptive_field(layers: int) -> int:
    """The receptive field in pixels of a PatchGAN with ``layers`` stride-2 convs (then two stride-1 convs; k = 4)."""
    rf = 1
    for stride in reversed([2] * layers + [1, 1]):
        rf = rf * stride + (4 - stride)
    return rf


def layers_for(resolution: int) -> int:
    """The depth (1–5) whose receptive field is nearest to 70/256 of ``resolution``."""
    target = 70 * resolution / 256
    return min(range(1, 6), key=lambda n: abs(receptive_field(n) - target))


class PatchDiscriminator(nn.Module):
    """N×C×H×W -> N×1×h×w patch logits (see the module doc)."""

    def __init__(self, img_channels: int = 3, channels: int = 64, layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        make_norm = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d, "none": lambda c: nn.Identity()}[norm]
        seq: list[nn.Module] = [nn.Conv2d(img_channels, channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = channels
        for i in range(1, layers + 1):
            c_out = channels * min(2 ** i, 8)
            stride = 2 if i < layers else 1
            seq += [nn.Conv2d(c, c_out, 4, stride, 1, bias=norm != "batch"), make_norm(c_out), nn.LeakyReLU(0.2)]
            c = c_out
        seq += [nn.Conv2d(c, 1, 4, 1, 1)]
        self.net = nn.Sequential(*seq)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


__all__ = ["PatchDiscriminator", "receptive_field", "layers_for"]
