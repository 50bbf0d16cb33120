"""The benchmark scripts' table arithmetic: mean ± standard error, seed counts and the rows they write."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _row(preset, toy, seed, modes, k, hq, kl=0.01):
    return {"preset": preset, "toy": toy, "seed": seed, "modes": modes, "k": k, "hq": hq, "reverse_kl": kl, "steps": 100,
            "rollbacks": 0, "wall_s": 10.0}


def test_mode_coverage_summary_mean_standard_error_and_counts():
    mc = _load("mode_coverage")
    rows = [_row("toy-best", "grid", 0, 25, 25, 0.97), _row("toy-best", "grid", 1, 24, 25, 0.96),
            _row("toy-best", "grid", 2, 25, 25, 0.91), _row("gan-minimax", "grid", 0, 3, 25, 0.5, math.inf)]
    t = mc.summarize(rows)["toy-best|grid"]
    assert t["modes"] == pytest.approx(74 / 3)
    # standard error = sample std / sqrt(n): modes 25, 24, 25 → std sqrt(1/3), se 1/3
    assert t["modes_se"] == pytest.approx(1 / 3)
    assert t["hq"] == pytest.approx(94.666666, rel=1e-6) and t["min_hq"] == pytest.approx(91.0)
    assert (t["all_modes"], t["all_modes_hq95"], t["seeds"]) == (2, 1, 3)
    collapsed = mc.summarize(rows)["gan-minimax|grid"]
    assert collapsed["reverse_kl"] == math.inf and collapsed["infinite_kl"] == 1


def test_mode_coverage_page_puts_ours_beside_the_published_rows(tmp_path):
    mc = _load("mode_coverage")
    rows = [_row("nsgan", toy, s, k, k, 0.98) for toy, k in (("ring", 8), ("grid", 25)) for s in range(2)]
    out = tmp_path / "mc.md"
    mc.write_markdown(out, {"date": "d", "machine": "m", "jobs": 2, "total_min": 1.0, "table": mc.summarize(rows), "notes": []})
    text = out.read_text()
    assert "| **nsgan** | gankit, 2 / 2 seeds | 8.0 | 98.0 | 25.0 | 98.0 |" in text
    assert "| PacGAN4 | PacGAN T1 | 7.8 | 95.9 | 24.8 | 93.6 |" in text
    assert text.index("### ring (8 modes)") < text.index("### grid (25 modes)")


def test_tables_benchmark_summary_and_epochs():
    tb = _load("tables")
    rows = [{"table": "iris", "model": "gankit-ctgan", "seed": s, "epochs": 300, "quality": q, "fit_s": 4.0, "loop_s": 3.0}
            for s, q in enumerate((0.60, 0.70, 0.80))]
    rows += [{"table": "iris", "model": "ctgan-ctgan", "seed": s, "epochs": 300, "quality": 0.65, "fit_s": 8.0, "loop_s": 8.0} for s in range(3)]
    summary = tb.summarize(rows)
    m, se = summary[("iris", "gankit-ctgan")]["quality"]
    assert m == pytest.approx(0.7) and se == pytest.approx(0.1 / math.sqrt(3))  # sample std 0.1
    (line,) = tb.verdicts(summary)
    assert "| 3 | quality ≥ (+0.050)" in line and "fit ×2.00 faster" in line and "loop ×2.67 faster" in line
    # the authors' epochs: CTGAN max(rows // 500, 1) steps of 500; TVAE ceil(rows / batch) steps of min(500, rows)
    from gankit.tables import epoch_steps

    assert epoch_steps("ctgan", 455, 500, 300) == (500, 300) and epoch_steps("ctgan", 5000, 500, 10) == (500, 100)
    assert epoch_steps("tvae", 455, 500, 300) == (455, 300) and epoch_steps("tvae", 1200, 500, 2) == (500, 6)


def test_batch_scaling_rows_round_trip_through_the_table_writer(tmp_path):
    """benchmarks/batch_scaling.py: rows written as JSON lines come back as the same table (first time all modes were
    found, divergence, means over seeds)."""
    import json

    bs = _load("batch_scaling")
    rows = []
    for seed, found_at in ((0, 2), (1, None)):
        for step in (1, 2, 3):
            modes = 8 if found_at is not None and step >= found_at else 3
            rows.append({"toy": "ring", "batch": 64, "seed": seed, "step": step, "seen": 64 * step, "wall_s": 1.5 * step,
                         "modes": modes, "hq": 0.5, "lr_scale": 0.5, "rollbacks": 0, "budget": 192})
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    back = [json.loads(line) for line in path.read_text().splitlines()]
    s = bs.summarize(back)[("ring", 64)]
    assert s == bs.summarize(rows)[("ring", 64)]
    assert s["final_modes"] == pytest.approx(5.5) and s["seen_to_all"] == 128 and s["s_to_all"] == pytest.approx(3.0)
    assert s["found_all"] == 1 and s["diverged"] == pytest.approx(0.5)  # seed 1 ends with 3 < 8/2 modes
    bs.write_page(back, tmp_path / "page.md")
    line = next(l for l in (tmp_path / "page.md").read_text().splitlines() if l.startswith("| ring | 64 |"))
    assert line == "| ring | 64 | 0.50 | 5.5 | 0.500 | 128 | 3.0 | 4.5 | 1/2 | 50% |"


def test_batch_scaling_image_rows_reach_the_target_and_diverge_by_its_definition(tmp_path):
    """Images: the target is 1.5 × the best final FID of any batch size; samples / seconds to it are the first
    measurement at or below it; a run ending above 2 × the target diverged."""
    bs = _load("batch_scaling")
    rows = []
    for batch, fids in ((64, (90.0, 40.0, 20.0)), (256, (80.0, 29.0, 25.0)), (1024, (200.0, 150.0, 70.0))):
        for step, fid in enumerate(fids, 1):
            rows.append({"toy": "digits", "batch": batch, "seed": 0, "step": step, "seen": batch * step, "wall_s": 2.0 * step,
                         "fid": fid, "coverage": 0.5, "density": 0.9, "lr_scale": 1.0, "rollbacks": 0, "budget": 3 * batch})
    s = bs.summarize_images(rows)
    assert s[("digits", 64)]["target"] == pytest.approx(30.0)  # best final FID 20 at batch 64
    assert s[("digits", 64)]["seen_to"] == 192 and s[("digits", 64)]["s_to"] == pytest.approx(6.0)
    assert s[("digits", 256)]["seen_to"] == 512 and s[("digits", 256)]["reached"] == 1  # 29 ≤ 30 at step 2
    assert s[("digits", 1024)]["reached"] == 0 and s[("digits", 1024)]["diverged"] == 1.0  # 70 > 2 × 30
    bs.write_page([], tmp_path / "page.md", image_rows=rows)
    line = next(l for l in (tmp_path / "page.md").read_text().splitlines() if l.startswith("| digits | 256 |"))
    assert line == "| digits | 256 | 1.00 | 25.0 | 0.500 | 512 | 4 | 6 | 1/1 | 0% |"


def test_difficulty_loo_recovers_an_exact_line_and_ranks_it_perfectly(tmp_path, monkeypatch):
    """benchmarks/difficulty.py: on scores exactly linear in the descriptors, every leave-one-out prediction is the score
    itself, the fitted line is the true one, the rank correlation is 1, and the fit file says so."""
    import json

    import numpy as np

    bd = _load("difficulty")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(9):
        image = float(i >= 6)
        x = {"log2_modes": float(rng.uniform(1, 6)), "overlap": float(rng.uniform(0, 0.2)), "log2_id": float(rng.uniform(1, 4)), "image": image}
        cov = 0.9 - 0.05 * x["log2_modes"] - 0.5 * x["overlap"] + 0.01 * x["log2_id"] + 0.02 * image
        row = {"preset": "digits" if image else "ring", "dataset": f"d{i}", "seed": 0, "modes": 2 ** x["log2_modes"], "dimension": 2, **x,
               "coverage": cov, "density": 1.0, "wall_s": 1.0}
        if image:
            row["fid"] = 5.0 + 10.0 * x["log2_modes"]
        rows.append(row)
    fits = bd.write_page(rows, tmp_path / "page.md", {"date": "today", "seeds": 1})
    assert fits["coverage"]["intercept"] == pytest.approx(0.9, abs=1e-9)
    assert fits["coverage"]["coef"] == pytest.approx([-0.05, -0.5, 0.01, 0.02], abs=1e-9)
    assert [fits["coverage"]["loo"][r["dataset"]] for r in rows] == pytest.approx([r["coverage"] for r in rows], abs=1e-9)
    assert fits["coverage"]["loo_spearman"]["all"] == pytest.approx(1.0) and fits["fid"]["coef"] == pytest.approx([10.0])
    monkeypatch.setattr(bd, "FIT", tmp_path / "fit.json")
    bd.write_fit(fits, {"date": "today", "seeds": 1})
    from gankit.difficulty import predict

    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["presets"] == ["digits", "ring"]
    got = predict({"dataset": "x", "schema": "image", "modes": 4, "overlap": 0.1, "id_twonn": 99.0, "id_twonn_features": 8.0}, "digits", fit)
    assert got["predicted_coverage"] == pytest.approx(0.9 - 0.05 * 2 - 0.05 + 0.03 + 0.02)
    assert got["predicted_fid"] == pytest.approx(25.0)
    assert set(predict({"dataset": "x", "schema": "points", "modes": 8, "overlap": 0.0, "id_twonn": 2.0}, "ring", fit)) == {"predicted_coverage"}


def test_molecules_summary_means_standard_errors_and_the_goal_count():
    """benchmarks/molecules.py: mean ± standard error per score, and the seeds meeting valid ≥ 0.9, unique ≥ 0.5 and
    novel ≥ 0.5 at once."""
    bm = _load("molecules")
    rows = [{"variant": "m", "seed": s, "valid": v, "unique": u, "novel": 0.9, "train_s": 10.0}
            for s, (v, u) in enumerate(((0.95, 0.6), (0.99, 0.4), (0.85, 0.9)))]
    s = bm.summarize(rows)["m"]
    assert s["seeds"] == 3 and s["goal"] == 1  # only seed 0 meets all three
    assert s["valid"][0] == pytest.approx(0.93) and s["valid"][1] == pytest.approx(math.sqrt(0.0052 / 3))
    assert "qed" not in s  # absent scores stay absent
    smiles = bm.random_valence_smiles(["CCO", "c1ccccc1", "CC(=O)N"], 200, seed=0)
    from gankit.metrics.molecules import validity

    assert len(smiles) == 200 and validity(smiles) > 0.9  # valence rules keep almost every random graph a molecule


def _fam_row(ds, fam, budget, seed, **kw):
    toy = ds != "digits"
    base = {"dataset": ds, "family": fam, "budget": budget, "seed": seed, "params": 1000, "steps": 100, "train_flops": 2e9,
            "precision": 0.5, "recall": 0.5, "uncovered": 0.5, "sample_s": 1.0, "wall_s": 30.0}
    base.update({"modes": 8, "hq_fraction": 0.95} if toy else {"fid": 10.0, "classes": 10})
    base.update(kw)
    return base


def test_families_page_means_bounds_and_the_fixed_quality_rule(tmp_path, monkeypatch):
    fam = _load("families")
    monkeypatch.setattr(fam, "PAGE", tmp_path / "families.md")
    assert fam._ms([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00" and fam._ms([None, float("nan")]) == "—" and fam._ms([4.0], 1) == "4.0"
    rows = [
        # ring: the flow reaches 8 modes with HQ >= 0.9 on every seed at 30 s; the GAN misses on one seed at 30 s, not at 120 s
        _fam_row("ring", "flow", 30.0, 0, nll=-4.0, kind="exact", entropy=-4.29, per_s_1=100.0, per_s_1000=1000.0, reversal_error=1e-6),
        _fam_row("ring", "flow", 30.0, 1, nll=-3.0, kind="exact", entropy=-4.29),
        _fam_row("ring", "GAN", 30.0, 0, per_s_1=50.0, per_s_1000=5000.0),
        _fam_row("ring", "GAN", 30.0, 1, modes=7),
        _fam_row("ring", "GAN", 120.0, 0), _fam_row("ring", "GAN", 120.0, 1),
        # digits: FID <= 20 and all 10 classes
        _fam_row("digits", "flow", 30.0, 0, fid=30.0, nll=150.0, bpd=3.4, kind="bound", per_s_1=10.0, per_s_1000=100.0, reversal_error=2e-6),
        _fam_row("digits", "GAN", 30.0, 0, fid=12.0, per_s_1=5.0, per_s_1000=500.0),
    ]
    fam.write_page({"date": "d", "machine": "m", "torch": "t"}, rows)
    page = (tmp_path / "families.md").read_text()
    assert "**-4.290 nats**" in page
    assert "| flow: RealNVP | 1.0 k | 100 ± 0 | 30 ± 0 | 2.0 G | 8.000 ± 0.000 | 0.950 ± 0.000 | 0.500 ± 0.000 | 0.500 ± 0.000 | 0.500 ± 0.000 | -3.500 ± 0.707 |" in page
    assert "| GAN: MLP GAN | 1.0 k | 100 ± 0 | 30 ± 0 | 2.0 G | 7.500 ± 0.707 |" in page  # one seed found 7 of the 8 modes
    assert "| flow: Glow |" in page and "| ≥ 3.400 |" in page  # a bound is marked
    assert "| GAN: MLP GAN |" in page and "| — | 1.000 |" in page  # no likelihood
    flow_line = next(line for line in page.splitlines() if line.startswith("| flow | "))
    assert "10.0×" in flow_line and "exact: 1.0e-06 / 2.0e-06" in flow_line  # 1000/100 per sample, digits ÷ ring
    assert "ring: 30 s (2.0 GFLOP)" in flow_line and "digits: not within 120 s" in flow_line  # FID 30 > 20
    gan_line = next(line for line in page.splitlines() if line.startswith("| GAN | "))
    assert "ring: 120 s" in gan_line and "digits: 30 s" in gan_line


@pytest.mark.parametrize("extra", [
    ["loss.name=nsgan"],
    ["loss.name=nsgan", "reg.r1=1.0", "reg.lazy=2"],  # StyleGAN2's lazy R1: weight γ/2 × interval on every second D update
    ["loss.name=wgan", "reg.gp=10", "reg.drift=0.001"],  # ProGAN's WGAN-GP + drift
    ["loss.name=hinge", "train.n_critic=2"],
])
def test_throughput_plain_loop_computes_gankits_step(tmp_path, extra):
    """The plain loop the throughput page compares with writes out the same losses and penalties: from the same
    weights, batches and noise, two of its steps give gankit's weights (fp32, fake-batch reuse off, native kernels)."""
    import torch

    from gankit.config import load_preset
    from gankit.training.loop import Trainer

    bench = _load("throughput")
    cfg = ["train.progress=false", "eval.metrics=[]", "data.resolution=16", "model.g_width=8", "model.d_width=8", "train.batch_size=8",
           "train.precision=fp32", "train.reuse_fake=false", "train.kernels=native", "health.monitor=false", "health.guard=false",
           "train.ema_kimg=0", "train.channels_last=false", "train.threads=1", *extra]
    gankit, source = (Trainer(load_preset("digits", cfg), tmp_path / n) for n in ("a", "b"))
    plain = bench.PlainLoop(source)
    for step in (gankit.train_step, plain.step):
        torch.manual_seed(7)
        step(), step()
    for name, net in (("G", plain.G), ("D", plain.D)):
        for (key, p), q in zip(gankit.nets[name].named_parameters(), net.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=2e-6, msg=f"{name}.{key}")
    moved = [(p - q).abs().max() for p, q in zip(gankit.nets["G"].parameters(), Trainer(load_preset("digits", cfg), tmp_path / "c").nets["G"].parameters())]
    assert max(moved) > 1e-4  # the steps did change the weights


