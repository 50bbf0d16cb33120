"""Classifier two-sample test (C2ST; Lopez-Paz & Oquab, 2017, "Revisiting Classifier Two-Sample Tests", ICLR).

Train a classifier to tell real from fake features and measure its held-out accuracy. Accuracy 0.5 means the
classifier cannot tell the sets apart; the p-value tests H0 "accuracy = 0.5" against "accuracy > 0.5".

Classifier: k-nearest neighbours on standardised features (the scaler is fit on each training fold only), with
k the largest odd integer <= sqrt(n_train). Chosen over logistic regression because it is a consistent classifier:
it also detects differences in spread, shape or missing modes, which a linear boundary cannot see
(two distributions with the same mean give a logistic-regression C2ST accuracy of 0.5 whatever else differs).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._common import as_matrix, check_same_dim


def _odd_sqrt(n: int) -> int:
    k = max(1, int(math.isqrt(max(n, 1))))
    return k if k % 2 == 1 else k - 1


def balanced(real: np.ndarray, fake: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x: 2m×D, y: 2m labels, real = 1 then fake = 0) with the larger set subsampled without replacement to
    m = min(N1, N2) rows (``np.random.default_rng(seed)``, kept in their order): the two-sample tests' balancing."""
    m = min(real.shape[0], fake.shape[0])
    rng = np.random.default_rng(seed)
    if real.shape[0] > m:
        real = real[np.sort(rng.choice(real.shape[0], m, replace=False))]
    if fake.shape[0] > m:
        fake = fake[np.sort(rng.choice(fake.shape[0], m, replace=False))]
    x = np.concatenate([real, fake], axis=0)
    y = np.concatenate([np.ones(m, dtype=np.int64), np.zeros(m, dtype=np.int64)])
    return x, y


def c2st(real_feats: Any, fake_feats: Any, seed: int = 0, folds: int = 5) -> dict[str, float]:
    """Classifier two-sample test with a k-NN classifier and stratified k-fold cross-validation.

    Steps: (1) balance: the larger set is subsampled without replacement to m = min(N1, N2) rows
    (``np.random.default_rng(seed)``); (2) labels real=1, fake=0, n = 2m; (3) ``StratifiedKFold(folds,
    shuffle=True, random_state=seed)``: on each fold fit StandardScaler + KNeighborsClassifier(k = largest odd
    <= sqrt(n_train)) on the training part and predict the held-out part; (4) accuracy = correct / n over all n
    held-out predictions; p_value = P[Binomial(n, 0.5) >= correct] (``scipy.stats.binomtest``, one-sided).

    Args:
        real_feats: (N1, D). fake_feats: (N2, D). Arrays or tensors; min(N1, N2) >= folds.
        seed: seeds the balancing subsample and the fold split.
        folds: number of cross-validation folds (>= 2).

    Returns:
        {"accuracy": float in [0, 1], "p_value": float, "n": int (held-out predictions)}.
    """
    real = as_matrix(real_feats, "real_feats", min_rows=1)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=1)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    if int(folds) < 2:
        raise ValueError(f"folds must be an integer >= 2; got {folds}")
    m = min(real.shape[0], fake.shape[0])
    if m < int(folds):
        raise ValueError(
            f"c2st needs at least folds={folds} rows in each set; got real {real.shape[0]}, fake {fake.shape[0]}"
        )
    x, y = balanced(real, fake, seed)
    n = x.shape[0]

    correct = 0
    splitter = StratifiedKFold(n_splits=int(folds), shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(x, y):
        clf = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=_odd_sqrt(len(train_idx))))
        clf.fit(x[train_idx], y[train_idx])
        correct += int((clf.predict(x[test_idx]) == y[test_idx]).sum())
    p_value = binomtest(correct, n, 0.5, alternative="greater").pvalue
    return {"accuracy": correct / n, "p_value": float(p_value), "n": int(n)}
