"""Intrinsic dimension estimators recover the dimension of linear and curved manifolds of known dimension (±10 % at
2,000 points, the issue's bar), are invariant to rotation, scale and ambient dimension, and refuse bad input."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from gankit.metrics.intrinsic import mle_dimension, twonn_dimension

N = 2000


def gaussian_subspace(d: int, ambient: int, seed: int = 0) -> np.ndarray:
    """N points of a d-dimensional standard Gaussian placed in R^ambient by a random rotation."""
    rng = np.random.default_rng(seed)
    q = ortho_group.rvs(ambient, random_state=seed + 1)[:, :d]
    return rng.standard_normal((N, d)) @ q.T


def sphere(d: int, seed: int = 0) -> np.ndarray:
    """N points uniform on the unit sphere S^d in R^(d+1): a curved d-manifold."""
    z = np.random.default_rng(seed).standard_normal((N, d + 1))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def swiss_roll(seed: int = 0) -> np.ndarray:
    """N points of the swiss roll: a rolled-up 2-D sheet in R^3."""
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1 + 2 * rng.random(N))
    return np.c_[t * np.cos(t), 21 * rng.random(N), t * np.sin(t)]


CASES = [("plane in R^10", gaussian_subspace(2, 10), 2), ("5-d in R^20", gaussian_subspace(5, 20), 5),
         ("10-d in R^30", gaussian_subspace(10, 30), 10), ("sphere S^2", sphere(2), 2), ("sphere S^5", sphere(5), 5),
         ("swiss roll", swiss_roll(), 2)]


@pytest.mark.parametrize("estimator", [mle_dimension, twonn_dimension])
@pytest.mark.parametrize("name,points,d", CASES, ids=[c[0] for c in CASES])
def test_recovers_the_dimension_within_ten_percent(estimator, name, points, d):
    assert abs(estimator(points) - d) <= 0.1 * d


@pytest.mark.parametrize("estimator", [mle_dimension, twonn_dimension])
def test_invariant_to_rotation_scale_and_ambient_dimension(estimator):
    x = gaussian_subspace(3, 8)
    rotated = x @ ortho_group.rvs(8, random_state=5).T
    assert estimator(rotated) == pytest.approx(estimator(x), rel=1e-9)
    assert estimator(7.5 * x) == pytest.approx(estimator(x), rel=1e-9)
    padded = np.c_[x, np.zeros((N, 12))]  # the same cloud in R^20
    assert estimator(padded) == pytest.approx(estimator(x), rel=1e-9)


def test_twonn_is_the_pareto_exponent_of_the_distance_ratios():
    """On a line of evenly spaced points every ratio r2/r1 is 1 except at the ends; on a 1-D Poisson process μ follows
    Pareto(1), so TwoNN gives 1 — check the latter, and that duplicates do not break the ratios."""
    x = np.sort(np.random.default_rng(3).random(N))[:, None]
    assert twonn_dimension(x) == pytest.approx(1.0, abs=0.1)
    assert twonn_dimension(np.r_[x, x[:50]]) == pytest.approx(twonn_dimension(x), rel=1e-12)


def test_bad_input_is_one_line():
    for call in (lambda: mle_dimension(np.zeros((5, 3))), lambda: mle_dimension(gaussian_subspace(2, 3), k1=5, k2=4),
                 lambda: twonn_dimension(gaussian_subspace(2, 3), discard=1.0)):
        with pytest.raises(ValueError) as e:
            call()
        assert "\n" not in str(e.value)
