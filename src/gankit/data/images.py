"""Image datasets: scikit-learn's bundled digits, image folders, MNIST IDX files, CIFAR batches.

All loaders return an :class:`ImageData` (uint8 images N×C×H×W and optional labels) that the batch
sources put on the training device as one tensor; folders too large for memory stream instead
(:class:`FolderStream`). Nothing is downloaded and nothing a user gives us is unpickled.
"""
from __future__ import annotations

import functools
import gzip
import math
import os
import struct
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from .safe_pickle import UnsafePickleContent, safe_unpickle


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


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 in [-1, 1] (the data space of every image model)."""
    return images.to(torch.float32).div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 0..255, clipping values outside the range."""
    return images.add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8)


# --------------------------------------------------------------------------------------------------
# Loaders. Every problem a user can cause is a one-line DataError (bad file or folder) or
# ConfigError (bad argument value) that names the file or field and says what would work.
# --------------------------------------------------------------------------------------------------

_SPLITS = ("train", "test", "all")
_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
_FIX_HINT = "remove it or set data.skip_bad_files=true"


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


# --------------------------------------------------------------------------------------------------
# scikit-learn digits
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST IDX files
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# CIFAR-10 / CIFAR-100 "python version" batches, read by a restricted interpreter (safe_pickle.py)
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------------


class _BadImage(Exception):
    """One file could not be decoded; the message is the reason (one line)."""


def _composite_on_black(im: Image.Image) -> Image.Image:
    rgba = im.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")


