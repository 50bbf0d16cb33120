"""Every stabilizer recipe on the bundled digits, same network and budget, scored with digits-cnn features.

Each recipe is a preset's *game* (`gankit train --preset digits --game NAME`, `gankit.config.with_game`): its loss,
penalties, tricks, optimizer, learning rates, betas, n_critic, lr schedule and spectral norm, applied to the `digits`
preset's data and network (DCGAN, G 128-64-32 / D 32-64-128 channels, 32×32, batch 64)
for the same number of G updates. Recipes with a gradient penalty (gp, dragan) use layer norm in D instead of batch
norm, as Gulrajani et al. 2017 advise (a batch-norm critic breaks the per-sample penalty). Scores on 2,000 samples of
G_ema against the training split: FID, precision / recall (k=3), classes found and class-histogram KL with the digits-cnn
classifier (99.2 % test accuracy); the real-vs-real floor is measured in the same run.

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
METRICS = ["fid", "pr", "classes"]


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


def run_one(job: tuple[str, int, int]) -> dict:
    name, steps, seed = job
    import torch

    torch.set_num_threads(1)
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
        x = trainer.sample(trainer.task.latents(2000, gen))
    scores = evaluate_samples(x, trainer.info, cfg.data, METRICS, n_real=2000, seed=0)
    return {"recipe": name, "seed": seed, "fid": scores["fid"], "precision": scores["precision"], "recall": scores["recall"],
            "classes": scores["classes"], "class_kl": scores["class_kl"], "rollbacks": summary["rollbacks"],
            "train_s": train_s, "d_updates": summary.get("d_updates", 0), "steps": steps}


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

    torch.set_num_threads(1)
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
            print(f"{r['recipe']:12s} seed {r['seed']}: FID {r['fid']:.1f} P {r['precision']:.3f} R {r['recall']:.3f} "
                  f"classes {r['classes']:.0f} ({r['train_s']:.0f}s)", file=sys.stderr, flush=True)
    steps = ", ".join(str(n) for n in sorted({r.get("steps", args.steps) for r in rows}))  # the rows', not this call's
    counts = [sum(r["recipe"] == name for r in rows) for name in {r["recipe"] for r in rows}] or [0]
    lo, hi = min(counts), max(counts)
    seeds_text = f"{lo}{'' if lo == hi else f' to {hi}'} seed{'s' * (hi != 1)} per recipe"
    floor = real_vs_real(data_config(preset_dict("digits")["data"]), METRICS, 2000)
    lines = ["# Every recipe on digits, same network and budget", "",
             f"Written by `benchmarks/digits.py --steps {steps}` ({seeds_text}) on {dt.date.today().isoformat()} "
             f"({platform.machine()}, {os.cpu_count()} CPUs, 1 thread per run; the rows' runs trained for about "
             f"{sum(r['train_s'] for r in rows) / 60:.0f} single-thread minutes in all).", "",
             "Each row is a preset's game (loss, penalties, tricks, optimizer, n_critic, spectral norm) on the `digits` preset's "
             f"DCGAN (G 128-64-32, D 32-64-128, 32×32, batch 64) for **{steps} G updates**; gradient-penalty recipes use "
             "layer norm in D; R1 uses γ = 10 on images. 2,000 samples of G_ema vs the training split, digits-cnn features "
             "(FID, precision/recall k=3) and its classifier (classes found of 10, KL of the class histogram to the data's). "
             "Lower FID and class KL are better. Mean over the row's seeds (0, 1, …; FID ± standard error where more than one); "
             "`train s` is the training wall time of one run.", "",
             "| recipe | seeds | FID | precision | recall | classes | class KL | D updates | rollbacks | train s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["recipe"], []).append(r)
    ranked = sorted(by.items(), key=lambda kv: statistics.fmean(r["fid"] for r in kv[1]))
    for name, rs in ranked:
        m = {k: statistics.fmean(r[k] for r in rs) for k in ("fid", "precision", "recall", "classes", "class_kl", "train_s", "d_updates")}
        fid = f"{m['fid']:.1f}" + (f" ± {statistics.stdev(r['fid'] for r in rs) / len(rs) ** 0.5:.1f}" if len(rs) > 1 else "")
        lines.append(f"| {name} | {len(rs)} | {fid} | {m['precision']:.3f} | {m['recall']:.3f} | {m['classes']:.1f} | "
                     f"{m['class_kl']:.3f} | {m['d_updates']:.0f} | {sum(r['rollbacks'] for r in rs)} | {m['train_s']:.0f} |")
    lines.append(f"| *real vs real (floor)* | | {floor['fid']:.1f} | {floor['precision']:.3f} | {floor['recall']:.3f} | "
                 f"{floor['classes']:.0f} | {floor['class_kl']:.3f} | | | |")
    lines.append("")
    if args.note:
        lines += ["## Notes", "", *args.note, ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
