"""gankit.metrics.tables: hand-computed values, invariants, and sdmetrics' numbers frozen from a peer run.

The peer numbers come from benchmarks/peers/sdmetrics_check.py (sdmetrics 0.32 QualityReport); this file never
imports sdmetrics: it rebuilds the same seeded tables with numpy/pandas and compares.
"""
from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from gankit.errors import DataError
from gankit.metrics.table_utility import detection, ml_efficacy, privacy
from gankit.metrics.tables import column_pair_trends, column_shapes, quality_report

nan = math.nan
ALL_PAIRS = {"real_correlation_threshold": 0.0, "real_association_threshold": 0.0}


def _days(values) -> pd.Series:
    """Day offsets from 2020-01-01 as a datetime64[ns] column (None -> NaT)."""
    base = pd.Timestamp("2020-01-01")
    return pd.Series([pd.NaT if v is None else base + pd.Timedelta(days=v) for v in values], dtype="datetime64[ns]")


# ------------------------------------------------------------------------------------------------ column shapes
def test_ks_complement_by_hand():
    # ECDFs of {1,2,3,4,5} and {3,4,5,6,7}: the largest gap is 0.4 (at 2: 2/5 vs 0, at 5: 5/5 vs 3/5).
    real = pd.DataFrame({"x": [1.0, 2.0, nan, 3.0, 4.0, 5.0], "t": _days([1, 2, None, 3, 4, 5])})
    synth = pd.DataFrame({"x": [3.0, 4.0, 5.0, 6.0, 7.0], "t": _days([3, 4, 5, 6, 7])})
    shapes = column_shapes(real, synth, {"x": "numerical", "t": "datetime"})
    assert shapes == {"x": pytest.approx(0.6, abs=1e-15), "t": pytest.approx(0.6, abs=1e-15)}


def test_ks_complement_ignores_float_noise_like_sdmetrics():
    # 0.1 + 0.2 != 0.3 in binary; sdmetrics rounds to 14 decimals first, so the columns are identical.
    real = pd.DataFrame({"x": [0.1 + 0.2, 1.0]})
    synth = pd.DataFrame({"x": [0.3, 1.0]})
    assert column_shapes(real, synth, {"x": "numerical"})["x"] == 1.0


def test_tv_complement_by_hand_drops_missing_values():
    # real without None: a 2/3, b 1/3; synth: a 1/4, b 3/4 -> TV = (5/12 + 5/12) / 2 = 5/12.
    real = pd.DataFrame({"c": ["a", "a", "b", None]}, dtype=object)
    synth = pd.DataFrame({"c": ["a", "b", "b", "b"]}, dtype=object)
    assert column_shapes(real, synth, {"c": "categorical"})["c"] == pytest.approx(7 / 12, abs=1e-15)


def test_tv_complement_pseudo_count_for_unseen_category():
    # sdmetrics.utils.get_frequencies gives a category only the synthetic side has a real count of 1e-6.
    real = pd.DataFrame({"c": ["a", "a", "b", "b"]})
    synth = pd.DataFrame({"c": ["a", "c"]})
    eps = Fraction(1, 10**6)
    f_real = [Fraction(2) / (4 + eps), Fraction(2) / (4 + eps), eps / (4 + eps)]
    f_synth = [Fraction(1, 2), Fraction(0), Fraction(1, 2)]
    expected = 1 - sum(abs(s - r) for s, r in zip(f_synth, f_real)) / 2
    score = column_shapes(real, synth, {"c": "categorical"})["c"]
    assert score == pytest.approx(float(expected), abs=1e-15)
    assert abs(score - 0.5) > 1e-7  # the pseudo-count matters at the precision we match sdmetrics to


@pytest.mark.parametrize("as_object", [False, True])
def test_tv_complement_boolean(as_object):
    # real T,T,F,F vs synth T,T,T,F: TV = (0.25 + 0.25) / 2.
    real = pd.DataFrame({"b": [True, True, False, False]})
    synth = pd.DataFrame({"b": [True, True, True, False]})
    if as_object:
        real = pd.DataFrame({"b": pd.Series([True, True, False, False, nan], dtype=object)})
        synth = pd.DataFrame({"b": pd.Series([True, None, True, True, False], dtype=object)})
    assert column_shapes(real, synth, {"b": "boolean"})["b"] == pytest.approx(0.75, abs=1e-15)


