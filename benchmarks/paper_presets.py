"""The presets named after a paper, in that paper's own setup, against the numbers the paper (or the paper that ran it as a
baseline) publishes on the 2-D mixture protocol.

Protocol (../shared/DESIGN.md; VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018): ring of 8 Gaussians (radius 1,
std 0.01), grid of 25 ({-4,-2,0,2,4}², std 0.05); 2,500 samples of the generator (the paper presets keep no weight
average); high quality = within 3 std of the nearest centre; a mode is recovered when it is the nearest centre of a
high-quality sample. Each run trains the preset unchanged except ``data.name``, ``train.seed`` and, where the paper's
budget does not fit a CPU, ``train.steps`` (``--steps``); the modes are measured every ``--every`` steps, so the page
shows how the numbers move with the budget, and the measured time per step gives what the paper's budget would cost.

    python benchmarks/paper_presets.py [--presets pacgan,nsgan] [--toys ring,grid] [--seeds 1] [--steps 20000]
        [--every 2000] [--jobs 2] [--rows benchmarks/rows/paper-presets.jsonl] [--from-rows FILE] [--note LINE]
        [--runs unrolled:ring:0-2,pacgan:grid:0] [--set train.updates=alternating] [--from-progress STDERR_LOG]

``--steps`` is one number for every run or ``preset=N,...`` (the others at their paper's budget); ``--runs`` lists
preset:toy:seeds jobs instead of the presets × toys × seeds product; ``--set`` adds overrides to every run (rows
record them, and the page keeps each recipe in a row of its own). Rows written before the presets' simultaneous
updates have no ``recipe`` field; those of the presets changed since are shown as "before". Every measurement is also
printed on stderr as a JSON line, so a run cut short (by a session's clock) keeps its curve: ``--from-progress`` turns
those lines into rows that end at the run's last measurement.
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

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]
# preset -> (published row name, source, (ring modes, ring HQ %), (grid modes, grid HQ %)); None where not published
PUBLISHED = {
    "pacgan": ("PacGAN4", "Lin et al. 2018, Table 1 (10 runs)", (7.8, 95.9), (24.8, 93.6)),
    "nsgan": ("GAN", "Lin et al. 2018, Table 1 (10 runs)", (6.3, 98.2), (17.3, 94.8)),
    "gan-minimax": ("GAN", "Lin et al. 2018, Table 1 (non-saturating; no minimax row)", (6.3, 98.2), (17.3, 94.8)),
    "unrolled": ("Unrolled GAN", "Srivastava et al. 2017 (VEEGAN), Table 1 (5 runs)", (7.6, 35.6), (23.6, 16.0)),
    "wgan-gp": ("WGAN-GP", "Elfeki et al. 2019 (GDPP), Table 1", (6.8, 59.6), (24.2, 28.7)),
    "dragan": ("—", "Kodali et al. 2017 publish figures only", None, None),
}


# Rows written before the `recipe` field: the presets that changed since were measured as "before"; the others as they are.
BEFORE = "before (alternating updates)"
CHANGED = {"pacgan", "nsgan", "gan-minimax", "unrolled"}


def recipe_of(row: dict) -> str:
    return row.get("recipe") or (BEFORE if row["preset"] in CHANGED else "preset")


def run_one(job: tuple[str, str, int, int | None, int, tuple[str, ...]]) -> dict:
    """Train ``preset`` on ``toy`` with ``seed`` for ``steps`` (None: the preset's) and the extra overrides ``sets``;
    modes every ``every`` steps."""
    preset, toy, seed, steps, every, sets = job
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from gankit.config import load_preset
    from gankit.metrics.modes import mode_coverage
    from gankit.training.hooks import Hook
    from gankit.training.loop import Trainer

    over = QUIET + [f"data.name={toy}", "data.modes=null", "data.std=null", f"train.seed={seed}", *sets]
    if steps:
        over.append(f"train.steps={steps}")
    cfg = load_preset(preset, over)
    recipe = "preset" + "".join(f", {o}" for o in sets)
    curve: list[dict] = []

    class Modes(Hook):
        def fire(self, t: Trainer) -> None:
            x = t.sample(t.task.latents(2500, torch.Generator().manual_seed(10_000 + seed))).numpy()
            out = mode_coverage(x, np.asarray(t.info.centers), t.info.std)
            curve.append({"step": t.step, "modes": out["modes"], "hq": out["hq_fraction"], "reverse_kl": out["reverse_kl"],
                          "s": time.perf_counter() - t0})
            # progress on stderr, so a run cut short still leaves its curve behind
            print(json.dumps({"preset": preset, "toy": toy, "seed": seed, "recipe": recipe, **curve[-1]}), file=sys.stderr,
                  flush=True)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")
        trainer.hooks = [trainer.log_hook, Modes(every)]
        summary = trainer.run()
        bn = bn_statistics(trainer, cfg, seed)
    wall = time.perf_counter() - t0
    return {**_row(preset, toy, seed, recipe, curve, wall, summary["step"], summary["rollbacks"]), "bn": bn}


#: how many training-size batches the population statistics of G's batch norm are recomputed over
BN_BATCHES = (1, 5, 20, 80, 200)


def bn_statistics(trainer, cfg, seed: int) -> dict[str, float] | None:
    """High-quality fraction of the final G's 2,500 measured samples (eval mode) with its running batch-norm statistics
    ("running") and with population statistics recomputed from k fresh batches of the size G is trained on (k in
    BN_BATCHES: "k×b"). None when G has no batch norm. How much the reported quality depends on the statistics' horizon:
    PacGAN's code averages 8,000 samples, gankit's split G 2,000 (docs/stabilizers.md)."""
    import copy

    import numpy as np
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm

    from gankit.metrics.modes import mode_coverage

    G = trainer.task.networks["G"]
    if not any(isinstance(m, _BatchNorm) for m in G.modules()):
        return None
    z, _ = trainer.task.latents(2500, torch.Generator().manual_seed(10_000 + seed))
    per_call = cfg.train.batch_size // (cfg.trick.pack if cfg.trick.pack_split else 1)
    centers = np.asarray(trainer.info.centers)

    def hq(net) -> float:
        with torch.no_grad():
            return float(mode_coverage(net(z, None).numpy(), centers, trainer.info.std)["hq_fraction"])

    out = {"running": hq(copy.deepcopy(G).eval())}
    for k in BN_BATCHES:
        net = copy.deepcopy(G).train()
        for m in net.modules():
            if isinstance(m, _BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the k batches
        g = torch.Generator().manual_seed(20_000 + seed)
        with torch.no_grad():
            for _ in range(k):
                net(torch.randn(per_call, z.shape[1], generator=g), None)
        out[f"{k}x{per_call}"] = hq(net.eval())
    return out


def _row(preset: str, toy: str, seed: int, recipe: str, curve: list[dict], wall: float, steps: int,
         rollbacks: int | None) -> dict:
    from gankit.config import load_preset

    last = curve[-1]
    # time per training step between the first and the last measurement (no start-up; the measurements are cheap)
    span = last["step"] - curve[0]["step"]
    ms = 1000 * (last["s"] - curve[0]["s"]) / span if span else 1000 * wall / max(steps, 1)
    return {"preset": preset, "toy": toy, "seed": seed, "recipe": recipe, "steps": steps,
            "paper_steps": load_preset(preset).train.steps, "modes": last["modes"], "hq": last["hq"],
            "reverse_kl": last["reverse_kl"], "curve": curve, "rollbacks": rollbacks, "wall_s": wall, "ms_per_step": ms,
            "cpu": _cpu()}


def _cpu() -> str:
    """The CPU's model name (times per step are only comparable on one model)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def rows_from_progress(lines: list[str]) -> list[dict]:
    """Rows for runs cut short (e.g. by a session's clock) from the progress lines their measurements printed on stderr:
    each run's row ends at its last measurement, and its time per step spans its first and last measurements."""
    runs: dict[tuple[str, str, int, str], list[dict]] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        if "step" not in d:
            continue
        key = (d.pop("preset"), d.pop("toy"), d.pop("seed"), d.pop("recipe", "preset"))
        runs.setdefault(key, []).append(d)
    return [_row(preset, toy, seed, recipe, curve, curve[-1]["s"], curve[-1]["step"], None)
            for (preset, toy, seed, recipe), curve in runs.items()]


def _mean_se(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return math.nan, 0.0
    return statistics.fmean(vals), (statistics.stdev(vals) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0)


def write_page(path: Path, rows: list[dict], notes: list[str], jobs: int) -> None:
    groups: dict[tuple[str, str, int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["preset"], r["toy"], r["steps"], recipe_of(r)), []).append(r)
    date = dt.date.today().isoformat()
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    lines = ["# The paper presets against their papers' numbers", "",
             f"Written by `benchmarks/paper_presets.py` on {date} ({machine}, 1 thread per run, {jobs} at a time).", "",
             "Each preset follows its paper's released code (network, loss, optimizer, batch; `gankit presets` and "
             "[stabilizers.md](../stabilizers.md) say where from). Protocol: 2,500 samples of G after training; high quality "
             "= within 3 std of the nearest centre; a mode counts when it is the nearest centre of a high-quality sample. "
             "Mean ± standard error over the seeds of a row. `paper budget` is the preset's own `train.steps`; runs that "
             "stop earlier say so in `steps`, and `h for the paper's budget` is the measured time per step × the paper's "
             "steps, for one run on one CPU thread of the row's CPU.", "",
             "| preset | recipe | toy | seeds | steps | modes | high quality % | published (modes / HQ %) | source | paper budget | ms/step | h for the paper's budget | CPU |",
             "|---|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---|"]
    for (preset, toy, steps, recipe), rs in sorted(groups.items()):
        m, m_se = _mean_se([r["modes"] for r in rs])
        h, h_se = _mean_se([100 * r["hq"] for r in rs])
        name, source, ring, grid = PUBLISHED.get(preset, ("—", "—", None, None))
        pub = ring if toy == "ring" else grid
        pub_s = f"{name} {pub[0]:g} / {pub[1]:g}" if pub else "—"
        ms = statistics.fmean(r["ms_per_step"] for r in rs)
        paper = rs[0]["paper_steps"]
        cpus = ", ".join(sorted({r.get("cpu", "not recorded") for r in rs}))
        lines.append(f"| {preset} | {recipe} | {toy} | {len(rs)} | {steps:,} | {m:.1f} ± {m_se:.1f} | {h:.1f} ± {h_se:.1f} | {pub_s} | "
                     f"{source} | {paper:,} | {ms:.0f} | {ms * paper / 3.6e6:.1f} | {cpus} |")
    lines += ["", "## How the numbers move with the budget", "",
              "Modes / high quality % of each run at every measurement (seed in brackets).", ""]
    for (preset, toy, steps, recipe), rs in sorted(groups.items()):
        for r in sorted(rs, key=lambda r: r["seed"]):
            pts = ", ".join(f"{c['step']:,}: {c['modes']} / {100 * c['hq']:.1f}" for c in r["curve"])
            lines.append(f"- {preset} ({recipe}), {toy} [{r['seed']}]: {pts}")
    bn_rows = [r for r in rows if r.get("bn")]
    if bn_rows:
        lines += ["", "## How the measured quality depends on G's batch-norm statistics", "",
                  "High quality % of each run's final G (the same 2,500 latents) with its running statistics, and with population "
                  "statistics recomputed from k fresh batches of the size G is trained on (k × batch).", ""]
        for r in sorted(bn_rows, key=lambda r: (r["preset"], r["toy"], r["steps"], r["seed"])):
            pts = ", ".join(f"{k.replace('x', ' × ')}: {100 * v:.1f}" for k, v in r["bn"].items())
            lines.append(f"- {r['preset']} ({recipe_of(r)}), {r['toy']} [{r['seed']}], {r['steps']:,} steps: {pts}")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    path.write_text("\n".join(lines) + "\n")


def _steps(arg: str, preset: str) -> int | None:
    """``--steps``: one number for every preset, or preset=N pairs (presets not named: None, the paper's budget)."""
    if "=" not in arg:
        return int(arg) or None
    table = dict(item.split("=") for item in arg.split(","))
    return int(table[preset]) if preset in table else None


def _runs(a: argparse.Namespace) -> list[tuple[str, str, int]]:
    """The (preset, toy, seed) jobs: ``--runs`` as given, else presets × toys × seeds."""
    if not a.runs:
        return [(preset, toy, seed) for preset in a.presets.split(",") for toy in a.toys.split(",")
                for seed in range(a.first_seed, a.first_seed + a.seeds)]
    out = []
    for item in a.runs.split(","):
        preset, toy, seeds = item.split(":")
        lo, _, hi = seeds.partition("-")
        out += [(preset, toy, s) for s in range(int(lo), int(hi or lo) + 1)]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default=",".join(PUBLISHED))
    p.add_argument("--toys", default="ring,grid")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--steps", default="0", help="train this many steps instead of the preset's (0: the paper's budget), or "
                                                "preset=N,... per preset")
    p.add_argument("--runs", default="", help="preset:toy:seeds jobs, comma-separated (seeds: 3 or 0-2); instead of the product")
    p.add_argument("--set", action="append", default=[], help="an override added to every run (repeatable)")
    p.add_argument("--every", type=int, default=2000, help="measure the modes every this many steps")
    p.add_argument("--jobs", type=int, default=max(1, os.cpu_count() or 1))
    p.add_argument("--rows", default=str(ROOT / "benchmarks" / "rows" / "paper-presets.jsonl"))
    p.add_argument("--from-rows", default="", help="only write the page from this JSON-lines file")
    p.add_argument("--note", action="append", default=[])
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "paper_presets.md"))
    p.add_argument("--from-progress", default="", help="append rows for runs cut short, from the progress lines they printed "
                   "on stderr, to --rows; then write the page")
    a = p.parse_args()
    if a.from_progress:
        with open(a.rows, "a") as f:
            for row in rows_from_progress(Path(a.from_progress).read_text().splitlines()):
                f.write(json.dumps(row) + "\n")
        a.from_rows = a.rows
    if a.from_rows:
        rows = [json.loads(line) for line in Path(a.from_rows).read_text().splitlines() if line.strip()]
        write_page(Path(a.out), rows, a.note, a.jobs)
        return
    jobs = [(preset, toy, seed, _steps(a.steps, preset), a.every, tuple(a.set)) for preset, toy, seed in _runs(a)]
    with ProcessPoolExecutor(a.jobs) as pool:
        for row in pool.map(run_one, jobs):
            print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
            with open(a.rows, "a") as f:
                f.write(json.dumps(row) + "\n")
    rows = [json.loads(line) for line in Path(a.rows).read_text().splitlines() if line.strip()]
    write_page(Path(a.out), rows, a.note, a.jobs)


if __name__ == "__main__":
    main()
