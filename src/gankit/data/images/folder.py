"""Image files decoded with Pillow: :func:`load_image` returns one file as a float C×R×R tensor in [-1, 1];
:func:`load_folder` returns a folder (``DIR/<class>/**/image`` labelled, or ``DIR/image`` unlabelled) as an
:class:`~gankit.data.images.ImageData` of uint8 C×R×R images, or as a :class:`FolderStream` that decodes on
demand when the folder is too large for memory.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from ...errors import DataError
from .core import ImageData, _check_args, _one_line, _workers, to_float

_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
_FIX_HINT = "remove it or set data.skip_bad_files=true"


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
