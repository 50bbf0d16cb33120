"""k-NN manifold metrics on feature arrays: precision/recall and density/coverage.

- Precision and recall: Kynkäänniemi et al., 2019, "Improved Precision and Recall Metric for Assessing Generative
  Models", NeurIPS. Each real point x_i gets a ball of radius NND_k(x_i) (distance to its k-th nearest other real
  point). precision = share of fake points inside at least one real ball; recall = share of real points inside at
  least one fake ball (radii from the fakes' own k-NN distances).
- Density and coverage: Naeem et al., 2020, "Reliable Fidelity and Diversity Metrics for Generative Models", ICML.
  With real balls of radius NND_k(x_i), for M fakes y_j and N reals:
      density  = 1/(kM) Σ_j Σ_i 1[y_j ∈ B(x_i, NND_k(x_i))]       (can exceed 1)
      coverage = 1/N Σ_i 1[min_j ||x_i - y_j|| <= NND_k(x_i)]

Conventions: euclidean distance; balls are closed (``<=``, as in Kynkäänniemi et al. eq. 1); a point is excluded
from its own neighbour list, so exact duplicates count as neighbours at distance 0.

Memory: distances are computed in row chunks (``chunk_size`` rows at a time, default about 2**24 distances, 128 MiB)
from ``||a||² + ||b||² - 2abᵀ`` in float64 and compared squared; no N×M matrix is formed and only the k smallest
distances per row are kept for the radii. The three products (real-real, fake-fake, real-fake) are each computed
once by :func:`prdc`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_matrix, check_same_dim, knn_sq_dists, sq_dist_chunks, sq_norms


def _inputs(real_feats: Any, fake_feats: Any) -> tuple[np.ndarray, np.ndarray]:
    real = as_matrix(real_feats, "real_feats", min_rows=2)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=2)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    return real, fake


def _cross_pass(
    real: np.ndarray,
    fake: np.ndarray,
    real_r2: list[np.ndarray],
    fake_r2: np.ndarray | None,
    chunk_size: int | None,
) -> dict[str, np.ndarray]:
    """One chunked pass over the fake×real distance matrix.

    Args:
        real: (N, D). fake: (M, D).
        real_r2: squared real radii, each (N,): [precision radii, density radii] (either may be the same array).
        fake_r2: squared fake radii (M,) for recall, or None to skip recall.

    Returns:
        per-fake ``in_real`` (M,) bool (inside a real ball, first radii), per-fake ``density_count`` (M,) int
        (number of real balls containing it, second radii), per-real ``in_fake`` (N,) bool and per-real
        ``nearest_fake_sq`` (N,).
    """
    n, m = real.shape[0], fake.shape[0]
    in_real = np.zeros(m, dtype=bool)
    density_count = np.zeros(m, dtype=np.int64)
    in_fake = np.zeros(n, dtype=bool)
    nearest_fake_sq = np.full(n, np.inf)
    r2_pr, r2_dc = real_r2
    for start, stop, d in sq_dist_chunks(fake, real, chunk_size, b_sq=sq_norms(real)):
        # d[j, i] = ||fake_{start+j} - real_i||²
        in_real[start:stop] = (d <= r2_pr[None, :]).any(axis=1)
        density_count[start:stop] = (d <= r2_dc[None, :]).sum(axis=1)
        if fake_r2 is not None:
            in_fake |= (d <= fake_r2[start:stop, None]).any(axis=0)
        np.minimum(nearest_fake_sq, d.min(axis=0), out=nearest_fake_sq)
    return {
        "in_real": in_real,
        "density_count": density_count,
        "in_fake": in_fake,
        "nearest_fake_sq": nearest_fake_sq,
    }


def prdc(
    real_feats: Any, fake_feats: Any, k_pr: int = 3, k_dc: int = 5, *, chunk_size: int | None = None
) -> dict[str, float]:
    """Precision, recall (Kynkäänniemi et al., 2019, k=k_pr) and density, coverage (Naeem et al., 2020, k=k_dc).

    The real k-NN radii for both k are computed in one pass, the fake radii in one pass and all four counts in
    one pass over the fake×real distances.

    Args:
        real_feats: (N, D), N > max(k_pr, k_dc). fake_feats: (M, D), M > k_pr. Arrays or tensors, float64.
        k_pr: neighbour rank for the precision/recall radii. k_dc: neighbour rank for density/coverage radii.
        chunk_size: rows per distance chunk (None: automatic, about 128 MiB per chunk).

    Returns:
        {"precision", "recall", "coverage"} in [0, 1] and {"density"} in [0, N/k_dc], as floats.
    """
    if min(int(k_pr), int(k_dc)) < 1:
        raise ValueError(f"k_pr and k_dc must be positive integers; got k_pr={k_pr}, k_dc={k_dc}")
    real, fake = _inputs(real_feats, fake_feats)
    kmax = max(int(k_pr), int(k_dc))
    real_knn = knn_sq_dists(real, kmax, chunk_size, "real_feats")
    fake_r2 = knn_sq_dists(fake, int(k_pr), chunk_size, "fake_feats")[:, -1]
    r2_pr, r2_dc = real_knn[:, int(k_pr) - 1], real_knn[:, int(k_dc) - 1]
    out = _cross_pass(real, fake, [r2_pr, r2_dc], fake_r2, chunk_size)
    return {
        "precision": float(out["in_real"].mean()),
        "recall": float(out["in_fake"].mean()),
        "density": float(out["density_count"].sum() / (int(k_dc) * fake.shape[0])),
        "coverage": float((out["nearest_fake_sq"] <= r2_dc).mean()),
    }


def precision_recall(
    real_feats: Any, fake_feats: Any, k: int = 3, *, chunk_size: int | None = None
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019).

        precision = 1/M Σ_j 1[∃i: ||y_j - x_i|| <= NND_k(x_i)]     (real balls)
        recall    = 1/N Σ_i 1[∃j: ||x_i - y_j|| <= NND_k(y_j)]     (fake balls)

    Args:
        real_feats: (N, D), N > k. fake_feats: (M, D), M > k. Arrays or tensors, float64.
        k: neighbour rank for the radii (3 in the paper and in gankit's protocol).
        chunk_size: rows per distance chunk (None: automatic, about 128 MiB per chunk).

    Returns:
        (precision, recall), floats in [0, 1].
    """
    if int(k) < 1:
        raise ValueError(f"k must be a positive integer; got {k}")
    real, fake = _inputs(real_feats, fake_feats)
    r2 = knn_sq_dists(real, int(k), chunk_size, "real_feats")[:, -1]
    fake_r2 = knn_sq_dists(fake, int(k), chunk_size, "fake_feats")[:, -1]
    out = _cross_pass(real, fake, [r2, r2], fake_r2, chunk_size)
    return float(out["in_real"].mean()), float(out["in_fake"].mean())


