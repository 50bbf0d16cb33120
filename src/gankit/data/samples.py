"""Samples that any model produced, read from files for scoring (``gankit evaluate --samples PATH``).

:func:`read_samples` turns a folder of image files, an ``.npy`` array or an ``.npz`` archive into a float32 tensor in
gankit's data space: images N×C×H×W in [-1, 1] (C = 1 or 3), or points N×D. Nothing is unpickled: arrays are read
with ``allow_pickle=False`` always.

Array conventions (:func:`samples_from_array`):

* uint8, 4 dims — 8-bit images N×H×W×C or N×C×H×W (C in {1, 3}; the layout is the one whose channel axis is 1 or 3,
  and an array where both axes could be the channel axis is refused as ambiguous) -> ``u / 127.5 - 1``;
* any dtype, 3 dims — N×H×W grey images (uint8 as above; floats as below);
* float, 4 dims — images already in data space [-1, 1], same layouts; the scoring path rounds them to the 8-bit grid
  (values outside [-1, 1] are clipped there, as when they are written to an image file);
* float, 2 dims — N×D points (toy samples, e.g. for the ring and grid mixtures).

Everything else (other integer dtypes, a 1- or 5-dimensional array, NaN or infinite values, object arrays) is a
one-line :class:`~gankit.errors.DataError` naming the file, what was found and what would work.

Image folders: every image file under PATH (sub-folders included, hidden files skipped, the extensions of
:func:`~gankit.data.images.load_folder`), in sorted path order, decoded with Pillow at its own size — never cropped or
resized — to "L" (1 channel) or "RGB" (3 channels) by the folder loader's rules: transparency (LA, RGBA, P with
transparency) is composited on black, 16-bit greyscale keeps the high byte, palette and other modes become RGB. All
files must then have the same size and the same number of channels.
"""
from __future__ import annotations

import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from .images import to_float
from .images.core import _one_line, _workers
from .images.folder import _list_images, _to_l_or_rgb

#: names an .npz archive with several arrays may give its samples, in the order they are looked for
NPZ_KEYS = ("samples", "images", "x")
_WORKS = ("uint8 images N×H×W×C or N×C×H×W (C = 1 or 3), float images in [-1, 1] in the same layouts, "
          "N×H×W grey images, or float N×D points")


def read_samples(path: str | Path) -> torch.Tensor:
    """Samples from ``path`` (a folder of images, a ``.npy`` or a ``.npz``) as float32 in data space.

    Returns:
        images N×C×H×W with values in [-1, 1] (exactly on the 8-bit grid when they came as uint8 or image files;
        float arrays as stored), or points N×D.
    """
    p = Path(path)
    if p.is_dir():
        return to_float(torch.from_numpy(read_image_folder(p)))
    if not p.exists():
        raise DataError(f"{p}: no such file or folder; give a folder of images, a .npy or a .npz of samples")
    return samples_from_array(read_array(p), str(p))


# --------------------------------------------------------------------------------------------------- arrays


def read_array(path: Path) -> np.ndarray:
    """The samples array of a ``.npy`` file, or of a ``.npz`` archive (its only array, else the first of
    :data:`NPZ_KEYS` it holds). Read with ``allow_pickle=False``; a one-line DataError otherwise."""
    if path.suffix.lower() not in (".npy", ".npz"):
        raise DataError(f"{path}: not a .npy or .npz file; give a folder of images, a .npy or a .npz of samples")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                return _pick_npz_array(loaded, path)
        return loaded
    except DataError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise DataError(f"{path}: holds Python objects (a pickled array); gankit never unpickles; "
                            f"save a numeric array, e.g. np.save(path, np.asarray(x, np.uint8))") from None
        raise DataError(f"{path}: not a readable NumPy file ({_one_line(e, 120)}); save it with np.save or np.savez") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable NumPy file ({_one_line(e, 120)}); save it with np.save or np.savez") from None


def _pick_npz_array(archive: np.lib.npyio.NpzFile, path: Path) -> np.ndarray:
    names = list(archive.files)
    if len(names) == 1:
        return archive[names[0]]
    for key in NPZ_KEYS:
        if key in names:
            return archive[key]
    if {"mu", "sigma"} <= set(names):
        raise DataError(f"{path}: is a statistics file (mu, sigma), not samples; pass it as --against {path.name}")
    raise DataError(f"{path}: holds {len(names)} arrays ({', '.join(names[:6])}) and none is named "
                    f"{', '.join(NPZ_KEYS)}; save the samples alone or under one of those names")


