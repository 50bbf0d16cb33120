"""Typed option fields: the machinery every configuration schema is made of (no torch, no gankit imports but errors).

A schema is a dataclass whose fields are made with :func:`option`: a default, a help line and what values are
allowed (a range, fixed choices, or the names of a registry). :func:`build` turns a nested dict (YAML, JSON or
dotted overrides) into that dataclass, coercing strings from the command line, and :func:`check` validates the
values. Every problem is a one-line :class:`~gankit.errors.ConfigError` that names the field.

The run's sections (gankit.config), each model family's options (gankit.models) and each registered term's
weights (gankit.terms) are all declared this way, next to the code they configure.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Callable

from .errors import ConfigError


def option(default: Any = dataclasses.MISSING, *, help: str = "", low: float | None = None,  # noqa: A002
           high: float | None = None, choices: tuple[str, ...] | tuple[int, ...] | None = None,
           registry: str | None = None, factory: Any = None) -> Any:
    """A dataclass field with validation metadata (range, fixed choices, or a registry to choose from)."""
    meta = {"help": help, "low": low, "high": high, "choices": choices, "registry": registry}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def type_name(tp: Any) -> str:
    """A type as users read it: ``int``, ``float or null``, ``list of str``, ``true/false``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    return {type(None): "null", bool: "true/false"}.get(tp, getattr(tp, "__name__", str(tp)))


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` as type ``tp`` or raise ConfigError. Strings from the command line are parsed."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none")):
            if type(None) in args:
                return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, where)
            except ConfigError:
                pass
        raise ConfigError(f"{where}: {value!r} is not {type_name(tp)}")
    if origin is list:
        (inner,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: {value!r} is not a {type_name(tp)} (give a list or 'a,b,c')")
        return [coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):  # YAML reads "key=1" as an integer
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{where}: {value!r} is not true/false")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: {value!r} is not an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                f = math.nan
            if math.isfinite(f) and f.is_integer():
                return int(f)
        raise ConfigError(f"{where}: {value!r} is not an integer")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: {value!r} is not a number")
        if isinstance(value, (int, float)):
            out = float(value)
        elif isinstance(value, str):
            try:
                out = float(value)
            except ValueError:
                raise ConfigError(f"{where}: {value!r} is not a number") from None
        else:
            raise ConfigError(f"{where}: {value!r} is not a number")
        if not math.isfinite(out):
            raise ConfigError(f"{where}: {value!r} is not a finite number")
        return out
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: {value!r} is not a string")
    raise TypeError(f"unsupported option type {tp!r} at {where}")


def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def build(cls: type, values: dict[str, Any], prefix: str, label: str = "") -> Any:
    """``cls`` (a schema dataclass) from a partial dict; ``prefix`` ("model.") names the fields in errors.

    ``label`` (e.g. "dcgan") says which schema refused an unknown key, for sections chosen by name.
    """
    where_section = prefix[:-1] if prefix else "config"
    if not isinstance(values, dict):
        raise ConfigError(f"{where_section}: expected a mapping of keys, got {values!r}")
    tps = hints(cls)
    known = names(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{prefix}{key}"
        if key not in known:
            of = f" in {where_section}" + (f" ({label})" if label else "") if prefix else ""
            raise ConfigError(f"unknown config key {where!r}; keys{of}: {', '.join(known)}")
        tp = tps[key]
        kwargs[key] = build(tp, value, f"{where}.") if dataclasses.is_dataclass(tp) else coerce(value, tp, where)
    return cls(**kwargs)


def check_value(value: Any, meta: Any, where: str, lookup: Callable[[str, str, str], None] | None = None) -> None:
    """Range and choices of one value; ``lookup(registry, name, where)`` checks registry names (raises ConfigError)."""
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{where}: {value!r} is not allowed; choose one of: {', '.join(map(str, meta['choices']))}")
    if meta.get("registry") and lookup is not None:
        lookup(meta["registry"], value, where)
    nums = value if isinstance(value, list) else [value]
    for v in nums:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            low, high = meta.get("low"), meta.get("high")
            if low is not None and v < low:
                raise ConfigError(f"{where}: {v!r} is too small; allowed: {low} to {high if high is not None else 'any'}")
            if high is not None and v > high:
                raise ConfigError(f"{where}: {v!r} is too large; allowed: {low if low is not None else 'any'} to {high}")


def check(section: Any, prefix: str, lookup: Callable[[str, str, str], None] | None = None) -> None:
    """Check every field of a schema instance (see :func:`check_value`); ``prefix``: "train." etc."""
    for f in dataclasses.fields(section):
        check_value(getattr(section, f.name), f.metadata, f"{prefix}{f.name}", lookup)


def describe(cls: type, prefix: str) -> list[tuple[str, str, Any, str]]:
    """(dotted key, type, default, help) for every field of ``cls``."""
    tps = hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
        rows.append((f"{prefix}{f.name}", type_name(tps[f.name]), default, f.metadata.get("help", "")))
    return rows


def extend(name: str, base: type, extra: dict[str, tuple[Any, Any]], doc: str = "") -> type:
    """A schema dataclass ``name``: ``base``'s fields followed by ``extra`` ({field: (type, option(...))}).

    Sections whose fields come from registered pieces (e.g. each term declares its own weight under ``reg.``)
    are built this way, so that a new piece is one registration, not an edit of the section too.
    """
    cls = dataclasses.make_dataclass(name, [(k, tp, f) for k, (tp, f) in extra.items()], bases=(base,))
    cls.__doc__ = doc or base.__doc__
    return cls


__all__ = ["option", "coerce", "build", "check", "check_value", "describe", "extend", "hints", "names", "type_name"]
