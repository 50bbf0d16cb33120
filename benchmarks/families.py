"""GAN vs VAE vs flow vs autoregressive vs diffusion on one wall-clock budget (issue 22), written to
docs/benchmarks/families.md.

Every family trains its preset on each dataset (ring, grid: 2-D mixtures with an analytic density; digits: the bundled
8×8 digits with 17 grey levels) for the same wall-clock budget, one thread per run, ``--jobs`` runs at a time, each
budget × seed × dataset × family a cell. A cell:

1. **calibrates**: builds the run's trainer, counts one training step's FLOPs (torch.utils.flop_counter: matmuls and
   convolutions, forward and backward) and times steps for ~3 s, so ``train.steps`` = budget × steps/s keeps every
   step-based schedule (learning-rate decay, the VAE's KL warm-up) whole; ``train.budget_s`` stops the run at the
   budget if the estimate was long;
2. **trains** (evaluation, pictures and checkpoints off; the run's last ``likelihood`` event is its held-out NLL);
3. **scores** 2,000 samples of the averaged network: toys — modes, high-quality fraction, precision / recall
   (k = 3, raw coordinates); digits — FID, precision / recall on digits-cnn features and classes found; the share of
   held-out points whose nearest sample is farther than their nearest training point (``uncovered``; the training set's
   size of samples); diffusion also with the other sampler (DDPM's 1,000 ancestral steps and DDIM's 50; on digits
   only in the timed cell: 2,000 ancestral samples of the U-Net take minutes on one thread);
4. on the first seed of the first budget, **times sampling** (samples/s at batch 1 and 1,000) and **reversibility**
   (flows: encode → decode; the VAE: encoder mean → decoder mean, a reconstruction, not an inverse).

Likelihoods: toys in nats per point against the mixture's entropy (the floor: the true density's NLL); digits in bits
per dimension of the 17-level images. Exact for RealNVP, MADE and PixelCNN; bounds (marked ≥) for Glow (uniform
dequantization), DDPM (variational bound) and the VAE (importance-weighted bound, 64 draws; its discretized logistic
puts mass on 256 levels, so its number also bounds the 17-level NLL). GANs have none.

    python benchmarks/families.py [--budgets 30,120] [--seeds 3] [--jobs 2] [--datasets ring,grid,digits] [--from-rows]
    python benchmarks/families.py --part sweep      # then: DDIM steps against quality on the kept DDPM runs
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "benchmarks" / "rows" / "families.jsonl"
PAGE = ROOT / "docs" / "benchmarks" / "families.md"
from common import QUIET  # noqa: E402

DATASETS = ["ring", "grid", "digits"]
DIGITS8 = ["data.resolution=8"]
#: family -> dataset -> (preset, overrides)
FAMILIES = {
    "GAN": {"ring": ("ring", []), "grid": ("grid", []), "digits": ("digits", DIGITS8)},
    "VAE": {"ring": ("vae-ring", []), "grid": ("vae-grid", []), "digits": ("vae-digits", [*DIGITS8, "vae.likelihood=logistic"])},
    "flow": {"ring": ("flow-ring", []), "grid": ("flow-grid", []), "digits": ("glow-digits", [])},
    "autoregressive": {"ring": ("made-ring", []), "grid": ("made-grid", []), "digits": ("pixelcnn-digits", [])},
    "diffusion": {"ring": ("ddpm-ring", []), "grid": ("ddpm-grid", []), "digits": ("ddpm-digits", [])},
}
MODEL_NAMES = {"ring": {"GAN": "MLP GAN", "VAE": "MLP VAE", "flow": "RealNVP", "autoregressive": "MADE", "diffusion": "DDPM (MLP)"},
               "digits": {"GAN": "DCGAN", "VAE": "conv VAE", "flow": "Glow", "autoregressive": "gated PixelCNN", "diffusion": "DDPM (U-Net)"}}
N_SAMPLES = 2000
DIGITS_FID = 20.0  # the fixed quality of the triangle's efficiency column on digits (with all 10 classes found)
N_TOY_TRAIN = 2000  # the toys' "training set" for the uncovered share (their training stream is infinite)
SEED_PAPERS = [
    ("Glow (Kingma & Dhariwal 2018)", "40 GPUs × 2 weeks", "~200 M", "256² (CelebA-HQ)"),
    ("ProGAN (Karras et al. 2018)", "8 GPUs × 4 days", "~46 M", "1024² (CelebA-HQ)"),
]


def _events(run: Path, event: str) -> list[dict]:
    return [e for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if e["event"] == event]


def calibrate(preset: str, overrides: list[str], seconds: float = 3.0) -> tuple[float, int]:
    """(steps per second, FLOPs of one training step) of the run these overrides make, on this process's threads."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from gankit.api import resolve_config
    from gankit.training.loop import Trainer

    cfg = resolve_config(preset, None, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")
        with FlopCounterMode(display=False) as counter:
            trainer.train_step()
        flops = counter.get_total_flops()
        for _ in range(2):
            trainer.train_step()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or n < 3:
            trainer.train_step()
            n += 1
        rate = n / (time.perf_counter() - t0)
    del torch
    return rate, int(flops)


def toy_sets(name: str) -> tuple:
    """(train, held-out) points of a toy dataset: two fixed draws."""
    import torch

    from gankit.config import load_preset
    from gankit.data import build_dataset

    mixture = build_dataset(load_preset(FAMILIES["GAN"][name][0]).data, "train")
    return mixture.sample(N_TOY_TRAIN, torch.Generator().manual_seed(101)), mixture.sample(N_TOY_TRAIN, torch.Generator().manual_seed(202))


def score(pipe, cfg, info, dataset: str, sample_options: dict | None = None) -> dict:  # noqa: ANN001
    """Quality, coverage and the uncovered share of N_SAMPLES samples."""
    import torch

    from gankit.data import build_dataset
    from gankit.data.images import to_float
    from gankit.metrics.evaluate import evaluate_samples
    from gankit.metrics.features import build_extractor
    from gankit.metrics.memorization import low_support

    t0 = time.perf_counter()
    x = pipe(N_SAMPLES, seed=12345, **(sample_options or {}))
    t_sample = time.perf_counter() - t0
    if dataset == "digits":
        vals = evaluate_samples(x, info, cfg.data, ["fid", "pr", "classes"])
        ext = build_extractor("digits-cnn")
        train = to_float(build_dataset(cfg.data, "train").images)
        test = to_float(build_dataset(cfg.data, "test").images)
        feats = [ext(t)["features"] for t in (train, x[:len(train)], test)]
        out = {k: vals[k] for k in ("fid", "precision", "recall", "classes")}
    else:
        vals = evaluate_samples(x, info, cfg.data, ["modes", "pr"])
        train, test = toy_sets(dataset)
        feats = [train.numpy(), x[:len(train)].numpy(), test.numpy()]
        out = {k: vals[k] for k in ("modes", "hq_fraction", "precision", "recall")}
    out["uncovered"] = low_support(*feats)["uncovered"]
    out["finite"] = bool(torch.isfinite(x).all())
    out["sample_s"] = t_sample
    return out


def sampling_speed(pipe, sample_options: dict | None = None) -> dict:  # noqa: ANN001
    """Samples per second at batch 1 (median of 5 after one warm-up) and batch 1,000 (after one warm-up batch of 100)."""
    opts = sample_options or {}
    pipe(1, seed=0, **opts)
    times = []
    for i in range(5):
        t0 = time.perf_counter()
        pipe(1, seed=i + 1, **opts)
        times.append(time.perf_counter() - t0)
    pipe(100, seed=0, batch=1000, **opts)
    t0 = time.perf_counter()
    pipe(1000, seed=7, batch=1000, **opts)
    return {"per_s_1": 1.0 / statistics.median(times), "per_s_1000": 1000.0 / (time.perf_counter() - t0)}


def reversibility(run: Path, family: str, cfg, dataset: str) -> float | None:  # noqa: ANN001
    """Flows: max |decode(encode(x)) − x| over held-out data; the VAE: RMSE of decoder mean(encoder mean(x)); else None."""
    import torch

    from gankit import api
    from gankit.data import build_dataset
    from gankit.data.images import to_float
    from gankit.training.loop import Trainer

    x = to_float(build_dataset(cfg.data, "test").images) if dataset == "digits" else toy_sets(dataset)[1]
    if family == "flow":
        pipe = api.load(run)
        return float((pipe.decode(pipe.encode(x)) - x).abs().max())
    if family == "VAE":
        from gankit.likelihoods import LIKELIHOODS

        task = Trainer(cfg, run, resume=True).task
        enc, dec = task.networks["encoder"].eval(), task.networks["decoder_ema"].eval()
        with torch.no_grad():
            rec = LIKELIHOODS.get(dec.likelihood).mean(dec(enc(x)[0]).float())
        return float((rec - x).pow(2).mean().sqrt())
    return None


def cell(dataset: str, family: str, budget: float, seed: int, runs: Path, timing: bool) -> list[dict]:
    """Calibrate, train, score one (dataset, family, budget, seed)."""
    import torch

    from gankit import api
    from gankit.config import load_file
    from gankit.data import build_dataset, info_of

    torch.set_num_threads(1)
    preset, extra = FAMILIES[family][dataset]
    base = [*extra, *QUIET, "eval.every=0", f"train.seed={seed}", "train.threads=1"]  # the held-out NLL once, at the end
    rate, flops = calibrate(preset, base)
    steps = max(int(budget * rate), 10)
    run = runs / f"{dataset}-{family}-{int(budget)}s-{seed}"
    import shutil

    shutil.rmtree(run, ignore_errors=True)
    summary = api.train(preset, out=run, overrides=[*base, f"train.steps={steps}", f"train.budget_s={budget}"])
    cfg = load_file(run / "config.json")
    info = info_of(build_dataset(cfg.data, "train"), cfg.data.name)
    start = _events(run, "start")[0]
    lik = _events(run, "likelihood")
    row = {"dataset": dataset, "family": family, "budget": budget, "seed": seed, "preset": preset, "model": cfg.model.name,
           "steps": summary["step"], "planned_steps": steps, "wall_s": summary["wall_s"], "flops_per_step": flops,
           "train_flops": flops * summary["step"],
           "params": sum(v for k, v in start.items() if k.startswith("params_")), "sampler_params": None}
    pipe = api.load(run)
    row["sampler_params"] = sum(p.numel() for p in pipe.module.parameters())
    if lik:
        row.update({"nll": lik[-1]["nll"], "bpd": lik[-1].get("bpd"), "kind": lik[-1]["kind"], "entropy": lik[-1].get("entropy")})
    own = dict(pipe.meta.get("sample_options", {}))
    row.update(score(pipe, cfg, info, dataset, own or None))
    rows = [row]
    if family == "diffusion":
        row["variant"] = "ancestral-1000" if own.get("sampler") == "ddpm" else "ddim-50"
    if family == "diffusion" and (dataset != "digits" or timing):  # the other sampler on the same network (digits: first seed only)
        other = {"sampler": "ddim", "steps": 50, "eta": 0.0} if own.get("sampler") == "ddpm" else {"sampler": "ddpm"}
        alt = {**row, "variant": "ddim-50" if other["sampler"] == "ddim" else "ancestral-1000"}
        alt.update(score(pipe, cfg, info, dataset, other))
        rows.append(alt)
    if timing:
        for r in rows:
            opts = ({"sampler": "ddim", "steps": 50, "eta": 0.0} if r.get("variant") == "ddim-50" else {"sampler": "ddpm"}) if family == "diffusion" else {}
            r.update(sampling_speed(pipe, opts))
        rows[0]["reversal_error"] = reversibility(run, family, cfg, dataset)
    return rows


SWEEP_STEPS = [5, 10, 20, 50, 100, 250]


def ddim_sweep(dataset: str, run: Path) -> list[dict]:
    """Sampling steps traded for quality on one trained DDPM: DDIM (η = 0) at each of SWEEP_STEPS and (toys) the
    ancestral sampler's 1,000 steps, each scored like a cell and timed (seconds for the N_SAMPLES samples, one thread;
    on digits the ancestral sampler's 9 minutes are measured once, in the timed cell)."""
    import torch

    from gankit import api
    from gankit.config import load_file
    from gankit.data import build_dataset, info_of

    torch.set_num_threads(1)
    cfg = load_file(run / "config.json")
    info = info_of(build_dataset(cfg.data, "train"), cfg.data.name)
    pipe = api.load(run)
    rows = []
    for steps in [*SWEEP_STEPS, *([0] if dataset != "digits" else [])]:  # digits' ancestral 1,000 steps: the timed cell's row
        opts = {"sampler": "ddim", "steps": steps, "eta": 0.0} if steps else {"sampler": "ddpm"}
        got = score(pipe, cfg, info, dataset, opts)
        rows.append({"part": "sweep", "dataset": dataset, "run": run.name, "steps": steps or cfg.model.timesteps,
                     "sampler": opts["sampler"], **got})
    return rows


# --------------------------------------------------------------------------- the page


def _ms(values: list[float], digits: int = 2) -> str:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return "—"
    m = statistics.fmean(vals)
    if len(vals) == 1:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


def _label(r: dict) -> str:
    names = MODEL_NAMES["digits" if r["dataset"] == "digits" else "ring"]
    label = f"{r['family']}: {names[r['family']]}"
    return f"{label}, {r['variant']}" if r.get("variant") else label


def _si(n: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f}"


def write_page(meta: dict, rows: list[dict]) -> None:
    sweep_rows = [r for r in rows if r.get("part") == "sweep"]
    rows = [r for r in rows if r.get("part") != "sweep"]
    for r in rows:  # rows written before every diffusion row named its sampler: the preset's (ddim-50 on digits)
        if r["family"] == "diffusion" and not r.get("variant"):
            r["variant"] = "ddim-50" if r["dataset"] == "digits" else "ancestral-1000"
    budgets = sorted({r["budget"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    out = ["# GAN vs VAE vs flow vs autoregressive vs diffusion, on one budget", "",
           f"Written by `benchmarks/families.py` ({meta['date']}, {meta['machine']}, torch {meta['torch']}); budgets "
           f"{', '.join(f'{b:g} s' for b in budgets)} of wall-clock training per run, one thread per run, {len(seeds)} seed(s) "
           "per cell (mean ± standard deviation over seeds). What each column is and how it is measured: the script's "
           "docstring. Issue 22.", ""]
    for ds in DATASETS:
        rs = [r for r in rows if r["dataset"] == ds]
        if not rs:
            continue
        toy = ds != "digits"
        out += [f"## {ds}", ""]
        if toy:
            ent = next((r["entropy"] for r in rs if r.get("entropy") is not None), None)
            out += [f"The true density's NLL (the mixture's entropy, the floor) is **{ent:.3f} nats** per point." if ent is not None else "", ""]
        for b in budgets:
            rb = [r for r in rs if r["budget"] == b]
            if not rb:
                continue
            q = ["modes", "hq_fraction"] if toy else ["fid", "classes"]
            head = (["family: model", "params", "steps", "train s", "train FLOPs"] + (["modes (of 8/25)", "high-quality"] if toy else ["FID (digits-cnn)", "classes"])
                    + ["precision", "recall", "uncovered", "NLL (nats)" if toy else "bits/dim", "sampling s / 2,000"])
            out += [f"### {b:g} s per run", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for label in dict.fromkeys(_label(r) for r in rb):
                g = [r for r in rb if _label(r) == label]
                lik = "—"
                if g[0].get("kind"):
                    vals = [r["nll"] if toy else r.get("bpd") for r in g]
                    lik = ("≥ " if g[0]["kind"] != "exact" else "") + _ms(vals, 3)
                    if g[0]["kind"] == "not a likelihood":
                        lik = "—"
                out.append("| " + " | ".join([label, _si(g[0]["params"]), _ms([r["steps"] for r in g], 0), _ms([r["wall_s"] for r in g], 0), _si(statistics.fmean(r["train_flops"] for r in g))]
                                             + [_ms([r[k] for r in g], 3 if k != "fid" else 2) for k in q]
                                             + [_ms([r["precision"] for r in g], 3), _ms([r["recall"] for r in g], 3), _ms([r["uncovered"] for r in g], 3),
                                                lik, _ms([r["sample_s"] for r in g], 3)]) + " |")
            out.append("")
    # the triangle
    timed = [r for r in rows if r.get("per_s_1") is not None]
    if timed:
        out += ["## The triangle, measured", "",
                "Sampling speed from the first seed of the first budget (one thread): samples per second at batch 1 and at "
                "batch 1,000, and how the time per sample grows from the 2-D toys to the 64-dimensional digits (batch 1,000). "
                "Reversibility: the largest |decode(encode(x)) − x| of held-out data for flows; the VAE's reconstruction RMSE "
                "(an encoder, not an inverse). Efficiency: parameters and training FLOPs to reach a fixed quality — the "
                "smallest budget at which all seeds reach it, with its FLOPs.", "",
                "| family | samples/s, batch 1 (ring / digits) | batch 1,000 (ring / digits) | time per sample, digits ÷ ring | "
                f"reversible (error, ring / digits) | params (ring / digits) | fixed quality reached (ring: 8 modes and HQ ≥ 0.9; digits: 10 classes and FID ≤ {DIGITS_FID:g}) |",
                "|---|---|---|---|---|---|---|"]
        for fam in FAMILIES:
            variants = dict.fromkeys(r.get("variant") for r in timed if r["family"] == fam)
            for var in variants:
                def pick(ds: str) -> dict | None:
                    return next((r for r in timed if r["family"] == fam and r["dataset"] == ds and r.get("variant") == var), None)
                ring, dig = pick("ring"), pick("digits")

                def pair(key: str, fmt: str = "{:.0f}") -> str:
                    return " / ".join(fmt.format(r[key]) if r and r.get(key) is not None else "—" for r in (ring, dig))
                ratio = f"{ring['per_s_1000'] / dig['per_s_1000']:.1f}×" if ring and dig else "—"
                rev = "—"
                if fam in ("flow", "VAE"):
                    base = [r for r in rows if r["family"] == fam and r.get("reversal_error") is not None]
                    errs = {r["dataset"]: r["reversal_error"] for r in base}
                    rev = ("exact: " if fam == "flow" else "reconstruction: ") + " / ".join(f"{errs[d]:.1e}" if d in errs else "—" for d in ("ring", "digits"))
                else:
                    rev = "no encoder" if fam in ("GAN", "autoregressive") else "no encoder (DDIM's ODE can encode; not measured)"
                reach = []
                for ds in ("ring", "digits"):
                    for b in budgets:
                        g = [r for r in rows if r["family"] == fam and r["dataset"] == ds and r["budget"] == b and r.get("variant") == var]
                        ok = g and all((r["modes"] == 8 and r["hq_fraction"] >= 0.9) if ds == "ring" else
                                       (r["classes"] == 10 and r["fid"] <= DIGITS_FID) for r in g)
                        if ok:
                            reach.append(f"{ds}: {b:g} s ({_si(statistics.fmean(r['train_flops'] for r in g))}FLOP)")
                            break
                    else:
                        reach.append(f"{ds}: not within {budgets[-1]:g} s")
                params = " / ".join(_si(r["params"]) if r else "—" for r in (ring, dig))
                name = fam + (f" ({var})" if var else "")
                out.append(f"| {name} | {pair('per_s_1')} | {pair('per_s_1000')} | {ratio} | {rev} | {params} | {'; '.join(reach)} |")
        out.append("")
    sweep = sweep_rows
    if sweep:
        out += ["## Diffusion: sampling steps against quality", "",
                "One trained DDPM per dataset (the first seed of the longest budget), sampled with DDIM (η = 0) on a "
                "uniform subsequence of the 1,000 steps, and with the ancestral sampler over all of them; seconds for "
                f"{N_SAMPLES:,} samples on one thread.", ""]
        for ds in DATASETS:
            rs = [r for r in sweep if r["dataset"] == ds]
            if not rs:
                continue
            q = ["modes", "hq_fraction"] if ds != "digits" else ["fid", "classes"]
            out += [f"**{ds}** ({rs[0]['run']})", "", "| sampler | steps | seconds | " + " | ".join(q) + " | precision | recall | uncovered |",
                    "|---|---|---|" + "---|" * (len(q) + 3)]
            for r in rs:
                out.append(f"| {r['sampler']} | {r['steps']} | {r['sample_s']:.2f} | " + " | ".join(f"{r[k]:.3f}" if k != "fid" else f"{r[k]:.2f}" for k in q)
                           + f" | {r['precision']:.3f} | {r['recall']:.3f} | {r['uncovered']:.3f} |")
            out.append("")
    out += ["## The seed papers' compute, for scale", "", "| model | compute | parameters | resolution |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in SEED_PAPERS]
    out += ["", "Ours: the parameters and FLOPs columns above, on one CPU thread for minutes.", ""]
    notes = meta.get("notes")
    if notes:
        out += ["## What the numbers say", "", notes, ""]
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text("\n".join(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", default="30,120", help="wall-clock seconds per run, comma-separated")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-families")
    ap.add_argument("--from-rows", action="store_true", help="rewrite the page from the rows file without measuring")
    ap.add_argument("--part", choices=("cells", "sweep"), default="cells",
                    help="cells: the comparison; sweep: DDIM steps against quality on the kept DDPM runs (after the cells)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from common import open_rows, run_cells

    meta, rows = open_rows(ROWS, args.from_rows)
    if args.part == "sweep" and not args.from_rows:
        longest = max(float(b) for b in args.budgets.split(","))
        rows = [r for r in rows if r.get("part") != "sweep"]
        run_cells(args.jobs, {ds: (ddim_sweep, (ds, args.runs / f"{ds}-diffusion-{int(longest)}s-0")) for ds in args.datasets.split(",")},
                  rows, ROWS, meta)
        args.from_rows = True
    if not args.from_rows:
        budgets = [float(b) for b in args.budgets.split(",")]
        done = {(r["dataset"], r["family"], r["budget"], r["seed"]) for r in rows if r.get("part") != "sweep"}
        cells = [(ds, fam, b, s) for b in budgets for s in range(args.seeds) for ds in args.datasets.split(",") for fam in args.families.split(",")
                 if (ds, fam, b, s) not in done]
        args.runs.mkdir(parents=True, exist_ok=True)
        failed = run_cells(args.jobs, {(ds, fam, b, s): (cell, (ds, fam, b, s, args.runs, b == budgets[0] and s == 0))
                                       for ds, fam, b, s in cells}, rows, ROWS, meta)
        if failed:
            print(f"{len(failed)} cell(s) failed: {failed}", flush=True)
    write_page(meta, rows)
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
