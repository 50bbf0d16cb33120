"""Tables: schema inference and SDV metadata, codes, mode-specific normalization, training-by-sampling batches,
and the one-line errors of bad tables."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from gankit.config.sections import DataConfig
from gankit.data.tables.data import TableBatches, TableData, load_table
from gankit.data.tables.schema import from_codes, infer_schema, read_csv, to_codes, write_csv
from gankit.data.tables.transform import ALPHA_CLIP, STD_MULTIPLIER, TableTransformer
from gankit.errors import DataError


def mixed_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Every column type, with missing values: integers, floats with 2 decimals, categories, booleans, dates."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "income": np.round(np.where(rng.random(n) < 0.5, rng.normal(30, 3, n), rng.normal(80, 5, n)), 2),
        "group": rng.choice(["a", "b", "c"], n, p=[0.7, 0.25, 0.05]).astype(object),
        "member": rng.random(n) < 0.3,
        "joined": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
    })
    df.loc[rng.random(n) < 0.1, "income"] = np.nan
    df.loc[rng.random(n) < 0.05, "group"] = None
    return df


def test_schema_inference_of_every_type():
    s = infer_schema(mixed_frame())
    by = {c.name: c for c in s.columns}
    assert [by[k].sdtype for k in ("age", "income", "group", "member", "joined")] == ["numerical", "numerical", "categorical", "boolean", "datetime"]
    assert by["age"].integer and by["age"].decimals == 0 and not by["age"].nullable
    assert not by["income"].integer and by["income"].decimals == 2 and by["income"].nullable
    assert by["group"].categories == ["a", "b", "c"] and by["group"].nullable
    assert by["member"].categories == [False, True]
    assert by["joined"].resolution == 86400.0  # whole days


def test_csv_round_trip_keeps_types_and_values(tmp_path):
    df = mixed_frame()
    schema = infer_schema(df)
    write_csv(df, schema, tmp_path / "t.csv")
    back = read_csv(tmp_path / "t.csv")
    s2 = infer_schema(back)
    assert [c.sdtype for c in s2.columns] == [c.sdtype for c in schema.columns]
    np.testing.assert_array_equal(to_codes(back, s2), to_codes(df, schema))


def test_sdv_metadata_overrides_and_errors(one_line):
    df = pd.DataFrame({"id": [1, 2, 3], "sex": [1, 2, 1], "x": [0.5, 1.5, 2.5]})
    meta = {"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "primary_key": "id",
            "columns": {"id": {"sdtype": "id"}, "sex": {"sdtype": "categorical"}, "x": {"sdtype": "numerical", "computer_representation": "Float"}}}
    s = infer_schema(df, meta)
    assert [c.sdtype for c in s.columns] == ["id", "categorical", "numerical"] and s.column("sex").categories == [1, 2]
    assert [c.name for c in s.modelled] == ["sex", "x"]
    assert from_codes(to_codes(df, s), s)["id"].tolist() == [0, 1, 2]  # ids are numbered, not modelled
    with one_line(DataError, match="names column 'age'"):
        infer_schema(df, {"columns": {**meta["columns"], "age": {"sdtype": "numerical"}}})
    with one_line(DataError, match="'email'"):
        infer_schema(df, {"columns": {**meta["columns"], "x": {"sdtype": "email"}}})
    with one_line(DataError, match="not in the metadata"):
        infer_schema(df, {"columns": {"id": {"sdtype": "id"}, "sex": {"sdtype": "categorical"}}})
    with one_line(DataError, match="multi-table"):
        infer_schema(df, {"tables": {"a": meta, "b": meta}})
    with one_line(DataError, match="every value is missing"):
        infer_schema(pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.nan]}))


def test_codes_round_trip_and_valid_values_only():
    df = mixed_frame()
    s = infer_schema(df)
    codes = to_codes(df, s)
    assert codes.shape == (len(df), 5) and np.isnan(codes[:, 2]).sum() == df["group"].isna().sum()
    back = from_codes(codes, s)
    pd.testing.assert_frame_equal(back.drop(columns="group"), df.drop(columns="group"), check_dtype=False)
    # out-of-range codes come back as valid values: integers rounded and clipped, categories clipped to the list
    wild = codes.copy()
    wild[:, 0] = np.linspace(-100, 300, len(df)) + 0.37
    wild[:, 2] = np.linspace(-3, 7, len(df))
    out = from_codes(wild, s)
    assert out["age"].between(18, 89).all() and (out["age"] == out["age"].round()).all()
    assert set(out["group"].dropna()) <= {"a", "b", "c"}


def test_unknown_category_is_one_line(one_line):
    df = mixed_frame()
    s = infer_schema(df)
    bad = df.copy()
    bad.loc[0, "group"] = "zebra"
    with one_line(DataError, match="'zebra'"):
        to_codes(bad, s)


def test_mode_specific_normalization_round_trip():
    """encode -> decode gives back every value inside the fitted range to 1e-6 relative (α is float32)."""
    df = mixed_frame(2000)
    s = infer_schema(df)
    codes = to_codes(df, s)
    t = TableTransformer(s).fit(codes, seed=0)
    enc = t.encode(codes, np.random.default_rng(0))
    assert enc.shape == (len(df), t.dim) and enc.dtype == np.float32
    back = t.decode(enc)
    scale = np.nanmax(np.abs(codes), axis=0)
    for j in range(codes.shape[1]):
        both = ~np.isnan(codes[:, j])
        assert (np.isnan(back[:, j]) == ~both).all()
        assert np.max(np.abs(back[both, j] - codes[both, j])) <= 1e-6 * scale[j]
    # the income column is bimodal (30 and 80): its mixture finds both modes, and α stays inside the clip
    j = [c.name for c in s.modelled].index("income")
    means = sorted(t.modes[j]["means"])
    assert len(means) >= 2 and abs(means[0] - 30) < 2 and abs(means[-1] - 80) < 2
    value = next(sp for sp in t.spans if sp.column == j and sp.role == "value")
    assert np.abs(enc[:, value.start]).max() <= ALPHA_CLIP
    # state survives JSON
    t2 = TableTransformer.from_dict(s, json.loads(json.dumps(t.to_dict())))
    np.testing.assert_array_equal(t2.decode(enc), back)


def test_alpha_is_the_distance_to_the_chosen_mode_over_four_sigma():
    df = pd.DataFrame({"x": np.r_[np.random.default_rng(1).normal(0, 1, 500), np.random.default_rng(2).normal(20, 2, 500)]})
    s = infer_schema(df)
    codes = to_codes(df, s)
    t = TableTransformer(s).fit(codes)
    enc = t.encode(codes, np.random.default_rng(0))
    k = enc[:, 1:].argmax(1)
    mu, sd = np.asarray(t.modes[0]["means"])[k], np.asarray(t.modes[0]["stds"])[k]
    np.testing.assert_allclose(enc[:, 0], (codes[:, 0] - mu) / (STD_MULTIPLIER * sd), rtol=1e-5, atol=1e-6)


def test_training_by_sampling_draws_categories_by_log_frequency():
    df = mixed_frame(3000)
    s = infer_schema(df)
    data = TableData(df, s, "mixed")
    batches = TableBatches(data, 4000, torch.device("cpu"), seed=0)
    spans = data.transformer.conditions
    assert [sp.size for sp in spans] == [4, 2]  # group: a, b, c, missing; member: False, True
    counts = np.zeros(sum(sp.size for sp in spans))
    for _ in range(5):
        b = batches.next()
        counts += b["cond"].sum(0).numpy()
        # every real row of x_cond has the category its conditional vector asks for
        for i, sp in enumerate(spans):
            rows = b["cond_column"] == i
            first = sum(x.size for x in spans[:i])
            asked = b["cond"][rows, first:first + sp.size].argmax(1)
            assert torch.equal(b["x_cond"][rows, sp.start:sp.end].argmax(1), asked)
    n = counts.sum()
    first = 0
    for sp in spans:
        freq = np.bincount(data.encoded[:, sp.start:sp.end].argmax(1), minlength=sp.size)
        p = np.log1p(freq) / np.log1p(freq).sum() / len(spans)  # column uniform, category ∝ log(1 + count)
        se = np.sqrt(p * (1 - p) / n)
        assert np.all(np.abs(counts[first:first + sp.size] / n - p) < 4 * se + 1e-12)
        first += sp.size


def test_batches_resume_exactly():
    df = mixed_frame(500)
    data = TableData(df, infer_schema(df), "mixed")
    a = TableBatches(data, 32, torch.device("cpu"), seed=3)
    a.next()
    state = a.state_dict()
    x1 = a.next()
    b = TableBatches(data, 32, torch.device("cpu"), seed=3)
    b.load_state_dict(json.loads(json.dumps(state)))
    x2 = b.next()
    assert all(torch.equal(x1[k], x2[k]) for k in x1)


def test_bundled_tables_and_splits():
    for name, rows, target in (("iris", 150, "species"), ("wine", 178, "cultivar"), ("breast-cancer", 569, "diagnosis"), ("diabetes", 442, "progression")):
        cfg = DataConfig(name="table", table=name, max_modes=2)
        train, test = load_table(cfg, "train"), load_table(cfg, "test")
        assert len(train) + len(test) == rows and abs(len(test) - round(0.2 * rows)) <= 1 and train.target == target
        assert not set(train.frame.index) & set(test.frame.index) or True  # indices are reset; the rows differ:
        assert len(pd.concat([train.frame, test.frame]).drop_duplicates()) == len(train.frame.drop_duplicates()) + len(test.frame.drop_duplicates())


def test_csv_errors_are_one_line(tmp_path, one_line):
    with one_line(DataError, match="no file"):
        read_csv(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with one_line(DataError, match="empty"):
        read_csv(tmp_path / "empty.csv")
    (tmp_path / "one.csv").write_text("a,b\n1,2\n")
    with one_line(DataError, match="at least two rows"):
        read_csv(tmp_path / "one.csv")
    (tmp_path / "t.csv").write_text("a,b\n1,x\n2,y\n3,x\n")
    (tmp_path / "meta.json").write_text("{not json")
    with one_line(DataError, match="not valid JSON"):
        load_table(DataConfig(name="table", path=str(tmp_path / "t.csv"), metadata=str(tmp_path / "meta.json")), "train")


def test_uniform_rows_come_in_epochs():
    """batch.x walks seeded permutations: every row exactly once per epoch, also when batches span two epochs."""
    df = pd.DataFrame({"x": np.arange(30.0), "c": ["a", "b", "c"] * 10})
    data = TableData(df, infer_schema(df), "t")
    b = TableBatches(data, 12, torch.device("cpu"), seed=0)
    rows = torch.cat([b.next()["x"] for _ in range(5)])  # 60 rows: two epochs
    codes = np.round(data.transformer.decode(rows.numpy())[:, 0]).astype(int)  # α is float32
    assert sorted(codes[:30]) == list(range(30)) and sorted(codes[30:]) == list(range(30))
    assert not np.array_equal(codes[:30], codes[30:])  # a new order each epoch
