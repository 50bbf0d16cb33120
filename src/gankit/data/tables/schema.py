"""A table's schema: typed columns, inferred from a CSV or a DataFrame, or read from SDV's single-table metadata.

Column types (``sdtype``, SDV's word):

===========  =====================================================  ===================================================
sdtype       values                                                 kept on the way out
===========  =====================================================  ===================================================
numerical    floats or integers                                     integer-ness, the observed range (samples are
                                                                    clipped to it), the decimals the data uses
categorical  any values (strings, or numbers used as labels)        only the observed categories
boolean      True / False                                           only True / False
datetime     dates and times                                        the observed range, the resolution (whole days,
                                                                    whole seconds), the text format when given
id           a key (SDV's ``id`` sdtype)                            not modelled: samples number their rows 0..n-1
===========  =====================================================  ===================================================

Missing values (NaN, None, NaT, empty CSV cells) are allowed in every modelled column; a column records whether it
has them (``nullable``) and the encodings model them (a null indicator for numbers and datetimes, a category of its
own for categorical and boolean columns).

**Codes**: the numeric form of a table every model and metric in gankit works on, N×C float64 with one column per
modelled column: numerical values as they are, datetimes in seconds since 1970-01-01, categorical and boolean values
as the index of their category; NaN where a value is missing. :func:`to_codes` and :func:`from_codes` convert.

Inference (:func:`infer_schema`): bool dtype, or only true / false values → boolean; datetime dtype, or text that
parses as dates (with a ``-``, ``/`` or ``:`` in it) → datetime; numbers → numerical; anything else → categorical.
Numbers used as labels (a class column 0/1/2) are numerical unless metadata says ``categorical``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError

SDTYPES = ("numerical", "categorical", "boolean", "datetime", "id")
MODELLED = ("numerical", "categorical", "boolean", "datetime")
SDV_NUMERICAL_INTS = ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")
_EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")
_DAY = 86400.0


@dataclass
class Column:
    """One column of a table.

    Attributes:
        name: the column's name. sdtype: numerical, categorical, boolean, datetime or id.
        nullable: it has missing values. integer: numerical values are whole numbers.
        decimals: numerical: round samples to this many decimals (learned from the data, at most 10); None: no rounding.
        low, high: numerical / datetime: the observed range (datetimes in seconds since 1970); samples are clipped to it.
        categories: categorical / boolean: the observed values, in a fixed order (the code of a value is its index).
        resolution: datetime: samples are rounded to a multiple of this many seconds (86400 for dates); 0: none.
        datetime_format: datetime: the strftime format of the text form (CSV); None: ISO 8601.
    """

    name: str
    sdtype: str
    nullable: bool = False
    integer: bool = False
    decimals: int | None = None
    low: float | None = None
    high: float | None = None
    categories: list[Any] = field(default_factory=list)
    resolution: float = 0.0
    datetime_format: str | None = None

    @property
    def discrete(self) -> bool:
        """Categorical or boolean: values from a finite list."""
        return self.sdtype in ("categorical", "boolean")


@dataclass
class TableSchema:
    """The columns of a table (``columns``, in the table's order, ``id`` columns included)."""

    columns: list[Column]

    @property
    def modelled(self) -> list[Column]:
        """The columns a model generates (every column but ``id`` ones)."""
        return [c for c in self.columns if c.sdtype in MODELLED]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(f"column {name!r}: not in this table; its columns are: {', '.join(self.names)}")

    def sdtypes(self) -> dict[str, str]:
        """Column name -> sdtype of the modelled columns (what the table metrics take)."""
        return {c.name: c.sdtype for c in self.modelled}

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TableSchema":
        return cls([Column(**c) for c in d["columns"]])

    def to_sdv(self) -> dict[str, Any]:
        """SDV single-table metadata (``METADATA_SPEC_VERSION`` SINGLE_TABLE_V1) for this schema."""
        cols: dict[str, Any] = {}
        for c in self.columns:
            entry: dict[str, Any] = {"sdtype": c.sdtype}
            if c.sdtype == "numerical":
                entry["computer_representation"] = "Int64" if c.integer else "Float"
            if c.sdtype == "datetime" and c.datetime_format:
                entry["datetime_format"] = c.datetime_format
            cols[c.name] = entry
        return {"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "columns": cols}


# --------------------------------------------------------------------------- reading


def read_csv(path: str | Path) -> Any:
    """A CSV file as a DataFrame (every column read as text first, so that types are inferred by gankit, not guessed
    twice); one-line DataErrors for a missing, empty or unreadable file."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DataError(f"data.path: no file at {str(path)!r}; give a CSV file with a header row")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=True, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: the file is empty; give a CSV file with a header row and at least two rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{p}: not a readable CSV ({str(e).splitlines()[0]}); give comma-separated values with a header row") from None
    if df.shape[1] == 0 or len(df) < 2:
        raise DataError(f"{p}: holds {len(df)} row(s) and {df.shape[1]} column(s); a table needs a header and at least two rows")
    dup = [c for c in df.columns if str(c).endswith(tuple(f".{i}" for i in range(1, 10))) and str(c).rsplit(".", 1)[0] in df.columns]
    if dup:
        raise DataError(f"{p}: column {dup[0].rsplit('.', 1)[0]!r} appears more than once in the header; give every column its own name")
    return _typed(df)


def _typed(df: Any) -> Any:
    """Text columns of a CSV turned into numbers, booleans or datetimes where every non-missing value is one."""
    import pandas as pd

    out = {}
    for name in df.columns:
        s = df[name]
        values = s.dropna()
        num = pd.to_numeric(values, errors="coerce")
        if len(values) and not num.isna().any():
            out[name] = pd.to_numeric(s, errors="coerce")
            continue
        if len(values) and values.str.lower().isin(("true", "false")).all():
            out[name] = s.map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else v.lower() == "true").astype(object)
            continue
        out[name] = s
    return pd.DataFrame(out, index=df.index)


def _looks_like_dates(values: Any) -> bool:
    import pandas as pd

    text = values.astype(str)
    if not text.str.contains(r"[-/:]", regex=True).all():
        return False
    try:
        pd.to_datetime(text, format="mixed")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _learn_decimals(values: np.ndarray) -> int | None:
    """The fewest decimals (0..10) that represent every value exactly (rdt's learned rounding); None if more."""
    for d in range(11):
        scaled = values * 10.0 ** d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return d
    return None


def _infer_column(name: str, s: Any, sdtype: str | None = None, fmt: str | None = None, integer: bool | None = None) -> Column:
    """One column's Column from its values (``sdtype`` given by metadata, or inferred)."""
    import pandas as pd

    values = s.dropna()
    if sdtype != "id" and len(values) == 0:
        raise DataError(f"column {name!r}: every value is missing; drop the column (a model cannot learn it)")
    nullable = bool(s.isna().any())
    if sdtype is None:
        if pd.api.types.is_bool_dtype(s) or (len(values) and values.map(lambda v: isinstance(v, (bool, np.bool_))).all()):
            sdtype = "boolean"
        elif pd.api.types.is_datetime64_any_dtype(s):
            sdtype = "datetime"
        elif pd.api.types.is_numeric_dtype(s):
            sdtype = "numerical"
        elif _looks_like_dates(values):
            sdtype = "datetime"
        else:
            sdtype = "categorical"
    if sdtype == "id":
        return Column(name, "id")
    if sdtype == "numerical":
        try:
            v = pd.to_numeric(values).to_numpy(np.float64)
        except (ValueError, TypeError):
            raise DataError(f"column {name!r}: declared numerical but holds {str(values.iloc[0])!r}; declare it categorical") from None
        whole = bool(np.all(v == np.round(v)))
        return Column(name, "numerical", nullable, integer=whole if integer is None else integer,
                      decimals=0 if whole else _learn_decimals(v), low=float(v.min()), high=float(v.max()))
    if sdtype == "datetime":
        secs = _datetime_seconds(values, fmt, name)
        res = _DAY if np.all(np.mod(secs, _DAY) == 0) else (1.0 if np.all(secs == np.round(secs)) else 0.0)
        return Column(name, "datetime", nullable, low=float(secs.min()), high=float(secs.max()), resolution=res, datetime_format=fmt)
    if sdtype == "boolean":
        cats = sorted({_as_bool(v, name) for v in values})
        return Column(name, "boolean", nullable, categories=cats)
    cats = sorted({_plain(v) for v in values}, key=lambda v: (str(type(v)), v))
    return Column(name, "categorical", nullable, categories=cats)


def _plain(v: Any) -> Any:
    """A JSON-ready category value (NumPy scalars to Python ones)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v == int(v):
        return int(v)
    return v


def _as_bool(v: Any, name: str) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    text = str(v).strip().lower()
    if text in ("true", "1", "yes", "1.0"):
        return True
    if text in ("false", "0", "no", "0.0"):
        return False
    raise DataError(f"column {name!r}: declared boolean but holds {v!r}; use true/false values or declare it categorical")


def _datetime_seconds(values: Any, fmt: str | None, name: str) -> np.ndarray:
    import pandas as pd

    try:
        if pd.api.types.is_datetime64_any_dtype(values):
            t = pd.to_datetime(values)
        else:
            t = pd.to_datetime(values.astype(str), format=fmt or "mixed")
    except (ValueError, TypeError, OverflowError) as e:
        hint = f"format {fmt!r}" if fmt else "a date"
        raise DataError(f"column {name!r}: a value is not {hint} ({str(e).splitlines()[0]}); fix the value or the "
                        "datetime_format in the metadata") from None
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert(None)
    return (t.to_numpy().astype("datetime64[ns]") - _EPOCH).astype(np.int64).astype(np.float64) / 1e9


def infer_schema(df: Any, metadata: dict[str, Any] | None = None, where: str = "metadata") -> TableSchema:
    """The schema of DataFrame ``df``: each column's type from ``metadata`` (SDV single-table form) when it names it,
    else inferred from the values; ranges, categories and missing values from the values."""
    meta_cols = _sdv_columns(metadata, where) if metadata is not None else {}
    missing = [n for n in meta_cols if n not in df.columns]
    if missing:
        raise DataError(f"{where}: names column {missing[0]!r}, which the table does not have (its columns: "
                        f"{', '.join(map(str, df.columns))}); fix the name or drop it from the metadata")
    if metadata is not None:
        extra = [str(n) for n in df.columns if n not in meta_cols]
        if extra:
            raise DataError(f"{where}: the table's column {extra[0]!r} is not in the metadata; add it (e.g. "
                            f"\"{extra[0]}\": {{\"sdtype\": \"categorical\"}}) or drop it from the table")
    cols = []
    for name in df.columns:
        entry = meta_cols.get(name, {})
        cols.append(_infer_column(str(name), df[name], entry.get("sdtype"), entry.get("datetime_format"), entry.get("integer")))
    if not any(c.sdtype in MODELLED for c in cols):
        raise DataError(f"{where}: no column to model (only id columns); a table needs numerical, categorical, boolean or datetime columns")
    return TableSchema(cols)


def _sdv_columns(meta: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """{column: {sdtype, datetime_format, integer}} from SDV single-table metadata, validated."""
    if not isinstance(meta, dict):
        raise DataError(f"{where}: expected a JSON object with a \"columns\" mapping (SDV single-table metadata)")
    if "tables" in meta:
        tables = meta["tables"]
        if isinstance(tables, dict) and len(tables) == 1:
            meta = next(iter(tables.values()))
        else:
            raise DataError(f"{where}: multi-table metadata ({len(tables)} tables); give one table's metadata (its \"columns\")")
    cols = meta.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise DataError(f"{where}: no \"columns\" mapping; expected e.g. {{\"columns\": {{\"age\": {{\"sdtype\": \"numerical\"}}}}}}")
    out = {}
    for name, entry in cols.items():
        if not isinstance(entry, dict) or "sdtype" not in entry:
            raise DataError(f"{where}: column {name!r} has no \"sdtype\"; give one of: {', '.join(SDTYPES)}")
        sdtype = entry["sdtype"]
        if sdtype not in SDTYPES:
            raise DataError(f"{where}: column {name!r} has sdtype {sdtype!r}, which gankit does not model; use one of: "
                            f"{', '.join(SDTYPES)} (e.g. categorical for labels, id for keys)")
        rep = entry.get("computer_representation")
        integer = None
        if sdtype == "numerical" and rep is not None:
            integer = rep in SDV_NUMERICAL_INTS
        out[name] = {"sdtype": sdtype, "datetime_format": entry.get("datetime_format"), "integer": integer}
    return out


def read_metadata(path: str | Path) -> dict[str, Any]:
    """An SDV single-table metadata JSON file, parsed (never executed)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"data.metadata: no file at {str(path)!r}; give an SDV single-table metadata .json")
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"data.metadata {p}: not valid JSON ({str(e).splitlines()[0]})") from None


# --------------------------------------------------------------------------- codes


def to_codes(df: Any, schema: TableSchema, where: str = "table") -> np.ndarray:
    """N×C float64 codes of the modelled columns of ``df`` (see the module doc). A category the schema does not know,
    or a column the table lacks, is a one-line DataError."""
    import pandas as pd

    cols = schema.modelled
    out = np.full((len(df), len(cols)), np.nan, dtype=np.float64)
    for j, c in enumerate(cols):
        if c.name not in df.columns:
            raise DataError(f"{where}: has no column {c.name!r}; its columns: {', '.join(map(str, df.columns))}")
        s = df[c.name]
        present = ~s.isna().to_numpy()
        values = s[present]
        if c.sdtype == "numerical":
            try:
                out[present, j] = pd.to_numeric(values).to_numpy(np.float64)
            except (ValueError, TypeError):
                raise DataError(f"{where}: column {c.name!r} is numerical but holds {str(values.iloc[0])!r}") from None
        elif c.sdtype == "datetime":
            out[present, j] = _datetime_seconds(values, c.datetime_format, c.name)
        else:
            index = {v: i for i, v in enumerate(c.categories)}
            by_text = {str(v): i for i, v in enumerate(c.categories)}  # a CSV reads the category "1" back as the number 1
            conv = (lambda v: _as_bool(v, c.name)) if c.sdtype == "boolean" else _plain
            codes = []
            for v in values:
                k = index.get(conv(v))
                if k is None:
                    k = by_text.get(str(conv(v)))
                if k is None:
                    raise DataError(f"{where}: column {c.name!r} holds {v!r}, not one of its categories "
                                    f"({', '.join(map(str, c.categories[:8]))}{', ...' if len(c.categories) > 8 else ''})")
                codes.append(k)
            out[present, j] = codes
    return out


def from_codes(codes: np.ndarray, schema: TableSchema, clip: bool = True) -> Any:
    """A DataFrame of N×C ``codes``: values rounded as the data's (integers, learned decimals, datetime resolution),
    clipped to the observed range (``clip``), categories by index (out-of-range indices clipped); NaN -> missing.
    ``id`` columns are numbered 0..N-1."""
    import pandas as pd

    codes = np.asarray(codes, dtype=np.float64)
    n = len(codes)
    data: dict[str, Any] = {}
    j = 0
    for c in schema.columns:
        if c.sdtype == "id":
            data[c.name] = pd.Series(np.arange(n), dtype="int64")
            continue
        v = codes[:, j].copy()
        j += 1
        missing = np.isnan(v)
        if c.sdtype == "numerical":
            if clip and c.low is not None:
                v = np.clip(v, c.low, c.high)
            if c.integer:
                v = np.round(v)
                data[c.name] = pd.array(np.where(missing, 0, v).astype(np.int64), dtype="Int64") if c.nullable else v.astype(np.int64)
                if c.nullable:
                    data[c.name][missing] = pd.NA
            else:
                data[c.name] = np.round(v, c.decimals) if c.decimals is not None else v
        elif c.sdtype == "datetime":
            if clip and c.low is not None:
                v = np.clip(v, c.low, c.high)
            if c.resolution:
                v = np.round(v / c.resolution) * c.resolution
            ns = np.where(missing, 0, np.round(v * 1e9)).astype(np.int64)
            t = pd.Series(_EPOCH + ns.astype("timedelta64[ns]"))
            t[missing] = pd.NaT
            data[c.name] = t
        else:
            k = np.clip(np.where(missing, 0, np.round(v)), 0, len(c.categories) - 1).astype(np.int64)
            vals = np.asarray(c.categories, dtype=object)[k]
            vals[missing] = None
            data[c.name] = pd.Series(vals, dtype=object)
    return pd.DataFrame(data)


def format_for_csv(df: Any, schema: TableSchema) -> Any:
    """``df`` with datetimes written in their column's ``datetime_format`` (ISO 8601 without one)."""
    out = df.copy()
    for c in schema.columns:
        if c.sdtype == "datetime" and c.name in out.columns:
            t = out[c.name]
            fmt = c.datetime_format or ("%Y-%m-%d" if c.resolution == _DAY else "%Y-%m-%d %H:%M:%S")
            out[c.name] = t.dt.strftime(fmt).where(t.notna(), None)
    return out




def write_csv(df: Any, schema: TableSchema, path: str | Path) -> Path:
    """Write ``df`` as CSV (datetimes in their column's format) atomically: a temporary file renamed into place."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        format_for_csv(df, schema).to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def save_codes(codes: Any, table: dict[str, Any], path: str | Path) -> Path:
    """N×C codes (a tensor or array) of the table described by ``table`` (DataInfo.table) written as a CSV."""
    schema = TableSchema.from_dict(table["schema"])
    return write_csv(from_codes(np.asarray(codes, dtype=np.float64), schema), schema, path)


__all__ = ["Column", "TableSchema", "SDTYPES", "MODELLED", "read_csv", "read_metadata", "infer_schema", "to_codes", "from_codes",
           "format_for_csv", "write_csv", "save_codes"]
