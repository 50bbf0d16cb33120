"""Golden weights: the task engine must not change what the GAN loop computes.

The SHA-256s below were recorded at commit 5a3902e (the last commit before the task engine), with
``/tmp``-free settings: fp32, one torch thread (the reduction order of oneDNN's convolutions depends on the
thread count), CPU, no evaluation. Each hash covers every tensor of the file (name, dtype, shape and bytes),
so it does not depend on how safetensors lays out its header.

The bits also depend on the CPU: MKL and oneDNN pick their kernels by instruction set and vendor. So each preset
has one recorded set per CPU that 5a3902e was run on (the same torch 2.13.0), and the weights must equal one of
them. On a CPU of another kind the test fails until 5a3902e's weights are recorded there too: check it out, train
the two presets with the settings below, and add the hashes.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.io.checkpoint import latest_checkpoint

GOLDEN = {  # preset, steps -> CPU it was recorded on -> SHA-256 of the exported G_ema, and of the final checkpoint's G and D
    ("ring", 200): {
        "the CPU of sessions 6-15": {"G_ema": "7d90e650bab077c330337931e8aac041174307e5c010e6ace5e085302677036c",
                                     "G": "469c7fade254365b09105e857ab097764cb2a1b1385cefce47fb9defb36f2805",
                                     "D": "df34ae99ea90dd3cbf8c7c06c5636c4796a071f7425c88598115b0aa7cd433fd"},
        "AMD EPYC, AVX2": {"G_ema": "9a98c9869faeacb1ebad8304a5cb0cf5e800b0227767d268e520d6babcec0d77",
                           "G": "f7bd08eef35171b978d0a502ce747fcc435390134537f1f7257c45fcc8375be5",
                           "D": "19fe29fcd84976baf514ee545384d5e2cd652e49008c550ee6d3832f6502ea79"}},
    ("digits", 50): {
        "the CPU of sessions 6-15": {"G_ema": "1e84243636fd26b22ff0a8ca64cdd8a4310534b07a770a931b7aa84f9b617ce2",
                                     "G": "76b7168765e9c7be93af25e8d13afea3dfc82355055ac8926cede5274b65cd92",
                                     "D": "62ad1afea10098cc5c69f975e0da5ff293a9f7739f0cd7a39b9fa6bc7e4b5836"},
        "AMD EPYC, AVX2": {"G_ema": "4dab8ce98bb088fd07f22e349d04382cf5ffc749db9fc60ba0ade728901625ed",
                           "G": "384837efd0bbd0dafd9066b50ba9b5485255b00e2737d0d5fcc4e0d4c7ded024",
                           "D": "b25d46c0bf04a83b78571293c6023970f45f941aa0f62f0aba04b59b2a51bfb8"}},
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
    recorded = GOLDEN[(preset, steps)]
    assert got in recorded.values(), f"weights differ from 5a3902e's on every recorded CPU ({', '.join(recorded)}): {got}"
