"""Defect-blind critics: a sequence of two-sample critics, each blind to what the earlier ones keyed on.

A classifier two-sample test (C2ST; Lopez-Paz & Oquab, 2017, "Revisiting Classifier Two-Sample Tests", ICLR) is
dominated by the most prominent difference between two sets: its accuracy says "these differ", not how many ways.
The design sources' answer (Odena, 2019, "Open Questions about Generative Adversarial Networks", Distill: a
Gram–Schmidt procedure for critics) is made concrete here:

1. fit a linear critic (logistic regression on standardized features) to tell real from fake features;
2. take its weight vector, in the original feature coordinates, as the direction it keyed on, and make it
   orthogonal to the earlier directions (Gram–Schmidt);
3. remove that direction from both feature sets and fit the next critic on what is left; repeat.

**Why linear, and its limit.** A linear critic's knowledge *is* one direction, so "what it keyed on" is exact and
can be removed. But a line only separates two sets through a difference of their means along it. A defect that
moves the mean of the features (a colour shift, a fixed pattern such as a checkerboard, the mean part of a blur or
of a missing class) is seen and removed; a defect that leaves the mean in place and changes spread or shape (the
variance a blur takes away, a missing mode whose absence barely moves the mean, extra modes) is invisible to every
critic of the sequence. And all mean differences add up to one vector: two mean-shifting defects present together
are one direction to a linear critic, which removes both at once (tests/metrics/test_blind.py shows it on two
Gaussians). So every step also reports the accuracy of the k-nearest-neighbour C2ST of
:func:`gankit.metrics.two_sample.c2st` on the features left at that step: what remains that a line cannot see.

**Removing a direction** (``metric``). Every removal is x ← x − ((x − μ)·a) c with a the critic's direction,
orthogonalized against the earlier ones:

* ``"covariance"`` (default): c = Σa with a normalized to aᵀΣa = 1, Σ the pooled covariance of both sets, μ
  their mean (Gram–Schmidt in the inner product aᵀΣb): the critic's score is regressed out of every feature. This
  is Euclidean projection in whitened coordinates, computed without inverting Σ: afterwards the score is constant
  (a·(x − μ) = 0) and every feature is uncorrelated with it, so no linear combination of what is left rebuilds it;
  the critics' scores are mutually uncorrelated. Its limit: when a critic separates the sets almost perfectly, its
  score is almost the label, and regressing it out removes the whole mean difference of the two sets, including
  the mean part of defects the critic did not key on.
* ``"euclidean"``: c = a with a of unit length, x ← x − (x·a) a (μ = 0), the textbook projection; directions are
  orthonormal. With correlated features it leaves the removed defect readable from the features correlated with
  the removed direction (a logistic-regression weight vector ≈ Σ⁻¹·(mean difference) is not the mean difference),
  so the next critic mostly finds the same defect again; kept for comparison.

docs/benchmarks/blind_critics.md measures both on planted defects: the first critic finds the largest mean
defect, often with part of the next; the blind linear critic does not find the next one; the k-NN accuracy after
the removal does show missing modes.

**Held-out accuracies.** The directions are fitted to the same samples the accuracies are measured on; removing a
direction fitted in-sample and then cross-validating biases the next accuracy *below* chance (the held-out rows
helped fit what was removed). So every accuracy is cross-fitted: in each fold the whole sequence (critics,
directions, projections) is fitted on the training part only and applied to the held-out part. The reported
directions are then fitted once on all rows.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._common import as_matrix, check_same_dim
from .two_sample import _odd_sqrt, balanced

METRICS_OF_REMOVAL = ("covariance", "euclidean")
# A critic score whose variance is below this share of the features' mean variance carries nothing left to remove.
_DEGENERATE = 1e-12


class _Removal:
    """The directions removed so far, fitted on one set of rows: x -> x - sum_i ((x - mu)·a_i) c_i."""

    def __init__(self, x: np.ndarray, metric: str) -> None:
        self.metric = metric
        self.mu = x.mean(axis=0) if metric == "covariance" else np.zeros(x.shape[1])
        self.xc = x - self.mu  # centred original rows (covariance products without forming Σ)
        self.scale = float(np.mean(self.xc.var(axis=0))) or 1.0
        self.a: list[np.ndarray] = []
        self.c: list[np.ndarray] = []

    def _cov_times(self, a: np.ndarray) -> np.ndarray:
        return self.xc.T @ (self.xc @ a) / max(len(self.xc) - 1, 1)

    def add(self, w: np.ndarray) -> np.ndarray:
        """Orthogonalize ``w`` (D,) against the earlier directions, add it; returns a (zeros when nothing is left)."""
        a = w.astype(np.float64).copy()
        for a_i, c_i in zip(self.a, self.c):  # Gram–Schmidt: <a, a_i> = a·c_i, since c_i = Σ a_i (or a_i)
            a -= (a @ c_i) * a_i
        if self.metric == "covariance":
            c = self._cov_times(a)
            norm2 = float(a @ c)
            if not np.isfinite(norm2) or norm2 <= _DEGENERATE * self.scale * float(a @ a):
                return np.zeros_like(a)
            a /= np.sqrt(norm2)
            c /= np.sqrt(norm2)
        else:
            norm = float(np.linalg.norm(a))
            if not np.isfinite(norm) or norm <= _DEGENERATE * max(float(np.linalg.norm(w)), 1e-300):
                return np.zeros_like(a)
            a /= norm
            c = a
        self.a.append(a)
        self.c.append(c)
        return a

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Rows (N, D) of the original features with every direction so far removed."""
        out = x.copy()
        if self.a:
            scores = (x - self.mu) @ np.stack(self.a, axis=1)  # (N, k) critic scores
            out -= scores @ np.stack(self.c)
        return out


