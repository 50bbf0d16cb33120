"""Batch sources: an endless stream of :class:`~gankit.types.Batch` es (``x``, and ``label`` for labelled data) on the
training device, with resumable state.

* :class:`ToyBatches` draws fresh samples from a known mixture; :class:`ToySetBatches` trains on a fixed set of
  them (``data.size``).
* :class:`TensorBatches` keeps a whole in-memory dataset on the device as one uint8 tensor and slices a
  seeded permutation per epoch: no DataLoader, no worker processes, no per-item Python.
* :class:`StreamBatches` reads a :class:`~gankit.data.images.FolderStream` through a DataLoader with
  workers, pinned memory and prefetching.

Each source's :meth:`state_dict` (JSON + tensors) restores the exact data order on resume.
"""
from __future__ import annotations

from typing import Any

import torch

from ..types import Batch
from .images import FewLabelData, ImageData, to_float
from .molecules import MolBatches, MolData
from .domains import DomainBatches, DomainData
from .photos import PairBatches, PhotoData
from .tables.data import TableBatches, TableData
from .toy import ToyMixture


Shard = tuple[int, int]  # (rank, world size)


def _local(x: torch.Tensor, shard: Shard) -> torch.Tensor:
    """This rank's contiguous slice of a global batch."""
    rank, world = shard
    n = x.shape[0] // world
    return x if world == 1 else x[rank * n:(rank + 1) * n]


def _gen_state(g: torch.Generator) -> list[int]:
    return g.get_state().tolist()


def _set_gen_state(g: torch.Generator, state: list[int]) -> None:
    g.set_state(torch.tensor(state, dtype=torch.uint8))


def _batch(x: torch.Tensor, labels: torch.Tensor | None) -> Batch:
    return Batch(x=x) if labels is None else Batch(x=x, label=labels)


