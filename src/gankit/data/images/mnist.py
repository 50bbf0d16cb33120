"""MNIST and Fashion-MNIST IDX files (raw or .gz) from a folder: :func:`load_mnist` returns an
:class:`~gankit.data.images.ImageData` of uint8 1×R×R (or grey-replicated 3×R×R) images with their int64 labels.
Nothing is downloaded.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np
import torch

from ...errors import DataError
from .core import ImageData, _check_args, _class_labels, _one_line, _resize_uint8

_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801
_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find_idx(directory: str, name: str) -> str:
    for candidate in (name, name + ".gz", name.replace("-idx", ".idx"), name.replace("-idx", ".idx") + ".gz"):
        full = os.path.join(directory, candidate)
        if os.path.isfile(full):
            return full
    raise DataError(f"{directory}: no {name} or {name}.gz found; put the MNIST/Fashion-MNIST IDX files "
                    f"(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-..., raw or .gz) in this folder")


def _read_idx(file: str, magic: int) -> np.ndarray:
    """Parse one IDX file (unsigned-byte data) into a numpy uint8 array shaped by its header."""
    try:
        with open(file, "rb") as f:
            raw = f.read()
        if file.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{file}: cannot read ({_one_line(e)}); download the file again") from e
    what = "images (idx3)" if magic == _IDX_IMAGES else "labels (idx1)"
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        got = "a file shorter than 4 bytes" if found is None else f"magic number 0x{found:08x}"
        raise DataError(f"{file}: not an IDX {what} file ({got}, expected magic 0x{magic:08x})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{file}: truncated IDX header ({len(raw)} bytes, expected at least {header}); "
                        f"download the file again")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = header + math.prod(dims)
    if len(raw) != expected:
        kind = "decompressed size" if file.endswith(".gz") else "size"
        raise DataError(f"{file}: {kind} is {len(raw)} bytes, expected {expected} (header {header} + "
                        f"{' x '.join(map(str, dims))} values); the file is truncated or corrupt, download it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _mnist_part(directory: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    image_file, label_file = (_find_idx(directory, name) for name in _MNIST_FILES[part])
    images, labels = _read_idx(image_file, _IDX_IMAGES), _read_idx(label_file, _IDX_LABELS)
    if len(images) == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        raise DataError(f"{image_file}: holds no images (shape {tuple(images.shape)})")
    if len(labels) != len(images):
        raise DataError(f"{label_file}: has {len(labels)} labels but {image_file} has {len(images)} images; "
                        f"use the label file that belongs to these images")
    return images, labels


def load_mnist(path: str, resolution: int = 32, channels: int = 1, split: str = "train") -> ImageData:
    """MNIST or Fashion-MNIST from the IDX files in directory ``path`` (raw or .gz; nothing is downloaded).

    Args:
        path: folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
            t10k-labels-idx1-ubyte (each optionally .gz).
        resolution: output size R; the 28×28 images are resized with Pillow BICUBIC.
        channels: 1 (grey) or 3 (grey replicated).
        split: "train" (train-* files), "test" (t10k-* files) or "all" (both, train first).

    Returns:
        ImageData with images uint8 N×C×R×R and labels int64 (N,); class_names "0".."9"
        (more if the labels go higher).
    """
    _check_args(resolution, channels, split)
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise DataError(f"{path}: not a directory; set data.path to the folder holding the MNIST IDX files")
    parts = [_mnist_part(path, p) for p in (("train", "test") if split == "all" else (split,))]
    images = np.concatenate([p[0] for p in parts])[:, None]  # N×1×H×W
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    images = _resize_uint8(images, resolution)
    if channels == 3:
        images = np.repeat(images, 3, axis=1)
    names = _class_labels(max(10, int(labels.max()) + 1))
    return ImageData(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), names,
                     f"mnist IDX {path}, split {split}, {resolution}x{resolution}")
