"""Layers with an equalized learning rate and pixel normalization (Karras et al. 2018, ProGAN, section 4.1),
shared by the ProGAN and StyleGAN families.

Equalized learning rate: weights are stored as N(0, 1) / lr_mul and multiplied at run time by
``c = lr_mul / sqrt(fan_in)`` (He's constant), so Adam's scale-invariant updates move every layer at the same
speed regardless of its fan-in. ``lr_mul`` < 1 slows a layer down (StyleGAN's mapping network: 0.01).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


class EqualLinear(nn.Module):
    """``forward(x: N×in) -> N×out``: x · (c·W)ᵀ + lr_mul·b, W ~ N(0, 1/lr_mul²), b = bias_init / lr_mul."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, lr_mul: float = 1.0,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul)) if bias else None
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        b = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.scale, b)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, lr_mul={self.lr_mul}"


class EqualConv2d(nn.Module):
    """``forward(x: N×in×H×W) -> N×out×H'×W'``: a convolution with weights scaled by 1/sqrt(in·k·k) at run time."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int | None = None,
                 bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.stride, self.padding = stride, kernel_size // 2 if padding is None else padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


def pixel_norm(x: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x / sqrt(mean(x², dim) + eps): every feature vector (pixel) scaled to unit mean square (ProGAN §4.2)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=dim, keepdim=True) + eps)


class PixelNorm(nn.Module):
    """:func:`pixel_norm` over the channel / feature axis as a module."""

    def forward(self, x: Tensor) -> Tensor:
        return pixel_norm(x)


__all__ = ["EqualConv2d", "EqualLinear", "PixelNorm", "pixel_norm"]