class ToyBatches:
    """Fresh samples from a ToyMixture: x is B×D float32, no labels."""

    def __init__(self, mixture: ToyMixture, batch_size: int, device: torch.device, seed: int, shard: Shard = (0, 1)) -> None:
        self.mixture, self.batch_size, self.device = mixture, batch_size, device
        self.gen = torch.Generator().manual_seed(seed)
        self.shard = shard

    def next(self) -> Batch:
        return Batch(x=_local(self.mixture.sample(self.batch_size, self.gen), self.shard).to(self.device))

    def sample_reference(self, n: int, seed: int = 0) -> torch.Tensor:
        """n real samples (CPU) from a separate generator: the training stream is not advanced."""
        return self.mixture.sample(n, torch.Generator().manual_seed(seed))

    def state_dict(self) -> dict[str, Any]:
        return {"gen": _gen_state(self.gen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _set_gen_state(self.gen, state["gen"])


class EpochOrder:
    """A seeded permutation of ``n`` items per epoch, sliced into batches; the last incomplete batch of an epoch is
    dropped so every batch has the same size (and every epoch a fresh order). The base of the in-memory sources."""

    def _init_order(self, n: int, batch_size: int, device: torch.device, seed: int, shard: Shard) -> None:
        self.batch_size, self.device, self.shard = batch_size, device, shard
        self.gen = torch.Generator().manual_seed(seed)
        self._n, self.epoch, self.pos = n, 0, 0

    def _start_epoch(self) -> None:
        self._epoch_gen_state = _gen_state(self.gen)
        self.perm = torch.randperm(self._n, generator=self.gen).to(self.device)

    def _indices(self) -> torch.Tensor:
        """This rank's indices of the next batch."""
        if self.pos + self.batch_size > len(self.perm):
            self.epoch, self.pos = self.epoch + 1, 0
            self._start_epoch()
        idx = _local(self.perm[self.pos:self.pos + self.batch_size], self.shard)
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        # The generator state *before* this epoch's permutation re-creates it exactly.
        return {"epoch": self.epoch, "pos": self.pos, "epoch_gen": self._epoch_gen_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _set_gen_state(self.gen, state["epoch_gen"])
        self._start_epoch()
        self.epoch, self.pos = state["epoch"], state["pos"]


class ToySetBatches(EpochOrder):
    """A fixed training set of a ToyMixture (``data.size``): ``train_size`` points drawn once from the seed, then epochs
    of seeded permutations: x is B×D float32, no labels."""

    def __init__(self, mixture: ToyMixture, batch_size: int, device: torch.device, seed: int, shard: Shard = (0, 1)) -> None:
        if mixture.train_size < batch_size:
            from ..errors import ConfigError

            raise ConfigError(f"data.size: {mixture.train_size} points are fewer than train.batch_size {batch_size}; "
                              f"use data.size ≥ {batch_size} or data.size=0 (fresh points)")
        self.mixture = mixture
        self._init_order(mixture.train_size, batch_size, device, seed, shard)
        self.points = mixture.sample(mixture.train_size, self.gen).to(device)  # the same points again on resume
        self._start_epoch()

    def next(self) -> Batch:
        return Batch(x=self.points[self._indices()])

    sample_reference = ToyBatches.sample_reference  # the mixture itself: metrics compare with the distribution


class TensorBatches(EpochOrder):
    """A dataset held on the device: x is B×C×H×W float32 in [-1, 1], label B int64 (when labelled), in epochs of
    seeded permutations (:class:`EpochOrder`)."""

    def __init__(self, data: ImageData, batch_size: int, device: torch.device, seed: int, shard: Shard = (0, 1)) -> None:
        if len(data) < batch_size:
            from ..errors import ConfigError

            raise ConfigError(f"train.batch_size: {batch_size} is larger than the dataset ({len(data)} images); use at most {len(data)}")
        self.images = data.images.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self._init_order(len(self.images), batch_size, device, seed, shard)
        self._start_epoch()

    def next(self) -> Batch:
        idx = self._indices()
        x = to_float(self.images[idx])
        return _batch(x, self.labels[idx] if self.labels is not None else None)

    def sample_reference(self, n: int, seed: int = 0) -> torch.Tensor:
        """n real images (CPU, [-1, 1]) chosen by a separate seed: the training stream is not advanced."""
        idx = torch.randperm(len(self.images), generator=torch.Generator().manual_seed(seed))[:n]
        return to_float(self.images[idx.to(self.images.device)]).cpu()


class FewLabelBatches(TensorBatches):
    """The semi-supervised stream over a :class:`~gankit.data.images.FewLabelData`: ``x`` the next batch of every image
    (labels hidden), ``xl`` / ``yl`` a batch of the labelled ones of the same size, drawn with replacement (there may
    be fewer labelled images than a batch) by a seeded generator whose state is part of :meth:`state_dict`."""

    def __init__(self, data: FewLabelData, batch_size: int, device: torch.device, seed: int, shard: Shard = (0, 1)) -> None:
        super().__init__(data, batch_size, device, seed, shard)
        self.labelled = torch.nonzero(data.known).flatten()
        self.lgen = torch.Generator().manual_seed(seed + 1)

    def next(self) -> Batch:
        out = super().next()
        pick = self.labelled[torch.randint(len(self.labelled), (self.batch_size,), generator=self.lgen)]
        idx = _local(pick, self.shard).to(self.device)
        return Batch(x=out["x"], xl=to_float(self.images[idx]), yl=self.labels[idx])

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "lgen": _gen_state(self.lgen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        _set_gen_state(self.lgen, state["lgen"])


class StreamBatches:
    """Batches decoded from disk by DataLoader workers (large folders). Order is seeded per epoch."""

    def __init__(self, stream: Any, batch_size: int, device: torch.device, seed: int, shard: Shard = (0, 1),
                 workers: int = 2) -> None:
        self.stream, self.batch_size, self.device, self.shard = stream, batch_size, device, shard
        self.seed, self.workers = seed, workers
        self.epoch, self.pos = 0, 0
        self._it = None

    def _loader(self) -> Any:
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(len(self.stream), generator=gen)
        usable = len(perm) - len(perm) % self.batch_size
        rank, world = self.shard  # each global batch's slice for this rank: only it is decoded here
        order = perm[self.pos:usable].view(-1, world, self.batch_size // world)[:, rank].reshape(-1).tolist()
        return iter(torch.utils.data.DataLoader(
            torch.utils.data.Subset(self.stream, order), batch_size=self.batch_size // world, num_workers=self.workers,
            pin_memory=self.device.type == "cuda", persistent_workers=False, prefetch_factor=4 if self.workers else None,
            drop_last=True))

    def next(self) -> Batch:
        if self._it is None:
            self._it = self._loader()
        try:
            x, y = next(self._it)
        except StopIteration:
            self.epoch, self.pos = self.epoch + 1, 0
            self._it = self._loader()
            x, y = next(self._it)
        self.pos += self.batch_size
        x = to_float(x.to(self.device, non_blocking=True))
        labels = y.to(self.device, non_blocking=True) if self.stream.labels is not None else None
        return _batch(x, labels)

    def sample_reference(self, n: int, seed: int = 0) -> torch.Tensor:
        """n real images (CPU, [-1, 1]) decoded directly: the training stream is not advanced."""
        idx = torch.randperm(len(self.stream), generator=torch.Generator().manual_seed(seed))[:n]
        return to_float(torch.stack([self.stream[int(i)][0] for i in idx]))

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos, self._it = state["epoch"], state["pos"], None


def make_batches(data: Any, batch_size: int, device: torch.device, seed: int, shard: Shard = (0, 1)) -> Any:
    """The right batch source for what a dataset builder returned.

    ``batch_size`` is the global batch; with ``shard = (rank, world)`` each call returns this rank's
    ``batch_size / world`` samples of it (every rank follows the same seeded order).
    """
    if isinstance(data, ToyMixture):
        return (ToySetBatches if data.train_size else ToyBatches)(data, batch_size, device, seed, shard)
    if isinstance(data, FewLabelData):
        return FewLabelBatches(data, batch_size, device, seed, shard)
    if isinstance(data, ImageData):
        return TensorBatches(data, batch_size, device, seed, shard)
    if isinstance(data, TableData):
        return TableBatches(data, batch_size, device, seed, shard, frequency=data.frequency)
    if isinstance(data, MolData):
        return MolBatches(data, batch_size, device, seed, shard)
    if isinstance(data, PhotoData):
        return PairBatches(data, batch_size, device, seed, shard)
    if isinstance(data, DomainData):
        return DomainBatches(data, batch_size, device, seed, shard)
    return StreamBatches(data, batch_size, device, seed, shard)
