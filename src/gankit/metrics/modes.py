"""Mode and class coverage.

- :func:`mode_coverage`: the 2-D mixture protocol of VEEGAN (Srivastava et al., 2017, "VEEGAN: Reducing Mode
  Collapse in GANs using Implicit Variational Learning", NeurIPS) and PacGAN (Lin et al., 2018, "PacGAN: The power
  of two samples in generative adversarial networks", NeurIPS).
- :func:`class_coverage`: the Stacked-MNIST protocol (Metz et al., 2017, "Unrolled Generative Adversarial
  Networks", ICLR; also PacGAN): classify generated samples, count the classes found, and compare the label
  histogram with the data's.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import xlogy

from ._common import as_matrix, check_same_dim, to_float64

_EPS = 1e-12


def mode_coverage(
    samples: Any,
    centers: Any,
    std: float,
    quality_sigmas: float = 3.0,
    *,
    min_count: int = 1,
) -> dict[str, Any]:
    """Modes recovered, high-quality fraction and reverse KL on a mixture with known centres (VEEGAN; PacGAN).

    Definitions (distances are euclidean, computed exactly as ||x - c_k||, not by expansion):
      - a sample x is *high quality* when min_k ||x - c_k|| <= quality_sigmas · std;
      - counts[k] = number of high-quality samples whose nearest centre is c_k;
      - a mode is *recovered* when counts[k] >= min_count (VEEGAN: 1, i.e. the nearest centre of at least one
        high-quality sample; PacGAN's stricter variants use a larger minimum count);
      - q = counts / sum(counts), the histogram of high-quality samples over the K modes;
        reverse_kl = KL(q || uniform) = Σ_{k: q_k > 0} q_k log(q_k · K), in nats, in [0, log K].
    When no sample is high quality, q is undefined: modes = 0 and reverse_kl = inf (worse than any mixture).

    Args:
        samples: (N, D) generated samples. centers: (K, D) mixture centres. std: the components' standard
            deviation (> 0), in data units. quality_sigmas: the quality radius in units of std.
        min_count: high-quality samples a mode needs to count as recovered (>= 1).

    Returns:
        {"modes": int, "hq_fraction": float in [0, 1], "reverse_kl": float, "counts": list[int] of length K}.
    """
    x = as_matrix(samples, "samples", min_rows=1)
    c = as_matrix(centers, "centers", min_rows=1)
    check_same_dim(x, c, "samples", "centers")
    std, quality_sigmas = float(std), float(quality_sigmas)
    if not (math.isfinite(std) and std > 0):
        raise ValueError(f"std must be a positive finite number; got {std}")
    if not (math.isfinite(quality_sigmas) and quality_sigmas > 0):
        raise ValueError(f"quality_sigmas must be a positive finite number; got {quality_sigmas}")
    if int(min_count) < 1:
        raise ValueError(f"min_count must be an integer >= 1; got {min_count}")
    k_modes = c.shape[0]
    # K passes over (N, D): exact differences, memory N·D, fine for the small K of mixture benchmarks.
    best_sq = np.full(x.shape[0], np.inf)
    nearest = np.zeros(x.shape[0], dtype=np.int64)
    for k in range(k_modes):
        diff = x - c[k]
        d2 = np.einsum("ij,ij->i", diff, diff)
        closer = d2 < best_sq
        best_sq[closer] = d2[closer]
        nearest[closer] = k
    hq = np.sqrt(best_sq) <= quality_sigmas * std
    counts = np.bincount(nearest[hq], minlength=k_modes)
    n_hq = int(counts.sum())
    if n_hq == 0:
        return {"modes": 0, "hq_fraction": 0.0, "reverse_kl": float("inf"), "counts": counts.tolist()}
    q = counts / n_hq
    reverse_kl = float(xlogy(q, q * k_modes).sum())
    return {
        "modes": int((counts >= int(min_count)).sum()),
        "hq_fraction": n_hq / x.shape[0],
        "reverse_kl": max(reverse_kl, 0.0),
        "counts": [int(v) for v in counts],
    }


def class_coverage(
    pred_labels_or_probs: Any, num_classes: int, data_hist: Any | None = None
) -> dict[str, Any]:
    """Classes found among generated samples and KL(generated || data) of their label histograms.

        classes = #{c : count_c >= 1}
        kl      = Σ_{c: p_c > 0} p_c log(p_c / max(q_c, 1e-12))    (nats)

    where p is the generated label histogram and q the data's (uniform when ``data_hist`` is None), as in the
    Stacked-MNIST protocol (Metz et al., 2017; Lin et al., 2018). A class the generator produces but the data
    never does is scored against q = 1e-12 instead of giving inf.

    Args:
        pred_labels_or_probs: (N,) integer labels in [0, num_classes), or (N, num_classes) probabilities/logits
            (argmax is taken per row).
        num_classes: K >= 1.
        data_hist: (K,) non-negative counts or frequencies of the data's labels (normalised here), or None.

    Returns:
        {"classes": int, "kl": float >= 0, "hist": list[float] (generated frequencies, length K),
         "counts": list[int] (generated counts, length K)}.
    """
    k = int(num_classes)
    if k < 1:
        raise ValueError(f"num_classes must be a positive integer; got {num_classes}")
    arr = to_float64(pred_labels_or_probs, "pred_labels_or_probs")
    if arr.ndim == 2:
        arr = as_matrix(arr, "pred_labels_or_probs", dim=k)
        labels = np.argmax(arr, axis=1)
    elif arr.ndim == 1:
        if arr.size and (not np.isfinite(arr).all() or np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() >= k):
            raise ValueError(
                f"pred_labels_or_probs as (N,) labels must be integers in [0, {k}); "
                f"got values in [{arr.min():g}, {arr.max():g}]"
            )
        labels = arr.astype(np.int64)
    else:
        raise ValueError(
            f"pred_labels_or_probs must have shape (N,) labels or (N, {k}) probabilities; got {tuple(arr.shape)}"
        )
    if labels.size == 0:
        raise ValueError("pred_labels_or_probs is empty; need at least one generated sample")
    counts = np.bincount(labels, minlength=k)
    p = counts / counts.sum()
    if data_hist is None:
        q = np.full(k, 1.0 / k)
    else:
        q = to_float64(data_hist, "data_hist")
        if q.shape != (k,) or not np.isfinite(q).all() or q.min() < 0 or q.sum() <= 0:
            raise ValueError(
                f"data_hist must be a non-negative (num_classes,) = ({k},) histogram with a positive sum; "
                f"got shape {tuple(q.shape)}"
            )
        q = q / q.sum()
    kl = float((xlogy(p, p) - xlogy(p, np.maximum(q, _EPS))).sum())
    return {
        "classes": int((counts > 0).sum()),
        "kl": max(kl, 0.0),
        "hist": [float(v) for v in p],
        "counts": [int(v) for v in counts],
    }
