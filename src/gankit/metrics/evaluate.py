"""Scoring samples: samples -> features -> statistics -> score, with provenance and cached reference features.

:data:`METRICS` maps a metric name (as used in ``eval.metrics`` and ``gankit evaluate --metrics``) to a
:class:`Metric`: a pure function of :class:`Inputs` returning a flat dict of numbers. :func:`evaluate_samples`
builds the inputs once for all requested metrics. Scoring a run's model and the real-vs-real floor live one layer
up, in :mod:`gankit.evaluation`.

Reference features are cached on disk under a SHA-256 of everything that determines them (dataset config,
split, extractor and its weights' hash, sample count, seed), written atomically; never under a free-text name.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..data import build_dataset
from ..data.images import FewLabelData, ImageData, quantize, to_float
from ..data.molecules import MolData, to_codes
from ..data.tables.data import TableData
from ..data.toy import ToyMixture
from ..errors import ConfigError, DataError
from ..registry import Registry
from ..types import schema as schema_named
from ..version import __version__
from ._common import cache_root
from .blind import blind_critics
from .features import Extractor, build_extractor
from .fid import feature_stats, fid, fid_from_stats, fid_infinity, fid_infinity_from_stats
from .inception_score import inception_score
from .kid import kid
from .memorization import memorization
from .modes import class_coverage, mode_coverage
from .prdc import prdc
from .two_sample import c2st

CACHE_VERSION = 1


@dataclass
class Inputs:
    """Everything a metric may use. Features are float64 N×F; probs N×K; samples in data space."""

    real: np.ndarray
    fake: np.ndarray
    fake_samples: torch.Tensor
    info: Any
    seed: int = 0
    real_probs: np.ndarray | None = None
    fake_probs: np.ndarray | None = None
    real_labels: np.ndarray | None = None
    heldout: np.ndarray | None = None
    ref_stats: tuple[np.ndarray, np.ndarray] | None = None
    _prdc: dict[str, float] | None = None

    def prdc(self) -> dict[str, float]:
        """Precision/recall (k=3) and density/coverage (k=5), computed once for both metrics."""
        if self._prdc is None:
            self._prdc = prdc(self.real, self.fake, k_pr=3, k_dc=5)
        return self._prdc


@dataclass(frozen=True)
class Metric:
    """A score: ``fn(inputs) -> {name: value}``.

    ``values`` lists every value it reports with its direction (True: higher is better); the first is the
    primary one, used by default to keep the best generator (any of them may be ``eval.best_metric``).
    """

    fn: Callable[[Inputs], dict[str, float]]
    values: dict[str, bool]
    needs: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        return next(iter(self.values))


METRICS: Registry[Metric] = Registry("metrics", lambda m: isinstance(m, Metric), "a gankit.metrics.evaluate.Metric")


def _fid(i: Inputs) -> dict[str, float]:
    if i.ref_stats is not None:
        return {"fid": fid_from_stats(*i.ref_stats, *feature_stats(i.fake))}  # reference first, as fid(real, fake)
    return {"fid": fid(i.real, i.fake)}


def _kid(i: Inputs) -> dict[str, float]:
    mean, std = kid(i.real, i.fake, subsets=100, subset_size=1000, seed=i.seed)
    return {"kid": mean, "kid_std": std}


def _fid_inf(i: Inputs) -> dict[str, float]:
    if i.ref_stats is not None:
        return {"fid_inf": fid_infinity_from_stats(*i.ref_stats, i.fake, seed=i.seed)[0]}
    return {"fid_inf": fid_infinity(i.real, i.fake, seed=i.seed)[0]}


def _pr(i: Inputs) -> dict[str, float]:
    out = i.prdc()
    return {"precision": out["precision"], "recall": out["recall"]}


def _dc(i: Inputs) -> dict[str, float]:
    out = i.prdc()
    return {"density": out["density"], "coverage": out["coverage"]}


def _is(i: Inputs) -> dict[str, float]:
    mean, std = inception_score(i.fake_probs, splits=10)
    return {"is": mean, "is_std": std}


def _c2st(i: Inputs) -> dict[str, float]:
    out = c2st(i.real, i.fake, seed=i.seed)
    return {"c2st_accuracy": out["accuracy"], "c2st_p_value": out["p_value"]}


def _c2st_blind(i: Inputs) -> dict[str, float]:
    steps = min(3, i.real.shape[1])  # 2-D points allow two directions; the third value is then nan
    out = blind_critics(i.real, i.fake, steps=steps, seed=i.seed)
    got = {f"{name}_{s['step']}": s[key] for s in out["steps"] for name, key in (("blind_acc", "accuracy"), ("blind_knn", "knn_accuracy"))}
    return {f"{name}_{k}": got.get(f"{name}_{k}", math.nan) for name in ("blind_acc", "blind_knn") for k in (1, 2, 3)}


def _modes(i: Inputs) -> dict[str, float]:
    out = mode_coverage(i.fake_samples.numpy(), np.asarray(i.info.centers), i.info.std)
    return {"modes": out["modes"], "hq_fraction": out["hq_fraction"], "reverse_kl": out["reverse_kl"]}


def _classes(i: Inputs) -> dict[str, float]:
    k = i.fake_probs.shape[1]
    if i.real_labels is not None and i.info.num_classes == k:  # a class subset (data.classes) is read by the classifier
        data_hist = np.bincount(i.real_labels, minlength=k).astype(np.float64)
    else:
        data_hist = np.bincount(i.real_probs.argmax(1), minlength=k).astype(np.float64)
    out = class_coverage(i.fake_probs, k, data_hist=data_hist / data_hist.sum())
    return {"classes": out["classes"], "class_kl": out["kl"]}


def _memorization(i: Inputs) -> dict[str, float]:
    out = memorization(i.real, i.fake, i.heldout)
    return {"mem_ratio": out["ratio"], "copy_fraction": out["copy_fraction"]}


METRICS.register("fid", Metric(_fid, {"fid": False}), help="Fréchet distance of Gaussian fits in feature space")
METRICS.register("kid", Metric(_kid, {"kid": False, "kid_std": False}), help="kernel inception distance: unbiased MMD², cubic kernel, 100×1000")
METRICS.register("fid_inf", Metric(_fid_inf, {"fid_inf": False}),
                 help="FID extrapolated to N=∞ from 15 subsets of the samples (Chong & Forsyth 2020)")
METRICS.register("pr", Metric(_pr, {"recall": True, "precision": True}), help="precision / recall, k=3 (Kynkäänniemi et al. 2019)")
METRICS.register("dc", Metric(_dc, {"coverage": True, "density": True}), help="density / coverage, k=5 (Naeem et al. 2020)")
METRICS.register("is", Metric(_is, {"is": True, "is_std": False}, ("probs",)), help="inception score from the extractor's class probabilities")
METRICS.register("c2st", Metric(_c2st, {"c2st_accuracy": False, "c2st_p_value": True}), help="classifier two-sample test: held-out accuracy (0.5 = indistinguishable)")
METRICS.register("c2st-blind", Metric(_c2st_blind, {f"blind_{c}_{k}": False for c in ("acc", "knn") for k in (1, 2, 3)}),
                 help="defect-blind critics: held-out accuracy of 3 linear C2STs (blind_acc_k) and of the k-NN C2ST (blind_knn_k), "
                      "each after removing the earlier linear critics' directions")
METRICS.register("modes", Metric(_modes, {"modes": True, "hq_fraction": True, "reverse_kl": False}, ("points",)),
                 help="points with known modes: modes recovered, high-quality fraction, reverse KL (VEEGAN/PacGAN)")
def _ppl(i: Inputs) -> dict[str, float]:
    raise ConfigError("ppl scores a generator, not samples: use gankit evaluate RUN --metrics ppl (or gankit.metrics.ppl)")


METRICS.register("ppl", Metric(_ppl, {"ppl": False, "ppl_std": False}, ("generator",)),
                 help="perceptual path length (Karras et al. 2019) of a style-based G in w (or any G in z); gankit evaluate RUN only")
METRICS.register("classes", Metric(_classes, {"class_kl": False, "classes": True}, ("probs",)), help="labelled images: classes found and KL to the data's class histogram")
METRICS.register("memorization", Metric(_memorization, {"mem_ratio": True, "copy_fraction": False}, ("heldout",)), help="nearest-training-neighbour distances vs held-out reals")

from . import molecule_scores, pair_scores, table_scores, translation  # noqa: E402 - the table, molecule, restoration and translation metrics register here

table_scores.register(METRICS, Metric)
molecule_scores.register(METRICS, Metric)
pair_scores.register(METRICS, Metric)
translation.register(METRICS, Metric)

# --------------------------------------------------------------------------- reference features (cached)


def _data_key(data_cfg: Any, split: str) -> dict[str, Any]:
    fields = ("name", "path", "resolution", "channels", "modes", "radius", "spacing", "std")
    key = {f: getattr(data_cfg, f) for f in fields}
    if key["path"]:
        key["path"] = str(Path(key["path"]).resolve())
    for f in ("dim", "classes", "labels_per_class", "label_seed", "unlabelled"):  # named only when set: older keys stay valid
        if getattr(data_cfg, f, None):
            key[f] = getattr(data_cfg, f)
    key["split"] = split
    return key


def reference_key(data_cfg: Any, split: str, extractor: Extractor, n: int, seed: int) -> str:
    """SHA-256 of everything that determines a reference feature set."""
    doc = {"data": _data_key(data_cfg, split), "extractor": extractor.name, "weights": extractor.weights_sha256,
           "resize": extractor.resize, "n": n, "seed": seed, "version": CACHE_VERSION}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def real_samples(data_cfg: Any, split: str, n: int, seed: int) -> tuple[torch.Tensor, np.ndarray | None]:
    """Up to ``n`` real samples of a split in data space (images: a seeded subset when the split is larger)."""
    data = build_dataset(data_cfg, split)
    if isinstance(data, ToyMixture):
        return data.sample(n, torch.Generator().manual_seed(seed + (0 if split == "train" else 7919))), None
    if isinstance(data, MolData):  # graph codes of a seeded subset of the split's molecules
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n].sort().values.numpy()
        return to_codes(data.nodes[idx], data.edges[idx]), None
    if isinstance(data, TableData):  # codes of a seeded subset of the split's rows
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        return torch.from_numpy(data.codes)[idx], None
    if not isinstance(data, ImageData):  # a streamed folder: decode a seeded subset
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
        x = torch.stack([data[int(i)][0] for i in idx])
        labels = data.labels[idx].numpy() if data.labels is not None else None
        return to_float(x), labels
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n] if len(data) > n else torch.arange(len(data))
    hidden = isinstance(data, FewLabelData)  # the few-label protocol: most labels hidden, none read
    labels = data.labels[idx].numpy() if data.labels is not None and not hidden else None
    return to_float(data.images[idx]), labels


def reference_features(data_cfg: Any, split: str, extractor: Extractor, n: int, seed: int = 0) -> dict[str, Any]:
    """Features (and probs, labels) of ≤ n real samples, from the on-disk cache when present."""
    if extractor.name == "identity":  # toys: sampling is cheaper than a cache
        x, labels = real_samples(data_cfg, split, n, seed)
        return {"features": x.flatten(1).double().numpy(), "probs": None, "labels": labels, "n": len(x), "cached": False}
    key = reference_key(data_cfg, split, extractor, n, seed)
    path = cache_root() / "reference" / f"{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return {"features": z["features"].astype(np.float64), "probs": z["probs"].astype(np.float64) if z["probs"].size else None,
                    "labels": z["labels"] if z["labels"].size else None, "n": int(z["features"].shape[0]), "cached": True}
    x, labels = real_samples(data_cfg, split, n, seed)
    out = extractor(x)
    _save_npz_atomic(path, features=out["features"].astype(np.float32),
                     probs=out["probs"].astype(np.float32) if out["probs"] is not None else np.zeros(0, np.float32),
                     labels=labels if labels is not None else np.zeros(0, np.int64))
    # Rounded to float32 as stored, so that a first (computing) and a later (cached) call give identical values.
    probs = out["probs"].astype(np.float32).astype(np.float64) if out["probs"] is not None else None
    return {"features": out["features"].astype(np.float32).astype(np.float64), "probs": probs,
            "labels": labels, "n": len(x), "cached": False}


# --------------------------------------------------------------------------- pytorch-fid style statistics files


def save_stats(path: str | Path, mu: np.ndarray, sigma: np.ndarray) -> Path:
    """Write ``mu`` (F) and ``sigma`` (F×F) to a .npz readable by pytorch-fid."""
    path = Path(path)
    _save_npz_atomic(path, mu=np.asarray(mu, np.float64), sigma=np.asarray(sigma, np.float64))
    return path


def load_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read pytorch-fid style statistics (``mu``, ``sigma``) from a .npz, never unpickling."""
    p = Path(path)
    try:
        z = np.load(p, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):  # a plain .npy: one array, not mu and sigma
            raise ValueError("a single array, not an archive")
        with z:
            mu, sigma = z["mu"].astype(np.float64), z["sigma"].astype(np.float64)
    except FileNotFoundError:
        raise DataError(f"{p}: no such statistics file; give a .npz with arrays mu and sigma") from None
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise DataError(f"{p}: not a statistics .npz with arrays mu (F) and sigma (F×F) ({reason})") from None
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise DataError(f"{p}: mu has shape {mu.shape} and sigma {sigma.shape}; expected (F,) and (F, F)")
    return mu, sigma


