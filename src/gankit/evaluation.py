"""Scoring a run's model (``gankit evaluate RUN``) and the floor every model is compared with (``--real-vs-real``).

:func:`evaluate_run` loads RUN's export as its task's pipeline, draws samples, scores them with
:func:`gankit.metrics.evaluate.evaluate_samples` against the data the run's config names, and appends an ``eval``
event with provenance to RUN/metrics.jsonl. ``ppl`` runs on the generator itself. :func:`real_vs_real` scores two
disjoint real splits against each other with the same metrics: the best any model can hope for.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import load_file
from .data import DataInfo, build_dataset, info_of
from .errors import ConfigError
from .io.rundir import MetricsLog
from .metrics.evaluate import check_metrics, evaluate_samples, load_stats, real_samples
from .metrics.features import build_extractor
from .sampling import is_style_based
from .tasks import load_pipeline
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
    ext = build_extractor(extractor or info.extractor_name, weights=weights)
    other, _ = real_samples(data_cfg, "test", n, seed + 1)
    result = evaluate_samples(other, info, data_cfg, metrics, extractor=ext, n_real=n, seed=seed)
    result["reference"] = f"{data_cfg.name}/train vs {data_cfg.name}/test"
    return result


__all__ = ["evaluate_run", "real_vs_real", "run_ppl", "default_ppl_distance"]
