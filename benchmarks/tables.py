"""gankit's CTGAN and TVAE against the ``ctgan`` package (Xu et al.'s reference code, BUSL-1.1: a benchmark peer only,
never a dependency of gankit) on the same tables, epochs and seeds, in one run.

Tables: scikit-learn's bundled iris, wine, breast-cancer and diabetes; the mixed-type tables (categories, integers,
dates, missing values) that ship inside the ``palmerpenguins`` (penguins) and ``vega_datasets`` (cars,
seattle-weather) packages; each split 80 / 20 by a fixed seed; and the simulated asia, grid, gridr and ring (``--rows`` rows per split drawn from the true model). Each (table, seed) trains the four
models one after the other with the same epochs (``--epochs``; the authors' 300 by default, ``--sim-epochs`` for the
larger simulated tables), batch 500, the authors' other defaults, torch on ``--threads`` threads; every model then
samples as many rows as the training split has, and gankit's metrics (sdmetrics-exact quality; ML efficacy with the
CTGAN paper's models; DCR; detection AUC; the simulated-data likelihoods) score all of them the same way. ``real``
rows score the held-out split itself: the ceiling a generator can reach.

Needs an environment with ``ctgan`` (``pip install ctgan``; it pulls rdt, also BUSL-1.1), ``palmerpenguins``,
``vega_datasets`` and gankit; run it alone.

    python benchmarks/tables.py [--tables iris,wine,...] [--seeds 3] [--epochs 300] [--sim-epochs 100] [--rows 5000]
        [--threads 2] [--rows-file benchmarks/rows/tables.jsonl] [--from-rows FILE]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ("iris", "wine", "breast-cancer", "diabetes", "penguins", "cars", "seattle-weather")
SIMULATED = ("asia", "grid", "gridr", "ring")
MODELS = ("gankit-ctgan", "ctgan-ctgan", "gankit-tvae", "ctgan-tvae")
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]


# tables that ship inside packages the benchmark installs (mixed types, missing values): name -> (loader, target, sdtypes)
PACKAGE_TABLES = {
    "penguins": ("palmerpenguins:load_penguins", "species",
                 {"species": "categorical", "island": "categorical", "bill_length_mm": "numerical", "bill_depth_mm": "numerical",
                  "flipper_length_mm": "numerical", "body_mass_g": "numerical", "sex": "categorical", "year": "numerical"}),
    "cars": ("vega_datasets:cars", "Origin",
             {"Name": "id", "Miles_per_Gallon": "numerical", "Cylinders": "numerical", "Displacement": "numerical",
              "Horsepower": "numerical", "Weight_in_lbs": "numerical", "Acceleration": "numerical", "Year": "datetime",
              "Origin": "categorical"}),
    "seattle-weather": ("vega_datasets:seattle_weather", "weather",
                        {"date": "datetime", "precipitation": "numerical", "temp_max": "numerical", "temp_min": "numerical",
                         "wind": "numerical", "weather": "categorical"}),
}
_PACKAGE_DIR = Path(tempfile.mkdtemp(prefix="gankit-bench-tables-"))


def data_values(table: str, rows: int) -> dict:
    """The ``data.*`` values of a table: bundled and simulated by name; package tables written once as CSV + SDV metadata."""
    if table not in PACKAGE_TABLES:
        return {"table": table, "rows": rows}
    source, target, sdtypes = PACKAGE_TABLES[table]
    csv, meta = _PACKAGE_DIR / f"{table}.csv", _PACKAGE_DIR / f"{table}.json"
    if not csv.exists():
        import importlib

        module, fn = source.split(":")
        mod = importlib.import_module(module)
        df = getattr(mod, fn)() if hasattr(mod, fn) else getattr(mod.data, fn)()
        df.to_csv(csv, index=False, date_format="%Y-%m-%d")
        meta.write_text(json.dumps({"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "columns": {
            c: {"sdtype": t, **({"datetime_format": "%Y-%m-%d"} if t == "datetime" else {})} for c, t in sdtypes.items()}}))
    return {"path": str(csv), "metadata": str(meta), "target": target}


def _frames(table: str, rows: int):
    from gankit.config.sections import DataConfig
    from gankit.data.tables.data import table_frame

    cfg = DataConfig(name="table", **data_values(table, rows))
    train, schema, _, target, simulated = table_frame(cfg, "train")
    test, *_ = table_frame(cfg, "test")
    return train.reset_index(drop=True), test.reset_index(drop=True), schema, target, simulated, cfg


def epoch_steps(kind: str, rows: int, batch: int, epochs: int) -> tuple[int, int]:
    """(batch size, steps) that make ``epochs`` epochs as the authors' code counts them (gankit.tables.epoch_steps)."""
    from gankit.tables import epoch_steps as steps_of

    return steps_of(kind, rows, batch, epochs)


