"""Validated name -> builder tables.

A :class:`Registry` maps a unique name to a builder (a class or a function) and a one-line help text.
Registration refuses duplicate names and builders that are not of the registry's declared kind, so a
typo or a clash fails at import time rather than in the middle of a run. Every registry lists itself
(``gankit list``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import ConfigError

T = TypeVar("T")

_ALL: dict[str, "Registry[Any]"] = {}


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    help: str


class Registry(Generic[T]):
    """A named table of builders.

    Args:
        kind: the registry's name as shown to users (``"losses"``, ``"datasets"`` ...).
        item: one entry's noun for messages (default: ``kind`` without its final "s").
        check: optional predicate every registered object must satisfy (e.g. "is a subclass of nn.Module").
        what: words for the error when ``check`` fails.
    """

    def __init__(self, kind: str, check: Callable[[Any], bool] | None = None, what: str = "", item: str = "") -> None:
        if kind in _ALL:
            raise ValueError(f"registry {kind!r} exists already")
        self.kind = kind
        self.item = item or (kind[:-1] if kind.endswith("s") else kind)
        self._check = check
        self._what = what
        self._entries: dict[str, Entry[T]] = {}
        _ALL[kind] = self

    def register(self, name: str, obj: T | None = None, help: str = ""):  # noqa: A002 - "help" reads best here
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted."""

        def add(o: T) -> T:
            if not name or not all(ch.isalnum() or ch in "-_" for ch in name):
                raise ValueError(f"{self.kind}: invalid name {name!r} (letters, digits, '-' and '_')")
            if name in self._entries:
                raise ValueError(f"{self.kind}: {name!r} is registered already")
            if self._check is not None and not self._check(o):
                raise TypeError(f"{self.kind}: {name!r} must be {self._what}, got {o!r}")
            text = help or (getattr(o, "__doc__", None) or "").strip().splitlines()[0:1]
            if isinstance(text, list):
                text = text[0] if text else ""
            self._entries[name] = Entry(name, o, text)
            return o

        return add if obj is None else add(obj)

    def get(self, name: str, field: str | None = None) -> T:
        """Return the builder for ``name`` or raise a one-line :class:`ConfigError` listing the choices."""
        try:
            return self._entries[name].obj
        except KeyError:
            where = f"{field}: " if field else ""
            raise ConfigError(
                f"{where}unknown {self.item} {name!r}; "
                f"choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry[T]]:
        for name in self.names():
            yield self._entries[name]

    def in_order(self) -> list[Entry[T]]:
        """Entries in the order they were registered (where order carries meaning, e.g. the terms of a loss)."""
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)


def all_registries() -> dict[str, Registry[Any]]:
    """Every registry created so far, by kind (import :mod:`gankit` first so all are populated)."""
    return dict(_ALL)
