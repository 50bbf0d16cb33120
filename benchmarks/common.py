"""What several benchmark scripts share: training a preset into a kept run directory, and the rows file behind a page
(line 1 the run's metadata, then one JSON row per measurement) that ``--from-rows`` rewrites the page from."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

#: overrides that keep a benchmark's training runs quiet: no progress bar, evaluation, pictures, toy snapshots, checkpoints or health log
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000", "train.snapshots=false"]

def train_kept(preset: str, out: Path, overrides: list[str], reuse: bool) -> float:
    """Train ``preset`` into ``out`` (or, with ``reuse``, keep a finished run there); the wall seconds of its training."""
    from gankit import api

    log = out / "metrics.jsonl"
    if reuse and log.is_file() and (out / "generator").is_dir():
        ends = [e for e in map(json.loads, log.read_text().splitlines()) if e["event"] == "end"]
        if ends:
            return float(ends[-1]["wall_s"])
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    api.train(preset, out=out, overrides=overrides)
    return time.perf_counter() - t0


def load_rows(path: Path) -> tuple[dict, list[dict]]:
    """(metadata, rows) of a rows file."""
    doc = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return doc[0], doc[1:]


def open_rows(path: Path, from_rows: bool) -> tuple[dict, list[dict]]:
    """(metadata, rows) a benchmark starts from: the rows file's rows (none yet: []); its metadata when only rewriting
    the page, else this run's (date, machine, torch) keeping the file's other keys (e.g. the page's notes)."""
    import datetime as dt
    import os

    import torch

    meta = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": f"{os.cpu_count()} CPUs", "torch": torch.__version__}
    if not path.is_file():
        return meta, []
    old, rows = load_rows(path)
    return (old if from_rows else {**old, **meta}), rows


def run_cells(jobs: int, cells: dict, rows: list[dict], path: Path, meta: dict) -> list:
    """Run independent benchmark cells in ``jobs`` processes: ``cells`` maps a key to (function, args), each returning a
    list of rows. Each cell's rows join ``rows`` and are saved to ``path`` as soon as it ends, so a stopped run can be
    continued; a failed cell is reported and the others go on. Returns the keys of the failed cells."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    failed = []
    with ProcessPoolExecutor(jobs) as pool:
        futures = {pool.submit(fn, *args): key for key, (fn, args) in cells.items()}
        for f in as_completed(futures):
            try:
                rows += f.result()
            except Exception as e:  # noqa: BLE001 - a benchmark cell: report it, keep the others
                failed.append(futures[f])
                print(f"FAILED {futures[f]}: {type(e).__name__}: {e}", flush=True)
                continue
            save_rows(path, meta, rows)
            print(f"done {futures[f]}", flush=True)
    return failed


def save_rows(path: Path, meta: dict, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in [meta, *rows]) + "\n")
