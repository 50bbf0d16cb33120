"""The likelihood-based families as tasks (flow, autoregressive, diffusion) and what the family comparison measures with
them: the held-out likelihood events (Gibbs' inequality against the toy mixture's entropy, a fitted MADE reaching it),
the data's grey levels, the uncovered share of held-out points, gradient clipping, the wall-clock budget, the VAE's
importance-weighted bound, pipelines (sampling options, a flow's inverse), bitwise resume and one-line config errors.
The networks themselves are tested in tests/models/test_flows.py, test_autoregressive.py and test_diffusion.py."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import gankit
from gankit.config import load_preset
from gankit.data import grey_levels
from gankit.data.images import load_digits
from gankit.errors import ConfigError
from gankit.metrics.memorization import low_support
from gankit.training.loop import clip_grads, grad_norm

QUIET = ["train.progress=false", "health.monitor=false", "eval.metrics=[]", "train.sample_every=100000", "train.checkpoint_every=100000"]
TINY = {
    "flow-ring": ["model.n_couplings=2", "model.width=16", "train.batch_size=64"],
    "flow-grid": ["model.n_couplings=2", "model.width=16", "train.batch_size=64"],
    "glow-digits": ["model.n_levels=1", "model.depth=2", "model.hidden=8", "train.batch_size=16"],
    "made-ring": ["model.width=16", "model.components=3", "train.batch_size=64"],
    "made-grid": ["model.width=16", "model.components=3", "train.batch_size=64"],
    "pixelcnn-digits": ["model.layers=2", "model.channels=8", "train.batch_size=16"],
    "ddpm-ring": ["model.timesteps=50", "model.width=16", "train.batch_size=64"],
    "ddpm-grid": ["model.timesteps=50", "model.width=16", "train.batch_size=64"],
    "ddpm-digits": ["model.timesteps=20", "model.channels=8", "train.batch_size=16", "diffusion.steps=5"],
}
KIND = {"flow-ring": "exact", "flow-grid": "exact", "glow-digits": "bound", "made-ring": "exact", "made-grid": "exact",
        "pixelcnn-digits": "exact", "ddpm-ring": "bound", "ddpm-grid": "bound", "ddpm-digits": "bound"}


def _events(run, event: str) -> list[dict]:
    return [e for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if e["event"] == event]


# ------------------------------------------------------------------------------------------------ pieces


def test_grey_levels_of_the_data():
    assert grey_levels(load_digits(8).images) == 17  # the digits' own 0..16
    assert grey_levels(load_digits(32).images) == 256  # resized: any 8-bit value
    five = torch.tensor([0, 64, 128, 191, 255], dtype=torch.uint8)  # round(255·k/4)
    assert grey_levels(five.repeat(3)) == 5
    assert grey_levels(torch.tensor([0, 64, 128, 255], dtype=torch.uint8)) == 256  # not a K-level grid
    assert load_preset("glow-digits").data.resolution == 8


def test_snap_keeps_a_diverged_sample_visible():
    from gankit.models.density import snap

    got = snap(torch.tensor([float("nan"), 0.49, -3.0, float("inf"), 0.0625]), 17)
    assert torch.isnan(got[0]) and got[1:].tolist() == [0.5, -1.0, 1.0, 0.0]  # 0.0625 is half a level: rounds to even k = 8


def test_snapshots_can_be_turned_off(tmp_path, no_report):
    on = gankit.train("ring", out=tmp_path / "on", overrides=[*QUIET, "train.steps=4"])
    off = gankit.train("ring", out=tmp_path / "off", overrides=[*QUIET, "train.steps=4", "train.snapshots=false"])
    assert len(list((tmp_path / "on" / "snapshots").glob("*.npz"))) >= 2 and on["step"] == off["step"] == 4
    assert not list((tmp_path / "off").glob("snapshots/*.npz"))


def test_low_support_closed_forms():
    gen = np.random.default_rng(0)
    train, held = gen.normal(size=(200, 2)), gen.normal(size=(300, 2))
    assert low_support(train, train.copy(), held)["uncovered"] == 0.0  # equal distances are covered
    assert low_support(train, train + 100.0, held)["uncovered"] == 1.0
    # held-out points at 0 and 10; training points at ±1 (distance 1 from 0) and 10.5; fakes at 0.5 and 9 (distance 1 from 10)
    tr = np.array([[1.0], [10.5]])
    fk = np.array([[0.5], [9.0]])
    out = low_support(tr, fk, np.array([[0.0], [10.0]]))
    assert out["uncovered"] == 0.5 and out["fake_nn_median"] == pytest.approx(0.75) and out["train_nn_median"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same size"):
        low_support(train, train[:10], held)


def test_clip_grads_matches_the_closed_form():
    net = nn.Linear(3, 2)
    for p, g in zip(net.parameters(), (torch.full((2, 3), 2.0), torch.full((2,), 2.0))):
        p.grad = g.clone()
    norm = grad_norm([net])
    assert norm.item() == pytest.approx(math.sqrt(8 * 4.0))
    clip_grads([net], norm, 1.0)
    assert grad_norm([net]).item() == pytest.approx(1.0, rel=1e-5)
    before = [p.grad.clone() for p in net.parameters()]
    clip_grads([net], grad_norm([net]), 5.0)  # under the limit: unchanged
    assert all(torch.equal(a, p.grad) for a, p in zip(before, net.parameters()))


def test_a_budget_stops_the_run(tmp_path, no_report):
    out = gankit.train("ring", out=tmp_path / "r", overrides=[*QUIET, "train.steps=10000000", "train.budget_s=1.0", "train.threads=1"])
    assert 10 < out["step"] < 10_000_000 and out["wall_s"] >= 1.0


# ------------------------------------------------------------------------------------------------ every preset, tiny


@pytest.mark.parametrize("preset", list(TINY))
def test_preset_trains_exports_samples_and_scores_its_likelihood(preset, tmp_path, no_report):
    run = tmp_path / preset
    gankit.train(preset, out=run, overrides=[*QUIET, *TINY[preset], "train.steps=6", "train.threads=1", "eval.n=300"])
    lik = _events(run, "likelihood")
    assert len(lik) == 1 and lik[0]["step"] == 6 and lik[0]["kind"] == KIND[preset] and math.isfinite(lik[0]["nll"])
    pipe = gankit.load(run)
    x = pipe(5, seed=3)
    assert torch.equal(x, pipe(5, seed=3)) and torch.isfinite(x).all()
    if preset.endswith("digits"):
        assert x.shape == (5, 1, 8, 8) and lik[0]["n"] == 359
        levels = (x + 1) * 8  # the 17 levels −1 + 2k/16
        assert torch.allclose(levels, levels.round(), atol=1e-4)
        assert lik[0]["bpd"] == pytest.approx(lik[0]["nll"] / (64 * math.log(2)))
    else:
        assert x.shape == (5, 2) and lik[0]["n"] == 300
        # Gibbs: the cross-entropy of the data under any model is at least the data's entropy (MC error: 300 points)
        assert lik[0]["nll"] > lik[0]["entropy"] - 0.3
    assert pipe.log_prob(x).shape == (5,)


def test_a_fitted_made_reaches_the_grid_entropy(tmp_path, no_report):
    """The toy likelihoods of a model fitted to the true mixture approach its analytic entropy (the floor)."""
    run = tmp_path / "made"
    gankit.train("made-grid", out=run, overrides=[*QUIET, "train.steps=1500", "train.threads=1", "model.width=64", "model.components=5",
                                                  "train.lr=3e-3"])
    lik = _events(run, "likelihood")[-1]
    assert lik["entropy"] == pytest.approx(math.log(25) + math.log(2 * math.pi * math.e * 0.05 ** 2), abs=0.01)  # 25 separated modes
    assert -0.05 < lik["nll"] - lik["entropy"] < 0.15, lik


def test_flow_pipeline_inverts_and_takes_a_temperature(tmp_path, no_report):
    run = tmp_path / "f"
    gankit.train("flow-ring", out=run, overrides=[*QUIET, *TINY["flow-ring"], "train.steps=20", "train.threads=1"])
    pipe = gankit.load(run)
    x = pipe(64, seed=1)
    z = pipe.encode(x)
    assert z.shape == (64, 2)
    torch.testing.assert_close(pipe.decode(z), x, atol=1e-4, rtol=0)
    cold = pipe(64, seed=1, temperature=0.0)
    assert torch.allclose(cold, cold[:1].expand_as(cold))  # T = 0: every sample is decode(0)
    torch.testing.assert_close(cold[:1], pipe.decode(torch.zeros(1, 2)))
    with pytest.raises(ConfigError, match="temperature"):
        pipe(4, steps=3)


def test_diffusion_pipeline_switches_sampler(tmp_path, no_report):
    run = tmp_path / "d"
    gankit.train("ddpm-ring", out=run, overrides=[*QUIET, *TINY["ddpm-ring"], "train.steps=5", "train.threads=1"])
    pipe = gankit.load(run)
    assert pipe.meta["sample_options"] == {"sampler": "ddpm"}
    a, b = pipe(8, seed=0, sampler="ddim", steps=5), pipe(8, seed=0, sampler="ddim", steps=10)
    assert torch.equal(a, pipe(8, seed=0, sampler="ddim", steps=5)) and not torch.equal(a, b)
    with pytest.raises(ConfigError):
        pipe(4, temperature=1.0)
    with pytest.raises(ConfigError, match="encoder"):
        pipe.encode(a)


@pytest.mark.parametrize("preset", ["glow-digits", "ddpm-ring"])
def test_resume_is_bitwise(preset, tmp_path, no_report):
    """ActNorm's data-dependent init (Glow) and the diffusion step draws (global RNG) survive a checkpoint."""
    from safetensors.torch import load_file

    base = [*QUIET, *TINY[preset], "train.checkpoint_every=2", "train.threads=1"]
    gankit.train(preset, out=tmp_path / "a", overrides=[*base, "train.steps=4"])
    gankit.train(preset, out=tmp_path / "b", overrides=[*base, "train.steps=2"])
    gankit.train(resume=tmp_path / "b", overrides=["train.steps=4"])
    a, b = (load_file(str(tmp_path / r / "generator" / "model.safetensors")) for r in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("preset, override, match", [
    ("glow-digits", "data.name=ring", "glow models image"),
    ("flow-ring", "data.name=digits", "realnvp models points"),
    ("pixelcnn-digits", "data.channels=3", "one channel"),
    ("glow-digits", "model.n_levels=4", "divisible by 16"),
    ("ddpm-digits", "model.mults=[1,2,2,2]", "model.mults"),
    ("made-ring", "data.name=table", "task.name: autoregressive models points and images"),
    ("ddpm-digits", "model.timesteps=20", "diffusion.steps: DDIM samples on a subsequence of the 20"),
])
def test_config_errors_are_one_line(preset, override, match, one_line):
    with one_line(ConfigError, match=match):
        load_preset(preset, [override])


# ------------------------------------------------------------------------------------------------ the VAE beside them


def test_vae_writes_an_importance_weighted_bound(tmp_path, no_report):
    run = tmp_path / "v"
    gankit.train("vae-ring", out=run, overrides=[*QUIET, "train.steps=300", "model.width=32", "train.threads=1", "eval.n=500"])
    lik = _events(run, "likelihood")[-1]
    assert lik["kind"] == "bound" and lik["nll"] > lik["entropy"] - 0.3
    # the bound tightens with more draws (Burda et al. 2016, theorem 1): k = 64 above k = 1 (the ELBO) on average
    from gankit.api import resolve_config
    from gankit.training.loop import Trainer

    task = Trainer(resolve_config(None, run / "config.json", []), run, resume=True).task
    x = torch.randn(400, 2, generator=torch.Generator().manual_seed(0)) * 0.01 + torch.tensor([1.0, 0.0])
    one = task.iw_bound(x, k=1, generator=torch.Generator().manual_seed(1)).mean()
    many = task.iw_bound(x, k=64, generator=torch.Generator().manual_seed(1)).mean()
    assert many > one
