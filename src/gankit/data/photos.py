"""Photos for restoration: whole images of any size, cut into random patches and degraded into (input, target) pairs.

The offline set is the sample photos that scikit-image and scikit-learn ship (nothing is downloaded), with a fixed
held-out list:

* train: astronaut, coffee, rocket, hubble_deep_field, motorcycle_left, retina, ihc (scikit-image) and china
  (scikit-learn) — 8 photos, about 6.1 million pixels;
* test: chelsea (scikit-image) and flower (scikit-learn) — 2 photos never trained on.

``data.path`` gives a folder of the user's own photos instead (every image file in it, sorted by name, any size;
``data.test_path`` a second folder for the test split, e.g. Set5; without it every 10th file is held out).

A pair is made from a high-resolution patch (``x``: the target) by the degradation ``data.degrade``:

* ``bicubic`` — super-resolution: optional Gaussian blur (``data.blur``, σ in HR pixels), bicubic downsampling by
  ``data.scale`` with the kernel ``data.kernel`` (``matlab``: MATLAB's imresize, the field's convention; ``pil``),
  optional Gaussian noise (``data.noise``), then rounded to 8 bits as a stored LR image would be
  (:func:`gankit.data.degrade.degrade`). ``input`` is N×C×(R/s)×(R/s).
* ``mask`` — inpainting: a hole mask of the kind ``data.mask`` (``center``, ``blocks``, ``free-form``;
  :mod:`gankit.data.masks`); ``input`` is the patch with the hole set to 0 (mid-grey) and ``mask`` is N×1×R×R,
  1 in the hole.

Training patches get a random horizontal flip and a random multiple of 90° rotation (the SR papers' augmentation);
evaluation patches (:func:`eval_pairs`) are fixed crops of the test photos, the same for every caller with the same
seed, so a task's inputs and a metric's targets always match.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from ..errors import ConfigError, DataError
from ..types import Batch
from .images.core import quantize, to_float

BUNDLED_TRAIN = ("astronaut", "coffee", "rocket", "hubble_deep_field", "motorcycle_left", "retina", "ihc", "china")
BUNDLED_TEST = ("chelsea", "flower")
_SKLEARN = {"china", "flower"}
_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


def bundled_path(name: str) -> str:
    """The file of a bundled photo inside the installed scikit-image or scikit-learn package."""
    if name in _SKLEARN:
        import sklearn.datasets

        return os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", f"{name}.jpg")
    import skimage.data

    folder = os.path.dirname(skimage.data.__file__)
    for ext in (".png", ".jpg"):
        p = os.path.join(folder, name + ext)
        if os.path.isfile(p):
            return p
    raise DataError(f"{name}: not among scikit-image's bundled photos in {folder}; reinstall scikit-image")


def read_photo(path: str, channels: int) -> torch.Tensor:
    """One image file as uint8 C×H×W (C = ``channels``: 1 grey by ITU-R 601-2 luma, 3 RGB); one-line DataError if unreadable."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im = im.convert("L" if channels == 1 else "RGB")
            arr = np.array(im, dtype=np.uint8)
    except Exception as e:  # Pillow raises many types; none may escape raw
        raise DataError(f"{path}: cannot read as an image ({type(e).__name__}); remove it or give another folder") from None
    return torch.from_numpy(arr[None] if channels == 1 else np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _folder_files(folder: str, where: str) -> list[str]:
    if not os.path.isdir(folder):
        raise ConfigError(f"{where}: {folder} is not a folder; give a folder of image files")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if not f.startswith(".") and os.path.splitext(f)[1].lower() in _EXTENSIONS)
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(sorted(_EXTENSIONS))}) in this folder")
    return files


@dataclass
class PairSpec:
    """How a target patch becomes an input (the ``data.degrade`` fields; see the module doc)."""

    degrade: str = "bicubic"
    scale: int = 4
    kernel: str = "matlab"
    blur: float = 0.0
    noise: float = 0.0
    mask: str = "center"

    @classmethod
    def from_config(cls, cfg: Any) -> "PairSpec":
        return cls(cfg.degrade, cfg.scale, cfg.kernel, cfg.blur, cfg.noise, cfg.mask)

    def input_size(self, size: int) -> int:
        """The input's side for a target patch of ``size`` pixels."""
        return size // self.scale if self.degrade == "bicubic" else size

    def make(self, hr: torch.Tensor, generator: torch.Generator) -> Batch:
        """The pair of target patches ``hr`` (N×C×R×R in [-1, 1], CPU): a Batch of ``x``, ``input`` (and ``mask``)."""
        if self.degrade == "bicubic":
            from .degrade import degrade

            lr = degrade(hr, self.scale, kernel=self.kernel, blur_sigma=self.blur, noise_std=self.noise, generator=generator)
            return Batch(x=hr, input=quantize(lr))
        from .masks import make_masks

        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        mask = make_masks(self.mask, hr.shape[0], hr.shape[2], hr.shape[3], seed)
        return Batch(x=hr, input=hr * (1 - mask), mask=mask)

    def to_dict(self) -> dict[str, Any]:
        return {"degrade": self.degrade, "scale": self.scale, "kernel": self.kernel, "blur": self.blur, "noise": self.noise,
                "mask": self.mask}