# --------------------------------------------------------------------------- running metrics


def check_metrics(names: list[str], info: Any, extractor: Extractor | None = None) -> None:
    """Refuse metrics that cannot apply to this data / extractor before any work."""
    for name in names:
        m = METRICS.get(name, "--metrics")
        if "points" in m.needs and (info.schema != "points" or not info.centers):
            raise ConfigError(f"--metrics: {name} needs points from a mixture with known modes; {info.name!r} is {info.schema} data")
        if info.schema == "domains" or "domains" in m.needs:  # translated images: their own score only
            if info.schema != "domains":
                raise ConfigError(f"--metrics: {name} scores translation runs (pix2pix, cyclegan, stargan); {info.name!r} is {info.schema} data")
            if name != "translation":
                raise ConfigError(f"--metrics: {name} does not apply to translation runs; use translation")
            continue
        if info.schema == "pairs" or "pairs" in m.needs:  # restored photos: their own scores and the feature-based ones
            if info.schema != "pairs":
                raise ConfigError(f"--metrics: {name} scores restored photos (superres, inpaint runs); {info.name!r} is {info.schema} data")
            if m.needs and "pairs" not in m.needs:
                raise ConfigError(f"--metrics: {name} does not apply to restored photos; use restoration, hole, fid, kid, pr, dc")
            continue
        own = OWN_SCHEMAS & set(m.needs)  # metrics of one schema only (tables, molecules)
        if (own != ({info.schema} & OWN_SCHEMAS)) and name != "ppl":
            if info.schema in OWN_SCHEMAS:
                takes = [e.name for e in METRICS.entries() if info.schema in e.obj.needs]
                raise ConfigError(f"--metrics: {name} scores {'images or points' if not own else 'tables' if 'table' in own else 'molecules'}; "
                                  f"{'a table' if info.schema == 'table' else 'a molecule set'} takes: {', '.join(takes)}")
            raise ConfigError(f"--metrics: {name} scores {'tables' if 'table' in own else 'molecules'}; {info.name!r} is {info.schema} data")
        if "simulated" in m.needs and not (info.table or {}).get("simulated"):
            raise ConfigError(f"--metrics: {name} needs a table with a known model (data.table=grid, gridr, ring, asia or child); "
                              f"{info.name!r} has none")


