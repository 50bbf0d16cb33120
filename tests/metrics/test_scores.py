"""Numbers for the score layer of gankit.metrics: closed forms, reference formulas written plainly here, invariants."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist

from gankit.metrics.fid import feature_stats, fid, fid_from_stats
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid, mmd2_unbiased
from gankit.metrics.memorization import memorization
from gankit.metrics.modes import class_coverage, mode_coverage
from gankit.metrics.prdc import density_coverage, prdc, precision_recall
from gankit.metrics.two_sample import c2st


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------------- FID
def fid_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    """The pytorch-fid formula: sqrtm of the non-symmetric product, real part."""
    m1, s1 = a.mean(0), np.cov(a, rowvar=False)
    m2, s2 = b.mean(0), np.cov(b, rowvar=False)
    covmean = np.real(scipy.linalg.sqrtm(s1 @ s2))
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_feature_stats_matches_numpy():
    x = rng().standard_normal((300, 16)) * 3 + 1
    mu, sigma = feature_stats(torch.from_numpy(x).float())
    assert mu.dtype == np.float64 and sigma.shape == (16, 16)
    x32 = torch.from_numpy(x).float().double().numpy()
    np.testing.assert_allclose(mu, x32.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x32, rowvar=False, ddof=1), rtol=1e-10, atol=1e-12)
    assert np.array_equal(sigma, sigma.T)


def test_fid_identical_is_zero():
    x = rng().standard_normal((400, 32)) @ rng(1).standard_normal((32, 32))
    mu, sigma = feature_stats(x)
    value = fid(x, x)
    assert 0.0 <= value < 1e-6 * np.trace(sigma)
    assert fid_from_stats(mu, sigma, mu, sigma) < 1e-6 * np.trace(sigma)


def test_fid_diagonal_closed_form():
    g = rng()
    d = 10
    mu1, mu2 = g.standard_normal(d), g.standard_normal(d)
    v1, v2 = g.uniform(0.1, 3.0, d), g.uniform(0.1, 3.0, d)
    v2[0] = 0.0  # a singular covariance is fine
    expected = ((mu1 - mu2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    got = fid_from_stats(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_fid_general_gaussian_closed_form_commuting():
    # S2 = S1² commutes with S1, so tr sqrt(S1 S2) = tr(S1^{3/2}) = Σ λ^{3/2} exactly.
    g = rng(3)
    q, _ = np.linalg.qr(g.standard_normal((8, 8)))
    lam = g.uniform(0.2, 2.0, 8)
    s1 = (q * lam) @ q.T
    s2 = (q * lam**2) @ q.T
    expected = lam.sum() + (lam**2).sum() - 2 * (lam**1.5).sum()
    assert fid_from_stats(np.zeros(8), s1, np.zeros(8), s2) == pytest.approx(expected, rel=1e-10)


def test_fid_methods_agree_on_full_rank_and_singular():
    g = rng(19)
    for n, d in [(400, 30), (20, 30)]:
        mu1, s1 = feature_stats(g.standard_normal((n, d)))
        mu2, s2 = feature_stats(g.standard_normal((n, d)) * 0.7)
        auto = fid_from_stats(mu1, s1, mu2, s2, method="auto")
        assert auto == pytest.approx(fid_from_stats(mu1, s1, mu2, s2, method="eigh"), rel=1e-10)
    with pytest.raises(ValueError, match="method must be"):
        fid_from_stats(mu1, s1, mu2, s2, method="sqrtm")


@pytest.mark.parametrize("method", ["auto", "eigh"])
def test_fid_matches_sqrtm_formula(method):
    g = rng(4)
    a = g.standard_normal((500, 64))
    b = g.standard_normal((500, 64)) @ g.standard_normal((64, 64)) * 0.3 + 0.1
    assert fid(a, b, method=method) == pytest.approx(fid_sqrtm(a, b), rel=1e-8)
    assert fid(a, a, method=method) < 1e-9 * np.trace(np.cov(a, rowvar=False))


def test_fid_symmetric():
    g = rng(5)
    a = g.standard_normal((300, 20))
    b = g.standard_normal((300, 20)) * 1.5 + 0.3
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-9)


@pytest.mark.parametrize("method", ["auto", "eigh"])
def test_fid_singular_n_less_than_d_is_stable_and_silent(method):
    g = rng(6)
    a = g.standard_normal((50, 200))
    b = g.standard_normal((50, 200)) + 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rounding-size negative eigenvalues must not warn
        value = fid(a, b, method=method)
        same = fid(a, a, method=method)
    assert isinstance(value, float) and math.isfinite(value) and value >= 0
    assert value == pytest.approx(fid_sqrtm(a, b), rel=1e-6)
    assert 0.0 <= same < 1e-9 * np.trace(np.cov(a, rowvar=False))


def test_fid_float32_statistics_do_not_warn():
    g = rng(7)
    a = g.standard_normal((50, 200)).astype(np.float32)
    ac = a - a.mean(0)
    s = ac.T @ ac / 49  # accumulated in float32: rounding-size negative eigenvalues
    s = 0.5 * (s + s.T)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fid_from_stats(a.mean(0), s, a.mean(0), s) < 1e-3


def test_fid_warns_on_non_psd_covariance():
    s_bad = np.diag([1.0, 2.0, -0.5, 3.0])
    s_ok = np.eye(4)
    with pytest.warns(RuntimeWarning, match=r"1 negative eigenvalue\(s\) of sigma1.*largest magnitude 0.5"):
        value = fid_from_stats(np.zeros(4), s_bad, np.zeros(4), s_ok)
    # the traces use the inputs as given; only the square root sees the clipped diag(1, 2, 0, 3)
    clipped = np.array([1.0, 2.0, 0.0, 3.0])
    assert value == pytest.approx(5.5 + 4.0 - 2 * np.sqrt(clipped).sum(), rel=1e-12)


def test_fid_validation_messages():
    with pytest.raises(ValueError, match=r"real_feats must be a 2-D array of shape \(N, D\); got shape \(5,\)"):
        fid(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="same feature dimension"):
        fid(np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"sigma2 must have shape \(D, D\) = \(3, 3\)"):
        fid_from_stats(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="NaN or inf"):
        fid(np.full((5, 2), np.nan), np.zeros((5, 2)))


# --------------------------------------------------------------------------------------------------- KID
def mmd2_plain(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with k(a, b) = (aᵀb/d + 1)³, written with explicit loops over pairs."""
    m, d = x.shape

    def k(a, b):
        return (a @ b / d + 1.0) ** 3

    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return sxx / (m * (m - 1)) + syy / (m * (m - 1)) - 2 * sxy / (m * m)


