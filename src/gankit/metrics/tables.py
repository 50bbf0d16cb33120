"""Evaluation of synthetic tables: fidelity (quality report), utility (ML efficacy), privacy (DCR), detection.

Every function takes pandas DataFrames and ``columns: dict[str, str]`` mapping each evaluated column to its sdtype:

* ``"numerical"``  ints or floats, NaN = missing;
* ``"categorical"`` strings/objects, NaN/None = missing;
* ``"boolean"``    bool, or object holding True/False and NaN;
* ``"datetime"``   datetime64 (any unit, tz-aware converted to UTC), NaT = missing.

Columns of a frame that ``columns`` does not name are ignored. Works with pandas 2.x and 3.x.

Fidelity follows the definitions of sdmetrics' single-table ``QualityReport`` (SDMetrics docs, "Quality Report":
https://docs.sdv.dev/sdmetrics/reports/quality-report), written from its documentation and source (sdmetrics 0.32)
and checked against it number for number (``benchmarks/peers/sdmetrics_check.py``, ``tests/metrics/test_table_metrics.py``):

* Column Shapes (per column): KSComplement ``1 - D`` (two-sample Kolmogorov–Smirnov statistic, missing values
  dropped, floats rounded to 14 decimals, datetimes as integer nanoseconds) for numerical/datetime columns;
  TVComplement ``1 - ½ Σ_k |q_k - p_k|`` over category frequencies with missing values *dropped*, where a category
  seen only in the synthetic column gets a real pseudo-count of 1e-6 (as sdmetrics does), for categorical/boolean.
* Column Pair Trends (per pair): CorrelationSimilarity ``1 - |ρ_real - ρ_synth| / 2`` (Pearson, rows with a missing
  value in either column dropped) for two continuous columns; ContingencySimilarity ``1 - ½ Σ_{a,b} |p_ab - q_ab|``
  over the normalized 2-D contingency tables, *missing values counted as a category*, for two discrete columns; for
  a continuous/discrete pair the continuous column is first cut into the 10 equal-width bins of
  ``numpy.histogram_bin_edges`` computed on *that frame's own* non-missing values (real and synthetic each get their
  own edges) and coded with ``numpy.digitize`` (so the maximum and missing values share the code 11), then
  ContingencySimilarity. Like sdmetrics 0.32's QualityReport, a pair only counts toward the property score when the
  real data shows a trend: ``|ρ_real| > 0.5`` for correlations and Cramér's V of the real contingency table
  ``> 0.3`` for contingencies (thresholds as arguments; 0 scores every pair); below it the pair's score is NaN.
* Overall quality: the mean of the two property scores (NaN scores skipped, as sdmetrics does).

Utility ("machine-learning efficacy") follows Xu, Skoularidou, Cuesta-Infante and Veeramachaneni, 2019, "Modeling
Tabular Data using Conditional GAN" (NeurIPS), section 5 and appendix: models trained on synthetic rows and
tested on real ones, with the paper's binary-classification models (AdaBoost with 50 estimators, a depth-20
decision tree, logistic regression, an MLP with 50 hidden units) scored by F1, here also used for multi-class
targets with macro F1 (the paper used a depth-30 tree and a 100-unit MLP there), and its regression models (linear
regression, a 100-unit MLP) scored by R². The paper's other protocol, the likelihood of synthetic rows under a
*simulated* data source whose generating network is known (L_syn, and L_test of real held-out rows under a network
refitted on synthetic rows), needs that known network and is not computed here. Privacy is the distance to the
closest record (DCR) against a held-out baseline; detection is a classifier two-sample test (sdmetrics'
``LogisticDetection`` score included).

Differences from sdmetrics, all deliberate: no random subsampling of tables over 50 000 rows for
ContingencySimilarity (sdmetrics subsamples without a seed; we count every row, so results are deterministic), and
datetimes are always converted to nanoseconds (sdmetrics uses the column's own unit, which only matters when the
real and synthetic columns have different units).
"""
from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats.contingency import association

from ..errors import DataError

SDTYPES = ("numerical", "categorical", "boolean", "datetime")
_CONTINUOUS = frozenset({"numerical", "datetime"})

# sdmetrics' KSComplement rounds values to sys.float_info.dig - 1 = 14 decimals before the test, so that values
# differing only by float noise compare equal.
_KS_DECIMALS = 14
# sdmetrics.utils.get_frequencies adds this count to the real side of a category seen only in synthetic data.
_TV_PSEUDO_COUNT = 1e-6
# sdmetrics.reports.utils defaults (0.32): a pair contributes to Column Pair Trends only above these.
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3
# sdmetrics discretizes continuous columns of mixed pairs into numpy.histogram_bin_edges' default 10 bins.
_PAIR_BINS = 10
# Rows of query × training distances held at once by the DCR search (float64: 128 MiB).
_DCR_CHUNK_ELEMENTS = 2**24