OWN_SCHEMAS = {"table", "graph"}  # schemas whose metrics apply to them alone
STATS_METRICS = ("fid", "fid_inf")  # the scores a statistics file (mu, sigma) is enough for


def evaluate_samples(fake_samples: torch.Tensor, info: Any, data_cfg: Any, metrics: list[str], *,
                     extractor: Extractor | None = None, n_real: int | None = None, seed: int = 0,
                     reference_split: str = "train", ref_stats: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Score generated samples (N×… in data space) against real data; returns a flat dict with provenance.

    Images are first rounded to 8 bits (:func:`~gankit.data.images.quantize`), the grid real images come from.
    With ``ref_stats`` (pytorch-fid ``mu`` F, ``sigma`` F×F) the reference is the statistics file and no real data is
    read: only :data:`STATS_METRICS` apply, and ``data_cfg`` may be None.
    """
    check_metrics(metrics, info)
    if info.schema == "graph":
        return molecule_scores.evaluate_graphs(fake_samples, info, data_cfg, metrics, METRICS, seed=seed, reference_split=reference_split)
    if info.schema == "domains":
        return translation.evaluate_domains(fake_samples, info, data_cfg, metrics, seed=seed)
    if info.schema == "pairs":
        return pair_scores.evaluate_pairs(fake_samples, info, data_cfg, metrics, METRICS, Inputs, extractor=extractor, seed=seed)
    if info.schema == "table":
        return table_scores.evaluate_table(fake_samples, info, data_cfg, metrics, METRICS, n_real=n_real, seed=seed,
                                           reference_split=reference_split)
    if ref_stats is not None and set(metrics) - set(STATS_METRICS):
        raise ConfigError(f"--metrics: a statistics file (mu, sigma) only gives {', '.join(STATS_METRICS)}; "
                          f"for {', '.join(m for m in metrics if m not in STATS_METRICS)} score against a dataset")
    if schema_named(info.schema).quantized:
        fake_samples = quantize(fake_samples)
    extractor = extractor or build_extractor(info.extractor_name)
    need_probs = any("probs" in METRICS.get(m).needs for m in metrics)
    fake = extractor(fake_samples)
    if need_probs and fake["probs"] is None:
        raise ConfigError(f"--metrics: {', '.join(m for m in metrics if 'probs' in METRICS.get(m).needs)} need class "
                          f"probabilities; extractor {extractor.name!r} gives features only")
    if ref_stats is not None:
        if ref_stats[0].shape[0] != fake["features"].shape[1]:
            raise DataError(f"the statistics have {ref_stats[0].shape[0]} features but extractor {extractor.name!r} gives "
                            f"{fake['features'].shape[1]}; compute them with the same extractor or choose it with --extractor")
        ref = {"features": np.zeros((0, fake["features"].shape[1])), "probs": None, "labels": None, "n": None}
    else:
        ref = reference_features(data_cfg, reference_split, extractor, n_real or len(fake_samples), seed)
    heldout = None
    if any("heldout" in METRICS.get(m).needs for m in metrics):
        held_split = "test" if reference_split == "train" else "train"
        heldout = reference_features(data_cfg, held_split, extractor, n_real, seed + 1)["features"]
    inputs = Inputs(ref["features"], fake["features"], fake_samples.cpu(), info, seed, ref["probs"], fake["probs"],
                    ref["labels"], heldout, ref_stats)
    result: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in metrics:
            result.update({k: float(v) for k, v in METRICS.get(name).fn(inputs).items()})
    result.update({"metrics": list(metrics), **extractor.provenance(), "n_fake": int(len(fake_samples)),
                   "fake_8bit": bool(schema_named(info.schema).quantized),
                   "reference": f"{data_cfg.name}/{reference_split}" if ref_stats is None else "statistics file",
                   "seed": seed, "gankit_version": __version__})
    if ref["n"] is not None:
        result["n_real"] = int(ref["n"])
    if caught:
        result["warnings"] = sorted({str(w.message).splitlines()[0] for w in caught})
    return result


def value_direction(name: str) -> bool | None:
    """True when a higher value of ``name`` (any value a metric reports) is better; None for unknown names."""
    for entry in METRICS.entries():
        if name in entry.obj.values:
            return entry.obj.values[name]
    return None


def is_better(metric: str, new: float, old: float | None) -> bool:
    """Whether ``new`` improves on ``old`` for the value named ``metric`` (NaN never improves)."""
    if not math.isfinite(new):
        return False
    if old is None or not math.isfinite(old):
        return True
    return new > old if value_direction(metric) else new < old
