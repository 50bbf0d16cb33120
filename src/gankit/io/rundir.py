"""The run directory's event log: ``RUN/metrics.jsonl``, one JSON object per event.

Training appends ``start``, ``log``, ``samples``, ``eval``, ``best``, ``health``, ``rollback``, ``checkpoint``,
``resume`` and ``end`` events; ``gankit evaluate`` appends ``eval`` events with provenance; reports read them
(gankit.report.rundir). Each line is flushed when written, so a crash loses nothing.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class MetricsLog:
    """Appends one JSON object per event to RUN/metrics.jsonl (flushed at once: a crash loses nothing).

    With ``path=None`` (ranks other than 0 in a distributed job) nothing is written.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, "time": round(time.time(), 3), **fields}
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(record, allow_nan=True) + "\n")
        return record


__all__ = ["MetricsLog"]