class _Missing:
    """The one value that stands for every missing categorical/boolean entry (NaN, None, pd.NA)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


# ----------------------------------------------------------------------------------------------- input handling
def _check_columns(columns: Mapping[str, str]) -> None:
    if not isinstance(columns, Mapping) or not columns:
        raise DataError(
            f"columns must be a non-empty dict mapping column name to sdtype (one of {', '.join(SDTYPES)}); "
            f"got {columns!r:.80}"
        )
    for name, sdtype in columns.items():
        if sdtype not in SDTYPES:
            raise DataError(
                f"column {name!r} has unknown sdtype {sdtype!r}; use one of {', '.join(SDTYPES)}"
            )


def _check_frame(frame: Any, columns: Mapping[str, str], what: str, min_rows: int = 1) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(
            f"{what} has no column {missing[0]!r} (listed in columns); "
            f"its columns are {list(map(str, frame.columns))[:10]}"
        )
    if len(frame) < min_rows:
        raise DataError(f"{what} has {len(frame)} rows; at least {min_rows} are needed")


def _datetime_ns(series: pd.Series, col: str) -> tuple[np.ndarray, np.ndarray]:
    """A datetime column as (int64 nanoseconds since the epoch (N,), missing mask (N,))."""
    if not pd.api.types.is_datetime64_any_dtype(series):
        raise DataError(
            f"column {col!r} is declared datetime but has dtype {series.dtype}; "
            "convert it with pandas.to_datetime first"
        )
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = series.isna().to_numpy()
    try:
        ns = series.astype("datetime64[ns]").to_numpy().view("int64").copy()
    except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime is a ValueError
        raise DataError(
            f"column {col!r} holds dates outside the nanosecond range (years 1677-2262); "
            "clip them or declare the column numerical (e.g. as years)"
        ) from None
    ns[missing] = 0
    return ns, missing


def _numbers(series: pd.Series, col: str, sdtype: str) -> np.ndarray:
    """A numerical or datetime column as float64 (N,), NaN = missing; datetimes in nanoseconds."""
    if sdtype == "datetime":
        ns, missing = _datetime_ns(series, col)
        out = ns.astype(np.float64)
        out[missing] = np.nan
        return out
    try:
        numeric = pd.to_numeric(series)
        return np.asarray(numeric.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"column {col!r} is declared numerical but holds non-numeric values (dtype {series.dtype}); "
            "declare it categorical or convert it with pandas.to_numeric"
        ) from None


def _discrete(series: pd.Series) -> np.ndarray:
    """A categorical/boolean column as an object array (N,) whose missing entries are all ``_MISSING``.

    Values keep Python equality (1 == 1.0 == True, as pandas' hash tables and sdmetrics' Counter compare them).
    """
    values = series.astype(object).to_numpy(copy=True)
    values[pd.isna(series).to_numpy()] = _MISSING
    return values


def _codes(*arrays: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Shared integer codes for the values of several object arrays: ([codes (N_i,)], number of distinct values)."""
    joined = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    codes, uniques = pd.factorize(joined, use_na_sentinel=False)
    out, start = [], 0
    for a in arrays:
        out.append(codes[start : start + len(a)])
        start += len(a)
    return out, len(uniques)


# ---------------------------------------------------------------------------------------------- column shapes
def _ks_values(series: pd.Series, col: str, sdtype: str) -> np.ndarray:
    """Non-missing values as sdmetrics' KSComplement feeds them to the KS test (ints stay ints, floats rounded)."""
    if sdtype == "datetime":
        ns, missing = _datetime_ns(series, col)
        return ns[~missing]
    values = _numbers(series, col, sdtype)
    values = values[~np.isnan(values)]
    if pd.api.types.is_float_dtype(series.dtype) or series.dtype == object:
        values = np.round(values, _KS_DECIMALS)
    return values


def _ks_complement(real: pd.Series, synth: pd.Series, col: str, sdtype: str) -> float:
    r, s = _ks_values(real, col, sdtype), _ks_values(synth, col, sdtype)
    if len(r) == 0 or len(s) == 0:
        return math.nan
    # method="asymp": the statistic is the same for every method; this skips the costly exact p-value.
    return float(1.0 - stats.ks_2samp(r, s, method="asymp").statistic)


