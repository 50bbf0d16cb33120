"""Memorization check: are generated samples closer to the training set than unseen real data is?

The test compares two nearest-neighbour distance distributions in feature space (the idea behind the
"authenticity"/copy tests of Meehan et al., 2020, "A Non-Parametric Test to Detect Data-Copying in Generative
Models", AISTATS, and Alaa et al., 2022, "How Faithful is your Synthetic Data?", ICML):

    d_fake(j)    = min_i ||fake_j    - train_i||     for each generated sample
    d_heldout(j) = min_i ||heldout_j - train_i||     for each real sample not used for training

A generator that learned the distribution produces d_fake distributed like d_heldout (ratio of medians ≈ 1);
one that copies training points produces d_fake near 0 (ratio < 1). A fake counts as a *copy* when

    d_fake(j) <= copy_threshold = copy_scale · Q_{copy_quantile}(d_heldout)

i.e. closer to the training set than all but the closest ``copy_quantile`` share of held-out reals (times
``copy_scale``). With the defaults (1% quantile, scale 1) an honest generator flags about 1% of its samples, so
read ``copy_fraction`` against ``copy_quantile``; lower ``copy_scale`` (e.g. 0.5) to flag only near-duplicates.

Distances are computed in row chunks, like :mod:`gankit.metrics.prdc`; the distance to the chosen neighbour is
then recomputed exactly, so an exact copy has distance exactly 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_matrix, check_same_dim, nearest_sq_dist


def memorization(
    train_feats: Any,
    fake_feats: Any,
    heldout_feats: Any,
    copy_quantile: float = 0.01,
    copy_scale: float = 1.0,
    *,
    chunk_size: int | None = None,
) -> dict[str, float]:
    """Nearest-training-neighbour distances of fakes versus held-out reals, and the share of likely copies.

    Args:
        train_feats: (N_train, D) features of the training set.
        fake_feats: (N_fake, D) features of generated samples.
        heldout_feats: (N_heldout, D) features of real samples not used for training.
        copy_quantile: quantile q in [0, 1] of the held-out NN distances used as the copy threshold.
        copy_scale: factor (> 0) applied to that quantile.
        chunk_size: rows per distance chunk (None: automatic, about 128 MiB per chunk).

    Returns:
        {"fake_nn_median": median d_fake, "heldout_nn_median": median d_heldout (feature units),
         "ratio": fake_nn_median / heldout_nn_median (< 1 suggests copying; inf if only the held-out median is 0,
         nan if both are 0), "copy_threshold": copy_scale · Q_q(d_heldout), "copies": int count of fakes with
         d_fake <= copy_threshold, "copy_fraction": copies / N_fake}.
    """
    train = as_matrix(train_feats, "train_feats", min_rows=1)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=1)
    heldout = as_matrix(heldout_feats, "heldout_feats", min_rows=1)
    check_same_dim(train, fake, "train_feats", "fake_feats")
    check_same_dim(train, heldout, "train_feats", "heldout_feats")
    if not 0.0 <= float(copy_quantile) <= 1.0:
        raise ValueError(f"copy_quantile must be in [0, 1]; got {copy_quantile}")
    if not float(copy_scale) > 0.0:
        raise ValueError(f"copy_scale must be > 0; got {copy_scale}")
    d_fake = np.sqrt(nearest_sq_dist(fake, train, chunk_size)[0])
    d_heldout = np.sqrt(nearest_sq_dist(heldout, train, chunk_size)[0])
    fake_med = float(np.median(d_fake))
    held_med = float(np.median(d_heldout))
    if held_med > 0:
        ratio = fake_med / held_med
    else:
        ratio = float("inf") if fake_med > 0 else float("nan")
    threshold = float(copy_scale) * float(np.quantile(d_heldout, float(copy_quantile)))
    copies = int((d_fake <= threshold).sum())
    return {
        "fake_nn_median": fake_med,
        "heldout_nn_median": held_med,
        "ratio": ratio,
        "copy_threshold": threshold,
        "copies": copies,
        "copy_fraction": copies / fake.shape[0],
    }


def low_support(train_feats: Any, fake_feats: Any, heldout_feats: Any, *, chunk_size: int | None = None) -> dict[str, float]:
    """How much of the held-out data the samples leave uncovered: the share of held-out points whose nearest generated
    sample is farther than their nearest training point (the "low support" claim about GANs; Arora & Zhang 2017 —
    a model that spreads over the data as the training set does leaves about half the points closer to a training
    point, since both sets are draws of the same size from the same distribution).

    Pass as many fakes as training points: nearest-neighbour distances shrink as a set grows, so unequal sizes bias
    the share (toward 0 with more fakes).

    Args:
        train_feats: (N, D) training points; fake_feats: (N, D) samples; heldout_feats: (M, D) held-out points.

    Returns:
        {"uncovered": share of held-out points with d(x, fakes) > d(x, train), "fake_nn_median": median d(x, fakes),
         "train_nn_median": median d(x, train)} (distances in feature units).
    """
    train = as_matrix(train_feats, "train_feats", min_rows=1)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=1)
    heldout = as_matrix(heldout_feats, "heldout_feats", min_rows=1)
    check_same_dim(train, fake, "train_feats", "fake_feats")
    check_same_dim(train, heldout, "train_feats", "heldout_feats")
    if fake.shape[0] != train.shape[0]:
        raise ValueError(f"low_support compares nearest-neighbour distances to two sets of the same size; got {fake.shape[0]} fakes and "
                         f"{train.shape[0]} training points")
    d_fake = np.sqrt(nearest_sq_dist(heldout, fake, chunk_size)[0])
    d_train = np.sqrt(nearest_sq_dist(heldout, train, chunk_size)[0])
    return {"uncovered": float((d_fake > d_train).mean()), "fake_nn_median": float(np.median(d_fake)),
            "train_nn_median": float(np.median(d_train))}
