"""Fidelity of synthetic tables: sdmetrics' quality report (column shapes, column pair trends), exactly.

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

Utility (ML efficacy), privacy (distance to closest record) and detection live in :mod:`gankit.metrics.table_utility`;
the simulated-data likelihoods in :mod:`gankit.data.tables.simulated`.

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


__all__ = ["SDTYPES", "column_shapes", "column_pair_trends", "quality_report", "REAL_CORRELATION_THRESHOLD",
           "REAL_ASSOCIATION_THRESHOLD"]