def test_shapes_nan_when_a_side_has_no_value():
    real = pd.DataFrame({"x": [nan, nan], "c": [None, None]})
    synth = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    shapes = column_shapes(real, synth, {"x": "numerical", "c": "categorical"})
    assert math.isnan(shapes["x"]) and math.isnan(shapes["c"])


# ------------------------------------------------------------------------------------------- column pair trends
def test_correlation_similarity_from_known_rhos():
    x = [1.0, 2.0, 3.0, 4.0]
    real = pd.DataFrame({"x": x, "y": [2.0, 4.0, 6.0, 8.0]})  # ρ = 1
    opposite = pd.DataFrame({"x": x, "y": [8.0, 6.0, 4.0, 2.0]})  # ρ = -1
    uncorrelated = pd.DataFrame({"x": x, "y": [1.0, -1.0, -1.0, 1.0]})  # ρ = 0
    cols = {"x": "numerical", "y": "numerical"}
    assert column_pair_trends(real, opposite, cols)[("x", "y")] == pytest.approx(0.0, abs=1e-15)
    assert column_pair_trends(real, uncorrelated, cols)[("x", "y")] == pytest.approx(0.5, abs=1e-15)
    assert column_pair_trends(opposite, uncorrelated, cols)[("x", "y")] == pytest.approx(0.5, abs=1e-15)
    # The real pair must show a trend (|ρ_real| > 0.5 by default) to be scored at all; sdmetrics tests
    # |ρ_real| <= threshold, so an exactly uncorrelated real pair is NaN even with the threshold at 0.
    weak = pd.DataFrame({"x": x, "y": [1.0, -1.0, 1.0, 1.0]})  # ρ = 0.258...
    rho = np.corrcoef(x, weak["y"])[0, 1]
    assert math.isnan(column_pair_trends(weak, real, cols)[("x", "y")])
    assert column_pair_trends(weak, real, cols, **ALL_PAIRS)[("x", "y")] == pytest.approx(1 - (1 - rho) / 2, abs=1e-15)
    assert math.isnan(column_pair_trends(uncorrelated, real, cols, **ALL_PAIRS)[("x", "y")])


def test_correlation_drops_rows_missing_in_either_column_and_datetimes_count():
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, nan], "t": _days([1, 2, 3, 4, 9])})  # ρ = 1 on 4 rows
    synth = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "t": _days([4, 3, 2, 1, None])})  # ρ = -1
    assert column_pair_trends(real, synth, {"x": "numerical", "t": "datetime"})[("x", "t")] == pytest.approx(0.0)


def test_contingency_similarity_by_hand():
    # real cells (a,x) 1/2, (b,y) 1/2; synth (a,x) 1/4, (a,y) 1/4, (b,y) 1/2 -> TV = (1/4 + 1/4) / 2.
    real = pd.DataFrame({"c": ["a", "a", "b", "b"], "d": ["x", "x", "y", "y"]})
    synth = pd.DataFrame({"c": ["a", "a", "b", "b"], "d": ["x", "y", "y", "y"]})
    pairs = column_pair_trends(real, synth, {"c": "categorical", "d": "categorical"})
    assert pairs == {("c", "d"): pytest.approx(0.75, abs=1e-15)}  # Cramér's V of real = 1 > 0.3: scored


def test_contingency_counts_missing_values_as_a_category():
    real = pd.DataFrame({"c": ["a", None], "d": [True, True]}, dtype=object)
    synth = pd.DataFrame({"c": ["a", "a"], "d": [True, True]}, dtype=object)
    score = column_pair_trends(real, synth, {"c": "categorical", "d": "boolean"}, **ALL_PAIRS)[("c", "d")]
    assert score == pytest.approx(0.5, abs=1e-15)  # cells (a,T) 1/2, (missing,T) 1/2 vs (a,T) 1