def _tv_complement(real: pd.Series, synth: pd.Series) -> float:
    r = _discrete(real)[~pd.isna(real).to_numpy()]  # TVComplement drops missing values
    s = _discrete(synth)[~pd.isna(synth).to_numpy()]
    if len(r) == 0 or len(s) == 0:
        return math.nan
    (rc, sc), k = _codes(r, s)
    real_counts = np.bincount(rc, minlength=k).astype(np.float64)
    synth_counts = np.bincount(sc, minlength=k).astype(np.float64)
    real_counts[real_counts == 0] = _TV_PSEUDO_COUNT  # categories only the synthetic column has
    f_real = real_counts / real_counts.sum()
    f_synth = synth_counts / synth_counts.sum()
    return float(1.0 - 0.5 * np.abs(f_synth - f_real).sum())


def column_shapes(real: pd.DataFrame, synth: pd.DataFrame, columns: Mapping[str, str]) -> dict[str, float]:
    """Per-column marginal similarity, as sdmetrics' QualityReport "Column Shapes" property.

    Args:
        real: real table, any number of rows.
        synth: synthetic table with the same columns.
        columns: column name -> sdtype.

    Returns:
        {column: score in [0, 1]} in ``columns`` order (1 = identical marginals): KSComplement for
        numerical/datetime columns, TVComplement for categorical/boolean; NaN when either side has no value.
    """
    _check_columns(columns)
    _check_frame(real, columns, "real")
    _check_frame(synth, columns, "synth")
    out: dict[str, float] = {}
    for col, sdtype in columns.items():
        if sdtype in _CONTINUOUS:
            out[col] = _ks_complement(real[col], synth[col], col, sdtype)
        else:
            out[col] = _tv_complement(real[col], synth[col])
    return out


# ----------------------------------------------------------------------------------------- column pair trends
@dataclass
class _PairResult:
    metric: str  # "CorrelationSimilarity" or "ContingencySimilarity"
    score: float  # NaN when incomputable or the real trend is under the threshold
    contributes: bool  # whether the pair enters the property's mean (sdmetrics' "Meets Threshold?")
    real: float  # real Pearson ρ, or real Cramér's V (NaN when not computed)
    synthetic: float  # synthetic Pearson ρ (NaN for contingencies)


@dataclass
class _PreparedColumn:
    sdtype: str
    numbers: np.ndarray | None  # continuous: float64 (N,), NaN = missing
    bins: np.ndarray | None  # continuous: histogram-bin codes (N,), None if the edges could not be computed
    values: np.ndarray | None  # discrete: object (N,), missing = _MISSING


def _prepare(frame: pd.DataFrame, columns: Mapping[str, str]) -> dict[str, _PreparedColumn]:
    prepared = {}
    for col, sdtype in columns.items():
        if sdtype in _CONTINUOUS:
            x = _numbers(frame[col], col, sdtype)
            try:
                # Edges from this frame's own values: sdmetrics bins real and synthetic columns separately.
                edges = np.histogram_bin_edges(x[~np.isnan(x)], bins=_PAIR_BINS)
                bins = np.digitize(x, edges)  # NaN and the maximum both land in code len(edges) = 11
            except ValueError:  # infinite values: sdmetrics reports the pair as failed (NaN)
                bins = None
            prepared[col] = _PreparedColumn(sdtype, x, bins, None)
        else:
            prepared[col] = _PreparedColumn(sdtype, None, None, _discrete(frame[col]))
    return prepared


def _contingency_sides(col_r: _PreparedColumn, col_s: _PreparedColumn) -> tuple[np.ndarray, np.ndarray]:
    """(real, synthetic) values of one column of a contingency pair: categories, or histogram-bin codes."""
    if col_r.values is not None:
        return col_r.values, col_s.values
    return col_r.bins.astype(object), col_s.bins.astype(object)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    if keep.sum() < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, which is what we report
        return float(stats.pearsonr(x[keep], y[keep]).statistic)


def _n_unique(x: np.ndarray) -> int:
    return len(np.unique(x[~np.isnan(x)]))


def _correlation_similarity(
    r1: np.ndarray, r2: np.ndarray, s1: np.ndarray, s2: np.ndarray, threshold: float
) -> _PairResult:
    name = "CorrelationSimilarity"
    if any(_n_unique(x) == 1 for x in (r1, r2, s1, s2)):  # sdmetrics refuses constant columns
        return _PairResult(name, math.nan, False, math.nan, math.nan)
    rho_real = _pearson(r1, r2)
    if abs(rho_real) <= threshold:  # False for NaN, as in sdmetrics
        return _PairResult(name, math.nan, False, rho_real, math.nan)
    rho_synth = _pearson(s1, s2)
    contributes = threshold <= 0 or (not math.isnan(rho_real) and abs(rho_real) > threshold)
    score = 1.0 - abs(rho_real - rho_synth) / 2.0  # NaN if either ρ is NaN
    return _PairResult(name, score, contributes, rho_real, rho_synth)


