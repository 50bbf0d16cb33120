"""Running an image network over an image larger than memory allows, in overlapping tiles, without seams.

* :func:`tiled` — for fully convolutional networks of any input size (super-resolution): the input is cut into
  ``tile``×``tile`` cores, each processed with ``pad`` pixels of its neighbours around it, and only the output of the
  core (× ``scale``) is kept. Wherever the network's receptive field fits inside the padding, the result equals the
  whole-image output exactly (up to float rounding); nearer the tile borders the difference is bounded by how much of
  the receptive field the padding cuts off.
* :func:`tiled_fixed` — for networks of one input size (the context encoder): windows of exactly ``size`` pixels at a
  stride of ``size − overlap``, the image reflect-padded to fit, outputs blended with a separable tent window (weights
  falling linearly towards each window's edge), so overlapping windows fade into each other instead of meeting at a
  seam.
"""
from __future__ import annotations

from typing import Callable

import torch

Tensor = torch.Tensor


def tiled(fn: Callable[[Tensor], Tensor], x: Tensor, scale: int, tile: int, pad: int | None = None) -> Tensor:
    """``fn`` (N×C×h×w -> N×C'×(s·h)×(s·w)) applied to x (N×C×H×W) tile by tile; N×C'×(s·H)×(s·W).

    Args:
        tile: the side of each core in input pixels. pad: context pixels around each core (default tile // 4, ≥ 8)."""
    n, _, h, w = x.shape
    pad = max(tile // 4, 8) if pad is None else pad
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0, b1, r1 = max(top - pad, 0), max(left - pad, 0), min(bottom + pad, h), min(right + pad, w)
            y = fn(x[:, :, t0:b1, l0:r1])
            if out is None:
                out = y.new_zeros(n, y.shape[1], h * scale, w * scale)
            out[:, :, top * scale:bottom * scale, left * scale:right * scale] = \
                y[:, :, (top - t0) * scale:(bottom - t0) * scale, (left - l0) * scale:(right - l0) * scale]
    return out


def _starts(length: int, size: int, stride: int) -> list[int]:
    starts = list(range(0, max(length - size, 0) + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def tent(size: int, overlap: int) -> Tensor:
    """A size×size blending window: 1 in the middle, falling linearly to 1/(overlap+1) over the outer ``overlap`` pixels."""
    ramp = torch.ones(size)
    if overlap:
        edge = torch.arange(1, overlap + 1, dtype=torch.float32) / (overlap + 1)
        ramp[:overlap], ramp[size - overlap:] = edge, edge.flip(0)
    return ramp[:, None] * ramp[None, :]


def tiled_fixed(fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, mask: Tensor, size: int, overlap: int | None = None) -> Tensor:
    """``fn(x_window, mask_window)`` (N×C×size×size, N×1×size×size -> N×C×size×size) over x (N×C×H×W) and its mask, in
    windows of ``size`` overlapping by ``overlap`` (default size // 4), blended by :func:`tent`; N×C×H×W."""
    n, c, h, w = x.shape
    overlap = size // 4 if overlap is None else overlap
    ph, pw = max(size - h, 0), max(size - w, 0)
    if ph or pw:  # smaller than one window: reflect-pad (replicate when reflection is impossible) and crop after
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
        mask = torch.nn.functional.pad(mask, (0, pw, 0, ph), mode="replicate")
    H, W = x.shape[-2:]
    acc = torch.zeros(n, c, H, W)
    weight = torch.zeros(1, 1, H, W)
    win = tent(size, overlap)
    stride = size - overlap
    for top in _starts(H, size, stride):
        for left in _starts(W, size, stride):
            y = fn(x[:, :, top:top + size, left:left + size], mask[:, :, top:top + size, left:left + size]).float().cpu()
            acc[:, :, top:top + size, left:left + size] += y * win
            weight[:, :, top:top + size, left:left + size] += win
    return (acc / weight)[:, :, :h, :w]


__all__ = ["tiled", "tiled_fixed", "tent"]
