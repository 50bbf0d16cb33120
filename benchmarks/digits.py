"""Every stabilizer recipe on the bundled digits, same network and budget, scored with digits-cnn features.

Each recipe is a preset's *game* (`gankit train --preset digits --game NAME`, `gankit.config.with_game`): its loss,
penalties, tricks, optimizer, learning rates, betas, n_critic, lr schedule and spectral norm, applied to the `digits`
preset's data and network (DCGAN, G 128-64-32 / D 32-64-128 channels, 32×32, batch 64)
for the same number of G updates. Recipes with a gradient penalty (gp, dragan) use layer norm in D instead of batch
norm, as Gulrajani et al. 2017 advise (a batch-norm critic breaks the per-sample penalty).

Scores compare like with like. The real-vs-real floor is the whole test split (359 images) against the whole training
split (1,438); every recipe is scored on the same N = 359 samples of G_ema against the same reference (the whole
training split): FID, KID (unbiased MMD², subsets of 359), precision / recall (k=3), classes found and class-histogram KL
with the digits-cnn features and classifier (99.2 % test accuracy). FID is biased upward by about k/N with k depending on
the model, so FID∞ (Chong & Forsyth 2020: FID on subsets of several sizes, extrapolated to N = ∞) stands beside it:
from 2,000 samples for the recipes, from subsets of the 359 test images for the floor (all it has). Rows of earlier runs
scored at another N (the rows files before FID∞: 2,000 samples) are left out of the table, and the page says so.

    python benchmarks/digits.py [--steps 1000] [--recipes nsgan,wgan-gp] [--jobs 2] [--seeds 1]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

RECIPES = ["digits", "gan-minimax", "nsgan", "lsgan", "wgan", "wgan-gp", "hinge-sngan", "dragan", "unrolled", "pacgan", "r1",
           "toy-best"]
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]
METRICS = ["fid", "kid", "pr", "classes"]  # at the floor's N; kid: subsets of min(1000, N) = 359 samples
N_INF = 2000  # generated samples FID∞ extrapolates from


def recipe_config(name: str, steps: int, seed: int) -> dict:
    """The digits preset playing ``name``'s game (``gankit train --preset digits --game NAME``), R1 at the image γ."""
    from gankit.config import preset_dict, with_game

    own = preset_dict(name)
    if own.get("task", {}).get("name", "gan") != "gan":  # another family's baseline on the same data (vae-digits): its own preset
        cfg = dict(own)
    else:
        cfg = preset_dict("digits") if name == "digits" else with_game(preset_dict("digits"), name)
    if cfg.get("reg", {}).get("r1") and name != "digits":  # the toy presets' γ is for 2-D data; images use Mescheder et al.'s 10
        cfg["reg"]["r1"] = 10.0
    cfg["train"] = {**cfg["train"], "steps": steps, "seed": seed}
    return cfg


def split_sizes(data_cfg) -> tuple[int, int]:
    """(reference size, N): the training split's size (the reference, used whole) and the test split's (the floor's N)."""
    from gankit.data import build_dataset

    return len(build_dataset(data_cfg, "train")), len(build_dataset(data_cfg, "test"))


def run_one(job: tuple[str, int, int]) -> dict:
    name, steps, seed = job
    import torch
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    torch.set_num_threads(1)
    threadpool_limits(1)  # NumPy's BLAS too (FID∞ runs hundreds of small eigendecompositions; threads only contend)
    from gankit.config import from_dict
    from gankit.metrics.evaluate import evaluate_samples
    from gankit.training.loop import Trainer

    cfg = from_dict(recipe_config(name, steps, seed), QUIET)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")
        trainer.hooks = [trainer.log_hook]
        summary = trainer.run()
        train_s = time.perf_counter() - t0
        gen = torch.Generator().manual_seed(10_000 + seed)
        x = trainer.sample(trainer.task.latents(N_INF, gen))
    n_ref, n = split_sizes(cfg.data)
    # the floor's N samples (the first of the i.i.d. latents) against the whole training split, as the floor is
    scores = evaluate_samples(x[:n], trainer.info, cfg.data, METRICS, n_real=n_ref, seed=0)
    inf = evaluate_samples(x, trainer.info, cfg.data, ["fid_inf"], n_real=n_ref, seed=0)
    return {"recipe": name, "seed": seed, "n": scores["n_fake"], "n_ref": scores["n_real"], "fid": scores["fid"],
            "kid": scores["kid"], "fid_inf": inf["fid_inf"], "n_inf": inf["n_fake"], "precision": scores["precision"],
            "recall": scores["recall"], "classes": scores["classes"], "class_kl": scores["class_kl"],
            "rollbacks": summary["rollbacks"], "train_s": train_s, "d_updates": summary.get("d_updates", 0), "steps": steps}


