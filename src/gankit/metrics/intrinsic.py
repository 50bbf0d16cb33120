"""Intrinsic dimension of a point cloud: how many coordinates the data really uses, whatever its ambient dimension.

Two estimators from nearest-neighbour distances (Euclidean, duplicates removed first):

* **MLE** (Levina & Bickel 2005, "Maximum Likelihood Estimation of Intrinsic Dimension", NIPS): for each point x with
  sorted neighbour distances T_1(x) ≤ … ≤ T_k(x), m̂_k(x) = [ (1/(k−1)) Σ_{j<k} log(T_k(x)/T_j(x)) ]⁻¹, treating the
  neighbour counts as a Poisson process of rate ∝ r^m. The points' estimates are combined by averaging their inverses
  (MacKay & Ghahramani's correction of the plain average, which is biased upward), and the result averaged over
  k = ``k1`` … ``k2`` (10 … 20, as in the paper).
* **TwoNN** (Facco, d'Errico, Rodriguez & Laio 2017, "Estimating the intrinsic dimension of datasets by a minimal
  neighborhood information", Scientific Reports): only the ratio μ = r₂/r₁ of each point's two nearest distances,
  which follows a Pareto law with exponent d when density is locally constant: P(μ > t) = t^(−d). The estimate is the
  slope of −log(1 − F̂(μ)) against log μ through the origin, fitted on the 90 % smallest μ (the paper's discard of the
  tail, where density is not constant).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from ._common import as_matrix


def _distances(x: np.ndarray, k: int) -> np.ndarray:
    """N×k distances to each point's k nearest other points (ascending), duplicates of a point removed first."""
    x = np.unique(x, axis=0)
    if len(x) <= k:
        raise ValueError(f"intrinsic dimension needs more than k={k} distinct points; got {len(x)}")
    d, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return d[:, 1:]


def mle_dimension(points: Any, k1: int = 10, k2: int = 20) -> float:
    """Levina–Bickel maximum-likelihood intrinsic dimension of N×D ``points``, averaged over k = k1 … k2."""
    x = as_matrix(points, "points", min_rows=3)
    if not 2 <= k1 <= k2:
        raise ValueError(f"mle_dimension needs 2 <= k1 <= k2; got k1={k1}, k2={k2}")
    t = _distances(x, k2)
    logs = np.log(np.maximum(t, np.finfo(np.float64).tiny))
    estimates = []
    for k in range(k1, k2 + 1):
        inv = (logs[:, k - 1:k] - logs[:, :k - 1]).sum(1) / (k - 1)  # 1 / m̂_k(x) per point
        estimates.append(1.0 / inv.mean())
    return float(np.mean(estimates))


def twonn_dimension(points: Any, discard: float = 0.1) -> float:
    """TwoNN intrinsic dimension of N×D ``points``: the Pareto exponent of μ = r₂/r₁, fitted through the origin on the
    (1 − ``discard``) smallest ratios."""
    x = as_matrix(points, "points", min_rows=3)
    if not 0.0 <= discard < 1.0:
        raise ValueError(f"twonn_dimension: discard must be in [0, 1); got {discard}")
    r = _distances(x, 2)
    mu = np.sort(r[:, 1] / np.maximum(r[:, 0], np.finfo(np.float64).tiny))
    n = len(mu)
    keep = int(np.floor(n * (1.0 - discard)))
    f = np.arange(1, n + 1) / n  # the empirical CDF at each sorted μ
    xs, ys = np.log(mu[:keep]), -np.log(1.0 - f[:keep])
    return float((xs * ys).sum() / (xs * xs).sum())


__all__ = ["mle_dimension", "twonn_dimension"]
