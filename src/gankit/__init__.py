"""gankit: train, evaluate, diagnose and apply generative adversarial networks (and the baselines beside them).

The public face::

    gankit.train(preset, out=..., overrides=[...])   -> summary of a run (RUN directory written)
    pipe = gankit.load(RUN)                            -> the exported model as a callable pipeline
    pipe(n) / pipe(n, labels) / gankit.generate(pipe, n, seed=0)   -> samples in data space

The names above are loaded on first use, so that ``import gankit.config`` (or any light module) does not pay for
torch and the models.
"""
from __future__ import annotations

from typing import Any

from .version import __version__

_API = ("train", "load", "generate", "save_samples")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")