def test_kid_matches_plain_estimator():
    g = rng(8)
    x = g.standard_normal((40, 6))
    y = g.standard_normal((40, 6)) * 1.3 + 0.4
    expected = mmd2_plain(x, y)
    mean, std = kid(x, y, subsets=1, subset_size=40)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std == 0.0
    assert mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-10)
    mean32, _ = kid(x, y, subsets=1, subset_size=40, dtype="float32")
    assert mean32 == pytest.approx(expected, rel=1e-4)


def test_kid_same_distribution_near_zero_and_shift_positive():
    g = rng(9)
    a, b = g.standard_normal((600, 16)), g.standard_normal((600, 16))
    mean, std = kid(a, b, subsets=20, subset_size=200)
    assert abs(mean) < 3 * std / math.sqrt(20) + 1e-3
    shifted, _ = kid(a, b + 0.5, subsets=20, subset_size=200)
    assert shifted > 0.05 and shifted > 20 * abs(mean)


def test_kid_deterministic_and_seeded():
    g = rng(10)
    a, b = g.standard_normal((300, 8)), g.standard_normal((300, 8)) + 0.1
    assert kid(a, b, subsets=5, subset_size=100, seed=3) == kid(a, b, subsets=5, subset_size=100, seed=3)
    assert kid(a, b, subsets=5, subset_size=100, seed=3) != kid(a, b, subsets=5, subset_size=100, seed=4)


def test_kid_warns_when_sets_smaller_than_subset_size():
    g = rng(11)
    a, b = g.standard_normal((30, 5)), g.standard_normal((25, 5))
    with pytest.warns(RuntimeWarning, match="using subsets of 25"):
        mean, std = kid(a, b, subsets=3, subset_size=1000)
    assert math.isfinite(mean) and math.isfinite(std)


