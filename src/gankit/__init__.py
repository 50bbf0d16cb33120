"""gankit: train, evaluate, diagnose and apply generative adversarial networks.

The public face::

    gankit.train(preset, out=..., overrides=[...])   -> summary of a run (RUN directory written)
    gankit.load(RUN)                                   -> the exported generator, ready to sample
    gankit.generate(G, n, seed=0)                      -> samples in data space
"""
__version__ = "0.1.0"

from . import data, losses, metrics, models  # noqa: E402,F401  (fill the registries)
from .api import generate, load, save_samples, train  # noqa: E402

__all__ = ["__version__", "train", "load", "generate", "save_samples"]
