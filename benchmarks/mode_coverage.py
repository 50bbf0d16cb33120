"""Mode coverage on the 2-D mixtures for every stabilizer preset, 10 seeds each, beside the published tables.

Protocol (../shared/DESIGN.md; VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018): ring of 8 Gaussians (radius 1,
std 0.01) and grid of 25 ({-4,-2,0,2,4}², std 0.05); after training, 2,500 samples of G_ema; a sample is high quality
within 3 std of its nearest centre; a mode is recovered when it is the nearest centre of a high-quality sample;
reverse KL of the high-quality histogram to uniform. Each preset trains with its own recipe (steps, batch, optimizer)
unchanged except ``data.name``; every run goes through gankit's Trainer with the divergence guard on. Mean ± standard
error over seeds. ``--extra`` adds larger mixtures (ring of 16 / 24, grid of 49 / 100, other spacings) for toy-best.

    python benchmarks/mode_coverage.py [--seeds 10] [--presets toy-best,nsgan] [--jobs 2] [--extra] [--json]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

PRESETS = ["gan-minimax", "nsgan", "lsgan", "wgan", "wgan-gp", "hinge-sngan", "dragan", "unrolled", "pacgan", "r1", "toy-best"]
TOYS = {"ring": ["data.name=ring", "data.modes=null", "data.std=null"], "grid": ["data.name=grid", "data.modes=null", "data.std=null"]}
# Larger mixtures for toy-best's "without retuning" check: (label, overrides).
EXTRA = {
    "ring-16": ["data.name=ring", "data.modes=16"],
    "ring-24 r2": ["data.name=ring", "data.modes=24", "data.radius=2"],
    "grid-49": ["data.name=grid", "data.modes=49"],
    "grid-100": ["data.name=grid", "data.modes=100"],
    "grid-25 spacing 1": ["data.name=grid", "data.spacing=1"],
}
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]

# Published rows (Table 1 of each paper): (modes, high-quality %) on ring and grid; None where not reported.
PUBLISHED = [
    ("GAN", "VEEGAN T1", (1.0, 99.3), (3.3, 0.5)),
    ("ALI", "VEEGAN T1", (2.8, 0.13), (15.8, 1.6)),
    ("Unrolled GAN", "VEEGAN T1", (7.6, 35.6), (23.6, 16.0)),
    ("VEEGAN", "VEEGAN T1", (8.0, 52.9), (24.6, 40.0)),
    ("GAN", "PacGAN T1", (6.3, 98.2), (17.3, 94.8)),
    ("PacGAN2", "PacGAN T1", (7.9, 95.6), (23.8, 91.3)),
    ("PacGAN3", "PacGAN T1", (7.8, 97.7), (24.6, 94.2)),
    ("PacGAN4", "PacGAN T1", (7.8, 95.9), (24.8, 93.6)),
    ("GDPP", "Elfeki et al. 2019", (8.0, 71.7), (24.8, 68.5)),
]


def run_one(job: tuple[str, str, list[str], int]) -> dict:
    """Train ``preset`` on the toy given by ``overrides`` with ``seed``; score 2,500 samples of G_ema."""
    preset, label, overrides, seed = job
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from gankit.config import load_preset
    from gankit.metrics.modes import mode_coverage
    from gankit.training.loop import Trainer

    cfg = load_preset(preset, QUIET + overrides + [f"train.seed={seed}"])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")
        trainer.hooks = [trainer.log_hook]  # training only: no samples, snapshots or report
        summary = trainer.run()
        gen = torch.Generator().manual_seed(10_000 + seed)
        x = trainer.sample(trainer.task.latents(2500, gen)).numpy()
    out = mode_coverage(x, np.asarray(trainer.info.centers), trainer.info.std)
    return {"preset": preset, "toy": label, "seed": seed, "modes": out["modes"], "k": len(out["counts"]),
            "hq": out["hq_fraction"], "reverse_kl": out["reverse_kl"], "steps": summary["step"],
            "rollbacks": summary["rollbacks"], "wall_s": time.perf_counter() - t0}


def _mean_se(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.inf, 0.0
    m = statistics.fmean(finite)
    se = statistics.stdev(finite) / math.sqrt(len(finite)) if len(finite) > 1 else 0.0
    return m, se


def summarize(rows: list[dict]) -> dict:
    out: dict = {}
    for r in rows:
        out.setdefault((r["preset"], r["toy"]), []).append(r)
    table = {}
    for (preset, toy), rs in out.items():
        m, m_se = _mean_se([r["modes"] for r in rs])
        h, h_se = _mean_se([100 * r["hq"] for r in rs])
        kl, kl_se = _mean_se([r["reverse_kl"] for r in rs])
        table[f"{preset}|{toy}"] = {
            "preset": preset, "toy": toy, "k": rs[0]["k"], "seeds": len(rs), "modes": m, "modes_se": m_se, "hq": h, "hq_se": h_se,
            "reverse_kl": kl, "reverse_kl_se": kl_se, "all_modes": sum(r["modes"] == r["k"] for r in rs),
            "all_modes_hq95": sum(r["modes"] == r["k"] and r["hq"] >= 0.95 for r in rs),
            "min_hq": min(100 * r["hq"] for r in rs), "infinite_kl": sum(not math.isfinite(r["reverse_kl"]) for r in rs),
            "rollbacks": sum(r["rollbacks"] for r in rs), "wall_s": statistics.fmean(r["wall_s"] for r in rs),
            "steps": rs[0]["steps"]}
    return table


def write_markdown(path: Path, result: dict) -> None:
    t = result["table"]
    lines = ["# Mode coverage on the 2-D mixtures", "",
             f"Written by `benchmarks/mode_coverage.py` on {result['date']} ({result['machine']}, 1 thread per run, "
             f"{result['jobs']} runs at a time; about {result['total_min']:.0f} min of wall time in all).", "",
             "Protocol: ring of 8 Gaussians (radius 1, std 0.01), grid of 25 ({-4,-2,0,2,4}², std 0.05); 2,500 samples of "
             "the averaged sampling network after training (G_ema; a VAE's decoder, x ~ p(x|z)); high quality = within 3 std of the nearest centre; a mode is recovered when it is the "
             "nearest centre of at least one high-quality sample; reverse KL of the high-quality mode histogram to uniform "
             "(nats; ∞ when no sample is high quality). Each preset keeps its own recipe (see `gankit presets`), only "
             f"`data.name` changes (vae-ring and vae-grid: the VAE's preset for each toy). Mean ± standard error over the seeds of each row (0, 1, …; the `all` column shows how many). "
             "`all` = seeds with every mode; `all & ≥95%` = seeds with every mode and ≥ 95 % high-quality samples.", "",
             ]
    head = ["| preset | steps | modes | high quality % | min HQ % | reverse KL | all | all & ≥95% | rollbacks | s/run |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    toys = list(TOYS) + list(EXTRA) + sorted({row["toy"] for row in t.values()} - set(TOYS) - set(EXTRA))
    order = {name: i for i, name in enumerate(PRESETS)}
    for toy in toys:
        rows = sorted((row for row in t.values() if row["toy"] == toy), key=lambda row: (order.get(row["preset"], len(order)), row["preset"]))
        if not rows:
            continue
        lines += [f"### {toy} ({rows[0]['k']} modes){'' if toy in TOYS else ', recipes unchanged'}", "", *head]
        for row in rows:
            kl = "∞" if not math.isfinite(row["reverse_kl"]) else f"{row['reverse_kl']:.3f} ± {row['reverse_kl_se']:.3f}"
            if row["infinite_kl"] and math.isfinite(row["reverse_kl"]):
                kl += f" ({row['infinite_kl']} ∞ left out)"
            lines.append(f"| {row['preset']} | {row['steps']} | {row['modes']:.1f} ± {row['modes_se']:.1f} | "
                         f"{row['hq']:.1f} ± {row['hq_se']:.1f} | {row['min_hq']:.1f} | {kl} | {row['all_modes']}/{row['seeds']} | "
                         f"{row['all_modes_hq95']}/{row['seeds']} | {row['rollbacks']} | {row['wall_s']:.0f} |")
        lines.append("")
    lines += ["## Side by side with the published tables (theirs: their own networks and budgets)", "",
              "| method | source | ring modes (of 8) | ring HQ % | grid modes (of 25) | grid HQ % |", "|---|---|---:|---:|---:|---:|"]
    def family(preset: str) -> str:  # vae-ring and vae-grid are one method, a preset per toy
        return preset.rsplit("-", 1)[0] if preset.endswith(("-ring", "-grid")) else preset

    for preset in sorted({family(row["preset"]) for row in t.values()}, key=lambda name: (order.get(name, len(order)), name)):
        ring = t.get(f"{preset}|ring") or t.get(f"{preset}-ring|ring")
        grid = t.get(f"{preset}|grid") or t.get(f"{preset}-grid|grid")
        if ring is None or grid is None:
            continue
        lines.append(f"| **{preset}** | gankit, {ring['seeds']} / {grid['seeds']} seeds | {ring['modes']:.1f} | {ring['hq']:.1f} | "
                     f"{grid['modes']:.1f} | {grid['hq']:.1f} |")
    for name, src, ring, grid in PUBLISHED:
        lines.append(f"| {name} | {src} | {ring[0]} | {ring[1]} | {grid[0]} | {grid[1]} |")
    lines += ["", "Sources: Srivastava et al. 2017, \"VEEGAN: Reducing Mode Collapse in GANs using Implicit Variational "
              "Learning\", Table 1; Lin et al. 2018, \"PacGAN: The power of two samples in generative adversarial networks\", "
              "Table 1; Elfeki et al. 2019, \"GDPP: Learning Diverse Generations using Determinantal Point Processes\", Table 1.", ""]
    if result.get("notes"):
        lines += ["## Notes", "", *result["notes"], ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first_seed … first_seed+seeds-1 (to add seeds to earlier rows)")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated; {toy} in a name is the toy's name (vae-{toy})")
    p.add_argument("--toys", default="ring,grid")
    p.add_argument("--extra", action="store_true", help="also toy-best on larger mixtures")
    p.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)))
    p.add_argument("--json", action="store_true")
    p.add_argument("--note", action="append", default=[], help="a line for the page's Notes section (repeatable)")
    p.add_argument("--rows", default="", help="append every run's row to this JSON-lines file as it finishes")
    p.add_argument("--from-rows", default="", help="comma-separated JSON-lines files of earlier runs: write the table from "
                   "them (plus any runs asked for here), so pieces measured separately form one table")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "mode_coverage.md"))
    args = p.parse_args()
    # a preset name may hold {toy}: one preset per toy (vae-{toy} runs vae-ring on the ring and vae-grid on the grid)
    jobs = [(preset.format(toy=toy), toy, TOYS[toy], seed) for preset in args.presets.split(",")
            for toy in filter(None, args.toys.split(",")) for seed in range(args.first_seed, args.first_seed + args.seeds)]
    if args.extra:
        jobs += [("toy-best", label, ov, seed) for label, ov in EXTRA.items()
                 for seed in range(args.first_seed, args.first_seed + args.seeds)]
    if args.from_rows and "--presets" not in sys.argv and not args.extra:
        jobs = []  # only re-tabulate the earlier rows
    rows = [json.loads(line) for f in filter(None, args.from_rows.split(",")) for line in Path(f).read_text().splitlines() if line.strip()]
    with ProcessPoolExecutor(args.jobs) as pool:
        for r in pool.map(run_one, jobs):
            rows.append(r)
            if args.rows:
                with open(args.rows, "a") as fh:
                    fh.write(json.dumps(r) + "\n")
            print(f"{r['preset']:12s} {r['toy']:18s} seed {r['seed']}: {r['modes']}/{r['k']} modes, hq {100 * r['hq']:.1f}%, "
                  f"rkl {r['reverse_kl']:.3f}, {r['wall_s']:.0f}s", file=sys.stderr, flush=True)
    total_min = sum(r["wall_s"] for r in rows) / 60 / max(args.jobs, 1)
    result = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "jobs": args.jobs,
              "seeds": max(len({r["seed"] for r in rows if (r["preset"], r["toy"]) == k}) for k in {(r["preset"], r["toy"]) for r in rows}),
              "total_min": total_min, "table": summarize(rows), "notes": args.note}
    write_markdown(Path(args.out), result)
    if args.json:
        print(json.dumps(result["table"]))


if __name__ == "__main__":
    main()
