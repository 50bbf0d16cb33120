"""Peer check: gankit.metrics.tables.quality_report against sdmetrics' single-table QualityReport.

Builds three small seeded mixed-type tables (numerical with NaN, an integer column, categorical with None,
boolean as bool / object-with-NaN / object-with-None, datetime with and without NaT), a perturbed synthetic
counterpart of each (shifted marginals, weakened correlation, an unseen category, other missing rates), and
prints sdmetrics' overall / Column Shapes / Column Pair Trends scores next to gankit's, with every per-column and
per-pair value, under sdmetrics 0.32's default trend thresholds (0.5 / 0.3) and with both thresholds at 0
(every pair scored). Needs an environment with sdmetrics (never a gankit dependency):

    /work/peers/.venv/bin/python benchmarks/peers/sdmetrics_check.py [--out /tmp/sdmetrics_check.json]

tests/metrics/test_table_metrics.py loads this file for ``make_tables`` (sdmetrics is imported only when the script
runs), checks the tables' fingerprints and freezes the sdmetrics numbers printed here.
"""
from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

# (seed, rows of real, rows of synthetic, perturbation strength)
SPECS = ((11, 200, 180, 0.5), (22, 150, 220, 1.0), (33, 300, 300, 0.2))
COLUMNS = {
    "age": "numerical",
    "income": "numerical",
    "visits": "numerical",
    "city": "categorical",
    "member": "boolean",
    "joined": "datetime",
}
THRESHOLDS = {"default": (0.5, 0.3), "zero": (0.0, 0.0)}


def _table(
    rng: np.random.Generator, n: int, shift: float, noise: float, extra_city: bool, variant: int, nan_rate: float
) -> pd.DataFrame:
    age = np.round(rng.normal(40.0 + 8.0 * shift, 12.0, n), 1)
    income = np.round(1000.0 * age + rng.normal(0.0, 6000.0 + 20000.0 * noise, n), 2)
    visits = rng.poisson(3.0 + 2.0 * shift, n).astype(np.int64)
    cities = np.array(["Lyon", "Paris", "Nice", "Lille", "Atlantis"], dtype=object)
    p_young = np.array([0.5, 0.1, 0.3, 0.1, 0.0]) * (1 - 0.5 * shift) + np.array([0.25] * 4 + [0.0]) * 0.5 * shift
    p_old = np.array([0.1, 0.6, 0.1, 0.2, 0.0])
    if extra_city:
        p_young, p_old = p_young * 0.95, p_old * 0.95
        p_young[4] = p_old[4] = 0.05
    p_young, p_old = p_young / p_young.sum(), p_old / p_old.sum()
    u = rng.random(n)
    city = np.where(age > 42.0, cities[np.searchsorted(np.cumsum(p_old), u, side="right").clip(0, 4)],
                    cities[np.searchsorted(np.cumsum(p_young), u, side="right").clip(0, 4)]).astype(object)
    member = (income > np.nanmedian(income)) ^ (rng.random(n) < 0.15 + 0.3 * noise)
    days = (np.nan_to_num(age, nan=40.0) * 30.0 + rng.integers(0, 2000, n)).astype(np.int64)
    joined = np.datetime64("2010-01-01T00:00:00", "ns") + days.astype("timedelta64[D]").astype("timedelta64[ns]")

    age[rng.random(n) < nan_rate] = np.nan
    income[rng.random(n) < nan_rate / 2] = np.nan
    city[rng.random(n) < nan_rate] = None
    member_missing = rng.random(n) < nan_rate
    joined_missing = rng.random(n) < (nan_rate if variant != 2 else 0.0)
    joined[joined_missing] = np.datetime64("NaT")
    if variant == 0:
        member_col = pd.Series(member, dtype=bool)
    else:
        member_obj = member.astype(object)
        member_obj[member_missing] = np.nan if variant == 1 else None
        member_col = pd.Series(member_obj, dtype=object)
    return pd.DataFrame({
        "age": pd.Series(age, dtype="float64"),
        "income": pd.Series(income, dtype="float64"),
        "visits": pd.Series(visits, dtype="int64"),
        "city": pd.Series(city, dtype=object),
        "member": member_col,
        "joined": pd.Series(joined, dtype="datetime64[ns]"),
    })