def test_throughput_gpu_section_runs_and_tabulates_on_the_cpu(tmp_path):
    """The GPU section's code (peaks, gankit against the plain loop, s/kimg, utilization, the page's table) runs end to
    end with device=cpu on tiny rows, so the first GPU lend measures rather than debugs."""
    bench = _load("throughput")
    tiny = ["data.resolution=8", "model.g_width=8", "model.d_width=8", "train.batch_size=8"]
    rows = {"dcgan, fp32": ("digits", [*tiny, "train.precision=fp32"], True),
            "stylegan2 (ADA, path length)": ("stylegan2-digits", [*tiny, "reg.pl=2", "train.precision=fp32"], False)}
    g = bench.bench_gpu(1, 1, 1, tmp_path, device="cpu", rows=rows)
    for label, r in g["rows"].items():
        assert r["s_per_kimg"] == pytest.approx(1000 / r["gankit_img_s"])
        assert 0 < r["utilization"] < 1 and r["gflop_per_step"] > 0
    assert "ratio" in g["rows"]["dcgan, fp32"] and "ratio" not in g["rows"]["stylegan2 (ADA, path length)"]
    out = tmp_path / "page.md"
    bench.write_markdown(out, {"quick": True, "date": "now", "machine": "m", "threads": 1, "gemm_peak_gflops": 1.0, "rounds": 1,
                               "steps": 1, "models": {}, "load": (0.0, 0.0), "gpu": g})
    text = out.read_text()
    assert "## GPU: cpu" in text and "| dcgan, fp32 | 8 | fp32 |" in text


