"""What the tabular tasks (``ctgan``, ``tvae``) share: the encoding of the run's table, activations per span, turning
encoded rows into codes and DataFrames, and :class:`TablePipeline` — ``gankit.load(RUN)`` for a table model.

A table model's samples in data space are **codes** (N×C float64: numbers, seconds since 1970, category indices, NaN
for missing; gankit.data.tables.schema); the pipeline turns them into a DataFrame with the table's own values.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..data.tables.schema import TableSchema, from_codes
from ..data.tables.transform import TableTransformer
from ..errors import ConfigError
from .base import Pipeline

Tensor = torch.Tensor


class TableLayout:
    """The run's table as the networks see it: schema, fitted transformer, spans (as index tensors), the conditional
    vector's layout and the categories' frequencies in the training split (from DataInfo.table and the export)."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.schema = TableSchema.from_dict(table["schema"])
        self.transformer = TableTransformer.from_dict(self.schema, table["transformer"])
        self.spans = self.transformer.spans
        self.conditions = self.transformer.conditions
        self.cond_dim = sum(s.size for s in self.conditions)
        self.cond_freq = table.get("cond_freq") or []
        self.target = table.get("target")
        self.simulated = table.get("simulated")

        # Index vectors that let every span be activated at once (a table with 30 continuous columns has 61 spans):
        # the α positions, the one-hot positions with the span each belongs to, and the order that puts them back.
        self.value_idx = torch.tensor([s.start for s in self.spans if s.kind == "tanh"], dtype=torch.long)
        soft = [(i, s.start + k) for i, s in enumerate(sp for sp in self.spans if sp.kind == "softmax") for k in range(s.size)]
        self.soft_idx = torch.tensor([p for _, p in soft], dtype=torch.long)
        self.segment = torch.tensor([i for i, _ in soft], dtype=torch.long)
        self.segments = int(self.segment.max()) + 1 if soft else 0
        self.restore = torch.argsort(torch.cat([self.value_idx, self.soft_idx]))

    def segment_log_softmax(self, logits: Tensor) -> Tensor:
        """Log-softmax within each one-hot span of N×S logits at the one-hot positions (``soft_idx`` order)."""
        seg = self.segment.to(logits.device).expand_as(logits)
        peak = torch.full((len(logits), self.segments), -torch.inf, device=logits.device, dtype=logits.dtype)
        peak = peak.scatter_reduce(1, seg, logits.detach(), "amax")  # a constant per span: it cancels in the gradient
        shifted = logits - peak.gather(1, seg)
        total = torch.zeros_like(peak).scatter_add(1, seg, shifted.exp())
        return shifted - total.log().gather(1, seg)

    def activate(self, raw: Tensor, tau: float = 0.2) -> Tensor:
        """CTGAN's output activation (N×D): tanh on α spans, Gumbel-softmax with temperature ``tau`` on one-hot spans
        (softmax((logits + g)/τ), g ~ Gumbel(0, 1) from the global generator), all spans in one pass."""
        values = torch.tanh(raw[:, self.value_idx.to(raw.device)])
        logits = raw[:, self.soft_idx.to(raw.device)]
        gumbel = -torch.empty_like(logits).exponential_().log()
        soft = self.segment_log_softmax((logits + gumbel) / tau).exp()
        return torch.cat([values, soft], dim=1)[:, self.restore.to(raw.device)]

    def draw(self, raw: Tensor, generator: torch.Generator) -> np.ndarray:
        """Sampled encoded rows (N×D, float64 NumPy) of raw outputs: tanh on α spans, a category drawn from the softmax of
        each one-hot span (the Gumbel-max trick with a seeded generator: what the argmax of a Gumbel-softmax sample is)."""
        raw = raw.double().cpu()
        out = raw.clone()
        for s in self.spans:
            block = raw[:, s.start:s.end]
            if s.kind == "tanh":
                out[:, s.start:s.end] = torch.tanh(block)
            else:
                u = torch.rand(block.shape, generator=generator, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
                k = (block - torch.log(-torch.log(u))).argmax(1)
                out[:, s.start:s.end] = F.one_hot(k, s.size).double()
        return out.numpy()

    def frame(self, codes: Tensor | np.ndarray) -> pd.DataFrame:
        """The table's rows (a DataFrame in its own types) of N×C codes."""
        return from_codes(np.asarray(codes, dtype=np.float64), self.schema)

    def condition_index(self, condition: dict[str, Any]) -> list[tuple[int, int, float]]:
        """[(column index among the modelled ones, category index or -1, code)] of ``{column: value}``; one-line errors for
        unknown columns or values."""
        out = []
        modelled = self.schema.modelled
        for name, value in condition.items():
            if name not in self.schema.names:
                raise ConfigError(f"--condition {name}={value}: {name!r} is not in this table; its columns: {', '.join(self.schema.names)}")
            col = self.schema.column(name)
            if col.sdtype == "id":
                raise ConfigError(f"--condition {name}={value}: {name} is an id column (numbered, not generated)")
            j = next(i for i, c in enumerate(modelled) if c.name == name)
            if col.discrete:
                if col.sdtype == "boolean":
                    text = str(value).strip().lower()
                    value = True if text in ("true", "1", "yes") else False if text in ("false", "0", "no") else value
                cats = [str(c) for c in col.categories]
                if str(value) not in cats:
                    raise ConfigError(f"--condition {name}={value}: not a category of {name}; its categories: {', '.join(cats[:12])}"
                                      f"{', ...' if len(cats) > 12 else ''}")
                k = cats.index(str(value))
                out.append((j, k, float(k)))
            else:
                raise ConfigError(f"--condition {name}={value}: conditions select categorical or boolean columns; {name} is "
                                  f"{col.sdtype} (filter the samples instead)")
        return out

    def cond_vector(self, n: int, picks: list[tuple[int, int, float]], generator: torch.Generator) -> Tensor | None:
        """N×C conditional vectors: the asked category of the first condition's column when conditions are given, else a
        column chosen uniformly and its category drawn by its frequency in the training split."""
        if not self.conditions:
            return None
        cond = torch.zeros(n, self.cond_dim)
        first = np.cumsum([0] + [s.size for s in self.conditions[:-1]])
        if picks:
            j, k, _ = picks[0]
            i = next(i for i, s in enumerate(self.conditions) if s.column == j)
            cond[:, int(first[i]) + k] = 1.0
            return cond
        col = torch.randint(len(self.conditions), (n,), generator=generator)
        width = max(s.size for s in self.conditions)
        probs = torch.zeros(len(self.conditions), width, dtype=torch.float64)
        for i, p in enumerate(self.cond_freq):
            probs[i, :len(p)] = torch.tensor(p, dtype=torch.float64)
        cat = torch.multinomial(probs[col], 1, generator=generator)[:, 0]
        cond[torch.arange(n), torch.from_numpy(first)[col] + cat] = 1.0
        return cond


class TablePipeline(Pipeline):
    """A trained table model: ``pipe(n, seed=0)`` -> a DataFrame of n synthetic rows in the table's own types;
    ``pipe(n, condition={"column": value})`` -> n rows that all have that value (categorical / boolean columns; CTGAN
    feeds the condition to G, then every model keeps only matching rows and draws again until it has n);
    ``pipe.codes(n, seed)`` -> N×C codes."""

    max_rounds = 100

    def __init__(self, module: Any, meta: dict) -> None:
        super().__init__(module, meta)
        self.layout = TableLayout(meta["data"]["table"])

    def codes(self, n: int, seed: int = 0, condition: dict[str, Any] | None = None, batch: int = 512) -> Tensor:
        """N×C codes of n rows (rows that satisfy ``condition``, drawn until there are n)."""
        if n < 1:
            raise ConfigError(f"--n: {n} must be at least 1")
        picks = self.layout.condition_index(condition or {})
        gen = torch.Generator().manual_seed(seed)
        kept, have = [], 0
        for _ in range(self.max_rounds):
            codes = self._draw(max(n - have, 1) if not picks else max(2 * (n - have), 64), picks, gen, batch)
            ok = np.ones(len(codes), dtype=bool)
            for j, _, code in picks:
                ok &= codes[:, j] == code
            kept.append(codes[ok])
            have += int(ok.sum())
            if have >= n:
                return torch.from_numpy(np.concatenate(kept)[:n])
        asked = ", ".join(f"{k}={v}" for k, v in (condition or {}).items())
        raise ConfigError(f"--condition {asked}: the model produced only {have} of {n} matching rows in {self.max_rounds} rounds; "
                          "it has barely learned that value (train longer, or ask for fewer rows)")

    def _draw(self, n: int, picks: list[tuple[int, int, float]], gen: torch.Generator, batch: int) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, n: int, labels: Any = None, seed: int = 0, batch: int = 512,
                 condition: dict[str, Any] | None = None) -> pd.DataFrame:
        if labels is not None:
            raise ConfigError("--class: table models take conditions (--condition column=value), not classes")
        return self.layout.frame(self.codes(n, seed, condition, batch))

    def decode(self, z: Tensor, c: Tensor | None = None, batch: int = 256) -> Tensor:
        raise ConfigError("table models have no latent pictures (interpolations); sample rows with pipe(n)")


__all__ = ["TableLayout", "TablePipeline"]
