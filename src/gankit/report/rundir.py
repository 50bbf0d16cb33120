"""Reading a run directory: config.json, metrics.jsonl events, sample pictures (or a table's sample CSVs), snapshots.

Everything here only reads files a run wrote; unknown event types and fields are kept as they are so that
new events (evaluations, health checks, rollbacks, early stops, ...) reach the report without code changes.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..types import schema

#: event types the report shows in their own sections; every other type is listed under "health"
ROUTINE_EVENTS = {"start", "log", "samples", "checkpoint", "end", "eval", "report"}
#: fields that say when an event happened rather than what it measured
BOOKKEEPING = {"event", "time", "step", "wall_s", "d_updates", "images_seen", "run_dir", "main_process"}
#: numeric fields of ``eval`` events that describe the measurement (provenance), not a score
PROVENANCE_NUMBERS = {"n", "n_real", "n_fake", "seed", "k", "subsets", "subset_size", "splits"}
#: non-routine events listed in the report but not drawn as lines across the curves
QUIET_EVENTS = {"best"}

_STEP_FILE = re.compile(r"step(\d+)\.(png|npz|csv)$")


def is_number(v: Any) -> bool:
    """True for int/float values (not bools), NaN and inf included."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_score(key: str, value: Any) -> bool:
    """Whether an ``eval`` field is a score: a float, not provenance (integers such as sample counts and seeds,
    anything under ``provenance.``, and the known provenance counts are provenance)."""
    return (isinstance(value, float) and key not in BOOKKEEPING and key not in PROVENANCE_NUMBERS
            and not key.startswith("provenance."))


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level with dotted keys (lists are kept as values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every parseable JSON object of a metrics.jsonl file (a torn last line after a crash is skipped)."""
    events = []
    if not path.is_file():
        return events
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "event" in rec:
            events.append(rec)
    return events


def step_files(folder: Path, suffix: str) -> list[tuple[int, Path]]:
    """(step, path) of folder/stepNNNNNNN.<suffix>, sorted by step."""
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _STEP_FILE.match(p.name)
        if m and m.group(2) == suffix:
            found.append((int(m.group(1)), p))
    return sorted(found)


@dataclass
class Run:
    """What the report needs from one run directory, read once."""

    path: Path
    config: dict[str, Any]
    events: list[dict[str, Any]]
    samples: list[tuple[int, Path]] = field(default_factory=list)
    snapshots: list[tuple[int, Path]] = field(default_factory=list)
    data_info: dict[str, Any] = field(default_factory=dict)  # from RUN/generator/config.json, when exported
    tables: list[tuple[int, Path]] = field(default_factory=list)  # samples/stepNNNNNNN.csv of table runs

    @property
    def name(self) -> str:
        return self.path.name or str(self.path)

    @property
    def schema(self) -> str:
        """The data's schema ("points", "image", "table"): from the export's data info, else from what the run wrote
        (toy snapshots: points; sample CSVs: a table; otherwise images)."""
        info = self.data_info
        if info.get("schema") or info.get("kind"):
            return schema(info.get("schema") or info["kind"]).name
        return "points" if self.snapshots else "table" if self.tables else "image"

    @property
    def task(self) -> str:
        return str(self.config.get("task", {}).get("name", "gan"))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    def other_events(self) -> list[dict[str, Any]]:
        """Events with their own meaning for the run's health: everything but the routine types."""
        return [e for e in self.events if e.get("event") not in ROUTINE_EVENTS]

    def series(self, event: str = "log") -> dict[str, tuple[list[float], list[float]]]:
        """name -> (steps, values) for every numeric field of ``event`` records (nested dicts flattened).

        For ``eval`` events only the scores: see :func:`is_score`.
        """
        out: dict[str, tuple[list[float], list[float]]] = {}
        for e in self.of(event):
            if not is_number(e.get("step")):
                continue
            for k, v in flatten(e).items():
                if k in BOOKKEEPING or not is_number(v) or (event == "eval" and not is_score(k, v)):
                    continue
                xs, ys = out.setdefault(k, ([], []))
                xs.append(float(e["step"]))
                ys.append(float(v))
        return out

    def timing(self) -> dict[str, Any]:
        """Wall time, counters and mean images/s: from the ``end`` event, else the latest ``report`` or log record."""
        end = self.of("end")
        logs = self.of("log")
        start = self.of("start")
        rec: dict[str, Any] = {}
        later = [e for e in self.events if e.get("event") in ("log", "report") and is_number(e.get("wall_s"))]
        if end:
            rec.update(end[-1])
            rec["source"] = "end of run"
        elif later:
            rec.update(later[-1])
            rec["source"] = ("when this report was written" if later[-1]["event"] == "report"
                             else f"last log record (step {later[-1].get('step')})")
        rec.pop("path", None)
        if start:
            for k, v in start[0].items():
                if k in ("device", "task") or k.startswith("params_"):
                    rec.setdefault(k, v)
        wall, images = rec.get("wall_s"), rec.get("images_seen")
        if is_number(wall) and is_number(images) and wall > 0:
            rec["mean_img_s"] = images / wall
        rates = [e["img_s"] for e in logs if is_number(e.get("img_s")) and math.isfinite(e["img_s"])]
        if rates:
            rec["last_img_s"] = rates[-1]
        rec["resumes"] = len(self.of("resume"))
        return rec


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory; a one-line ConfigError when it is not one."""
    p = Path(run_dir)
    cfg_path = p / "config.json"
    if not cfg_path.is_file():
        raise ConfigError(f"{p}: not a run directory (no config.json); give the folder `gankit train --out` wrote")
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{cfg_path}: not valid JSON ({e})") from None
    data_info: dict[str, Any] = {}
    try:
        data_info = json.loads((p / "generator" / "config.json").read_text()).get("data") or {}
    except (OSError, ValueError, AttributeError):
        pass  # not exported yet: the report falls back on the config
    return Run(p, config, read_events(p / "metrics.jsonl"), step_files(p / "samples", "png"),
               step_files(p / "snapshots", "npz"), data_info if isinstance(data_info, dict) else {},
               tables=step_files(p / "samples", "csv"))