def _contingency_similarity(
    r1: np.ndarray, r2: np.ndarray, s1: np.ndarray, s2: np.ndarray, threshold: float
) -> _PairResult:
    name = "ContingencySimilarity"
    if len(r1) == 0 or len(s1) == 0:
        return _PairResult(name, math.nan, False, math.nan, math.nan)
    (ra, sa), ka = _codes(r1, s1)
    (rb, sb), kb = _codes(r2, s2)
    v_real = math.nan
    if threshold > 0:
        (ra_own,), na = _codes(r1)
        (rb_own,), nb = _codes(r2)
        table = np.bincount(ra_own * nb + rb_own, minlength=na * nb).reshape(na, nb)
        if min(table.shape) < 2:
            return _PairResult(name, math.nan, False, math.nan, math.nan)
        v_real = float(association(table, method="cramer"))
        if v_real <= threshold:
            return _PairResult(name, math.nan, False, v_real, math.nan)
    p = np.bincount(ra * kb + rb, minlength=ka * kb) / len(r1)
    q = np.bincount(sa * kb + sb, minlength=ka * kb) / len(s1)
    score = float(1.0 - 0.5 * np.abs(p - q).sum())
    contributes = threshold <= 0 or (not math.isnan(v_real) and v_real > threshold)
    return _PairResult(name, score, contributes, v_real, math.nan)


def _pair_trends(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    columns: Mapping[str, str],
    real_correlation_threshold: float,
    real_association_threshold: float,
) -> dict[tuple[str, str], _PairResult]:
    _check_columns(columns)
    _check_frame(real, columns, "real")
    _check_frame(synth, columns, "synth")
    for name, value in (
        ("real_correlation_threshold", real_correlation_threshold),
        ("real_association_threshold", real_association_threshold),
    ):
        if not 0 <= value <= 1:
            raise DataError(f"{name} must be in [0, 1] (0 scores every pair); got {value}")
    pr, ps = _prepare(real, columns), _prepare(synth, columns)
    out = {}
    for c1, c2 in itertools.combinations(columns, 2):
        a_r, b_r, a_s, b_s = pr[c1], pr[c2], ps[c1], ps[c2]
        cont1, cont2 = columns[c1] in _CONTINUOUS, columns[c2] in _CONTINUOUS
        if cont1 and cont2:
            out[(c1, c2)] = _correlation_similarity(
                a_r.numbers, b_r.numbers, a_s.numbers, b_s.numbers, real_correlation_threshold
            )
            continue
        if cont1 or cont2:  # mixed: the continuous side enters as its histogram-bin codes
            cont = (a_r, a_s) if cont1 else (b_r, b_s)
            if cont[0].bins is None or cont[1].bins is None:
                out[(c1, c2)] = _PairResult("ContingencySimilarity", math.nan, False, math.nan, math.nan)
                continue

            (v1r, v1s), (v2r, v2s) = _contingency_sides(a_r, a_s), _contingency_sides(b_r, b_s)
        else:
            v1r, v1s, v2r, v2s = a_r.values, a_s.values, b_r.values, b_s.values
        out[(c1, c2)] = _contingency_similarity(v1r, v2r, v1s, v2s, real_association_threshold)
    return out


