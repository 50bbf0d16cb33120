"""Does a larger batch speed a GAN up the way it speeds a classifier up? (issue 23, the fourth instrument)

For each batch size B the toy presets (``ring``, ``grid``) train on the same budget of real samples shown (the
preset's batch × steps), so larger batches take proportionally fewer steps; the learning rates follow the
square-root rule for Adam, lr(B) = lr₀ · √(B / B₀) (Hoffer et al. 2017; Malladi et al. 2022), B₀ the preset's batch.
Mode coverage (modes recovered, high-quality fraction; 2,500 samples) is measured at eight points of the budget, so
the page gives quality per sample seen and per wall-second. A run *diverged* when the divergence guard rolled it back
or it ended with fewer than half the modes. The ``digits`` preset (DCGAN, 1,438 training images, so batches up to
1,024) is measured the same way with FID and coverage (digits-cnn, 2,000 samples against the training split); its
target is FID ≤ 1.5 × the best final FID of any batch size, and it *diverged* when rolled back or ending above 3× that.

    python benchmarks/batch_scaling.py [--toys ring,grid] [--batches 32,64,...,4096] [--seeds 2] [--threads 1]
        [--images digits] [--image-batches 32,...,1024] [--image-seeds 1] [--rows ...] [--image-rows ...] [--from-rows]
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
    """One run: rows (one per measurement) of samples seen, wall seconds and the quality measures (toys: modes and HQ
    fraction; images: FID, density and coverage)."""
    import gankit
    from gankit.config import load_preset

    base = load_preset(toy)
    image = base.data.name not in MODES
    b0, steps0 = base.train.batch_size, base.train.steps
    budget = b0 * steps0
    steps = max(budget // batch, POINTS)
    every = max(steps // POINTS, 1)
    scale = math.sqrt(batch / b0)
    over = [*QUIET, f"train.batch_size={batch}", f"train.steps={steps}", f"train.seed={seed}", f"train.lr_g={base.train.lr_g * scale}",
            f"train.lr_d={base.train.lr_d * scale}", f"eval.metrics=[{'fid,dc' if image else 'modes'}]", f"eval.every={every}",
            f"train.log_every={every}"]
    with tempfile.TemporaryDirectory() as tmp:
        summary = gankit.train(toy, out=Path(tmp) / "run", overrides=over)
        events = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    wall = {e["step"]: e["wall_s"] for e in events if e["event"] == "log"}
    rows = []
    for e in events:
        if e["event"] == "eval" and ("fid" if image else "modes") in e:
            quality = {"fid": e["fid"], "coverage": e["coverage"], "density": e["density"]} if image else \
                {"modes": e["modes"], "hq": e["hq_fraction"]}
            rows.append({"toy": toy, "batch": batch, "seed": seed, "step": e["step"], "seen": e["step"] * batch,
                         "wall_s": wall.get(e["step"], summary["wall_s"]), **quality,
                         "lr_scale": scale, "rollbacks": summary["rollbacks"], "budget": budget})
    return rows


def summarize_images(rows: list[dict]) -> dict[tuple[str, int], dict]:
    """(preset, batch) -> final FID / coverage (mean over seeds), samples and seconds until FID first fell to the target
    (1.5 × the best final FID of any batch size; mean over the runs that got there), divergence rate, seeds."""
    runs: dict[tuple[str, int, int], list[dict]] = {}
    for r in rows:
        runs.setdefault((r["toy"], r["batch"], r["seed"]), []).append(r)
    best: dict[str, float] = {}
    for (name, _, _), rs in runs.items():
        best[name] = min(best.get(name, math.inf), max(rs, key=lambda r: r["step"])["fid"])
    out: dict[tuple[str, int], dict] = {}
    for (name, batch, seed), rs in sorted(runs.items()):
        rs = sorted(rs, key=lambda r: r["step"])
        target = 1.5 * best[name]
        hit = next((r for r in rs if r["fid"] <= target), None)
        d = out.setdefault((name, batch), {"final_fid": [], "final_coverage": [], "seen_to": [], "s_to": [], "diverged": [],
                                           "wall_s": [], "budget": rs[-1]["budget"], "lr_scale": rs[-1]["lr_scale"], "target": target})
        d["final_fid"].append(rs[-1]["fid"])
        d["final_coverage"].append(rs[-1]["coverage"])
        d["wall_s"].append(rs[-1]["wall_s"])
        d["diverged"].append(rs[-1]["rollbacks"] > 0 or rs[-1]["fid"] > 2 * target)
        if hit is not None:
            d["seen_to"].append(hit["seen"])
            d["s_to"].append(hit["wall_s"])
    for d in out.values():
        d["seeds"], d["reached"] = len(d["final_fid"]), len(d["seen_to"])
        d["diverged"] = sum(d["diverged"]) / d["seeds"]
        for key in ("final_fid", "final_coverage", "seen_to", "s_to", "wall_s"):
            d[key] = statistics.fmean(d[key]) if d[key] else math.nan
    return out


def _seen(v: float) -> str:
    return "—" if not math.isfinite(v) else (f"{v / 1000:.0f}k" if v >= 1000 else f"{v:.0f}")


def image_table_lines(summary: dict[tuple[str, int], dict]) -> list[str]:
    lines = ["| preset | batch | lr × | FID at the end | coverage at the end | samples to the target FID | seconds to the target | "
             "seconds for the budget | runs reaching it | diverged |", "|" + "---|" * 10]
    for (name, batch), d in summary.items():
        secs = f"{d['s_to']:.0f}" if math.isfinite(d["s_to"]) else "—"
        lines.append(f"| {name} | {batch} | {d['lr_scale']:.2f} | {d['final_fid']:.1f} | {d['final_coverage']:.3f} | {_seen(d['seen_to'])} | "
                     f"{secs} | {d['wall_s']:.0f} | {d['reached']}/{d['seeds']} | {d['diverged']:.0%} |")
    return lines


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
        seen = _seen(d["seen_to_all"])
        secs = f"{d['s_to_all']:.1f}" if math.isfinite(d["s_to_all"]) else "—"
        lines.append(f"| {toy} | {batch} | {d['lr_scale']:.2f} | {d['final_modes']:.1f} | {d['final_hq']:.3f} | {seen} | {secs} | "
                     f"{d['wall_s']:.1f} | {d['found_all']}/{d['seeds']} | {d['diverged']:.0%} |")
    return lines


def write_page(rows: list[dict], path: Path, notes: list[str] = (), image_rows: list[dict] = ()) -> None:
    summary = summarize(rows)
    lines = ["# Batch-size scaling: quality per sample seen and per second", "",
             f"Written by `benchmarks/batch_scaling.py` on {dt.date.today().isoformat()} (torch threads 1). Each toy preset "
             "trains on the same budget of real samples at every batch size (fewer steps for larger batches), learning "
             "rates scaled by √(B/B₀); mode coverage at 8 points of the budget (2,500 samples). Samples / seconds to all "
             "modes: the first measurement with every mode recovered (mean over the runs that got there).", "",
             *table_lines(summary), ""]
    if image_rows:
        im = summarize_images(image_rows)
        target = next(iter(im.values()))["target"]
        lines += ["The digits preset on the same protocol (FID and coverage with digits-cnn, 2,000 samples; the target is FID ≤ "
                  f"{target:.1f}, 1.5 × the best final FID of any batch size; batches up to 1,024, the training set holding "
                  "1,438 images):", "", *image_table_lines(im), ""]
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
    ap.add_argument("--images", default="digits", help="image presets ('' for none)")
    ap.add_argument("--image-batches", default="32,64,128,256,512,1024")
    ap.add_argument("--image-seeds", type=int, default=1)
    ap.add_argument("--image-rows", default=str(ROOT / "benchmarks" / "rows" / "batch-scaling-images.jsonl"))
    ap.add_argument("--from-rows", action="store_true", help="rewrite the page from the rows files without training")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    plan = [(args.rows, [t for t in args.toys.split(",") if t], args.batches, args.seeds),
            (args.image_rows, [t for t in args.images.split(",") if t], args.image_batches, args.image_seeds)]
    if not args.from_rows:
        for rows_file, names, batches, seeds in plan:
            if not names:
                continue
            out = Path(rows_file)
            out.unlink(missing_ok=True)
            for name in names:
                for batch in (int(b) for b in batches.split(",")):
                    for seed in range(seeds):
                        new = run_one(name, batch, seed)
                        with out.open("a") as f:
                            f.writelines(json.dumps(r) + "\n" for r in new)
                        print(json.dumps(new[-1]), flush=True)

    def read(rows_file: str) -> list[dict]:
        p = Path(rows_file)
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.is_file() else []

    write_page(read(args.rows), ROOT / "docs" / "benchmarks" / "batch_scaling.md", args.note, read(args.image_rows))
    print(f"wrote {ROOT / 'docs' / 'benchmarks' / 'batch_scaling.md'}")


if __name__ == "__main__":
    main()
