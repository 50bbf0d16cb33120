"""scikit-learn's bundled 8×8 handwritten digits (no download): :func:`load_digits` returns an
:class:`~gankit.data.images.ImageData` of uint8 1×R×R (or grey-replicated 3×R×R) images with labels 0..9, on a
fixed train/test split.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image

from .core import ImageData, _check_args, _class_labels, _resize_planes


@functools.lru_cache(maxsize=8)
def _digits_tensors(resolution: int, channels: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits as _sk_load_digits  # bundled with scikit-learn, no download

    bunch = _sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) * (255.0 / 16.0)  # 1797×8×8, 0..255
    labels = np.asarray(bunch.target, dtype=np.int64)
    index = np.arange(len(labels))
    if split != "all":  # fixed split, independent of library versions: every 5th image is a test image
        keep = (index % 5 == 4) if split == "test" else (index % 5 != 4)
        images, labels = images[keep], labels[keep]
    if resolution != 8:
        images = _resize_planes(np.ascontiguousarray(images), resolution, Image.Resampling.BICUBIC)
    pixels = np.clip(np.rint(images), 0, 255).astype(np.uint8)[:, None]  # N×1×R×R
    if channels == 3:
        pixels = np.repeat(pixels, 3, axis=1)
    return torch.from_numpy(np.ascontiguousarray(pixels)), torch.from_numpy(labels)


def load_digits(resolution: int = 32, channels: int = 1, split: str = "train") -> ImageData:
    """scikit-learn's bundled 8×8 handwritten digits, upscaled.

    Values 0..16 are scaled to 0..255 and resized with Pillow BICUBIC (in float, then rounded and
    clipped). The split is fixed: image i is a test image when i % 5 == 4.

    Args:
        resolution: output height and width R in pixels.
        channels: 1 (grey) or 3 (the grey replicated).
        split: "train" (1,438 images), "test" (359) or "all" (1,797).

    Returns:
        ImageData with images uint8 N×C×R×R, labels int64 (N,) in 0..9, class_names "0".."9".
        Results are cached per arguments; the returned tensors are shared between calls, so do not
        modify them in place.
    """
    _check_args(resolution, channels, split)
    images, labels = _digits_tensors(resolution, channels, split)
    return ImageData(images, labels, _class_labels(10), f"sklearn digits 8x8 -> {resolution}x{resolution}, split {split}")