def _channel_layout(shape: tuple[int, ...], source: str) -> str:
    """"nchw" or "nhwc" for a 4-dim image array: the layout whose channel axis has 1 or 3 entries."""
    first, last = shape[1] in (1, 3), shape[3] in (1, 3)
    if first and last:
        raise DataError(f"{source}: shape {shape} is ambiguous (both axis 1 and axis 3 could hold the channels); "
                        f"give images larger than 3 pixels, N×C×H×W or N×H×W×C")
    if not (first or last):
        raise DataError(f"{source}: shape {shape} has no channel axis of size 1 or 3; give {_WORKS}")
    return "nchw" if first else "nhwc"


def samples_from_array(arr: np.ndarray, source: str) -> torch.Tensor:
    """An array by the conventions in the module docstring -> float32 images N×C×H×W in data space or points N×D.

    ``source`` names the file in errors.
    """
    found = f"{arr.dtype} array of shape {arr.shape}"
    is_float, is_uint8 = np.issubdtype(arr.dtype, np.floating), arr.dtype == np.uint8
    if not (is_float or is_uint8) or arr.ndim not in (2, 3, 4) or (is_uint8 and arr.ndim == 2):
        raise DataError(f"{source}: a {found}; give {_WORKS}")
    if arr.size == 0:
        raise DataError(f"{source}: a {found} holds no samples; give at least 2")
    if is_float and not np.isfinite(arr).all():
        bad = int(arr.size - np.isfinite(arr).sum())
        raise DataError(f"{source}: {bad} NaN or infinite value(s) in a {found}; give finite values (images in [-1, 1])")
    if arr.ndim == 2:
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if arr.ndim == 3:
        arr = arr[:, None]
    elif _channel_layout(arr.shape, source) == "nhwc":
        arr = arr.transpose(0, 3, 1, 2)
    # A fresh C-order copy: a transposed N×H×W×1 view keeps strides (HW, 1, W, 1), which torch reads as channels_last,
    # and convolutions then take another kernel path (FID differs in the 6th digit from the same images in NCHW).
    images = torch.from_numpy(np.array(arr, dtype=np.uint8 if is_uint8 else np.float32, order="C"))
    return to_float(images) if is_uint8 else images


# --------------------------------------------------------------------------------------------------- image folders


def _decode_native(file: str) -> np.ndarray:
    """One image file -> uint8 C×H×W at its own size ("L" -> C=1, everything else -> "RGB", C=3)."""
    try:
        with Image.open(file) as im:
            im.load()
            arr = np.array(_to_l_or_rgb(im), dtype=np.uint8)
    except Exception as e:  # Pillow raises many types for bad files; none may escape raw
        reason = "not a format Pillow recognises" if "cannot identify" in str(e) else _one_line(f"{type(e).__name__}: {e}", 120)
        raise DataError(f"{file}: cannot read as an image ({reason}); remove it from the samples folder") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def read_image_folder(folder: Path) -> np.ndarray:
    """Every image file under ``folder`` (sorted by path) as uint8 N×C×H×W; all must share size and channels."""
    files = _list_images(os.fspath(folder), recursive=True)
    if not files:
        raise DataError(f"{folder}: no image files found (png, jpg, bmp, webp, ...); give a folder of images, a .npy or a .npz")
    first = _decode_native(files[0])
    out = np.empty((len(files), *first.shape), dtype=np.uint8)
    out[0] = first

    def work(i: int) -> None:
        image = _decode_native(files[i])
        if image.shape != first.shape:
            raise DataError(f"{files[i]}: is {_describe(image.shape)} but {files[0]} is {_describe(first.shape)}; "
                            f"every sample must have the same size and channels")
        out[i] = image

    with ThreadPoolExecutor(_workers()) as pool:
        list(pool.map(work, range(1, len(files))))  # re-raises the first error in file order
    return out


def _describe(shape: tuple[int, ...]) -> str:
    c, h, w = shape
    return f"{w}×{h} {'grey' if c == 1 else 'RGB'}"


__all__ = ["NPZ_KEYS", "read_array", "read_image_folder", "read_samples", "samples_from_array"]
