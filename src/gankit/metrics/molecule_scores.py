"""Scoring generated molecules through the same path as every other sample: ``gankit evaluate RUN --metrics molecules``,
training-time evaluation (``eval.metrics=[molecules]``) and ``evaluate_samples``.

Generated samples arrive as graph codes (N×(M + M²): atom types, then the bond-type matrix), are decoded to canonical
SMILES by RDKit (:func:`gankit.data.molecules.decode`; a graph RDKit rejects counts as invalid) and scored by
:func:`gankit.metrics.molecules.molecule_scores` against every molecule of the split the model trained on (novelty,
property distributions, fragment and scaffold similarity).

========== ============================================================================ ===============================
metric     values                                                                       reference
========== ============================================================================ ===============================
molecules  vun: the fraction of samples that are valid, distinct and new (valid · unique ·  MOSES (Polykovskiy et al.
           novel), the primary value that keeps the best model; valid, unique, novel;    2020); MolGAN (2018)
           qed, sa, logp (means) and their W1 to the data's; intdiv1, intdiv2; frag,
           scaf (scaffolds of ≥ 2 rings, as MOSES), scaf1 (scaffolds of ≥ 1 ring)
========== ============================================================================ ===============================
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data import build_dataset
from ..data.molecules import MolVocab
from ..data.molecules import codes_to_smiles as molecules_of
from ..version import __version__

#: direction of each value (True: higher is better)
VALUES = {"vun": True, "valid": True, "unique": True, "novel": True, "qed": True, "sa": False, "logp": True, "qed_w1": False, "sa_w1": False,
          "logp_w1": False, "intdiv1": True, "intdiv2": True, "frag": True, "scaf": True,
          "scaf1": True}


def codes_to_smiles(codes: torch.Tensor | np.ndarray, graph: dict[str, Any]) -> list[str | None]:
    """Canonical SMILES (None: invalid) of graph codes N×(M + M²) under the vocabulary ``graph`` (DataInfo.graph)."""
    return molecules_of(codes, MolVocab.from_dict(graph))


def _molecules(i: Any) -> dict[str, float]:
    from .molecules import molecule_scores, scaffold_similarity

    out = molecule_scores(i["fake"], i["real"])
    out["vun"] = out["valid"] * out["unique"] * out["novel"]  # = distinct valid molecules not in the training set / N
    out["scaf1"] = scaffold_similarity(i["fake"], i["real"], min_rings=1)  # small molecules rarely have two rings
    return out


def register(metrics: Any, metric_cls: Any) -> None:
    """Put the molecule metrics into the METRICS registry (called by gankit.metrics.evaluate)."""
    metrics.register("molecules", metric_cls(_molecules, dict(VALUES), ("graph",)),
                     help="molecules: validity, uniqueness, novelty, QED / SA / logP, internal diversity, fragment and scaffold "
                          "similarity (MOSES)")


def evaluate_graphs(fake_codes: torch.Tensor, info: Any, data_cfg: Any, metrics: list[str], metric_fns: Any, *, seed: int = 0,
                    reference_split: str = "train") -> dict[str, Any]:
    """Score generated graph codes against every molecule the model trained on (``data_cfg.split``: novelty means new to
    the model; ``reference_split`` is ignored); a flat dict with provenance."""
    reference_split = data_cfg.split
    real = build_dataset(data_cfg, reference_split).smiles
    fake = codes_to_smiles(fake_codes, info.graph)
    inputs = {"fake": fake, "real": real, "seed": seed}
    result: dict[str, Any] = {}
    for m in metrics:
        metric = metric_fns.get(m)
        result.update({k: float(v) for k, v in metric.fn(inputs).items() if k in metric.values})
    result.update({"metrics": list(metrics), "extractor": "none (RDKit)", "n_fake": int(len(fake)), "n_real": int(len(real)),
                   "reference": f"{data_cfg.name}/{reference_split}", "seed": seed, "gankit_version": __version__})
    return result


__all__ = ["VALUES", "codes_to_smiles", "evaluate_graphs", "register"]
