"""Export and load trained networks as ``config.json`` + ``model.safetensors``: weights travel with their config,
never with code, and loading executes nothing from the files.

An export directory (``RUN/generator/``, ``RUN/best/``) holds::

    config.json        {"format": "gankit-generator", "task": "gan", "family": "dcgan", "network": "G",
                        "kwargs": {...}, "data": {...}, "step": ..., ...}
    model.safetensors  the averaged sampling network's weights and buffers (G_ema, a VAE's decoder_ema)

``task``, ``family`` and ``network`` name the constructor (gankit.models: the family's network of that name) and
``kwargs`` its arguments; exports written before the task engine have no ``task`` / ``network`` (a GAN's G).
:func:`load_export` rebuilds the module; ``gankit.load`` wraps it in the task's pipeline.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import CheckpointError
from ..models import MODELS
from ..version import __version__

FORMAT = "gankit-generator"
UNSAFE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


def state_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers as contiguous CPU tensors (what safetensors stores)."""
    return {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}


def save_module(module: nn.Module, path: Path) -> None:
    save_file(state_tensors(module), str(path))


def load_module_weights(module: nn.Module, path: Path) -> None:
    """Load safetensors weights into ``module``; a mismatch is a one-line CheckpointError."""
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({str(e).splitlines()[0]})") from None
    own = module.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    shapes = [k for k in own if k in tensors and tuple(own[k].shape) != tuple(tensors[k].shape)]
    if missing or extra or shapes:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra
                  else f"shape of {shapes[0]} is {tuple(tensors[shapes[0]].shape)}, expected {tuple(own[shapes[0]].shape)}")
        raise CheckpointError(f"{path}: weights are from another architecture ({detail}); load them with the config they were saved with")
    module.load_state_dict(tensors)


def export_generator(G: nn.Module, family: str, kwargs: dict, data_info: dict, out: Path, extra: dict | None = None,
                     task: str = "gan", network: str = "G") -> Path:
    """Write ``out/config.json`` and ``out/model.safetensors`` atomically (a temp dir renamed into place)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        meta = {"format": FORMAT, "format_version": 2, "gankit_version": __version__, "task": task, "family": family,
                "network": network, "kwargs": kwargs, "data": data_info, **(extra or {})}
        (tmp / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        save_module(G, tmp / "model.safetensors")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def resolve_generator_dir(path: str | Path) -> Path:
    """A run directory, a generator directory or a checkpoint's generator -> the generator directory."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() in UNSAFE_SUFFIXES:
        raise CheckpointError(f"{p}: {p.suffix} files are pickles and gankit never unpickles; give a run directory or a generator directory (config.json + model.safetensors)")
    for cand in (p, p / "generator"):
        if (cand / "config.json").is_file() and (cand / "model.safetensors").is_file():
            return cand
    if not p.exists():
        raise CheckpointError(f"{p}: no such run or generator directory")
    raise CheckpointError(f"{p}: no generator here; expected a run directory with generator/ or a folder with config.json + model.safetensors")


def load_export(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild an exported network, ready to use (eval mode, no gradients).

    The returned module has its usual attributes (``z_dim``, ``c_dim``, ...) and ``gankit_meta`` (the config.json dict,
    including ``data``: the DataInfo of its training set).
    """
    d = resolve_generator_dir(path)
    try:
        meta = json.loads((d / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{d / 'config.json'}: not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{d / 'config.json'}: not a gankit export (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("family") not in MODELS:
        raise CheckpointError(f"{d / 'config.json'}: unknown model family {meta.get('family')!r}; known: {', '.join(MODELS.names())}")
    fam = MODELS.get(meta["family"])
    network = meta.get("network", fam.sampler)
    if network not in fam.networks:
        raise CheckpointError(f"{d / 'config.json'}: family {meta['family']} has no network {network!r}; it has: {', '.join(fam.networks)}")
    try:
        net = fam.networks[network](**meta["kwargs"])
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{d / 'config.json'}: cannot build the {meta['family']} {network} from its kwargs ({e})") from None
    load_module_weights(net, d / "model.safetensors")
    net.gankit_meta = meta
    return net.to(device).eval().requires_grad_(False)


load_generator = load_export  # the name from before the task engine
