"""Table runs in the report: the latest samples CSV as rows, and real vs synthetic columns side by side.

A table run's samples are CSV files ``RUN/samples/stepNNNNNNN.csv`` (500 rows from fixed latents, the table's own
column types, datetimes as text). The report shows the first rows of the latest one exactly as written (no number is
reformatted), and the "columns" panel compares every modelled column of that file with the run's training split
(the table its config names, read again through :func:`gankit.data.tables.data.table_frame`):

* one small-multiples figure, one subplot per column (at most :data:`MAX_COLUMNS`): numerical and datetime columns as
  overlaid density histograms on the same bins, categorical and boolean ones as side-by-side bars of category
  frequencies (missing values as a bar of their own when either side has them);
* a table of per-column statistics: numerical mean and sample standard deviation (ddof=1) of both sides, the number
  of categories each side uses, and the share of missing values.

Values are compared as codes (:func:`gankit.data.tables.schema.to_codes`: numbers as they are, datetimes in seconds
since 1970, categories by index, NaN missing), column by column, so that one unreadable column costs its subplot and
not the panel.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..data.tables.schema import Column, TableSchema, read_csv, to_codes  # noqa: E402
from . import html as H  # noqa: E402
from .plots import fig_png  # noqa: E402
from .rundir import Run, is_number  # noqa: E402

HEAD_ROWS = 10
#: subplots in the columns figure; wider tables show their first MAX_COLUMNS modelled columns
MAX_COLUMNS = 24
#: histogram bins (shared by real and synthetic values of a column)
BINS = 30
#: bars per categorical column; more categories: the most frequent real ones, the rest summed as "other"
MAX_BARS = 15
REAL, SYNTH = "tab:blue", "tab:orange"
_SECONDS_PER_DAY = 86400.0


# --------------------------------------------------------------------------- samples


def csv_head(path: Path, n: int = HEAD_ROWS) -> tuple[list[str], list[list[str]], int]:
    """(header, the first ``n`` rows as the file's text, number of data rows) of a CSV file; cells are never parsed,
    so that the report shows exactly what the file holds."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        rows: list[list[str]] = []
        total = 0
        for row in reader:
            if total < n:
                rows.append(row)
            total += 1
    return header, rows, total


def _numeric_columns(rows: Sequence[Sequence[str]]) -> list[int]:
    """Indices of the columns whose non-empty cells all read as numbers (right-aligned)."""
    def number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True

    width = max((len(r) for r in rows), default=0)
    return [j for j in range(width) if any(j < len(r) and r[j] for r in rows)
            and all(number(r[j]) for r in rows if j < len(r) and r[j])]


def head_table(path: Path, n: int = HEAD_ROWS) -> tuple[str, int]:
    """(HTML table of the first ``n`` rows of CSV ``path``, its number of data rows)."""
    header, rows, total = csv_head(path, n)
    return H.text_table(header, rows, _numeric_columns(rows)), total


def samples_body(run: Run) -> str:
    """The "samples" section of a table run: the first rows of the latest samples CSV, with where they come from."""
    if not run.tables:
        return H.note("No samples CSV in samples/ yet (table runs write samples/stepNNNNNNN.csv every "
                      "train.sample_every steps and at the end).")
    step, path = run.tables[-1]
    table, total = head_table(path)
    rel = path.relative_to(run.path).as_posix() if path.is_relative_to(run.path) else str(path)
    earlier = f" {len(run.tables) - 1} earlier samples file(s) in samples/." if len(run.tables) > 1 else ""
    return (f"<h3>latest samples (step {step})</h3>" + table +
            H.note(f"The first {min(HEAD_ROWS, total)} of {total} rows of {rel} (step {step}; fixed latents through "
                   f"the averaged generator), exactly as written in the file; empty cells are missing values.{earlier}"))


# --------------------------------------------------------------------------- columns: data


@dataclass
class ColumnValues:
    """One modelled column on both sides, as codes (see the module doc): ``real`` and ``synth`` are float arrays with
    NaN for missing values; ``error`` says why a side could not be read (its array is then None)."""

    column: Column
    real: np.ndarray | None
    synth: np.ndarray | None
    error: str = ""


def _codes(df: Any, column: Column, where: str) -> np.ndarray:
    return to_codes(df, TableSchema([column]), where=where)[:, 0]


def column_values(real: Any, synth: Any, schema: TableSchema) -> list[ColumnValues]:
    """Codes of every modelled column of DataFrames ``real`` and ``synth``; a column one side cannot give (missing,
    unknown category) gets its error instead of an exception."""
    out = []
    for c in schema.modelled:
        sides, errors = [], []
        for df, where in ((real, "real data"), (synth, "samples")):
            try:
                sides.append(_codes(df, c, where))
            except Exception as e:  # noqa: BLE001 - one unreadable column costs its subplot, not the panel
                sides.append(None)
                errors.append(str(e).splitlines()[0] if str(e) else type(e).__name__)
        out.append(ColumnValues(c, sides[0], sides[1], "; ".join(errors)))
    return out


def _finite(v: np.ndarray | None) -> np.ndarray:
    return np.empty(0) if v is None else v[np.isfinite(v)]


def _missing_pct(v: np.ndarray | None) -> float | str:
    return "" if v is None or not len(v) else float(100.0 * np.isnan(v).mean())


def _std(v: np.ndarray) -> float:
    return float(np.std(v, ddof=1)) if len(v) > 1 else math.nan


STATS_HEADERS = ["column", "sdtype", "real mean", "synthetic mean", "real std", "synthetic std",
                 "real categories", "synthetic categories", "real missing %", "synthetic missing %"]


def column_stats(values: Sequence[ColumnValues]) -> list[list[Any]]:
    """Rows under :data:`STATS_HEADERS`: numerical mean and sample std (ddof=1, missing values left out), number of
    categories seen (categorical and boolean), share of missing values in percent; "" where it does not apply."""
    rows = []
    for cv in values:
        c = cv.column
        real, synth = _finite(cv.real), _finite(cv.synth)
        row: list[Any] = [c.name, c.sdtype, "", "", "", "", "", ""]
        if c.sdtype == "numerical":
            row[2:6] = [float(real.mean()) if len(real) else "", float(synth.mean()) if len(synth) else "",
                        _std(real) if len(real) else "", _std(synth) if len(synth) else ""]
        elif c.discrete:
            row[6:8] = [len(np.unique(real)) if cv.real is not None else "",
                        len(np.unique(synth)) if cv.synth is not None else ""]
        row += [_missing_pct(cv.real), _missing_pct(cv.synth)]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- columns: figure


def _label(v: Any, width: int = 12) -> str:
    text = str(v)
    return text if len(text) <= width else text[: width - 1] + "…"


def _hist(ax: Any, cv: ColumnValues) -> None:
    """Overlaid density histograms of the real and synthetic values on the same bins (datetimes on a date axis)."""
    real, synth = _finite(cv.real), _finite(cv.synth)
    both = np.concatenate([real, synth])
    if not len(both):
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        return
    dates = cv.column.sdtype == "datetime"
    if dates:  # seconds since 1970 -> matplotlib's date numbers (days since its epoch)
        offset = float(mdates.date2num(np.datetime64("1970-01-01T00:00:00")))
        real, synth, both = (v / _SECONDS_PER_DAY + offset for v in (real, synth, both))
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:  # one value on both sides: a bin of width 1 around it
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, BINS + 1)
    for v, colour in ((real, REAL), (synth, SYNTH)):
        if len(v):
            ax.hist(v, bins=edges, density=True, color=colour, alpha=0.45, histtype="stepfilled", edgecolor=colour, lw=0.8)
    ax.set_yticks([])
    if dates:
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _bars(ax: Any, cv: ColumnValues) -> str:
    """Side-by-side bars of category frequencies (fractions of rows, missing values as a bar of their own); returns a
    title suffix when rare categories were summed as "other"."""
    cats = list(cv.column.categories)
    k = len(cats)
    freqs = []
    for v in (cv.real, cv.synth):
        if v is None or not len(v):
            freqs.append(None)
            continue
        idx = v[np.isfinite(v)].astype(int)
        counts = np.bincount(np.clip(idx, 0, max(k - 1, 0)), minlength=k)[:k].astype(float)
        freqs.append(np.append(counts, np.isnan(v).sum()) / len(v))
    labels = [_label(c) for c in cats] + ["missing"]
    keep = list(range(k)) + ([k] if any(f is not None and f[k] > 0 for f in freqs) else [])
    suffix = ""
    if k > MAX_BARS:  # the most frequent real categories (else synthetic) in that order, the rest summed as "other"
        ref = next(f for f in freqs if f is not None)[:k]
        top = np.argsort(-ref, kind="stable")[: MAX_BARS - 1].tolist()  # most frequent first
        chosen = set(top)
        rest = [i for i in range(k) if i not in chosen]
        freqs = [None if f is None else np.concatenate([f[top], [f[rest].sum()], f[k:]]) for f in freqs]
        labels = [labels[i] for i in top] + ["other"] + ["missing"]
        keep = list(range(len(top) + 1)) + ([len(top) + 1] if k in keep else [])
        suffix = f" (top {len(top)} of {k})"
    x = np.arange(len(keep))
    for f, colour, shift in ((freqs[0], REAL, -0.2), (freqs[1], SYNTH, 0.2)):
        if f is not None:
            ax.bar(x + shift, f[keep], width=0.4, color=colour, alpha=0.8)
    ax.set_xticks(x, [labels[i] for i in keep], rotation=45 if len(keep) > 3 else 0, ha="right" if len(keep) > 3 else "center",
                  fontsize=6.5)
    return suffix


