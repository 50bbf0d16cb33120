"""The folder layouts image-to-image translation users already have on disk, read as uint8 tensors.

Every reader takes the dataset's root folder (``data.path``), a split (``train`` or ``test``), the number of channels
(1 grey by ITU-R 601-2 luma, 3 RGB) and a resolution R, and returns uint8 tensors N×C×R×R: each image (or each half,
or each centre crop) is resized to R×R with Pillow's BICUBIC filter. Within a folder, files are sorted by name; hidden
files (a name starting with ".") and files without an image extension are ignored. A split folder without image files
is a one-line :class:`~gankit.errors.DataError` naming the folder; a missing folder is a
:class:`~gankit.errors.ConfigError` that says which layout was expected. The layouts (:data:`LAYOUTS`):

* ``unaligned`` — the CycleGAN repository's layout, two unpaired domains::

      root/trainA/  root/trainB/  root/testA/  root/testB/

  :func:`read_unaligned` returns (a, b, names_a, names_b); a and b may hold different numbers of images.
* ``aligned`` — pix2pix's aligned layout, one file per pair with A on the left half and B on the right half (width 2w,
  height h)::

      root/train/  root/test/   (root/val/ when there is no test/)

  :func:`read_aligned` splits each image at w = width // 2 and returns (a, b, names); ``direction="BtoA"`` swaps the
  halves. An odd width is a DataError.
* ``parallel`` — two parallel folders whose files pair up by exact file name, the input of pix2pix's
  ``combine_A_and_B`` script::

      root/A/train/  root/B/train/  root/A/test/  root/B/test/   (val/ when there is no test/)

  :func:`read_parallel` returns (a, b, names); a file without a partner of the same name is a DataError.
* ``domains`` — StarGAN's folder-per-domain layout (as used for RaFD)::

      root/train/<domain>/*.png  root/test/<domain>/*.png   (root/val/ when there is no test/)

  :func:`read_domains` returns (x, domain index int64 N, domain names sorted); the index is the position of the
  domain among the train split's sorted domain folders, and a test split must have exactly the same domains.
* ``celeba`` — StarGAN's CelebA layout::

      root/list_attr_celeba.txt  root/images/   (root/img_align_celeba/ when there is no images/)

  The attribute file has the number of images on line 1, the 40 attribute names on line 2 and then one line
  ``filename v1 … v40`` per image with values 1 or -1. :func:`read_celeba` returns (x, attribute vectors float32
  N×len(attrs), 1 → 1.0 and -1 → 0.0, names). The split is StarGAN's: the data lines are shuffled as
  ``random.seed(1234); random.shuffle(lines)`` would, the first ``test_count`` are the test split and the rest the
  train split, each kept in that shuffled order. Each image is centre-cropped to ``crop``×``crop`` pixels (as
  torchvision's CenterCrop places it) and then resized to R. Only the requested split's images are read.

:func:`detect_layout` guesses the layout of a root folder from its contents.
"""
from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from ..errors import ConfigError, DataError
from .images.core import _check_args, _workers
from .photos import _EXTENSIONS, _folder_files, read_photo

LAYOUTS = ("unaligned", "aligned", "parallel", "domains", "celeba")
SPLITS = ("train", "test")
ATTR_FILE = "list_attr_celeba.txt"

_UNALIGNED = "the CycleGAN layout is trainA/ trainB/ testA/ testB/"
_ALIGNED = "the pix2pix aligned layout is train/ and test/ (or val/) of A|B images side by side"
_PARALLEL = "the parallel layout is A/train/ B/train/ A/test/ B/test/ (or val/ for test/), pairs sharing a file name"
_DOMAINS = "StarGAN's domain layout is train/<domain>/ and test/<domain>/ (or val/), one folder per domain"
_CELEBA = f"StarGAN's CelebA layout is {ATTR_FILE} and images/ (or img_align_celeba/)"

Box = Optional[tuple[int, int, int, int]]


# ---------------------------------------------------------------- shared helpers


