"""The `gankit` command line, end to end: in-process through gankit.cli.main, and once as `python -m gankit`."""
from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import disable_report
import torch
from PIL import Image
from safetensors.torch import load_file

import gankit
from gankit import cli
from gankit.config import describe_fields, preset_names
from gankit.registry import all_registries

if os.environ.get("PYTEST_XDIST_WORKER"):  # one torch thread per xdist worker (2 workers on 2 cores)
    torch.set_num_threads(1)

FAST = ["train.progress=false", "train.device=cpu", "eval.metrics="]




def run_cli(*argv: str) -> tuple[int, str, str]:
    """gankit.cli.main in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as e:  # argparse exits
            code = e.code if isinstance(e.code, int) else 1
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
    return code, out.getvalue(), err.getvalue()


def assert_usage_error(code: int, out: str, err: str) -> str:
    """Exit code 2, exactly one line on stderr starting with 'gankit: error:', no traceback anywhere."""
    assert code == 2, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gankit: error:"), err
    assert "Traceback" not in out + err
    return lines[0]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """`gankit train --preset ring --out DIR train.steps=30 train.progress=false` (smaller networks, no evaluation)."""
    out = tmp_path_factory.mktemp("cli") / "ring"
    with pytest.MonkeyPatch.context() as mp:
        disable_report(mp)
        code, stdout, stderr = run_cli("train", "--preset", "ring", "--out", out, "train.steps=30", *FAST,
                                       "model.g_width=32", "model.d_width=32", "train.batch_size=64")
    assert code == 0, stderr
    return out, stdout


@pytest.fixture(scope="module")
def digits_cond_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "digits"
    with pytest.MonkeyPatch.context() as mp:
        disable_report(mp)
        code, _, stderr = run_cli("train", "--preset", "digits-cond", "--out", out, "train.steps=3", "data.resolution=8",
                                  "model.g_width=8", "model.d_width=8", "model.z_dim=16", "train.batch_size=16", *FAST)
    assert code == 0, stderr
    return out


# ------------------------------------------------------------------------------------------ listings

def test_presets_lists_every_preset():
    code, out, err = run_cli("presets")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == preset_names()
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # each with its description


def test_list_shows_the_registries():
    code, out, err = run_cli("list")
    assert code == 0 and err == ""
    sections: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current = line.rstrip(":")
            sections[current] = []
        elif line.strip():
            sections[current].append(line.split()[0])
    for kind in ("datasets", "models", "losses"):
        assert sections[kind] == all_registries()[kind].names(), kind
    assert {"ring", "grid", "digits", "folder", "mnist", "cifar10"} <= set(sections["datasets"])
    assert sections["losses"] == ["hinge", "lsgan", "minimax", "nsgan", "ragan", "rahinge", "wgan"]


def test_list_config_shows_every_field():
    code, out, _ = run_cli("list", "--config")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [row[0] for row in describe_fields()]


def test_version():
    code, out, _ = run_cli("--version")
    assert code == 0 and out.strip() == gankit.__version__


# ------------------------------------------------------------------------------------------ train and sample

def test_train_prints_the_run_directory(ring_run):
    run, stdout = ring_run
    assert f"run directory: {run}" in stdout.splitlines()
    assert stdout.splitlines()[0].startswith("done: 30 steps, 1920 images shown")  # 30 × batch 64
    assert (run / "config.json").is_file() and (run / "generator" / "model.safetensors").is_file()
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 30


def test_sample_npy(ring_run, tmp_path):
    run, _ = ring_run
    code, out, err = run_cli("sample", run, "--n", "16", "--out", tmp_path / "x.npy")
    assert code == 0 and err == "" and "16 samples" in out
    x = np.load(tmp_path / "x.npy", allow_pickle=False)
    assert x.shape == (16, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    # exactly what the Python API gives for the same seed
    assert np.array_equal(x, gankit.generate(gankit.load(run), 16, seed=0).numpy())
    assert run_cli("sample", run, "--n", "16", "--seed", "1", "--out", tmp_path / "y.npy")[0] == 0
    assert not np.array_equal(x, np.load(tmp_path / "y.npy"))
    # the generator directory works as well as the run directory
    assert run_cli("sample", run / "generator", "--n", "16", "--out", tmp_path / "z.npy")[0] == 0
    assert np.array_equal(x, np.load(tmp_path / "z.npy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy", "z.npy"]  # no temporary files left


def test_sample_png(ring_run, tmp_path):
    run, _ = ring_run
    code, _, err = run_cli("sample", run, "--n", "200", "--out", tmp_path / "sub" / "x.png")
    assert code == 0 and err == ""
    with Image.open(tmp_path / "sub" / "x.png") as im:
        assert im.format == "PNG" and im.width > 100 and im.height > 100
        im.load()


def test_conditional_sample_by_class(digits_cond_run, tmp_path):
    run = digits_cond_run
    code, _, err = run_cli("sample", run, "--n", "12", "--class", "3", "--out", tmp_path / "three.npy")
    assert code == 0 and err == ""
    x = np.load(tmp_path / "three.npy")
    assert x.shape == (12, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    G = gankit.load(run)
    assert np.array_equal(x, gankit.generate(G, 12, seed=0, labels=3).numpy())
    assert not np.array_equal(x, gankit.generate(G, 12, seed=0, labels=4).numpy())
    # default: the classes in turn, as a grid with one row per class
    code, _, _ = run_cli("sample", run, "--n", "20", "--out", tmp_path / "all.png")
    assert code == 0
    with Image.open(tmp_path / "all.png") as im:
        assert im.format == "PNG"
        assert im.width > 2 * im.height  # 10 per row, 2 rows


def test_config_file_recreates_the_run(ring_run, tmp_path, no_report):
    run, _ = ring_run
    code, _, err = run_cli("train", "--config", run / "config.json", "--out", tmp_path / "again")
    assert code == 0, err
    assert json.loads((tmp_path / "again" / "config.json").read_text()) == json.loads((run / "config.json").read_text())
    for rel in ("generator/model.safetensors", "checkpoints/30/G.safetensors", "checkpoints/30/D.safetensors"):
        a, b = load_file(str(run / rel)), load_file(str(tmp_path / "again" / rel))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), rel


# ------------------------------------------------------------------------------------------ errors

def _error_cases(run: Path, tmp: Path) -> dict[str, tuple[list, Path | None, str]]:
    """name -> (argv, a path that must not exist afterwards, a word the message must contain)."""
    full = tmp / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    pt = tmp / "model.pt"
    pt.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    return {
        "unknown preset": (["train", "--preset", "nope", "--out", tmp / "a"], tmp / "a", "nope"),
        "unknown key": (["train", "--preset", "ring", "--out", tmp / "b", "train.lrr=1"], tmp / "b", "train.lrr"),
        "bad value": (["train", "--preset", "ring", "--out", tmp / "c", "train.steps=abc"], tmp / "c", "train.steps"),
        "out of range": (["train", "--preset", "ring", "--out", tmp / "d", "train.batch_size=0"], tmp / "d", "train.batch_size"),
        "no override syntax": (["train", "--preset", "ring", "--out", tmp / "e", "steps"], tmp / "e", "section.key=value"),
        "conditional toy": (["train", "--preset", "ring", "--out", tmp / "f", "model.conditional=true", *FAST], tmp / "f",
                            "model.conditional"),
        "out not empty": (["train", "--preset", "ring", "--out", full, "train.steps=1"], None, "not empty"),
        "missing config": (["train", "--config", tmp / "nope.yaml", "--out", tmp / "g"], tmp / "g", "nope.yaml"),
        "sample missing run": (["sample", tmp / "missing", "--n", "4", "--out", tmp / "s1.npy"], tmp / "s1.npy", "missing"),
        "sample bad suffix": (["sample", run, "--n", "4", "--out", tmp / "s2.txt"], tmp / "s2.txt", ".npy"),
        "class on unconditional": (["sample", run, "--n", "4", "--class", "3", "--out", tmp / "s3.npy"], tmp / "s3.npy",
                                   "--class"),
        "pickle file": (["sample", pt, "--n", "4", "--out", tmp / "s4.npy"], tmp / "s4.npy", "pickle"),
        "n zero": (["sample", run, "--n", "0", "--out", tmp / "s5.npy"], tmp / "s5.npy", "--n"),
        "argparse unknown option": (["train", "--bogus"], None, "--bogus"),
        "argparse missing out": (["sample", run], None, "--out"),
        "argparse unknown command": (["fly"], None, "fly"),
    }


def test_errors_are_one_line_exit_2_and_leave_nothing(ring_run, tmp_path):
    run, _ = ring_run
    for name, (argv, must_not_exist, word) in _error_cases(run, tmp_path).items():
        line = assert_usage_error(*run_cli(*argv))
        assert word in line, (name, line)
        if must_not_exist is not None:
            assert not must_not_exist.exists(), name
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["keep.txt"]  # untouched


def test_unconditional_class_error_says_what_works(ring_run, tmp_path):
    run, _ = ring_run
    line = assert_usage_error(*run_cli("sample", run, "--class", "1", "--out", tmp_path / "x.npy"))
    assert "unconditional" in line


def test_resume_with_out_is_a_usage_error(ring_run, tmp_path):
    run, _ = ring_run
    assert_usage_error(*run_cli("train", "--resume", run, "--out", tmp_path / "x"))


def test_game_with_resume_or_an_unknown_game_is_a_usage_error(ring_run, tmp_path):
    run, _ = ring_run
    assert "--game applies to a new run" in assert_usage_error(*run_cli("train", "--resume", run, "--game", "wgan-gp"))
    line = assert_usage_error(*run_cli("train", "--preset", "digits", "--game", "nope", "--out", tmp_path / "g"))
    assert "'nope'" in line and not (tmp_path / "g").exists()


def test_python_dash_m_gankit(tmp_path):
    """Once through a real process: `python -m gankit train --preset nope` exits 2 with one line, writes nothing."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "gankit", "train", "--preset", "nope", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, env=env, timeout=300)
    line = assert_usage_error(proc.returncode, proc.stdout, proc.stderr)
    assert "nope" in line and all(name in line for name in preset_names())  # names the bad preset, lists the good ones
    assert proc.stdout == ""
    assert not (tmp_path / "r").exists()


