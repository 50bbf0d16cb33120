"""FID∞ (Chong & Forsyth 2020): FID_N extrapolated to N = ∞, checked against closed forms on Gaussian features.

For Gaussian features the population FID is exact: ||mu1 - mu2||² + tr(S1 + S2 - 2 (S1 S2)^{1/2}). The reference
side is given as its exact statistics (``fid_infinity_from_stats``), so the only bias left is the generated side's,
which FID∞ removes.
"""
from __future__ import annotations

import numpy as np
import pytest

from gankit.metrics.fid import (
    feature_stats,
    fid_from_stats,
    fid_infinity,
    fid_infinity_fit,
    fid_infinity_from_stats,
    fid_infinity_sizes,
)

D = 8
N = 2000  # generated features per draw; default sizes: 15 from max(200, min(16, 1000)) = 200 to 2000
DRAWS = 10  # independent draws averaged, so that the test compares biases, not one draw's noise


def _gaussians() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(123)
    a = rng.standard_normal((D, D)) / np.sqrt(D)
    b = rng.standard_normal((D, D)) / np.sqrt(D)
    return np.zeros(D), a @ a.T + 0.5 * np.eye(D), np.full(D, 0.1), b @ b.T + 0.5 * np.eye(D)


def _draw(mu: np.ndarray, sigma: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, D) samples of N(mu, sigma)."""
    rng = np.random.default_rng(seed)
    return mu + rng.standard_normal((n, mu.size)) @ np.linalg.cholesky(sigma).T


def test_sizes_reproduce_the_paper_and_scale_down():
    # The paper: 15 sizes evenly spaced from 5,000 to 50,000 for Inception's 2,048-d features.
    ns = fid_infinity_sizes(50_000, 2048)
    np.testing.assert_array_equal(ns, np.linspace(5000, 50_000, 15).astype(np.int64))
    # digits: 359 test images, 128-d digits-cnn features: from 179 (half) to 359; 2,000 samples: from 256 (2 D).
    assert fid_infinity_sizes(359, 128)[[0, -1]].tolist() == [179, 359]
    assert fid_infinity_sizes(2000, 128)[[0, -1]].tolist() == [256, 2000]
    assert fid_infinity_sizes(2000, 8)[[0, -1]].tolist() == [200, 2000]
    with pytest.raises(ValueError, match="n_min < n_max"):
        fid_infinity_sizes(100, 8, n_min=100)
    with pytest.raises(ValueError, match="n_points"):
        fid_infinity_sizes(100, 8, n_points=1)


def test_fit_recovers_an_exact_line_in_one_over_n():
    ns = np.array([200, 329, 458, 1000, 2000])
    a, b = 3.25, 57.5
    fid_inf, slope = fid_infinity_fit(ns, a + b / ns)
    assert fid_inf == pytest.approx(a, abs=1e-10) and slope == pytest.approx(b, rel=1e-10)
    # least squares: residuals orthogonal to the columns (1, 1/N) leave both coefficients where they were
    design = np.stack([np.ones(ns.size), 1.0 / ns], axis=1)
    e = np.random.default_rng(0).standard_normal(ns.size)
    e -= design @ np.linalg.lstsq(design, e, rcond=None)[0]
    fit = fid_infinity_fit(ns, a + b / ns + e)
    assert fit[0] == pytest.approx(a, abs=1e-9) and fit[1] == pytest.approx(b, rel=1e-9)
    with pytest.raises(ValueError, match="two distinct"):
        fid_infinity_fit([100, 100], [1.0, 2.0])


def test_fid_infinity_removes_the_small_n_bias_of_gaussian_features():
    mu1, s1, mu2, s2 = _gaussians()
    exact = fid_from_stats(mu1, s1, mu2, s2)  # the populations' FID, closed form: 2.0266
    ns = fid_infinity_sizes(N, D)
    small, full, inf, slopes = [], [], [], []
    for seed in range(DRAWS):
        x = _draw(mu2, s2, N, seed)
        small.append(fid_from_stats(mu1, s1, *feature_stats(x[: ns[0]])))
        full.append(fid_from_stats(mu1, s1, *feature_stats(x)))
        f, k = fid_infinity_from_stats(mu1, s1, x, seed=seed)
        inf.append(f)
        slopes.append(k)
    bias_small = np.mean(small) - exact
    # FID at N = 200 is biased upward by about k/200 (these 10 draws: 0.159, k/200 = 0.175; over 200 other draws
    # 0.162, the draws' std 0.20); FID∞ lands on the closed form (these draws: +0.003; over 200 draws -0.006 with
    # standard error 0.004, the draws' std 0.06).
    assert bias_small > 0.1
    assert abs(np.mean(inf) - exact) < 0.05
    assert abs(np.mean(inf) - exact) < 0.25 * bias_small
    # the fitted slope k predicts the bias: k / N_min ≈ FID_200 − exact
    assert np.mean(slopes) / ns[0] == pytest.approx(bias_small, rel=0.5)
    assert np.mean(full) > np.mean(inf)  # even at N = 2,000 FID is still above FID∞ on average


def test_identical_distributions_give_fid_infinity_near_zero():
    mu1, s1, _, _ = _gaussians()
    values, small = [], []
    for seed in range(DRAWS):
        y = _draw(mu1, s1, N, 100 + seed)
        values.append(fid_infinity_from_stats(mu1, s1, y, seed=seed)[0])
        small.append(fid_from_stats(mu1, s1, *feature_stats(y[:200])))
    # FID_200 of a perfect model is its bias alone (these draws: 0.18); FID∞ is 0 up to noise (these draws: mean
    # 0.001, largest 0.012; over 200 other draws mean -0.0004, std 0.005, largest 0.017).
    assert np.mean(small) > 0.1
    assert abs(np.mean(values)) < 0.01
    assert max(abs(v) for v in values) < 0.03


def test_features_route_equals_statistics_route_and_is_seeded():
    mu1, s1, mu2, s2 = _gaussians()
    real, fake = _draw(mu1, s1, 500, 1), _draw(mu2, s2, 400, 2)
    a = fid_infinity(real, fake, seed=3)
    assert a == fid_infinity_from_stats(*feature_stats(real), fake, seed=3)
    assert a == fid_infinity(real, fake, seed=3)
    assert a != fid_infinity(real, fake, seed=4)
    # the procedure spelled out: per size, `repeats` subsets without replacement from one seeded generator, their
    # FIDs against the reference statistics averaged, then the line in 1/N
    ns, rng = fid_infinity_sizes(400, D, n_points=4), np.random.default_rng(3)
    by_hand = [np.mean([fid_from_stats(*feature_stats(real), *feature_stats(fake[rng.choice(400, n, replace=False)]))
                        for _ in range(2)]) for n in ns]
    assert fid_infinity(real, fake, n_points=4, repeats=2, seed=3) == pytest.approx(fid_infinity_fit(ns, by_hand), rel=1e-12)
    # default: ceil(20,000 / 400) = 50 subsets averaged per size
    assert a == fid_infinity(real, fake, seed=3, repeats=50) != fid_infinity(real, fake, seed=3, repeats=1)
    with pytest.raises(ValueError, match="n_max"):
        fid_infinity(real, fake, n_max=401)
