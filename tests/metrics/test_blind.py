"""Numbers for gankit.metrics.blind: defect-blind critics on Gaussians whose differences are known exactly.

Tolerances are binomial: a held-out accuracy of n predictions at chance has standard deviation sqrt(0.25 / n);
"at chance" below means within 3.5 of them (|acc - 0.5| <= 0.062 for n = 800), "above chance" beyond 5.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from gankit.metrics.blind import blind_critics, remove_directions
from gankit.metrics.evaluate import METRICS, Inputs
from gankit.metrics.two_sample import c2st

N = 400  # rows per set; n = 800 held-out predictions per accuracy
SD = math.sqrt(0.25 / (2 * N))
CHANCE_TOL = 3.5 * SD


def gaussians(shift: dict[int, float], d: int = 6, seed: int = 0, scale: dict[int, float] | None = None):
    """Two N×d standard Gaussians; the fake one moved by ``shift[axis]`` and scaled by ``scale[axis]``."""
    rng = np.random.default_rng(seed)
    real, fake = rng.standard_normal((N, d)), rng.standard_normal((N, d))
    for axis, s in (scale or {}).items():
        fake[:, axis] *= s
    for axis, m in shift.items():
        fake[:, axis] += m
    return real, fake


@pytest.mark.parametrize("metric", ["covariance", "euclidean"])
def test_critic_is_at_chance_once_the_only_difference_is_removed(metric):
    real, fake = gaussians({0: 2.0})
    out = blind_critics(real, fake, steps=2, metric=metric)
    s1, s2 = out["steps"]
    bayes = norm.cdf(1.0)  # shift 2 in unit variance: the best possible accuracy is Φ(2/2) = 0.841
    assert abs(s1["accuracy"] - bayes) <= 3.5 * SD and s1["p_value"] < 1e-30
    assert abs(s1["direction"][0]) > 0.97  # it keyed on axis 0
    assert abs(s2["accuracy"] - 0.5) <= CHANCE_TOL and abs(s2["knn_accuracy"] - 0.5) <= CHANCE_TOL
    assert abs(out["residual_accuracy"] - 0.5) <= CHANCE_TOL
    assert 0.85 <= s1["explained"] <= 1.15  # removing the direction took (nearly) all of the accuracy above chance
    assert out["n"] == 2 * N


def test_covariance_removal_blinds_correlated_features_where_euclidean_does_not():
    # One mean shift, along axis 0, in features correlated 0.9 with axis 1. The critic's weight vector is
    # Σ⁻¹Δ ∝ (1, -0.9)/0.19, not Δ: removing it in the Euclidean sense leaves Δ's other component, which the next
    # critic reads off again (expected accuracy Φ(0.49) ≈ 0.69); regressing the critic's score out does not.
    rng = np.random.default_rng(1)
    mix = np.linalg.cholesky(np.array([[1.0, 0.9], [0.9, 1.0]]))
    real = np.c_[rng.standard_normal((N, 2)) @ mix.T, rng.standard_normal((N, 2))]
    fake = np.c_[rng.standard_normal((N, 2)) @ mix.T, rng.standard_normal((N, 2))]
    fake[:, 0] += 2.0
    cov = blind_critics(real, fake, steps=2, metric="covariance")["steps"]
    euc = blind_critics(real, fake, steps=2, metric="euclidean")["steps"]
    assert cov[0]["accuracy"] == euc[0]["accuracy"] > 0.97  # the same first critic
    assert abs(cov[1]["accuracy"] - 0.5) <= CHANCE_TOL
    assert euc[1]["accuracy"] - 0.5 > 5 * SD and abs(euc[1]["accuracy"] - norm.cdf(0.49)) <= 3.5 * SD


def test_two_mean_shifts_are_one_direction_to_a_linear_critic():
    # Shifts of 3 along axis 0 and 1 along axis 1: the mean difference is one vector (3, 1), and the only
    # direction a linear critic can key on is that vector, mostly the larger shift's axis (3/√10 = 0.95) with the
    # smaller one's share (1/√10 = 0.32). Removing it removes both shifts: the blind critic is at chance.
    real, fake = gaussians({0: 3.0, 1: 1.0})
    s1, s2 = blind_critics(real, fake, steps=2)["steps"]
    u = s1["direction"] * np.sign(s1["direction"][0])
    assert abs(u[0]) > abs(u[1]) and abs(u[0] - 3 / math.sqrt(10)) < 0.05 and abs(abs(u[1]) - 1 / math.sqrt(10)) < 0.12
    assert s1["accuracy"] - norm.cdf(math.sqrt(10) / 2) > -3.5 * SD
    assert abs(s2["accuracy"] - 0.5) <= CHANCE_TOL
    assert list(s1["top_features"][:2]) == [0, 1]


def test_what_a_line_cannot_see_is_left_to_the_knn_critic():
    # A mean shift along axis 0 and a variance change (×3) along axis 1: the linear critic keys on axis 0 and,
    # once it is removed, sees nothing; the k-NN critic on the same features still sees the variance change,
    # as much as when the variance change is the only difference.
    real, fake = gaussians({0: 3.0}, scale={1: 3.0})
    s1, s2 = blind_critics(real, fake, steps=2)["steps"]
    assert abs(s1["direction"][0]) > 0.97
    assert abs(s2["accuracy"] - 0.5) <= CHANCE_TOL
    only_var = c2st(*gaussians({}, scale={1: 3.0}))["accuracy"]
    assert s2["knn_accuracy"] - 0.5 > 5 * SD and abs(s2["knn_accuracy"] - only_var) <= 4 * SD


@pytest.mark.parametrize("metric", ["covariance", "euclidean"])
def test_directions_are_orthonormal_and_removal_leaves_features_orthogonal_to_them(metric):
    rng = np.random.default_rng(2)
    mix = rng.standard_normal((8, 8))
    real, fake = rng.standard_normal((300, 8)) @ mix, rng.standard_normal((300, 8)) @ mix
    fake += np.array([2.0, -1.0, 0.5, 0, 0, 0, 0, 0]) @ mix  # a mean shift in correlated features
    fake[:, 3] *= 1.5
    out = blind_critics(real, fake, steps=3, metric=metric)
    x = np.concatenate([real, fake])  # equal sizes: no subsampling, these are the rows everything was fitted on
    a = out["projection"]["directions"]
    assert a.shape == (3, 8) and np.allclose(np.linalg.norm(out["directions"], axis=1), 1.0)
    gram = a @ np.cov(x, rowvar=False) @ a.T if metric == "covariance" else a @ a.T
    np.testing.assert_allclose(gram, np.eye(3), atol=1e-8)  # aᵢᵀΣaⱼ = δᵢⱼ (covariance) or aᵢ·aⱼ = δᵢⱼ
    left = remove_directions(x, out["projection"])
    centred = left - out["projection"]["mean"]
    assert np.abs(centred @ out["directions"].T).max() < 1e-9 * np.abs(x).max()
    if metric == "covariance":  # and every remaining feature is uncorrelated with every removed critic score
        scores = (x - x.mean(0)) @ a.T
        np.testing.assert_allclose((left - left.mean(0)).T @ scores / len(x), 0.0, atol=1e-9)
    # the removal is a projection: applying it twice changes nothing
    np.testing.assert_allclose(remove_directions(left, out["projection"]), left, atol=1e-9)


def test_first_knn_accuracy_is_c2st_and_balancing_matches_it():
    real, fake = gaussians({0: 0.8, 2: 0.5}, seed=3)
    out = blind_critics(real, fake[:250], steps=1, seed=5, folds=4)
    ref = c2st(real, fake[:250], seed=5, folds=4)
    assert out["steps"][0]["knn_accuracy"] == ref["accuracy"] and out["n"] == ref["n"] == 500
    assert out["steps"][0]["accuracy"] * out["n"] == pytest.approx(round(out["steps"][0]["accuracy"] * out["n"]))


def test_registered_metric_reports_three_linear_and_three_knn_accuracies():
    real, fake = gaussians({0: 2.0})
    inputs = Inputs(real, fake, None, None, seed=0)
    got = METRICS.get("c2st-blind").fn(inputs)
    want = blind_critics(real, fake, steps=3, seed=0)["steps"]
    assert got == {**{f"blind_acc_{k + 1}": want[k]["accuracy"] for k in range(3)},
                   **{f"blind_knn_{k + 1}": want[k]["knn_accuracy"] for k in range(3)}}
    assert got["blind_knn_1"] == c2st(real, fake, seed=0)["accuracy"]  # before any removal: the plain C2ST
    points = METRICS.get("c2st-blind").fn(Inputs(real[:, :2], fake[:, :2], None, None))  # 2-D: two directions
    assert math.isnan(points["blind_acc_3"]) and math.isnan(points["blind_knn_3"]) and points["blind_acc_1"] > 0.75


@pytest.mark.parametrize("call, match", [
    (lambda r, f: blind_critics(r[:, 0], f), "real_feats must be a 2-D array"),
    (lambda r, f: blind_critics(r, f[:, :3]), "same feature dimension"),
    (lambda r, f: blind_critics(np.where(r > 2.5, np.nan, r), f), "NaN or inf"),
    (lambda r, f: blind_critics(r, f, steps=0), "steps must be an integer in 1..D=6"),
    (lambda r, f: blind_critics(r, f, steps=7), "steps must be an integer in 1..D=6"),
    (lambda r, f: blind_critics(r, f, steps=True), "steps must be"),
    (lambda r, f: blind_critics(r, f, folds=1), "folds must be an integer >= 2"),
    (lambda r, f: blind_critics(r[:3], f), "at least folds=5 rows in each set"),
    (lambda r, f: blind_critics(r, f, metric="mahalanobis"), "metric must be one of covariance, euclidean"),
    (lambda r, f: blind_critics(r, f, top=0), "top must be a positive integer"),
    (lambda r, f: blind_critics(r, f, C=0.0), "C must be a positive number"),
    (lambda r, f: remove_directions(r[:, :3], blind_critics(r, f, steps=1)["projection"]), "projection's D=6"),
])
def test_bad_inputs_give_one_line_errors(call, match):
    real, fake = gaussians({0: 1.0})
    with pytest.raises(ValueError, match=match) as err:
        call(real, fake)
    assert "\n" not in str(err.value)
