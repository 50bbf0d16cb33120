"""Usefulness, privacy and detectability of synthetic tables (the quality report is :mod:`gankit.metrics.tables`).

Inputs as there: pandas DataFrames and ``columns: dict[str, str]`` mapping each evaluated column to its sdtype.

Utility ("machine-learning efficacy") follows Xu, Skoularidou, Cuesta-Infante and Veeramachaneni, 2019, "Modeling
Tabular Data using Conditional GAN" (NeurIPS), section 5 and appendix: models trained on synthetic rows and
tested on real ones, with the paper's binary-classification models (AdaBoost with 50 estimators, a depth-20
decision tree, logistic regression, an MLP with 50 hidden units) scored by F1, here also used for multi-class
targets with macro F1 (the paper used a depth-30 tree and a 100-unit MLP there), and its regression models (linear
regression, a 100-unit MLP) scored by R². The paper's other protocol, the likelihood of synthetic rows under a
*simulated* data source whose generating network is known (L_syn, and L_test of real held-out rows under a network
refitted on synthetic rows), is :mod:`gankit.data.tables.simulated`. Privacy is the distance to the
closest record (DCR) against a held-out baseline; detection is a classifier two-sample test (sdmetrics'
``LogisticDetection`` score included).
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import DataError
from .tables import _CONTINUOUS, _MISSING, _check_columns, _check_frame, _codes, _datetime_ns, _discrete, _numbers

_DCR_CHUNK_ELEMENTS = 2**24


# ------------------------------------------------------------------------------------------------ featurizing
class _Featurizer:
    """Table -> model matrix, fitted on one frame and applied to others.

    Numerical and datetime columns (datetimes as seconds since the epoch) are mean-imputed (0 when a column has
    no value at all) and standardized with the fitted frame's mean and standard deviation; categorical and boolean
    columns are one-hot encoded over the fitted frame's categories, missing being a category of its own. A
    category the fitted frame never saw encodes as all zeros, so unseen values never fail.
    """

    def __init__(self, columns: Mapping[str, str]):
        self.columns = dict(columns)

    def _continuous(self, frame: pd.DataFrame) -> np.ndarray:
        cols = [c for c, t in self.columns.items() if t in _CONTINUOUS]
        out = np.empty((len(frame), len(cols)), dtype=np.float64)
        for j, col in enumerate(cols):
            out[:, j] = _numbers(frame[col], col, self.columns[col])
            if self.columns[col] == "datetime":
                out[:, j] /= 1e9  # seconds: keeps squares and products of the standardization well in range
        return out

    def fit(self, frame: pd.DataFrame) -> _Featurizer:
        x = self._continuous(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            mean = np.nanmean(x, axis=0) if len(x) else np.zeros(x.shape[1])
        self.mean_ = np.where(np.isnan(mean), 0.0, mean)
        filled = np.where(np.isnan(x), self.mean_, x)
        std = filled.std(axis=0) if len(x) else np.ones(x.shape[1])
        self.scale_ = np.where(std > 0, std, 1.0)
        self.categories_ = {
            col: pd.Index(pd.unique(_discrete(frame[col])), dtype=object)
            for col, t in self.columns.items()
            if t not in _CONTINUOUS
        }
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(N, D) float64 matrix: standardized continuous columns, then one block of indicators per category."""
        x = self._continuous(frame)
        blocks = [(np.where(np.isnan(x), self.mean_, x) - self.mean_) / self.scale_]
        for col, cats in self.categories_.items():
            codes = cats.get_indexer(_discrete(frame[col]))  # -1 for categories never seen when fitting
            blocks.append((codes[:, None] == np.arange(len(cats))[None, :]).astype(np.float64))
        return np.concatenate(blocks, axis=1)


# ------------------------------------------------------------------------------------------------ ML efficacy
def _classification_models(seed: int) -> dict[str, Any]:
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    # Xu et al. 2019, appendix (binary classification): AdaBoost (50 estimators), decision tree (depth 20),
    # logistic regression, MLP (50). max_iter=50 for the MLP as in SDGym; 1000 lets lbfgs converge.
    return {
        "adaboost": AdaBoostClassifier(n_estimators=50, random_state=seed),
        "decision_tree": DecisionTreeClassifier(max_depth=20, random_state=seed),
        "logistic_regression": LogisticRegression(max_iter=1000, random_state=seed),
        "mlp": MLPClassifier(hidden_layer_sizes=(50,), max_iter=50, random_state=seed),
    }


