"""The vae task: the ELBO's closed forms, the schedule, training through the same engine as the GANs (run directory,
checkpoints, bitwise resume, export, pipeline, sample, evaluate, report)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit import cli
from gankit.config import from_dict, load_preset
from gankit.errors import ConfigError
from gankit.likelihoods import LIKELIHOODS, gaussian_kl, logistic_log_prob
from gankit.training.loop import Trainer
from gankit.types import Batch
from safetensors.torch import load_file

TINY = ["train.progress=false", "train.device=cpu", "eval.metrics=[]", "model.width=16", "model.depth=1", "train.batch_size=32",
        "train.log_every=5", "train.sample_every=1000", "train.checkpoint_every=1000"]


def events(run: Path, kind: str) -> list[dict]:
    return [e for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if e["event"] == kind]


# ------------------------------------------------------------------ closed forms

def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    torch.testing.assert_close(gaussian_kl(mu, logvar), torch.distributions.kl_divergence(q, p).sum(1))
    assert float(gaussian_kl(torch.zeros(1, 4), torch.zeros(1, 4))) == 0.0  # q = p


def test_logistic_edge_bins_take_the_tails():
    """At x = −1 the bin is (−∞, −1 + 1/255]: P = σ((−1 + 1/255 − μ)/s); at x = 1 it is [1 − 1/255, ∞)."""
    mu, log_s = torch.tensor([[0.3]]), torch.tensor([[-1.0]])
    params = torch.cat([mu, log_s], 1)
    s = math.exp(-1.0)
    lo = logistic_log_prob(params, torch.tensor([[-1.0]])).exp().item()
    hi = logistic_log_prob(params, torch.tensor([[1.0]])).exp().item()
    assert lo == pytest.approx(1 / (1 + math.exp(-((-1 + 1 / 255 - 0.3) / s))), rel=1e-6)
    assert hi == pytest.approx(1 - 1 / (1 + math.exp(-((1 - 1 / 255 - 0.3) / s))), rel=1e-6)


def test_elbo_phase_is_the_hand_computed_bound():
    """loss = mean(β·KL − log N(x; μ_dec(z), σ_dec(z)²)), z = μ + σ·ε with the ε the phase draws from the global RNG."""
    cfg = load_preset("vae-ring", TINY + ["model.z_dim=2", "vae.kl_warmup=0"])
    from gankit.data import DataInfo
    from gankit.tasks import VAETask

    task = VAETask(cfg, DataInfo("points", (2,), centers=[[1.0, 0.0]], std=0.01, name="ring"))
    task.bind({}, torch.device("cpu"))
    x = torch.randn(6, 2)
    torch.manual_seed(3)
    loss, stats = task.elbo_phase(Batch(x=x), _clock(0))
    E, Dec = task.networks["encoder"], task.networks["decoder"]
    mu, logvar = E(x)
    torch.manual_seed(3)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    out = Dec(z)
    rec = torch.distributions.Normal(out[:, :2], out[:, 2:].exp()).log_prob(x).sum(1)
    kl = gaussian_kl(mu, logvar)
    torch.testing.assert_close(loss, (kl - rec).mean())
    torch.testing.assert_close(stats["elbo"], (rec - kl).mean())
    assert "bpd" not in stats  # a density of points, not a probability of 8-bit values


def _clock(step: int):
    from gankit.tasks import Clock

    return Clock(step, step, 0)


def test_kl_warmup_is_linear_to_beta():
    from gankit.data import DataInfo
    from gankit.tasks import VAETask

    cfg = load_preset("vae-ring", TINY + ["train.steps=100", "vae.kl_warmup=0.2", "vae.beta=2"])
    task = VAETask(cfg, DataInfo("points", (2,), centers=[[1.0, 0.0]], std=0.01, name="ring"))
    assert [task.kl_weight(s) for s in (0, 10, 20, 50)] == pytest.approx([0.0, 1.0, 2.0, 2.0])


def test_logistic_likelihood_logs_bits_per_dimension():
    from gankit.data import DataInfo
    from gankit.tasks import VAETask

    cfg = load_preset("vae-digits", ["data.resolution=8", "model.width=4", "model.z_dim=4", "vae.likelihood=logistic"])
    task = VAETask(cfg, DataInfo("image", (1, 8, 8), 10, name="digits"))
    task.bind({}, torch.device("cpu"))
    x = torch.randint(0, 256, (4, 1, 8, 8)).float() / 127.5 - 1
    _, stats = task.elbo_phase(Batch(x=x), _clock(0))
    assert float(stats["bpd"]) == pytest.approx(-float(stats["elbo"]) / (64 * math.log(2)), rel=1e-6)
    assert float(stats["bpd"]) > 0  # a probability of discrete values: −log P > 0


# ------------------------------------------------------------------ config

def test_vae_config_refusals(one_line):
    with one_line(ConfigError, match="vae.likelihood: bernoulli is a likelihood of pixels"):
        load_preset("vae-ring", ["vae.likelihood=bernoulli"])
    with one_line(ConfigError, match="vae.likelihood: gaussian on"):
        load_preset("vae-digits", ["vae.likelihood=gaussian"])
    with one_line(ConfigError, match="model.name: dcgan is a gan family; task vae takes: vae-conv, vae-mlp"):
        load_preset("vae-digits", ["model.name=dcgan"])
    with one_line(ConfigError, match="unknown config key 'loss' for task vae"):
        load_preset("vae-digits", ["loss.name=hinge"])
    with one_line(ConfigError, match="vae-conv needs image data"):
        from_dict({"task": {"name": "vae"}, "data": {"name": "ring"}, "model": {"name": "vae-conv"}})
    with one_line(ConfigError, match=r"model.depth: vae-conv has no depth \(it is an option of vae-mlp\)"):
        load_preset("vae-ring", ["model.name=vae-conv"])
    with one_line(ConfigError, match="--game: vae-digits is a vae preset"):
        load_preset("vae-digits", game="wgan-gp")


# ------------------------------------------------------------------ through the engine

def test_vae_learns_the_ring(tmp_path, no_report):
    """The ELBO rises well above the collapsed solution's (a Gaussian fit of the ring: −2.15 nats)."""
    run = tmp_path / "run"
    gankit.train("vae-ring", out=run, overrides=TINY + ["model.width=64", "model.depth=2", "train.steps=600", "train.batch_size=128",
                                                        "train.log_every=100", "train.lr=1e-3"])
    logs = events(run, "log")
    assert logs[-1]["elbo"] > logs[0]["elbo"] and logs[-1]["elbo"] > -1.0, [r["elbo"] for r in logs]
    assert {"elbo", "recon", "kl", "kl_weight", "grad_norm", "lr_vae"} <= set(logs[-1])
    assert logs[-1]["elbo"] == pytest.approx(logs[-1]["recon"] - logs[-1]["kl"], abs=1e-5)
    pipe = gankit.load(run)
    assert pipe.meta["task"] == "vae" and pipe.meta["network"] == "decoder" and pipe.meta["sample"] == "draw"
    x = pipe(2000, seed=0)
    assert x.shape == (2000, 2) and torch.equal(x, pipe(2000, seed=0)) and not torch.equal(x, pipe(2000, seed=1))
    radius = x.norm(dim=1)
    assert (radius - 1).abs().median() < 0.25  # samples near the circle, not a blob at the origin