def test_profile_prints_the_steps_parts_and_writes_a_trace(tmp_path):
    """`gankit profile`: the step's parts from the loop's ranges (each phase's forward, backward, gradient norm and
    optimizer, the EMA), images/s = batch ÷ step time, a Chrome trace that holds the ranges; nothing else written."""
    import json

    from gankit import api

    trace = tmp_path / "trace.json"
    code, out, err = run_cli("profile", "--preset", "ring", "--steps", "2", "--warmup", "1", "--trace", trace, *FAST,
                             "model.g_width=16", "model.d_width=16", "train.batch_size=32")
    assert code == 0, err
    for part in ("D.data", "D.forward", "D.backward", "D.grad_norm", "D.optimizer", "G.forward", "G.backward", "G.optimizer", "ema"):
        assert f"  {part} " in out, part
    names = {e.get("name") for e in json.loads(trace.read_text())["traceEvents"]}
    assert {"gankit.D.forward", "gankit.G.optimizer"} <= names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.json"]
    r = api.profile("ring", overrides=[*FAST, "model.g_width=16", "model.d_width=16", "train.batch_size=32", "train.n_critic=2"],
                    steps=2, warmup=1)
    assert r["img_s"] == pytest.approx(2 * 32 * 1000 / r["step_ms"])  # n_critic fresh batches per step
    assert r["gflop_s"] == pytest.approx(r["gflop_per_step"] * 1000 / r["step_ms"])
    assert r["parts"]["D.forward"] > 0 and r["parts"]["D.backward"] > 0
    for argv in (["--steps", "0"], ["--trace", tmp_path / "trace.txt"]):
        line = assert_usage_error(*run_cli("profile", "--preset", "ring", *argv, *FAST))
        assert "--steps" in line or "--trace" in line
    assert not (tmp_path / "trace.txt").exists()
