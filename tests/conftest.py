"""Shared test helpers.

* Under pytest-xdist every worker gets an equal share of the CPU cores for torch (2 workers on 2 cores: one
  thread each), instead of every worker starting a thread per core and all of them fighting.
* ``one_line``: ``with one_line(ConfigError, match="train.lrr") as info:`` is pytest.raises that also checks the
  message is a single, non-empty line (house rule 11).
* ``no_report``: training runs in tests skip writing RUN/report.html (it renders an animation and is by far the
  slowest part of a tiny run); the report is not what these tests check.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    _workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _workers))


class _OneLine:
    def __init__(self, exc_type, match=None):
        self.exc_type, self.match = exc_type, match

    def __enter__(self):
        self.cm = pytest.raises(self.exc_type, match=self.match)
        self.info = self.cm.__enter__()
        return self.info

    def __exit__(self, *exc):
        suppressed = self.cm.__exit__(*exc)
        message = str(self.info.value)
        assert message and "\n" not in message and message.strip() == message, repr(message)
        return suppressed


@pytest.fixture
def one_line():
    """Factory: ``with one_line(ConfigError, match=...)`` (pytest.raises + one-line message check)."""
    return _OneLine


def disable_report(mp: pytest.MonkeyPatch) -> None:
    """Make training runs skip RUN/report.html (usable from module-scoped fixtures with MonkeyPatch.context())."""
    from gankit import api

    mp.setattr(api, "write_run_report", lambda run_dir: None)


@pytest.fixture
def no_report(monkeypatch):
    """Skip RUN/report.html in training runs made by the test (see the module docstring)."""
    disable_report(monkeypatch)


# One on-disk cache for the whole test session (all xdist workers): the digits-cnn extractor trains once
# and is reused (load_digits_cnn holds a file lock, so concurrent workers wait instead of training twice).
# Tests that need an empty cache monkeypatch GANKIT_CACHE to their tmp_path.
_SESSION_CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "gankit-cache"
_SESSION_CACHE.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("GANKIT_CACHE", str(_SESSION_CACHE))


def torchrun(nproc: int, *args: str) -> list[str]:
    """The command for ``torchrun --nproc_per_node=nproc -m gankit ARGS`` on one machine.

    A free loopback port is chosen here instead of ``--standalone``'s rendezvous, so that two multi-process tests
    running at the same time on different xdist workers never share or race for a port.
    """
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={nproc}",
            "--master_addr=127.0.0.1", f"--master_port={port}", "-m", "gankit", *args]


def torchrun_train(nproc: int, preset: str, out: Path, overrides: list[str]) -> None:
    """Run ``gankit train`` in ``nproc`` gloo processes (one OpenMP thread each) and assert that the job succeeded.

    A job whose rank was killed by a signal (a crash inside the gloo transport, seen once in CI as a SIGABRT with no
    Python error on a loaded machine) is run once more from an empty run directory; a job that fails twice, or that
    fails with an ordinary error, fails the test. The failure message keeps the ranks' own lines (the launcher's
    traceback that follows them says only that a child failed).
    """
    import shutil
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    for attempt in (1, 2):
        cmd = torchrun(nproc, "train", "--preset", preset, "--out", str(out), *overrides)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode == 0:
            return
        own = proc.stderr.split("Traceback (most recent call last):\n  File \"<frozen runpy>\"")[0]
        signalled = re.search(r"exitcode\s*:\s*-\d+", proc.stderr) is not None
        if attempt == 2 or not signalled:
            raise AssertionError(f"torchrun failed (attempt {attempt}, rc {proc.returncode}):\n{own[-3000:]}\n"
                                 f"...\n{proc.stderr[-800:]}")
        warnings.warn(f"torchrun: a rank was killed by a signal; running the job once more:\n{own[-1500:]}")
        shutil.rmtree(out, ignore_errors=True)