def _linear_critic(x: np.ndarray, y: np.ndarray, C: float) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)).fit(x, y)


def _weights(critic: Any) -> np.ndarray:
    """The critic's weight vector in the coordinates it was fed (undoing the standardization)."""
    scaler, lr = critic[0], critic[-1]
    return lr.coef_[0] / scaler.scale_


def blind_critics(real_feats: Any, fake_feats: Any, steps: int = 3, seed: int = 0, folds: int = 5, *,
                  metric: str = "covariance", top: int = 5, C: float = 1.0) -> dict[str, Any]:
    """A sequence of ``steps`` linear critics, each blind to the directions the earlier ones keyed on.

    Balancing and folds as :func:`gankit.metrics.two_sample.c2st` (the larger set subsampled to m = min(N1, N2)
    rows with ``np.random.default_rng(seed)``, n = 2m, ``StratifiedKFold(folds, shuffle=True, random_state=seed)``),
    so step 1's ``knn_accuracy`` is exactly ``c2st(real, fake, seed, folds)["accuracy"]``. Critic: StandardScaler +
    ``LogisticRegression(C)`` (L2, lbfgs). The accuracy of step k is that of a critic fitted after removing the
    directions of steps 1..k-1, all of it refitted inside each training fold (see the module docstring).

    Args:
        real_feats: (N1, D) features. fake_feats: (N2, D). Arrays or tensors; min(N1, N2) >= folds.
        steps: number of critics (1 <= steps <= D).
        seed: seeds the balancing subsample and the fold split.
        folds: cross-validation folds (>= 2).
        metric: how a direction is removed, ``"covariance"`` (default) or ``"euclidean"`` (module docstring).
        top: how many features to name per direction (clipped to D).
        C: inverse L2 strength of the logistic regression (scikit-learn's C).

    Returns:
        {"steps": [per step k = 1..steps: {
            "step": k,
            "accuracy": held-out accuracy of the k-th linear critic (0.5 = chance), "p_value": one-sided binomial
                p-value of H0 accuracy = 0.5,
            "knn_accuracy", "knn_p_value": the same for the k-NN critic of ``c2st`` on the same features,
            "direction": (D,) float64 unit-length direction removed after this step, in the original feature
                coordinates (zeros when the critic had nothing left to remove); earlier directions are orthogonal
                to it in the removal metric (aᵢᵀΣaⱼ = 0, or aᵢ·aⱼ = 0 for "euclidean"),
            "top_features": (top,) int64 feature indices with the largest |standardized weight|,
            "top_weights": (top,) float64 those weights: the direction times each feature's pooled standard
                deviation, scaled to unit length (the score change per standard deviation of a feature),
            "explained": (accuracy_k - accuracy_{k+1}) / (accuracy_k - 0.5): the share of this critic's accuracy
                above chance that removing its direction took away (nan when accuracy_k <= 0.5; it can exceed 1
                or be negative by sampling noise)}],
         "residual_accuracy", "residual_knn_accuracy": the two critics after removing all ``steps`` directions,
         "directions": (steps, D) float64 stacked directions, "projection": {"mean" (D,), "directions" (k, D),
         "loadings" (k, D), "steps" (k,)}: the removal fitted on all rows, for :func:`remove_directions`,
         "n": held-out predictions per accuracy (2m), "metric": the removal metric}.

    Raises:
        ValueError: one line, for features that are not finite (N, D) matrices of the same D, too few rows,
            ``steps`` outside 1..D, ``folds`` < 2, an unknown ``metric``, ``top`` < 1 or ``C`` <= 0.
    """
    real = as_matrix(real_feats, "real_feats", min_rows=1)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=1)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    d = real.shape[1]
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= d:
        raise ValueError(f"steps must be an integer in 1..D={d} (one direction removed per step); got {steps!r}")
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2; got {folds!r}")
    if metric not in METRICS_OF_REMOVAL:
        raise ValueError(f"metric must be one of {', '.join(METRICS_OF_REMOVAL)}; got {metric!r}")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer; got {top!r}")
    if not (isinstance(C, (int, float)) and np.isfinite(C) and C > 0):
        raise ValueError(f"C must be a positive number (inverse L2 strength); got {C!r}")
    m = min(real.shape[0], fake.shape[0])
    if m < folds:
        raise ValueError(f"blind_critics needs at least folds={folds} rows in each set; got real {real.shape[0]}, "
                         f"fake {fake.shape[0]}")
    x, y = balanced(real, fake, seed)
    n = x.shape[0]

    # Held-out accuracies: the whole sequence refitted in every fold (steps + 1 critics: the last is the residual).
    lin_correct = np.zeros(steps + 1, dtype=np.int64)
    knn_correct = np.zeros(steps + 1, dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(x, y):
        removal = _Removal(x[train_idx], metric)
        k_nn = _odd_sqrt(len(train_idx))
        for k in range(steps + 1):
            x_tr, x_te = removal.apply(x[train_idx]), removal.apply(x[test_idx])
            critic = _linear_critic(x_tr, y[train_idx], C)
            lin_correct[k] += int((critic.predict(x_te) == y[test_idx]).sum())
            knn = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=k_nn)).fit(x_tr, y[train_idx])
            knn_correct[k] += int((knn.predict(x_te) == y[test_idx]).sum())
            if k < steps:
                removal.add(_weights(critic))

    # The directions themselves, fitted on all rows.
    removal = _Removal(x, metric)
    std = x.std(axis=0)
    top = min(int(top), d)
    out_steps = []
    for k in range(steps):
        critic = _linear_critic(removal.apply(x), y, C)
        a = removal.add(_weights(critic))
        norm = float(np.linalg.norm(a))
        direction = a / norm if norm > 0 else a
        standardized = direction * std
        s_norm = float(np.linalg.norm(standardized))
        standardized = standardized / s_norm if s_norm > 0 else standardized
        order = np.argsort(-np.abs(standardized), kind="stable")[:top]
        acc, nxt = lin_correct[k] / n, lin_correct[k + 1] / n
        out_steps.append({
            "step": k + 1,
            "accuracy": float(acc),
            "p_value": float(binomtest(int(lin_correct[k]), n, 0.5, alternative="greater").pvalue),
            "knn_accuracy": float(knn_correct[k] / n),
            "knn_p_value": float(binomtest(int(knn_correct[k]), n, 0.5, alternative="greater").pvalue),
            "direction": direction,
            "top_features": order.astype(np.int64),
            "top_weights": standardized[order],
            "explained": float((acc - nxt) / (acc - 0.5)) if acc > 0.5 else float("nan"),
        })
    kept = [i for i, s in enumerate(out_steps) if np.any(s["direction"])]  # the removal holds the non-zero ones
    projection = {"mean": removal.mu.copy(), "directions": np.stack(removal.a) if removal.a else np.zeros((0, d)),
                  "loadings": np.stack(removal.c) if removal.c else np.zeros((0, d)), "steps": np.asarray(kept, np.int64) + 1}
    return {"steps": out_steps, "residual_accuracy": float(lin_correct[steps] / n),
            "residual_knn_accuracy": float(knn_correct[steps] / n),
            "directions": np.stack([s["direction"] for s in out_steps]), "projection": projection, "n": int(n),
            "metric": metric}