def test_paper_presets_page_keeps_each_recipe_apart_and_its_arithmetic():
    pp = _load("paper_presets")

    def row(preset, seed, hq, modes, recipe=None, ms=20.0):
        r = {"preset": preset, "toy": "ring", "seed": seed, "steps": 1000, "paper_steps": 360_000, "modes": modes, "hq": hq,
             "reverse_kl": 0.1, "curve": [{"step": 1000, "modes": modes, "hq": hq}], "rollbacks": 0, "wall_s": 1.0,
             "ms_per_step": ms}
        return r if recipe is None else {**r, "recipe": recipe}

    rows = [row("unrolled", 0, 0.10, 8), row("unrolled", 0, 0.30, 7, "preset"), row("unrolled", 1, 0.50, 8, "preset"),
            row("dragan", 0, 0.0, 1)]
    rows[2]["bn"] = {"running": 0.5, "20x100": 0.625}
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "page.md"
        pp.write_page(out, rows, ["a note"], 2)
        text = out.read_text()
    # old unrolled rows are "before"; dragan did not change, so its old row is the preset's
    assert "| unrolled | before (alternating updates) | ring | 1 | 1,000 | 8.0 ± 0.0 | 10.0 ± 0.0 |" in text
    # two seeds: mean 7.5 modes, standard error |8 − 7| / 2 = 0.5; HQ 40 ± 10; 20 ms × 360,000 steps = 2.0 h
    assert "| unrolled | preset | ring | 2 | 1,000 | 7.5 ± 0.5 | 40.0 ± 10.0 | Unrolled GAN 7.6 / 35.6 |" in text
    assert text.splitlines()[[i for i, l in enumerate(text.splitlines()) if "| unrolled | preset |" in l][0]].endswith("| 20 | 2.0 | not recorded |")
    assert "| dragan | preset | ring | 1 |" in text and "- a note" in text
    assert text.count("| not recorded |") == 3
    assert "- unrolled (preset), ring [1], 1,000 steps: running: 50.0, 20 × 100: 62.5" in text
    # a run cut short: its row ends at its last measurement; 2 steps in (7.0 − 1.0) s -> 3,000 ms per step
    progress = ['{"preset": "nsgan", "toy": "grid", "seed": 0, "recipe": "preset", "step": 2, "modes": 9, "hq": 0.5, '
                '"reverse_kl": 0.2, "s": 1.0}', "a warning line",
                '{"preset": "nsgan", "toy": "grid", "seed": 0, "recipe": "preset", "step": 4, "modes": 11, "hq": 0.25, '
                '"reverse_kl": 0.1, "s": 7.0}']
    (cut,) = pp.rows_from_progress(progress)
    assert (cut["steps"], cut["modes"], cut["hq"], cut["paper_steps"]) == (4, 11, 0.25, 400_000)
    assert cut["ms_per_step"] == pytest.approx(3000.0) and [c["step"] for c in cut["curve"]] == [2, 4] and cut["cpu"]
    assert pp._steps("pacgan=20000,nsgan=5", "nsgan") == 5 and pp._steps("pacgan=20000", "unrolled") is None
    assert pp._steps("300", "unrolled") == 300 and pp._steps("0", "unrolled") is None
    import argparse
    runs = pp._runs(argparse.Namespace(runs="unrolled:ring:0-2,pacgan:grid:4", presets="", toys="", seeds=1, first_seed=0))
    assert runs == [("unrolled", "ring", 0), ("unrolled", "ring", 1), ("unrolled", "ring", 2), ("pacgan", "grid", 4)]


