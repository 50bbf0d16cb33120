"""Golden weights: the task engine must not change what the GAN loop computes.

The SHA-256s below were recorded at commit 5a3902e (the last commit before the task engine), with
``/tmp``-free settings: fp32, one torch thread (the reduction order of oneDNN's convolutions depends on the
thread count), CPU, no evaluation. Each hash covers every tensor of the file (name, dtype, shape and bytes),
so it does not depend on how safetensors lays out its header.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.io.checkpoint import latest_checkpoint

GOLDEN = {  # preset, steps -> SHA-256 of the exported G_ema, and of the final checkpoint's G and D
    ("ring", 200): {"G_ema": "7d90e650bab077c330337931e8aac041174307e5c010e6ace5e085302677036c",
                    "G": "469c7fade254365b09105e857ab097764cb2a1b1385cefce47fb9defb36f2805",
                    "D": "df34ae99ea90dd3cbf8c7c06c5636c4796a071f7425c88598115b0aa7cd433fd"},
    ("digits", 50): {"G_ema": "1e84243636fd26b22ff0a8ca64cdd8a4310534b07a770a931b7aa84f9b617ce2",
                     "G": "76b7168765e9c7be93af25e8d13afea3dfc82355055ac8926cede5274b65cd92",
                     "D": "62ad1afea10098cc5c69f975e0da5ff293a9f7739f0cd7a39b9fa6bc7e4b5836"},
}


def tensors_sha256(path: Path) -> str:
    tensors = load_file(str(path))
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update((t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("preset,steps", list(GOLDEN))
def test_presets_produce_the_recorded_weights(tmp_path, no_report, preset, steps):
    run = tmp_path / preset
    gankit.train(preset, out=run, overrides=[f"train.steps={steps}", "train.progress=false", "train.device=cpu",
                                            "train.precision=fp32", "train.threads=1", "eval.metrics="])
    ckpt = latest_checkpoint(run)
    got = {"G_ema": tensors_sha256(run / "generator" / "model.safetensors"),
           "G": tensors_sha256(ckpt / "G.safetensors"), "D": tensors_sha256(ckpt / "D.safetensors")}
    assert got == GOLDEN[(preset, steps)]
