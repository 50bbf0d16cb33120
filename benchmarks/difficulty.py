"""Dataset difficulty predicted before training, validated by training (issue 23, the first instrument).

Two families of datasets of controlled difficulty, each described by ``gankit difficulty`` from the data alone and then
trained on by its preset unchanged but for the data, ``--seeds`` seeds each:

* **toys** (presets ``ring`` / ``grid``): the ring with 8, 16 or 32 modes and the grid with 9, 25 or 49, narrow and
  wide components (more modes; closer, overlapping modes), and the 8-mode ring (σ 0.05) and 9-mode grid (σ 0.2) in 4,
  8 and 16 dimensions (``data.dim``: the same centres, isotropic noise in every coordinate — a higher intrinsic
  dimension);
* **digits** (preset ``digits``): scikit-learn's bundled digits with 2, 3, 5, 7 and all 10 classes (``data.classes``).

Achieved: coverage (Naeem et al. 2020, k = 5, 2,500 samples against the training split; coordinates for toys,
digits-cnn features for digits) for every dataset; FID (digits-cnn) for digits; modes recovered and the high-quality
fraction (VEEGAN protocol) for the 2-D toys. Predicted: least-squares lines on descriptors chosen before looking at
any score — coverage on log₂ K (modes / classes), kNN overlap, log₂ TwoNN intrinsic dimension (of the features) and
an image indicator, pooled over both families; digits' FID on log₂ K — each fitted leave-one-dataset-out (every
dataset's prediction comes from a line fitted on the others). The page reports Spearman's rank correlation between
predicted and achieved; the lines fitted on all datasets go to ``src/gankit/difficulty_fit.json``, which
``gankit difficulty DATASET --preset P`` applies.

    python benchmarks/difficulty.py [--family toys|digits|all] [--seeds 2] [--threads 1] [--from-rows]
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
ROWS = {"toys": ROOT / "benchmarks" / "rows" / "difficulty-toys.jsonl", "digits": ROOT / "benchmarks" / "rows" / "difficulty-digits.jsonl"}
FIT = ROOT / "src" / "gankit" / "difficulty_fit.json"
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]
# (preset, data overrides): each entry is one dataset
TOYS = [("ring", {"modes": m, "std": s}) for s in (0.01, 0.05) for m in (8, 16, 32)] + \
       [("grid", {"modes": m, "std": s}) for s in (0.05, 0.2) for m in (9, 25, 49)] + \
       [("ring", {"modes": 8, "std": 0.05, "dim": d}) for d in (4, 8, 16)] + [("grid", {"modes": 9, "std": 0.2, "dim": d}) for d in (4, 8, 16)]
DIGITS = [("digits", {"classes": list(range(k))}) for k in (2, 3, 5, 7)] + [("digits", {})]
FAMILIES = {"toys": TOYS, "digits": DIGITS}
COVERAGE_FEATURES = ("log2_modes", "overlap", "log2_id", "image")
FID_FEATURES = ("log2_modes",)
N_FAKE = 2500


def _overrides(data: dict) -> list[str]:
    return [f"data.{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in data.items()]


def label(preset: str, data: dict) -> str:
    """A dataset's name on the page: ring K=16 σ=0.05, grid K=9 σ=0.2 D=8, digits 0-4."""
    if preset == "digits":
        return f"digits {data['classes'][0]}-{data['classes'][-1]}" if data.get("classes") else "digits (all 10)"
    return f"{preset} K={data['modes']} σ={data['std']}" + (f" D={data['dim']}" if data.get("dim") else "")


