"""Dataset difficulty predicted before training, validated by training (issue 23, the first instrument).

A family of 2-D mixtures of controlled difficulty — the ring with 8, 16 or 32 modes and the grid with 9, 25 or 49,
each with narrow and wide components (more modes; closer, overlapping modes) — is described by ``gankit difficulty``
(modes, overlap, intrinsic dimension, all from data alone), then the matching preset (``ring`` or ``grid``, unchanged
but for the data) trains on each for ``--seeds`` seeds, and mode coverage measures what it reached (modes recovered /
K and the high-quality fraction, 2,500 samples, the VEEGAN / PacGAN protocol). The predictor is a least-squares line
of the achieved score on three descriptors chosen before looking at the scores — log₂ K (how many modes to find),
log₂ δ/σ (how far apart they are, in component stds) and log₂ of the relative width σ / RMS spread of the data (how
precisely a sample must land) — fitted leave-one-dataset-out: each dataset's prediction comes from a line fitted on
the others, clipped to [0, 1]. The page reports Spearman's rank correlation between predicted and
achieved scores.

    python benchmarks/difficulty.py [--seeds 2] [--threads 1] [--rows benchmarks/rows/difficulty.jsonl] [--from-rows FILE]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]
FAMILY = [("ring", 8, 0.01), ("ring", 16, 0.01), ("ring", 32, 0.01), ("ring", 8, 0.05), ("ring", 16, 0.05), ("ring", 32, 0.05),
          ("grid", 9, 0.05), ("grid", 25, 0.05), ("grid", 49, 0.05), ("grid", 9, 0.2), ("grid", 25, 0.2), ("grid", 49, 0.2)]
FEATURES = ("log2_modes", "log2_separation", "log2_width")
TARGETS = ("coverage", "hq_fraction")


def run_one(toy: str, modes: int, std: float, seed: int) -> dict:
    """Descriptors of the dataset, then the preset trained on it and its mode coverage."""
    import gankit
    from gankit.config import data_config
    from gankit.difficulty import describe
    from gankit.metrics.modes import mode_coverage

    data = [f"data.modes={modes}", f"data.std={std}"]
    d = describe(data_config({"name": toy}, data), n=2000, seed=seed, floor=False)
    with tempfile.TemporaryDirectory() as tmp:
        summary = gankit.train(toy, out=Path(tmp) / "run", overrides=[*QUIET, *data, f"train.seed={seed}"])
        pipe = gankit.load(Path(tmp) / "run")
        cov = mode_coverage(pipe(2500, seed=seed).numpy(), __import__("numpy").asarray(pipe.meta["data"]["centers"]), std)
    return {"toy": toy, "modes": modes, "std": std, "seed": seed, "log2_modes": math.log2(modes), "overlap": d["overlap"],
            "log2_separation": math.log2(d["separation"]), "log2_width": math.log2(d["relative_width"]),
            "id_twonn": d["id_twonn"], "id_mle": d["id_mle"], "coverage": cov["modes"] / modes, "hq_fraction": cov["hq_fraction"],
            "steps": summary["step"], "wall_s": summary["wall_s"]}


def _separation(toy: str, modes: int, std: float) -> tuple[float, float]:
    """(δ/σ, relative width) of a toy, for rows written before these descriptors existed: as gankit difficulty computes
    them (the width from 2,000 samples, seed 0)."""
    import torch
    from gankit.config import data_config
    from gankit.data import build_dataset
    from gankit.difficulty import relative_width, separation

    mixture = build_dataset(data_config({"name": toy}, [f"data.modes={modes}", f"data.std={std}"]))
    x = mixture.sample(2000, torch.Generator().manual_seed(0)).double().numpy()
    return separation(mixture.centers.numpy(), std), relative_width(x, std)


def dataset_means(rows: list[dict]) -> list[dict]:
    """One row per dataset: descriptors, and the achieved scores averaged over seeds."""
    out: dict[tuple, dict] = {}
    for r in rows:
        if "log2_width" not in r:
            sep, width = _separation(r["toy"], r["modes"], r["std"])
            r = {**r, "log2_separation": math.log2(sep), "log2_width": math.log2(width)}
        key = (r["toy"], r["modes"], r["std"])
        d = out.setdefault(key, {"toy": r["toy"], "modes": r["modes"], "std": r["std"], "overlap": r["overlap"], **{f: r[f] for f in FEATURES},
                                 "id_twonn": r["id_twonn"], "_runs": []})
        d["_runs"].append(r)
    for d in out.values():
        runs = d.pop("_runs")
        d["seeds"] = len(runs)
        for t in TARGETS:
            d[t] = statistics.fmean(r[t] for r in runs)
    return list(out.values())


def loo_predictions(data: list[dict], target: str) -> list[float]:
    """Leave-one-dataset-out: each dataset's score predicted by least squares on FEATURES fitted on the others."""
    import numpy as np

    x = np.array([[1.0, *(d[f] for f in FEATURES)] for d in data])
    y = np.array([d[target] for d in data])
    preds = []
    for i in range(len(data)):
        keep = np.arange(len(data)) != i
        coef, *_ = np.linalg.lstsq(x[keep], y[keep], rcond=None)
        preds.append(float(np.clip(x[i] @ coef, 0.0, 1.0)))  # the scores are fractions
    return preds


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def write_page(rows: list[dict], path: Path, meta: dict) -> None:
    data = dataset_means(rows)
    preds = {t: loo_predictions(data, t) for t in TARGETS}
    rho = {t: spearman(preds[t], [d[t] for d in data]) for t in TARGETS}
    lines = ["# Dataset difficulty: predicted from the data, then measured by training", "",
             f"Written by `benchmarks/difficulty.py` on {meta.get('date', '?')} ({meta.get('seeds', '?')} seeds per dataset; "
             "torch threads 1). Descriptors from `gankit difficulty` (the data alone, 2,000 samples); achieved scores from "
             "the `ring` / `grid` preset trained unchanged on each dataset, 2,500 samples, the mode-coverage protocol "
             "(coverage = modes recovered / K; HQ = samples within 3σ of a centre). Predicted: a least-squares line on "
             "log₂ K, log₂ δ/σ (separation) and log₂ σ/RMS spread (relative width), fitted leave-one-dataset-out, clipped to "
             "[0, 1].", "",
             "| dataset | K | σ | δ/σ | overlap | ID (TwoNN) | coverage | predicted | HQ fraction | predicted |", "|" + "---|" * 10]
    for d, pc, ph in zip(data, preds["coverage"], preds["hq_fraction"]):
        lines.append(f"| {d['toy']} | {d['modes']} | {d['std']} | {2 ** d['log2_separation']:.3g} | {d['overlap']:.3g} | "
                     f"{d['id_twonn']:.2f} | {d['coverage']:.3f} | "
                     f"{pc:.3f} | {d['hq_fraction']:.3f} | {ph:.3f} |")
    lines += ["", f"Spearman's rank correlation, predicted against achieved, over {len(data)} datasets: coverage "
              f"**{rho['coverage']:.2f}**, HQ fraction **{rho['hq_fraction']:.2f}**.", ""]
    lines += [n + "\n" for n in meta.get("notes", [])]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", default=str(ROOT / "benchmarks" / "rows" / "difficulty.jsonl"))
    ap.add_argument("--from-rows", help="rewrite the page from a rows file without training")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.from_rows:
        rows = [json.loads(line) for line in Path(args.from_rows).read_text().splitlines() if line.strip()]
    else:
        rows = []
        out = Path(args.rows)
        out.unlink(missing_ok=True)
        for toy, modes, std in FAMILY:
            for seed in range(args.seeds):
                r = run_one(toy, modes, std, seed)
                rows.append(r)
                with out.open("a") as f:
                    f.write(json.dumps(r) + "\n")
                print(json.dumps(r), flush=True)
    meta = {"date": dt.date.today().isoformat(), "seeds": max(r["seed"] for r in rows) + 1, "notes": args.note}
    write_page(rows, ROOT / "docs" / "benchmarks" / "difficulty.md", meta)
    print(f"wrote {ROOT / 'docs' / 'benchmarks' / 'difficulty.md'}")


if __name__ == "__main__":
    main()
