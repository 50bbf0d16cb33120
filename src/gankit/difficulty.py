"""What makes a dataset hard for a GAN, measured from the data alone, before any training (``gankit difficulty``).

The descriptors (issue 23, "dataset difficulty"): for a dataset's training split, on at most ``n`` samples,

* **size**: samples, the ambient dimension D (pixels or coordinates) and samples per dimension;
* **intrinsic dimension** on the data (pixels, coordinates: ``id_mle``, ``id_twonn``) and on the dataset's feature
  extractor for images (digits: ``digits-cnn``; ``id_mle_features``, ``id_twonn_features``): Levina–Bickel MLE and
  TwoNN (:mod:`gankit.metrics.intrinsic`);
* **modes**: classes (labelled data) or mixture components (toys), and their balance — the entropy of their
  frequencies over log K (1: all equally frequent);
* **overlap**: the fraction of each sample's 10 nearest neighbours in feature space (coordinates for toys) that
  belong to another class or mixture component (0: classes apart); toys also give ``overlap_gauss`` = 2Φ(−δ/2σ), the
  chance that a sample of one component lands nearer the closest other centre (δ the smallest distance between
  centres, σ the component std), the separation δ/σ and the relative width σ / (the data's RMS distance from its mean);
* **the floor**: every default metric between two disjoint real splits (``gankit evaluate --real-vs-real``), the best
  a generator can reach;
* **the prediction** (``preset=``): the coverage (Naeem et al. 2020, k = 5) the preset will reach, and for image
  presets its FID, from a least-squares line on these descriptors fitted by ``benchmarks/difficulty.py`` on a family
  of datasets of controlled difficulty (``difficulty_fit.json``; its leave-one-dataset-out rank correlation is on
  docs/benchmarks/difficulty.md). A prediction for a preset the fit did not train is refused.
"""
from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

import numpy as np
from scipy.stats import norm

from .data import build_dataset, info_of
from .errors import ConfigError
from .metrics.evaluate import real_samples
from .metrics.features import build_extractor
from .metrics.intrinsic import mle_dimension, twonn_dimension
from .version import __version__


def class_balance(labels: np.ndarray, k: int) -> float:
    """Entropy of the class frequencies over log K (1: balanced; K = 1 gives 1)."""
    p = np.bincount(labels, minlength=k).astype(np.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum() / math.log(k)) if k > 1 else 1.0


def neighbour_overlap(features: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean fraction of each sample's k nearest neighbours (features, Euclidean) whose class differs from its own."""
    from sklearn.neighbors import NearestNeighbors

    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return float((labels[idx[:, 1:]] != labels[:, None]).mean())


def separation(centers: np.ndarray, std: float) -> float:
    """δ/σ: the smallest distance between two centres in units of the component std (inf for one centre)."""
    c = np.asarray(centers, dtype=np.float64)
    if len(c) < 2:
        return math.inf
    d = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))
    return float(d[np.triu_indices(len(c), 1)].min() / std)


def relative_width(points: np.ndarray, std: float) -> float:
    """σ over the data's RMS distance from its mean: how narrow each component is against the whole cloud."""
    x = np.asarray(points, dtype=np.float64)
    return float(std / math.sqrt(((x - x.mean(0)) ** 2).sum(1).mean()))


def mixture_overlap(centers: np.ndarray, std: float) -> float:
    """2Φ(−δ/2σ): the probability that an isotropic Gaussian sample falls past the midpoint toward the nearest other
    centre, δ the smallest distance between two centres."""
    c = np.asarray(centers, dtype=np.float64)
    if len(c) < 2:
        return 0.0
    d = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))
    delta = d[np.triu_indices(len(c), 1)].min()
    return float(2 * norm.cdf(-delta / (2 * std)))


#: the descriptors a difficulty fit may use, as functions of describe()'s output (chosen before any training)
PREDICTORS = {
    "log2_modes": lambda d: math.log2(d["modes"]),
    "overlap": lambda d: d["overlap"],
    "log2_id": lambda d: math.log2(d.get("id_twonn_features", d["id_twonn"])),
}


def load_fit() -> dict[str, Any]:
    """The fit benchmarks/difficulty.py wrote (``gankit/difficulty_fit.json``)."""
    return json.loads(resources.files("gankit").joinpath("difficulty_fit.json").read_text())