def column_pair_trends(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    real_correlation_threshold: float = REAL_CORRELATION_THRESHOLD,
    real_association_threshold: float = REAL_ASSOCIATION_THRESHOLD,
) -> dict[tuple[str, str], float]:
    """Per-pair similarity of trends, as sdmetrics' QualityReport "Column Pair Trends" property.

    Args:
        real, synth: real and synthetic tables.
        columns: column name -> sdtype; pairs follow this order, ``(first, second)``.
        real_correlation_threshold: a continuous pair is scored only when ``|ρ_real|`` exceeds this
            (sdmetrics 0.32 QualityReport default 0.5; 0 scores every pair).
        real_association_threshold: a pair involving a discrete column is scored only when the real Cramér's V
            exceeds this (default 0.3; 0 scores every pair).

    Returns:
        {(column_1, column_2): score in [0, 1]} for every pair: CorrelationSimilarity for two numerical/datetime
        columns, else ContingencySimilarity (a continuous side binned into 10 equal-width bins). NaN when the real
        trend is under its threshold, a column is constant, or the score is otherwise incomputable. The test is
        sdmetrics' ``|ρ_real| <= threshold`` -> NaN, so a real ρ of exactly 0 gives NaN even with threshold 0.
    """
    results = _pair_trends(real, synth, columns, real_correlation_threshold, real_association_threshold)
    return {pair: r.score for pair, r in results.items()}


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def quality_report(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    real_correlation_threshold: float = REAL_CORRELATION_THRESHOLD,
    real_association_threshold: float = REAL_ASSOCIATION_THRESHOLD,
) -> dict[str, Any]:
    """sdmetrics' single-table QualityReport: Column Shapes, Column Pair Trends and their mean.

    Args:
        real, synth, columns: as :func:`column_shapes`; thresholds as :func:`column_pair_trends`.

    Returns:
        {"quality": mean of the two property scores (NaN ones skipped),
         "column_shapes": mean of the per-column scores (NaN skipped),
         "column_pair_trends": mean of the contributing pairs' scores (NaN if none contributes),
         "column_shapes_details": {column: score}, "column_pair_trends_details": {(c1, c2): score},
         "column_pair_trends_metrics": {(c1, c2): "CorrelationSimilarity" | "ContingencySimilarity"},
         "column_pair_trends_contributing": number of pairs in the mean,
         "real_correlation_threshold", "real_association_threshold", "n_real", "n_synth"} — scores in [0, 1].
    """
    shapes = column_shapes(real, synth, columns)
    pairs = _pair_trends(real, synth, columns, real_correlation_threshold, real_association_threshold)
    shapes_mean = _mean(list(shapes.values()))
    contributing = [r.score for r in pairs.values() if r.contributes]
    trends_mean = _mean(contributing)
    return {
        "quality": _mean([shapes_mean, trends_mean]),
        "column_shapes": shapes_mean,
        "column_pair_trends": trends_mean,
        "column_shapes_details": shapes,
        "column_pair_trends_details": {pair: r.score for pair, r in pairs.items()},
        "column_pair_trends_metrics": {pair: r.metric for pair, r in pairs.items()},
        "column_pair_trends_contributing": sum(not math.isnan(s) for s in contributing),
        "real_correlation_threshold": float(real_correlation_threshold),
        "real_association_threshold": float(real_association_threshold),
        "n_real": len(real),
        "n_synth": len(synth),
    }