def _regression_models(seed: int) -> dict[str, Any]:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler

    # Xu et al. 2019: linear regression and MLP (100). The MLP learns a standardized target (predictions are
    # mapped back), so the scale of the target does not decide whether 50 epochs are enough.
    mlp = MLPRegressor(hidden_layer_sizes=(100,), max_iter=50, random_state=seed)
    return {
        "linear_regression": LinearRegression(),
        "mlp": TransformedTargetRegressor(regressor=mlp, transformer=StandardScaler()),
    }


def ml_efficacy(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    columns: Mapping[str, str],
    seed: int = 0,
    *,
    pos_label: Any = None,
) -> dict[str, Any]:
    """Train on ``train`` (synthetic or real), test on real ``test`` (Xu et al. 2019's machine-learning efficacy).

    Features are every column of ``columns`` except ``target``, featurized as :class:`_Featurizer` describes,
    fitted on ``train``. Rows whose target is missing are dropped from both frames.

    * categorical/boolean target: AdaBoostClassifier(50), DecisionTreeClassifier(max_depth=20),
      LogisticRegression, MLPClassifier((50,), max_iter=50); scored by F1 of ``pos_label`` when the test target
      has at most two classes (``metric="f1"``), else by macro F1 over the test set's classes
      (``metric="macro_f1"``). A model whose training target has a single class predicts that class.
    * numerical/datetime target: LinearRegression and MLPRegressor((100,), max_iter=50); R² (``metric="r2"``).

    Args:
        train: (N_train rows) training table.
        test: (N_test rows) real test table.
        target: name of the target column (must be in ``columns``).
        columns: column name -> sdtype, the target included.
        seed: random_state of every model (results are deterministic for a given seed).
        pos_label: positive class for binary F1; None: the test set's less frequent class (ties: the one
            pandas factorizes last).

    Returns:
        {"metric": "f1" | "macro_f1" | "r2", "efficacy": mean over models, one score per model
         ("adaboost", "decision_tree", "logistic_regression", "mlp" or "linear_regression", "mlp"),
         "target", "n_train", "n_test"} — F1 scores in [0, 1], R² in (-inf, 1].
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import f1_score, r2_score

    _check_columns(columns)
    if target not in columns:
        raise DataError(f"target {target!r} is not in columns; name one of {list(columns)[:10]}")
    _check_frame(train, columns, "train")
    _check_frame(test, columns, "test")
    train = train[pd.notna(train[target]).to_numpy()]
    test = test[pd.notna(test[target]).to_numpy()]
    for frame, what in ((train, "train"), (test, "test")):
        if len(frame) == 0:
            raise DataError(f"{what} has no row with a value in target column {target!r}")
    features = {c: t for c, t in columns.items() if c != target}
    if not features:
        raise DataError(f"columns lists only the target {target!r}; add at least one feature column")
    featurizer = _Featurizer(features).fit(train)
    x_train, x_test = featurizer.transform(train), featurizer.transform(test)

    scores: dict[str, float] = {}
    if columns[target] in _CONTINUOUS:
        metric = "r2"
        y_train = _numbers(train[target], target, columns[target])
        y_test = _numbers(test[target], target, columns[target])
        for name, model in _regression_models(seed).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x_train, y_train)
            scores[name] = float(r2_score(y_test, model.predict(x_test)))
    else:
        extra = np.empty(1, dtype=object)
        extra[0] = _MISSING if pos_label is None else pos_label  # coded with the labels, so 1 == 1.0 == True
        (y_train, y_test, pos_code), _ = _codes(_discrete(train[target]), _discrete(test[target]), extra)
        test_classes, test_counts = np.unique(y_test, return_counts=True)
        binary = len(test_classes) <= 2
        metric = "f1" if binary else "macro_f1"
        if binary:
            if pos_label is None:  # the less frequent class; on a tie the one coded last
                positive = test_classes[::-1][np.argmin(test_counts[::-1])]
            elif pos_code[0] in test_classes:
                positive = pos_code[0]
            else:
                raise DataError(
                    f"pos_label {pos_label!r} is not a class of target {target!r} in test; "
                    "pass one of its values or None (the less frequent class)"
                )
        for name, model in _classification_models(seed).items():
            if len(np.unique(y_train)) == 1:
                pred = np.full(len(y_test), y_train[0])
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(x_train, y_train)
                pred = model.predict(x_test)
            if binary:
                scores[name] = float(f1_score(y_test == positive, pred == positive, zero_division=0.0))
            else:
                scores[name] = float(
                    f1_score(y_test, pred, labels=test_classes, average="macro", zero_division=0.0)
                )
    return {
        "metric": metric,
        "efficacy": float(np.mean(list(scores.values()))),
        **scores,
        "target": target,
        "n_train": len(train),
        "n_test": len(test),
    }


# ---------------------------------------------------------------------------------------------------- privacy
class _RecordSpace:
    """The DCR distance, fitted on the training table.

    d(a, b)² = Σ_numerical/datetime δ_j² + Σ_categorical/boolean [a_j ≠ b_j], where for a continuous column
    δ_j = (a_j - b_j) / (max_j - min_j) with the training range (1 when the range is 0), δ_j = 1 when exactly
    one of the two values is missing and δ_j = 0 when both are; a categorical mismatch (missing being a value of
    its own) adds 1 to d², the largest difference of one in-range continuous column. So a single mismatching
    category alone is at distance 1, two at √2: d is the Euclidean distance of the rows with each category one-hot
    encoded and scaled by 1/√2, extended to missing values — a metric, like SDGym's distance (which adds its
    mismatch counts inside the square root too).
    """

    def __init__(self, columns: Mapping[str, str]):
        self.continuous = [c for c, t in columns.items() if t in _CONTINUOUS]
        self.discrete = [c for c, t in columns.items() if t not in _CONTINUOUS]
        self.columns = dict(columns)

    def fit(self, train: pd.DataFrame) -> _RecordSpace:
        raw = self._raw(train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            lo, hi = np.nanmin(raw, axis=0, initial=np.inf), np.nanmax(raw, axis=0, initial=-np.inf)
        span = hi - lo
        self.lo_ = np.where(np.isfinite(lo), lo, 0.0)
        self.span_ = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        self.categories_ = [pd.Index(pd.unique(_discrete(train[c])), dtype=object) for c in self.discrete]
        return self

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.continuous)), dtype=np.float64)
        for j, col in enumerate(self.continuous):
            out[:, j] = _numbers(frame[col], col, self.columns[col])
        return out

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x (N, Dc) scaled, 0 where missing; present (N, Dc) float 0/1; codes (N, Dd) int64, -1 = unseen)."""
        x = (self._raw(frame) - self.lo_) / self.span_
        present = (~np.isnan(x)).astype(np.float64)
        x = np.where(present > 0, x, 0.0)
        codes = np.empty((len(frame), len(self.discrete)), dtype=np.int64)
        for j, (col, cats) in enumerate(zip(self.discrete, self.categories_)):
            codes[:, j] = cats.get_indexer(_discrete(frame[col]))
        return x, present, codes

    def _one_hot(self, codes: np.ndarray) -> np.ndarray:
        blocks = [
            (codes[:, j : j + 1] == np.arange(len(cats))[None, :]).astype(np.float64)
            for j, cats in enumerate(self.categories_)
        ]
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(codes), 0))

    def nearest(
        self, query: tuple[np.ndarray, ...], train: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distance (N,) from each query row to its nearest training row, and that row's index (N,) int64.

        d² is a sum of products, so each chunk of query × training distances is one matrix product U·Vᵀ:
        per continuous column m_b·(x_a² + 1 - 2 m_a) - 2 x_a x_b + m_a x_b² + m_a (x = 0 where missing,
        m = present), and per categorical column 1 - onehot_a·onehot_b. The distance to the chosen row is then
        recomputed directly, so that an identical row is at exactly 0.
        """
        xa, ma, ca = query
        xb, mb, cb = train
        ha, hb = self._one_hot(ca), self._one_hot(cb)
        const_a = ma.sum(axis=1, keepdims=True) + len(self.discrete)
        u = np.concatenate([xa**2 + 1.0 - 2.0 * ma, -2.0 * xa, ma, -ha, const_a], axis=1)
        v = np.concatenate([mb, xb, xb**2, hb, np.ones((len(xb), 1))], axis=1)
        index = np.empty(len(u), dtype=np.int64)
        step = max(1, _DCR_CHUNK_ELEMENTS // max(len(v), 1))
        for start in range(0, len(u), step):
            index[start : start + step] = np.argmin(u[start : start + step] @ v.T, axis=1)
        both = (ma > 0) & (mb[index] > 0)
        one = (ma > 0) != (mb[index] > 0)
        sq = np.where(both, (xa - xb[index]) ** 2, 0.0).sum(axis=1) + one.sum(axis=1)
        sq += (ca != cb[index]).sum(axis=1)  # an unseen category (-1) never equals a training code
        return np.sqrt(sq), index

    def keys(self, frame: pd.DataFrame) -> list[tuple]:
        """One hashable key per row (raw values, missing as one marker) for exact-copy tests."""
        parts: list[np.ndarray] = []
        for col in self.continuous:
            if self.columns[col] == "datetime":
                ns, missing = _datetime_ns(frame[col], col)
                vals = ns.astype(object)
            else:
                num = _numbers(frame[col], col, "numerical")
                vals, missing = num.astype(object), np.isnan(num)
            vals[missing] = _MISSING
            parts.append(vals)
        parts += [_discrete(frame[col]) for col in self.discrete]
        return list(zip(*parts))


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    return math.inf if num > 0 else math.nan


def privacy(
    train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame, columns: Mapping[str, str]
) -> dict[str, Any]:
    """Distance to closest record (DCR): are synthetic rows closer to the training rows than unseen real rows?

    For every synthetic row and every holdout row, the distance to its nearest training row (the distance is
    :class:`_RecordSpace`'s: continuous columns scaled by the training range, each mismatching categorical value
    adding 1 to the squared distance, a missing value equal to a missing value and at 1 from any present one).

    Args:
        train: (N_train rows) the table the generator was trained on.
        holdout: (N_holdout rows) real rows from the same source that the generator never saw.
        synth: (N_synth rows) generated rows.
        columns: column name -> sdtype.

    Returns:
        {"dcr_synth_median", "dcr_holdout_median": medians of the two DCR distributions (unitless),
         "dcr_ratio": synth median / holdout median (< 1: synthetic rows sit closer to the training rows than
         unseen real rows do, a sign of copying; inf if only the holdout median is 0, NaN if both are),
         "exact_copy_rate": fraction of synthetic rows identical to a training row (every column of ``columns``,
         missing equal to missing), "exact_copy_rate_holdout": the same for holdout rows (the baseline),
         "n_train", "n_holdout", "n_synth"}.
    """
    _check_columns(columns)
    _check_frame(train, columns, "train")
    _check_frame(holdout, columns, "holdout")
    _check_frame(synth, columns, "synth")
    space = _RecordSpace(columns).fit(train)
    train_enc = space.encode(train)
    train_keys = set(space.keys(train))
    out: dict[str, Any] = {}
    for what, frame in (("synth", synth), ("holdout", holdout)):
        dist, _ = space.nearest(space.encode(frame), train_enc)
        copies = np.fromiter((k in train_keys for k in space.keys(frame)), dtype=bool, count=len(frame))
        dist[copies] = 0.0  # identical raw rows (the recomputed distance is 0 for them already)
        out[what] = (float(np.median(dist)), float(copies.mean()))
    return {
        "dcr_synth_median": out["synth"][0],
        "dcr_holdout_median": out["holdout"][0],
        "dcr_ratio": _ratio(out["synth"][0], out["holdout"][0]),
        "exact_copy_rate": out["synth"][1],
        "exact_copy_rate_holdout": out["holdout"][1],
        "n_train": len(train),
        "n_holdout": len(holdout),
        "n_synth": len(synth),
    }


# -------------------------------------------------------------------------------------------------- detection
def detection(
    real: pd.DataFrame, synth: pd.DataFrame, columns: Mapping[str, str], seed: int = 0
) -> dict[str, Any]:
    """Classifier two-sample test: how well does logistic regression tell real rows from synthetic ones?

    Both tables are featurized together (:class:`_Featurizer` fitted on their union, labels unused, so a category
    only one side has is a feature of its own); a LogisticRegression is cross-validated with stratified 3-fold
    splits (shuffled with ``seed``), real = positive class.

    Args:
        real: (N_real >= 3 rows) real table.
        synth: (N_synth >= 3 rows) synthetic table.
        columns: column name -> sdtype.
        seed: seeds the fold split and the model (deterministic).

    Returns:
        {"detection_auc": mean held-out ROC AUC over the folds (0.5 = indistinguishable, 1 = separable),
         "detection_score": sdmetrics' LogisticDetection value 1 - mean_folds(max(AUC, 0.5)·2 - 1) in [0, 1]
         (1 = indistinguishable), "n_real", "n_synth"}.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    _check_columns(columns)
    _check_frame(real, columns, "real", min_rows=3)
    _check_frame(synth, columns, "synth", min_rows=3)
    both = pd.concat([real[list(columns)], synth[list(columns)]], ignore_index=True)
    x = _Featurizer(columns).fit(both).transform(both)
    y = np.r_[np.ones(len(real)), np.zeros(len(synth))]
    aucs = []
    for fit_idx, eval_idx in StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(max_iter=1000, random_state=seed).fit(x[fit_idx], y[fit_idx])
        aucs.append(float(roc_auc_score(y[eval_idx], model.predict_proba(x[eval_idx])[:, 1])))
    return {
        "detection_auc": float(np.mean(aucs)),
        "detection_score": float(1.0 - np.mean([max(a, 0.5) * 2.0 - 1.0 for a in aucs])),
        "n_real": len(real),
        "n_synth": len(synth),
    }


__all__ = ["ml_efficacy", "privacy", "detection"]
