"""Does bf16 autocast cost quality? The `digits` preset trained in fp32 and in bf16 for a few seeds, scored alike.

Each run is the default job (`gankit train --preset digits`, 2,000 steps) with ``train.precision`` forced, evaluated
once at the end (FID, KID, precision/recall, classes with digits-cnn on 2,000 samples). Writes
docs/benchmarks/precision_quality.md. ``--tabulate RUN_DIR ...`` only reads finished runs (named ``*-fp32-*`` /
``*-bf16-*``) instead of training.

    python benchmarks/precision_quality.py [--seeds 3] [--jobs 2]
    python benchmarks/precision_quality.py --tabulate /tmp/dg-fp32 /tmp/dg-bf16 ...
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

KEYS = ("fid", "kid", "precision", "recall", "classes", "class_kl")


def final_eval(run: Path) -> dict:
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    ev = [e for e in events if e.get("event") == "eval"][-1]
    end = [e for e in events if e.get("event") == "end"][-1]
    start = [e for e in events if e.get("event") == "start"][0]
    cfg = json.loads((run / "config.json").read_text())
    mode = start.get("precision", cfg["train"]["precision"])
    if mode == "bf16" and cfg["train"].get("kernels", "native") == "native":  # runs before train.kernels used PyTorch's
        mode = "bf16, native kernels"
    return {"precision_mode": mode, "seed": cfg["train"]["seed"],
            "step": ev["step"], "wall_s": end["wall_s"], **{k: ev[k] for k in KEYS}}


MODES = {"fp32": ["train.precision=fp32"], "bf16": ["train.precision=bf16", "train.kernels=auto"],
         "bf16-native": ["train.precision=bf16", "train.kernels=native"]}


def train(out: Path, mode: str, seed: int) -> Path:
    subprocess.run([sys.executable, "-m", "gankit", "train", "--preset", "digits", "--out", str(out), f"train.seed={seed}",
                    *MODES[mode], "train.threads=1", "train.progress=false", "eval.every=0"], check=True,
                   capture_output=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--modes", default=",".join(MODES), help="fp32, bf16 (gankit's GEMM kernels, the default) and bf16-native "
                   "(train.kernels=native: PyTorch's convolution kernels)")
    p.add_argument("--tabulate", nargs="*", help="finished run directories to read instead of training")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "precision_quality.md"))
    args = p.parse_args()
    if args.tabulate:
        runs = [Path(r) for r in args.tabulate]
    else:
        tmp = Path(tempfile.mkdtemp())
        jobs = [(tmp / f"digits-{mode}-{s}", mode, s) for s in range(args.seeds) for mode in args.modes.split(",")]
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(lambda j: train(*j), jobs))
    rows = sorted((final_eval(r) for r in runs), key=lambda r: (r["precision_mode"], r["seed"]))
    lines = ["# bf16 autocast, its kernels and sample quality on digits", "",
             f"Written by `benchmarks/precision_quality.py` on {dt.date.today().isoformat()}. The default job (`digits` preset: "
             "DCGAN 128-64-32, 2,000 steps, batch 64) with `train.precision` forced, and in bf16 with gankit's convolution kernels "
             "(`train.kernels=auto`, the default: weight gradients as one GEMM where that is faster) and with PyTorch's own "
             "(`train.kernels=native`), one thread per run, evaluated at the end "
             "on 2,000 samples with digits-cnn. These FIDs compare precisions with each other only: the real-vs-real floor has 359 test images, and FID at 2,000 samples is not comparable with it (docs/benchmarks/digits.md scores like with like). Wall times were measured with other runs "
             "sharing the 2 cores; compare them within this table only.", "",
             "| precision | seed | FID ↓ | KID ↓ | precision ↑ | recall ↑ | classes | class KL ↓ | wall s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['precision_mode']} | {r['seed']} | {r['fid']:.1f} | {r['kid']:.1f} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {r['classes']:.0f} | {r['class_kl']:.3f} | {r['wall_s']:.0f} |")
    for mode in dict.fromkeys(r["precision_mode"] for r in rows):
        rs = [r for r in rows if r["precision_mode"] == mode]
        if len(rs) > 1:
            m = {k: statistics.fmean(r[k] for r in rs) for k in (*KEYS, "wall_s")}
            sd = statistics.stdev(r["fid"] for r in rs)
            lines.append(f"| **{mode} mean** | {len(rs)} seeds | {m['fid']:.1f} ± {sd:.1f} | {m['kid']:.1f} | {m['precision']:.3f} | "
                         f"{m['recall']:.3f} | {m['classes']:.1f} | {m['class_kl']:.3f} | {m['wall_s']:.0f} |")
    lines.append("")
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