def floor_fid_inf_seeds(data_cfg, n_ref: int, seeds: int = 5) -> list[float]:
    """The floor's FID∞ (subsets of the test split against the whole training split) for subset seeds 0..seeds-1.

    The floor has only the test split's images to extrapolate from; this shows how much the choice of subsets moves it.
    Features are real_vs_real's (the cached digits-cnn reference features of both whole splits).
    """
    from gankit.metrics.evaluate import reference_features
    from gankit.metrics.features import build_extractor
    from gankit.metrics.fid import fid_infinity

    ext = build_extractor("digits-cnn")
    train = reference_features(data_cfg, "train", ext, n_ref, 0)["features"]
    test = reference_features(data_cfg, "test", ext, n_ref, 1)["features"]
    return [fid_infinity(train, test, seed=s)[0] for s in range(seeds)]


def _fmt(rs: list[dict], key: str, spec: str) -> str:
    """Mean of ``key`` over the rows, "—" where a row lacks it."""
    if any(r.get(key) is None for r in rs):
        return "—"
    return format(statistics.fmean(r[key] for r in rs), spec)


def _se(rs: list[dict], key: str, spec: str) -> str:
    """Mean ± standard error over the rows' seeds (the mean alone for one seed)."""
    mean = _fmt(rs, key, spec)
    if mean == "—" or len(rs) < 2:
        return mean
    return f"{mean} ± {format(statistics.stdev(r[key] for r in rs) / len(rs) ** 0.5, spec)}"