def fit_gankit(kind: str, table: str, rows: int, epochs: int, seed: int, n: int):
    """(synthetic rows, fit seconds, training-loop seconds) of gankit's ctgan or tvae preset on the bundled / simulated
    table; fit seconds count everything ``gankit.train`` does (data encoding, the loop, the export, the HTML report)."""
    import gankit

    train_rows = len(_frames(table, rows)[0])
    batch, steps = epoch_steps(kind, train_rows, 500, epochs)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        summary = gankit.train("table" if kind == "ctgan" else "tvae", out=Path(tmp) / "run",
                               overrides=[*QUIET, *[f"data.{k}={v}" for k, v in data_values(table, rows).items()],
                                          f"train.steps={steps}", f"train.seed={seed}", f"train.batch_size={batch}"])
        fit_s = time.perf_counter() - t
        pipe = gankit.load(Path(tmp) / "run")
        return pipe(n, seed=seed), fit_s, summary["wall_s"]


def fit_peer(kind: str, train, schema, epochs: int, seed: int, n: int):
    """(synthetic rows, fit seconds) of the ctgan package's CTGAN or TVAE, discrete columns from the schema."""
    import pandas as pd
    from ctgan import CTGAN, TVAE

    discrete = [c.name for c in schema.modelled if c.discrete]
    df = train[[c.name for c in schema.modelled]].copy()
    if any(df[c.name].isna().any() for c in schema.modelled if c.discrete):  # categories: missing as a category of its own
        for c in schema.modelled:
            if c.discrete:
                df[c.name] = df[c.name].astype(object).where(df[c.name].notna(), None)
    dates = [c.name for c in schema.modelled if c.sdtype == "datetime"]
    for c in schema.modelled:  # the package models numbers and categories: datetimes go in as seconds, booleans as categories
        if c.sdtype == "boolean":
            df[c.name] = df[c.name].astype(object)
        if c.sdtype == "numerical":
            df[c.name] = df[c.name].astype("float64")
        if c.sdtype == "datetime":
            df[c.name] = (df[c.name] - pd.Timestamp("1970-01-01")).dt.total_seconds()
    # The package refuses missing values in continuous columns: fill them with the mean and add a missing-indicator
    # category column (what SDV's transformers do for it), restored after sampling.
    gaps = [c.name for c in schema.modelled if c.sdtype in ("numerical", "datetime") and df[c.name].isna().any()]
    for name in gaps:
        df[f"{name}__missing"] = df[name].isna().map({True: "yes", False: "no"})
        df[name] = df[name].fillna(df[name].mean())
        discrete.append(f"{name}__missing")
    t = time.perf_counter()
    model = (CTGAN if kind == "ctgan" else TVAE)(epochs=epochs)
    model.set_random_state(seed)
    model.fit(df, discrete_columns=discrete)
    fit_s = time.perf_counter() - t
    train_s = fit_s  # the package's fit is its encoding and its loop
    synth = model.sample(n)
    for name in gaps:
        synth.loc[synth.pop(f"{name}__missing") == "yes", name] = float("nan")
    for c in schema.modelled:
        if c.sdtype == "numerical" and c.integer:
            synth[c.name] = pd.to_numeric(synth[c.name]).round().astype("Int64" if c.nullable else "int64")
    for name in dates:
        synth[name] = pd.Timestamp("1970-01-01") + pd.to_timedelta(synth[name], unit="s")
    return synth, fit_s, train_s


def score(synth, train, test, schema, target, simulated, seed: int) -> dict:
    """gankit's metrics of one synthetic table (the same code for every model)."""
    from gankit.metrics.table_utility import detection, ml_efficacy, privacy
    from gankit.metrics.tables import quality_report

    cols = schema.sdtypes()
    out = {}
    q = quality_report(train, synth, cols)
    out.update(quality=q["quality"], shapes=q["column_shapes"], trends=q["column_pair_trends"])
    if target:
        e = ml_efficacy(synth, test, target, cols, seed=seed)
        out.update(efficacy=e["efficacy"], efficacy_metric=e["metric"])
    p = privacy(train, test, synth, cols)
    out.update(dcr_ratio=p["dcr_ratio"], copies=p["exact_copy_rate"])
    out["detection_auc"] = detection(train, synth, cols, seed=seed)["detection_auc"]
    if simulated:
        from gankit.data.tables.simulated import likelihood_scores

        lk = likelihood_scores(simulated, synth, test, seed=seed)
        out.update(l_syn=lk["l_syn"], l_test=lk["l_test"], l_true=lk["l_true_test"], out_of_support=lk["out_of_support"])
    return out