def test_vae_resume_matches_a_straight_run(tmp_path, no_report):
    # (no KL warm-up and no lr decay: their lengths are fractions of train.steps, which the resume raises)
    args = [*TINY, "train.checkpoint_every=10", "train.ema_kimg=0.01", "vae.kl_warmup=0", "train.lr_decay=none"]
    gankit.train("vae-ring", out=tmp_path / "straight", overrides=[*args, "train.steps=20"])
    gankit.train("vae-ring", out=tmp_path / "split", overrides=[*args, "train.steps=10"])
    assert cli.main(["train", "--resume", str(tmp_path / "split"), "train.steps=20"]) == 0
    a, b = tmp_path / "straight" / "checkpoints" / "20", tmp_path / "split" / "checkpoints" / "20"
    for name in ("encoder", "decoder", "decoder_ema", "state"):
        wa, wb = load_file(str(a / f"{name}.safetensors")), load_file(str(b / f"{name}.safetensors"))
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), name


def test_vae_cli_sample_evaluate_and_report(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "--preset", "vae-ring", "--out", str(run), *TINY, "train.steps=10"]) == 0
    assert (run / "report.html").is_file() and "elbo" in (run / "report.html").read_text()
    assert cli.main(["sample", str(run), "--n", "50", "--out", str(tmp_path / "x.npy")]) == 0
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (50, 2) and np.array_equal(x, gankit.generate(gankit.load(run), 50, seed=0).numpy())
    capsys.readouterr()
    assert cli.main(["evaluate", str(run), "--metrics", "modes", "--n", "500", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"modes", "hq_fraction", "reverse_kl"} and result["n_fake"] == 500
    assert events(run, "eval")[-1]["source"] == "gankit evaluate"
    assert cli.main(["sample", str(run), "--n", "5", "--class", "1", "--out", str(tmp_path / "y.npy")]) == 2
    assert "--class: this VAE is unconditional" in capsys.readouterr().err
    assert cli.main(["evaluate", str(run), "--metrics", "ppl"]) == 2
    assert "measures a GAN's generator" in capsys.readouterr().err


def test_vae_on_images_through_the_engine(tmp_path, no_report):
    run = tmp_path / "run"
    t = Trainer(load_preset("vae-digits", ["train.progress=false", "data.resolution=8", "model.width=4", "model.z_dim=4",
                                           "train.steps=4", "train.batch_size=8", "eval.metrics=[fid]", "eval.n=64", "eval.every=4"]), run)
    summary = t.run()
    assert summary["step"] == 4 and summary["images_seen"] == 32 and "d_updates" not in summary
    assert (run / "best" / "model.safetensors").is_file()  # the best model by FID, exported like a GAN's
    (ev,) = events(run, "eval")
    assert ev["extractor"] == "digits-cnn" and math.isfinite(ev["fid"])
    pipe = gankit.load(run)
    x = pipe(6)
    assert x.shape == (6, 1, 8, 8) and x.min() >= -1 and x.max() <= 1  # decoder means in data space
    assert pipe(6, mode="draw").unique().numel() <= 2  # Bernoulli draws are binary pixels


def test_report_draws_elbo_curves_instead_of_d_and_g_losses():
    from gankit.report.plots import panels_of

    panels = panels_of(["elbo", "recon", "kl", "kl_weight", "grad_norm", "bpd"])
    assert panels[0] == ("ELBO and its terms (nats per sample)", ["elbo", "recon", "kl"], False)
    assert [t for t, _, _ in panels] == ["ELBO and its terms (nats per sample)", "bits per dimension (−ELBO bound)",
                                         "gradient norms", "other statistics"]


def test_logistic_mean_is_the_mean_of_the_clamped_variable():
    """Against Monte Carlo: E[clamp(μ + s·L, −1, 1)], L standard logistic, also where μ lies outside [−1, 1]."""
    from gankit.likelihoods import logistic_mean

    torch.manual_seed(0)
    mu = torch.tensor([[-2.0, -0.5, 0.0, 0.9, 1.5]], dtype=torch.float64)
    log_s = torch.log(torch.tensor([[0.5, 0.2, 1.0, 0.3, 0.4]], dtype=torch.float64))
    u = torch.rand(400_000, 5, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    mc = (mu + log_s.exp() * (u.log() - (-u).log1p())).clamp(-1, 1).mean(0)
    torch.testing.assert_close(logistic_mean(torch.cat([mu, log_s], 1))[0], mc, atol=3e-3, rtol=0)