def run_one(preset: str, data: dict, seed: int) -> dict:
    """Descriptors of the dataset, then the preset trained on it and what it reached."""
    import gankit
    from gankit.config import load_preset
    from gankit.difficulty import PREDICTORS, describe
    from gankit.evaluation import evaluate_run

    over = _overrides(data)
    d = describe(load_preset(preset, over).data, n=2000, seed=seed, floor=False)
    metrics = ["dc", "fid"] if d["schema"] == "image" else ["dc", "modes"]
    with tempfile.TemporaryDirectory() as tmp:
        summary = gankit.train(preset, out=Path(tmp) / "run", overrides=[*QUIET, *over, f"train.seed={seed}"])
        got = evaluate_run(Path(tmp) / "run", metrics, N_FAKE, seed=seed, log=False)
    row = {"preset": preset, "data": data, "dataset": label(preset, data), "seed": seed,
           **{k: d[k] for k in ("modes", "overlap", "id_twonn", "id_mle", "dimension") if k in d},
           **{k: d[k] for k in ("id_twonn_features", "overlap_gauss", "separation") if k in d},
           **{name: f(d) for name, f in PREDICTORS.items()}, "image": float(d["schema"] == "image"),
           "coverage": got["coverage"], "density": got["density"], "steps": summary["step"], "wall_s": summary["wall_s"]}
    if "fid" in got:
        row["fid"] = got["fid"]
    if "modes" in metrics:
        row["mode_coverage"], row["hq_fraction"] = got["modes"] / d["modes"], got["hq_fraction"]
    return row


def dataset_means(rows: list[dict]) -> list[dict]:
    """One row per dataset: descriptors (seed 0's) and the achieved scores averaged over seeds."""
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["dataset"], {**r, "_runs": []})["_runs"].append(r)
    for d in out.values():
        runs = d.pop("_runs")
        d["seeds"] = len(runs)
        for t in ("coverage", "density", "fid", "mode_coverage", "hq_fraction", "wall_s"):
            if t in d:
                d[t] = statistics.fmean(r[t] for r in runs)
    return list(out.values())


def fit_line(data: list[dict], target: str, features: tuple[str, ...]) -> tuple[float, list[float]]:
    """Least squares target ≈ intercept + Σ coef · feature; (intercept, coef)."""
    import numpy as np

    x = np.array([[1.0, *(d[f] for f in features)] for d in data])
    coef, *_ = np.linalg.lstsq(x, np.array([d[target] for d in data]), rcond=None)
    return float(coef[0]), [float(c) for c in coef[1:]]


def loo_predictions(data: list[dict], target: str, features: tuple[str, ...], clip: tuple[float, float]) -> list[float]:
    """Leave-one-dataset-out: each dataset's score predicted by a line fitted on the others, clipped to ``clip``."""
    preds = []
    for i in range(len(data)):
        b, coef = fit_line(data[:i] + data[i + 1:], target, features)
        preds.append(min(max(b + sum(c * data[i][f] for f, c in zip(features, coef)), clip[0]), clip[1]))
    return preds


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def fitted(data: list[dict]) -> dict:
    """The lines on all datasets, their LOO predictions and rank correlations: what the page shows and the fit file holds."""
    images = [d for d in data if d["image"]]
    out = {}
    for target, rows, feats, clip in (("coverage", data, COVERAGE_FEATURES, (0.0, 1.0)), ("fid", images, FID_FEATURES, (0.0, math.inf))):
        if len(rows) < len(feats) + 2:
            continue
        preds = loo_predictions(rows, target, feats, clip)
        b, coef = fit_line(rows, target, feats)
        fams = {"all": range(len(rows))}
        if target == "coverage":
            fams |= {"toys": [i for i, d in enumerate(rows) if not d["image"]], "digits": [i for i, d in enumerate(rows) if d["image"]]}
        rho = {k: spearman([preds[i] for i in idx], [rows[i][target] for i in idx]) for k, idx in fams.items() if len(idx) > 2}
        out[target] = {"features": list(feats), "intercept": b, "coef": coef, "presets": sorted({d["preset"] for d in rows}),
                       "datasets": len(rows), "loo_spearman": rho, "loo": dict(zip((d["dataset"] for d in rows), preds))}
    return out


def write_fit(fits: dict, meta: dict) -> None:
    doc = {"written_by": "benchmarks/difficulty.py", "date": meta.get("date"), "seeds": meta.get("seeds"),
           "presets": sorted({p for f in fits.values() for p in f["presets"]}),
           "targets": {t: {k: v for k, v in f.items() if k != "loo"} for t, f in fits.items()}}
    FIT.write_text(json.dumps(doc, indent=1) + "\n")


