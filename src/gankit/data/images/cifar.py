"""CIFAR-10 and CIFAR-100 "python version" batch folders: :func:`load_cifar` returns an
:class:`~gankit.data.images.ImageData` of uint8 3×R×R (or luma 1×R×R) images with int64 labels and the class
names of the meta file. The batch pickles are read by a restricted interpreter (:mod:`gankit.data.safe_pickle`);
nothing is unpickled.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ...errors import DataError
from ..safe_pickle import UnsafePickleContent, safe_unpickle
from .core import ImageData, _check_args, _luma, _one_line, _resize_uint8

_CIFAR_LAYOUTS = {
    # kind: (train files, test files, meta file, names key, labels key)
    "cifar10": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "batches.meta", "label_names", "labels"),
    "cifar100": (["train"], ["test"], "meta", "fine_label_names", "fine_labels"),
}


def _cifar_dict(file: str) -> dict[str, object]:
    """A CIFAR pickle as a dict with str keys, interpreted without unpickling."""
    if not os.path.isfile(file):
        raise DataError(f"{file}: missing; a CIFAR folder needs all batch files of the 'python version' "
                        f"(CIFAR-10: data_batch_1..5, test_batch, batches.meta; CIFAR-100: train, test, meta)")
    try:
        with open(file, "rb") as f:
            content = safe_unpickle(f.read())
    except OSError as e:
        raise DataError(f"{file}: cannot read ({_one_line(e)})") from e
    except UnsafePickleContent as e:
        raise DataError(f"{file}: not a CIFAR batch (unsupported pickle content {_one_line(e)}); "
                        f"gankit never unpickles arbitrary objects") from e
    if not isinstance(content, dict):
        raise DataError(f"{file}: not a CIFAR batch (expected a dict, found {type(content).__name__})")
    return {k.decode("latin-1") if isinstance(k, bytes) else str(k): v for k, v in content.items()}


def _cifar_batch(file: str, labels_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = _cifar_dict(file)
    data, labels = batch.get("data"), batch.get(labels_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{file}: not a CIFAR batch ('data' should be a uint8 array N x 3072, found {found})")
    if not isinstance(labels, (list, tuple, np.ndarray)):
        raise DataError(f"{file}: not a CIFAR batch (no '{labels_key}' list; keys are {sorted(batch)})")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(data) or (len(labels) and labels.dtype.kind not in "iub"):
        raise DataError(f"{file}: '{labels_key}' should be {len(data)} integers (one per image), "
                        f"found {labels.dtype} array of shape {labels.shape}")
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{file}: labels range {labels.min()}..{labels.max()}, expected 0..{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels


def _cifar_folder(path: str) -> tuple[str, str]:
    for folder in (path, os.path.join(path, "cifar-10-batches-py"), os.path.join(path, "cifar-100-python")):
        if any(os.path.isfile(os.path.join(folder, f)) for f in ("batches.meta", "data_batch_1", "test_batch")):
            return "cifar10", folder
        if os.path.isfile(os.path.join(folder, "meta")):
            return "cifar100", folder
    raise DataError(f"{path}: not a CIFAR folder; extract the 'python version' archive and point data.path at "
                    f"cifar-10-batches-py (data_batch_1..5, test_batch, batches.meta) or cifar-100-python "
                    f"(train, test, meta)")


def load_cifar(path: str, resolution: int = 32, channels: int = 3, split: str = "train") -> ImageData:
    """CIFAR-10 or CIFAR-100 from the "python version" folder, without unpickling anything.

    The batch files are pickles; they are read by a restricted interpreter that only rebuilds
    dicts, lists, strings, numbers and numpy arrays (see :mod:`gankit.data.safe_pickle`).

    Args:
        path: cifar-10-batches-py (data_batch_1..5, test_batch, batches.meta) or cifar-100-python
            (train, test, meta; fine labels are used), or a folder containing one of those.
        resolution: output size R; resized from 32 with Pillow BICUBIC when R != 32.
        channels: 3 (RGB) or 1 (ITU-R 601-2 luma, L = R*299/1000 + G*587/1000 + B*114/1000).
        split: "train", "test" or "all" (train first).

    Returns:
        ImageData with images uint8 N×C×R×R, labels int64 (N,) and the class names from the meta file.
    """
    _check_args(resolution, channels, split)
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise DataError(f"{path}: not a directory; set data.path to the extracted CIFAR 'python version' folder")
    kind, folder = _cifar_folder(path)
    train_files, test_files, meta_file, names_key, labels_key = _CIFAR_LAYOUTS[kind]
    meta_path = os.path.join(folder, meta_file)
    names = _cifar_dict(meta_path).get(names_key)
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataError(f"{meta_path}: expected '{names_key}', a list of class names")
    class_names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]
    files = {"train": train_files, "test": test_files, "all": train_files + test_files}[split]
    batches = [_cifar_batch(os.path.join(folder, f), labels_key, len(class_names)) for f in files]
    images = np.concatenate([b[0] for b in batches]) if len(batches) > 1 else batches[0][0]
    labels = np.concatenate([b[1] for b in batches])
    if channels == 1:
        images = _luma(images)
    images = _resize_uint8(images, resolution)
    return ImageData(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), class_names,
                     f"{kind} {folder}, split {split}, {resolution}x{resolution}")
