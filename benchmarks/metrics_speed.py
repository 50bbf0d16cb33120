"""Speed (and agreement) of gankit's score-layer metrics on 2,048-d synthetic features.

What it measures, in one run:
- FID: time to compute the statistics (mean, covariance) of one feature set, separately from the score; the score
  from statistics via gankit (``method="auto"``: Cholesky factor, and ``method="eigh"``: symmetric square root) and
  via the two formulas other libraries use, written here from their formulas:
    (b) sqrtm:   tr(real(scipy.linalg.sqrtm(S1 @ S2)))        (pytorch-fid, clean-fid)
    (c) eigvals: sum(real(sqrt(np.linalg.eigvals(S1 @ S2))))  (torch-fidelity)
  plus the FID values they give and their absolute / relative difference to gankit's.
- KID: 100 subsets of 1,000 (the protocol in DESIGN.md), matmuls in float64 and float32.
- precision/recall/density/coverage (``prdc``) on N × 2,048 features, time and peak extra memory, measured with
  tracemalloc (numpy registers its array buffers with it; BLAS-internal scratch buffers are not counted).

Timings are the median of repeats after one warm-up run (for sqrtm/eigvals the warm-up is a 256-d problem, so as
not to spend minutes warming up). Usage:

    python benchmarks/metrics_speed.py            # n = 10,000 per set, writes docs/benchmarks/metrics_speed.md
    python benchmarks/metrics_speed.py --quick    # n = 2,000, fewer repeats and KID subsets
    python benchmarks/metrics_speed.py --json     # also print one JSON object on stdout
    python benchmarks/metrics_speed.py --threads 1 --note "..."   # 1 BLAS thread (steadier on a busy machine)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy
import scipy.linalg

from gankit.metrics.fid import feature_stats, fid_from_stats
from gankit.metrics.kid import kid
from gankit.metrics.prdc import prdc

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"sqrtm_over_ours_min": 3.0, "eigvals_over_ours_min": 1.0, "rel_diff_max": 1e-6}


CPU_TIMES: dict[str, float] = {}


def timed(
    fn: Callable[[], Any], repeats: int, warmup: Callable[[], Any] | None = None, key: str = ""
) -> tuple[float, Any, list]:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up (``warmup`` or ``fn`` itself).

    The median process CPU time (all threads) is stored in CPU_TIMES[key]: on a shared machine it is the less
    load-sensitive of the two numbers.
    """
    (warmup or fn)()
    times, cpu, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if key:
        CPU_TIMES[key] = statistics.median(cpu)
    return statistics.median(times), out, times


def fid_sqrtm(mu1, s1, mu2, s2) -> float:
    """pytorch-fid / clean-fid formula: matrix square root of the non-symmetric product, real part of its trace."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def fid_eigvals(mu1, s1, mu2, s2) -> float:
    """torch-fidelity formula: square roots of the (general) eigenvalues of S1 S2, real part, summed."""
    eig = np.linalg.eigvals(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(eig.astype(complex)).real.sum())


def synthetic(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Real = correlated Gaussian (random linear map); fake = a perturbed map plus a small mean shift. (n, d) each."""
    g = np.random.default_rng(seed)
    w = g.standard_normal((d, d)) / np.sqrt(d)
    real = g.standard_normal((n, d)) @ w + 0.5
    fake = g.standard_normal((n, d)) @ (w + 0.1 * g.standard_normal((d, d)) / np.sqrt(d)) + 0.55
    return real, fake


def machine() -> dict[str, Any]:
    import sklearn
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = ""
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            sorted({f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)" for i in threadpool_info()
                    if i["user_api"] == "blas"})
        )
    except Exception:  # threadpoolctl is optional; the report just omits the BLAS line
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "blas": blas,
    }


