"""Training that needs no babysitting: each fault is injected and what gankit does about it is checked."""
from __future__ import annotations

import gzip
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.cli import main
from gankit.config import load_preset
from gankit.errors import DivergenceError
from gankit.io.checkpoint import latest_checkpoint, list_checkpoints
from gankit.training.hooks import Hook
from gankit.training.loop import Trainer

TINY_RING = ["train.progress=false", "eval.metrics=[]", "model.g_width=32", "model.d_width=32", "train.batch_size=64",
             "train.sample_every=1000", "train.log_every=5"]
TINY_DIGITS = ["train.progress=false", "eval.metrics=[]", "data.resolution=8", "model.g_width=8", "model.d_width=8",
               "train.batch_size=16", "train.sample_every=1000", "train.log_every=5"]


def events(run: Path, kind: str) -> list[dict]:
    return [e for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if e["event"] == kind]


def finite_checkpoints(run: Path) -> bool:
    for ckpt in list_checkpoints(run):
        for f in ckpt.glob("*.safetensors"):
            if not all(torch.isfinite(t).all() for t in load_file(str(f)).values() if t.is_floating_point()):
                return False
    return True


class PoisonD(Hook):
    """Fault injection: fills one of D's weights with NaN after the given steps."""

    def __init__(self, at: set[int]) -> None:
        super().__init__(1)
        self.at = at

    def fire(self, t: Trainer) -> None:
        if t.step in self.at:
            self.at.discard(t.step)
            with torch.no_grad():
                next(t.nets["D"].parameters()).fill_(float("nan"))


def test_injected_nan_rolls_back_and_training_continues(tmp_path, no_report):
    cfg = load_preset("ring", TINY_RING + ["train.steps=40", "health.snapshot_every=5", "train.checkpoint_every=10"])
    t = Trainer(cfg, tmp_path / "run")
    t.hooks.append(PoisonD({12}))
    summary = t.run()
    rollbacks = events(tmp_path / "run", "rollback")
    assert summary["step"] == 40 and summary["rollbacks"] == 1
    assert len(rollbacks) == 1 and rollbacks[0]["step"] == 13 and "non-finite" in rollbacks[0]["reason"]
    assert rollbacks[0]["to_step"] in (5, 10)  # the last verified snapshot
    assert rollbacks[0]["lr_d"] == pytest.approx(cfg.train.lr_d * 0.5)
    assert all(torch.isfinite(p).all() for p in t.nets["D"].parameters())
    assert finite_checkpoints(tmp_path / "run")


def test_persistent_divergence_stops_with_exit_code_3(tmp_path, capsys, no_report):
    run = tmp_path / "run"
    code = main(["train", "--preset", "ring", "--out", str(run), *TINY_RING, "train.steps=50", "loss.name=wgan",
                 "train.lr_d=10", "train.lr_g=10", "health.max_abs_logit=100", "train.checkpoint_every=1"])
    err = capsys.readouterr().err.strip()
    assert code == 3
    assert err.count("\n") == 0 and err.startswith("gankit: error: training diverged") and "Traceback" not in err
    rb = events(run, "rollback")
    assert [r["retry"] for r in rb] == [1, 2, 3]
    assert [r["lr_d"] for r in rb] == pytest.approx([5.0, 2.5, 1.25])
    assert events(run, "diverged")
    assert finite_checkpoints(run)  # a checkpoint never holds NaN or inf


def test_guard_off_lets_nan_through_but_checkpoints_stay_finite(tmp_path, no_report):
    cfg = load_preset("ring", TINY_RING + ["train.steps=10", "health.guard=false", "train.checkpoint_every=5"])
    t = Trainer(cfg, tmp_path / "run")
    t.hooks.insert(0, PoisonD({3}))
    t.run()
    assert events(tmp_path / "run", "checkpoint_skipped")
    assert finite_checkpoints(tmp_path / "run")


