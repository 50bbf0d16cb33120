"""What every image loader shares: the :class:`ImageData` container that all of them return (uint8 images
N×C×H×W, optional int64 labels, class names, a provenance string), the uint8 <-> [-1, 1] float conversions,
argument checks, one-line error text, Pillow resizing of uint8 or float planes, ITU-R 601-2 luma and default
class names.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ...errors import ConfigError


@dataclass
class ImageData:
    """A whole image dataset held in memory.

    Attributes:
        images: uint8 tensor N×C×H×W, values 0..255.
        labels: int64 tensor (N,) with values in [0, len(class_names)), or None when unlabelled.
        class_names: names of the classes, index = label.
        source: a short description of where the data came from (for provenance).
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: list[str] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.labels is not None else 0

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]


def select_classes(data: ImageData, classes: list[int]) -> ImageData:
    """The images of ``classes`` only, relabelled 0..k-1 in the order given (class k is ``classes[k]``'s name).

    Raises ConfigError (one line) for unlabelled data, repeated classes or a class the data does not have."""
    where = "data.classes"
    if not isinstance(data, ImageData):
        raise ConfigError(f"{where}: a streamed folder cannot be subset; raise data.max_memory_mb to hold it in memory")
    if data.labels is None:
        raise ConfigError(f"{where}: {data.source or 'this dataset'} has no labels; give class subfolders or leave data.classes empty")
    if len(set(classes)) != len(classes):
        raise ConfigError(f"{where}: {list(classes)} repeats a class; give each once")
    bad = [c for c in classes if not 0 <= c < data.num_classes]
    if bad:
        raise ConfigError(f"{where}: {bad[0]} is not a class of {data.source or 'this dataset'} (0..{data.num_classes - 1})")
    new = torch.full((data.num_classes,), -1, dtype=torch.int64)
    new[torch.tensor(classes, dtype=torch.int64)] = torch.arange(len(classes))
    keep = new[data.labels] >= 0
    return ImageData(data.images[keep], new[data.labels[keep]], [data.class_names[c] for c in classes],
                     f"{data.source}, classes {','.join(map(str, classes))}")


@dataclass
class FewLabelData(ImageData):
    """Every training image, with the label of only a few per class (the semi-supervised setting).

    ``labels`` holds -1 where the label is hidden, so nothing downstream can read it; ``known`` is ``labels >= 0``.
    """

    @property
    def known(self) -> torch.Tensor:
        return self.labels >= 0

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def few_labels(data: ImageData, per_class: int, seed: int = 0, keep_unlabelled: bool = False) -> ImageData:
    """The few-label protocol: ``per_class`` labelled images of each class, chosen by ``seed`` (a seeded permutation of
    each class's images, the first ``per_class`` kept).

    Returns the labelled images alone (an :class:`ImageData` of classes × per_class images, in class order) or, with
    ``keep_unlabelled``, every image with the other labels hidden (a :class:`FewLabelData`). Raises ConfigError (one
    line) for unlabelled or streamed data and for a class with fewer images than asked.
    """
    where = "data.labels_per_class"
    if not isinstance(data, ImageData) or data.labels is None:
        raise ConfigError(f"{where}: {getattr(data, 'source', '') or 'this dataset'} has no labels in memory; the few-label protocol "
                          "needs labelled images (digits, mnist, cifar10, a folder with class subfolders)")
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(data.num_classes):
        idx = torch.nonzero(data.labels == c).flatten()
        if len(idx) < per_class:
            raise ConfigError(f"{where}: class {data.class_names[c]!r} has {len(idx)} images, fewer than {per_class}; "
                              f"use at most {len(idx)}")
        chosen.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    keep = torch.cat(chosen)
    source = f"{data.source}, {per_class} labelled per class (seed {seed})"
    if not keep_unlabelled:
        return ImageData(data.images[keep], data.labels[keep], list(data.class_names), source)
    labels = torch.full_like(data.labels, -1)
    labels[keep] = data.labels[keep]
    return FewLabelData(data.images, labels, list(data.class_names), source + " + the rest unlabelled")


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 in [-1, 1] (the data space of every image model)."""
    return images.to(torch.float32).div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 0..255, clipping values outside the range.

    StyleGAN2-ADA's conversion (its metric code and its image writer): ``floor(clamp(x·127.5 + 128, 0, 255))``,
    i.e. x·127.5 + 127.5 rounded half up. ``to_uint8(to_float(u)) == u`` for every uint8 ``u``.
    """
    return images.mul(127.5).add_(128.0).clamp_(0, 255).floor_().to(torch.uint8)


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Generated images on the 8-bit grid real images live on: ``to_float(to_uint8(x))`` (float32, same shape).

    Every path that scores generated images goes through this, so scoring ``x`` and scoring its 8-bit file agree.
    """
    return to_float(to_uint8(images.detach().float().cpu()))


# --------------------------------------------------------------------------------------------------
# Shared by the loaders. Every problem a user can cause is a one-line DataError (bad file or folder) or
# ConfigError (bad argument value) that names the file or field and says what would work.
# --------------------------------------------------------------------------------------------------

_SPLITS = ("train", "test", "all")


def _one_line(text: object, limit: int = 160) -> str:
    """Collapse whitespace (newlines included) so the text fits in a one-line error."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _check_args(resolution: int, channels: int, split: str | None = None) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ConfigError(f"data.resolution: {resolution!r} is not a positive integer; use e.g. 32")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(f"data.channels: {channels!r} is not allowed; use 1 (grey) or 3 (RGB)")
    if split is not None and split not in _SPLITS:
        raise ConfigError(f"data.split: {split!r} is not allowed; use one of {', '.join(_SPLITS)}")


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _resize_planes(planes: np.ndarray, resolution: int, resample: int) -> np.ndarray:
    """Resize a stack of single-channel planes M×H×W (uint8 or float32) to M×R×R with Pillow.

    uint8 planes are resized in Pillow mode "L" (rounded and clipped by Pillow), float32 planes in
    mode "F" (returned as float32, unclipped). Work is split over threads; Pillow releases the GIL.
    """
    m = planes.shape[0]
    out = np.empty((m, resolution, resolution), dtype=planes.dtype)
    mode = "L" if planes.dtype == np.uint8 else "F"
    size = (resolution, resolution)

    def work(start: int) -> None:
        for i in range(start, min(start + 1024, m)):
            out[i] = np.asarray(Image.fromarray(planes[i], mode=mode).resize(size, resample))

    with ThreadPoolExecutor(_workers()) as pool:
        list(pool.map(work, range(0, m, 1024)))
    return out


def _resize_uint8(images: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 N×C×H×W -> N×C×R×R with Pillow BICUBIC per plane (no-op when already R×R)."""
    n, c, h, w = images.shape
    if h == resolution and w == resolution:
        return images
    planes = np.ascontiguousarray(images).reshape(n * c, h, w)
    return _resize_planes(planes, resolution, Image.Resampling.BICUBIC).reshape(n, c, resolution, resolution)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 N×3×H×W -> N×1×H×W with ITU-R 601-2 luma (L = R*299/1000 + G*587/1000 + B*114/1000, rounded)."""
    r, g, b = (rgb[:, i : i + 1].astype(np.int32) for i in range(3))
    return ((r * 299 + g * 587 + b * 114 + 500) // 1000).astype(np.uint8)


def _class_labels(count: int) -> list[str]:
    return [str(i) for i in range(count)]