def _to_l_or_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> "L" or "RGB" with 8-bit values (see load_folder for the rules)."""
    mode = im.mode
    if mode.startswith("I;16"):
        return Image.fromarray((np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8), mode="L")
    if mode == "I":  # 32-bit integer: Pillow's mode for 16-bit greyscale from some formats
        return Image.fromarray((np.clip(np.asarray(im), 0, 65535) >> 8).astype(np.uint8), mode="L")
    if mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        if arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in im.info:
        return _composite_on_black(im)
    if mode in ("L", "RGB"):
        return im
    return im.convert("L" if mode == "1" else "RGB")  # P, CMYK, YCbCr, RGBX, HSV, ...


def _decode_image(file: str, resolution: int, channels: int) -> np.ndarray:
    """Decode one image file to uint8 C×R×R (centre square crop, Pillow LANCZOS). Raises _BadImage."""
    size = (resolution, resolution)
    try:
        with Image.open(file) as im:
            im.draft(None, size)  # JPEG: decode at a reduced scale that stays >= R (cheap for photos)
            im.load()
            try:
                im = ImageOps.exif_transpose(im)
            except Exception:  # unreadable EXIF metadata: keep the pixels as stored
                pass
            im = _to_l_or_rgb(im)
            target = "L" if channels == 1 else "RGB"
            if im.mode != target:
                im = im.convert(target)  # L -> RGB replicates the grey; RGB -> L is ITU-R 601-2 luma
            w, h = im.size
            side = min(w, h)
            box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
            if (w, h) != (side, side):
                im = im.crop(box)  # a hard crop: pixels outside the square do not bleed into the edges
            if side != resolution:
                im = im.resize(size, Image.Resampling.LANCZOS)
            arr = np.array(im, dtype=np.uint8)  # a writable copy (torch warns on read-only arrays)
    except UnidentifiedImageError as e:
        empty = os.path.isfile(file) and os.path.getsize(file) == 0
        raise _BadImage("empty file, 0 bytes" if empty else "not a format Pillow recognises") from e
    except Exception as e:  # Pillow raises many types for bad files; none may escape raw
        raise _BadImage(_one_line(f"{type(e).__name__}: {e}", 120)) from e
    if arr.shape[:2] != size:
        raise _BadImage(f"decoded to shape {arr.shape}")
    return np.ascontiguousarray(arr[None] if channels == 1 else arr.transpose(2, 0, 1))


def load_image(file: str, resolution: int, channels: int) -> torch.Tensor:
    """One image file as float C×R×R in [-1, 1] (centre square crop, resized); one-line DataError if unreadable."""
    if not os.path.isfile(file):
        raise DataError(f"{file}: no such image file")
    try:
        arr = _decode_image(file, resolution, channels)
    except _BadImage as e:
        raise _bad_file_error(file, str(e)) from None
    return to_float(torch.from_numpy(arr))


def _bad_file_error(file: str, reason: str) -> DataError:
    return DataError(f"{file}: cannot read as an image ({reason}); {_FIX_HINT}")


def _list_images(folder: str, recursive: bool) -> list[str]:
    """Image files under ``folder`` (hidden files and folders skipped), sorted by path."""
    found: list[str] = []
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a symlink loop
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found += [os.path.join(root, f) for f in files
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in _IMAGE_EXTENSIONS]
    return sorted(found)


class FolderStream(Dataset):
    """An image folder decoded on demand, for folders too large to hold in memory.

    ``stream[i]`` is ``(image, label)``: uint8 tensor C×R×R and an int label (-1 when unlabelled).
    Files are validated only when read. A bad file raises DataError, or with ``skip_bad_files`` is
    replaced by the next readable index (i+1, i+2, ... mod N) and recorded in ``skipped``
    (per process: DataLoader workers keep their own list).
    """

    def __init__(self, files: list[str], labels: torch.Tensor | None, class_names: list[str],
                 resolution: int, channels: int, skip_bad_files: bool, source: str):
        self.files = files
        self.labels = labels
        self.class_names = class_names
        self.resolution = resolution
        self.channels = channels
        self.skip_bad_files = skip_bad_files
        self.source = source
        self.skipped: list[tuple[str, str]] = []
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return (self.channels, self.resolution, self.resolution)

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.labels is not None else 0

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        n = len(self.files)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} images")
        for step in range(n):
            j = (index + step) % n
            if j in self._bad:
                continue
            try:
                image = _decode_image(self.files[j], self.resolution, self.channels)
            except _BadImage as e:
                if not self.skip_bad_files:
                    raise _bad_file_error(self.files[j], str(e)) from None
                self._bad.add(j)
                self.skipped.append((self.files[j], str(e)))
                continue
            return torch.from_numpy(image), int(self.labels[j]) if self.labels is not None else -1
        raise DataError(f"{self.source}: none of the {n} files can be read as an image; check the folder")


def _decode_all(files: list[str], resolution: int, channels: int,
                skip_bad_files: bool) -> tuple[np.ndarray, list[tuple[str, str]], np.ndarray]:
    """Decode every file in threads into uint8 N×C×R×R; returns (images, skipped, kept-mask)."""
    out = np.empty((len(files), channels, resolution, resolution), dtype=np.uint8)

    def work(i: int) -> str | None:
        try:
            out[i] = _decode_image(files[i], resolution, channels)
        except _BadImage as e:
            return str(e)
        return None

    skipped: list[tuple[str, str]] = []
    keep = np.ones(len(files), dtype=bool)
    with ThreadPoolExecutor(_workers()) as pool:
        for i, reason in enumerate(pool.map(work, range(len(files)))):
            if reason is None:
                continue
            if not skip_bad_files:
                pool.shutdown(wait=True, cancel_futures=True)
                raise _bad_file_error(files[i], reason)
            skipped.append((files[i], reason))
            keep[i] = False
    return (out if keep.all() else out[keep]), skipped, keep


def load_folder(path: str, resolution: int = 32, channels: int = 3, skip_bad_files: bool = False,
                max_memory_mb: float = 2048) -> tuple[ImageData | FolderStream, list[tuple[str, str]]]:
    """Images from a folder: ``DIR/<class>/**/image`` (labelled) or ``DIR/image`` (unlabelled).

    Class folders are the sub-folders of ``path`` that hold images (searched recursively), sorted by
    name; images directly in ``path`` are then ignored (with a warning). Without class folders the
    images directly in ``path`` are used, unlabelled. Extensions: png jpg jpeg bmp gif webp tif tiff
    ppm pgm (any case); hidden files are skipped.

    Each image is decoded with Pillow (first frame, EXIF orientation applied) and converted to 8-bit
    "L" (channels=1, ITU-R 601-2 luma) or "RGB" (channels=3): transparency (LA, RGBA, P with
    transparency) is composited on black; 16-bit modes (I;16, I) keep the high byte (value >> 8);
    float "F" images in [0, 1] are scaled by 255, others clipped to 0..255. The centre square is
    resized to R×R with LANCZOS (smaller images are upscaled).

    Args:
        path: the folder.
        resolution: output size R in pixels.
        channels: 1 or 3.
        skip_bad_files: skip unreadable files (listed in the returned ``skipped`` and warned about)
            instead of raising DataError.
        max_memory_mb: when N×C×R×R bytes exceed this many MiB a FolderStream is returned instead.

    Returns:
        (data, skipped): data is an ImageData (images uint8 N×C×R×R, labels int64 (N,) or None) or a
        FolderStream; skipped lists (file, reason) for every file left out (always empty for a
        FolderStream, which validates files lazily and records them in its own ``skipped``).
    """
    _check_args(resolution, channels)
    path = os.fspath(path)
    hint = f"put images (png, jpg, ...) in {path} or in {path}/<class>/"
    if not os.path.exists(path):
        raise DataError(f"{path}: no such folder; {hint}")
    if not os.path.isdir(path):
        raise DataError(f"{path}: is a file, not a folder; {hint}")
    subdirs = sorted(d for d in os.listdir(path) if not d.startswith(".") and os.path.isdir(os.path.join(path, d)))
    classes = [(d, found) for d in subdirs if (found := _list_images(os.path.join(path, d), recursive=True))]
    top_level = _list_images(path, recursive=False)
    if classes:
        if top_level:
            warnings.warn(f"{path}: {len(top_level)} image(s) directly in the folder are ignored because it has "
                          f"class folders; move them into a class folder", stacklevel=2)
        files = [f for _, found in classes for f in found]
        label_list = [k for k, (_, found) in enumerate(classes) for _ in found]
        labels: torch.Tensor | None = torch.tensor(label_list, dtype=torch.int64)
        class_names = [name for name, _ in classes]
    else:
        files, labels, class_names = top_level, None, []
    if not files:
        raise DataError(f"{path}: no image files found; {hint}")
    kind = f"{len(class_names)} classes" if class_names else "unlabelled"
    source = f"folder {path} ({len(files)} files, {kind}), {resolution}x{resolution}"
    if len(files) * channels * resolution**2 > max_memory_mb * 2**20:
        return FolderStream(files, labels, class_names, resolution, channels, skip_bad_files, source), []
    images, skipped, keep = _decode_all(files, resolution, channels, skip_bad_files)
    if skipped:
        if len(skipped) == len(files):
            raise DataError(f"{path}: none of the {len(files)} files can be read as an image, e.g. "
                            f"{skipped[0][0]} ({skipped[0][1]}); {hint}")
        warnings.warn(f"{path}: skipped {len(skipped)} unreadable file(s), e.g. {skipped[0][0]} "
                      f"({skipped[0][1]})", stacklevel=2)
        labels = labels[torch.from_numpy(keep)] if labels is not None else None
    return ImageData(torch.from_numpy(images), labels, class_names, source), skipped