def run(quick: bool, n: int | None = None, d: int = 2048) -> dict[str, Any]:
    if n is None:
        n = 2500 if quick else 10_000  # > D, so that both covariances are full rank (the usual benchmark setting)
    rep = 2 if quick else 3
    rep_fid = 2 if quick else 3  # interleaved rounds; sqrtm / eigvals take 10-40 s each at D = 2048
    kid_subsets = 20 if quick else 100
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    real, fake = synthetic(n, d)
    small_mu, small_s = feature_stats(synthetic(600, min(d, 256), seed=1)[0])

    # ---- FID
    t_stats, (mu1, s1), _ = timed(lambda: feature_stats(real), rep, key="stats")
    mu2, s2 = feature_stats(fake)
    methods: dict[str, Callable[[], float]] = {
        "ours": lambda: fid_from_stats(mu1, s1, mu2, s2),
        "ours_eigh": lambda: fid_from_stats(mu1, s1, mu2, s2, method="eigh"),
        "sqrtm": lambda: fid_sqrtm(mu1, s1, mu2, s2),
        "eigvals": lambda: fid_eigvals(mu1, s1, mu2, s2),
    }
    # warm-up: ours at full size (cheap), the two slow baselines on a 256-d problem
    methods["ours"]()
    methods["ours_eigh"]()
    fid_sqrtm(small_mu, small_s, small_mu, small_s)
    fid_eigvals(small_mu, small_s, small_mu, small_s)
    # Interleaved rounds: every method runs once per round, so load changes on a shared machine hit all of them
    # alike; ratios are the median over rounds of the per-round ratio.
    wall: dict[str, list[float]] = {k: [] for k in methods}
    cpu: dict[str, list[float]] = {k: [] for k in methods}
    vals: dict[str, float] = {}
    for _ in range(rep_fid):
        for name, fn in methods.items():
            t0, c0 = time.perf_counter(), time.process_time()
            vals[name] = fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}

    def ratio(a: str, b: str, table: dict[str, list[float]]) -> float:
        return statistics.median(x / y for x, y in zip(table[a], table[b]))

    v_ours, v_eigh, v_sqrtm, v_eig = vals["ours"], vals["ours_eigh"], vals["sqrtm"], vals["eigvals"]
    fid_res = {
        "n_per_set": n,
        "dim": d,
        "rounds": rep_fid,
        "stats_s_per_set": t_stats,
        "stats_cpu_s_per_set": CPU_TIMES["stats"],
        "stats_repeats": rep,
        "ours_s": med["ours"],
        "ours_eigh_s": med["ours_eigh"],
        "sqrtm_s": med["sqrtm"],
        "eigvals_s": med["eigvals"],
        "wall_s_all": wall,
        "cpu_s": med_cpu,
        "sqrtm_over_ours": ratio("sqrtm", "ours", wall),
        "eigvals_over_ours": ratio("eigvals", "ours", wall),
        "sqrtm_over_ours_eigh": ratio("sqrtm", "ours_eigh", wall),
        "eigvals_over_ours_eigh": ratio("eigvals", "ours_eigh", wall),
        "sqrtm_over_ours_cpu": ratio("sqrtm", "ours", cpu),
        "eigvals_over_ours_cpu": ratio("eigvals", "ours", cpu),
        "fid_ours": v_ours,
        "fid_ours_eigh": v_eigh,
        "fid_sqrtm": v_sqrtm,
        "fid_eigvals": v_eig,
        "abs_diff_sqrtm": abs(v_sqrtm - v_ours),
        "rel_diff_sqrtm": abs(v_sqrtm - v_ours) / v_ours,
        "abs_diff_eigvals": abs(v_eig - v_ours),
        "rel_diff_eigvals": abs(v_eig - v_ours) / v_ours,
        "abs_diff_eigh": abs(v_eigh - v_ours),
        "rel_diff_eigh": abs(v_eigh - v_ours) / v_ours,
    }

    # ---- KID
    kid_res: dict[str, Any] = {"subsets": kid_subsets, "subset_size": 1000}
    for dtype in ("float64", "float32"):
        kid_rep = 1 if (not quick and dtype == "float64") else 2
        t, (mean, std), _ = timed(
            lambda: kid(real, fake, subsets=kid_subsets, subset_size=1000, dtype=dtype),
            kid_rep,
            warmup=lambda: kid(real, fake, subsets=2, subset_size=1000, dtype=dtype),
            key=f"kid_{dtype}",
        )
        kid_res[f"{dtype}_s"] = t
        kid_res[f"{dtype}_cpu_s"] = CPU_TIMES[f"kid_{dtype}"]
        kid_res[f"{dtype}_mean"] = mean
        kid_res[f"{dtype}_std"] = std
        kid_res[f"{dtype}_repeats"] = kid_rep
    kid_res["float32_abs_diff"] = abs(kid_res["float32_mean"] - kid_res["float64_mean"])

    # ---- PRDC
    prdc(real[: min(n, 500)], fake[: min(n, 500)])  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    scores = prdc(real, fake)
    t_prdc, c_prdc = time.perf_counter() - t0, time.process_time() - c0
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    prdc(real, fake)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    prdc_res = {
        "n_per_set": n,
        "dim": d,
        "seconds": t_prdc,
        "cpu_seconds": c_prdc,
        "peak_extra_mib": peak / 2**20,
        "memory_method": "tracemalloc peak minus baseline during the call (numpy buffers; BLAS scratch excluded)",
        "input_mib_per_set": real.nbytes / 2**20,
        **scores,
    }

    targets = {
        "sqrtm_over_ours>=3": fid_res["sqrtm_over_ours"] >= TARGETS["sqrtm_over_ours_min"],
        "eigvals_over_ours>=1": fid_res["eigvals_over_ours"] >= TARGETS["eigvals_over_ours_min"],
        "rel_diff<=1e-6": max(fid_res["rel_diff_sqrtm"], fid_res["rel_diff_eigvals"]) <= TARGETS["rel_diff_max"],
    }
    return {
        "benchmark": "metrics_speed",
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
        "load_avg_start": list(load_start),
        "load_avg_end": list(os.getloadavg()),
        "total_s": time.perf_counter() - t_start,
        "fid": fid_res,
        "kid": kid_res,
        "prdc": prdc_res,
        "targets": targets,
    }