def _cell(v: float | None, fmt: str = ".3f") -> str:
    return "—" if v is None else format(v, fmt)


def write_page(rows: list[dict], path: Path, meta: dict) -> dict:
    data = dataset_means(rows)
    fits = fitted(data)
    cov, fid = fits.get("coverage", {}), fits.get("fid", {})
    lines = ["# Dataset difficulty: predicted from the data, then measured by training", "",
             f"Written by `benchmarks/difficulty.py` on {meta.get('date', '?')} ({meta.get('seeds', '?')} seeds per dataset; "
             "torch threads 1). Descriptors from `gankit difficulty` (the data alone, 2,000 samples: K modes or classes, the "
             "fraction of 10 nearest neighbours from another mode or class, TwoNN intrinsic dimension of the features — "
             "coordinates for toys, digits-cnn for digits). Achieved: each dataset's preset (`ring`, `grid`, `digits`) "
             "trained unchanged but for the data; coverage (Naeem et al. 2020, k = 5) and FID from 2,500 samples against "
             "the training split; for the 2-D toys also modes recovered / K and the fraction within 3σ of a centre (HQ). "
             "Predicted: least-squares lines fitted leave-one-dataset-out — coverage on log₂ K, overlap, log₂ ID and an "
             "image indicator (pooled over both families), digits' FID on log₂ K.", "",
             "| dataset | preset | K | overlap | ID | coverage | predicted | FID | predicted | modes / K | HQ |", "|" + "---|" * 11]
    for d in data:
        lines.append(f"| {d['dataset']} | {d['preset']} | {d['modes']} | {d['overlap']:.3f} | "
                     f"{2 ** d['log2_id']:.1f} | {d['coverage']:.3f} | {_cell(cov.get('loo', {}).get(d['dataset']))} | "
                     f"{_cell(d.get('fid'), '.1f')} | {_cell(fid.get('loo', {}).get(d['dataset']), '.1f')} | "
                     f"{_cell(d.get('mode_coverage') if d.get('dimension') == 2 else None, '.2f')} | "
                     f"{_cell(d.get('hq_fraction') if d.get('dimension') == 2 else None)} |")
    lines.append("")
    for target, f in fits.items():
        rho = ", ".join(f"{k} **{v:.2f}**" for k, v in f["loo_spearman"].items())
        line = " + ".join(f"{c:+.3g}·{n}" for n, c in zip(f["features"], f["coef"]))
        lines.append(f"- {target}: leave-one-dataset-out Spearman over {f['datasets']} datasets: {rho}. "
                     f"Line on all of them (in `gankit/difficulty_fit.json`): {f['intercept']:.3g} {line}.")
    lines += ["", *[n + "\n" for n in meta.get("notes", [])]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return fits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", choices=("toys", "digits", "all"), default="all")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--from-rows", action="store_true", help="rewrite the page and the fit from the rows files without training")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if not args.from_rows:
        for fam in (("toys", "digits") if args.family == "all" else (args.family,)):
            out = ROWS[fam]
            out.unlink(missing_ok=True)
            for preset, data in FAMILIES[fam]:
                for seed in range(args.seeds):
                    r = run_one(preset, data, seed)
                    with out.open("a") as f:
                        f.write(json.dumps(r) + "\n")
                    print(json.dumps(r), flush=True)
    rows = [json.loads(line) for p in ROWS.values() if p.is_file() for line in p.read_text().splitlines() if line.strip()]
    meta = {"date": dt.date.today().isoformat(), "seeds": max(r["seed"] for r in rows) + 1, "notes": args.note}
    fits = write_page(rows, ROOT / "docs" / "benchmarks" / "difficulty.md", meta)
    write_fit(fits, meta)
    print(f"wrote {ROOT / 'docs' / 'benchmarks' / 'difficulty.md'} and {FIT}")


if __name__ == "__main__":
    main()
