"""The encoding tabular generators train on (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", §4.2).

Each modelled column becomes one or more **spans** of the encoded row (N×D float32):

* numerical and datetime columns: **mode-specific normalization**. A variational (Bayesian, Dirichlet-process)
  Gaussian mixture with up to ``max_modes`` = 10 components (weight-concentration prior 0.001) is fitted to the column;
  components weighing more than 0.005 are its modes. A value x is encoded as the one-hot of a mode k drawn from the
  posterior p(k | x) among the modes that represent x without clipping (a ``softmax`` span of K_valid entries) and the scalar α = (x − μ_k) / (4 σ_k) clipped to
  [−0.99, 0.99] (a ``tanh`` span of 1). Decoding: k = argmax of the mode span, x = 4 σ_k · clip(α, −1, 1) + μ_k.
  A column with missing values gets a two-way ``null`` span (present, missing); a missing value's α encodes the
  column mean (rdt's "mean" replacement with the missingness modelled "from column").
* categorical and boolean columns: a one-hot ``softmax`` span over the categories, plus one entry for "missing"
  when the column has missing values.

The discrete columns' category spans are what CTGAN's conditional vector covers (:attr:`TableTransformer.conditions`).
The fitted state is plain JSON (:meth:`to_dict`): it travels with an exported model, nothing pickled.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .schema import TableSchema

STD_MULTIPLIER = 4.0  # α = (x − μ) / (4σ): within [−1, 1] with probability 99.99 % under the mode's Gaussian
ALPHA_CLIP = 0.99


@dataclass(frozen=True)
class Span:
    """A slice ``[start, start + size)`` of the encoded row.

    Attributes:
        kind: ``tanh`` (a scalar in [−1, 1]) or ``softmax`` (a one-hot).
        column: the index of its column among the schema's modelled columns.
        role: ``value`` (α), ``mode`` (the mixture component), ``null`` (present / missing), ``category``.
    """

    start: int
    size: int
    kind: str
    column: int
    role: str

    @property
    def end(self) -> int:
        return self.start + self.size


class TableTransformer:
    """Codes (N×C float64, see :mod:`gankit.data.tables.schema`) <-> encoded rows (N×D float32).

    Args:
        schema: the table's schema. max_modes: the mixture's components per continuous column (CTGAN: 10).
        weight_threshold: a component weighing more than this is a mode (CTGAN / rdt: 0.005).
    """

    def __init__(self, schema: TableSchema, max_modes: int = 10, weight_threshold: float = 0.005) -> None:
        self.schema, self.max_modes, self.weight_threshold = schema, max_modes, weight_threshold
        self.modes: dict[int, dict[str, list[float]]] = {}  # continuous column index -> {"means", "stds", "weights"}
        self.fill: dict[int, float] = {}  # continuous column -> the value a missing entry encodes (the mean)
        self.spans: list[Span] = []

    # ------------------------------------------------------------------ fitting

    def fit(self, codes: np.ndarray, seed: int = 0) -> "TableTransformer":
        """Fit a Bayesian Gaussian mixture per continuous column (seeded) and lay out the spans."""
        from sklearn.mixture import BayesianGaussianMixture

        self.modes, self.fill = {}, {}
        for j, col in enumerate(self.schema.modelled):
            if col.discrete:
                continue
            v = codes[:, j][~np.isnan(codes[:, j])]
            self.fill[j] = float(v.mean())
            k = max(1, min(self.max_modes, len(np.unique(v))))
            if k == 1:  # a constant column: one mode at its value
                self.modes[j] = {"means": [float(v[0])], "stds": [max(abs(float(v[0])) * 1e-6, 1e-6)], "weights": [1.0]}
                continue
            bgm = BayesianGaussianMixture(n_components=k, weight_concentration_prior_type="dirichlet_process",
                                          weight_concentration_prior=0.001, n_init=1, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence warnings: the fit is used as it is, as CTGAN does
                bgm.fit(v.reshape(-1, 1))
            keep = bgm.weights_ > self.weight_threshold
            if not keep.any():
                keep = bgm.weights_ == bgm.weights_.max()
            floor = max(float(np.std(v)), 1.0) * 1e-6
            self.modes[j] = {"means": bgm.means_[keep, 0].tolist(),
                             "stds": np.maximum(np.sqrt(bgm.covariances_[keep].reshape(-1)), floor).tolist(),
                             "weights": bgm.weights_[keep].tolist()}
        self._layout()
        return self

    def _layout(self) -> None:
        spans, start = [], 0
        for j, col in enumerate(self.schema.modelled):
            if col.discrete:
                n = len(col.categories) + (1 if col.nullable else 0)
                spans.append(Span(start, n, "softmax", j, "category"))
                start += n
                continue
            k = len(self.modes[j]["means"])
            spans.append(Span(start, 1, "tanh", j, "value"))
            spans.append(Span(start + 1, k, "softmax", j, "mode"))
            start += 1 + k
            if col.nullable:
                spans.append(Span(start, 2, "softmax", j, "null"))
                start += 2
        self.spans = spans

    @property
    def dim(self) -> int:
        """D: the width of an encoded row."""
        return self.spans[-1].end if self.spans else 0

    @property
    def conditions(self) -> list[Span]:
        """The category spans of the discrete columns: what CTGAN's conditional vector selects from."""
        return [s for s in self.spans if s.role == "category"]

    # ------------------------------------------------------------------ encoding

    def _posterior(self, j: int, x: np.ndarray) -> np.ndarray:
        """p(k | x) over column j's modes, N×K (the fitted mixture restricted to its modes, renormalized)."""
        m = self.modes[j]
        mu, sd, w = (np.asarray(m[k])[None, :] for k in ("means", "stds", "weights"))
        logp = np.log(w) - np.log(sd) - 0.5 * ((x[:, None] - mu) / sd) ** 2
        logp -= logp.max(1, keepdims=True)
        p = np.exp(logp)
        return p / p.sum(1, keepdims=True)

    def encode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """N×D float32 encoded rows of N×C ``codes``; each value's mode drawn from p(k | x) with ``rng`` (CTGAN draws
        it, so that values between two modes are spread over both)."""
        out = np.zeros((len(codes), self.dim), dtype=np.float32)
        for s in self.spans:
            v = codes[:, s.column]
            missing = np.isnan(v)
            if s.role == "category":
                k = np.where(missing, s.size - 1, np.nan_to_num(v)).astype(np.int64)
                out[np.arange(len(v)), s.start + k] = 1.0
            elif s.role == "null":
                out[np.arange(len(v)), s.start + missing.astype(np.int64)] = 1.0
            elif s.role == "value":
                x = np.where(missing, self.fill[s.column], v)
                m = self.modes[s.column]
                means, stds = np.asarray(m["means"]), np.asarray(m["stds"])
                # Modes that can represent x without clipping α; where none can, all of them (x is then clipped).
                fits = np.abs(x[:, None] - means[None]) <= ALPHA_CLIP * STD_MULTIPLIER * stds[None]
                fits[~fits.any(1)] = True
                p = (self._posterior(s.column, x) + 1e-6) * fits
                p /= p.sum(1, keepdims=True)
                k = np.minimum((p.cumsum(1) > rng.random(len(x))[:, None]).argmax(1), len(means) - 1)
                mu, sd = means[k], stds[k]
                out[:, s.start] = np.clip((x - mu) / (STD_MULTIPLIER * sd), -ALPHA_CLIP, ALPHA_CLIP)
                out[np.arange(len(x)), s.start + 1 + k] = 1.0  # the mode span follows the value span
        return out

    def decode(self, enc: np.ndarray, sigmas: np.ndarray | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """N×C codes of N×D encoded rows (activated outputs or one-hots: each softmax span is read by its argmax).

        ``sigmas`` (D, TVAE): α is drawn from N(α, σ²) of its span before decoding, as TVAE samples.
        """
        enc = np.asarray(enc, dtype=np.float64)
        codes = np.full((len(enc), len(self.schema.modelled)), np.nan)
        nulls = {s.column: s for s in self.spans if s.role == "null"}
        for s in self.spans:
            block = enc[:, s.start:s.end]
            if s.role == "category":
                k = block.argmax(1).astype(np.float64)
                if self.schema.modelled[s.column].nullable:
                    k[k == s.size - 1] = np.nan
                codes[:, s.column] = k
            elif s.role == "value":
                alpha = block[:, 0]
                if sigmas is not None:
                    alpha = rng.normal(alpha, sigmas[s.start]) if rng is not None else alpha
                k = enc[:, s.start + 1:s.start + 1 + len(self.modes[s.column]["means"])].argmax(1)
                m = self.modes[s.column]
                codes[:, s.column] = np.clip(alpha, -1.0, 1.0) * STD_MULTIPLIER * np.asarray(m["stds"])[k] + np.asarray(m["means"])[k]
                if s.column in nulls:
                    ns = nulls[s.column]
                    codes[enc[:, ns.start:ns.end].argmax(1) == 1, s.column] = np.nan
        return codes

    # ------------------------------------------------------------------ state

    def to_dict(self) -> dict[str, Any]:
        return {"max_modes": self.max_modes, "weight_threshold": self.weight_threshold,
                "modes": {str(j): m for j, m in self.modes.items()}, "fill": {str(j): v for j, v in self.fill.items()},
                "spans": [asdict(s) for s in self.spans]}

    @classmethod
    def from_dict(cls, schema: TableSchema, d: dict[str, Any]) -> "TableTransformer":
        t = cls(schema, d["max_modes"], d["weight_threshold"])
        t.modes = {int(j): m for j, m in d["modes"].items()}
        t.fill = {int(j): v for j, v in d["fill"].items()}
        t.spans = [Span(**s) for s in d["spans"]]
        return t


__all__ = ["TableTransformer", "Span", "STD_MULTIPLIER", "ALPHA_CLIP"]
