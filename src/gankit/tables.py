"""Synthetic tables from Python, the way the ``ctgan`` package is used: ``fit(df)`` then ``sample(n)``.

>>> from gankit.tables import CTGAN                                   # doctest: +SKIP
>>> model = CTGAN(epochs=300, seed=0).fit(df)                          # a pandas DataFrame  # doctest: +SKIP
>>> synth = model.sample(1000)                                         # a DataFrame, same columns and types  # doctest: +SKIP
>>> model.sample(100, condition={"income": ">50K"})                    # only rows with that value  # doctest: +SKIP
>>> model.evaluate(["quality"])                                        # sdmetrics' quality score, against df  # doctest: +SKIP

Each fit is an ordinary gankit run (the same loop, checkpoints, report and ``gankit.load``): the frame and its
schema are written into the run directory as ``data/data.csv`` and SDV single-table metadata ``data/metadata.json``, and
the run
trains on them. Column types come from the DataFrame's dtypes unless ``metadata`` (SDV's single-table JSON, as a dict)
says otherwise. ``epochs`` counts as the authors' code does (:func:`epoch_steps`).
Runs are reproducible bit for bit on the CPU for a given ``seed``.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Sequence

from .errors import ConfigError


def epoch_steps(task: str, rows: int, batch: int, epochs: int) -> tuple[int, int]:
    """(batch size, steps) of ``epochs`` epochs over ``rows`` training rows, counted as the authors' code counts them:
    CTGAN draws ``batch`` rows per step (with replacement) for max(rows // batch, 1) steps an epoch; TVAE passes over the
    rows in batches of min(batch, rows), the last one partial, ceil(rows / batch) steps an epoch (gankit's batches
    all have min(batch, rows) rows, taken in order from a stream of epochs, so one may span two)."""
    if task == "ctgan":
        return batch, epochs * max(rows // batch, 1)
    batch = min(batch, rows)
    return batch, epochs * -(-rows // batch)


class _TableModel:
    task = ""
    preset = ""

    def __init__(self, epochs: int = 300, batch_size: int = 500, seed: int = 0, out: str | Path | None = None,
                 test_fraction: float = 0.0, overrides: Sequence[str] = (), progress: bool = False) -> None:
        if epochs < 1:
            raise ConfigError(f"epochs: {epochs} must be at least 1")
        self.epochs, self.batch_size, self.seed = epochs, batch_size, seed
        self.out, self.test_fraction, self.overrides, self.progress = out, test_fraction, list(overrides), progress
        self.run_dir: Path | None = None
        self.pipe: Any = None

    def fit(self, df: Any, metadata: dict[str, Any] | None = None, target: str | None = None) -> "_TableModel":
        """Train on DataFrame ``df`` (column types from its dtypes, or ``metadata``); ``target``: the column downstream
        models predict (for ``evaluate(["efficacy"])``). Returns self."""
        from . import api
        from .data.tables.schema import infer_schema, write_csv
        from .training.loop import Trainer

        schema = infer_schema(df, metadata, where="metadata")
        run_dir = Path(self.out) if self.out is not None else Path(tempfile.mkdtemp(prefix=f"gankit-{self.task}-"))
        api._check_out_dir(run_dir)
        csv = write_csv(df, schema, run_dir / "data" / "data.csv")
        meta = run_dir / "data" / "metadata.json"
        meta.write_text(json.dumps(schema.to_sdv(), indent=2))
        train_rows = len(df) - int(round(len(df) * self.test_fraction))
        batch, steps = epoch_steps(self.task, train_rows, self.batch_size, self.epochs)
        overrides = [f"data.path={csv}", f"data.metadata={meta}", f"data.test_fraction={self.test_fraction}",
                     f"train.steps={steps}", f"train.batch_size={batch}", f"train.seed={self.seed}",
                     f"train.progress={str(self.progress).lower()}", "eval.metrics=[]", "train.checkpoint_every=1000000",
                     "train.sample_every=1000000", *([f"data.target={target}"] if target else []), *self.overrides]
        cfg = api.resolve_config(self.preset, overrides=overrides)
        api._run(Trainer(cfg, run_dir))
        self.run_dir = run_dir
        self.pipe = api.load(run_dir)
        return self

    def _fitted(self) -> Any:
        if self.pipe is None:
            raise ConfigError("sample: fit the model first (model.fit(df))")
        return self.pipe

    def sample(self, n: int, condition: dict[str, Any] | None = None, seed: int = 0) -> Any:
        """n synthetic rows (a DataFrame), only rows with ``condition``'s values when given."""
        return self._fitted()(n, seed=seed, condition=condition)

    def evaluate(self, metrics: Sequence[str] = ("quality",), n: int = 5000, seed: int = 0) -> dict[str, Any]:
        """Scores of ``n`` synthetic rows against the fitted data (``efficacy`` and ``privacy`` need held-out rows:
        give ``test_fraction`` > 0)."""
        from .evaluation import evaluate_run

        self._fitted()
        return evaluate_run(self.run_dir, list(metrics), n, seed=seed)


class CTGAN(_TableModel):
    """CTGAN (Xu et al. 2019) with the authors' defaults; ``fit(df)``, ``sample(n, condition=...)``, ``evaluate``."""

    task, preset = "ctgan", "table"


class TVAE(_TableModel):
    """TVAE (Xu et al. 2019) with the authors' defaults; ``fit(df)``, ``sample(n, condition=...)``, ``evaluate``."""

    task, preset = "tvae", "tvae"


__all__ = ["CTGAN", "TVAE", "epoch_steps"]
