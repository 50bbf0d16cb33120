"""Checkpoints without pickle: ``RUN/checkpoints/STEP/`` holds

    <network>.safetensors                             weights and buffers of every network the task names
                                                      (a GAN: G, D, G_ema; a VAE: encoder, decoder, decoder_ema)
    state.safetensors                                 optimizer moments, torch RNG states
    state.json                                        counters, optimizer settings, Python/NumPy RNG, data order

A checkpoint is written to a temporary directory, flushed to disk, then renamed into place, so a crash at
any moment leaves either the previous complete checkpoint or the new one, never half of one. Only
directories whose name is a step number and that contain ``state.json`` count as complete.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import CheckpointError
from .export import load_module_weights, state_tensors


def all_finite(modules: dict[str, nn.Module]) -> bool:
    """Whether every parameter and buffer of every module is finite (a checkpoint never holds NaN or inf)."""
    tensors = [t for m in modules.values() for t in (*m.parameters(), *m.buffers()) if t.is_floating_point()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()) if tensors else True


# --------------------------------------------------------------------------- optimizer <-> (tensors, json)

def split_optimizer(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state_dict as safetensors-ready tensors plus a JSON-ready remainder."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for idx, entry in sd["state"].items():
        plain["state"][str(idx)] = {}
        for k, v in entry.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                plain["state"][str(idx)][k] = v
    return tensors, plain


def join_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any], prefix: str) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in plain["state"].items()}
    for key, t in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[name] = t
    return {"state": state, "param_groups": plain["param_groups"]}


# --------------------------------------------------------------------------- RNG

def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every RNG the run uses: torch (CPU and CUDA) as tensors; Python and NumPy as JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    py = random.getstate()
    np_state = np.random.get_state()
    plain = {"python": [py[0], list(py[1]), py[2]],
             "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])]}
    return tensors, plain


def set_rng_state(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    v, state, gauss = plain["python"]
    random.setstate((v, tuple(state), gauss))
    name, keys, pos, has_gauss, cached = plain["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


# --------------------------------------------------------------------------- save / find / load

def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file_synced(path: Path, write) -> None:  # noqa: ANN001 - callable(path)
    write(path)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def save_checkpoint(run_dir: Path, step: int, networks: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``run_dir/checkpoints/<step>/`` atomically and prune all but the newest ``keep``.

    ``state`` is JSON-ready (counters, data order, ...); RNG states are captured here.
    """
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / str(step)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{step}-", dir=root))
    try:
        for name, net in networks.items():
            _write_file_synced(tmp / f"{name}.safetensors", lambda p, n=net: save_file(state_tensors(n), str(p)))
        tensors, rng_plain = rng_state()
        opt_plain = {}
        for name, opt in optimizers.items():
            t, plain = split_optimizer(opt, f"opt_{name}")
            tensors.update(t)
            opt_plain[name] = plain
        _write_file_synced(tmp / "state.safetensors", lambda p: save_file(tensors, str(p)))
        doc = {"step": step, "rng": rng_plain, "optimizers": opt_plain, **state}
        _write_file_synced(tmp / "state.json", lambda p: p.write_text(json.dumps(doc)))
        _fsync_dir(tmp)
        if final.exists():  # re-saving the same step (e.g. the final one): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if p.name.isdigit() and (p / "state.json").is_file()]
    return sorted(done, key=lambda p: int(p.name))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def match_param_layout(opt: torch.optim.Optimizer) -> None:
    """Give per-parameter optimizer state (Adam's moments) its parameter's memory layout.

    Saved state comes back contiguous; next to channels_last weights the fused optimizer kernels would then pair
    elements differently from an uninterrupted run (a resume was measurably not bitwise before this).
    """
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state.get(p, {})
            for k, v in state.items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    state[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def load_checkpoint(path: Path, networks: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    restore_rng: bool = True) -> dict[str, Any]:
    """Load weights and optimizer state into the given objects; returns the JSON state (counters, data order)."""
    path = Path(path)
    try:
        doc = json.loads((path / "state.json").read_text())
        tensors = load_file(str(path / "state.safetensors"))
    except (OSError, json.JSONDecodeError, SafetensorError, ValueError) as e:
        raise CheckpointError(f"{path}: incomplete or corrupt checkpoint ({str(e).splitlines()[0]})") from None
    for name, net in networks.items():
        load_module_weights(net, path / f"{name}.safetensors")
    for name, opt in optimizers.items():
        try:
            opt.load_state_dict(join_optimizer(tensors, doc["optimizers"][name], f"opt_{name}"))
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: optimizer state for {name} does not fit this run ({e})") from None
        match_param_layout(opt)
    if restore_rng:
        set_rng_state(tensors, doc["rng"])
    return doc