def columns_png(values: Sequence[ColumnValues], ncols: int = 4) -> bytes:
    """The small-multiples figure of the first :data:`MAX_COLUMNS` columns of ``values`` (PNG bytes)."""
    shown = list(values)[:MAX_COLUMNS]
    ncols = max(1, min(ncols, len(shown)))
    nrows = math.ceil(len(shown) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.9 * ncols, 2.2 * nrows + 0.4), layout="constrained", squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    for ax, cv in zip(axes.flat, shown):
        suffix = ""
        if cv.real is None and cv.synth is None:
            ax.text(0.5, 0.5, "not read", ha="center", va="center", transform=ax.transAxes, fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
        elif cv.column.discrete:
            suffix = _bars(ax, cv)
        else:
            _hist(ax, cv)
        if cv.error:
            suffix += " (one side not read)"
        ax.set_title(f"{_label(cv.column.name, 28)} · {cv.column.sdtype}{suffix}", fontsize=8, loc="left")
        ax.tick_params(labelsize=6.5)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.6) for c in (REAL, SYNTH)]
    fig.legend(handles, ["real (training split)", "synthetic (samples)"], loc="outside upper center", ncol=2, fontsize=8,
               frameon=False)
    return fig_png(fig)


# --------------------------------------------------------------------------- columns: the panel