def density_coverage(
    real_feats: Any, fake_feats: Any, k: int = 5, *, chunk_size: int | None = None
) -> tuple[float, float]:
    """Density and coverage (Naeem et al., 2020).

        density  = 1/(kM) Σ_j Σ_i 1[||y_j - x_i|| <= NND_k(x_i)]
        coverage = 1/N Σ_i 1[min_j ||x_i - y_j|| <= NND_k(x_i)]

    Args:
        real_feats: (N, D), N > k. fake_feats: (M, D). Arrays or tensors, float64.
        k: neighbour rank for the real radii (5 in the paper and in gankit's protocol).
        chunk_size: rows per distance chunk (None: automatic, about 128 MiB per chunk).

    Returns:
        (density, coverage): density >= 0 (1 on average for fakes distributed like the reals; can exceed 1),
        coverage in [0, 1].
    """
    real = as_matrix(real_feats, "real_feats", min_rows=2)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=1)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    if int(k) < 1:
        raise ValueError(f"k must be a positive integer; got {k}")
    r2 = knn_sq_dists(real, int(k), chunk_size, "real_feats")[:, -1]
    out = _cross_pass(real, fake, [r2, r2], None, chunk_size)
    return (
        float(out["density_count"].sum() / (int(k) * fake.shape[0])),
        float((out["nearest_fake_sq"] <= r2).mean()),
    )
