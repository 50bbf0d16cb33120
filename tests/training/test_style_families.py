"""The high-resolution families through gankit: ProGAN resume mid-fade, StyleGAN2 with ADA + lazy R1 + path length
(resume bitwise), and sampling from the CLI (truncation, style-mixing grid, interpolation PNG / GIF, PPL)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_cli import assert_usage_error, run_cli  # noqa: E402

import gankit  # noqa: E402
from gankit import sampling  # noqa: E402
from gankit.config import load_preset  # noqa: E402
from gankit.training.loop import Trainer  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

QUIET = ["train.progress=false", "eval.metrics=[]", "train.sample_every=1000", "health.monitor=false"]
SG2 = QUIET + ["data.resolution=8", "model.z_dim=8", "model.w_dim=8", "model.mapping_layers=2", "model.g_width=4",
               "model.d_width=4", "model.max_width=8", "train.batch_size=8", "reg.r1=0.01", "reg.lazy=2", "reg.pl=2",
               "reg.pl_lazy=2", "augment.ada_kimg=0.01", "augment.ada_interval=1", "train.log_every=1"]
PG = QUIET + ["data.resolution=8", "model.g_width=4", "model.d_width=4", "model.max_width=8", "model.z_dim=8",
              "train.batch_size=16", "model.phase_kimg=0.032"]  # 2 steps per phase: 4×4 steps 0-1, fade 2-3, 8×8 from 4


def _same_checkpoints(a: Path, b: Path, step: int) -> None:
    for net in ("G", "D", "G_ema"):
        x = load_file(str(a / "checkpoints" / str(step) / f"{net}.safetensors"))
        y = load_file(str(b / "checkpoints" / str(step) / f"{net}.safetensors"))
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(x[k], y[k]), f"{net}.{k} differs after resume"


def _resume(tmp_path: Path, preset: str, overrides: list[str], n: int, half: int) -> None:
    base = overrides + [f"train.checkpoint_every={half}"]
    gankit.train(preset, out=tmp_path / "straight", overrides=base + [f"train.steps={n}"])
    gankit.train(preset, out=tmp_path / "split", overrides=base + [f"train.steps={half}"])
    gankit.train(resume=tmp_path / "split", overrides=[f"train.steps={n}"])
    _same_checkpoints(tmp_path / "straight", tmp_path / "split", n)


def test_progan_resumes_bitwise_in_the_middle_of_a_fade_in(tmp_path, no_report) -> None:
    _resume(tmp_path, "progan-digits", PG, 6, 3)
    ckpt = load_file(str(tmp_path / "split" / "checkpoints" / "3" / "G.safetensors"))
    assert float(ckpt["lod"]) == pytest.approx(1.0)  # step 3 began with 32 images seen: the fade at 8×8 had just started
    log = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("event") == "resume" and r["step"] == 3 for r in log)
    G = gankit.load(tmp_path / "straight")
    assert float(G.lod) == 0.0 and G.resolution == 8  # 6 steps × 16 = 96 images: past the fade, full resolution


def test_progan_lod_follows_images_seen(tmp_path) -> None:
    t = Trainer(load_preset("progan-digits", PG + ["train.steps=6"]), tmp_path / "r")
    lods = []
    for _ in range(6):
        t.train_step()
        lods.append(float(t.nets["G"].lod))
    # progress() runs before each step with images_seen = 16·step: 0, 16 (4×4), 32, 48 (fade), 64, 80 (8×8)
    assert lods == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.0, 0.0])
    assert float(t.nets["D"].lod) == lods[-1] and float(t.nets["G_ema"].lod) == lods[-1]


def test_stylegan2_with_ada_lazy_r1_and_path_length_trains_and_resumes_bitwise(tmp_path, no_report) -> None:
    _resume(tmp_path, "stylegan2-digits", SG2 + ["augment.ada=adaptive"], 6, 3)
    log = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in log if r.get("event") == "log"]
    assert steps and all(np.isfinite(r["g_loss"]) for r in steps)
    assert any("pl" in r for r in steps) and any("ada_p" in r for r in steps) and any("r1" in r for r in steps)


def test_ada_p_rises_when_d_overfits_in_a_run(tmp_path) -> None:
    """D trained alone (lr_g = 0) on 8 images separates real from fake: r_t → 1 > 0.6, so p climbs."""
    cfg = load_preset("stylegan2-digits", SG2 + ["augment.ada=adaptive", "reg.pl=0", "train.lr_g=0", "train.lr_d=0.01",
                                                 "train.steps=30"])
    t = Trainer(cfg, tmp_path / "r")
    ps = []
    for _ in range(30):
        ps.append(float(t.train_step()["ada_p"]))
    assert ps[-1] > ps[0] and ps[-1] > 0.2
    assert t.task.state_dict()["augment"]["p"] == pytest.approx(ps[-1])


@pytest.fixture(scope="module")
def sg2_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("sg2") / "run"
    with pytest.MonkeyPatch.context() as mp:
        from conftest import disable_report

        disable_report(mp)
        gankit.train("stylegan2-digits", out=run, overrides=SG2 + ["train.steps=2", "reg.pl=0"])
    return run


def test_truncation_zero_gives_the_average_image_for_every_z(sg2_run, tmp_path) -> None:
    code, out, err = run_cli("sample", sg2_run, "--n", "5", "--truncation", "0", "--out", tmp_path / "t0.npy")
    assert code == 0, err
    x = np.load(tmp_path / "t0.npy")
    assert x.shape == (5, 1, 8, 8) and np.allclose(x, x[:1], atol=1e-6)
    G = gankit.load(sg2_run)
    avg = sampling.synthesize(G, G.w_avg.expand(1, G.num_ws, -1).cpu())
    assert np.allclose(x[0], avg[0].numpy(), atol=1e-5)
    run_cli("sample", sg2_run, "--n", "5", "--truncation", "0.7", "--out", tmp_path / "t7.npy")
    y = np.load(tmp_path / "t7.npy")
    assert not np.allclose(y, y[:1])


def test_style_mixing_grid_takes_coarse_styles_from_the_top_row(sg2_run, tmp_path) -> None:
    G = gankit.load(sg2_run)
    n, cut = 3, 2
    grid = sampling.style_mixing_grid(G, n, seed=4, cutoff=cut)
    assert grid.shape == ((n + 1) ** 2, 1, 8, 8)
    z = torch.randn(2 * n, G.z_dim, generator=torch.Generator().manual_seed(4))
    ws = sampling.mapped(G, z, None)
    wa, wb = ws[:n], ws[n:]
    cell = sampling.synthesize(G, torch.cat([wb[2:3, :cut], wa[1:2, cut:]], dim=1))
    assert torch.allclose(grid[(1 + 1) * (n + 1) + 1 + 2], cell[0], atol=1e-6)  # row A_1, column B_2
    assert torch.allclose(grid[1:n + 1], sampling.synthesize(G, wb), atol=1e-6)  # the top row: sources B
    code, out, err = run_cli("sample", sg2_run, "--style-mixing", "--n", "3", "--out", tmp_path / "mix.png")
    assert code == 0 and (tmp_path / "mix.png").stat().st_size > 0, err


def test_interpolation_strip_and_gif(sg2_run, tmp_path) -> None:
    G = gankit.load(sg2_run)
    frames = sampling.interpolation_frames(G, 6, "w", seed=1)
    zk = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(1))
    wk = sampling.mapped(G, zk, None)
    assert torch.allclose(frames[0], sampling.synthesize(G, wk[:1])[0], atol=1e-6)
    assert torch.allclose(frames[-1], sampling.synthesize(G, wk[1:])[0], atol=1e-6)
    code, _, err = run_cli("sample", sg2_run, "--interpolate", "z", "--frames", "5", "--out", tmp_path / "strip.png")
    assert code == 0, err
    strip = Image.open(tmp_path / "strip.png")
    assert strip.width > 4 * strip.height  # one row of 5 frames
    code, _, err = run_cli("sample", sg2_run, "--interpolate", "w", "--frames", "5", "--out", tmp_path / "a.gif")
    assert code == 0, err
    gif = Image.open(tmp_path / "a.gif")
    assert gif.n_frames == 8  # forward 5, back 3 (ping-pong without repeating the ends)


def test_sampling_options_refuse_what_does_not_apply(sg2_run, tmp_path) -> None:
    dc = tmp_path / "dc"
    gankit.train("digits", out=dc, overrides=QUIET + ["data.resolution=8", "model.g_width=4", "model.d_width=4",
                                                      "train.batch_size=8", "train.steps=1"])
    assert "style-based" in assert_usage_error(*run_cli("sample", dc, "--truncation", "0.5", "--out", tmp_path / "x.png"))
    assert "style-based" in assert_usage_error(*run_cli("sample", dc, "--style-mixing", "--out", tmp_path / "x.png"))
    assert ".gif" in assert_usage_error(*run_cli("sample", sg2_run, "--interpolate", "w", "--out", tmp_path / "x.mp4"))
    assert "0..2" in assert_usage_error(*run_cli("sample", sg2_run, "--truncation", "-1", "--out", tmp_path / "x.png"))
    code, _, err = run_cli("sample", dc, "--interpolate", "z", "--frames", "4", "--out", tmp_path / "dc.png")
    assert code == 0, err  # z interpolation works for any generator
    assert not (tmp_path / "x.png").exists()


def test_evaluate_ppl_on_a_run(sg2_run) -> None:
    code, out, err = run_cli("evaluate", sg2_run, "--metrics", "ppl", "--n", "40", "--ppl-distance", "pixel", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert np.isfinite(res["ppl"]) and res["ppl"] > 0 and res["ppl_space"] == "w" and res["ppl_distance"] == "pixel"
    assert "ppl" in [json.loads(line) for line in (sg2_run / "metrics.jsonl").read_text().splitlines()][-1]
    msg = assert_usage_error(*run_cli("train", "--preset", "digits", "eval.metrics=[ppl]"))
    assert "gankit evaluate RUN --metrics ppl" in msg


def test_project_recovers_an_image_the_generator_can_make(sg2_run, tmp_path) -> None:
    G = gankit.load(sg2_run)
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(7))
    target = sampling.synthesize(G, sampling.mapped(G, z, None))[0]
    arr = ((target[0].clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    Image.fromarray(arr, mode="L").save(tmp_path / "t.png")
    code, out, err = run_cli("project", sg2_run, tmp_path / "t.png", "--out", tmp_path / "proj", "--steps", "150")
    assert code == 0, err
    w = np.load(tmp_path / "proj" / "w.npy")
    assert w.shape == (G.num_ws, G.w_dim)
    first = float(out.split("first step ")[1].split(")")[0])
    final = float(out.split("pixel MSE ")[1].split(" ")[0])
    assert final < 0.5 * first  # the optimization moved toward the target
    assert Image.open(tmp_path / "proj" / "projection.png").width > Image.open(tmp_path / "proj" / "projection.png").height
    assert "no such image" in assert_usage_error(*run_cli("project", sg2_run, tmp_path / "missing.png", "--out", tmp_path / "p2"))
    assert not (tmp_path / "p2").exists()
