"""Reports of table runs: the latest samples CSV as rows, the columns panel (real vs synthetic), compare.

Numbers, not presence: the rows shown are the file's own text, the statistics equal pandas' on the training split
(``table_frame``) and on the samples CSV to the printed precision, and a broken panel is one line, not a lost report.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import gankit
from gankit import report
from gankit.config import data_config
from gankit.data.tables.data import table_frame
from gankit.data.tables.schema import TableSchema, infer_schema
from gankit.report.html import fmt
from gankit.report.tables import STATS_HEADERS, column_stats, column_values, columns_png

TINY_TABLE = ["data.table=iris", "data.max_modes=2", "train.steps=4", "train.batch_size=20", "train.sample_every=2",
              "train.progress=false", "train.threads=1", "eval.metrics=[]", "health.monitor=false"]
#: an evaluation as EvalHook logs it for eval.metrics=[quality] (written by hand: scoring is not what is tested here)
QUALITY_EVENT = {"event": "eval", "time": 0.0, "step": 4, "quality": 0.7250550682941685, "column_shapes": 0.8079539879475364,
                 "column_pair_trends": 0.6421561486408008, "metrics": ["quality"], "extractor": "none (typed columns)",
                 "n_fake": 5000, "n_real": 120, "n_holdout": 0, "reference": "iris/train", "seed": 0}


class _Sections(HTMLParser):
    """Per <section id>: its text, its tables (rows of cell texts, header row first) and its <img> sources."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.images: dict[str, list[str]] = {}
        self._sid: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self._sid = a.get("id", "")
            self.text[self._sid], self.tables[self._sid], self.images[self._sid] = "", [], []
        elif self._sid is None:
            return
        elif tag == "table":
            self.tables[self._sid].append([])
        elif tag == "tr":
            self.tables[self._sid][-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images[self._sid].append(a["src"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._sid = None
        elif tag in ("td", "th") and self._cell is not None and self._sid is not None:
            self.tables[self._sid][-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._sid is not None:
            self.text[self._sid] += data
            if self._cell is not None:
                self._cell.append(data)


def sections(path: Path) -> _Sections:
    p = _Sections()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def decodes(src: str) -> Image.Image:
    head, b64 = src.split(",", 1)
    assert head == "data:image/png;base64"
    im = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    im.load()
    return im


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-step CTGAN run on iris (samples at steps 2 and 4) with a quality evaluation in its log; no report yet."""
    from conftest import disable_report

    out = tmp_path_factory.mktemp("table") / "iris"
    with pytest.MonkeyPatch.context() as mp:
        disable_report(mp)
        gankit.train("table", out=out, overrides=TINY_TABLE)
    with (out / "metrics.jsonl").open("a") as f:
        f.write(json.dumps(QUALITY_EVENT) + "\n")
    return out


@pytest.fixture(scope="module")
def table_report(table_run: Path) -> _Sections:
    return sections(report.write_report(table_run))


def test_samples_section_shows_the_latest_csv(table_run: Path, table_report: _Sections) -> None:
    assert sorted(p.name for p in (table_run / "samples").iterdir()) == ["step0000002.csv", "step0000004.csv"]
    with (table_run / "samples" / "step0000004.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 501  # header + 500 rows
    (shown,) = table_report.tables["samples"]
    assert shown[0] == rows[0]  # the header: the table's columns
    assert shown[1] == rows[1]  # the first row, character for character
    assert shown[1:] == rows[1:11] and len(shown) == 11
    note = " ".join(table_report.text["samples"].split())
    assert "first 10 of 500 rows of samples/step0000004.csv (step 4" in note
    assert table_report.images["samples"] == []  # no PNGs looked for


def test_columns_panel_numbers(table_run: Path, table_report: _Sections) -> None:
    cfg = data_config(json.loads((table_run / "config.json").read_text())["data"])
    real, schema, *_ = table_frame(cfg, "train")
    synth = pd.read_csv(table_run / "samples" / "step0000004.csv")
    names = [c.name for c in schema.modelled]
    assert names == ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]

    (png,) = table_report.images["columns"]
    im = decodes(png)
    assert im.width > 600 and im.height > 300  # two rows of subplots
    (stats,) = table_report.tables["columns"]
    assert stats[0] == STATS_HEADERS
    body = {r[0]: dict(zip(STATS_HEADERS, r)) for r in stats[1:]}
    assert list(body) == names  # every modelled column, in the table's order
    for name in names[:4]:
        row = body[name]
        assert row["sdtype"] == "numerical"
        assert row["real mean"] == fmt(float(real[name].mean()))  # pandas on table_frame's training split
        assert row["real std"] == fmt(float(real[name].std()))  # ddof=1
        assert row["synthetic mean"] == fmt(float(synth[name].mean()))
        assert row["real categories"] == row["synthetic categories"] == ""
        assert row["real missing %"] == row["synthetic missing %"] == "0"
    assert body["sepal_length"]["real mean"] == "5.784"  # the iris training split (120 rows, the fixed split)
    species = body["species"]
    assert species["sdtype"] == "categorical" and species["real mean"] == ""
    assert species["real categories"] == "3"
    assert species["synthetic categories"] == str(synth["species"].nunique())

    text = " ".join(table_report.text["columns"].split())
    assert f"the {len(real)} rows of iris/train" in text and "the 500 rows of samples/step0000004.csv (step 4)" in text
    assert "first 24" not in text  # five columns: not capped
    assert "Quality score (sdmetrics' QualityReport, last evaluation, step 4): 0.7251" in text
    assert "column shapes 0.808, column pair trends 0.6422; 5000 generated rows against iris/train" in text


def test_sections_of_a_table_report(table_report: _Sections) -> None:
    assert list(table_report.text) == ["samples", "evaluation", "curves", "health", "columns", "timing", "config"]
    assert not {"animation", "interpolation", "nearest"} & set(table_report.text)


def test_a_broken_panel_is_one_line(table_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "moved"
    shutil.copytree(table_run, run, ignore=shutil.ignore_patterns("checkpoints", "report.html"))
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["table"] = "not-a-table"  # e.g. the data is not on this machine
    (run / "config.json").write_text(json.dumps(cfg))
    p = sections(report.write_report(run))
    heading, text = p.text["columns"].strip().split("\n", 1)
    assert heading == "columns: real vs synthetic"
    assert text.startswith("not rendered: ConfigError: data.table: 'not-a-table' is not a bundled"), text
    assert "\n" not in text and p.images["columns"] == [] and p.tables["columns"] == []
    assert len(p.tables["samples"][0]) == 11  # the rest of the report is there


def test_compare_with_a_table_run(table_run: Path, tmp_path: Path) -> None:
    out = report.compare([table_run, table_run], tmp_path / "cmp.html")
    p = sections(out)
    with (table_run / "samples" / "step0000004.csv").open(newline="") as f:
        rows = list(csv.reader(f))[:6]
    assert p.tables["samples"] == [rows, rows]  # header + the first 5 rows of each run's latest samples


def test_column_stats_and_figure_mixed_types() -> None:
    """Datetime, boolean, many categories and missing values: exact statistics, and the figure draws them warning-free."""
    n = 200

    def frame(seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        df = pd.DataFrame({"when": pd.Timestamp("2020-01-01") + pd.to_timedelta(r.integers(0, 700, n), unit="D"),
                           "flag": (r.random(n) < 0.3).astype(object),
                           "city": r.choice([f"c{i}" for i in range(30)], n),
                           "x": r.normal(3.0, 1.0, n)})
        df.loc[:19, "x"] = np.nan  # 10% missing
        df.loc[:9, "flag"] = None  # 5% missing
        return df

    real, synth = frame(1), frame(2)
    sdtypes = {"when": "datetime", "flag": "boolean", "city": "categorical", "x": "numerical"}
    schema: TableSchema = infer_schema(pd.concat([real, synth]), {"columns": {c: {"sdtype": t} for c, t in sdtypes.items()}})
    values = column_values(real, synth, schema)
    assert [v.error for v in values] == ["", "", "", ""]
    rows = {r[0]: dict(zip(STATS_HEADERS, r)) for r in column_stats(values)}
    assert rows["x"]["real mean"] == pytest.approx(real["x"].mean(), rel=1e-12)
    assert rows["x"]["synthetic std"] == pytest.approx(synth["x"].std(), rel=1e-12)
    assert rows["x"]["real missing %"] == pytest.approx(10.0) and rows["flag"]["synthetic missing %"] == pytest.approx(5.0)
    assert rows["flag"]["real categories"] == 2 and rows["city"]["real categories"] == real["city"].nunique()
    assert rows["when"]["real mean"] == "" and rows["when"]["real missing %"] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        im = Image.open(io.BytesIO(columns_png(values)))
    assert im.width > 600 and im.height > 200