# ------------------------------------------------------------------------------------------------ featurizing
class _Featurizer:
    """Table -> model matrix, fitted on one frame and applied to others.

    Numerical and datetime columns (datetimes as seconds since the epoch) are mean-imputed (0 when a column has
    no value at all) and standardized with the fitted frame's mean and standard deviation; categorical and boolean
    columns are one-hot encoded over the fitted frame's categories, missing being a category of its own. A
    category the fitted frame never saw encodes as all zeros, so unseen values never fail.
    """

    def __init__(self, columns: Mapping[str, str]):
        self.columns = dict(columns)

    def _continuous(self, frame: pd.DataFrame) -> np.ndarray:
        cols = [c for c, t in self.columns.items() if t in _CONTINUOUS]
        out = np.empty((len(frame), len(cols)), dtype=np.float64)
        for j, col in enumerate(cols):
            out[:, j] = _numbers(frame[col], col, self.columns[col])
            if self.columns[col] == "datetime":
                out[:, j] /= 1e9  # seconds: keeps squares and products of the standardization well in range
        return out

    def fit(self, frame: pd.DataFrame) -> _Featurizer:
        x = self._continuous(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            mean = np.nanmean(x, axis=0) if len(x) else np.zeros(x.shape[1])
        self.mean_ = np.where(np.isnan(mean), 0.0, mean)
        filled = np.where(np.isnan(x), self.mean_, x)
        std = filled.std(axis=0) if len(x) else np.ones(x.shape[1])
        self.scale_ = np.where(std > 0, std, 1.0)
        self.categories_ = {
            col: pd.Index(pd.unique(_discrete(frame[col])), dtype=object)
            for col, t in self.columns.items()
            if t not in _CONTINUOUS
        }
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(N, D) float64 matrix: standardized continuous columns, then one block of indicators per category."""
        x = self._continuous(frame)
        blocks = [(np.where(np.isnan(x), self.mean_, x) - self.mean_) / self.scale_]
        for col, cats in self.categories_.items():
            codes = cats.get_indexer(_discrete(frame[col]))  # -1 for categories never seen when fitting
            blocks.append((codes[:, None] == np.arange(len(cats))[None, :]).astype(np.float64))
        return np.concatenate(blocks, axis=1)


# ------------------------------------------------------------------------------------------------ ML efficacy
def _classification_models(seed: int) -> dict[str, Any]:
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    # Xu et al. 2019, appendix (binary classification): AdaBoost (50 estimators), decision tree (depth 20),
    # logistic regression, MLP (50). max_iter=50 for the MLP as in SDGym; 1000 lets lbfgs converge.
    return {
        "adaboost": AdaBoostClassifier(n_estimators=50, random_state=seed),
        "decision_tree": DecisionTreeClassifier(max_depth=20, random_state=seed),
        "logistic_regression": LogisticRegression(max_iter=1000, random_state=seed),
        "mlp": MLPClassifier(hidden_layer_sizes=(50,), max_iter=50, random_state=seed),
    }


def _regression_models(seed: int) -> dict[str, Any]:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler

    # Xu et al. 2019: linear regression and MLP (100). The MLP learns a standardized target (predictions are
    # mapped back), so the scale of the target does not decide whether 50 epochs are enough.
    mlp = MLPRegressor(hidden_layer_sizes=(100,), max_iter=50, random_state=seed)
    return {
        "linear_regression": LinearRegression(),
        "mlp": TransformedTargetRegressor(regressor=mlp, transformer=StandardScaler()),
    }


def ml_efficacy(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    columns: Mapping[str, str],
    seed: int = 0,
    *,
    pos_label: Any = None,
) -> dict[str, Any]:
    """Train on ``train`` (synthetic or real), test on real ``test`` (Xu et al. 2019's machine-learning efficacy).

    Features are every column of ``columns`` except ``target``, featurized as :class:`_Featurizer` describes,
    fitted on ``train``. Rows whose target is missing are dropped from both frames.

    * categorical/boolean target: AdaBoostClassifier(50), DecisionTreeClassifier(max_depth=20),
      LogisticRegression, MLPClassifier((50,), max_iter=50); scored by F1 of ``pos_label`` when the test target
      has at most two classes (``metric="f1"``), else by macro F1 over the test set's classes
      (``metric="macro_f1"``). A model whose training target has a single class predicts that class.
    * numerical/datetime target: LinearRegression and MLPRegressor((100,), max_iter=50); R² (``metric="r2"``).

    Args:
        train: (N_train rows) training table.
        test: (N_test rows) real test table.
        target: name of the target column (must be in ``columns``).
        columns: column name -> sdtype, the target included.
        seed: random_state of every model (results are deterministic for a given seed).
        pos_label: positive class for binary F1; None: the test set's less frequent class (ties: the one
            pandas factorizes last).

    Returns:
        {"metric": "f1" | "macro_f1" | "r2", "efficacy": mean over models, one score per model
         ("adaboost", "decision_tree", "logistic_regression", "mlp" or "linear_regression", "mlp"),
         "target", "n_train", "n_test"} — F1 scores in [0, 1], R² in (-inf, 1].
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import f1_score, r2_score

    _check_columns(columns)
    if target not in columns:
        raise DataError(f"target {target!r} is not in columns; name one of {list(columns)[:10]}")
    _check_frame(train, columns, "train")
    _check_frame(test, columns, "test")
    train = train[pd.notna(train[target]).to_numpy()]
    test = test[pd.notna(test[target]).to_numpy()]
    for frame, what in ((train, "train"), (test, "test")):
        if len(frame) == 0:
            raise DataError(f"{what} has no row with a value in target column {target!r}")
    features = {c: t for c, t in columns.items() if c != target}
    if not features:
        raise DataError(f"columns lists only the target {target!r}; add at least one feature column")
    featurizer = _Featurizer(features).fit(train)
    x_train, x_test = featurizer.transform(train), featurizer.transform(test)

    scores: dict[str, float] = {}
    if columns[target] in _CONTINUOUS:
        metric = "r2"
        y_train = _numbers(train[target], target, columns[target])
        y_test = _numbers(test[target], target, columns[target])
        for name, model in _regression_models(seed).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x_train, y_train)
            scores[name] = float(r2_score(y_test, model.predict(x_test)))
    else:
        extra = np.empty(1, dtype=object)
        extra[0] = _MISSING if pos_label is None else pos_label  # coded with the labels, so 1 == 1.0 == True
        (y_train, y_test, pos_code), _ = _codes(_discrete(train[target]), _discrete(test[target]), extra)
        test_classes, test_counts = np.unique(y_test, return_counts=True)
        binary = len(test_classes) <= 2
        metric = "f1" if binary else "macro_f1"
        if binary:
            if pos_label is None:  # the less frequent class; on a tie the one coded last
                positive = test_classes[::-1][np.argmin(test_counts[::-1])]
            elif pos_code[0] in test_classes:
                positive = pos_code[0]
            else:
                raise DataError(
                    f"pos_label {pos_label!r} is not a class of target {target!r} in test; "
                    "pass one of its values or None (the less frequent class)"
                )
        for name, model in _classification_models(seed).items():
            if len(np.unique(y_train)) == 1:
                pred = np.full(len(y_test), y_train[0])
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(x_train, y_train)
                pred = model.predict(x_test)
            if binary:
                scores[name] = float(f1_score(y_test == positive, pred == positive, zero_division=0.0))
            else:
                scores[name] = float(
                    f1_score(y_test, pred, labels=test_classes, average="macro", zero_division=0.0)
                )
    return {
        "metric": metric,
        "efficacy": float(np.mean(list(scores.values()))),
        **scores,
        "target": target,
        "n_train": len(train),
        "n_test": len(test),
    }