# --------------------------------------------------------------------------------------------------- IS
def test_inception_score_uniform_is_one():
    mean, std = inception_score(np.full((100, 10), 0.1), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_one_hot_equal_classes_is_k():
    k = 7
    probs = np.eye(k)[np.tile(np.arange(k), 20)]  # 140 samples, each split of 14 uses every class twice
    mean, std = inception_score(torch.from_numpy(probs), splits=10)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="softmax"):
        inception_score(rng().standard_normal((10, 4)))


# --------------------------------------------------------------------------------------------------- PR / DC
def brute_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict[str, float]:
    """Full-matrix reference: radii = k-th smallest distance to the *other* points (self excluded)."""
    rr, ff, fr = cdist(real, real), cdist(fake, fake), cdist(fake, real)
    np.fill_diagonal(rr, np.inf)
    np.fill_diagonal(ff, np.inf)
    r_pr = np.sort(rr, axis=1)[:, k_pr - 1]
    r_dc = np.sort(rr, axis=1)[:, k_dc - 1]
    f_pr = np.sort(ff, axis=1)[:, k_pr - 1]
    return {
        "precision": float((fr <= r_pr[None, :]).any(axis=1).mean()),
        "recall": float((fr <= f_pr[:, None]).any(axis=0).mean()),
        "density": float((fr <= r_dc[None, :]).sum() / (k_dc * fake.shape[0])),
        "coverage": float((fr.min(axis=0) <= r_dc).mean()),
    }


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 64, 10_000])
def test_prdc_equals_brute_force(chunk_size):
    g = rng(12)
    real = g.standard_normal((200, 8))
    fake = g.standard_normal((180, 8)) * 1.2 + 0.3
    expected = brute_prdc(real, fake, 3, 5)
    got = prdc(real, fake, k_pr=3, k_dc=5, chunk_size=chunk_size)
    assert got == expected
    assert precision_recall(real, fake, k=3, chunk_size=chunk_size) == (expected["precision"], expected["recall"])
    assert density_coverage(real, fake, k=5, chunk_size=chunk_size) == (expected["density"], expected["coverage"])
    assert 0 < expected["precision"] < 1 and 0 < expected["recall"] < 1  # the case is not degenerate


def test_prdc_identical_sets():
    x = rng(13).standard_normal((150, 5))
    got = prdc(x, torch.from_numpy(x), chunk_size=16)
    assert got["precision"] == 1.0 and got["recall"] == 1.0 and got["coverage"] == 1.0
    assert got["density"] >= 1.0  # each point lies in its own ball plus its neighbours' balls


def test_prdc_far_apart_sets():
    g = rng(14)
    got = prdc(g.standard_normal((60, 4)), g.standard_normal((60, 4)) + 100.0)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_validation():
    with pytest.raises(ValueError, match="k must satisfy 1 <= k < N"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)
    with pytest.raises(ValueError, match="chunk_size"):
        prdc(np.zeros((10, 2)), np.zeros((10, 2)), chunk_size=0)


# --------------------------------------------------------------------------------------------------- C2ST
def test_c2st_detects_mean_shift():
    g = rng(15)
    real = g.standard_normal((500, 2))
    fake = g.standard_normal((500, 2)) + 1.0  # shifted by 1 std in each coordinate (Bayes accuracy 0.76)
    out = c2st(real, fake, seed=0)
    assert out["n"] == 1000
    assert out["accuracy"] > 0.7 and out["p_value"] < 1e-3


def test_c2st_identical_distributions():
    g = rng(16)
    out = c2st(g.standard_normal((500, 2)), g.standard_normal((600, 2)), seed=0)
    assert out["n"] == 1000  # balanced to 500 + 500
    assert abs(out["accuracy"] - 0.5) < 0.08 and out["p_value"] > 0.01


# --------------------------------------------------------------------------------------------------- modes
RING = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], axis=1)


def test_mode_coverage_all_modes_equal():
    samples = np.repeat(RING, 312, axis=0)  # 2,496 samples (2,500 is not divisible by 8)
    out = mode_coverage(samples, RING, std=0.01)
    assert out["modes"] == 8 and out["hq_fraction"] == 1.0
    assert abs(out["reverse_kl"]) < 1e-12 and out["counts"] == [312] * 8