def remove_directions(feats: Any, projection: dict[str, np.ndarray]) -> np.ndarray:
    """Apply a fitted removal (``blind_critics(...)["projection"]``) to any features of the same D.

    x ← x − Σᵢ ((x − mean)·aᵢ) cᵢ over the removed directions aᵢ (rows of ``projection["directions"]``, scaled to
    aᵢᵀΣaᵢ = 1 for the covariance metric, unit length for the Euclidean one) and loadings cᵢ (Σaᵢ, or aᵢ).

    Args:
        feats: (N, D) features. projection: the dict ``blind_critics`` returns under "projection".

    Returns:
        (N, D) float64: features whose scores on every removed direction are constant ((x' − mean)·aᵢ = 0).
    """
    x = as_matrix(feats, "feats", min_rows=1)
    a, c, mu = (np.asarray(projection[k], np.float64) for k in ("directions", "loadings", "mean"))
    if a.ndim != 2 or a.shape != c.shape or mu.shape != (a.shape[1],):
        raise ValueError(f"projection must hold mean (D,), directions and loadings (k, D) from blind_critics; "
                         f"got mean {mu.shape}, directions {a.shape}, loadings {c.shape}")
    if x.shape[1] != mu.shape[0]:
        raise ValueError(f"feats must have the projection's D={mu.shape[0]} columns; got shape {tuple(x.shape)}")
    return x - ((x - mu) @ a.T) @ c if len(a) else x.copy()
