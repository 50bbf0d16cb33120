"""Scoring a run's model (``gankit evaluate RUN``) and the floor every model is compared with (``--real-vs-real``).

:func:`evaluate_run` loads RUN's export as its task's pipeline, draws samples, scores them with
:func:`gankit.metrics.evaluate.evaluate_samples` against the data the run's config names, and appends an ``eval``
event with provenance to RUN/metrics.jsonl. ``ppl`` runs on the generator itself. :func:`real_vs_real` scores two
disjoint real splits against each other with the same metrics: the best any model can hope for.
:func:`evaluate_files` scores samples that any model wrote to files (a folder of images, a .npy, a .npz) against a
gankit dataset or a pytorch-fid statistics file, through the same 8-bit path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .config import data_config, dataset_of, load_file
from .data import DATASETS, DataInfo, build_dataset, info_of
from .data.samples import read_samples
from .errors import ConfigError, DataError
from .io.rundir import MetricsLog
from .metrics.evaluate import check_metrics, evaluate_samples, load_stats, real_samples
from .metrics.features import build_extractor
from .sampling import is_style_based
from .tasks import MolGANPipeline, PairPipeline, TablePipeline, TranslationPipeline, load_pipeline
from .types import schema
from .version import __version__


def default_ppl_distance(info: DataInfo) -> str:
    """Pixels for points; the dataset's classifier features where it has one (digits-cnn for digits / MNIST);
    LPIPS-VGG (weights from the user) otherwise."""
    if info.schema == "points":
        return "pixel"
    return "digits-cnn" if info.extractor == "digits-cnn" else "lpips-vgg"


def run_ppl(G: Any, info: DataInfo, n: int, seed: int, distance: str | None, weights: str | None,
            space: str | None) -> dict[str, Any]:
    """PPL of an exported generator with provenance: w space for style-based G, z otherwise."""
    from .metrics.ppl import build_distance, perceptual_path_length

    name = distance or default_ppl_distance(info)
    space = space or ("w" if is_style_based(G) else "z")
    out = perceptual_path_length(G, build_distance(name, weights=weights), n=n, space=space, sampling="end", seed=seed)
    return {"ppl": float(out["ppl"]), "ppl_std": float(out["ppl_std"]), "ppl_pairs": int(out["n"]), "ppl_distance": name,
            "ppl_space": space, "ppl_epsilon": 1e-4}


def evaluate_run(run_dir: str | Path, metrics: list[str], n: int, *, seed: int = 0, extractor: str | None = None,
                 weights: str | None = None, ref_stats: str | None = None, log: bool = True, ppl_distance: str | None = None,
                 ppl_weights: str | None = None, ppl_space: str | None = None) -> dict[str, Any]:
    """Evaluate a run's exported model; appends an ``eval`` event to RUN/metrics.jsonl.

    ``ppl`` (perceptual path length) runs on the generator itself: ``ppl_distance`` (default by dataset, see
    :func:`default_ppl_distance`), ``ppl_weights`` (LPIPS weights file), ``ppl_space`` (w or z; default w when style-based).
    """
    run_dir = Path(run_dir)
    pipe = load_pipeline(run_dir)
    info = DataInfo.from_dict(pipe.meta["data"])
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir}: no config.json; evaluate needs the run directory (it names the real data)")
    cfg = load_file(run_dir / "config.json")
    check_metrics([m for m in metrics if m != "ppl"], info)
    if ref_stats and metrics != ["fid"]:
        raise ConfigError("--ref-stats: a statistics file only supports --metrics fid")
    if "ppl" in metrics and pipe.meta.get("task", "gan") != "gan":
        raise ConfigError(f"--metrics ppl: perceptual path length measures a GAN's generator; this run is a {pipe.meta['task']}")
    stats = load_stats(ref_stats) if ref_stats else None
    ext = build_extractor(extractor or info.extractor_name, weights=weights)
    result: dict[str, Any] = {}
    requested = list(metrics)
    if "ppl" in metrics:
        result.update(run_ppl(pipe.module, info, n, seed, ppl_distance, ppl_weights, ppl_space))
        metrics = [m for m in metrics if m != "ppl"]
    if metrics:
        if isinstance(pipe, (PairPipeline, TranslationPipeline)):  # fixed test items, in the order the metric rebuilds them
            fake = pipe.eval_outputs(cfg.data, n, seed)
        elif isinstance(pipe, (TablePipeline, MolGANPipeline)):
            fake = pipe.codes(n, seed=seed + 1)
        else:
            fake = pipe(n, seed=seed + 1)
        result.update(evaluate_samples(fake, info, cfg.data, metrics, extractor=ext, n_real=n, seed=seed, ref_stats=stats))
    result.update({"metrics": requested, "seed": seed, "gankit_version": __version__})
    step = pipe.meta.get("step")
    if step is not None:
        result["step"] = step
    if log:
        MetricsLog(run_dir / "metrics.jsonl").write("eval", source="gankit evaluate", **result)
    return result


def real_vs_real(data_cfg: Any, metrics: list[str], n: int, *, seed: int = 0, extractor: str | None = None,
                 weights: str | None = None) -> dict[str, Any]:
    """The floor: every metric between two disjoint real splits (images: train vs test; points: two draws)."""
    info = info_of(build_dataset(data_cfg, "train"), data_cfg.name)
    held_out = [m for m in metrics if m in ("efficacy", "privacy", "likelihood")]
    if info.schema == "table" and held_out:
        raise ConfigError(f"--real-vs-real: {', '.join(held_out)} compare(s) generated rows with the held-out rows, which are "
                          "the second split here; the floor of a table is --metrics quality,detection (a run's efficacy "
                          "reports train-on-real as efficacy_real)")
    ext = build_extractor(extractor or info.extractor_name, weights=weights)
    other, _ = real_samples(data_cfg, "test", n, seed + 1)
    result = evaluate_samples(other, info, data_cfg, metrics, extractor=ext, n_real=n, seed=seed)
    result["reference"] = f"{data_cfg.name}/train vs {data_cfg.name}/test"
    return result


def is_stats_file(against: str | Path) -> bool:
    """Whether ``--against`` names a statistics file (``*.npz``) rather than a dataset."""
    return str(against).lower().endswith(".npz")


def evaluate_files(path: str | Path, against: str | Path, metrics: list[str] | tuple[str, ...] = (), *, n: int = 2500,
                   seed: int = 0, split: str | None = None, extractor: str | None = None, weights: str | None = None,
                   overrides: list[str] | tuple[str, ...] = (), max_samples: int | None = None) -> dict[str, Any]:
    """Score samples any model wrote to ``path`` against a dataset or a statistics file, as gankit's own samples are.

    Args:
        path: a folder of image files, a ``.npy`` or a ``.npz`` (conventions: :mod:`gankit.data.samples`); images are
            rounded to the 8-bit grid before the extractor sees them. A ``.csv`` is a synthetic table, scored against
            ``--against table`` with ``data.path=REAL.csv`` (or ``data.table=NAME``) by the table metrics.
        against: a dataset name (``gankit list``), or a pytorch-fid style ``.npz`` (mu F, sigma F×F), which allows
            only ``fid``.
        metrics: metric names; empty: the dataset schema's defaults (images fid, kid, pr, dc, classes; points modes),
            ``fid`` for a statistics file.
        n: at most this many real reference samples (the generated ones are all that ``path`` holds).
        split: the dataset's reference split, ``train`` (default) or ``test``.
        extractor, weights: the feature extractor (default: the dataset's, else the schema's: images
            inception-v3-fid, points identity) and its weights file.
        overrides: ``data.key=value`` options of the dataset; an image dataset's resolution and channels default to
            the samples' own.
        max_samples: score only the first this many samples (file or sorted-name order).

    Returns:
        a flat dict: the scores, the provenance of :func:`~gankit.metrics.evaluate.evaluate_samples`, ``samples``
        (the path), ``n_fake`` and ``reference`` (``dataset/split`` or the statistics file's path).
    """
    metrics = list(metrics)
    if "ppl" in metrics:
        raise ConfigError("--metrics ppl: perceptual path length needs the generator; score a run with gankit evaluate RUN")
    if split not in (None, "train", "test"):
        raise ConfigError(f"--split: {split!r} is not allowed; use train or test")
    if max_samples is not None and max_samples < 2:
        raise ConfigError(f"--max-samples: {max_samples} is too small; use at least 2")
    if str(path).lower().endswith(".csv"):
        return _table_file(path, against, metrics, n, seed, split or "train", overrides, max_samples)
    if is_stats_file(against):
        if metrics not in ([], ["fid"]):
            raise ConfigError(f"--against {Path(against).name}: a statistics file (mu, sigma) only gives --metrics fid; "
                              f"for {', '.join(m for m in metrics if m != 'fid')} score against a dataset")
        if overrides or split:
            raise ConfigError(f"--against {Path(against).name}: a statistics file takes no data options or --split; "
                              f"drop {(list(overrides) or ['--split'])[0]!r}")
        stats = load_stats(against)
        x = _read(path, max_samples)
        result = _against_stats(x, stats, Path(against), seed, extractor, weights)
    else:
        if str(against) not in DATASETS:
            raise ConfigError(f"--against: {str(against)!r} is neither a dataset ({', '.join(DATASETS.names())}) nor a "
                              f"statistics file STATS.npz; for a folder of real images use --against folder data.path=DIR")
        x = _read(path, max_samples)
        data_cfg = data_config({"name": str(against)}, _shape_options(x, str(against), path) + list(overrides))
        result = _against_dataset(x, data_cfg, metrics, path, n, seed, split or "train", extractor, weights)
    result.update({"samples": str(path), "n_fake": int(len(x))})
    return result


def _table_file(path: str | Path, against: str | Path, metrics: list[str], n: int, seed: int, split: str,
                overrides: list[str] | tuple[str, ...], max_samples: int | None) -> dict[str, Any]:
    """Rows of a CSV (any model's synthetic table) scored against a gankit table (``--against table data.path=...`` or
    ``data.table=NAME``), as a table model's own samples are."""
    from .data.tables.data import table_frame
    from .data.tables.schema import read_csv, to_codes

    if str(against) != "table":
        raise ConfigError(f"--samples {Path(path).name}: a CSV is scored against a table: --against table "
                          "data.path=REAL.csv (or data.table=NAME)")
    data_cfg = data_config({"name": "table"}, list(overrides))
    _, schema_, name, target, simulated = table_frame(data_cfg, split)
    rows = read_csv(path)[:max_samples]
    codes = torch.from_numpy(to_codes(rows, schema_, where=str(path)))
    info = DataInfo("table", (codes.shape[1],), name=name, table={"schema": schema_.to_dict(), "target": target, "simulated": simulated})
    metrics = metrics or list(schema("table").metrics)
    check_metrics(metrics, info)
    result = evaluate_samples(codes, info, data_cfg, metrics, n_real=n, seed=seed, reference_split=split)
    result.update({"samples": str(path), "n_fake": int(len(codes))})
    return result


def _read(path: str | Path, max_samples: int | None) -> torch.Tensor:
    """The samples of ``path`` (float32 N×C×H×W or N×D), the first ``max_samples`` of them; at least 2."""
    x = read_samples(path)[:max_samples]
    if len(x) < 2:
        raise DataError(f"{path}: holds {len(x)} sample(s); scores need at least 2 (FID at least a few thousand)")
    return x


def _shape_options(x: torch.Tensor, name: str, path: str | Path) -> list[str]:
    """data.resolution / data.channels taken from the samples for an image dataset (the user's overrides come after)."""
    kind = dataset_of(name).schema
    if kind == "image" and x.ndim != 4:
        raise DataError(f"{path}: holds points of shape {tuple(x.shape)}; {name} is an image dataset; "
                        f"give images N×C×H×W or N×H×W×C (uint8, or float in [-1, 1])")
    if kind == "points" and x.ndim != 2:
        raise DataError(f"{path}: holds images of shape {tuple(x.shape)}; {name} is a points dataset; give float N×D points")
    if kind != "image":
        return []
    c, h, w = x.shape[1:]
    if h != w:
        raise DataError(f"{path}: the images are {w}×{h}; {name} holds square images; give square samples, "
                        f"or score them against a statistics file (--against STATS.npz)")
    return [f"data.resolution={h}", f"data.channels={c}"]


def _against_dataset(x: torch.Tensor, data_cfg: Any, metrics: list[str], path: str | Path, n: int, seed: int, split: str,
                     extractor: str | None, weights: str | None) -> dict[str, Any]:
    info = info_of(build_dataset(data_cfg, split), data_cfg.name)
    if info.schema == "points" and tuple(x.shape[1:]) != tuple(info.shape):
        raise DataError(f"{path}: the points have {x.shape[1]} coordinates but {data_cfg.name} has {info.shape[0]}; "
                        f"give N×{info.shape[0]} points")
    metrics = metrics or list(schema(info.schema).metrics)
    check_metrics(metrics, info)  # before the extractor is built (digits-cnn may train, Inception loads weights)
    ext = build_extractor(extractor or info.extractor_name, weights=weights)
    return evaluate_samples(x, info, data_cfg, metrics, extractor=ext, n_real=n, seed=seed, reference_split=split)


def _against_stats(x: torch.Tensor, stats: tuple[Any, Any], stats_path: Path, seed: int, extractor: str | None,
                   weights: str | None) -> dict[str, Any]:
    """FID against a statistics file; the samples' own shape stands in for a dataset (schema image or points)."""
    info = DataInfo("image" if x.ndim == 4 else "points", tuple(x.shape[1:]), name=stats_path.name)
    ext = build_extractor(extractor or info.extractor_name, weights=weights)
    result = evaluate_samples(x, info, None, ["fid"], extractor=ext, seed=seed, ref_stats=stats)
    result["reference"] = str(stats_path)
    return result


__all__ = ["evaluate_files", "evaluate_run", "real_vs_real", "run_ppl", "default_ppl_distance", "is_stats_file"]
