"""Multi-process training: 2 gloo processes under torchrun compute what 1 process computes with the same global batch."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import torchrun
import torch
from safetensors.torch import load_file

import gankit
from gankit.training.distributed import Dist

OVERRIDES = ["train.progress=false", "eval.metrics=[]", "train.steps=12", "train.batch_size=32", "model.g_width=32",
             "model.d_width=32", "train.checkpoint_every=12", "train.sample_every=1000", "train.log_every=4",
             "model.conditional=false", "train.n_critic=2"]


def test_shard_slices_a_global_batch():
    x = torch.arange(12)
    assert torch.equal(torch.cat([Dist(r, 3).shard(x) for r in range(3)]), x)
    assert Dist().shard(x) is x


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in")
def test_two_process_gloo_run_matches_one_process(tmp_path, no_report):
    single, multi = tmp_path / "single", tmp_path / "ddp"
    gankit.train("ring", out=single, overrides=OVERRIDES)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = torchrun(2, "train", "--preset", "ring", "--out", str(multi), *OVERRIDES)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for net in ("G", "D", "G_ema"):
        a = load_file(str(single / "checkpoints" / "12" / f"{net}.safetensors"))
        b = load_file(str(multi / "checkpoints" / "12" / f"{net}.safetensors"))
        for k in a:
            assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), f"{net}.{k}"
    # Rank 0 alone wrote the run directory, and counted the global batch.
    logs = [json.loads(line) for line in (multi / "metrics.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "start" for e in logs) == 1
    last = [e for e in logs if e["event"] == "log"][-1]
    assert last["images_seen"] == 12 * 2 * 32 and last["d_updates"] == 24
    single_last = [json.loads(line) for line in (single / "metrics.jsonl").read_text().splitlines() if '"log"' in line][-1]
    assert last["d_loss"] == pytest.approx(single_last["d_loss"], rel=1e-4)