def test_mode_coverage_single_mode():
    out = mode_coverage(np.repeat(RING[3:4], 2500, axis=0), RING, std=0.01)
    assert out["modes"] == 1 and out["hq_fraction"] == 1.0
    assert out["reverse_kl"] == pytest.approx(math.log(8), rel=1e-12)


def test_mode_coverage_half_low_quality():
    samples = np.concatenate([np.repeat(RING, 100, axis=0), np.full((800, 2), 0.0)])  # origin is 1 away from all
    out = mode_coverage(samples, RING, std=0.01)
    assert out["hq_fraction"] == 0.5 and out["modes"] == 8 and out["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_mode_coverage_quality_boundary_and_min_count():
    std = 0.01
    inside = RING[0] + np.array([3 * std - 1e-9, 0.0])
    outside = RING[1] + np.array([0.0, 3 * std + 1e-9])
    out = mode_coverage(np.stack([inside, outside, RING[2], RING[2]]), RING, std=std)
    assert out["hq_fraction"] == 0.75 and out["modes"] == 2
    assert out["counts"] == [1, 0, 2, 0, 0, 0, 0, 0]
    q = np.array([1 / 3, 2 / 3])
    assert out["reverse_kl"] == pytest.approx(float((q * np.log(q * 8)).sum()), rel=1e-12)
    assert mode_coverage(np.stack([inside, RING[2], RING[2]]), RING, std=std, min_count=2)["modes"] == 1


def test_mode_coverage_no_quality():
    out = mode_coverage(np.full((10, 2), 50.0), RING, std=0.01)
    assert out["modes"] == 0 and out["hq_fraction"] == 0.0 and out["reverse_kl"] == float("inf")


def test_class_coverage():
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    out = class_coverage(labels, num_classes=4)
    assert out["classes"] == 4 and out["kl"] == pytest.approx(0.0, abs=1e-15) and out["hist"] == [0.25] * 4
    out = class_coverage(np.array([0, 0, 0, 1]), num_classes=4)
    p = np.array([0.75, 0.25])
    assert out["classes"] == 2 and out["kl"] == pytest.approx(float((p * np.log(p * 4)).sum()), rel=1e-12)
    probs = np.eye(10)[[3, 3, 5]] * 0.9 + 0.01
    out = class_coverage(torch.from_numpy(probs), num_classes=10, data_hist=np.arange(1, 11))
    q = np.arange(1, 11) / 55
    assert out["classes"] == 2 and out["counts"][3] == 2 and out["counts"][5] == 1
    expected = (2 / 3) * np.log((2 / 3) / q[3]) + (1 / 3) * np.log((1 / 3) / q[5])
    assert out["kl"] == pytest.approx(float(expected), rel=1e-12)
    with pytest.raises(ValueError, match=r"integers in \[0, 4\)"):
        class_coverage(np.array([0, 4]), num_classes=4)


# --------------------------------------------------------------------------------------------------- memorization
def test_memorization_exact_copies():
    g = rng(17)
    train = g.standard_normal((300, 16))
    heldout = g.standard_normal((200, 16))
    fake = train[g.choice(300, 100, replace=False)]
    out = memorization(train, fake, heldout, chunk_size=37)
    assert out["copies"] == 100 and out["copy_fraction"] == 1.0
    assert out["fake_nn_median"] == 0.0 and out["ratio"] == 0.0
    assert out["heldout_nn_median"] == pytest.approx(float(np.median(cdist(heldout, train).min(axis=1))), rel=1e-12)


def test_memorization_honest_generator():
    g = rng(18)
    train = g.standard_normal((400, 8))
    heldout = g.standard_normal((400, 8))
    fake = g.standard_normal((400, 8))
    out = memorization(train, fake, heldout, copy_quantile=0.01)
    assert 0.85 < out["ratio"] < 1.15
    assert out["copy_fraction"] < 0.05
    d = cdist(fake, train).min(axis=1)
    assert out["fake_nn_median"] == pytest.approx(float(np.median(d)), rel=1e-12)