# ---------------------------------------------------------------------------------------------------- privacy
class _RecordSpace:
    """The DCR distance, fitted on the training table.

    d(a, b)² = Σ_numerical/datetime δ_j² + Σ_categorical/boolean [a_j ≠ b_j], where for a continuous column
    δ_j = (a_j - b_j) / (max_j - min_j) with the training range (1 when the range is 0), δ_j = 1 when exactly
    one of the two values is missing and δ_j = 0 when both are; a categorical mismatch (missing being a value of
    its own) adds 1 to d², the largest difference of one in-range continuous column. So a single mismatching
    category alone is at distance 1, two at √2: d is the Euclidean distance of the rows with each category one-hot
    encoded and scaled by 1/√2, extended to missing values — a metric, like SDGym's distance (which adds its
    mismatch counts inside the square root too).
    """

    def __init__(self, columns: Mapping[str, str]):
        self.continuous = [c for c, t in columns.items() if t in _CONTINUOUS]
        self.discrete = [c for c, t in columns.items() if t not in _CONTINUOUS]
        self.columns = dict(columns)

    def fit(self, train: pd.DataFrame) -> _RecordSpace:
        raw = self._raw(train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            lo, hi = np.nanmin(raw, axis=0, initial=np.inf), np.nanmax(raw, axis=0, initial=-np.inf)
        span = hi - lo
        self.lo_ = np.where(np.isfinite(lo), lo, 0.0)
        self.span_ = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        self.categories_ = [pd.Index(pd.unique(_discrete(train[c])), dtype=object) for c in self.discrete]
        return self

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.continuous)), dtype=np.float64)
        for j, col in enumerate(self.continuous):
            out[:, j] = _numbers(frame[col], col, self.columns[col])
        return out

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x (N, Dc) scaled, 0 where missing; present (N, Dc) float 0/1; codes (N, Dd) int64, -1 = unseen)."""
        x = (self._raw(frame) - self.lo_) / self.span_
        present = (~np.isnan(x)).astype(np.float64)
        x = np.where(present > 0, x, 0.0)
        codes = np.empty((len(frame), len(self.discrete)), dtype=np.int64)
        for j, (col, cats) in enumerate(zip(self.discrete, self.categories_)):
            codes[:, j] = cats.get_indexer(_discrete(frame[col]))
        return x, present, codes

    def _one_hot(self, codes: np.ndarray) -> np.ndarray:
        blocks = [
            (codes[:, j : j + 1] == np.arange(len(cats))[None, :]).astype(np.float64)
            for j, cats in enumerate(self.categories_)
        ]
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(codes), 0))

    def nearest(
        self, query: tuple[np.ndarray, ...], train: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distance (N,) from each query row to its nearest training row, and that row's index (N,) int64.

        d² is a sum of products, so each chunk of query × training distances is one matrix product U·Vᵀ:
        per continuous column m_b·(x_a² + 1 - 2 m_a) - 2 x_a x_b + m_a x_b² + m_a (x = 0 where missing,
        m = present), and per categorical column 1 - onehot_a·onehot_b. The distance to the chosen row is then
        recomputed directly, so that an identical row is at exactly 0.
        """
        xa, ma, ca = query
        xb, mb, cb = train
        ha, hb = self._one_hot(ca), self._one_hot(cb)
        const_a = ma.sum(axis=1, keepdims=True) + len(self.discrete)
        u = np.concatenate([xa**2 + 1.0 - 2.0 * ma, -2.0 * xa, ma, -ha, const_a], axis=1)
        v = np.concatenate([mb, xb, xb**2, hb, np.ones((len(xb), 1))], axis=1)
        index = np.empty(len(u), dtype=np.int64)
        step = max(1, _DCR_CHUNK_ELEMENTS // max(len(v), 1))
        for start in range(0, len(u), step):
            index[start : start + step] = np.argmin(u[start : start + step] @ v.T, axis=1)
        both = (ma > 0) & (mb[index] > 0)
        one = (ma > 0) != (mb[index] > 0)
        sq = np.where(both, (xa - xb[index]) ** 2, 0.0).sum(axis=1) + one.sum(axis=1)
        sq += (ca != cb[index]).sum(axis=1)  # an unseen category (-1) never equals a training code
        return np.sqrt(sq), index

    def keys(self, frame: pd.DataFrame) -> list[tuple]:
        """One hashable key per row (raw values, missing as one marker) for exact-copy tests."""
        parts: list[np.ndarray] = []
        for col in self.continuous:
            if self.columns[col] == "datetime":
                ns, missing = _datetime_ns(frame[col], col)
                vals = ns.astype(object)
            else:
                num = _numbers(frame[col], col, "numerical")
                vals, missing = num.astype(object), np.isnan(num)
            vals[missing] = _MISSING
            parts.append(vals)
        parts += [_discrete(frame[col]) for col in self.discrete]
        return list(zip(*parts))


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    return math.inf if num > 0 else math.nan


def privacy(
    train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame, columns: Mapping[str, str]
) -> dict[str, Any]:
    """Distance to closest record (DCR): are synthetic rows closer to the training rows than unseen real rows?

    For every synthetic row and every holdout row, the distance to its nearest training row (the distance is
    :class:`_RecordSpace`'s: continuous columns scaled by the training range, each mismatching categorical value
    adding 1 to the squared distance, a missing value equal to a missing value and at 1 from any present one).

    Args:
        train: (N_train rows) the table the generator was trained on.
        holdout: (N_holdout rows) real rows from the same source that the generator never saw.
        synth: (N_synth rows) generated rows.
        columns: column name -> sdtype.

    Returns:
        {"dcr_synth_median", "dcr_holdout_median": medians of the two DCR distributions (unitless),
         "dcr_ratio": synth median / holdout median (< 1: synthetic rows sit closer to the training rows than
         unseen real rows do, a sign of copying; inf if only the holdout median is 0, NaN if both are),
         "exact_copy_rate": fraction of synthetic rows identical to a training row (every column of ``columns``,
         missing equal to missing), "exact_copy_rate_holdout": the same for holdout rows (the baseline),
         "n_train", "n_holdout", "n_synth"}.
    """
    _check_columns(columns)
    _check_frame(train, columns, "train")
    _check_frame(holdout, columns, "holdout")
    _check_frame(synth, columns, "synth")
    space = _RecordSpace(columns).fit(train)
    train_enc = space.encode(train)
    train_keys = set(space.keys(train))
    out: dict[str, Any] = {}
    for what, frame in (("synth", synth), ("holdout", holdout)):
        dist, _ = space.nearest(space.encode(frame), train_enc)
        copies = np.fromiter((k in train_keys for k in space.keys(frame)), dtype=bool, count=len(frame))
        dist[copies] = 0.0  # identical raw rows (the recomputed distance is 0 for them already)
        out[what] = (float(np.median(dist)), float(copies.mean()))
    return {
        "dcr_synth_median": out["synth"][0],
        "dcr_holdout_median": out["holdout"][0],
        "dcr_ratio": _ratio(out["synth"][0], out["holdout"][0]),
        "exact_copy_rate": out["synth"][1],
        "exact_copy_rate_holdout": out["holdout"][1],
        "n_train": len(train),
        "n_holdout": len(holdout),
        "n_synth": len(synth),
    }


# -------------------------------------------------------------------------------------------------- detection
def detection(
    real: pd.DataFrame, synth: pd.DataFrame, columns: Mapping[str, str], seed: int = 0
) -> dict[str, Any]:
    """Classifier two-sample test: how well does logistic regression tell real rows from synthetic ones?

    Both tables are featurized together (:class:`_Featurizer` fitted on their union, labels unused, so a category
    only one side has is a feature of its own); a LogisticRegression is cross-validated with stratified 3-fold
    splits (shuffled with ``seed``), real = positive class.

    Args:
        real: (N_real >= 3 rows) real table.
        synth: (N_synth >= 3 rows) synthetic table.
        columns: column name -> sdtype.
        seed: seeds the fold split and the model (deterministic).

    Returns:
        {"detection_auc": mean held-out ROC AUC over the folds (0.5 = indistinguishable, 1 = separable),
         "detection_score": sdmetrics' LogisticDetection value 1 - mean_folds(max(AUC, 0.5)·2 - 1) in [0, 1]
         (1 = indistinguishable), "n_real", "n_synth"}.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    _check_columns(columns)
    _check_frame(real, columns, "real", min_rows=3)
    _check_frame(synth, columns, "synth", min_rows=3)
    both = pd.concat([real[list(columns)], synth[list(columns)]], ignore_index=True)
    x = _Featurizer(columns).fit(both).transform(both)
    y = np.r_[np.ones(len(real)), np.zeros(len(synth))]
    aucs = []
    for fit_idx, eval_idx in StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(max_iter=1000, random_state=seed).fit(x[fit_idx], y[fit_idx])
        aucs.append(float(roc_auc_score(y[eval_idx], model.predict_proba(x[eval_idx])[:, 1])))
    return {
        "detection_auc": float(np.mean(aucs)),
        "detection_score": float(1.0 - np.mean([max(a, 0.5) * 2.0 - 1.0 for a in aucs])),
        "n_real": len(real),
        "n_synth": len(synth),
    }
