"""Optional TensorBoard output (``train.tensorboard=true``; needs ``pip install gankit[tensorboard]``).

:class:`TensorBoardHook` mirrors the run directory into ``RUN/tensorboard/``: every numeric field of each
``log`` event as a scalar (tag ``train/<field>``, x = step) and every sample picture from RUN/samples/ as an
image (tag ``samples``). The run directory stays the contract; TensorBoard is a convenience view of it.
"""
from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from .hooks import Hook
from .snapshots import is_main

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

#: log fields that are counters or clocks rather than training statistics
_NOT_SCALARS = {"event", "time", "step"}


def tensorboard_available() -> bool:
    """True when the ``tensorboard`` package (needed by torch.utils.tensorboard) is importable."""
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardHook(Hook):
    """Writes the latest log record's scalars and the latest sample picture whenever either is new."""

    def __init__(self, trainer: "Trainer") -> None:
        super().__init__(every=1)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(trainer.run_dir / "tensorboard"))
        self._logged_step = -1
        self._imaged_step = -1

    def due(self, t: "Trainer") -> bool:
        tc = t.cfg.train
        return t.step % tc.log_every == 0 or t.step % tc.sample_every == 0

    def fire(self, t: "Trainer") -> None:
        rec: dict[str, Any] = t.last_log or {}
        if rec.get("step", -1) > self._logged_step:
            for key, value in rec.items():
                if key not in _NOT_SCALARS and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.writer.add_scalar(f"train/{key}", value, rec["step"])
            self._logged_step = rec["step"]
        png = t.run_dir / "samples" / f"step{t.step:07d}.png"
        if t.step > self._imaged_step and png.is_file():
            from PIL import Image

            with Image.open(png) as im:
                arr = np.asarray(im.convert("RGB"))
            self.writer.add_image("samples", arr, t.step, dataformats="HWC")
            self._imaged_step = t.step
        self.writer.flush()


def tensorboard_hooks(trainer: "Trainer") -> list[Hook]:
    """[TensorBoardHook] when ``train.tensorboard`` is on, else []; a one-line ConfigError when not installed."""

    if not getattr(trainer.cfg.train, "tensorboard", False):
        return []
    if not tensorboard_available():
        raise ConfigError("train.tensorboard: true needs the tensorboard package; pip install gankit[tensorboard] "
                          "(or set train.tensorboard=false)")
    return [TensorBoardHook(trainer)] if is_main(trainer) else []
