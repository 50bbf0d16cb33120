"""Tests for gankit.data.tables.simulated: CTGAN's simulated tables and their likelihood fitness (L_syn, L_test).

Reference numbers: the bnlearn CPTs multiplied out by hand (asia), exact marginals by enumeration (asia, 256 rows)
or by variable elimination with einsum (child), closed-form entropies of well-separated Gaussian mixtures and
quadrature of -∫ p log p otherwise.
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np
import pandas as pd
import pytest

from gankit.data.tables import simulated as sim
from gankit.errors import DataError

MIXTURES = ("grid", "gridr", "ring")
NETWORKS = ("asia", "child")


def _quadrature(name: str, h: float = 0.05) -> tuple[float, float]:
    """(∫ p, -∫ p log p) of a mixture's true density by the midpoint rule on a box 6 std past every centre."""
    m = sim.model(name)
    lo, hi = m.means.min() - 1.4, m.means.max() + 1.4  # 1.4 ≈ 6.3 std of sqrt(0.05)
    g = np.arange(lo + h / 2, hi, h)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    logp = m.log_density(np.stack([xx.ravel(), yy.ravel()], axis=1))
    p = np.exp(logp)
    return float(p.sum() * h * h), float(-(p * logp).sum() * h * h)


# --------------------------------------------------------------------------------------------------
# registry, columns, determinism, errors
# --------------------------------------------------------------------------------------------------


def test_registry_and_columns():
    assert set(sim.SIMULATED) == {"grid", "gridr", "ring", "asia", "child"}
    assert sim.columns("grid") == {"x": "numerical", "y": "numerical"}
    asia = sim.columns("asia")
    assert list(asia) == ["asia", "tub", "smoke", "lung", "bronc", "either", "xray", "dysp"]
    assert set(asia.values()) == {"categorical"}
    assert len(sim.columns("child")) == 20
    for name in sim.SIMULATED:
        df = sim.sample(name, 7, seed=0)
        assert list(df.columns) == list(sim.columns(name)) and len(df) == 7
    assert sim.sample("asia", 0, seed=0).shape == (0, 8)


