"""Table datasets: a user's CSV (with optional SDV metadata), scikit-learn's bundled tables and simulated tables, as
:class:`TableData`; and :class:`TableBatches`, the stream of batches tabular models train on.

Splits: a CSV or bundled table is split once by a fixed seeded permutation (``data.test_fraction`` of the rows to
``test``; seed 0, independent of the training seed, so every run of a table sees the same split). Simulated tables
draw ``train`` and ``test`` from their true model with different seeds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import DataError
from ...types import Batch
from .schema import TableSchema, from_codes, infer_schema, read_csv, read_metadata, to_codes
from .transform import TableTransformer

SPLIT_SEED = 0


def _sklearn_frame(name: str) -> tuple[Any, str, dict[str, str]]:
    """(DataFrame, target column, sdtype overrides) of a scikit-learn bundled table."""
    import pandas as pd
    from sklearn import datasets

    if name == "diabetes":  # unscaled: age in years, sex 1/2, bmi, bp, six serum measurements, progression
        d = datasets.load_diabetes(scaled=False)
        df = pd.DataFrame(d.data, columns=d.feature_names)
        df["age"] = df["age"].astype(np.int64)
        df["sex"] = df["sex"].map({1.0: "1", 2.0: "2"})
        df["progression"] = d.target.astype(np.int64)
        return df, "progression", {"sex": "categorical"}
    loader = {"iris": datasets.load_iris, "wine": datasets.load_wine, "breast-cancer": datasets.load_breast_cancer}[name]
    d = loader()
    df = pd.DataFrame(d.data, columns=[str(c).replace(" (cm)", "").replace(" ", "_") for c in d.feature_names])
    target = {"iris": "species", "wine": "cultivar", "breast-cancer": "diagnosis"}[name]
    df[target] = np.asarray(d.target_names, dtype=object)[d.target]
    return df, target, {target: "categorical"}


BUNDLED = {"iris": "scikit-learn's iris: 150 flowers, 4 measurements, species (3 classes)",
           "wine": "scikit-learn's wine: 178 wines, 13 measurements, cultivar (3 classes)",
           "breast-cancer": "scikit-learn's breast cancer: 569 tumours, 30 measurements, diagnosis (malignant / benign)",
           "diabetes": "scikit-learn's diabetes (unscaled): 442 patients, age, sex, 8 measurements, disease progression"}


def simulated_names() -> tuple[str, ...]:
    from . import simulated

    return tuple(simulated.SIMULATED)


class TableData:
    """One split of a table, encoded.

    Attributes:
        frame: the split's rows (pandas DataFrame, the table's own values). schema: the whole table's schema.
        codes: N×C float64 codes of ``frame`` (gankit.data.tables.schema). transformer: fitted on this split's codes.
        encoded: N×D float32 encoded rows (mode-specific normalization, one-hots). target: the column downstream
        models predict (ML efficacy), or None. name: the table's name. simulated: the simulated model's name, or None.
    """

    def __init__(self, frame: Any, schema: TableSchema, name: str, target: str | None = None, simulated: str | None = None,
                 transformer: dict | None = None, max_modes: int = 10, frequency: str = "log") -> None:
        self.frequency = frequency  # how training-by-sampling draws categories (TableBatches)
        self.frame, self.schema, self.name, self.target, self.simulated = frame.reset_index(drop=True), schema, name, target, simulated
        self.codes = to_codes(self.frame, schema, where=name)
        if transformer is not None:
            self.transformer = TableTransformer.from_dict(schema, transformer)
        else:
            self.transformer = TableTransformer(schema, max_modes=max_modes).fit(self.codes, seed=SPLIT_SEED)
        self.encoded = self.transformer.encode(self.codes, np.random.default_rng(SPLIT_SEED))

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def shape(self) -> tuple[int]:
        return (self.transformer.dim,)

    def table_info(self) -> dict[str, Any]:
        """What travels with a model (DataInfo.table): the schema, the fitted encoding, the target, the simulated model and
        the category frequencies of each discrete column in this split (``cond_freq``: how CTGAN draws conditions when
        sampling)."""
        freq = []
        for s in self.transformer.conditions:
            counts = np.bincount(self.encoded[:, s.start:s.end].argmax(1), minlength=s.size).astype(np.float64)
            freq.append((counts / counts.sum()).tolist())
        return {"schema": self.schema.to_dict(), "transformer": self.transformer.to_dict(), "target": self.target,
                "simulated": self.simulated, "cond_freq": freq}


def _split(df: Any, split: str, test_fraction: float) -> Any:
    if split == "all" or (split == "train" and test_fraction == 0):
        return df
    if test_fraction == 0:
        raise DataError("data.test_fraction: 0 holds no rows out, so there is no test split; set e.g. data.test_fraction=0.2 "
                        "(held-out rows are what efficacy and privacy compare with)")
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(df))
    n_test = int(round(len(df) * test_fraction))
    if n_test < 1 or len(df) - n_test < 2:
        raise DataError(f"data.test_fraction: {test_fraction} leaves {len(df) - n_test} training and {n_test} test rows of "
                        f"{len(df)}; use a fraction that keeps both")
    idx = perm[:n_test] if split == "test" else perm[n_test:]
    return df.iloc[np.sort(idx)]


def table_frame(cfg: Any, split: str) -> tuple[Any, TableSchema, str, str | None, str | None]:
    """(the rows of ``split``, the whole table's schema, its name, target column, simulated model) of the table ``cfg``
    (a DataConfig) names: ``data.path`` (a CSV, with ``data.metadata`` SDV JSON), else the bundled or simulated
    ``data.table``. Nothing is fitted (see :func:`load_table`)."""
    import pandas as pd

    target = cfg.target or None
    if cfg.path:
        df = read_csv(cfg.path)
        meta = read_metadata(cfg.metadata) if cfg.metadata else None
        schema = infer_schema(df, meta, where=f"data.metadata {cfg.metadata}" if cfg.metadata else f"data.path {cfg.path}")
        name, simulated = Path(cfg.path).stem, None
    elif cfg.table in BUNDLED:
        df, default_target, overrides = _sklearn_frame(cfg.table)
        meta = {"columns": {c: {"sdtype": overrides.get(c, "numerical")} for c in df.columns}}
        schema = infer_schema(df, meta, where=cfg.table)
        name, simulated, target = cfg.table, None, target or default_target
    elif cfg.table in simulated_names():
        from . import simulated as sim

        frames = [sim.sample(cfg.table, cfg.rows, seed=s) for s in (0, 1)]
        both = pd.concat(frames, ignore_index=True)
        schema = infer_schema(both, {"columns": {c: {"sdtype": t} for c, t in sim.columns(cfg.table).items()}}, where=cfg.table)
        df = frames[1] if split == "test" else frames[0] if split == "train" else both
        return typed(df, schema, cfg.table), schema, cfg.table, target, cfg.table
    else:
        known = ", ".join([*BUNDLED, *simulated_names()])
        raise DataError(f"data.table: {cfg.table!r} is not a bundled or simulated table ({known}); or give data.path=FILE.csv")
    if target is not None and target not in schema.names:
        raise DataError(f"data.target: {target!r} is not a column of {name} (its columns: {', '.join(schema.names)})")
    return typed(_split(df, split, cfg.test_fraction), schema, name), schema, name, target, simulated


def typed(df: Any, schema: TableSchema, name: str) -> Any:
    """``df`` in the types generated rows have (the codes' round trip: datetimes parsed, booleans as booleans, integers
    as integers), so that real and synthetic frames compare like for like; values are not clipped or changed."""
    return from_codes(to_codes(df, schema, where=name), schema, clip=False).set_axis(df.index)


def load_table(cfg: Any, split: str) -> TableData:
    """The table ``cfg`` names (see :func:`table_frame`), its ``split``, encoded (the transformer fitted on that split)."""
    df, schema, name, target, simulated = table_frame(cfg, split)
    return TableData(df, schema, name, target, simulated, max_modes=cfg.max_modes, frequency=cfg.cond_frequency)


class TableBatches:
    """Batches of encoded rows for tabular models, on the device, with resumable state.

    Each batch holds ``x`` (B×D rows in epochs: a seeded permutation of the rows, each row once per epoch, what
    likelihood models such as TVAE fit, as the authors' data loader gives them) and,
    when the table has discrete columns, CTGAN's **training-by-sampling** draw (Xu et al. 2019, §4.3): for each of the
    B rows a discrete column chosen uniformly, a category of it with probability ∝ log(1 + frequency) (``log``) or
    ∝ frequency (``empirical``), ``cond`` (B×Σ categories: the one-hot of that column's category, zeros elsewhere),
    ``cond_column`` (B: the index of the chosen span among :attr:`TableTransformer.conditions`) and ``x_cond`` (B×D
    real rows that have that category).
    """

    def __init__(self, data: TableData, batch_size: int, device: torch.device, seed: int, shard: tuple[int, int] = (0, 1),
                 frequency: str = "log") -> None:
        self.rows = torch.from_numpy(data.encoded).to(device)
        self.codes = torch.from_numpy(data.codes)
        self.batch_size, self.device, self.shard = batch_size, device, shard
        self.gen = torch.Generator().manual_seed(seed)  # the conditional draws
        self.order_gen = torch.Generator().manual_seed(seed + 1)  # the epochs' row order
        self._new_epoch()
        spans = data.transformer.conditions
        self.spans = spans
        self.cond_dim = sum(s.size for s in spans)
        if spans:
            order, counts, probs, offsets = [], [], [], []
            for s in spans:
                cat = data.encoded[:, s.start:s.end].argmax(1)
                freq = np.bincount(cat, minlength=s.size).astype(np.float64)
                p = np.log1p(freq) if frequency == "log" else freq.copy()
                probs.append(p / p.sum())
                for k in range(s.size):
                    idx = np.flatnonzero(cat == k)
                    offsets.append(sum(len(o) for o in order))
                    order.append(idx)
                    counts.append(len(idx))
            self.row_order = torch.from_numpy(np.concatenate(order)).long()
            self.cat_offset = torch.tensor(offsets, dtype=torch.long)
            self.cat_count = torch.tensor(counts, dtype=torch.long)
            width = max(s.size for s in spans)
            table = np.zeros((len(spans), width))
            for i, p in enumerate(probs):
                table[i, :len(p)] = p
            self.cat_probs = torch.from_numpy(table)
            self.span_first = torch.tensor(np.cumsum([0] + [s.size for s in spans[:-1]]), dtype=torch.long)

    def _local(self, x: torch.Tensor) -> torch.Tensor:
        rank, world = self.shard
        n = x.shape[0] // world
        return x if world == 1 else x[rank * n:(rank + 1) * n]

    def _new_epoch(self) -> None:
        self._order_state = self.order_gen.get_state().tolist()  # re-creates this epoch's order on resume
        self.perm, self.pos = torch.randperm(len(self.rows), generator=self.order_gen), 0

    def _uniform(self, b: int) -> torch.Tensor:
        """The next b row indices of the epochs' order: every row once per epoch (a batch may span two epochs)."""
        parts = []
        while b:
            if self.pos == len(self.perm):
                self._new_epoch()
            take = self.perm[self.pos:self.pos + b]
            self.pos += len(take)
            b -= len(take)
            parts.append(take)
        return torch.cat(parts)

    def next(self) -> Batch:
        b, g = self.batch_size, self.gen
        idx = self._uniform(b)
        batch = Batch(x=self._local(self.rows[idx.to(self.device)]))
        if self.spans:
            col = torch.randint(len(self.spans), (b,), generator=g)
            cat = torch.multinomial(self.cat_probs[col], 1, generator=g)[:, 0]
            flat = self.span_first[col] + cat  # the category's index in the conditional vector
            count = self.cat_count[flat]
            pick = (torch.rand(b, generator=g, dtype=torch.float64) * count).long().clamp(max=(count - 1).clamp(min=0))
            rows = self.row_order[self.cat_offset[flat] + pick]
            cond = torch.zeros(b, self.cond_dim)
            cond[torch.arange(b), flat] = 1.0
            batch.update(cond=self._local(cond).to(self.device), cond_column=self._local(col).to(self.device),
                         x_cond=self._local(self.rows[rows.to(self.device)]))
        return batch

    def sample_reference(self, n: int, seed: int = 0) -> torch.Tensor:
        """n real rows as codes (CPU, N×C float64, the data space samples are in), drawn with a separate seed: the
        training stream is not advanced."""
        idx = torch.randint(len(self.codes), (n,), generator=torch.Generator().manual_seed(seed))
        return self.codes[idx]

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state().tolist(), "order": self._order_state, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(torch.tensor(state["gen"], dtype=torch.uint8))
        self.order_gen.set_state(torch.tensor(state["order"], dtype=torch.uint8))
        self._new_epoch()
        self.pos = state["pos"]


__all__ = ["TableData", "TableBatches", "load_table", "table_frame", "BUNDLED", "simulated_names", "SPLIT_SEED"]