def _resume_equivalence(tmp_path: Path, preset: str, overrides: list[str], n: int) -> None:
    base = overrides + ["train.checkpoint_every=%d" % (n // 2)]
    gankit.train(preset, out=tmp_path / "straight", overrides=base + [f"train.steps={n}"])
    gankit.train(preset, out=tmp_path / "split", overrides=base + [f"train.steps={n // 2}"])
    gankit.train(resume=tmp_path / "split", overrides=[f"train.steps={n}"])  # steps raised on resume
    for net in ("G", "D", "G_ema"):
        a = load_file(str(tmp_path / "straight" / "checkpoints" / str(n) / f"{net}.safetensors"))
        b = load_file(str(tmp_path / "split" / "checkpoints" / str(n) / f"{net}.safetensors"))
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{net}.{k} differs after resume"


def test_resume_is_bitwise_exact_toy(tmp_path, no_report):
    _resume_equivalence(tmp_path, "ring", TINY_RING + ["train.n_critic=2", "train.ema_kimg=1"], 20)


def test_resume_is_bitwise_exact_images_with_evaluation_and_health(tmp_path, no_report):
    _resume_equivalence(tmp_path, "digits", TINY_DIGITS + ["model.conditional=true", "eval.every=5", "eval.n=100",
                                                          "eval.metrics=[fid]", "eval.extractor=identity",
                                                          "health.diversity_every=5"], 20)


def _spawn_training(run: Path, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gankit", "train", "--preset", "ring", "--out", str(run), *TINY_RING, *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def test_sigkill_during_checkpoint_writing_leaves_a_loadable_checkpoint(tmp_path):
    """Checkpoint every step while killing the process at several moments; the run always resumes."""
    run = tmp_path / "run"
    proc = _spawn_training(run, ["train.steps=100000", "train.checkpoint_every=1", "train.keep_checkpoints=2"])
    try:
        deadline = time.time() + 60
        while latest_checkpoint(run) is None and time.time() < deadline:
            time.sleep(0.05)
        assert latest_checkpoint(run) is not None, proc.stderr.read() if proc.poll() is not None else "no checkpoint"
        # Wait until a temporary (half-written) checkpoint directory exists, then kill at once.
        while not list((run / "checkpoints").glob(".tmp-*")) and time.time() < deadline:
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    ckpt = latest_checkpoint(run)
    cfg = load_preset("ring", TINY_RING + ["train.steps=100000"])
    t = Trainer(cfg, run, resume=True)  # loads the latest complete checkpoint
    assert t.step == int(ckpt.name)
    summary = gankit.train(resume=run, overrides=[f"train.steps={t.step + 3}", "train.checkpoint_every=1000"])
    assert summary["step"] == t.step + 3


def test_sigint_finishes_the_step_checkpoints_and_exits_130(tmp_path):
    run = tmp_path / "run"
    proc = _spawn_training(run, ["train.steps=100000", "train.checkpoint_every=100000"])
    deadline = time.time() + 60
    while not (run / "metrics.jsonl").exists() or '"log"' not in (run / "metrics.jsonl").read_text():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "resume with" in err
    ckpt = latest_checkpoint(run)
    assert ckpt is not None
    end = events(run, "end")[-1]
    assert end["interrupted"] is True and end["step"] == int(ckpt.name)


def _malicious_pickle(path: Path, sentinel: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    path.write_bytes(pickle.dumps({"state_dict": Evil()}))


@pytest.mark.parametrize("suffix", [".pt", ".pkl"])
def test_pickles_are_never_unpickled(tmp_path, capsys, suffix):
    sentinel = tmp_path / "SENTINEL"
    bad = tmp_path / f"model{suffix}"
    _malicious_pickle(bad, sentinel)
    for argv in (["sample", str(bad), "--n", "4", "--out", str(tmp_path / "x.npy")], ["train", "--resume", str(bad)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "pickle" in err and err.count("\n") == 0
    # A generator directory whose weights file is a pickle in disguise.
    gdir = tmp_path / "gen"
    gdir.mkdir()
    (gdir / "config.json").write_text(json.dumps({"format": "gankit-generator", "family": "mlp", "kwargs": {}}))
    _malicious_pickle(gdir / "model.safetensors", sentinel)
    assert main(["sample", str(gdir), "--n", "4", "--out", str(tmp_path / "y.npy")]) == 2
    assert not sentinel.exists()
    assert not (tmp_path / "x.npy").exists() and not (tmp_path / "y.npy").exists()


def test_checkpoint_from_another_architecture_is_refused(tmp_path, capsys, no_report):
    run = tmp_path / "run"
    gankit.train("ring", out=run, overrides=TINY_RING + ["train.steps=4", "train.checkpoint_every=2"])
    code = main(["train", "--resume", str(run), "train.steps=8", "model.g_width=16"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "another architecture" in err and err.count("\n") == 0


def _bad_corpus(root: Path) -> dict[str, str]:
    from PIL import Image

    root.mkdir()
    Image.new("RGB", (12, 12), (10, 200, 30)).save(root / "good.png")
    Image.new("L", (40, 30), 128).save(root / "good2.jpg")
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not an image")
    full = (root / "good.png").read_bytes()
    (root / "truncated.png").write_bytes(full[: len(full) // 2])
    return {"empty.png", "text.png", "truncated.png"}


def test_bad_image_files_one_line_or_skipped(tmp_path, capsys, no_report):
    folder = tmp_path / "imgs"
    bad = _bad_corpus(folder)
    common = ["--preset", "digits", "data.name=folder", f"data.path={folder}", *TINY_DIGITS, "train.batch_size=2", "train.steps=2"]
    assert main(["train", "--out", str(tmp_path / "r1"), *common]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and any(name in err for name in bad) and "skip_bad_files" in err
    assert not (tmp_path / "r1").exists()  # nothing half-written
    assert main(["train", "--out", str(tmp_path / "r2"), *common, "data.skip_bad_files=true"]) == 0


def test_bad_idx_and_missing_folder_exit_2(tmp_path, capsys):
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    with gzip.open(mnist / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(np.array([0x0803, 2, 28, 28], dtype=">i4").tobytes() + b"\0" * 100)  # far too short
    with gzip.open(mnist / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(np.array([0x0801, 2], dtype=">i4").tobytes() + b"\0\1")
    for data in (["data.name=mnist", f"data.path={mnist}"], ["data.name=folder", f"data.path={tmp_path / 'nope'}"]):
        code = main(["train", "--preset", "digits", "--out", str(tmp_path / "r"), *TINY_DIGITS, *data])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and "Traceback" not in err
        assert not (tmp_path / "r").exists()


def test_early_stopping_on_a_plateau_keeps_the_best(tmp_path, no_report):
    # lr 0: G never changes, so no evaluation after the first improves; patience 2 stops at the third.
    run = tmp_path / "run"
    summary = gankit.train("ring", out=run, overrides=TINY_RING + ["train.steps=100", "train.lr_g=0", "eval.every=5",
                                                                    "eval.n=200", "eval.metrics=[modes]", "eval.patience=2"])
    assert summary["early_stopped"] is True and summary["step"] == 15
    stop = events(run, "early_stop")[0]
    assert stop["best_step"] == 5 and stop["evaluations_without_improvement"] == 2
    assert gankit.load(run / "best").gankit_meta["step"] == 5


def test_divergence_error_is_a_gankit_error():
    assert DivergenceError("x").exit_code == 3