def run(tables: list[str], seeds: int, epochs: int, sim_epochs: int, rows: int, out: Path, first_seed: int = 0) -> list[dict]:
    warnings.filterwarnings("ignore")
    # one untimed fit of each library first: imports and first-call costs are not what the table compares
    train, _, schema, *_ = _frames("iris", rows)
    for kind in ("ctgan", "tvae"):
        fit_gankit(kind, "iris", rows, 1, 0, 10)
        fit_peer(kind, train, schema, 1, 0, 10)
    results = []
    for table in tables:
        train, test, schema, target, simulated, _ = _frames(table, rows)
        ep = sim_epochs if table in SIMULATED else epochs
        for seed in range(first_seed, first_seed + seeds):
            real = {"table": table, "model": "real (held-out rows)", "seed": seed, "epochs": 0,
                    **score(test, train, test, schema, target, simulated, seed)}
            if target:  # the ceiling of efficacy is train-on-real: the training rows, tested on the held-out ones
                from gankit.metrics.table_utility import ml_efficacy

                real["efficacy"] = ml_efficacy(train, test, target, schema.sdtypes(), seed=seed)["efficacy"]
            if seed == first_seed and first_seed == 0:
                results.append(real)
                _append(out, real)
            for model in MODELS:
                lib, kind = model.split("-")
                if lib == "gankit":
                    synth, fit_s, loop_s = fit_gankit(kind, table, rows, ep, seed, len(train))
                else:
                    synth, fit_s, loop_s = fit_peer(kind, train, schema, ep, seed, len(train))
                row = {"table": table, "model": model, "seed": seed, "epochs": ep, "fit_s": round(fit_s, 2), "loop_s": round(loop_s, 2),
                       **score(synth, train, test, schema, target, simulated, seed)}
                results.append(row)
                _append(out, row)
                print(json.dumps(row), flush=True)
    return results