def make_tables(index: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(real, synthetic) for SPECS[index]; synthetic is drawn from a perturbed version of the real process."""
    seed, n_real, n_synth, strength = SPECS[index]
    real = _table(np.random.default_rng(seed), n_real, 0.0, 0.0, False, index, 0.08)
    synth = _table(
        np.random.default_rng(seed + 1000), n_synth, strength, strength, True, index, 0.04 + 0.04 * strength
    )
    return real, synth


def fingerprint(frame: pd.DataFrame) -> list[float]:
    """A few numbers that pin the table down (checked by the test that rebuilds it)."""
    return [
        float(np.nansum(frame["age"])),
        float(np.nansum(frame["income"])),
        float(frame["visits"].sum()),
        float(frame["city"].isna().sum()),
        float((frame["city"] == "Paris").sum()),
        float((frame["member"] == True).sum()),  # noqa: E712 (object column: elementwise equality)
        float(frame["joined"].isna().sum()),
        float((frame["joined"].dropna().astype("int64") // 10**9).sum()),  # seconds: no int64 overflow
    ]


def sdmetrics_scores(real: pd.DataFrame, synth: pd.DataFrame, thresholds: tuple[float, float]) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the single-table report class is a deprecated alias
        from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    report.real_correlation_threshold, report.real_association_threshold = thresholds
    metadata = {"columns": {c: {"sdtype": t} for c, t in COLUMNS.items()}}
    report.generate(real, synth, metadata, verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    shapes = report.get_details("Column Shapes")
    pairs = report.get_details("Column Pair Trends")
    return {
        "quality": float(report.get_score()),
        "column_shapes": float(props["Column Shapes"]),
        "column_pair_trends": float(props["Column Pair Trends"]),
        "columns": {r["Column"]: float(r["Score"]) for _, r in shapes.iterrows()},
        "pairs": {f"{r['Column 1']}|{r['Column 2']}": float(r["Score"]) for _, r in pairs.iterrows()},
    }


def gankit_scores(real: pd.DataFrame, synth: pd.DataFrame, thresholds: tuple[float, float]) -> dict:
    from gankit.metrics.tables import quality_report

    q = quality_report(real, synth, COLUMNS, real_correlation_threshold=thresholds[0],
                       real_association_threshold=thresholds[1])
    return {
        "quality": q["quality"],
        "column_shapes": q["column_shapes"],
        "column_pair_trends": q["column_pair_trends"],
        "columns": q["column_shapes_details"],
        "pairs": {f"{a}|{b}": v for (a, b), v in q["column_pair_trends_details"].items()},
    }


def _diff(a: float, b: float) -> float:
    if math.isnan(a) and math.isnan(b):
        return 0.0
    return abs(a - b) if not (math.isnan(a) or math.isnan(b)) else math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/sdmetrics_check.json"))
    args = parser.parse_args()
    import sdmetrics

    results = {"sdmetrics": sdmetrics.__version__, "pandas": pd.__version__, "numpy": np.__version__, "tables": []}
    worst: dict[str, float] = {}
    for index, spec in enumerate(SPECS):
        real, synth = make_tables(index)
        entry = {"spec": spec, "fingerprint_real": fingerprint(real), "fingerprint_synth": fingerprint(synth)}
        for label, thresholds in THRESHOLDS.items():
            theirs, ours = sdmetrics_scores(real, synth, thresholds), gankit_scores(real, synth, thresholds)
            entry[label] = {"sdmetrics": theirs, "gankit": ours}
            print(f"\ntable {index} (seed {spec[0]}), thresholds {thresholds}")
            print(f"  {'score':28s} {'sdmetrics':>20s} {'gankit':>20s} {'|diff|':>9s}")
            rows = [(k, theirs[k], ours[k], k) for k in ("quality", "column_shapes", "column_pair_trends")]
            rows += [(f"  {c}", theirs["columns"][c], ours["columns"][c], "per_column") for c in theirs["columns"]]
            rows += [(f"  {p}", theirs["pairs"][p], ours["pairs"][p], "per_pair") for p in theirs["pairs"]]
            for name, a, b, group in rows:
                d = _diff(a, b)
                worst[group] = max(worst.get(group, 0.0), d)
                print(f"  {name:28s} {a:20.15f} {b:20.15f} {d:9.1e}")
        results["tables"].append(entry)
    results["max_abs_diff"] = worst
    print("\nmax |sdmetrics - gankit|:", json.dumps(worst))
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