def _check(root: str, split: str, channels: int, resolution: int) -> None:
    _check_args(resolution, channels)
    if split not in SPLITS:
        raise ConfigError(f"split: {split!r} is not allowed; use one of {', '.join(SPLITS)}")
    if not os.path.isdir(root):
        raise ConfigError(f"data.path: {root} is not a folder; give the dataset's root folder")


def _files(folder: str) -> list[str]:
    """The image files of ``folder`` (full paths sorted by name); DataError naming the folder when there are none."""
    return _folder_files(folder, "data.path")


def _subfolders(folder: str) -> list[str]:
    """The names of the non-hidden folders inside ``folder``, sorted."""
    return sorted(f for f in os.listdir(folder) if not f.startswith(".") and os.path.isdir(os.path.join(folder, f)))


def _split_name(base: str, split: str) -> Optional[str]:
    """The folder name that holds ``split`` under ``base``: ``train``, or ``test`` falling back to ``val``; None if absent."""
    for name in (split,) if split == "train" else ("test", "val"):
        if os.path.isdir(os.path.join(base, name)):
            return name
    return None


def _fit(image: torch.Tensor, resolution: int, box: Box) -> np.ndarray:
    """uint8 C×H×W -> uint8 C×R×R: crop to ``box`` (left, top, right, bottom; None: whole image), Pillow BICUBIC resize."""
    arr = image.numpy()
    pil = Image.fromarray(arr[0] if arr.shape[0] == 1 else np.ascontiguousarray(arr.transpose(1, 2, 0)))
    if box is not None:
        pil = pil.crop(box)
    if pil.size != (resolution, resolution):
        pil = pil.resize((resolution, resolution), Image.Resampling.BICUBIC)
    out = np.asarray(pil)
    return out[None] if out.ndim == 2 else out.transpose(2, 0, 1)


def read_images(files: Sequence[str], channels: int, resolution: int, parts: int = 1,
          boxes: Optional[Callable[[str, torch.Tensor], list[Box]]] = None) -> list[torch.Tensor]:
    """Read ``files`` into ``parts`` uint8 tensors N×C×R×R: ``boxes(path, image)`` gives each file's ``parts`` crop
    boxes (default: the whole image once). Decoding runs on threads; the error of the first bad file (in order) is raised."""
    outs = [np.empty((len(files), channels, resolution, resolution), dtype=np.uint8) for _ in range(parts)]

    def one(i: int) -> None:
        image = read_photo(files[i], channels)
        for out, box in zip(outs, boxes(files[i], image) if boxes else [None]):
            out[i] = _fit(image, resolution, box)

    with ThreadPoolExecutor(_workers()) as pool:
        list(pool.map(one, range(len(files))))
    return [torch.from_numpy(out) for out in outs]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# ---------------------------------------------------------------- unaligned (CycleGAN)


def read_unaligned(root: str, split: str, channels: int, resolution: int
                   ) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """The CycleGAN layout's ``root/<split>A/`` and ``root/<split>B/``, unpaired.

    Returns:
        (a uint8 Na×C×R×R, b uint8 Nb×C×R×R, names_a, names_b); the file names sorted, Na and Nb may differ.
    """
    _check(root, split, channels, resolution)
    folders = []
    for side in "AB":
        folder = os.path.join(root, split + side)
        if not os.path.isdir(folder):
            raise ConfigError(f"data.path: {root} has no {split}{side}/ folder; {_UNALIGNED}")
        folders.append(folder)
    files_a, files_b = _files(folders[0]), _files(folders[1])
    (a,), (b,) = read_images(files_a, channels, resolution), read_images(files_b, channels, resolution)
    return a, b, [os.path.basename(f) for f in files_a], [os.path.basename(f) for f in files_b]


# ---------------------------------------------------------------- aligned (pix2pix A|B)


