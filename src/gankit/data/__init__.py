"""Datasets: a registry of builders, each turning a :class:`~gankit.config.DataConfig` into data.

A builder returns either a :class:`~gankit.data.toy.ToyMixture` (sampled fresh every batch), an
:class:`~gankit.data.images.ImageData` held in memory, or a :class:`~gankit.data.images.FolderStream`. Each builder
declares its ``schema`` (gankit.types: ``points`` or ``image``), whether it is ``labelled``, optionally the feature
``extractor`` its metrics should use, and ``check_config`` for its own fields.
:class:`DataInfo` is the part every other component needs (schema, shape, classes, true modes) and travels
with exported models.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch

from ..errors import ConfigError
from ..registry import Registry
from ..types import schema as schema_named
from . import toy
from .images import ImageData
from .molecules import MolData, load_molecules
from .domains import DomainData, from_layout, offline
from .photos import PhotoData, load_photos
from .tables.data import TableData, load_table

DATASETS: Registry[Callable[..., Any]] = Registry("datasets", callable, "a function (DataConfig, split) -> data")


@dataclass
class DataInfo:
    """What the models and plots need to know about a dataset.

    Attributes:
        schema: the data's schema (gankit.types): "points" (flat vectors) or "image".
        shape: one sample's shape: (D,) for points, (C, H, W) for images.
        num_classes: labels available for conditional models (0: none).
        class_names: names of the classes.
        centers: toys: K×D list of true mode centres.
        std: toys: component standard deviation.
        name: dataset name.
        extractor: the feature extractor the dataset's metrics use ("": its schema's default).
        table: tables: the schema, the fitted encoding, the target column and the simulated model
            (:meth:`gankit.data.tables.TableData.table_info`); None for other data.
        graph: molecules: the vocabulary (atom types, bond types, max_atoms), the source and what was left out
            (:meth:`gankit.data.molecules.MolData.graph_info`); None for other data.
        pairs: restoration pairs: the degradation (degrade, scale, kernel, blur, noise, mask), the input's shape and
            the photos (:meth:`gankit.data.photos.PhotoData.pair_info`); None for other data.
        domains: translation data: kind (paired, unpaired, domains), domain names, channels, attributes, c_dim,
            content classes (:meth:`gankit.data.domains.DomainData.domain_info`); None for other data.
        levels: images: how many equally spaced grey levels the pixels take (256 for 8-bit images; 17 for the bundled
            digits at their own 8×8, whose values are 0..16); what discrete likelihoods model. 0 for other data.
    """

    schema: str
    shape: tuple[int, ...]
    num_classes: int = 0
    class_names: tuple[str, ...] = ()
    centers: list[list[float]] | None = None
    std: float | None = None
    name: str = ""
    extractor: str = ""
    table: dict[str, Any] | None = None
    graph: dict[str, Any] | None = None
    pairs: dict[str, Any] | None = None
    domains: dict[str, Any] | None = None
    levels: int = 0

    @property
    def extractor_name(self) -> str:
        """The default feature extractor: the dataset's own, else its schema's."""
        return self.extractor or schema_named(self.schema).extractor

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        d["class_names"] = list(self.class_names)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataInfo":
        d = dict(d)
        if "kind" in d:  # exports written before the task engine said "kind": "toy" / "image"
            d["schema"] = schema_named(d.pop("kind")).name
        d["shape"] = tuple(d["shape"])
        d["class_names"] = tuple(d.get("class_names", ()))
        return cls(**d)


def info_of(data: Any, name: str) -> DataInfo:
    """The DataInfo of anything a dataset builder returns (``name``: the registered dataset)."""
    extractor = getattr(DATASETS.get(name), "extractor", "") if name in DATASETS else ""
    if isinstance(data, toy.ToyMixture):
        return DataInfo("points", (data.dim,), centers=data.centers.tolist(), std=data.std, name=name, extractor=extractor)
    if isinstance(data, TableData):
        return DataInfo("table", data.shape, name=data.name, table=data.table_info())
    if isinstance(data, MolData):
        return DataInfo("graph", data.shape, name=name, graph=data.graph_info())
    if isinstance(data, PhotoData):
        return DataInfo("pairs", data.shape, name=name, pairs=data.pair_info())
    if isinstance(data, DomainData):
        return DataInfo("domains", data.shape, name=name, domains=data.domain_info())
    return DataInfo("image", tuple(data.shape), data.num_classes, tuple(data.class_names), name=name, extractor=extractor,
                    levels=grey_levels(data.images))


def grey_levels(images: torch.Tensor) -> int:
    """K when the uint8 pixels take exactly the K values round(255·k/(K − 1)), k = 0..K−1 (a K-level image, e.g. the
    digits' 17); 256 otherwise (any 8-bit image)."""
    values = torch.unique(images)
    k = len(values)
    if 1 < k < 256:
        grid = torch.round(torch.arange(k, dtype=torch.float64) * 255 / (k - 1)).to(values.dtype)
        if torch.equal(values, grid):
            return k
    return 256


def build_dataset(cfg: Any, split: str | None = None) -> Any:
    """Build the dataset that ``cfg`` (a DataConfig) names, for ``split`` (default cfg.split)."""
    return DATASETS.get(cfg.name, "data.name")(cfg, split or cfg.split)


def _toy(make: Callable[..., toy.ToyMixture], default_modes: int, default_std: float, uses: str) -> Callable[..., Any]:
    def build(cfg: Any, split: str) -> toy.ToyMixture:
        kwargs = {"modes": cfg.modes or default_modes, "std": cfg.std if cfg.std is not None else default_std}
        kwargs[uses] = getattr(cfg, uses)
        mixture = make(**kwargs)
        if cfg.dim is not None and cfg.dim != mixture.dim:  # the same centres, isotropic noise in every coordinate
            pad = torch.zeros(mixture.num_modes, cfg.dim - mixture.dim)
            mixture = toy.ToyMixture(torch.cat([mixture.centers, pad], dim=1), mixture.std, name=mixture.name)
        mixture.train_size = cfg.size
        return mixture

    def check_config(cfg: Any) -> None:
        if cfg.std is not None and cfg.std <= 0:
            raise ConfigError(f"data.std: {cfg.std!r} must be positive for {make.__name__}")
        if make is toy.grid and cfg.modes is not None and math.isqrt(cfg.modes) ** 2 != cfg.modes:
            raise ConfigError(f"data.modes: {cfg.modes} is not a square number; grid needs 4, 9, 16, 25, 36, ...")
        if getattr(cfg, uses) <= 0:
            raise ConfigError(f"data.{uses}: {getattr(cfg, uses)!r} must be positive")
        natural = 1 if make is toy.mog1d else 2
        if cfg.dim is not None and cfg.dim < natural:
            raise ConfigError(f"data.dim: {cfg.dim} is below {make.__name__}'s own {natural} dimension(s); give {natural} or more")

    build.check_config = check_config  # type: ignore[attr-defined]
    build.labelled = False  # type: ignore[attr-defined]
    build.schema = "points"  # type: ignore[attr-defined]
    build.__doc__ = make.__doc__
    return build


DATASETS.register("ring", _toy(toy.ring, 8, 0.01, "radius"), help="2-D: Gaussians on a circle (8 modes, radius 1, std 0.01)")
DATASETS.register("grid", _toy(toy.grid, 25, 0.05, "spacing"), help="2-D: 5×5 lattice of Gaussians at {-4..4}², std 0.05")
DATASETS.register("mog1d", _toy(toy.mog1d, 3, 0.25, "spacing"), help="1-D: Gaussians on the line (3 modes, spacing 2, std 0.25)")


def _needs_path(fmt: str, example: str) -> Callable[[Any], None]:
    def check_config(cfg: Any) -> None:
        if not cfg.path:
            raise ConfigError(f"data.path: {fmt} needs a path, e.g. data.path={example}")

    return check_config


def _image_builder(loader_name: str, help_text: str, path_example: str | None, extractor: str = "") -> Callable[..., Any]:
    def build(cfg: Any, split: str) -> Any:
        from . import images

        loader = getattr(images, loader_name)
        if loader_name == "load_digits":
            data = loader(resolution=cfg.resolution, channels=cfg.channels, split=split)
        elif loader_name == "load_folder":
            data, _skipped = loader(cfg.path, resolution=cfg.resolution, channels=cfg.channels,
                                    skip_bad_files=cfg.skip_bad_files, max_memory_mb=cfg.max_memory_mb)
        else:
            data = loader(cfg.path, resolution=cfg.resolution, channels=cfg.channels, split=split)
        data = images.select_classes(data, cfg.classes) if cfg.classes else data
        if cfg.labels_per_class and split == "train":  # the few-label protocol hides training labels only
            data = images.few_labels(data, cfg.labels_per_class, cfg.label_seed, cfg.unlabelled)
        return data

    if path_example:
        build.check_config = _needs_path(loader_name.replace("load_", ""), path_example)  # type: ignore[attr-defined]
    build.schema = "image"  # type: ignore[attr-defined]
    build.extractor = extractor  # type: ignore[attr-defined]
    build.__doc__ = help_text
    return build


DATASETS.register("digits", _image_builder("load_digits", "", None, "digits-cnn"),
                  help="scikit-learn's bundled 8×8 digits (1,797 images, 10 classes), resized")
DATASETS.register("folder", _image_builder("load_folder", "", "path/to/images"),
                  help="any image folder; class subfolders become labels")
DATASETS.register("mnist", _image_builder("load_mnist", "", "path/to/mnist", "digits-cnn"),
                  help="MNIST / Fashion-MNIST IDX files (raw or .gz) in data.path")
DATASETS.register("cifar10", _image_builder("load_cifar", "", "path/to/cifar-10-batches-py"),
                  help="CIFAR-10/100 'python version' batches in data.path (read without unpickling)")

def _table(cfg: Any, split: str) -> TableData:
    return load_table(cfg, split)


def _check_table(cfg: Any) -> None:
    from .tables.data import BUNDLED, simulated_names

    if not cfg.path and cfg.table not in (*BUNDLED, *simulated_names()):
        raise ConfigError(f"data.table: {cfg.table!r} is not a bundled or simulated table ({', '.join([*BUNDLED, *simulated_names()])}); "
                          "or give data.path=FILE.csv")
    if cfg.metadata and not cfg.path:
        raise ConfigError("data.metadata: describes a CSV's columns; give the CSV too (data.path=FILE.csv)")


_table.check_config = _check_table  # type: ignore[attr-defined]
_table.schema = "table"  # type: ignore[attr-defined]
_table.labelled = False  # type: ignore[attr-defined]
DATASETS.register("table", _table, help="a table: data.path=FILE.csv (+ data.metadata=SDV.json), or a bundled / simulated data.table")

def _molecules(cfg: Any, split: str) -> MolData:
    return load_molecules(cfg.path, cfg.max_atoms, split)


_molecules.schema = "graph"  # type: ignore[attr-defined]
_molecules.labelled = False  # type: ignore[attr-defined]
DATASETS.register("molecules", _molecules, help="molecular graphs: data.path=FILE.smi|.csv of SMILES, or RDKit's bundled NCI set "
                                                "(431 molecules of ≤ 9 heavy atoms of C, N, O, F)")

def _photos(cfg: Any, split: str) -> PhotoData:
    return load_photos(cfg, split)


def _check_photos(cfg: Any) -> None:
    if cfg.degrade == "bicubic" and cfg.resolution % cfg.scale:
        raise ConfigError(f"data.resolution: {cfg.resolution} is not a multiple of data.scale={cfg.scale}; the low-resolution patch "
                          f"must have whole pixels (e.g. data.resolution={cfg.resolution - cfg.resolution % cfg.scale or cfg.scale * 8})")
    if cfg.test_path and not cfg.path:
        raise ConfigError("data.test_path: a test folder goes with a training folder; give data.path too")
    if cfg.classes:
        raise ConfigError("data.classes: photos have no classes; leave it empty")


_photos.check_config = _check_photos  # type: ignore[attr-defined]
_photos.schema = "pairs"  # type: ignore[attr-defined]
_photos.labelled = False  # type: ignore[attr-defined]
DATASETS.register("photos", _photos, help="restoration pairs cut from photos: scikit-image's and scikit-learn's sample photos "
                                          "(8 train, 2 test), or data.path=FOLDER; degraded by data.degrade (bicubic / mask)")

def _check_domains_common(cfg: Any) -> None:
    if cfg.classes:
        raise ConfigError("data.classes: translation data has domains, not classes; leave it empty")


def _offline_domains(name: str) -> Callable[..., Any]:
    def build(cfg: Any, split: str) -> DomainData:
        data = offline(name, split, cfg.resolution, cfg.channels)
        return dataclasses.replace(data, flip=True) if cfg.flip else data  # the cached set itself stays unflipped

    build.check_config = _check_domains_common  # type: ignore[attr-defined]
    build.schema = "domains"  # type: ignore[attr-defined]
    build.labelled = False  # type: ignore[attr-defined]
    return build


DATASETS.register("edges2digits", _offline_domains("edges2digits"),
                  help="translation, paired: Canny edges -> the bundled digits (pix2pix's edges -> photo, offline)")
DATASETS.register("digits2color", _offline_domains("digits2color"),
                  help="translation, unpaired: plain digits <-> colour digits on photo textures (CycleGAN, offline)")
DATASETS.register("digits-attrs", _offline_domains("digits-attrs"),
                  help="translation, multi-domain: digits with colour x stroke thickness x background attributes (StarGAN, offline)")
DATASETS.register("digits-m", _offline_domains("digits-m"),
                  help="domain adaptation, unpaired, labelled: digits -> digits blended over photo patches as MNIST-M (PixelDA, offline)")


def _translation(cfg: Any, split: str) -> DomainData:
    return from_layout(cfg, split)


def _check_translation(cfg: Any) -> None:
    _check_domains_common(cfg)
    if not cfg.path:
        raise ConfigError("data.path: translation data needs a folder (trainA/ trainB/ testA/ testB/, an aligned train/ test/, "
                          "A/ and B/, train/<domain>/, or CelebA's list_attr_celeba.txt with images/)")


_translation.check_config = _check_translation  # type: ignore[attr-defined]
_translation.schema = "domains"  # type: ignore[attr-defined]
_translation.labelled = False  # type: ignore[attr-defined]
DATASETS.register("translation", _translation, help="translation folders: data.path in the CycleGAN, pix2pix (aligned or parallel), "
                                                    "StarGAN folder-per-domain or CelebA layout (data.layout)")

__all__ = ["DATASETS", "DataInfo", "DomainData", "ImageData", "MolData", "PhotoData", "TableData", "build_dataset", "info_of", "toy"]