def _quality_line(run: Run) -> str:
    """The latest ``eval`` event with a ``quality`` score, quoted in one sentence; "" when there is none."""
    evals = [e for e in run.of("eval") if is_number(e.get("quality"))]
    if not evals:
        return ""
    e = evals[-1]
    parts = [f"{k.replace('_', ' ')} {H.fmt(float(e[k]))}" for k in ("column_shapes", "column_pair_trends")
             if is_number(e.get(k))]
    where = [f"{e['n_fake']} generated rows" if is_number(e.get("n_fake")) else "",
             f"against {e['reference']}" if e.get("reference") else ""]
    where_text = " ".join(w for w in where if w)
    return (f"Quality score (sdmetrics' QualityReport, last evaluation, step {e.get('step', '?')}): "
            f"{H.fmt(float(e['quality']))}" + (f" — {', '.join(parts)}" if parts else "") +
            (f"; {where_text}" if where_text else "") + ".")


def run_table(run: Run) -> tuple[Any, TableSchema, str]:
    """(the run's training split as a DataFrame, the schema the model was built on, "table/split"): the split from
    the config's data section; the schema from RUN/generator/config.json when exported, else the table's own."""
    from ..config import data_config
    from ..data.tables.data import table_frame

    cfg = data_config(run.config.get("data", {}))
    real, frame_schema, name, _, _ = table_frame(cfg, cfg.split)
    exported = (run.data_info.get("table") or {}).get("schema")
    return real, TableSchema.from_dict(exported) if exported else frame_schema, f"{name}/{cfg.split}"


def columns_body(run: Run) -> str:
    """The "columns" panel: the figure, the per-column statistics and the quality score. Raises when the real data
    or the samples cannot be read (the report shows that as a one-line note)."""
    if not run.tables:
        return H.note("No samples CSV in samples/ yet: nothing to compare with the real columns.")
    step, path = run.tables[-1]
    real, schema, where = run_table(run)
    synth = read_csv(path)
    values = column_values(real, synth, schema)
    rel = path.relative_to(run.path).as_posix() if path.is_relative_to(run.path) else str(path)
    capped = (f" The figure shows the first {MAX_COLUMNS} of {len(values)} modelled columns (the table below lists "
              "them all)." if len(values) > MAX_COLUMNS else "")
    body = [H.img(columns_png(values), "real vs synthetic columns"),
            H.note(f"Real: the {len(real)} rows of {where}; synthetic: the {len(synth)} rows of {rel} (step {step}). "
                   "Numerical and datetime columns: density histograms on the same bins; categorical and boolean: the "
                   f"fraction of rows in each category (missing values as their own bar when present).{capped}")]
    errors = [f"{cv.column.name}: {cv.error}" for cv in values if cv.error]
    if errors:
        body.append(H.note("Not read: " + "; ".join(errors)))
    body.append(H.table(STATS_HEADERS, column_stats(values)))
    body.append(H.note("Means and sample standard deviations (ddof=1) leave missing values out; categories: how many "
                       "distinct categories each side uses."))
    quality = _quality_line(run)
    if quality:
        body.append(H.note(quality))
    return "\n".join(body)


__all__ = ["csv_head", "head_table", "samples_body", "column_values", "column_stats", "columns_png", "columns_body",
           "run_table", "ColumnValues", "STATS_HEADERS", "MAX_COLUMNS"]
