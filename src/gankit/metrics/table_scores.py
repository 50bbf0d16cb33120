"""Scoring synthetic tables through the same path as every other sample: ``gankit evaluate RUN --metrics quality,...``,
training-time evaluation (``eval.metrics``, early stopping on ``quality``) and ``evaluate_samples``.

The metrics (formulas in :mod:`gankit.metrics.tables`) see DataFrames in the table's own types: the generated rows
(decoded from codes), the training split (at most ``n_real`` rows, a seeded subset) and the held-out test split.

=========== ===================================================================== =========================================
metric      values                                                                reference
=========== ===================================================================== =========================================
quality     quality (mean of the two below), column_shapes, column_pair_trends     sdmetrics' QualityReport
efficacy    efficacy (train on synthetic, test on real), efficacy_real (train on   Xu et al. 2019, §5.1 (ML efficacy)
            real), per model
privacy     dcr_ratio, dcr_synth_median, dcr_holdout_median, exact_copy_rate       distance to closest record
detection   detection_auc (0.5: indistinguishable), detection_score                a classifier two-sample test
likelihood  l_syn, l_test, l_true_test (simulated tables only)                     Xu et al. 2019, §5.1 (simulated data)
=========== ===================================================================== =========================================
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.tables.data import table_frame
from ..data.tables.schema import TableSchema, from_codes
from ..errors import ConfigError
from ..version import __version__


@dataclass
class TableInputs:
    """What a table metric sees: DataFrames ``real`` (training rows), ``holdout`` (test rows), ``fake`` (generated), the
    modelled columns' sdtypes, the target column, the simulated model's name (or None) and the seed."""

    real: Any
    holdout: Any
    fake: Any
    columns: dict[str, str]
    target: str | None
    simulated: str | None
    seed: int = 0


def _quality(i: TableInputs) -> dict[str, float]:
    from .tables import quality_report

    out = quality_report(i.real, i.fake, i.columns)
    return {"quality": out["quality"], "column_shapes": out["column_shapes"], "column_pair_trends": out["column_pair_trends"]}


def _efficacy(i: TableInputs) -> dict[str, float]:
    from .table_utility import ml_efficacy

    if not i.target:
        raise ConfigError("--metrics efficacy: needs the column to predict; set data.target=COLUMN")
    fake = ml_efficacy(i.fake, i.holdout, i.target, i.columns, seed=i.seed)
    real = ml_efficacy(i.real, i.holdout, i.target, i.columns, seed=i.seed)
    return {"efficacy": fake["efficacy"], "efficacy_real": real["efficacy"]}


def _privacy(i: TableInputs) -> dict[str, float]:
    from .table_utility import privacy

    return {k: v for k, v in privacy(i.real, i.holdout, i.fake, i.columns).items() if isinstance(v, (int, float))}


def _detection(i: TableInputs) -> dict[str, float]:
    from .table_utility import detection

    return {k: v for k, v in detection(i.real, i.fake, i.columns, seed=i.seed).items() if isinstance(v, (int, float))}


def _likelihood(i: TableInputs) -> dict[str, float]:
    from ..data.tables.simulated import likelihood_scores

    if not i.simulated:
        raise ConfigError("--metrics likelihood: needs a table with a known model (data.table=grid, gridr, ring, asia or child)")
    return {k: v for k, v in likelihood_scores(i.simulated, i.fake, i.holdout, seed=i.seed).items() if isinstance(v, (int, float))}


def register(metrics: Any, metric_cls: Any) -> None:
    """Put the table metrics into the METRICS registry (called by gankit.metrics.evaluate)."""
    metrics.register("quality", metric_cls(_quality, {"quality": True, "column_shapes": True, "column_pair_trends": True}, ("table",)),
                     help="tables: sdmetrics' quality score (column shapes KS/TV, column pair trends)")
    metrics.register("efficacy", metric_cls(_efficacy, {"efficacy": True, "efficacy_real": True}, ("table",)),
                     help="tables: train on synthetic, test on real (CTGAN's classifiers / regressors), and train on real")
    metrics.register("privacy", metric_cls(_privacy, {"dcr_ratio": True, "exact_copy_rate": False, "dcr_synth_median": True,
                                                      "dcr_holdout_median": True, "exact_copy_rate_holdout": False}, ("table",)),
                     help="tables: distance to closest training record, synthetic vs held-out rows; exact-copy rate")
    metrics.register("detection", metric_cls(_detection, {"detection_auc": False, "detection_score": True}, ("table",)),
                     help="tables: real-vs-synthetic classifier AUC (0.5 = indistinguishable)")
    metrics.register("likelihood", metric_cls(_likelihood, {"l_test": True, "l_syn": True, "l_true_test": True, "out_of_support": False},
                                              ("table", "simulated")),
                     help="simulated tables: L_syn (true model on synthetic rows), L_test (re-fitted model on test rows)")


HOLDOUT_METRICS = ("efficacy", "privacy", "likelihood")  # the metrics that compare with held-out rows


def evaluate_table(fake_codes: torch.Tensor, info: Any, data_cfg: Any, metrics: list[str], metric_fns: Any, *, n_real: int | None = None,
                   seed: int = 0, reference_split: str = "train") -> dict[str, Any]:
    """Score N×C generated codes against the table ``data_cfg`` names; a flat dict with provenance."""
    schema = TableSchema.from_dict(info.table["schema"])
    real, _, name, target, simulated = table_frame(data_cfg, reference_split)
    held_split = "test" if reference_split == "train" else "train"
    held = table_frame(data_cfg, held_split)[0] if set(metrics) & set(HOLDOUT_METRICS) else real.iloc[:0]
    if n_real and len(real) > n_real:
        real = real.iloc[np.sort(np.random.default_rng(seed).permutation(len(real))[:n_real])]
    fake = from_codes(fake_codes.double().numpy(), schema)
    inputs = TableInputs(real.reset_index(drop=True), held.reset_index(drop=True), fake, schema.sdtypes(),
                         target or info.table.get("target"), simulated or info.table.get("simulated"), seed)
    result: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for m in metrics:  # the values each metric declares (its counts are provenance, given once below)
            metric = metric_fns.get(m)
            result.update({k: float(v) for k, v in metric.fn(inputs).items() if k in metric.values})
    result.update({"metrics": list(metrics), "extractor": "none (typed columns)", "n_fake": int(len(fake)), "n_real": int(len(real)),
                   "n_holdout": int(len(held)), "reference": f"{name}/{reference_split}", "seed": seed, "gankit_version": __version__})
    if caught:
        result["warnings"] = sorted({str(w.message).splitlines()[0] for w in caught})[:5]
    return result


__all__ = ["TableInputs", "evaluate_table", "register"]