def page(rows: list[dict], floor: dict, notes: list[str], default_steps: int) -> str:
    """The markdown page: recipes scored like the floor (same N, same reference), ranked by FID∞, then the floor.

    ``floor`` is :func:`gankit.evaluation.real_vs_real`'s result (fid, fid_inf, kid, precision, recall, classes,
    class_kl, n_fake = N, n_real = the reference's size). Rows scored at another N or against another reference size
    (earlier runs, before FID∞) are left out and counted in a note: their FID is not comparable with the floor's.
    """
    n, n_ref = int(floor["n_fake"]), int(floor["n_real"])
    spread = (f"over {len(floor['fid_inf_seeds'])} subset seeds it is {statistics.fmean(floor['fid_inf_seeds']):.1f} ± "
              f"{statistics.pstdev(floor['fid_inf_seeds']):.1f}, mean ± std; the table shows seed 0"
              if len(floor.get("fid_inf_seeds", ())) > 1 else "one subset seed")
    like = [r for r in rows if r.get("n") == n and r.get("n_ref") == n_ref]
    stale = [r for r in rows if r not in like]
    steps = ", ".join(str(s) for s in sorted({r.get("steps", default_steps) for r in like})) or str(default_steps)
    counts = [sum(r["recipe"] == name for r in like) for name in {r["recipe"] for r in like}] or [0]
    lo, hi = min(counts), max(counts)
    seeds_text = f"{lo}{'' if lo == hi else f' to {hi}'} seed{'s' * (hi != 1)} per recipe"
    n_inf = ", ".join(f"{k:,}" for k in sorted({r["n_inf"] for r in like if r.get("n_inf")})) or "—"
    lines = ["# Every recipe on digits, same network and budget", "",
             f"Written by `benchmarks/digits.py --steps {steps}` ({seeds_text}) on {dt.date.today().isoformat()} "
             f"({platform.machine()}, {os.cpu_count()} CPUs, 1 thread per run; the rows' runs trained for about "
             f"{sum(r['train_s'] for r in like) / 60:.0f} single-thread minutes in all).", "",
             "Each row is a preset's game (loss, penalties, tricks, optimizer, n_critic, spectral norm) on the `digits` preset's "
             f"DCGAN (G 128-64-32, D 32-64-128, 32×32, batch 64) for **{steps} G updates**; gradient-penalty recipes use "
             "layer norm in D; R1 uses γ = 10 on images. Mean over the row's seeds (0, 1, …; ± standard error where more "
             "than one); `train s` is the training wall time of one run.", "",
             f"**How it was measured: like with like.** The floor (real vs real) is the whole test split, **N = {n}** images, "
             f"against the whole training split (**{n_ref:,}** images, the reference). Every recipe is scored on the same "
             f"N = {n} samples of G_ema against the same reference: FID, KID, precision/recall (k=3) on digits-cnn "
             "features, classes found (of 10) and the KL of the class histogram to the data's by its classifier. "
             "FID of N samples is biased upward by about k/N, with k depending on the model (Chong & Forsyth 2020), "
             f"so **FID∞** stands beside it: FID on 15 subset sizes extrapolated to N = ∞ (`gankit.metrics.fid.fid_infinity`), "
             f"from {n_inf} samples for the recipes and from subsets of the {n} test images for the floor (all it has: "
             f"{spread}). **KID** is the unbiased MMD² with the cubic kernel (Bińkowski et al. 2018; mean over 100 "
             f"subsets of {n} samples from each side, in kernel units); it has no small-N bias. Only the generated side "
             "is extrapolated: every FID∞ here keeps the same reference's own finite-sample bias, so compare them with "
             "each other, not with other pages. Lower FID, FID∞, KID and class KL are better; the table is ranked by FID∞.", "",
             "| recipe | seeds | FID∞ | FID | KID | precision | recall | classes | class KL | D updates | rollbacks | train s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by: dict[str, list[dict]] = {}
    for r in like:
        by.setdefault(r["recipe"], []).append(r)
    ranked = sorted(by.items(), key=lambda kv: statistics.fmean(r["fid_inf"] for r in kv[1]))
    below = []
    for name, rs in ranked:
        lines.append(f"| {name} | {len(rs)} | {_se(rs, 'fid_inf', '.1f')} | {_se(rs, 'fid', '.1f')} | {_fmt(rs, 'kid', '.2f')} | "
                     f"{_fmt(rs, 'precision', '.3f')} | {_fmt(rs, 'recall', '.3f')} | {_fmt(rs, 'classes', '.1f')} | "
                     f"{_fmt(rs, 'class_kl', '.3f')} | {_fmt(rs, 'd_updates', '.0f')} | {sum(r['rollbacks'] for r in rs)} | "
                     f"{_fmt(rs, 'train_s', '.0f')} |")
        if statistics.fmean(r["fid"] for r in rs) < floor["fid"]:
            below.append(name)
    lines.append(f"| *real vs real (floor)* | | {floor['fid_inf']:.1f} | {floor['fid']:.1f} | {floor['kid']:.2f} | "
                 f"{floor['precision']:.3f} | {floor['recall']:.3f} | {floor['classes']:.0f} | {floor['class_kl']:.3f} | | | |")
    lines.append("")
    auto = []
    if below:
        auto.append(f"- Below the floor's FID at the same N and reference: {', '.join(below)} (closer to the training split "
                    "than held-out real images are: check precision, and copies of training images).")
    if stale:
        auto.append(f"- {len(stale)} row(s) of earlier runs ({', '.join(sorted({r['recipe'] for r in stale}))}) were not "
                    f"scored at N = {n} against the whole training split (rows without `n` come from the script before "
                    "FID∞: 2,000 samples) and are left out: their FID is not comparable with the floor's; re-run them.")
    if notes or auto:
        lines += ["## Notes", "", *auto, *(n if n.startswith("- ") else f"- {n}" for n in notes), ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--jobs", type=int, default=max(1, os.cpu_count() or 1))
    p.add_argument("--note", action="append", default=[], help="a line for the page's Notes section (repeatable)")
    p.add_argument("--rows", default="", help="append every run's row to this JSON-lines file as it finishes")
    p.add_argument("--from-rows", default="", help="comma-separated JSON-lines files of earlier runs to tabulate with these")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "digits.md"))
    args = p.parse_args()
    import torch

    from gankit.config import data_config, preset_dict
    from gankit.evaluation import real_vs_real
    from gankit.metrics.features import build_extractor

    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    build_extractor("digits-cnn")  # train / load the cached classifier once, before the workers need it
    rows = [json.loads(line) for f in filter(None, args.from_rows.split(",")) for line in Path(f).read_text().splitlines() if line.strip()]
    jobs = [(r, args.steps, s) for r in filter(None, args.recipes.split(",")) for s in range(args.seeds)]
    if args.from_rows and "--recipes" not in sys.argv:
        jobs = []  # only re-tabulate the earlier rows (as mode_coverage.py does)
    with ProcessPoolExecutor(args.jobs) as pool:
        for r in pool.map(run_one, jobs):
            rows.append(r)
            if args.rows:
                with open(args.rows, "a") as fh:
                    fh.write(json.dumps(r) + "\n")
            print(f"{r['recipe']:12s} seed {r['seed']}: FID {r['fid']:.1f} FID∞ {r['fid_inf']:.1f} KID {r['kid']:.2f} "
                  f"P {r['precision']:.3f} R {r['recall']:.3f} "
                  f"classes {r['classes']:.0f} ({r['train_s']:.0f}s)", file=sys.stderr, flush=True)
    data_cfg = data_config(preset_dict("digits")["data"])
    n_ref, _ = split_sizes(data_cfg)
    # the whole test split against the whole training split: real_vs_real caps both at its n, so n = the larger split
    floor = real_vs_real(data_cfg, METRICS + ["fid_inf"], n_ref)
    floor["fid_inf_seeds"] = floor_fid_inf_seeds(data_cfg, n_ref)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(rows, floor, args.note, args.steps))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
