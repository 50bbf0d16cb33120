"""Simulated tables drawn from a known model, so the true likelihood of any row can be computed.

CTGAN's benchmark (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", NeurIPS, arXiv:1907.00503, the
benchmark section's "likelihood fitness metric", and its SDGym code) scores a tabular generator on tables simulated
from an oracle model S:

* ``L_syn``: mean log-likelihood of the synthetic rows under S. It rewards rows that sit on S's modes, so a
  generator that collapses onto one mode scores as well as (or better than) real data;
* ``L_test``: refit a model S' of the same structure on the synthetic rows, then take the mean log-likelihood of a
  held-out test set (drawn from S) under S'. A collapsed generator gets a low ``L_test``: S' misses the other modes.

The reference is ``l_true_test``, the mean log-likelihood of the test set under S itself (≈ minus the entropy of S):
a generator that reproduces S scores L_syn ≈ L_test ≈ l_true_test. L_test cannot exceed it in expectation
(E_S[log S'] = -H(S) - KL(S‖S')); L_syn can (a generator emitting only S's most probable rows beats it). All
log-likelihoods here are natural logs (nats) per row.

Tables (``SIMULATED``):

* ``grid``, ``gridr``, ``ring``: two numerical columns ``x``, ``y``; an equally weighted mixture of isotropic 2-D
  Gaussians with per-coordinate variance 0.05 (std ≈ 0.224). Constants from SDGym's generator,
  ``sdgym-utils/data/simulated/bivariate.py`` in https://github.com/sdv-dev/SDGym at commit e495c48 (first written
  as ``synthetic_data_benchmark/sdata_maker/bivariate.py``, commit 3aa9290 "randomized grid"):
  ``make_gaussian_mixture(..., s=0.05)`` fills the diagonal of the covariance matrix passed to
  ``np.random.multivariate_normal`` with 0.05, so 0.05 is a *variance*.

  - ``grid``: 25 centres on the lattice {-4, -2, 0, 2, 4}²;
  - ``gridr``: the same lattice, each centre moved by an offset uniform on [-0.5, 0.5)² (SDGym: ``np.random.seed(0)``
    at import, then one ``np.random.rand(2) - 0.5`` per centre in ``itertools.product`` order, cast to float32; we
    replay that legacy stream, which NumPy keeps frozen, so the centres are SDGym's);
  - ``ring``: 8 centres on the unit circle at angles πk/4 (SDGym lists the same eight points in another order).

  SDGym draws an equal-sized block of rows per component; here rows are i.i.d. from the mixture (component uniform
  on K), which is the density the likelihoods use.

* ``asia`` (Lauritzen & Spiegelhalter 1988, "Local computations with probabilities on graphical structures and their
  application to expert systems", JRSS-B 50(2)): 8 binary categorical columns with values "yes"/"no" and the
  conditional probability tables of the bnlearn repository's ``asia.bif`` (https://www.bnlearn.com/bnrepository/,
  discrete small networks; 18 parameters). ``either`` is a deterministic OR of ``lung`` and ``tub``, so some
  configurations of known values have probability 0.
* ``child`` (Spiegelhalter & Cowell 1992, "Learning in probabilistic expert systems", Bayesian Statistics 4): 20
  categorical columns, the bnlearn repository's ``child.bif`` (230 parameters). Transcribed from a copy of
  ``child.bif`` and checked entry by entry against an independent copy of bnlearn's ``child.dsc`` (same network in
  the other format). Rows are renormalized to sum to 1 exactly (bnlearn prints ``Disease | BirthAsphyxia = no`` to 8
  decimals).

Rows with probability 0 under S (an unknown category, a missing value, or a forbidden combination for the
networks; a non-finite number for the mixtures) have log-likelihood ``-inf``. ``likelihood_scores`` reports their
fraction as ``out_of_support`` and averages ``l_syn`` over the remaining rows. (SDGym instead adds 1e-8 to every
probability before the log, which makes ``L_syn`` depend on that constant.)

The refit S' differs from SDGym's evaluator in two places: mixtures are refit with scikit-learn's
``GaussianMixture`` with the true K and full covariances (SDGym: 30 components for grid/gridr, 10 for ring,
diagonal); networks are refit on the true DAG with add-one (Laplace) smoothed counts (SDGym: pomegranate's
``BayesianNetwork.from_structure`` and the 1e-8 floor), so every test row keeps a finite ``L_test``. SDGym also scores ``L_syn`` for mixtures under a GMM fit to the test
set; here it is the exact density of S.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from scipy.special import logsumexp

from gankit.errors import DataError

# --------------------------------------------------------------------------------------------------
# Gaussian mixtures (grid, gridr, ring)
# --------------------------------------------------------------------------------------------------

MIXTURE_COLUMNS = ("x", "y")
MIXTURE_VARIANCE = 0.05  # SDGym's s=0.05, the diagonal of the covariance matrix (a variance, not a std)
REFIT_INITS = 3  # GaussianMixture restarts for S' (kept best by likelihood on the synthetic rows, never the test)


class MixtureTable:
    """An equally weighted mixture of K isotropic 2-D Gaussians, as a table of two numerical columns ``x``, ``y``.

    Args:
        name: the table's name. means: K×2 component centres. variance: per-coordinate variance of every component.
        source: where the constants come from (provenance).
    """

    kind = "gaussian_mixture"

    def __init__(self, name: str, means: np.ndarray, variance: float, source: str) -> None:
        self.name, self.source = name, source
        self.means = np.asarray(means, dtype=np.float64)  # K×2
        self.variance = float(variance)
        self.weights = np.full(len(self.means), 1.0 / len(self.means))  # K

    @property
    def n_components(self) -> int:
        return len(self.means)

    def columns(self) -> dict[str, str]:
        """Column name -> sdtype."""
        return {c: "numerical" for c in MIXTURE_COLUMNS}

    def sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """n rows (float64 columns x, y): component uniform on K, then isotropic Gaussian noise."""
        comp = rng.integers(self.n_components, size=n)
        xy = self.means[comp] + math.sqrt(self.variance) * rng.standard_normal((n, 2))
        return pd.DataFrame(xy, columns=list(MIXTURE_COLUMNS))

    def values(self, df: pd.DataFrame, what: str) -> np.ndarray:
        """The table's x, y as an N×2 float64 array (NaN kept); DataError if a column is missing or not numeric."""
        _require_columns(df, MIXTURE_COLUMNS, self.name, what)
        for c in MIXTURE_COLUMNS:
            if not (pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])):
                raise DataError(f"simulated table {self.name!r}: column {c!r} of the {what} table has dtype "
                                f"{df[c].dtype}, not numbers; pass floats as sample({self.name!r}, n, seed) draws them")
        return df[list(MIXTURE_COLUMNS)].to_numpy(dtype=np.float64)

    def log_density(self, xy: np.ndarray) -> np.ndarray:
        """log p(x, y) under the true mixture for N×2 points; N values in nats (-inf for non-finite points)."""
        sq = cdist(xy, self.means, "sqeuclidean")  # N×K squared distances to the centres (NaN rows stay NaN)
        log_comp = -0.5 * sq / self.variance - math.log(2 * math.pi * self.variance)
        out = logsumexp(log_comp + np.log(self.weights), axis=1)
        out[~np.isfinite(xy).all(axis=1)] = -np.inf
        return out

    def log_likelihood(self, df: pd.DataFrame) -> np.ndarray:
        """Per-row true log density (nats), shape (N,)."""
        return self.log_density(self.values(df, "scored"))

    def refit_log_likelihood(self, synth: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """Fit S' (GaussianMixture, K components, full covariance, ``REFIT_INITS`` seeded restarts) to the finite
        synthetic rows; return the per-row log density of ``test`` under S' (nats), shape (N_test,)."""
        xs = self.values(synth, "synthetic")
        xs = xs[np.isfinite(xs).all(axis=1)]
        if len(xs) < self.n_components:
            raise DataError(f"simulated table {self.name!r}: cannot refit a {self.n_components}-component mixture on "
                            f"{len(xs)} finite synthetic rows; pass at least {self.n_components}")
        xt = self.values(test, "test")
        from sklearn.exceptions import ConvergenceWarning  # scikit-learn only loads when a mixture is refit
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        gm = GaussianMixture(self.n_components, covariance_type="full", n_init=REFIT_INITS, random_state=seed)
        # One BLAS/OpenMP thread: on 2-D rows the k-means initialisation is too small to gain from threads, and
        # beside torch's pool it loses badly on a busy machine (measured: 0.2 s alone, 2-5 s oversubscribed).
        with warnings.catch_warnings(), threadpool_limits(1):
            # A collapsed synthetic set (fewer distinct points than K) is what this score exists to expose; sklearn's
            # warning about it adds nothing to the number.
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(xs)
        out = np.full(len(xt), -np.inf)
        finite = np.isfinite(xt).all(axis=1)
        if finite.any():
            out[finite] = gm.score_samples(xt[finite])
        return out


def _grid_centres() -> np.ndarray:
    """The 25 lattice points {-4,-2,0,2,4}², first coordinate outer (SDGym's itertools.product order), 25×2."""
    return np.array(list(product(range(-4, 5, 2), range(-4, 5, 2))), dtype=np.float64)


def _gridr_centres() -> np.ndarray:
    """SDGym's randomized grid: lattice + U[-0.5, 0.5)² offsets from the legacy stream seeded 0, cast to float32."""
    offsets = np.random.RandomState(0).rand(25, 2) - 0.5  # 25 calls of rand(2) read the same 50 numbers in order
    return (_grid_centres() + offsets).astype(np.float32).astype(np.float64)


def _ring_centres() -> np.ndarray:
    """8 points on the unit circle at angles πk/4, 8×2."""
    a = np.pi * np.arange(8) / 4
    return np.stack([np.cos(a), np.sin(a)], axis=1)


_SDGYM = "SDGym sdgym-utils/data/simulated/bivariate.py (github.com/sdv-dev/SDGym, commit e495c48)"

# --------------------------------------------------------------------------------------------------
# Discrete Bayesian networks (asia, child)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    """One node as the .bif file prints it: its states, its parents, and P(node | parents) per parent state tuple."""

    name: str
    states: tuple[str, ...]
    parents: tuple[str, ...]
    table: dict[tuple[str, ...], tuple[float, ...]]


class NetworkTable:
    """A discrete Bayesian network, as a table with one categorical (string-valued) column per node.

    Args:
        name: the table's name. nodes: the nodes, in column order (any order; sampling uses a topological one).
        source: where the tables come from (provenance).

    Attributes:
        states: node -> its states (strings). parents: node -> its parents.
        cpts: node -> P(node | parents) as an array of shape (*parent cardinalities, node cardinality), rows summing
            to 1.
    """

    kind = "bayesian_network"

    def __init__(self, name: str, nodes: tuple[_Node, ...], source: str) -> None:
        self.name, self.source = name, source
        self.nodes = tuple(n.name for n in nodes)
        self.states = {n.name: n.states for n in nodes}
        self.parents = {n.name: n.parents for n in nodes}
        self.published = {n.name: n.table for n in nodes}
        self.cpts = {n.name: self._array(n) for n in nodes}
        self.order = self._topological()
        self._col = {v: j for j, v in enumerate(self.nodes)}

    def _array(self, node: _Node) -> np.ndarray:
        """The node's table as an array (*parent cards, card); checks that it is complete and rows sum to ~1."""
        shape = tuple(len(self.states[p]) for p in node.parents) + (len(node.states),)
        arr = np.empty(shape)
        keys = list(product(*(self.states[p] for p in node.parents)))
        if set(keys) != set(node.table):
            raise ValueError(f"{self.name}: table of {node.name} has parent rows {sorted(node.table)}, needs {keys}")
        for key in keys:
            idx = tuple(self.states[p].index(s) for p, s in zip(node.parents, key))
            row = np.asarray(node.table[key], dtype=np.float64)
            if row.shape != (len(node.states),) or (row < 0).any() or abs(row.sum() - 1) > 1e-6:
                raise ValueError(f"{self.name}: P({node.name} | {key}) = {tuple(row)} is not a distribution")
            arr[idx] = row / row.sum()  # bnlearn prints some rows to 8 decimals: make them sum to 1 exactly
        return arr

    def _topological(self) -> tuple[str, ...]:
        order: list[str] = []
        while len(order) < len(self.nodes):
            ready = [v for v in self.nodes if v not in order and all(p in order for p in self.parents[v])]
            if not ready:
                raise ValueError(f"{self.name}: the parents of {set(self.nodes) - set(order)} form a cycle")
            order.extend(ready)
        return tuple(order)

    def columns(self) -> dict[str, str]:
        """Column name -> sdtype."""
        return {v: "categorical" for v in self.nodes}

    def sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """n rows by ancestral sampling (one uniform per node per row, inverse CDF); string columns (object dtype)."""
        codes = np.zeros((n, len(self.nodes)), dtype=np.int64)
        for v in self.order:
            idx = tuple(codes[:, self._col[p]] for p in self.parents[v])
            cdf = np.cumsum(self.cpts[v][idx], axis=-1)  # (n, card), or (card,) for a root
            # u < the CDF's last value, and a state of probability 0 adds exactly 0.0 to the CDF: its interval
            # [cdf[k-1], cdf[k]) is empty, so no row can draw it (asia's ``either`` relies on that).
            u = np.minimum(rng.random(n)[:, None] * cdf[..., -1:], np.nextafter(cdf[..., -1:], 0))
            codes[:, self._col[v]] = (u >= cdf[..., :-1]).sum(axis=1)
        return pd.DataFrame({v: np.asarray(self.states[v], dtype=object)[codes[:, j]]
                             for j, v in enumerate(self.nodes)})

    def codes(self, df: pd.DataFrame, what: str) -> np.ndarray:
        """Integer state codes, N×V (column order ``self.nodes``); -1 for unknown categories and missing values."""
        _require_columns(df, self.nodes, self.name, what)
        return np.stack([pd.Index(self.states[v]).get_indexer(df[v].to_numpy(dtype=object)).astype(np.int64)
                         for v in self.nodes], axis=1)

    def log_prob_codes(self, codes: np.ndarray, cpts: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Σ_v log P(v | parents) for N×V codes under ``cpts`` (default: the true ones); N values, nats.
        Rows with a -1 code or a zero-probability entry get -inf."""
        cpts = self.cpts if cpts is None else cpts
        known = (codes >= 0).all(axis=1)
        c = np.where(codes >= 0, codes, 0)
        out = np.zeros(len(codes))
        with np.errstate(divide="ignore"):
            for v in self.nodes:
                idx = tuple(c[:, self._col[p]] for p in self.parents[v]) + (c[:, self._col[v]],)
                out += np.log(cpts[v][idx])
        out[~known] = -np.inf
        return out

    def fit_cpts(self, codes: np.ndarray, alpha: float = 1.0) -> dict[str, np.ndarray]:
        """CPTs of the same DAG estimated from N×V codes by counts plus ``alpha`` (1: Laplace's add-one) per cell.

        Rows with any unknown value (-1) are left out. A parent configuration never seen gets the uniform row."""
        codes = codes[(codes >= 0).all(axis=1)]
        fitted = {}
        for v in self.nodes:
            counts = np.zeros(self.cpts[v].shape)
            np.add.at(counts, tuple(codes[:, self._col[p]] for p in self.parents[v]) + (codes[:, self._col[v]],), 1.0)
            fitted[v] = (counts + alpha) / (counts.sum(axis=-1, keepdims=True) + alpha * counts.shape[-1])
        return fitted

    def log_likelihood(self, df: pd.DataFrame) -> np.ndarray:
        """Per-row true log probability (nats), shape (N,); -inf outside the support."""
        return self.log_prob_codes(self.codes(df, "scored"))

    def refit_log_likelihood(self, synth: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """Fit S' (the true DAG, add-one smoothed counts on the fully known synthetic rows) and return the per-row
        log probability of ``test`` under it (nats), shape (N_test,). ``seed`` is unused: counting is exact."""
        fitted = self.fit_cpts(self.codes(synth, "synthetic"))
        return self.log_prob_codes(self.codes(test, "test"), fitted)


_ASIA = (
    _Node("asia", ("yes", "no"), (), {(): (0.01, 0.99)}),
    _Node("tub", ("yes", "no"), ("asia",), {("yes",): (0.05, 0.95), ("no",): (0.01, 0.99)}),
    _Node("smoke", ("yes", "no"), (), {(): (0.5, 0.5)}),
    _Node("lung", ("yes", "no"), ("smoke",), {("yes",): (0.1, 0.9), ("no",): (0.01, 0.99)}),
    _Node("bronc", ("yes", "no"), ("smoke",), {("yes",): (0.6, 0.4), ("no",): (0.3, 0.7)}),
    _Node("either", ("yes", "no"), ("lung", "tub"), {
        ("yes", "yes"): (1.0, 0.0),
        ("yes", "no"): (1.0, 0.0),
        ("no", "yes"): (1.0, 0.0),
        ("no", "no"): (0.0, 1.0),
    }),
    _Node("xray", ("yes", "no"), ("either",), {("yes",): (0.98, 0.02), ("no",): (0.05, 0.95)}),
    _Node("dysp", ("yes", "no"), ("bronc", "either"), {
        ("yes", "yes"): (0.9, 0.1),
        ("yes", "no"): (0.8, 0.2),
        ("no", "yes"): (0.7, 0.3),
        ("no", "no"): (0.1, 0.9),
    }),
)

_CHILD = (
    _Node("BirthAsphyxia", ("yes", "no"), (), {
        (): (0.1, 0.9),
    }),
    _Node("HypDistrib", ("Equal", "Unequal"), ("DuctFlow", "CardiacMixing"), {
        ("Lt_to_Rt", "None"): (0.95, 0.05),
        ("Lt_to_Rt", "Mild"): (0.95, 0.05),
        ("Lt_to_Rt", "Complete"): (0.95, 0.05),
        ("Lt_to_Rt", "Transp."): (0.95, 0.05),
        ("None", "None"): (0.95, 0.05),
        ("None", "Mild"): (0.95, 0.05),
        ("None", "Complete"): (0.95, 0.05),
        ("None", "Transp."): (0.95, 0.05),
        ("Rt_to_Lt", "None"): (0.05, 0.95),
        ("Rt_to_Lt", "Mild"): (0.5, 0.5),
        ("Rt_to_Lt", "Complete"): (0.95, 0.05),
        ("Rt_to_Lt", "Transp."): (0.5, 0.5),
    }),
    _Node("HypoxiaInO2", ("Mild", "Moderate", "Severe"), ("CardiacMixing", "LungParench"), {
        ("None", "Normal"): (0.93, 0.05, 0.02),
        ("None", "Congested"): (0.15, 0.8, 0.05),
        ("None", "Abnormal"): (0.7, 0.2, 0.1),
        ("Mild", "Normal"): (0.1, 0.8, 0.1),
        ("Mild", "Congested"): (0.1, 0.75, 0.15),
        ("Mild", "Abnormal"): (0.1, 0.65, 0.25),
        ("Complete", "Normal"): (0.1, 0.7, 0.2),
        ("Complete", "Congested"): (0.05, 0.65, 0.3),
        ("Complete", "Abnormal"): (0.1, 0.5, 0.4),
        ("Transp.", "Normal"): (0.02, 0.18, 0.8),
        ("Transp.", "Congested"): (0.1, 0.3, 0.6),
        ("Transp.", "Abnormal"): (0.02, 0.18, 0.8),
    }),
    _Node("CO2", ("Normal", "Low", "High"), ("LungParench",), {
        ("Normal",): (0.8, 0.1, 0.1),
        ("Congested",): (0.65, 0.05, 0.3),
        ("Abnormal",): (0.45, 0.05, 0.5),
    }),
    _Node("ChestXray", ("Normal", "Oligaemic", "Plethoric", "Grd_Glass", "Asy/Patch"), ("LungParench", "LungFlow"), {
        ("Normal", "Normal"): (0.9, 0.03, 0.03, 0.01, 0.03),
        ("Normal", "Low"): (0.14, 0.8, 0.02, 0.02, 0.02),
        ("Normal", "High"): (0.15, 0.01, 0.79, 0.04, 0.01),
        ("Congested", "Normal"): (0.05, 0.02, 0.15, 0.7, 0.08),
        ("Congested", "Low"): (0.05, 0.22, 0.08, 0.5, 0.15),
        ("Congested", "High"): (0.05, 0.02, 0.4, 0.4, 0.13),
        ("Abnormal", "Normal"): (0.05, 0.05, 0.05, 0.05, 0.8),
        ("Abnormal", "Low"): (0.05, 0.15, 0.05, 0.05, 0.7),
        ("Abnormal", "High"): (0.24, 0.33, 0.03, 0.34, 0.06),
    }),
    _Node("Grunting", ("yes", "no"), ("LungParench", "Sick"), {
        ("Normal", "yes"): (0.2, 0.8),
        ("Normal", "no"): (0.05, 0.95),
        ("Congested", "yes"): (0.4, 0.6),
        ("Congested", "no"): (0.2, 0.8),
        ("Abnormal", "yes"): (0.8, 0.2),
        ("Abnormal", "no"): (0.6, 0.4),
    }),
    _Node("LVHreport", ("yes", "no"), ("LVH",), {
        ("yes",): (0.9, 0.1),
        ("no",): (0.05, 0.95),
    }),
    _Node("LowerBodyO2", ("<5", "5-12", "12+"), ("HypDistrib", "HypoxiaInO2"), {
        ("Equal", "Mild"): (0.1, 0.3, 0.6),
        ("Equal", "Moderate"): (0.3, 0.6, 0.1),
        ("Equal", "Severe"): (0.5, 0.4, 0.1),
        ("Unequal", "Mild"): (0.4, 0.5, 0.1),
        ("Unequal", "Moderate"): (0.5, 0.45, 0.05),
        ("Unequal", "Severe"): (0.6, 0.35, 0.05),
    }),
    _Node("RUQO2", ("<5", "5-12", "12+"), ("HypoxiaInO2",), {
        ("Mild",): (0.1, 0.3, 0.6),
        ("Moderate",): (0.3, 0.6, 0.1),
        ("Severe",): (0.5, 0.4, 0.1),
    }),
    _Node("CO2Report", ("<7.5", ">=7.5"), ("CO2",), {
        ("Normal",): (0.9, 0.1),
        ("Low",): (0.9, 0.1),
        ("High",): (0.1, 0.9),
    }),
    _Node("XrayReport", ("Normal", "Oligaemic", "Plethoric", "Grd_Glass", "Asy/Patchy"), ("ChestXray",), {
        ("Normal",): (0.8, 0.06, 0.06, 0.02, 0.06),
        ("Oligaemic",): (0.1, 0.8, 0.02, 0.02, 0.06),
        ("Plethoric",): (0.1, 0.02, 0.8, 0.02, 0.06),
        ("Grd_Glass",): (0.08, 0.02, 0.1, 0.6, 0.2),
        ("Asy/Patch",): (0.08, 0.02, 0.1, 0.1, 0.7),
    }),
    _Node("Disease", ("PFC", "TGA", "Fallot", "PAIVS", "TAPVD", "Lung"), ("BirthAsphyxia",), {
        ("yes",): (0.2, 0.3, 0.25, 0.15, 0.05, 0.05),
        ("no",): (0.03061224, 0.33673469, 0.29591837, 0.23469388, 0.05102041, 0.05102041),
    }),
    _Node("GruntingReport", ("yes", "no"), ("Grunting",), {
        ("yes",): (0.8, 0.2),
        ("no",): (0.1, 0.9),
    }),
    _Node("Age", ("0-3_days", "4-10_days", "11-30_days"), ("Disease", "Sick"), {
        ("PFC", "yes"): (0.95, 0.03, 0.02),
        ("PFC", "no"): (0.85, 0.1, 0.05),
        ("TGA", "yes"): (0.8, 0.15, 0.05),
        ("TGA", "no"): (0.7, 0.2, 0.1),
        ("Fallot", "yes"): (0.7, 0.15, 0.15),
        ("Fallot", "no"): (0.25, 0.25, 0.5),
        ("PAIVS", "yes"): (0.8, 0.15, 0.05),
        ("PAIVS", "no"): (0.8, 0.15, 0.05),
        ("TAPVD", "yes"): (0.8, 0.15, 0.05),
        ("TAPVD", "no"): (0.7, 0.2, 0.1),
        ("Lung", "yes"): (0.9, 0.08, 0.02),
        ("Lung", "no"): (0.8, 0.15, 0.05),
    }),
    _Node("LVH", ("yes", "no"), ("Disease",), {
        ("PFC",): (0.1, 0.9),
        ("TGA",): (0.1, 0.9),
        ("Fallot",): (0.1, 0.9),
        ("PAIVS",): (0.9, 0.1),
        ("TAPVD",): (0.05, 0.95),
        ("Lung",): (0.1, 0.9),
    }),
    _Node("DuctFlow", ("Lt_to_Rt", "None", "Rt_to_Lt"), ("Disease",), {
        ("PFC",): (0.15, 0.05, 0.8),
        ("TGA",): (0.1, 0.8, 0.1),
        ("Fallot",): (0.8, 0.2, 0.0),
        ("PAIVS",): (1.0, 0.0, 0.0),
        ("TAPVD",): (0.33, 0.33, 0.34),
        ("Lung",): (0.2, 0.4, 0.4),
    }),
    _Node("CardiacMixing", ("None", "Mild", "Complete", "Transp."), ("Disease",), {
        ("PFC",): (0.4, 0.43, 0.15, 0.02),
        ("TGA",): (0.02, 0.09, 0.09, 0.8),
        ("Fallot",): (0.02, 0.16, 0.8, 0.02),
        ("PAIVS",): (0.01, 0.02, 0.95, 0.02),
        ("TAPVD",): (0.01, 0.03, 0.95, 0.01),
        ("Lung",): (0.4, 0.53, 0.05, 0.02),
    }),
    _Node("LungParench", ("Normal", "Congested", "Abnormal"), ("Disease",), {
        ("PFC",): (0.6, 0.1, 0.3),
        ("TGA",): (0.8, 0.05, 0.15),
        ("Fallot",): (0.8, 0.05, 0.15),
        ("PAIVS",): (0.8, 0.05, 0.15),
        ("TAPVD",): (0.1, 0.6, 0.3),
        ("Lung",): (0.03, 0.25, 0.72),
    }),
    _Node("LungFlow", ("Normal", "Low", "High"), ("Disease",), {
        ("PFC",): (0.3, 0.65, 0.05),
        ("TGA",): (0.2, 0.05, 0.75),
        ("Fallot",): (0.15, 0.8, 0.05),
        ("PAIVS",): (0.1, 0.85, 0.05),
        ("TAPVD",): (0.3, 0.1, 0.6),
        ("Lung",): (0.7, 0.1, 0.2),
    }),
    _Node("Sick", ("yes", "no"), ("Disease",), {
        ("PFC",): (0.4, 0.6),
        ("TGA",): (0.3, 0.7),
        ("Fallot",): (0.2, 0.8),
        ("PAIVS",): (0.3, 0.7),
        ("TAPVD",): (0.7, 0.3),
        ("Lung",): (0.7, 0.3),
    }),
)

# --------------------------------------------------------------------------------------------------
# The registry and the protocol
# --------------------------------------------------------------------------------------------------

SIMULATED: dict[str, MixtureTable | NetworkTable] = {
    "grid": MixtureTable("grid", _grid_centres(), MIXTURE_VARIANCE, _SDGYM),
    "gridr": MixtureTable("gridr", _gridr_centres(), MIXTURE_VARIANCE, _SDGYM),
    "ring": MixtureTable("ring", _ring_centres(), MIXTURE_VARIANCE, _SDGYM),
    "asia": NetworkTable("asia", _ASIA, "bnlearn repository asia.bif (Lauritzen & Spiegelhalter 1988)"),
    "child": NetworkTable("child", _CHILD, "bnlearn repository child.bif (Spiegelhalter & Cowell 1992)"),
}
"""Table name -> its true model (``MixtureTable`` or ``NetworkTable``)."""


def _require_columns(df: Any, names: tuple[str, ...], table: str, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"simulated table {table!r}: the {what} table is a {type(df).__name__}, not a pandas "
                        f"DataFrame; pass a DataFrame with columns {', '.join(names)}")
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise DataError(f"simulated table {table!r}: the {what} table lacks column(s) {', '.join(missing)}; it needs "
                        f"{', '.join(names)}")


def model(name: str) -> MixtureTable | NetworkTable:
    """The true model of simulated table ``name``; DataError naming the known tables if there is none."""
    if name not in SIMULATED:
        raise DataError(f"unknown simulated table {name!r} (gankit.data.tables.simulated); known: "
                        f"{', '.join(SIMULATED)}")
    return SIMULATED[name]


def columns(name: str) -> dict[str, str]:
    """Column name -> sdtype ("numerical" or "categorical") of simulated table ``name``, in column order."""
    return model(name).columns()


def sample(name: str, n: int, seed: int) -> pd.DataFrame:
    """n rows drawn i.i.d. from the true model of ``name`` with ``numpy.random.default_rng(seed)``.

    Returns an n-row DataFrame: float64 columns x, y for the mixtures; string (object) columns for the networks."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise DataError(f"simulated table {name!r}: n={n!r} rows is not a count; pass an integer >= 0")
    return model(name).sample(int(n), np.random.default_rng(seed))


def log_likelihood(name: str, df: pd.DataFrame) -> np.ndarray:
    """Per-row log-likelihood (nats) of ``df`` under the true model of ``name``, shape (N,).

    Mixtures: the log density; networks: the log probability. Rows outside the support get -inf (networks: an
    unknown category, a missing value or a zero-probability combination; mixtures: a non-finite value). Extra
    columns are ignored."""
    return model(name).log_likelihood(df)


def refit_log_likelihood(name: str, synth: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Per-row log-likelihood (nats) of ``test`` under S', a model of the true structure fit to ``synth``; (N_test,).

    Mixtures: ``GaussianMixture`` with the true number of components, full covariance, ``random_state=seed``, fit on
    the finite synthetic rows. Networks: the true DAG with add-one smoothed counts from the fully known rows."""
    return model(name).refit_log_likelihood(synth, test, seed=seed)


def likelihood_scores(name: str, synth: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """CTGAN's likelihood fitness of a synthetic table, in nats per row.

    Returns a flat dict: ``l_syn`` (mean true log-likelihood of the synthetic rows inside the support; -inf if none
    is), ``out_of_support`` (fraction of synthetic rows with probability 0 under the true model, left out of
    ``l_syn``), ``l_test`` (mean log-likelihood of ``test`` under S' refit on ``synth``), ``l_true_test`` (mean true
    log-likelihood of ``test``: what a perfect generator scores on both; ``l_test`` cannot beat it in expectation,
    ``l_syn`` can, by collapsing onto S's most probable rows), and provenance: ``table``, ``n_synth``, ``n_test``,
    ``seed``. ``test`` must come from the true model (every row inside its support), e.g. ``sample(name, n, seed)``."""
    m = model(name)
    true_syn = m.log_likelihood(synth)
    if len(true_syn) == 0:
        raise DataError(f"simulated table {name!r}: the synthetic table has no rows; pass at least one")
    true_test = m.log_likelihood(test)
    if len(true_test) == 0 or not np.isfinite(true_test).all():
        bad = int((~np.isfinite(true_test)).sum())
        raise DataError(f"simulated table {name!r}: the test table has {len(true_test)} rows, {bad} of them with "
                        f"probability 0 under the true model; pass rows drawn by sample({name!r}, n, seed)")
    inside = np.isfinite(true_syn)
    return {
        "table": name,
        "l_syn": float(true_syn[inside].mean()) if inside.any() else -math.inf,
        "l_test": float(m.refit_log_likelihood(synth, test, seed=seed).mean()),
        "l_true_test": float(true_test.mean()),
        "out_of_support": float(1.0 - inside.mean()),
        "n_synth": int(len(true_syn)),
        "n_test": int(len(true_test)),
        "seed": int(seed),
    }


__all__ = ["SIMULATED", "MIXTURE_COLUMNS", "MixtureTable", "NetworkTable", "model", "columns", "sample",
           "log_likelihood", "refit_log_likelihood", "likelihood_scores"]
