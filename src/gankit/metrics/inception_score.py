"""Inception Score from class probabilities (Salimans et al., 2016, "Improved Techniques for Training GANs", NeurIPS).

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed on each of ``splits`` consecutive, near-equal parts of the samples (as in the original code) and reported
as mean and standard deviation over the parts. IS lies in [1, K] for K classes: 1 when every sample has the same
class distribution, K when every sample is confidently one class and all classes are used equally.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import xlogy

from ._common import as_matrix


def inception_score(probs: Any, splits: int = 10) -> tuple[float, float]:
    """Inception Score of class probabilities (Salimans et al., 2016).

    Args:
        probs: (N, K) class probabilities p(y|x_i) (rows non-negative, summing to 1 within 1e-3). Pass softmax
            outputs, not logits.
        splits: number of consecutive parts (1 <= splits <= N); the score is computed on each.

    Returns:
        (mean, std) of exp(mean_i KL(p(y|x_i) || p(y))) over the parts; std is the population std (ddof=0).
        Terms with p = 0 contribute 0 (0 · log 0 = 0), so one-hot rows are handled exactly.
    """
    p = as_matrix(probs, "probs")
    n = p.shape[0]
    if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            f"probs must be (N, K) class probabilities (non-negative rows summing to 1); got rows summing to "
            f"[{p.sum(axis=1).min():.4g}, {p.sum(axis=1).max():.4g}] with min entry {p.min():.4g} "
            "(apply softmax to logits first)"
        )
    if not 1 <= int(splits) <= n:
        raise ValueError(f"splits must be an integer in [1, N={n}]; got {splits}")
    scores = []
    for part in np.array_split(p, int(splits), axis=0):
        marginal = part.mean(axis=0, keepdims=True)
        # xlogy(p, q) = p log q with 0 log q = 0; where p > 0 the marginal is > 0 too, so no log 0 is taken.
        kl = (xlogy(part, part) - xlogy(part, marginal)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    scores_a = np.asarray(scores)
    return float(scores_a.mean()), float(scores_a.std())
