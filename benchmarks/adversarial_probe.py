"""D under attack during training, with and without spectral normalization and R1 (issue 23, the third instrument).

Each variant trains a preset with ``trick.probe_adversarial`` on and reads its ``adversarial`` events: D's mean score
change under FGSM and 10-step PGD of L∞ size ε toward the other side (real down, fake up), D's local Lipschitz estimate
‖∇ₓD‖₂, and ``g_ratio``: how much of the worst-case score gain of an L2 step of the same size G's own update obtained
(1: G moved along D's steepest direction, as an adversarial example would). Variants: the preset as it is,
``model.spectral_norm=d`` (Miyato et al. 2018) and R1 (Mescheder et al. 2018).

    python benchmarks/adversarial_probe.py [--steps 2000] [--every 250] [--threads 1]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]
# (preset, ε in data units, variant name, overrides)
VARIANTS = [("ring", 0.05, "plain", []), ("ring", 0.05, "spectral norm (D)", ["model.spectral_norm=d"]),
            ("ring", 0.05, "R1 γ=1", ["reg.r1=1.0"]),
            ("digits", 0.0627, "plain", []), ("digits", 0.0627, "spectral norm (D)", ["model.spectral_norm=d"]),
            ("digits", 0.0627, "R1 γ=10", ["reg.r1=10.0"])]


def run_one(preset: str, eps: float, name: str, over: list[str], steps: int, every: int) -> dict:
    import gankit

    with tempfile.TemporaryDirectory() as tmp:
        gankit.train(preset, out=Path(tmp) / "run", overrides=[*QUIET, *over, f"train.steps={steps}",
                                                                f"trick.probe_adversarial={every}", f"trick.probe_eps={eps}"])
        events = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    probes = [e for e in events if e["event"] == "adversarial" and "fgsm_real" in e]
    follow = [e for e in events if e["event"] == "adversarial" and "g_ratio" in e]
    last = probes[-1]
    return {"preset": preset, "variant": name, "eps": eps, "steps": steps,
            **{k: last[k] for k in ("fgsm_real", "fgsm_fake", "pgd_real", "pgd_fake", "lipschitz_real", "lipschitz_fake")},
            "g_ratio_mean": statistics.fmean(e["g_ratio"] for e in follow), "g_ratio_max": max(e["g_ratio"] for e in follow),
            "probes": len(probes)}


def write_page(rows: list[dict], path: Path, notes: list[str] = ()) -> None:
    lines = ["# D under attack: how far small perturbations move D, and whether G's updates exploit it", "",
             f"Written by `benchmarks/adversarial_probe.py` on {dt.date.today().isoformat()} (one seed; torch threads 1). "
             "Each row trains the preset with `trick.probe_adversarial`; the columns are the last probe's mean score changes "
             "(raw D outputs, logits) under FGSM and 10-step PGD of L∞ size ε toward the other side (real pushed down, fake "
             "up), D's local Lipschitz estimate ‖∇ₓD‖₂, and over all probes the ratio of G's own score gain to the "
             "first-order worst case of an L2 step of the same size (1: G moved along D's steepest direction).", "",
             "| preset | variant | steps | ε | FGSM real | PGD real | FGSM fake | PGD fake | ‖∇D‖ real | ‖∇D‖ fake | "
             "G's gain / worst case (mean, max) |", "|" + "---|" * 11]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['variant']} | {r['steps']} | {r['eps']} | {r['fgsm_real']:.3g} | {r['pgd_real']:.3g} | "
                     f"{r['fgsm_fake']:.3g} | {r['pgd_fake']:.3g} | {r['lipschitz_real']:.3g} | {r['lipschitz_fake']:.3g} | "
                     f"{r['g_ratio_mean']:.3f}, {r['g_ratio_max']:.3f} |")
    for note in notes:
        lines += ["", note]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", default=str(ROOT / "benchmarks" / "rows" / "adversarial-probe.jsonl"))
    ap.add_argument("--from-rows")
    ap.add_argument("--note", action="append", default=[], help="a paragraph for the page's end")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.from_rows:
        rows = [json.loads(line) for line in Path(args.from_rows).read_text().splitlines() if line.strip()]
    else:
        rows, out = [], Path(args.rows)
        out.unlink(missing_ok=True)
        for preset, eps, name, over in VARIANTS:
            r = run_one(preset, eps, name, over, args.steps, args.every)
            rows.append(r)
            with out.open("a") as f:
                f.write(json.dumps(r) + "\n")
            print(json.dumps(r), flush=True)
    write_page(rows, ROOT / "docs" / "benchmarks" / "adversarial_probe.md", args.note)


if __name__ == "__main__":
    main()