@pytest.mark.parametrize("name", [*MIXTURES, *NETWORKS])
def test_same_seed_same_frame_other_seed_other_frame(name):
    a, b, c = sim.sample(name, 500, seed=3), sim.sample(name, 500, seed=3), sim.sample(name, 500, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_errors_are_one_line_data_errors(one_line):
    grid, asia = sim.sample("grid", 50, seed=0), sim.sample("asia", 50, seed=0)
    with one_line(DataError, match="unknown simulated table 'gird'.*known: grid, gridr, ring, asia, child"):
        sim.sample("gird", 10, seed=0)
    with one_line(DataError, match="unknown simulated table"):
        sim.columns("alarm")
    with one_line(DataError, match="lacks column.*dysp"):
        sim.log_likelihood("asia", asia.drop(columns="dysp"))
    with one_line(DataError, match="lacks column.*y; it needs x, y"):
        sim.likelihood_scores("grid", grid[["x"]], grid)
    with one_line(DataError, match="column 'x'.*not numbers"):
        sim.log_likelihood("grid", grid.assign(x=grid["x"].astype(str)))
    with one_line(DataError, match="not a pandas DataFrame"):
        sim.log_likelihood("grid", grid.to_numpy())
    with one_line(DataError, match="n=-1 rows"):
        sim.sample("ring", -1, seed=0)
    with one_line(DataError, match="at least 25"):
        sim.refit_log_likelihood("grid", grid.head(10), grid)
    bad_test = asia.copy()
    bad_test.loc[0, "xray"] = "maybe"
    with one_line(DataError, match="1 of them with probability 0.*sample\\('asia'"):
        sim.likelihood_scores("asia", asia, bad_test)
    with one_line(DataError, match="no rows"):
        sim.likelihood_scores("asia", asia.head(0), asia)


# --------------------------------------------------------------------------------------------------
# asia
# --------------------------------------------------------------------------------------------------


def _all_asia_rows() -> pd.DataFrame:
    cols = list(sim.columns("asia"))
    return pd.DataFrame(list(product(["yes", "no"], repeat=len(cols))), columns=cols)


def test_asia_cpt_rows_sum_to_one_and_bnlearn_parameter_count():
    net = sim.model("asia")
    for v in net.nodes:
        for row in net.published[v].values():
            assert sum(row) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(net.cpts[v].sum(axis=-1), 1.0, atol=1e-15)
    # bnlearn lists asia with 8 nodes, 8 arcs, 18 parameters
    assert sum(len(net.parents[v]) for v in net.nodes) == 8
    assert sum(net.cpts[v][..., 0].size for v in net.nodes) == 18


def test_asia_exact_joint_and_marginals_by_enumeration():
    rows = _all_asia_rows()
    p = np.exp(sim.log_likelihood("asia", rows))
    assert len(rows) == 256 and p.sum() == pytest.approx(1.0, abs=1e-12)
    marg = {v: float(p[rows[v] == "yes"].sum()) for v in rows.columns}
    # The same marginals by hand from the CPTs (given smoke, bronc and either are independent).
    tub = 0.01 * 0.05 + 0.99 * 0.01
    lung = {"y": 0.1, "n": 0.01}
    bronc = {"y": 0.6, "n": 0.3}
    either = {s: 1 - (1 - lung[s]) * (1 - tub) for s in "yn"}
    dysp_given = {("y", "y"): 0.9, ("y", "n"): 0.8, ("n", "y"): 0.7, ("n", "n"): 0.1}

    def dysp_s(s):
        pb, pe = bronc[s], either[s]
        return sum((pb if b == "y" else 1 - pb) * (pe if e == "y" else 1 - pe) * dysp_given[b, e]
                   for b in "yn" for e in "yn")

    e = 0.5 * either["y"] + 0.5 * either["n"]
    expected = {"asia": 0.01, "smoke": 0.5, "tub": tub, "lung": 0.5 * 0.1 + 0.5 * 0.01, "bronc": 0.45, "either": e,
                "xray": 0.98 * e + 0.05 * (1 - e), "dysp": 0.5 * dysp_s("y") + 0.5 * dysp_s("n")}
    for v, q in expected.items():
        assert marg[v] == pytest.approx(q, abs=1e-12), v
    assert marg["either"] == pytest.approx(0.064828, abs=1e-12)


def test_asia_sample_frequencies_within_three_standard_errors():
    rows = _all_asia_rows()
    p = np.exp(sim.log_likelihood("asia", rows))
    n = 20_000
    df = sim.sample("asia", n, seed=0)
    assert np.isfinite(sim.log_likelihood("asia", df)).all()  # no forbidden either/lung/tub combination drawn
    for v in rows.columns:
        q = float(p[rows[v] == "yes"].sum())
        freq = float((df[v] == "yes").mean())
        assert abs(freq - q) <= 3 * math.sqrt(q * (1 - q) / n), (v, freq, q)


def test_asia_log_likelihood_of_a_hand_chosen_row():
    row = pd.DataFrame([{"asia": "yes", "tub": "no", "smoke": "yes", "lung": "yes", "bronc": "no", "either": "yes",
                         "xray": "yes", "dysp": "yes"}])
    # P(asia) P(tub|asia) P(smoke) P(lung|smoke) P(bronc|smoke) P(either|lung,tub) P(xray|either) P(dysp|bronc,either)
    by_hand = 0.01 * 0.95 * 0.5 * 0.1 * 0.4 * 1.0 * 0.98 * 0.7
    assert sim.log_likelihood("asia", row)[0] == pytest.approx(math.log(by_hand), rel=1e-12)
    # extra columns are ignored, column order does not matter, pandas categoricals are read by value
    shuffled = row[row.columns[::-1]].assign(note="x").astype({"dysp": "category"})
    assert sim.log_likelihood("asia", shuffled)[0] == pytest.approx(math.log(by_hand), rel=1e-12)


def test_asia_out_of_support_rows_are_minus_inf_and_reported():
    df = sim.sample("asia", 100, seed=5)
    true = sim.log_likelihood("asia", df)
    bad = df.copy()
    bad.loc[0:4, ["lung", "either"]] = ["yes", "no"]  # either is a deterministic OR: probability 0
    bad.loc[5:8, "smoke"] = "maybe"  # unknown category
    bad.loc[9, "asia"] = None  # missing value
    ll = sim.log_likelihood("asia", bad)
    assert np.isneginf(ll[:10]).all() and np.array_equal(ll[10:], true[10:])
    scores = sim.likelihood_scores("asia", bad, sim.sample("asia", 1000, seed=6))
    assert scores["out_of_support"] == pytest.approx(0.10)
    assert scores["l_syn"] == pytest.approx(true[10:].mean(), rel=1e-12)
    assert np.isfinite(scores["l_test"])
    everything_bad = bad.head(10)
    assert sim.likelihood_scores("asia", everything_bad, df)["l_syn"] == -math.inf


def test_asia_refit_is_laplace_smoothed_counts_by_hand():
    r = {"asia": "no", "tub": "no", "smoke": "yes", "lung": "no", "bronc": "yes", "either": "no", "xray": "no",
         "dysp": "yes"}
    unknown = dict(r, smoke="maybe")  # a row with an unknown value is left out of the counts
    synth = pd.DataFrame([r, r, r, unknown])
    flipped = dict(r, dysp="no")
    ll = sim.refit_log_likelihood("asia", synth, pd.DataFrame([r, flipped]))
    # each node's seen parent configuration was counted 3 times with the same value: (3+1)/(3+2) = 0.8
    assert ll[0] == pytest.approx(8 * math.log(0.8), rel=1e-12)
    assert ll[1] == pytest.approx(7 * math.log(0.8) + math.log(0.2), rel=1e-12)
    # an unseen parent configuration gets the uniform row: asia=no seen, tub | asia=yes never seen
    other = dict(r, asia="yes")
    assert sim.refit_log_likelihood("asia", synth, pd.DataFrame([other]))[0] == pytest.approx(
        math.log(0.2) + math.log(0.5) + 6 * math.log(0.8), rel=1e-12)


def test_asia_refit_on_true_rows_matches_the_truth_and_collapse_is_caught():
    test = sim.sample("asia", 20_000, seed=1)
    synth = sim.sample("asia", 20_000, seed=2)
    good = sim.likelihood_scores("asia", synth, test)
    assert good["out_of_support"] == 0.0
    # L_syn of true rows estimates minus the exact entropy (by enumeration of the 256 rows)
    rows = _all_asia_rows()
    ll = sim.log_likelihood("asia", rows)
    finite = np.isfinite(ll)
    entropy = float(-(np.exp(ll[finite]) * ll[finite]).sum())
    se = sim.log_likelihood("asia", synth).std() / math.sqrt(len(synth))
    assert abs(good["l_syn"] + entropy) < 4 * se, (good["l_syn"], -entropy, se)
    assert abs(good["l_test"] - good["l_true_test"]) < 0.01  # 18 parameters from 20k rows
    # collapse: every synthetic row is the single most probable configuration
    best = rows.iloc[[int(np.argmax(ll))] * 1000].reset_index(drop=True)
    assert dict(best.iloc[0]) == {v: "no" for v in rows.columns}
    collapsed = sim.likelihood_scores("asia", best, test)
    p_max = 0.99 * 0.99 * 0.5 * 0.99 * 0.7 * 1.0 * 0.95 * 0.9
    assert collapsed["l_syn"] == pytest.approx(math.log(p_max), rel=1e-12)
    assert collapsed["l_syn"] > good["l_true_test"] + 0.9  # L_syn rewards the collapse ...
    assert collapsed["l_test"] < good["l_true_test"] - 1.0  # ... L_test does not


# --------------------------------------------------------------------------------------------------
# child
# --------------------------------------------------------------------------------------------------


def _child_marginals() -> dict[str, np.ndarray]:
    """Exact marginal of every node by variable elimination (one einsum over all CPT factors per node)."""
    net = sim.model("child")
    letter = {v: chr(ord("a") + i) for i, v in enumerate(net.nodes)}
    subs = ",".join("".join(letter[u] for u in (*net.parents[v], v)) for v in net.nodes)
    arrays = [net.cpts[v] for v in net.nodes]
    out = {v: np.einsum(f"{subs}->{letter[v]}", *arrays, optimize="greedy") for v in net.nodes}
    out[""] = np.einsum(f"{subs}->", *arrays, optimize="greedy")
    return out


def test_child_cpts_are_distributions_with_bnlearn_parameter_count():
    net = sim.model("child")
    for v in net.nodes:
        for row in net.published[v].values():
            assert sum(row) == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_allclose(net.cpts[v].sum(axis=-1), 1.0, atol=1e-14)
    # bnlearn lists child with 20 nodes, 25 arcs, 230 parameters
    assert sum(len(net.parents[v]) for v in net.nodes) == 25
    assert sum(net.cpts[v][..., 0].size * (net.cpts[v].shape[-1] - 1) for v in net.nodes) == 230
    assert net.published["Disease"][("no",)][0] == 0.03061224


def test_child_sample_frequencies_match_exact_marginals():
    marg = _child_marginals()
    assert float(marg[""]) == pytest.approx(1.0, abs=1e-12)
    # Disease by hand: P(BirthAsphyxia = yes) = 0.1
    disease = 0.1 * np.array([0.20, 0.30, 0.25, 0.15, 0.05, 0.05]) + 0.9 * np.array(
        [0.03061224, 0.33673469, 0.29591837, 0.23469388, 0.05102041, 0.05102041])
    np.testing.assert_allclose(marg["Disease"], disease / disease.sum(), atol=1e-12)
    n = 20_000
    df = sim.sample("child", n, seed=0)
    net = sim.model("child")
    for v in net.nodes:
        freq = df[v].value_counts(normalize=True).reindex(net.states[v], fill_value=0.0).to_numpy()
        q = marg[v]
        # 60 states checked at once: 4 standard errors keeps a false alarm below 0.4 % for a fresh seed
        assert (np.abs(freq - q) <= 4 * np.sqrt(q * (1 - q) / n) + 1e-12).all(), (v, freq, q)


def test_child_refit_on_true_rows_is_close_to_the_truth():
    test = sim.sample("child", 5000, seed=1)
    s = sim.likelihood_scores("child", sim.sample("child", 20_000, seed=2), test)
    assert s["out_of_support"] == 0.0
    # 230 parameters from 20k rows, smoothed: the refit costs a few hundredths of a nat
    assert -0.05 < s["l_test"] - s["l_true_test"] < 0.0


# --------------------------------------------------------------------------------------------------
# Gaussian mixtures
# --------------------------------------------------------------------------------------------------


def test_mixture_constants():
    grid, gridr, ring = (sim.model(n) for n in MIXTURES)
    assert grid.variance == gridr.variance == ring.variance == 0.05
    assert sorted(map(tuple, grid.means)) == [(float(i), float(j)) for i in range(-4, 5, 2) for j in range(-4, 5, 2)]
    off = gridr.means - grid.means
    assert ((off >= -0.5) & (off < 0.5)).all()
    # SDGym's offsets: np.random.seed(0); np.random.rand(2) - 0.5 per centre, (-4,-4) first, (4,4) last
    np.testing.assert_allclose(off[0], [0.0488135, 0.21518937], atol=1e-6)
    np.testing.assert_allclose(off[1], [0.10276338, 0.04488318], atol=1e-6)
    np.testing.assert_allclose(off[-1], [-0.18457165, -0.13628923], atol=1e-6)
    np.testing.assert_allclose(np.hypot(*ring.means.T), 1.0, atol=1e-15)
    sdgym_ring = [[-1, 0], [1, 0], [0, -1], [0, 1], [-0.5**0.5, -0.5**0.5], [0.5**0.5, 0.5**0.5],
                  [-0.5**0.5, 0.5**0.5], [0.5**0.5, -0.5**0.5]]
    d = np.linalg.norm(ring.means[:, None] - np.array(sdgym_ring)[None], axis=-1)  # 8×8: the same points
    assert (d.min(axis=0) < 1e-12).all() and (d.min(axis=1) < 1e-12).all()


@pytest.mark.parametrize("name", MIXTURES)
def test_mixture_density_integrates_to_one_and_l_syn_is_minus_entropy(name):
    mass, entropy = _quadrature(name)
    assert mass == pytest.approx(1.0, abs=1e-6)
    if name == "grid":  # modes 8.9 std apart: H = log K + log(2πe σ²), less a tiny overlap term (~4e-5 nats)
        separated = math.log(25) + math.log(2 * math.pi * math.e * 0.05)
        assert 0 < separated - entropy < 1e-4
    if name == "ring":  # neighbours only 3.4 std apart: overlapping modes lower H below the separated value
        assert entropy < math.log(8) + math.log(2 * math.pi * math.e * 0.05) - 0.1
    n = 20_000
    ll = sim.log_likelihood(name, sim.sample(name, n, seed=11))
    se = ll.std() / math.sqrt(n)
    assert abs(ll.mean() + entropy) < 4 * se, (ll.mean(), -entropy, se)


@pytest.mark.parametrize("name", MIXTURES)
def test_mixture_refit_on_true_rows_matches_the_truth(name):
    test = sim.sample(name, 5000, seed=1)
    s = sim.likelihood_scores(name, sim.sample(name, 5000, seed=2), test, seed=0)
    assert s["out_of_support"] == 0.0 and s["n_synth"] == s["n_test"] == 5000 and s["table"] == name
    assert abs(s["l_test"] - s["l_true_test"]) < 0.05, s


def test_mixture_collapse_keeps_l_syn_but_not_l_test():
    test = sim.sample("grid", 5000, seed=1)
    rng = np.random.default_rng(0)
    # one mode at the true spread: L_syn cannot tell (every grid mode has the same local density) ...
    one_mode = pd.DataFrame(rng.normal(0.0, math.sqrt(0.05), (5000, 2)), columns=["x", "y"])
    s = sim.likelihood_scores("grid", one_mode, test)
    assert abs(s["l_syn"] - s["l_true_test"]) < 0.05
    assert s["l_test"] < s["l_true_test"] - 10
    # ... and one mode, sharpened: L_syn even rises above the truth, while L_test falls further
    sharp = pd.DataFrame(rng.normal(0.0, 0.5 * math.sqrt(0.05), (5000, 2)), columns=["x", "y"])
    s = sim.likelihood_scores("grid", sharp, test)
    assert s["l_syn"] > s["l_true_test"] + 0.5
    assert s["l_test"] < s["l_true_test"] - 10


def test_mixture_non_finite_rows_are_out_of_support_and_left_out_of_the_refit():
    synth = sim.sample("ring", 2000, seed=3)
    true = sim.log_likelihood("ring", synth)
    bad = synth.copy()
    bad.loc[:19, "x"] = np.nan
    bad.loc[20:39, "y"] = np.inf
    ll = sim.log_likelihood("ring", bad)
    assert np.isneginf(ll[:40]).all() and np.array_equal(ll[40:], true[40:])
    test = sim.sample("ring", 1000, seed=4)
    s = sim.likelihood_scores("ring", bad, test, seed=0)
    assert s["out_of_support"] == pytest.approx(0.02)
    assert s["l_syn"] == pytest.approx(true[40:].mean(), rel=1e-12)
    refit_clean = sim.refit_log_likelihood("ring", synth.iloc[40:], test, seed=0)
    assert s["l_test"] == pytest.approx(refit_clean.mean(), rel=1e-12)
