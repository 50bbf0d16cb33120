"""Performance settings of the training step: autocast precision and the learning-rate schedule (the networks torch.compile
may wrap are the task's to say: ``Task.compile_targets``).

Measured in benchmarks/throughput.py and docs/benchmarks/throughput.md; the loop only calls these.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any

import torch

from ..errors import ConfigError


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively (AVX-512 BF16 / AMX CPUs, Ampere+ GPUs)."""
    try:
        if device.type == "cuda":
            return torch.cuda.is_bf16_supported()
        return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device, images: bool) -> str:
    """``auto`` -> bf16 for image models on hardware with native bf16 (1.7-1.8× the fp32 step for dcgan32 on this
    project's CPU, the same digits FID; docs/benchmarks/throughput.md), fp32 otherwise (toy coordinates need fp32's
    precision: bf16 rounds 1.0 to steps of 0.008, close to the ring's std of 0.01)."""
    if precision != "auto":
        return precision
    return "bf16" if images and native_bf16(device) else "fp32"


def precision_context(precision: str, device: torch.device, optimizers: list[str] = ("G", "D")) -> tuple[Any, dict[str, Any]]:
    """(a context-manager factory for the forward passes, {optimizer name: gradient scaler} for fp16).

    tf32 (CUDA) keeps fp32 tensors and switches PyTorch's TensorFloat-32 flags on for matrix products and cuDNN
    convolutions (Ampere or newer; the flags are process-wide).

    bf16 autocasts matrix multiplies and convolutions on CPU and GPU; fp16 needs CUDA and a gradient scaler per
    optimizer (small fp16 gradients would flush to zero). Backward passes run outside autocast, as PyTorch advises.
    """
    if precision in ("fp16", "tf32") and device.type != "cuda":
        raise ConfigError(f"train.precision: {precision} needs a CUDA device (this run is on {device.type}); use train.precision=bf16 or fp32")
    if precision == "tf32":  # fp32 tensors; matrix products and cuDNN convolutions round their inputs to TF32 (process-wide)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if precision in ("fp32", "tf32"):
        return contextlib.nullcontext, {}
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    ctx = functools.partial(torch.autocast, device_type=device.type, dtype=dtype)
    scalers = {name: torch.amp.GradScaler("cuda") for name in optimizers} if precision == "fp16" else {}
    return ctx, scalers


def span(name: str) -> Any:
    """A named range for torch.profiler (``gankit.D.forward``, ``gankit.G.optimizer``, ``gankit.hooks``...): the
    throughput benchmark's per-phase breakdown reads them. Free when no profiler runs (a range costs ~5 µs)."""
    return torch.profiler.record_function(name) if torch._C._autograd._profiler_enabled() else contextlib.nullcontext()


def lr_factor(cfg_train: Any, step: int) -> float:
    """The schedule's multiplier of the learning rates at ``step`` (linear: 1, then down to 0 at the last step)."""
    start = cfg_train.lr_decay_start * cfg_train.steps
    if cfg_train.lr_decay == "none" or step < start:
        return 1.0
    return max(0.0, 1.0 - (step - start) / max(cfg_train.steps - start, 1.0))


def apply_lr_schedule(optimizers: Any, factor: float) -> None:
    """lr = peak · factor in every param group; the peak is the group's rate when the schedule first saw it (the
    divergence guard lowers and resume resets ``lr_peak``)."""
    for opt in optimizers:
        for g in opt.param_groups:
            g["lr"] = g.setdefault("lr_peak", g["lr"]) * factor
