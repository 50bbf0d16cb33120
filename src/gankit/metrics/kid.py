"""Kernel Inception Distance on feature arrays (Bińkowski et al., 2018, "Demystifying MMD GANs", ICLR).

KID is the unbiased estimate of the squared maximum mean discrepancy with the cubic polynomial kernel

    k(x, y) = (xᵀy / D + 1)³

averaged over random subsets. For subsets X = {x_i}, Y = {y_j} of size m each,

    MMD²_u = 1/(m(m-1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m-1)) Σ_{i≠j} k(y_i, y_j) - 2/m² Σ_{i,j} k(x_i, y_j)

(diagonal terms of K_xx and K_yy excluded). The estimate is unbiased, so it can be slightly negative when the two
distributions are equal.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._common import as_matrix, check_same_dim


def _kernel_sums(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Off-diagonal sum of K_xx, off-diagonal sum of K_yy and full sum of K_xy for the cubic kernel.

    x: (m, D), y: (n, D) in the matmul dtype. Sums are accumulated in float64.
    """
    d = x.shape[1]

    def cubic(g: np.ndarray) -> np.ndarray:
        g = g.astype(np.float64, copy=False)
        g /= d
        g += 1.0
        cube = g * g
        cube *= g
        return cube

    kxx = cubic(x @ x.T)  # x @ x.T runs as a symmetric rank-k update (half the flops of a general matmul)
    kyy = cubic(y @ y.T)
    kxy = cubic(x @ y.T)
    return (
        float(kxx.sum() - np.trace(kxx)),
        float(kyy.sum() - np.trace(kyy)),
        float(kxy.sum()),
    )


def mmd2_unbiased(x: Any, y: Any) -> float:
    """Unbiased MMD² between two samples with the cubic polynomial kernel (xᵀy/D + 1)³ (Bińkowski et al., 2018).

    Args:
        x: (m, D), m >= 2. y: (n, D), n >= 2. Computed in float64.

    Returns:
        MMD²_u = Σ_{i≠j} k(x_i,x_j)/(m(m-1)) + Σ_{i≠j} k(y_i,y_j)/(n(n-1)) - 2 Σ k(x_i,y_j)/(mn).
    """
    xa = as_matrix(x, "x", min_rows=2)
    ya = as_matrix(y, "y", min_rows=2)
    check_same_dim(xa, ya, "x", "y")
    m, n = xa.shape[0], ya.shape[0]
    sxx, syy, sxy = _kernel_sums(xa, ya)
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2.0 * sxy / (m * n)


def kid(
    real_feats: Any,
    fake_feats: Any,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    *,
    dtype: str = "float64",
) -> tuple[float, float]:
    """Kernel Inception Distance: mean and standard deviation of MMD²_u over random subsets (Bińkowski et al., 2018).

    For each of ``subsets`` rounds, ``m`` rows of each set are drawn without replacement (independently per round,
    from ``np.random.default_rng(seed)``: real indices first, then fake) and MMD²_u is computed on them.

    Args:
        real_feats: (N1, D). fake_feats: (N2, D). Arrays or tensors.
        subsets: number of subset pairs (>= 1).
        subset_size: m. If either set has fewer rows, m = min(N1, N2) is used instead and a warning is emitted.
        seed: seed of the subset sampler.
        dtype: "float64" (default) or "float32" for the three Gram matmuls, which are all of the cost
            (3 products of (m, D)·(D, m) per subset). float32 is about 2x faster; kernel values and sums are
            always formed in float64.

    Returns:
        (mean, std) over subsets, in kernel units; std is the population std (ddof=0), as in torch-fidelity.
    """
    real = as_matrix(real_feats, "real_feats", min_rows=2)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=2)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    if int(subsets) < 1:
        raise ValueError(f"subsets must be a positive integer; got {subsets}")
    if int(subset_size) < 2:
        raise ValueError(f"subset_size must be an integer >= 2; got {subset_size}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32'; got {dtype!r}")
    m = int(subset_size)
    if real.shape[0] < m or fake.shape[0] < m:
        m = min(real.shape[0], fake.shape[0])
        warnings.warn(
            f"kid: subset_size={subset_size} is larger than the feature sets (real {real.shape[0]}, "
            f"fake {fake.shape[0]}); using subsets of {m}",
            RuntimeWarning,
            stacklevel=2,
        )
    if dtype == "float32":
        real = real.astype(np.float32)
        fake = fake.astype(np.float32)
    rng = np.random.default_rng(seed)
    values = np.empty(int(subsets), dtype=np.float64)
    for s in range(int(subsets)):
        x = real[rng.choice(real.shape[0], m, replace=False)]
        y = fake[rng.choice(fake.shape[0], m, replace=False)]
        sxx, syy, sxy = _kernel_sums(x, y)
        values[s] = (sxx + syy) / (m * (m - 1)) - 2.0 * sxy / (m * m)
    return float(values.mean()), float(values.std())
