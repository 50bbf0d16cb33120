"""Does a larger batch speed a GAN up the way it speeds a classifier up? (issue 23, the fourth instrument)

For each batch size B the toy presets (``ring``, ``grid``) train on the same budget of real samples shown (the
preset's batch × steps), so larger batches take proportionally fewer steps; the learning rates follow the
square-root rule for Adam, lr(B) = lr₀ · √(B / B₀) (Hoffer et al. 2017; Malladi et al. 2022), B₀ the preset's batch.
Mode coverage (modes recovered, high-quality fraction; 2,500 samples) is measured at eight points of the budget, so
the page gives quality per sample seen and per wall-second. A run *diverged* when the divergence guard rolled it back
or it ended with fewer than half the modes.

    python benchmarks/batch_scaling.py [--toys ring,grid] [--batches 32,64,...,4096] [--seeds 2] [--threads 1]
        [--rows benchmarks/rows/batch-scaling.jsonl] [--from-rows FILE]
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
QUIET = ["train.progress=false", "health.monitor=false", "train.sample_every=100000000", "train.checkpoint_every=100000000"]
POINTS = 8  # measurements along the budget
MODES = {"ring": 8, "grid": 25}


def run_one(toy: str, batch: int, seed: int) -> list[dict]:
    """One run: rows (one per measurement) of samples seen, wall seconds, modes and HQ fraction."""
    import gankit
    from gankit.config import load_preset

    base = load_preset(toy)
    b0, steps0 = base.train.batch_size, base.train.steps
    budget = b0 * steps0
    steps = max(budget // batch, POINTS)
    every = max(steps // POINTS, 1)
    scale = math.sqrt(batch / b0)
    over = [*QUIET, f"train.batch_size={batch}", f"train.steps={steps}", f"train.seed={seed}", f"train.lr_g={base.train.lr_g * scale}",
            f"train.lr_d={base.train.lr_d * scale}", "eval.metrics=[modes]", f"eval.every={every}", f"train.log_every={every}"]
    with tempfile.TemporaryDirectory() as tmp:
        summary = gankit.train(toy, out=Path(tmp) / "run", overrides=over)
        events = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    wall = {e["step"]: e["wall_s"] for e in events if e["event"] == "log"}
    rows = []
    for e in events:
        if e["event"] == "eval" and "modes" in e:
            rows.append({"toy": toy, "batch": batch, "seed": seed, "step": e["step"], "seen": e["step"] * batch,
                         "wall_s": wall.get(e["step"], summary["wall_s"]), "modes": e["modes"], "hq": e["hq_fraction"],
                         "lr_scale": scale, "rollbacks": summary["rollbacks"], "budget": budget})
    return rows


def summarize(rows: list[dict]) -> dict[tuple[str, int], dict]:
    """(toy, batch) -> final modes and HQ (mean over seeds), samples and seconds until every mode was first found
    (mean over the seeds that found them all), divergence rate, seeds."""
    runs: dict[tuple[str, int, int], list[dict]] = {}
    for r in rows:
        runs.setdefault((r["toy"], r["batch"], r["seed"]), []).append(r)
    out: dict[tuple[str, int], dict] = {}
    for (toy, batch, seed), rs in sorted(runs.items()):
        rs = sorted(rs, key=lambda r: r["step"])
        k = MODES.get(toy, max(r["modes"] for r in rs))
        full = next((r for r in rs if r["modes"] >= k), None)
        d = out.setdefault((toy, batch), {"final_modes": [], "final_hq": [], "seen_to_all": [], "s_to_all": [], "diverged": [],
                                          "wall_s": [], "budget": rs[-1]["budget"], "lr_scale": rs[-1]["lr_scale"]})
        d["final_modes"].append(rs[-1]["modes"])
        d["final_hq"].append(rs[-1]["hq"])
        d["wall_s"].append(rs[-1]["wall_s"])
        d["diverged"].append(rs[-1]["rollbacks"] > 0 or rs[-1]["modes"] < k / 2)
        if full is not None:
            d["seen_to_all"].append(full["seen"])
            d["s_to_all"].append(full["wall_s"])
    for d in out.values():
        d["seeds"] = len(d["final_modes"])
        d["found_all"] = len(d["seen_to_all"])
        d["diverged"] = sum(d["diverged"]) / d["seeds"]
        for key in ("final_modes", "final_hq", "seen_to_all", "s_to_all", "wall_s"):
            d[key] = statistics.fmean(d[key]) if d[key] else math.nan
    return out


def table_lines(summary: dict[tuple[str, int], dict]) -> list[str]:
    lines = ["| toy | batch | lr × | modes at the end | HQ at the end | samples to all modes | seconds to all modes | seconds for the budget | "
             "runs finding all | diverged |", "|" + "---|" * 10]
    for (toy, batch), d in summary.items():
        seen = "—" if not math.isfinite(d["seen_to_all"]) else (f"{d['seen_to_all'] / 1000:.0f}k" if d["seen_to_all"] >= 1000
                                                                else f"{d['seen_to_all']:.0f}")
        secs = f"{d['s_to_all']:.1f}" if math.isfinite(d["s_to_all"]) else "—"
        lines.append(f"| {toy} | {batch} | {d['lr_scale']:.2f} | {d['final_modes']:.1f} | {d['final_hq']:.3f} | {seen} | {secs} | "
                     f"{d['wall_s']:.1f} | {d['found_all']}/{d['seeds']} | {d['diverged']:.0%} |")
    return lines


def write_page(rows: list[dict], path: Path, notes: list[str] = ()) -> None:
    summary = summarize(rows)
    lines = ["# Batch-size scaling: quality per sample seen and per second", "",
             f"Written by `benchmarks/batch_scaling.py` on {dt.date.today().isoformat()} (torch threads 1). Each toy preset "
             "trains on the same budget of real samples at every batch size (fewer steps for larger batches), learning "
             "rates scaled by √(B/B₀); mode coverage at 8 points of the budget (2,500 samples). Samples / seconds to all "
             "modes: the first measurement with every mode recovered (mean over the runs that got there).", "",
             *table_lines(summary), ""]
    for note in notes:
        lines += [note, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toys", default="ring,grid")
    ap.add_argument("--batches", default="32,64,128,256,512,1024,2048,4096")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", default=str(ROOT / "benchmarks" / "rows" / "batch-scaling.jsonl"))
    ap.add_argument("--from-rows")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.from_rows:
        rows = [json.loads(line) for line in Path(args.from_rows).read_text().splitlines() if line.strip()]
    else:
        rows, out = [], Path(args.rows)
        out.unlink(missing_ok=True)
        for toy in args.toys.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                for seed in range(args.seeds):
                    new = run_one(toy, batch, seed)
                    rows += new
                    with out.open("a") as f:
                        f.writelines(json.dumps(r) + "\n" for r in new)
                    print(json.dumps(new[-1]), flush=True)
    write_page(rows, ROOT / "docs" / "benchmarks" / "batch_scaling.md", args.note)
    print(f"wrote {ROOT / 'docs' / 'benchmarks' / 'batch_scaling.md'}")


if __name__ == "__main__":
    main()