@dataclass
class PhotoData:
    """Whole photos in memory and how pairs are made of them.

    Attributes:
        photos: uint8 C×H×W tensors (sizes differ). names: their names. size: the target patch side R (data.resolution).
        spec: the degradation. source: provenance.
    """

    photos: list[torch.Tensor]
    names: list[str]
    size: int
    spec: PairSpec
    source: str = ""
    channels: int = 3
    pixels: int = field(init=False)

    def __post_init__(self) -> None:
        small = [n for n, p in zip(self.names, self.photos) if min(p.shape[1:]) < self.size]
        if small:
            raise DataError(f"{small[0]}: smaller than the {self.size}-pixel patch (data.resolution); lower data.resolution or remove it")
        self.pixels = int(sum(p.shape[1] * p.shape[2] for p in self.photos))

    def __len__(self) -> int:
        return len(self.photos)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, R, R) of one target patch."""
        return (self.channels, self.size, self.size)

    def crop(self, n: int, generator: torch.Generator, augment: bool) -> torch.Tensor:
        """n random R×R patches (uint8 N×C×R×R): a photo chosen with probability ∝ its area, a uniform position, and
        with ``augment`` a random flip and quarter turn."""
        areas = torch.tensor([float(p.shape[1] * p.shape[2]) for p in self.photos])
        which = torch.multinomial(areas / areas.sum(), n, replacement=True, generator=generator)
        out = []
        for i in which.tolist():
            p = self.photos[i]
            top = int(torch.randint(p.shape[1] - self.size + 1, (1,), generator=generator))
            left = int(torch.randint(p.shape[2] - self.size + 1, (1,), generator=generator))
            patch = p[:, top:top + self.size, left:left + self.size]
            if augment:
                flip, turns = torch.randint(2, (2,), generator=generator).tolist()[0], int(torch.randint(4, (1,), generator=generator))
                patch = torch.rot90(patch.flip(2) if flip else patch, turns, (1, 2))
            out.append(patch)
        return torch.stack(out).contiguous()

    def pair_info(self) -> dict[str, Any]:
        """What DataInfo.pairs records: the degradation, the input's shape and the photos."""
        return {**self.spec.to_dict(), "input_shape": [self.channels, self.spec.input_size(self.size), self.spec.input_size(self.size)],
                "photos": list(self.names), "source": self.source}


def load_photos(cfg: Any, split: str) -> PhotoData:
    """The photos of a split (``train``, ``test`` or ``all``) as ``cfg`` (a DataConfig) says: bundled, or data.path."""
    spec = PairSpec.from_config(cfg)
    if cfg.path:
        files = _folder_files(cfg.path, "data.path")
        if cfg.test_path:
            test = _folder_files(cfg.test_path, "data.test_path")
            chosen = {"train": files, "test": test, "all": files + test}[split]
        else:
            chosen = {"train": [f for i, f in enumerate(files) if i % 10 != 9], "test": files[9::10], "all": files}[split]
            if not chosen:
                raise DataError(f"{cfg.path}: {len(files)} images leave none for the {split} split (every 10th file is held out); "
                                "add images or give data.test_path")
        names = [os.path.basename(f) for f in chosen]
        photos = [read_photo(f, cfg.channels) for f in chosen]
        source = f"{cfg.path}" + (f" + {cfg.test_path}" if cfg.test_path else "")
    else:
        names = list({"train": BUNDLED_TRAIN, "test": BUNDLED_TEST, "all": BUNDLED_TRAIN + BUNDLED_TEST}[split])
        photos = [read_photo(bundled_path(n), cfg.channels) for n in names]
        source = "scikit-image / scikit-learn sample photos"
    return PhotoData(photos, names, cfg.resolution, spec, source, cfg.channels)


def eval_pairs(data: PhotoData, n: int, seed: int = 0) -> Batch:
    """n fixed pairs from ``data`` (the test photos): crops without augmentation at seeded positions, degraded with a
    seeded generator. CPU float tensors ``x`` (N×C×R×R targets), ``input`` (and ``mask``)."""
    gen = torch.Generator().manual_seed(10_007 + seed)
    hr = to_float(data.crop(n, gen, augment=False))
    return data.spec.make(hr, gen)


class PairBatches:
    """Training pairs (``x``, ``input``, and ``mask`` for inpainting) on the device from random augmented patches;
    resumable (the generator's state is the whole state)."""

    def __init__(self, data: PhotoData, batch_size: int, device: torch.device, seed: int, shard: tuple[int, int] = (0, 1)) -> None:
        self.data, self.batch_size, self.device = data, batch_size, device
        self.rank, self.world = shard
        self.gen = torch.Generator().manual_seed(seed)

    def next(self) -> Batch:
        # every rank draws the whole global batch (cheap: crops and a resize) and keeps its slice, so that a run on
        # several processes sees exactly the batches of a single-process run
        batch = self.data.spec.make(to_float(self.data.crop(self.batch_size, self.gen, True)), self.gen)
        n = self.batch_size // self.world
        return Batch({k: v[self.rank * n:(self.rank + 1) * n].to(self.device) for k, v in batch.items()})

    def sample_reference(self, n: int, seed: int = 0) -> torch.Tensor:
        """n target patches (CPU, [-1, 1]) from a separate generator: the training stream is not advanced."""
        return to_float(self.data.crop(n, torch.Generator().manual_seed(seed), augment=False))

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(torch.tensor(state["gen"], dtype=torch.uint8))


__all__ = ["BUNDLED_TRAIN", "BUNDLED_TEST", "PairSpec", "PhotoData", "PairBatches", "bundled_path", "eval_pairs", "load_photos",
           "read_photo"]