def predict(descriptors: dict[str, Any], preset: str, fit: dict[str, Any] | None = None) -> dict[str, float]:
    """What ``preset`` will reach on the described dataset: {"predicted_<target>": value} for each target the fit has for
    that preset. Each is ``intercept + Σ coef · feature`` (features: PREDICTORS, plus ``image`` = 1 for image data),
    coverage clipped to [0, 1] and FID to ≥ 0."""
    fit = fit or load_fit()
    if preset not in fit["presets"]:
        raise ConfigError(f"--preset: no difficulty fit for {preset!r}; benchmarks/difficulty.py fitted "
                          f"{', '.join(fit['presets'])}")
    if "modes" not in descriptors:
        raise ConfigError(f"--preset: {descriptors['dataset']!r} has no classes or modes; the fit needs them")
    x = {name: f(descriptors) for name, f in PREDICTORS.items()}
    x["image"] = float(descriptors["schema"] == "image")
    out = {}
    for target, model in fit["targets"].items():
        if preset not in model["presets"]:
            continue
        value = model["intercept"] + sum(c * x[f] for f, c in zip(model["features"], model["coef"]))
        out[f"predicted_{target}"] = float(np.clip(value, 0.0, 1.0) if target == "coverage" else max(value, 0.0))
    return out


def describe(data_cfg: Any, n: int = 2000, seed: int = 0, extractor: str | None = None, floor: bool = True,
             preset: str | None = None) -> dict[str, Any]:
    """The descriptors of the dataset ``data_cfg`` names (see the module doc), a flat dict with provenance; with
    ``preset``, also what that preset is predicted to reach (:func:`predict`)."""
    data = build_dataset(data_cfg, "train")
    info = info_of(data, data_cfg.name)
    if info.schema not in ("image", "points"):
        raise ConfigError(f"difficulty: describes image and point datasets; {data_cfg.name!r} is {info.schema} data")
    x, labels = real_samples(data_cfg, "train", n, seed)
    pixels = x.flatten(1).double().numpy()
    out: dict[str, Any] = {"dataset": data_cfg.name, "schema": info.schema,
                           "samples": len(data) if info.schema == "image" else "unbounded (sampled fresh)",
                           "dimension": int(pixels.shape[1]), "n": int(len(pixels))}
    if info.schema == "image":
        out["samples_per_dimension"] = len(data) / pixels.shape[1]
    out["id_mle"], out["id_twonn"] = mle_dimension(pixels), twonn_dimension(pixels)
    ext_name = extractor or info.extractor_name
    features = pixels
    if info.schema == "image":
        ext = build_extractor(ext_name)
        features = ext(x)["features"]
        out["extractor"] = ext_name
        out["id_mle_features"], out["id_twonn_features"] = mle_dimension(features), twonn_dimension(features)
    if info.schema == "points":
        out["modes"] = len(info.centers)
        out["mode_balance"] = 1.0  # the toys' components are equally weighted
        import torch  # the same draws as real_samples, with the component of each

        _, component = data.sample_labelled(len(pixels), torch.Generator().manual_seed(seed))
        out["overlap"] = neighbour_overlap(features, component.numpy())
        out["overlap_gauss"] = mixture_overlap(np.asarray(info.centers), info.std)
        out["separation"] = separation(np.asarray(info.centers), info.std)
        out["relative_width"] = relative_width(pixels, info.std)
    elif labels is not None:
        out["modes"] = int(info.num_classes)
        out["mode_balance"] = class_balance(labels, info.num_classes)
        out["overlap"] = neighbour_overlap(features, labels)
    if floor:
        from .evaluation import real_vs_real
        from .types import schema

        metrics = [m for m in schema(info.schema).metrics if info.schema == "points" or m in ("fid", "pr", "dc")]
        if info.schema == "image" and ext_name == "inception-v3-fid":
            metrics = []  # the Inception weights come from a user path: ask for the floor with gankit evaluate --real-vs-real
        if metrics:
            rvr = real_vs_real(data_cfg, metrics, n, seed=seed, extractor=ext_name if info.schema == "image" else None)
            out.update({f"floor_{k}": v for k, v in rvr.items() if isinstance(v, float) and k != "seed"})
    if preset:
        out.update(predict(out, preset))
    out.update({"seed": seed, "gankit_version": __version__})
    return out


__all__ = ["describe", "predict", "load_fit", "PREDICTORS", "class_balance", "neighbour_overlap", "mixture_overlap", "separation", "relative_width"]
