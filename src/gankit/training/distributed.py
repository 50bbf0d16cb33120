"""Multi-process training with torch.distributed (torchrun), CPU (gloo) or GPU (NCCL).

    torchrun --nproc_per_node=N -m gankit train --preset digits ...           # one machine
    torchrun --nnodes=2 --node_rank=R --master_addr=HOST --master_port=29500 \\
             --nproc_per_node=8 -m gankit train ...                            # several machines

How the work is split, so that N processes compute what one process computes with the same global batch:

* every rank draws the *global* batch's noise and data indices from the same seeded RNG streams and keeps
  its own slice (``shard``): per-rank data sharding with no communication, and identical RNG states;
* gradients are averaged by an explicit all-reduce after every backward pass (``sync_grads``), on every path
  (adversarial terms, penalties, lazy regularization) — no DistributedDataParallel wrapper, whose hooks do
  not fit a loop that freezes D during G's update;
* the step's statistics are averaged too, so the divergence guard takes the same decision on every rank;
* only rank 0 writes: config, metrics.jsonl, samples, checkpoints, reports.

Batch norm statistics stay per rank (unsynchronized), as in most DCGAN code; G_ema is exported from rank 0.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError


@dataclass
class Dist:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, x: torch.Tensor | None) -> torch.Tensor | None:
        """This rank's slice of a global batch (dim 0)."""
        if x is None or self.world == 1:
            return x
        n = x.shape[0] // self.world
        return x[self.rank * n:(self.rank + 1) * n]

    def sync_grads(self, module: nn.Module) -> None:
        """Average gradients over ranks (one flat all-reduce)."""
        if self.world == 1:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        for g, f in zip(grads, torch.split(flat, [g.numel() for g in grads])):
            g.copy_(f.view_as(g))

    def average(self, stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Average a dict of scalar statistics over ranks (one all-reduce)."""
        if self.world == 1 or not stats:
            return stats
        keys = list(stats)
        dev = torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")
        # some statistics are host scalars (instance-noise σ, ADA's p): gather everything on the backend's device
        flat = torch.stack([stats[k].detach().float().reshape(()).to(dev) for k in keys])
        dist.all_reduce(flat)
        flat /= self.world
        return dict(zip(keys, flat.unbind()))

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when any rank says True (stop requests, signals)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def close(self) -> None:
        """Leave the process group once every rank is done: the barrier keeps a rank that finishes first (rank 0 after
        its export, or a lagging rank 1) from closing its sockets while the other still reads its last collective."""
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def from_environment(device: str) -> Dist:
    """Join the process group that torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Dist(rank, world, local)


def check_batch(batch_size: int, d: Dist) -> None:
    if batch_size % d.world:
        raise ConfigError(f"train.batch_size: {batch_size} does not split over {d.world} processes; use a multiple of {d.world}")