def _append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def mean_se(values: list[float]) -> tuple[float, float]:
    """(mean, standard error) of the finite values; se 0 for one value, NaN mean for none."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return math.nan, math.nan
    return statistics.fmean(v), (statistics.stdev(v) / math.sqrt(len(v)) if len(v) > 1 else 0.0)


def summarize(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """(table, model) -> {metric: (mean, se), seeds}."""
    keys = ("quality", "shapes", "trends", "efficacy", "dcr_ratio", "copies", "detection_auc", "l_syn", "l_test", "l_true", "fit_s",
            "loop_s")
    out: dict[tuple[str, str], dict] = {}
    for r in rows:
        out.setdefault((r["table"], r["model"]), {"_rows": []})["_rows"].append(r)
    for k, d in out.items():
        rs = d.pop("_rows")
        d["seeds"] = len(rs)
        d["epochs"] = rs[0].get("epochs")
        d["efficacy_metric"] = rs[0].get("efficacy_metric", "")
        for key in keys:
            if any(key in r for r in rs):
                d[key] = mean_se([r.get(key) for r in rs])
    return out


def _fmt(pair, digits: int = 3) -> str:
    if pair is None:
        return "—"
    m, se = pair
    if not math.isfinite(m):
        return "—"
    return f"{m:.{digits}f}" if not se else f"{m:.{digits}f} ± {se:.{digits}f}"


def verdicts(summary: dict) -> list[str]:
    """Per table: is gankit at least as good as the package on quality and efficacy (within one standard error of the
    difference), at no more fit time?"""
    lines = []
    for table in dict.fromkeys(t for t, _ in summary):
        for kind in ("ctgan", "tvae"):
            g, p = summary.get((table, f"gankit-{kind}")), summary.get((table, f"ctgan-{kind}"))
            if not g or not p:
                continue
            parts = []
            for key in ("quality", "efficacy", "l_test"):
                if key in g and key in p and math.isfinite(g[key][0]) and math.isfinite(p[key][0]):
                    diff, se = g[key][0] - p[key][0], math.hypot(g[key][1], p[key][1])
                    parts.append(f"{key} {'≥' if diff >= -se else '<'} ({diff:+.3f})")
            for key, label in (("fit_s", "fit"), ("loop_s", "loop")):
                speed = p[key][0] / g[key][0] if g[key][0] else math.nan
                parts.append(f"{label} ×{speed:.2f} faster" if speed >= 1 else f"{label} ×{1 / speed:.2f} slower")
            lines.append(f"| {table} | {kind.upper()} | {min(g['seeds'], p['seeds'])} | {'; '.join(parts)} |")
    return lines


def write_page(rows: list[dict], path: Path, meta: dict) -> None:
    summary = summarize(rows)
    lines = ["# Synthetic tables: gankit's CTGAN and TVAE beside the `ctgan` package", "",
             f"Written by `benchmarks/tables.py` on {meta.get('date', '?')} ({meta.get('machine', '?')}; torch threads "
             f"{meta.get('threads', '?')}; mean ± standard error over seeds, their number in the verdicts below). The `ctgan` "
             "package (Xu et al.'s reference code, BUSL-1.1) is a benchmark peer only, installed beside gankit for this "
             "script, never a dependency.", "",
             "Same tables, same epochs (batch 500; the bundled tables' training splits are under 500 rows, so an epoch is one "
             "step, as in the authors' code), same seeds; both libraries' samples (as many rows as the training split) are "
             "scored by the same gankit code: **quality** is sdmetrics' QualityReport score (column shapes and column pair "
             "trends; gankit's implementation equals sdmetrics 0.32's to 2e-16, tests/metrics/test_table_metrics.py); **efficacy** "
             "is train-on-synthetic, test-on-real with the CTGAN paper's models (AdaBoost, decision tree, logistic regression, "
             "MLP: F1 for two classes, macro-F1 for more; linear regression and MLP: R² for diabetes' progression); **DCR "
             "ratio** is the median distance of synthetic rows to their closest training row over the same for held-out rows "
             "(< 1: closer to the training rows than unseen real rows are); **copies** the fraction of synthetic rows equal to "
             "a training row; **detection** the cross-validated AUC of a logistic regression telling real from synthetic "
             "(0.5: indistinguishable); **L_syn / L_test** the simulated-data likelihoods of the CTGAN paper (mean "
             "log-likelihood of synthetic rows under the true model; of test rows under the same model re-fitted on the "
             "synthetic rows; the true model's own L_test is the last column). `real` rows score the held-out split itself "
             "(its efficacy: train on the real training rows, test on the held-out ones, the ceiling).", "",
             "| table | model | epochs | quality | shapes | trends | efficacy | DCR ratio | copies | detection AUC | L_syn | L_test | "
             "L_test (true) | fit s | loop s |", "|" + "---|" * 15]
    for (table, model), d in summary.items():
        eff = _fmt(d.get("efficacy"))
        if eff != "—" and d.get("efficacy_metric"):
            eff += f" ({d['efficacy_metric']})"
        lines.append(f"| {table} | {model} | {d['epochs']} | {_fmt(d.get('quality'))} | {_fmt(d.get('shapes'))} | "
                     f"{_fmt(d.get('trends'))} | {eff} | {_fmt(d.get('dcr_ratio'), 2)} | {_fmt(d.get('copies'), 3)} | "
                     f"{_fmt(d.get('detection_auc'))} | {_fmt(d.get('l_syn'), 2)} | {_fmt(d.get('l_test'), 2)} | "
                     f"{_fmt(d.get('l_true'), 2)} | {_fmt(d.get('fit_s'), 1)} | {_fmt(d.get('loop_s'), 1)} |")
    lines += ["", "## gankit against the package, per table", "",
              "≥: gankit's mean is at least the package's minus one standard error of the difference. fit: the package's "
              "mean fit time over gankit's, everything included (gankit: data encoding, the loop, export and the HTML "
              "report of a run; the package: encoding and its loop); loop: the package's fit over gankit's training loop "
              "alone.", "",
              "| table | model | seeds | verdict |", "|---|---|---|---|", *verdicts(summary), ""]
    for note in meta.get("notes", []):
        lines += [note, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default=",".join(BUNDLED + SIMULATED))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--sim-epochs", type=int, default=100)
    ap.add_argument("--rows", type=int, default=5000, help="rows per split of the simulated tables")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of both libraries (1: other work on the machine "
                                                          "cannot oversubscribe the cores)")
    ap.add_argument("--rows-file", default=str(ROOT / "benchmarks" / "rows" / "tables.jsonl"))
    ap.add_argument("--from-rows", help="rewrite the page from a rows file without training")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed … first-seed + seeds − 1; with a first seed "
                                                              "above 0 the rows are appended to --rows-file (more seeds for some tables)")
    ap.add_argument("--note", action="append", default=[], help="a paragraph for the page's end")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    meta = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
            "threads": args.threads, "notes": args.note}
    if args.from_rows:
        rows = [json.loads(line) for line in Path(args.from_rows).read_text().splitlines() if line.strip()]
    else:
        out = Path(args.rows_file)
        if args.first_seed == 0:
            out.unlink(missing_ok=True)
        run(args.tables.split(","), args.seeds, args.epochs, args.sim_epochs, args.rows, out, args.first_seed)
        rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    write_page(rows, ROOT / "docs" / "benchmarks" / "tables.md", meta)
    print(f"wrote {ROOT / 'docs' / 'benchmarks' / 'tables.md'}")


if __name__ == "__main__":
    main()