def markdown(r: dict[str, Any]) -> str:
    m, f, k, p = r["machine"], r["fid"], r["kid"], r["prdc"]
    c = f["cpu_s"]
    ok = lambda b: "met" if b else "**not met**"  # noqa: E731
    t = r["targets"]
    lines = [
        "# Metric speed (score layer)",
        "",
        f"Written by `benchmarks/metrics_speed.py{' --quick' if r['quick'] else ''}"
        f"{' --threads ' + str(r['blas_threads_limit']) if r.get('blas_threads_limit') else ''}` on {r['date']} "
        f"(total {r['total_s']:.0f} s).",
        "",
        *([f"Note: {r['note']}", ""] if r.get("note") else []),
        f"Machine: {m['cpu']}, os.cpu_count() = {m['cpu_count']}, {m['platform']}; Python {m['python']}, "
        f"numpy {m['numpy']}, scipy {m['scipy']}, torch {m['torch']}, scikit-learn {m['sklearn']}; "
        f"BLAS: {m['blas'] or 'unknown'}. Load average (1 min) at start / end: "
        f"{r['load_avg_start'][0]:.2f} / {r['load_avg_end'][0]:.2f}."
        + (f" BLAS threads limited to {r['blas_threads_limit']}." if r.get("blas_threads_limit") else ""),
        "",
        f"Features: synthetic, D = {f['dim']}, N = {f['n_per_set']:,} per set (real: Gaussian through a random "
        "linear map; fake: a perturbed map and a small mean shift). Times are medians of repeats after a warm-up.",
        "",
        "## FID",
        "",
        f"The four score methods ran in {f['rounds']} interleaved rounds (each method once per round) so that load "
        "changes on a shared machine hit all of them alike; times are medians over rounds and ratios are medians of "
        "the per-round ratios. Process CPU time (all threads) is given too; with an oversubscribed CPU it includes "
        "BLAS threads spinning, so read it with the load averages above.",
        "",
        "| step | method | wall (s) | CPU (s) | repeats / rounds | FID | abs. diff vs ours | rel. diff vs ours |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        f"| statistics (one set) | `feature_stats`: mean + covariance, float64 | {f['stats_s_per_set']:.3f} | "
        f"{f['stats_cpu_s_per_set']:.3f} | {f['stats_repeats']} | | | |",
        f"| score from statistics | **ours** (`fid_from_stats`, Cholesky + `eigvalsh`) | {f['ours_s']:.3f} | "
        f"{c['ours']:.3f} | {f['rounds']} | {f['fid_ours']:.13g} | 0 | 0 |",
        f"| score from statistics | ours, `method=\"eigh\"` (S1^½ via `eigh` + `eigvalsh`) | {f['ours_eigh_s']:.3f} | "
        f"{c['ours_eigh']:.3f} | {f['rounds']} | {f['fid_ours_eigh']:.13g} | {f['abs_diff_eigh']:.3g} | "
        f"{f['rel_diff_eigh']:.3g} |",
        f"| score from statistics | `scipy.linalg.sqrtm(S1 @ S2)` (pytorch-fid, clean-fid) | {f['sqrtm_s']:.3f} | "
        f"{c['sqrtm']:.3f} | {f['rounds']} | {f['fid_sqrtm']:.13g} | {f['abs_diff_sqrtm']:.3g} | "
        f"{f['rel_diff_sqrtm']:.3g} |",
        f"| score from statistics | `np.linalg.eigvals(S1 @ S2)` (torch-fidelity) | {f['eigvals_s']:.3f} | "
        f"{c['eigvals']:.3f} | {f['rounds']} | {f['fid_eigvals']:.13g} | {f['abs_diff_eigvals']:.3g} | "
        f"{f['rel_diff_eigvals']:.3g} |",
        "",
        "| target | measured (wall) | measured (CPU) | |",
        "|---|---:|---:|---|",
        f"| sqrtm time / ours >= 3 | {f['sqrtm_over_ours']:.1f}x (eigh variant: {f['sqrtm_over_ours_eigh']:.1f}x) | "
        f"{f['sqrtm_over_ours_cpu']:.1f}x | {ok(t['sqrtm_over_ours>=3'])} |",
        f"| eigvals time / ours >= 1 | {f['eigvals_over_ours']:.1f}x "
        f"(eigh variant: {f['eigvals_over_ours_eigh']:.1f}x) | "
        f"{f['eigvals_over_ours_cpu']:.1f}x | {ok(t['eigvals_over_ours>=1'])} |",
        f"| relative FID difference <= 1e-6 | {max(f['rel_diff_sqrtm'], f['rel_diff_eigvals']):.2g} | | "
        f"{ok(t['rel_diff<=1e-6'])} |",
        "",
        "## KID",
        "",
        f"{k['subsets']} subsets of {k['subset_size']:,}, cubic polynomial kernel, D = {f['dim']}.",
        "",
        "| Gram matmul dtype | wall (s) | CPU (s) | repeats | KID mean | KID std |",
        "|---|---:|---:|---:|---:|---:|",
        f"| float64 (default) | {k['float64_s']:.2f} | {k['float64_cpu_s']:.2f} | {k['float64_repeats']} | "
        f"{k['float64_mean']:.6g} | {k['float64_std']:.3g} |",
        f"| float32 | {k['float32_s']:.2f} | {k['float32_cpu_s']:.2f} | {k['float32_repeats']} | "
        f"{k['float32_mean']:.6g} | {k['float32_std']:.3g} |",
        "",
        f"float32 vs float64 mean: absolute difference {k['float32_abs_diff']:.2g}. "
        "The cost is three (1000 × D)·(D × 1000) products per subset (two run as symmetric rank-k updates), "
        "i.e. about 8e11 flops for 100 subsets at D = 2,048: several seconds on 2 cores whatever the "
        "implementation, so the 'well under a second' wish is out of reach here.",
        "",
        "## Precision / recall / density / coverage",
        "",
        "| N per set | D | wall (s) | CPU (s) | peak extra memory (MiB) | precision | recall | density | coverage |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {p['n_per_set']:,} | {p['dim']} | {p['seconds']:.2f} | {p['cpu_seconds']:.2f} | "
        f"{p['peak_extra_mib']:.0f} | {p['precision']:.4f} | "
        f"{p['recall']:.4f} | {p['density']:.4f} | {p['coverage']:.4f} |",
        "",
        f"Memory: {p['memory_method']}; inputs ({p['input_mib_per_set']:.0f} MiB per set, already float64) are not "
        "counted. Distance chunks hold about 2**24 float64 values (128 MiB) whatever N, so the peak stays near this "
        "figure for 50,000 × 2,048 too (plus O(N) vectors); float32 inputs are first converted to float64 "
        "(N × D × 8 bytes each).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="n = 2,000 per set, fewer repeats and KID subsets")
    ap.add_argument("--json", action="store_true", help="print one JSON object with all numbers on stdout")
    ap.add_argument("--n", type=int, default=None, help="rows per set (default 10,000; 2,500 with --quick)")
    ap.add_argument("--dim", type=int, default=2048, help="feature dimension D (default 2,048)")
    ap.add_argument(
        "--threads", type=int, default=None, help="limit BLAS threads (threadpoolctl); default: leave as configured"
    )
    ap.add_argument("--note", default="", help="a sentence to print under the title (e.g. about machine load)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "metrics_speed.md")
    args = ap.parse_args(argv)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.threads, user_api="blas"):
            result = run(args.quick, args.n, args.dim)
        result["blas_threads_limit"] = args.threads
    else:
        result = run(args.quick, args.n, args.dim)
    if args.note:
        result["note"] = args.note
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(markdown(result))
    os.replace(tmp, args.out)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