def test_mixed_pair_bins_each_frame_with_its_own_edges():
    # 10 equal-width bins over each frame's own range, numpy.digitize codes: min -> 1, middle -> 6, and the
    # maximum -> 11, the code missing values get too. Synthetic values 20x larger bin the same way.
    cols = {"n": "numerical", "c": "categorical"}
    real = pd.DataFrame({"n": [0.0, 10.0, nan, 5.0], "c": ["a", "b", "b", "a"]})
    synth = pd.DataFrame({"n": [0.0, 200.0, 200.0, 100.0], "c": ["a", "b", "b", "a"]})
    assert column_pair_trends(real, synth, cols) == {("n", "c"): pytest.approx(1.0, abs=1e-15)}
    # Moving the middle value to the bottom bin: cells (1,a) 1/2, (11,b) 1/2 vs (1,a) 1/4, (6,a) 1/4, (11,b) 1/2.
    shifted = pd.DataFrame({"n": [0.0, 200.0, 200.0, 5.0], "c": ["a", "b", "b", "a"]})
    assert column_pair_trends(real, shifted, cols)[("n", "c")] == pytest.approx(0.75, abs=1e-15)


def test_quality_report_means():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    real = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(size=300) * 0.3, "c": np.where(x > 0, "p", "n")})
    synth = real.assign(y=rng.normal(size=300), c=np.where(rng.random(300) < 0.5, "p", "n"))
    cols = {"x": "numerical", "y": "numerical", "c": "categorical"}
    q = quality_report(real, synth, cols)
    shapes = list(q["column_shapes_details"].values())
    pairs = [v for v in q["column_pair_trends_details"].values() if not math.isnan(v)]
    assert q["column_shapes"] == pytest.approx(np.mean(shapes), abs=1e-15)
    assert q["column_pair_trends"] == pytest.approx(np.mean(pairs), abs=1e-15)
    assert q["quality"] == pytest.approx((q["column_shapes"] + q["column_pair_trends"]) / 2, abs=1e-15)
    assert q["column_pair_trends_contributing"] == 3 == len(pairs)  # strong trends: every real pair qualifies
    assert q["column_pair_trends_metrics"][("x", "y")] == "CorrelationSimilarity"
    assert q["column_pair_trends_metrics"][("y", "c")] == "ContingencySimilarity"


def test_identical_frames_score_one():
    real, _ = _peer_tables(1)
    for kwargs in ({}, ALL_PAIRS):
        q = quality_report(real, real.copy(), _PEER_COLUMNS, **kwargs)
        assert q["quality"] == q["column_shapes"] == q["column_pair_trends"] == 1.0
        assert all(v == 1.0 for v in q["column_shapes_details"].values())
        assert all(v == 1.0 or math.isnan(v) for v in q["column_pair_trends_details"].values())


