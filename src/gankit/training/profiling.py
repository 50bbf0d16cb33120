"""Where a training step spends its time: torch.profiler over a few steps, read through the loop's own ranges.

The loop marks each part of a step (``gankit.<phase>.data / forward / backward / grad_norm / optimizer``,
``gankit.ema``, ``gankit.stats``; :func:`gankit.training.performance.span`). :func:`profile_steps` runs any step
function under the CPU profiler and returns those ranges (inclusive ms per step) beside the ops with the most self
time; :func:`profile_run` adds the unprofiled step time, images per second and FLOPs for a :class:`Trainer`
(``gankit profile``; benchmarks/throughput.py uses both).
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, Callable


def profile_steps(step: Callable[[], Any], steps: int = 10, warmup: int = 5, prefixes: tuple[str, ...] = ("gankit.",),
                  trace: str | Path | None = None) -> dict[str, Any]:
    """Run ``step`` ``warmup`` times, then ``steps`` times under torch.profiler (CPU, and CUDA when available).

    Returns {"ranges": {part: inclusive ms per step} for the ranges named with one of ``prefixes`` (the prefix
    dropped), "ops": {op: self ms per step} for everything else, "total_ms": the ops' sum per step}. ``trace``: also
    write a Chrome trace (chrome://tracing, Perfetto) there."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    for _ in range(warmup):
        step()
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])]
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
    if trace is not None:
        prof.export_chrome_trace(str(trace))
    ranges, ops = {}, {}
    for e in prof.key_averages():
        prefix = next((p for p in prefixes if e.key.startswith(p)), None)
        if prefix is not None:
            ranges[e.key[len(prefix):]] = e.cpu_time_total / 1e3 / steps
        else:
            ops[e.key] = e.self_cpu_time_total / 1e3 / steps
    return {"ranges": ranges, "ops": ops, "total_ms": sum(ops.values()), "steps": steps}


def sync() -> None:
    """Wait for queued GPU work, so that a timing measures completed work; nothing on a CPU-only machine."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def time_steps(step: Callable[[], Any], n: int) -> float:
    """Mean wall time of ``n`` calls of ``step`` (queued GPU work waited for before and after)."""
    sync()
    t = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return (time.perf_counter() - t) / n


def step_seconds(step: Callable[[], Any], steps: int = 10, rounds: int = 3) -> float:
    """Median over ``rounds`` of :func:`time_steps` (no profiler)."""
    return statistics.median(time_steps(step, steps) for _ in range(rounds))


def count_flops(step: Callable[[], Any], tries: int = 4) -> float | None:
    """FLOPs of one call of ``step`` (torch.utils.flop_counter: convolutions and matrix products). The counter cannot
    follow ``autograd.grad`` (input-gradient penalties, path length): such a call is abandoned (for profiling and
    benchmarks only: it leaves that step half done), one step runs uncounted and the next is counted, up to ``tries``
    times; with lazy penalties (StyleGAN2's every 16 / 4 updates) that counts a step without them. None when every try
    differentiated twice."""
    from torch.utils.flop_counter import FlopCounterMode

    for _ in range(tries):
        try:
            with FlopCounterMode(display=False) as counter:
                step()
        except RuntimeError as e:
            if "autograd.grad" not in str(e):
                raise
            step()  # past the update that differentiates twice (the interrupted call did not count as a step)
            continue
        return float(counter.get_total_flops())
    return None


def profile_run(trainer: Any, steps: int = 10, warmup: int = 5, trace: str | Path | None = None, top: int = 15) -> dict[str, Any]:
    """A trainer's step: its parts and top ops under the profiler, then its unprofiled time, images per second and
    FLOPs per step (:func:`count_flops`; None where every counted step differentiated twice)."""
    prof = profile_steps(trainer.train_step, steps, warmup, trace=trace)
    flops = count_flops(trainer.train_step)
    s = step_seconds(trainer.train_step, steps)
    images = trainer.cfg.train.batch_size * sum(p.repeat for p in trainer.task.phases if p.data == "fresh")
    ops = sorted(prof["ops"].items(), key=lambda kv: -kv[1])[:top]
    return {"step_ms": s * 1e3, "img_s": images / s, "gflop_per_step": None if flops is None else flops / 1e9,
            "gflop_s": None if flops is None else flops / 1e9 / s, "precision": trainer.precision, "parts": prof["ranges"],
            "ops": dict(ops), "profiled_ms": prof["total_ms"], "steps": steps}