def test_paper_presets_bn_statistics_running_is_what_the_modes_measure(tmp_path):
    """The "running" entry scores G exactly as the measurements do (G_ema is G: no averaging); recomputed statistics
    score the same latents; a G without batch norm has no entry."""
    import numpy as np
    import torch

    from gankit.config import load_preset
    from gankit.metrics.modes import mode_coverage
    from gankit.training.loop import Trainer

    pp = _load("paper_presets")
    quiet = pp.QUIET + ["train.steps=3", "data.size=1000", "train.batch_size=40"]
    cfg = load_preset("pacgan", quiet)
    t = Trainer(cfg, tmp_path / "run")
    t.hooks = [t.log_hook]
    t.run()
    bn = pp.bn_statistics(t, cfg, seed=0)
    x = t.sample(t.task.latents(2500, torch.Generator().manual_seed(10_000))).numpy()
    assert bn["running"] == mode_coverage(x, np.asarray(t.info.centers), t.info.std)["hq_fraction"]
    assert set(bn) == {"running", *(f"{k}x10" for k in pp.BN_BATCHES)}  # pack 4 splits 40 into calls of 10
    assert all(0.0 <= v <= 1.0 for v in bn.values())
    cfg = load_preset("unrolled", pp.QUIET + ["train.steps=1", "train.batch_size=16"])
    t = Trainer(cfg, tmp_path / "run2")
    t.hooks = [t.log_hook]
    t.run()
    assert pp.bn_statistics(t, cfg, seed=0) is None