# ------------------------------------------------------------------------------------------- sdmetrics, frozen
def _load_peer_script():
    """benchmarks/peers/sdmetrics_check.py, for its table builder (it imports sdmetrics only when run)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "peers" / "sdmetrics_check.py"
    spec = importlib.util.spec_from_file_location("sdmetrics_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PEER = _load_peer_script()
_PEER_SPECS, _PEER_COLUMNS = _PEER.SPECS, _PEER.COLUMNS
_peer_tables, _fingerprint = _PEER.make_tables, _PEER.fingerprint


# sdmetrics 0.32.0 single-table QualityReport (pandas 2.3.3, numpy 2.4.6, scipy 1.17.1), from
# benchmarks/peers/sdmetrics_check.py. Per table and threshold setting ("default": 0.5 / 0.3, "zero": 0 / 0):
# (quality, column shapes, column pair trends), per-column scores in _PEER_COLUMNS order, per-pair scores in
# itertools.combinations(_PEER_COLUMNS, 2) order (NaN: the real trend is under the threshold).
_SDMETRICS = {
    0: {
        "default": (
            (0.8196773921970664, 0.8623240546874241, 0.7770307297067085),
            (0.8505564387917329, 0.8611726344284484, 0.7805555555555556,
             0.8938025564916652, 0.9227777777777778, 0.8650793650793651),
            (0.891348624323108, nan, 0.7166666666666668,
             0.8, 0.9904527688861156, nan,
             0.5844444444444445, 0.6516666666666666, nan,
             nan, nan, nan,
             0.7872222222222223, nan, 0.7944444444444445),
        ),
        "zero": (
            (0.8347669654206268, 0.8623240546874241, 0.8072098761538294),
            (0.8505564387917329, 0.8611726344284484, 0.7805555555555556,
             0.8938025564916652, 0.9227777777777778, 0.8650793650793651),
            (0.891348624323108, 0.9574891520847446, 0.7166666666666668,
             0.8, 0.9904527688861156, 0.9764081161761878,
             0.5844444444444445, 0.6516666666666666, 0.9537274556262456,
             0.6622222222222223, 0.7355555555555556, 0.9259442474332633,
             0.7872222222222223, 0.6805555555555556, 0.7944444444444445),
        ),
    },
    1: {
        "default": (
            (0.7209212016831688, 0.7842302596427523, 0.6576121437235852),
            (0.7248923959827833, 0.6384976525821596, 0.6563636363636364,
             0.8516936708310541, 0.9583184385500823, 0.875615763546798),
            (0.7180971047657532, nan, 0.6284848484848486,
             0.6396969696969699, nan, nan,
             0.6327272727272728, 0.6703030303030304, nan,
             nan, nan, nan,
             nan, 0.6563636363636363, nan),
        ),
        "zero": (
            (0.7817199986543382, 0.7842302596427523, 0.779209737665924),
            (0.7248923959827833, 0.6384976525821596, 0.6563636363636364,
             0.8516936708310541, 0.9583184385500823, 0.875615763546798),
            (0.7180971047657532, 0.9465428612175254, 0.6284848484848486,
             0.6396969696969699, 0.9870022940481494, 0.9366932265445956,
             0.6327272727272728, 0.6703030303030304, 0.8616712536864014,
             0.7039393939393939, 0.7442424242424243, 0.9948059913931,
             0.7590909090909091, 0.6563636363636363, 0.8084848484848485),
        ),
    },
    2: {
        "default": (
            (0.8793602796952751, 0.9168511667934774, 0.8418693925970727),
            (0.9415272614622057, 0.9252930377065386, 0.8466666666666667,
             0.8849835871918732, 0.9859697810669134, 0.9166666666666666),
            (0.9363715735269378, nan, 0.7533333333333333,
             0.7633333333333334, 0.9663087227917591, nan,
             nan, 0.7899999999999999, nan,
             nan, nan, nan,
             nan, nan, nan),
        ),
        "zero": (
            (0.8876537571058338, 0.9168511667934774, 0.8584563474181901),
            (0.9415272614622057, 0.9252930377065386, 0.8466666666666667,
             0.8849835871918732, 0.9859697810669134, 0.9166666666666666),
            (0.9363715735269378, 0.9868829879691964, 0.7533333333333333,
             0.7633333333333334, 0.9663087227917591, 0.9943569835570313,
             0.75, 0.7899999999999999, 0.919211528597536,
             0.7433333333333334, 0.8333333333333333, 0.9703800814970549,
             0.8566666666666667, 0.7733333333333333, 0.84),
        ),
    },
}
_FINGERPRINTS = {  # _fingerprint of _peer_tables(i): (real, synth), as the peer script printed them
    0: (
        [7432.9, 7638672.109999999, 590.0, 10.0, 64.0, 99.0, 20.0, 260721417600.0],
        [7434.0, 7089577.1899999995, 721.0, 11.0, 62.0, 103.0, 12.0, 246050092800.0],
    ),
    1: (
        [5641.8, 5736808.630000001, 429.0, 10.0, 50.0, 78.0, 18.0, 192753388800.0],
        [9959.900000000001, 10989349.83, 1022.0, 26.0, 80.0, 100.0, 17.0, 299186611200.0],
    ),
    2: (
        [10891.7, 11763332.2, 863.0, 17.0, 94.0, 136.0, 0.0, 435633120000.0],
        [11768.0, 11815503.809999999, 1010.0, 18.0, 80.0, 135.0, 0.0, 436619462400.0],
    ),
}

_THRESHOLDS = {"default": (0.5, 0.3), "zero": (0.0, 0.0)}
# The peer run agreed to 2.2e-16 (summation order); 1e-12 leaves room for other BLAS/numpy builds and pandas 3.
_PEER_TOL = 1e-12


def _assert_close(ours: list[float], theirs: tuple[float, ...]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= _PEER_TOL, (ours, theirs)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_tables_rebuild_as_in_the_peer_run(index):
    real, synth = _peer_tables(index)
    for frame, expected in zip((real, synth), _FINGERPRINTS[index]):
        assert _fingerprint(frame) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("thresholds", ["default", "zero"])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_quality_report_matches_sdmetrics(index, thresholds):
    real, synth = _peer_tables(index)
    corr, assoc = _THRESHOLDS[thresholds]
    q = quality_report(real, synth, _PEER_COLUMNS, real_correlation_threshold=corr, real_association_threshold=assoc)
    overall, per_column, per_pair = _SDMETRICS[index][thresholds]
    _assert_close([q["quality"], q["column_shapes"], q["column_pair_trends"]], overall)
    _assert_close(list(q["column_shapes_details"].values()), per_column)
    _assert_close(list(q["column_pair_trends_details"].values()), per_pair)


def test_peer_match_holds_with_pandas_string_and_microsecond_dtypes():
    # pandas 3 makes "str" the default for text and may give datetimes a non-ns unit: same numbers.
    real, synth = _peer_tables(1)
    convert = {"city": "string", "joined": "datetime64[us]"}
    q = quality_report(real.astype(convert), synth.astype(convert), _PEER_COLUMNS)
    overall, per_column, per_pair = _SDMETRICS[1]["default"]
    _assert_close([q["quality"], q["column_shapes"], q["column_pair_trends"]], overall)
    _assert_close(list(q["column_pair_trends_details"].values()), per_pair)


# ---------------------------------------------------------------------------------------------------- privacy
_DCR_COLUMNS = {"x": "numerical", "c": "categorical"}


def test_dcr_by_hand():
    # Training range of x is [0, 10]: a difference of 1 is 0.1. A categorical mismatch adds 1 to d².
    train = pd.DataFrame({"x": [0.0, 10.0, 5.0], "c": ["a", "b", "a"]})
    synth = pd.DataFrame({"x": [2.0, 10.0, 0.0], "c": ["a", "a", "a"]})
    # (2,a): 0.2 from (0,a) | (10,a): 0.5 from (5,a) (vs 1 from (10,b)) | (0,a): a copy, 0
    holdout = pd.DataFrame({"x": [nan, 7.5, 5.0], "c": ["b", "z", "a"]})
    # (NaN,b): 1 from (10,b) (missing vs present) | (7.5,z): sqrt(0.25² + 1), z never seen | (5,a): a copy, 0
    r = privacy(train, holdout, synth, _DCR_COLUMNS)
    assert r["dcr_synth_median"] == pytest.approx(0.2, abs=1e-15)
    assert r["dcr_holdout_median"] == pytest.approx(1.0, abs=1e-15)
    assert r["dcr_ratio"] == pytest.approx(0.2, abs=1e-15)
    assert r["exact_copy_rate"] == r["exact_copy_rate_holdout"] == pytest.approx(1 / 3)
    far = privacy(train, holdout.iloc[[1]], synth, _DCR_COLUMNS)["dcr_holdout_median"]
    assert far == pytest.approx(math.sqrt(0.25**2 + 1), abs=1e-15)


def test_dcr_missing_equals_missing_and_datetimes_use_the_training_range():
    cols = {"x": "numerical", "t": "datetime", "b": "boolean"}
    train = pd.DataFrame({"x": [nan, 1.0], "t": _days([0, 100]), "b": pd.Series([None, True], dtype=object)})
    synth = pd.DataFrame({"x": [nan, 1.0], "t": _days([0, 75]), "b": pd.Series([nan, True], dtype=object)})
    r = privacy(train, synth.iloc[[1]], synth, cols)
    assert r["exact_copy_rate"] == 0.5  # row 0: NaN/None equal to NaN/None
    assert r["dcr_holdout_median"] == pytest.approx(0.25, abs=1e-15)  # 25 days of a 100-day range
    assert r["dcr_synth_median"] == pytest.approx(0.125, abs=1e-15)  # median of 0 and 0.25


def test_dcr_of_copies_is_zero_and_chunked_search_matches_brute_force():
    rng = np.random.default_rng(3)

    def table(n):
        frame = pd.DataFrame({
            "x": rng.normal(size=n), "y": rng.integers(0, 4, n).astype(float),
            "c": pd.Series(rng.choice(["p", "q", "r"], n), dtype=object), "b": rng.random(n) < 0.4,
        })
        frame.loc[rng.random(n) < 0.2, "x"] = nan
        frame.loc[rng.random(n) < 0.2, "c"] = None
        return frame

    cols = {"x": "numerical", "y": "numerical", "c": "categorical", "b": "boolean"}
    train, holdout = table(400), table(300)
    r = privacy(train, holdout, train.sample(frac=1.0, random_state=0), cols)
    assert r["dcr_synth_median"] == 0.0 and r["exact_copy_rate"] == 1.0 and r["dcr_ratio"] == 0.0

    # Brute force: every (holdout, train) pair with the documented per-column rules.
    lo, span = train["x"].min(), train["x"].max() - train["x"].min()
    yspan = train["y"].max() - train["y"].min()
    sq = np.zeros((len(holdout), len(train)))
    xa, xb = (holdout["x"].to_numpy() - lo) / span, (train["x"].to_numpy() - lo) / span
    diff = (xa[:, None] - xb[None, :]) ** 2
    one = np.isnan(xa)[:, None] != np.isnan(xb)[None, :]
    sq += np.where(np.isnan(diff), np.where(one, 1.0, 0.0), diff)
    sq += ((holdout["y"].to_numpy()[:, None] - train["y"].to_numpy()[None, :]) / yspan) ** 2
    for col in ("c", "b"):
        a = holdout[col].astype(object).where(holdout[col].notna(), "<NA>").to_numpy()
        b = train[col].astype(object).where(train[col].notna(), "<NA>").to_numpy()
        sq += a[:, None] != b[None, :]
    expected = np.median(np.sqrt(sq.min(axis=1)))
    assert r["dcr_holdout_median"] == pytest.approx(expected, abs=1e-12)


def test_dcr_10k_by_10k_is_fast():
    rng = np.random.default_rng(0)

    def table(n):
        return pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n),
                             "c": rng.choice(list("abcdefgh"), n), "b": rng.random(n) < 0.5})

    cols = {"x": "numerical", "y": "numerical", "c": "categorical", "b": "boolean"}
    start = time.perf_counter()
    r = privacy(table(10_000), table(10_000), table(10_000), cols)
    assert time.perf_counter() - start < 15.0  # about 2 s on two shared cores
    assert 0.8 < r["dcr_ratio"] < 1.25  # same distribution, no copying


# -------------------------------------------------------------------------------------------------- detection
def _mixed(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    return pd.DataFrame({
        "x": x, "y": x + rng.normal(size=n), "c": np.where(rng.random(n) < 0.3 + 0.3 * (shift > 0), "u", "v"),
        "t": _days(rng.integers(0, 365, n).tolist()),
    })


_MIXED_COLUMNS = {"x": "numerical", "y": "numerical", "c": "categorical", "t": "datetime"}


def test_detection_cannot_tell_identical_frames_or_same_distribution():
    rng = np.random.default_rng(1)
    real = _mixed(rng, 1500)
    same = detection(real, real.copy(), _MIXED_COLUMNS)
    assert same["detection_auc"] == pytest.approx(0.5, abs=0.05)
    assert same["detection_score"] > 0.9
    fresh = detection(real, _mixed(rng, 1500), _MIXED_COLUMNS)
    assert fresh["detection_auc"] == pytest.approx(0.5, abs=0.05)


def test_detection_separates_shifted_data_and_is_deterministic():
    rng = np.random.default_rng(2)
    real, synth = _mixed(rng, 600), _mixed(rng, 600, shift=2.0)
    r = detection(real, synth, _MIXED_COLUMNS, seed=5)
    assert r["detection_auc"] > 0.9
    assert r["detection_score"] == pytest.approx(1 - (2 * r["detection_auc"] - 1), abs=1e-12)  # every fold > 0.5
    assert detection(real, synth, _MIXED_COLUMNS, seed=5) == r


# ------------------------------------------------------------------------------------------------ ML efficacy
@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    cols = {c: "numerical" for c in data.columns if c != "target"} | {"target": "categorical"}
    shuffled = data.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return shuffled.iloc[:400].reset_index(drop=True), shuffled.iloc[400:].reset_index(drop=True), cols


def test_ml_efficacy_breast_cancer(cancer):
    train, test, cols = cancer
    r = ml_efficacy(train, test, "target", cols)
    assert r["metric"] == "f1" and r["n_train"] == 400 and r["n_test"] == 169
    models = ("adaboost", "decision_tree", "logistic_regression", "mlp")
    assert r["efficacy"] == pytest.approx(np.mean([r[m] for m in models]), abs=1e-15)
    assert r["efficacy"] > 0.9
    noise = train.assign(target=np.random.default_rng(0).permutation(train["target"].to_numpy()))
    r_noise = ml_efficacy(noise, test, "target", cols)
    assert r_noise["efficacy"] < r["efficacy"] - 0.25
    assert ml_efficacy(train, test, "target", cols) == r  # seeded: deterministic


def test_ml_efficacy_single_class_training_predicts_the_constant():
    cols = {"x": "numerical", "y": "categorical"}
    train = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": ["a", "a", "a"]})
    test = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": ["a", "a", "b"]})
    r = ml_efficacy(train, test, "y", cols)  # positive = "b", the rarer test class: never predicted
    assert r["efficacy"] == 0.0
    r = ml_efficacy(train, test, "y", cols, pos_label="a")  # precision 2/3, recall 1
    assert r["efficacy"] == pytest.approx(0.8, abs=1e-15) and r["adaboost"] == pytest.approx(0.8, abs=1e-15)


def test_ml_efficacy_multiclass_regression_unseen_categories_and_missing_values():
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    frame = pd.DataFrame({
        "x": np.where(rng.random(n) < 0.1, nan, x), "t": _days(rng.integers(0, 100, n).tolist()),
        "c": pd.Series(rng.choice(["p", "q", None], n), dtype=object),
        "label": np.select([x < -0.5, x < 0.5], ["lo", "mid"], "hi"), "z": 3 * x + rng.normal(size=n) * 0.1,
    })
    cols = {"x": "numerical", "t": "datetime", "c": "categorical", "label": "categorical", "z": "numerical"}
    test = frame.iloc[200:].assign(c="never seen")
    clf = ml_efficacy(frame.iloc[:200], test, "label", cols)
    assert clf["metric"] == "macro_f1" and 0.5 < clf["efficacy"] <= 1.0
    reg = ml_efficacy(frame.iloc[:200], test, "z", cols)
    assert reg["metric"] == "r2" and set(reg) >= {"linear_regression", "mlp"}
    assert reg["linear_regression"] > 0.9  # z is linear in x (mean-imputed where missing)


# ----------------------------------------------------------------------------------------------------- errors
def test_user_errors_are_one_line_data_errors(one_line):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"], "t": ["2020-01-01"] * 3})
    with one_line(DataError, match="synth has no column 'c'"):
        column_shapes(frame, frame[["x"]], {"x": "numerical", "c": "categorical"})
    with one_line(DataError, match="unknown sdtype 'text'"):
        quality_report(frame, frame, {"c": "text"})
    with one_line(DataError, match="target 'y' is not in columns"):
        ml_efficacy(frame, frame, "y", {"x": "numerical"})
    with one_line(DataError, match="pandas.to_datetime"):
        column_shapes(frame, frame, {"t": "datetime"})
    with one_line(DataError, match="declared numerical"):
        privacy(frame, frame, frame, {"c": "numerical"})
    with one_line(DataError, match="at least 3"):
        detection(frame.iloc[:2], frame, {"x": "numerical"})