def read_aligned(root: str, split: str, channels: int, resolution: int, direction: str = "AtoB"
                 ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """pix2pix's aligned layout: ``root/<split>/`` (``val/`` for a missing ``test/``), each image A|B side by side.

    The left half (columns 0..w-1, w = width // 2) is A and the right half B; each half is resized to R×R.
    ``direction="BtoA"`` swaps them.

    Returns:
        (a uint8 N×C×R×R, b uint8 N×C×R×R, names sorted).
    """
    _check(root, split, channels, resolution)
    if direction not in ("AtoB", "BtoA"):
        raise ConfigError(f"direction: {direction!r} is not allowed; use AtoB or BtoA")
    sub = _split_name(root, split)
    if sub is None:
        missing = "train/" if split == "train" else "test/ (or val/)"
        raise ConfigError(f"data.path: {root} has no {missing} folder; {_ALIGNED}")
    files = _files(os.path.join(root, sub))

    def halves(path: str, image: torch.Tensor) -> list[Box]:
        h, width = int(image.shape[1]), int(image.shape[2])
        if width < 2 or width % 2:
            raise DataError(f"{path}: {width} px wide; an aligned pair is A|B side by side, an even width; "
                            "fix or remove this file")
        w = width // 2
        left, right = (0, 0, w, h), (w, 0, width, h)
        return [left, right] if direction == "AtoB" else [right, left]

    a, b = read_images(files, channels, resolution, parts=2, boxes=halves)
    return a, b, [os.path.basename(f) for f in files]


# ---------------------------------------------------------------- parallel (A/ and B/ matched by name)


def read_parallel(root: str, split: str, channels: int, resolution: int
                  ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Two parallel folders ``root/A/<split>/`` and ``root/B/<split>/`` (``val/`` for a missing ``test/``) whose files
    pair up by exact file name.

    Returns:
        (a uint8 N×C×R×R, b uint8 N×C×R×R, names sorted); a[i] and b[i] come from files named names[i].
    """
    _check(root, split, channels, resolution)
    for side in "AB":
        if not os.path.isdir(os.path.join(root, side)):
            raise ConfigError(f"data.path: {root} has no {side}/ folder; {_PARALLEL}")
    sub = _split_name(os.path.join(root, "A"), split) or split
    folders = {}
    for side in "AB":
        folder = os.path.join(root, side, sub)
        if not os.path.isdir(folder):
            wanted = f"{side}/{sub}/" + (" (or val/)" if split == "test" and sub == "test" else "")
            raise ConfigError(f"data.path: {root} has no {wanted} folder; {_PARALLEL}")
        folders[side] = folder
    names = {side: [os.path.basename(f) for f in _files(folder)] for side, folder in folders.items()}
    for this, other in (("A", "B"), ("B", "A")):
        alone = sorted(set(names[this]) - set(names[other]))
        if alone:
            raise DataError(f"data.path: {_plural(len(alone), 'image', 'images')} in {folders[this]} "
                            f"{'has' if len(alone) == 1 else 'have'} no match in {folders[other]} (first: {alone[0]}); "
                            "pairs are matched by file name")
    common = names["A"]
    (a,) = read_images([os.path.join(folders["A"], n) for n in common], channels, resolution)
    (b,) = read_images([os.path.join(folders["B"], n) for n in common], channels, resolution)
    return a, b, common


# ---------------------------------------------------------------- domains (StarGAN, RaFD)


def read_domains(root: str, split: str, channels: int, resolution: int
                 ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """StarGAN's folder-per-domain layout: ``root/<split>/<domain>/`` (``val/`` for a missing ``test/``).

    Returns:
        (x uint8 N×C×R×R, domain index int64 N, domain names sorted). Images come domain by domain (in the order of
        the names), sorted by file name within a domain; the index is the domain's position among the train split's
        domains, so it means the same in both splits.
    """
    _check(root, split, channels, resolution)
    if not os.path.isdir(os.path.join(root, "train")):
        raise ConfigError(f"data.path: {root} has no train/ folder; {_DOMAINS}")
    domains = _subfolders(os.path.join(root, "train"))
    if len(domains) < 2:
        found = f" ({', '.join(domains)})" if domains else ""
        raise ConfigError(f"data.path: {os.path.join(root, 'train')} has {len(domains)} domain folders{found}; "
                          f"at least 2 are needed; {_DOMAINS}")
    sub = _split_name(root, split)
    if sub is None:
        raise ConfigError(f"data.path: {root} has no test/ (or val/) folder; {_DOMAINS}")
    if sub != "train":
        here = _subfolders(os.path.join(root, sub))
        for d in domains:
            if d not in here:
                raise ConfigError(f"data.path: domain {d!r} is in train/ but not in {sub}/ of {root}; "
                                  "every domain needs both")
        for d in here:
            if d not in domains:
                raise ConfigError(f"data.path: domain {d!r} is in {sub}/ but not in train/ of {root}; "
                                  "every domain needs both")
    files: list[str] = []
    labels: list[int] = []
    for index, d in enumerate(domains):
        found = _files(os.path.join(root, sub, d))
        files += found
        labels += [index] * len(found)
    (x,) = read_images(files, channels, resolution)
    return x, torch.tensor(labels, dtype=torch.int64), domains


# ---------------------------------------------------------------- CelebA (StarGAN)


def _parse_attributes(path: str, attrs: list[str]) -> tuple[list[str], list[tuple[str, list[float]]]]:
    """The attribute file's names (line 2) and its data lines as (file name, values of ``attrs`` as 1.0 / 0.0)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read the attribute file ({type(e).__name__}); give a readable text file") from None
    if len(lines) < 2:
        raise DataError(f"{path}: {len(lines)} lines; an attribute file has the image count on line 1, the attribute "
                        "names on line 2 and then one line per image")
    try:
        int(lines[0].strip())
    except ValueError:
        raise DataError(f"{path}: line 1 is not the number of images ({lines[0].strip()[:40]!r}); "
                        "an attribute file starts with the image count") from None
    names = lines[1].split()
    if not names:
        raise DataError(f"{path}: line 2 names no attributes; it should list the attribute names, space separated")
    for a in attrs:
        if a not in names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise ConfigError(f"attrs: {a!r} is not an attribute of {path}, which has {len(names)} ({shown}); "
                              "use names from its line 2")
    columns = [names.index(a) + 1 for a in attrs]
    records = []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1:
            raise DataError(f"{path}: line {number} has {len(fields) - 1} values for {len(names)} attributes; "
                            "each line is a file name and one 1 or -1 per attribute")
        bad = [v for v in fields[1:] if v != "1" and v != "-1"]
        if bad:
            raise DataError(f"{path}: line {number} has the value {bad[0][:20]!r}; attribute values are 1 or -1")
        records.append((fields[0], [1.0 if fields[c] == "1" else 0.0 for c in columns]))
    return names, records


def read_celeba(root: str, split: str, channels: int, resolution: int, attrs: list[str], crop: int = 178,
                test_count: int = 2000) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """StarGAN's CelebA layout: ``root/list_attr_celeba.txt`` and ``root/images/`` (or ``root/img_align_celeba/``).

    The data lines are shuffled with ``random.Random(1234).shuffle`` (the order ``random.seed(1234);
    random.shuffle(lines)`` gives); the first ``test_count`` are the test split, the rest the train split, each kept in
    that order. StarGAN's own loader keeps 1999 test images for its 2000 (``(i+1) < 2000``): ``test_count=1999``
    reproduces its split exactly. Each image is centre-cropped to ``crop``×``crop`` (0: no crop; placed as
    torchvision's CenterCrop does) and resized to R×R. Only the split's images are read, but every file the split
    names must exist.

    Returns:
        (x uint8 N×C×R×R, attribute vectors float32 N×len(attrs) in the order of ``attrs``, 1 → 1.0 and -1 → 0.0,
        file names).
    """
    _check(root, split, channels, resolution)
    if isinstance(attrs, str) or not isinstance(attrs, (list, tuple)) or not attrs:
        raise ConfigError(f"attrs: {attrs!r} is not a list of attribute names; give e.g. [Black_Hair, Male, Young]")
    if isinstance(crop, bool) or not isinstance(crop, int) or crop < 0:
        raise ConfigError(f"crop: {crop!r} is not allowed; use a positive crop side in pixels (178 for CelebA) or 0 (no crop)")
    if isinstance(test_count, bool) or not isinstance(test_count, int) or test_count < 0:
        raise ConfigError(f"test_count: {test_count!r} is not allowed; use a count of images, e.g. 2000")
    attr_path = os.path.join(root, ATTR_FILE)
    if not os.path.isfile(attr_path):
        raise ConfigError(f"data.path: {root} has no {ATTR_FILE}; {_CELEBA}")
    images = next((os.path.join(root, d) for d in ("images", "img_align_celeba") if os.path.isdir(os.path.join(root, d))), None)
    if images is None:
        raise ConfigError(f"data.path: {root} has no images/ (or img_align_celeba/) folder; {_CELEBA}")
    _, records = _parse_attributes(attr_path, list(attrs))
    if test_count > len(records):
        raise ConfigError(f"test_count: {test_count} is more than the {len(records)} images in {attr_path}; lower it")
    random.Random(1234).shuffle(records)
    chosen = records[:test_count] if split == "test" else records[test_count:]
    if not chosen:
        raise ConfigError(f"test_count: {test_count} of the {len(records)} images in {attr_path} leaves no {split} "
                          f"images; {'raise' if split == 'test' else 'lower'} it")
    names = [name for name, _ in chosen]
    absent = [n for n in names if not os.path.isfile(os.path.join(images, n))]
    if absent:
        raise DataError(f"{images}: {_plural(len(absent), 'image', 'images')} named in {ATTR_FILE} "
                        f"{'is' if len(absent) == 1 else 'are'} absent (first: {absent[0]}); "
                        "add the images or remove their lines")

    def centre(path: str, image: torch.Tensor) -> list[Box]:
        if not crop:
            return [None]
        h, w = int(image.shape[1]), int(image.shape[2])
        if crop > h or crop > w:
            raise DataError(f"{path}: {w}×{h} px is smaller than the {crop}×{crop} centre crop; use a smaller crop or 0 (no crop)")
        top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
        return [(left, top, left + crop, top + crop)]

    (x,) = read_images([os.path.join(images, n) for n in names], channels, resolution, boxes=centre)
    return x, torch.tensor([v for _, v in chosen], dtype=torch.float32).reshape(len(chosen), len(attrs)), names


# ---------------------------------------------------------------- detection


def detect_layout(root: str) -> str:
    """Guess the layout of ``root`` from its contents: trainA/ (or testA/) → unaligned; A/ and B/ → parallel;
    list_attr_celeba.txt → celeba; train/ holding folders → domains; train/ holding image files → aligned."""
    if not os.path.isdir(root):
        raise ConfigError(f"data.path: {root} is not a folder; give the dataset's root folder")

    def isdir(*parts: str) -> bool:
        return os.path.isdir(os.path.join(root, *parts))

    if isdir("trainA") or isdir("testA"):
        return "unaligned"
    if isdir("A") and isdir("B"):
        return "parallel"
    if os.path.isfile(os.path.join(root, ATTR_FILE)):
        return "celeba"
    if isdir("train"):
        train = os.path.join(root, "train")
        entries = [f for f in os.listdir(train) if not f.startswith(".")]
        if any(os.path.splitext(f)[1].lower() in _EXTENSIONS and os.path.isfile(os.path.join(train, f)) for f in entries):
            return "aligned"
        if any(os.path.isdir(os.path.join(train, f)) for f in entries):
            return "domains"
    raise ConfigError(f"data.path: {root} matches none of the layouts {', '.join(LAYOUTS)} "
                      "(trainA/ trainB/; A/ B/; train/ of A|B images; train/<domain>/; list_attr_celeba.txt + images/); "
                      "arrange it as one of them")


__all__ = ["read_images", "LAYOUTS", "ATTR_FILE", "detect_layout", "read_aligned", "read_celeba", "read_domains", "read_parallel",
           "read_unaligned"]
