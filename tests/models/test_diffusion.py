"""Tests for gankit.models.diffusion (DDPM with DDIM sampling).

The reference numbers are derived here independently of the module (numpy float64, the paper formulas):
the forward process iterated step by step, Gaussian conditioning, Monte-Carlo KLs, and — for data that is a single
Gaussian N(m, s²) — the exact optimal denoiser E[ε | x_t], under which both samplers are linear Gaussian chains whose
output distributions and whose variational bound have closed forms or direct Monte-Carlo estimates.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from gankit.models.density import DensityModel, from_levels
from gankit.models.diffusion import (DDPM, EpsUNet, discretized_gaussian_log_prob, gaussian_kl, gaussian_log_prob,
                                     timestep_embedding)

# ---------------------------------------------------------------- independent references


def betas_linear(T: int) -> np.ndarray:
    return np.linspace(1e-4, 0.02, T)


def betas_cosine(T: int, s: float = 0.008) -> np.ndarray:
    t = np.arange(T + 1)
    f = np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2
    return np.minimum(1 - f[1:] / f[:-1], 0.999)


def ref_betas(schedule: str, T: int) -> np.ndarray:
    return betas_linear(T) if schedule == "linear" else betas_cosine(T)


class GaussianEps(nn.Module):
    """The exact ε-predictor E[ε | x_t] for data N(m, s² I): x_t = a x_0 + b ε has Var = a²s² + b², Cov(ε, x_t) = b, so
    E[ε | x_t] = b (x_t − a m)/(a²s² + b²) (a = √ᾱ_t, b = √(1−ᾱ_t)); ᾱ from the reference schedule."""

    def __init__(self, schedule: str, T: int, m, s: float) -> None:
        super().__init__()
        abar = np.concatenate([[1.0], np.cumprod(1 - ref_betas(schedule, T))])
        self.register_buffer("abar", torch.tensor(abar))
        self.register_buffer("m", torch.as_tensor(m, dtype=torch.float64))
        self.s = s

    def forward(self, x, t):
        a = self.abar[t].sqrt().view(-1, *([1] * (x.dim() - 1)))
        b = (1 - self.abar[t]).sqrt().view_as(a)
        return (b * (x.double() - a * self.m) / (a * a * self.s ** 2 + b * b)).to(x.dtype)


def optimal_model(schedule, T, m, s, variance="beta", levels=0):
    model = DDPM([len(m)], levels, timesteps=T, schedule=schedule, variance=variance, width=8, depth=1)
    model.net = GaussianEps(schedule, T, m, s)
    return model


def reverse_variances(betas: np.ndarray, variance: str) -> np.ndarray:
    """σ_t², t = 1..T: β_t, or β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t) β_t with σ_1² = β̃_2."""
    abar = np.cumprod(1 - betas)
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    tilde = (1 - abar_prev) / (1 - abar) * betas
    return betas.copy() if variance == "beta" else np.concatenate([[tilde[1]], tilde[1:]])


def ddpm_chain_marginal(betas, m, s, variance):
    """Mean and std of DDPM's samples (per dimension) with the optimal denoiser: x_T ~ N(0, 1), x_{t−1} = A_t x_t + c_t
    + σ_t z with μ = (x − β/√(1−ᾱ) ε*)/√α = x (1 − β/v)/√α + β a m/(v √α) (eq. 11), no noise at t = 1."""
    alphas = 1 - betas
    abar = np.cumprod(alphas)
    sig2 = reverse_variances(betas, variance)
    mean, var = np.zeros_like(m), 1.0
    for i in range(len(betas) - 1, -1, -1):
        a = math.sqrt(abar[i])
        v = a * a * s * s + 1 - abar[i]
        A = (1 - betas[i] / v) / math.sqrt(alphas[i])
        mean = A * mean + betas[i] * a * m / (v * math.sqrt(alphas[i]))
        var = A * A * var + (sig2[i] if i > 0 else 0.0)
    return mean, math.sqrt(var)


def ddim_chain_marginal(betas, m, s, steps):
    """Mean and std of DDIM (η = 0) samples with the optimal denoiser on τ_i = 1 + ⌊iT/S⌋: x̂_0 − m = (x − a m) a s²/v,
    ε* = b (x − a m)/v, so x' − a'm = K (x − a m), K = (a'a s² + b'b)/v."""
    T = len(betas)
    abar = np.concatenate([[1.0], np.cumprod(1 - betas)])
    taus = [1 + (i * T) // steps for i in range(steps)]
    mean, var = np.zeros_like(m), 1.0
    for i in range(steps - 1, -1, -1):
        t, p = taus[i], (taus[i - 1] if i > 0 else 0)
        a, b, a2, b2 = math.sqrt(abar[t]), math.sqrt(1 - abar[t]), math.sqrt(abar[p]), math.sqrt(1 - abar[p])
        v = a * a * s * s + b * b
        K = (a2 * a * s * s + b2 * b) / v
        mean, var = a2 * m + K * (mean - a * m), K * K * var
    return mean, math.sqrt(var)


def perturb(model: DDPM, seed: int = 0) -> DDPM:
    """Give the zero-initialized output layer small random weights, so ε_θ is not identically 0."""
    g = torch.Generator().manual_seed(seed)
    out = model.net.out if hasattr(model.net, "out") else model.net.conv_out
    with torch.no_grad():
        out.weight.copy_(0.3 * torch.randn(out.weight.shape, generator=g))
        out.bias.copy_(0.1 * torch.randn(out.bias.shape, generator=g))
    return model


# ---------------------------------------------------------------- (a) schedule, forward process, posterior


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedule_buffers(schedule):
    T = 300
    model = DDPM([2], 0, timesteps=T, schedule=schedule, width=8, depth=1)
    betas = ref_betas(schedule, T)
    assert model.betas.shape == (T + 1,) and model.betas.dtype == torch.float64
    np.testing.assert_allclose(model.betas[1:].numpy(), betas, rtol=1e-12, atol=0)
    assert float(model.betas[0]) == 0 and float(model.alphas_cumprod[0]) == 1
    prod = 1.0
    for t in range(1, T + 1):  # ᾱ_t = Π_{s ≤ t} α_s, α_s = 1 − β_s
        prod *= 1.0 - betas[t - 1]
        assert abs(float(model.alphas_cumprod[t]) - prod) <= 1e-12
        assert float(model.alphas[t]) == pytest.approx(1 - betas[t - 1], abs=1e-15)
    if schedule == "linear":
        assert float(model.betas[1]) == pytest.approx(1e-4) and float(model.betas[T]) == pytest.approx(0.02)
    else:  # ᾱ_t = f(t)/f(0) wherever β is not clipped; the clip binds only at the end
        f = np.cos((np.arange(T + 1) / T + 0.008) / 1.008 * np.pi / 2) ** 2
        np.testing.assert_allclose(model.alphas_cumprod[: T].numpy(), (f / f[0])[: T], rtol=1e-9)
        assert float(model.betas.max()) == pytest.approx(0.999)


def test_q_sample_marginal_matches_the_iterated_forward_process():
    T, n = 1000, 20000
    model = DDPM([3], 0, timesteps=T, width=8, depth=1)
    x0 = torch.tensor([0.8, -0.5, 0.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    betas = betas_linear(T)
    x = x0.expand(n, 3).clone()
    checks = {1, 10, 100, 500, T}
    for t in range(1, T + 1):  # x_t = √(1−β_t) x_{t−1} + √β_t ε
        x = math.sqrt(1 - betas[t - 1]) * x + math.sqrt(betas[t - 1]) * torch.randn(n, 3, generator=g, dtype=torch.float64)
        if t in checks:
            abar = float(np.prod(1 - betas[:t]))
            tt = torch.full((n,), t)
            direct = model.q_sample(x0.expand(n, 3), tt, torch.randn(n, 3, generator=g, dtype=torch.float64))
            sd = math.sqrt(1 - abar)
            for sample in (x, direct):
                se_mean, se_std = sd / math.sqrt(n), sd / math.sqrt(2 * n)
                assert torch.all((sample.mean(0) - math.sqrt(abar) * x0).abs() < 5 * se_mean), (t, sample.mean(0))
                assert torch.all((sample.std(0) - sd).abs() < 5 * se_std), (t, sample.std(0))
    # and q_sample is exactly the formula
    noise = torch.randn(4, 3, generator=g, dtype=torch.float64)
    tt = torch.tensor([1, 7, 500, T])
    abar = torch.tensor([np.prod(1 - betas[:t]) for t in tt.tolist()])[:, None]
    torch.testing.assert_close(model.q_sample(x0.expand(4, 3), tt, noise), abar.sqrt() * x0 + (1 - abar).sqrt() * noise)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_q_posterior_is_gaussian_conditioning(schedule):
    """Bayes on the joint of (x_{t−1}, x_t) given x_0: x_{t−1} ~ N(√ᾱ_{t−1} x_0, 1−ᾱ_{t−1}) and x_t = √α_t x_{t−1} +
    √β_t ε, so Cov = √α_t (1−ᾱ_{t−1}), Var(x_t) = α_t (1−ᾱ_{t−1}) + β_t; condition x_{t−1} on x_t."""
    T = 100
    model = DDPM([4], 0, timesteps=T, schedule=schedule, width=8, depth=1)
    betas = ref_betas(schedule, T)
    g = torch.Generator().manual_seed(2)
    for t in (1, 2, 3, 50, 99, 100):
        x0 = torch.randn(6, 4, generator=g, dtype=torch.float64)
        xt = torch.randn(6, 4, generator=g, dtype=torch.float64)
        alpha, beta = 1 - betas[t - 1], betas[t - 1]
        abar_prev = float(np.prod(1 - betas[: t - 1]))
        v1 = 1 - abar_prev
        m1, m2 = math.sqrt(abar_prev) * x0, math.sqrt(alpha) * math.sqrt(abar_prev) * x0
        cov, v2 = math.sqrt(alpha) * v1, alpha * v1 + beta
        want_mean, want_var = m1 + cov / v2 * (xt - m2), v1 - cov * cov / v2
        mean, var = model.q_posterior(x0, xt, torch.full((6,), t))
        torch.testing.assert_close(mean, want_mean, rtol=1e-10, atol=1e-12)
        assert var.shape == (6, 1)
        torch.testing.assert_close(var, torch.full((6, 1), want_var, dtype=torch.float64), rtol=1e-10, atol=1e-15)
        assert float(model.posterior_variance[t]) == pytest.approx(want_var, rel=1e-10, abs=1e-15)


# ---------------------------------------------------------------- (b) Gaussian KL


def test_gaussian_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(3)
    n = 400_000
    for m1, v1, m2, v2 in [(0.0, 1.0, 0.0, 1.0), (0.3, 0.5, -0.2, 1.3), (1.0, 2.0, 0.0, 0.2), (-0.1, 1e-3, 0.0, 2e-3)]:
        x = m1 + math.sqrt(v1) * torch.randn(n, generator=g, dtype=torch.float64)
        t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
        ratio = gaussian_log_prob(x, t(m1), t(v1)) - gaussian_log_prob(x, t(m2), t(v2))
        kl = float(gaussian_kl(t(m1), t(v1), t(m2), t(v2)))
        se = float(ratio.std()) / math.sqrt(n)
        assert abs(float(ratio.mean()) - kl) < 5 * se + 1e-12, (m1, v1, m2, v2, kl, float(ratio.mean()))
        assert kl >= 0
    assert float(gaussian_kl(t(0.3), t(0.5), t(0.3), t(0.5))) == 0.0
    # the Gaussian log-density against scipy
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    np.testing.assert_allclose(gaussian_log_prob(x, t(0.4), t(0.7)).numpy(), norm.logpdf(x.numpy(), 0.4, math.sqrt(0.7)),
                               rtol=1e-12)


# ---------------------------------------------------------------- (c) samplers and bound with the optimal denoiser


M, S = np.array([0.3, -0.2]), 0.5


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_samplers_with_the_optimal_denoiser_reproduce_the_gaussian(schedule):
    T, n = 1000, 20000
    model = optimal_model(schedule, T, M, S)
    betas = ref_betas(schedule, T)
    se_mean, se_std = S / math.sqrt(n), S / math.sqrt(2 * n)
    for sampler, kwargs in [("ddpm", {}), ("ddim", {"steps": 50, "eta": 0.0})]:
        x = model.sample(n, torch.Generator().manual_seed(4), sampler=sampler, **kwargs).double()
        assert x.shape == (n, 2) and model.sample(2, sampler=sampler, **kwargs).dtype == torch.float32
        if sampler == "ddpm":
            mean, std = ddpm_chain_marginal(betas, M, S, "beta")
            # the chain's own distribution is the data's up to < 0.2 %
            assert np.all(np.abs(mean - M) < 1e-3) and abs(std - S) < 1e-3
        else:
            mean, std = ddim_chain_marginal(betas, M, S, 50)
            # 50 deterministic steps shrink the spread a little (Cauchy–Schwarz at every step): 3–6 % here
            assert np.all(np.abs(mean - M) < 0.01) and 0.93 * S < std < S
        torch.testing.assert_close(x.mean(0), torch.tensor(mean), atol=5 * se_mean, rtol=0)
        torch.testing.assert_close(x.std(0), torch.full((2,), std, dtype=torch.float64), atol=5 * se_std, rtol=0)
        # and against the data itself, with the chain's (stated) bias allowed
        assert torch.all((x.mean(0) - torch.tensor(M)).abs() < 5 * se_mean + 0.01)
        assert torch.all((x.std(0) - S).abs() < 5 * se_std + (0.001 if sampler == "ddpm" else 0.07 * S))


@pytest.mark.parametrize("variance,slack", [("beta", 0.05), ("beta_tilde", 1.5)])
def test_bound_with_the_optimal_denoiser_is_close_to_the_true_nll(variance, slack):
    """−log_prob ≥ the true NLL on average (it is a bound), and close with the exact denoiser: measured gaps 0.01 nats
    (β) and ~1 nat (β̃, which underestimates the reverse variance at small t: Σ_t ¼(1/(t−1))² ≈ 0.4 nats a dimension)."""
    T, n = 1000, 4000
    model = optimal_model("linear", T, M, S, variance)
    g = torch.Generator().manual_seed(5)
    x = torch.tensor(M) + S * torch.randn(n, 2, generator=g, dtype=torch.float64)
    nll = -norm.logpdf(x.numpy(), M, S).sum(1)
    with torch.no_grad():
        lp = model.log_prob(x.float(), g)
    assert lp.shape == (n,) and lp.dtype == torch.float32
    gap = -lp.double().numpy() - nll
    se = gap.std() / math.sqrt(n)
    assert gap.mean() > -3 * se, (gap.mean(), se)
    assert gap.mean() < slack, gap.mean()
    if variance == "beta":
        assert gap.mean() < 0.05 and abs(gap.mean()) < 0.05


@pytest.mark.parametrize("schedule,variance,levels", [("cosine", "beta", 0), ("cosine", "beta_tilde", 0), ("cosine", "beta", 5),
                                                       ("linear", "beta_tilde", 5)])
def test_bound_equals_the_trajectory_elbo_and_is_below_the_exact_log_likelihood(schedule, variance, levels):
    """With T = 6 and 1-D data, the bound's decomposition into L_T + Σ L_{t−1} + L_0 (averaged over its x_t
    draws) equals E_q[log p_θ(x_{0:T}) − log q(x_{1:T} | x_0)] estimated from whole forward trajectories, and stays
    below the model's exact log-likelihood (a linear Gaussian chain). Cosine: ᾱ_T ≈ 0, so L_T ≈ 0; linear at T = 6:
    ᾱ_T ≈ 0.94, so L_T carries much of the bound."""
    T, m, s = 6, np.array([0.2]), 0.6
    model = optimal_model(schedule, T, m, s, variance, levels)
    betas = ref_betas(schedule, T)
    alphas, abar = 1 - betas, np.cumprod(1 - betas)
    sig2 = reverse_variances(betas, variance)
    rng = np.random.default_rng(6)
    x0s = [-0.5, 0.5, 1.0] if levels else [-0.7, 0.1, 0.9]
    n = 100_000
    for x0 in x0s:
        # whole trajectories from the forward process
        xs = [np.full(n, x0)]
        logq = np.zeros(n)
        for t in range(1, T + 1):
            xt = math.sqrt(alphas[t - 1]) * xs[-1] + math.sqrt(betas[t - 1]) * rng.standard_normal(n)
            logq += norm.logpdf(xt, math.sqrt(alphas[t - 1]) * xs[-1], math.sqrt(betas[t - 1]))
            xs.append(xt)

        def mu(xt, t):  # eq. 11 with the optimal ε
            a, b2 = math.sqrt(abar[t - 1]), 1 - abar[t - 1]
            eps = math.sqrt(b2) * (xt - a * m[0]) / (a * a * s * s + b2)
            return (xt - betas[t - 1] / math.sqrt(b2) * eps) / math.sqrt(alphas[t - 1])

        logp = norm.logpdf(xs[T], 0, 1)
        for t in range(2, T + 1):
            logp += norm.logpdf(xs[t - 1], mu(xs[t], t), math.sqrt(sig2[t - 1]))
        if levels:
            half, sd = 1 / (levels - 1), math.sqrt(sig2[0])
            hi = 1.0 if x0 >= 1 else norm.cdf((x0 + half - mu(xs[1], 1)) / sd)
            lo = 0.0 if x0 <= -1 else norm.cdf((x0 - half - mu(xs[1], 1)) / sd)
            logp += np.log(hi - lo)
        else:
            logp += norm.logpdf(x0, mu(xs[1], 1), math.sqrt(sig2[0]))
        elbo = logp - logq
        with torch.no_grad():
            lp = model.log_prob(torch.full((n, 1), x0), torch.Generator().manual_seed(7)).double().numpy()
        se = math.hypot(elbo.std() / math.sqrt(n), lp.std() / math.sqrt(n))
        assert abs(lp.mean() - elbo.mean()) < 5 * se, (x0, lp.mean(), elbo.mean(), se)
        # the model's exact marginal of x_0: Gaussian (mean, var) through the chain
        mean, var = 0.0, 1.0
        for t in range(T, 0, -1):
            a, b2 = math.sqrt(abar[t - 1]), 1 - abar[t - 1]
            A = (1 - betas[t - 1] / (a * a * s * s + b2)) / math.sqrt(alphas[t - 1])
            mean = A * mean + (mu(np.array(0.0), t))
            var = A * A * var + sig2[t - 1]
        if levels:
            half = 1 / (levels - 1)
            hi = 1.0 if x0 >= 1 else norm.cdf(x0 + half, mean, math.sqrt(var))
            lo = 0.0 if x0 <= -1 else norm.cdf(x0 - half, mean, math.sqrt(var))
            exact = math.log(hi - lo)
        else:
            exact = norm.logpdf(x0, mean, math.sqrt(var))
        assert lp.mean() < exact + 3 * se, (x0, lp.mean(), exact)
        if schedule == "cosine":
            assert exact - lp.mean() < 1.0  # a bound, but not a vacuous one


def test_bound_steps_is_an_unbiased_estimate_of_the_bound():
    T, x0 = 200, 0.4
    full = optimal_model("cosine", T, np.array([0.0]), 0.5)
    part = optimal_model("cosine", T, np.array([0.0]), 0.5)
    part.bound_steps = 10
    x = torch.full((4000, 1), x0)
    with torch.no_grad():
        ref = full.log_prob(x, torch.Generator().manual_seed(8)).double()
        est = torch.cat([part.log_prob(x[:100], torch.Generator().manual_seed(100 + k)).double() for k in range(40)])
        # every t evaluated: the same draws as the full bound
        every = optimal_model("cosine", T, np.array([0.0]), 0.5)
        every.bound_steps = T - 1
        torch.testing.assert_close(every.log_prob(x[:50], torch.Generator().manual_seed(9)),
                                   full.log_prob(x[:50], torch.Generator().manual_seed(9)))
    per_seed = est.view(40, 100).mean(1)
    se = math.hypot(float(per_seed.std()) / math.sqrt(40), float(ref.std()) / math.sqrt(len(ref)))
    assert abs(float(per_seed.mean() - ref.mean())) < 5 * se, (float(per_seed.mean()), float(ref.mean()), se)
    assert float(per_seed.std()) > 0  # the strata picks vary with the generator


# ---------------------------------------------------------------- (d) determinism, DDIM ↔ DDPM


def test_ddim_eta0_is_deterministic_and_depends_on_steps():
    pts = perturb(DDPM([2], 0, timesteps=50, width=16, depth=2))
    img = perturb(DDPM([1, 8, 8], 17, timesteps=20, channels=8, mults=[1, 2]))
    for model, s1, s2 in [(pts, 10, 25), (img, 5, 10)]:
        a = model.sample(16, torch.Generator().manual_seed(10), sampler="ddim", steps=s1, eta=0.0)
        b = model.sample(16, torch.Generator().manual_seed(10), sampler="ddim", steps=s1, eta=0.0)
        assert torch.equal(a, b)
        c = model.sample(16, torch.Generator().manual_seed(10), sampler="ddim", steps=s2, eta=0.0)
        assert (a - c).abs().max() > 1e-2
        # eta = 0 draws only x_T from the generator
        g1, g2 = torch.Generator().manual_seed(10), torch.Generator().manual_seed(10)
        d = model.sample(16, g1, sampler="ddim", steps=s1)
        torch.randn((16, *model.data_shape), generator=g2)
        assert torch.equal(a, d) and torch.equal(g1.get_state(), g2.get_state())
        e = model.sample(16, torch.Generator().manual_seed(11), sampler="ddim", steps=s1, eta=1.0)
        f = model.sample(16, torch.Generator().manual_seed(12), sampler="ddim", steps=s1, eta=1.0)
        assert not torch.equal(e, f)
    k = img.sample(8, torch.Generator().manual_seed(13))  # discrete images: on the grid, in [−1, 1]
    levels = (k + 1) * 8
    assert torch.equal(levels, levels.round()) and k.min() >= -1 and k.max() <= 1
    assert torch.equal(from_levels(levels.round().long(), 17), k)


@pytest.mark.parametrize("shape", [[2], [1, 8, 8]])
def test_ddim_with_eta_1_and_every_step_is_ddpm_with_beta_tilde(shape):
    model = perturb(DDPM(shape, 0, timesteps=20, variance="beta_tilde", width=16, depth=2, channels=8))
    a = model.sample(6, torch.Generator().manual_seed(14), sampler="ddpm")
    b = model.sample(6, torch.Generator().manual_seed(14), sampler="ddim", steps=20, eta=1.0)
    torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-5)
    c = model.sample(6, torch.Generator().manual_seed(14), sampler="ddim", steps=20, eta=0.0)
    assert (a - c).abs().max() > 1e-2
    if len(shape) == 3:
        assert a.min() >= -1 - 1e-6 and a.max() <= 1 + 1e-6  # x̂_0 clipped, the last step returns it


def test_ddim_timesteps_are_the_uniform_skip():
    model = DDPM([2], 0, timesteps=1000, width=8, depth=1)
    assert model.ddim_timesteps(50) == [t + 1 for t in range(0, 1000, 20)]
    assert model.ddim_timesteps(1000) == list(range(1, 1001))
    taus = model.ddim_timesteps(300)  # T not divisible: near-uniform, strictly increasing, S of them
    assert len(taus) == 300 and taus[0] == 1 and taus[-1] == 997 and all(3 <= b - a <= 4 for a, b in zip(taus, taus[1:]))


# ---------------------------------------------------------------- (e) L_T


def test_prior_kl_is_negligible_for_the_linear_schedule_at_T1000():
    model = DDPM([1, 8, 8], 17, timesteps=1000, channels=8)
    abar_T = float(np.prod(1 - betas_linear(1000)))
    assert float(model.alphas_cumprod[-1]) == pytest.approx(abar_T, rel=1e-12)
    assert 3.9e-5 < abar_T < 4.2e-5
    g = torch.Generator().manual_seed(15)
    x = from_levels(torch.randint(0, 17, (5, 1, 8, 8), generator=g), 17)
    x[0] = 1.0  # the worst case: every pixel at ±1
    kl = model.prior_kl(x)
    # closed form: ½ Σ_d (ᾱ x_d² + (1 − ᾱ) − 1 − log(1 − ᾱ))
    want = 0.5 * (abar_T * x.double().pow(2).flatten(1).sum(1) + 64 * (-abar_T - math.log1p(-abar_T)))
    torch.testing.assert_close(kl, want, rtol=1e-6, atol=1e-12)
    assert float(kl.max()) < 64 * 2.1e-5 and float(kl[0]) > 64 * 1.9e-5


# ---------------------------------------------------------------- (f) discretized decoder


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_discretized_decoder_probabilities_sum_to_one(levels):
    g = torch.Generator().manual_seed(16)
    mean = 3 * torch.rand(40, generator=g, dtype=torch.float64) - 1.5
    std = torch.exp(torch.empty(40, dtype=torch.float64).uniform_(math.log(1e-3), math.log(2.0), generator=g))
    grid = torch.arange(levels, dtype=torch.float64) * (2 / (levels - 1)) - 1
    logp = discretized_gaussian_log_prob(grid[:, None], mean[None], std[None], levels)  # K×40
    assert torch.isfinite(logp).all()
    torch.testing.assert_close(torch.logsumexp(logp, 0), torch.zeros(40, dtype=torch.float64), atol=1e-9, rtol=0)
    # bin by bin against scipy's CDF differences (where they do not underflow)
    half = 1 / (levels - 1)
    hi = np.where(grid.numpy()[:, None] >= 1, 1.0, norm.cdf((grid.numpy()[:, None] + half - mean.numpy()) / std.numpy()))
    lo = np.where(grid.numpy()[:, None] <= -1, 0.0, norm.cdf((grid.numpy()[:, None] - half - mean.numpy()) / std.numpy()))
    p = hi - lo
    ok = p > 1e-8
    np.testing.assert_allclose(logp.numpy()[ok], np.log(p[ok]), rtol=1e-6, atol=1e-12)


def test_discretized_decoder_tails_and_fine_bins():
    def t(v):
        return torch.tensor(v, dtype=torch.float64)

    # far tails stay finite and match the Gaussian tail: x = −1 from a mean at 1 with σ = 0.01 (200 σ away)
    lp = discretized_gaussian_log_prob(t([-1.0]), t([1.0]), t([0.01]), 256)
    assert torch.isfinite(lp).all() and float(lp) == pytest.approx(norm.logcdf((-1 + 1 / 255 - 1) / 0.01), rel=1e-9)
    lp = discretized_gaussian_log_prob(t([0.0]), t([1.0]), t([0.01]), 3)  # both edges in the left tail
    want = norm.logcdf((0.5 - 1) / 0.01) + math.log1p(-math.exp(norm.logcdf(-150) - norm.logcdf(-50)))
    assert float(lp) == pytest.approx(want, rel=1e-9)
    lp = discretized_gaussian_log_prob(t([0.0]), t([-1.0]), t([0.01]), 3)  # right tail (mirror)
    assert float(lp) == pytest.approx(want, rel=1e-9)
    # a fine bin well inside the density: probability ≈ density × width
    x = from_levels(torch.arange(100, 156), 256).double()
    lp = discretized_gaussian_log_prob(x, t(0.1), t(0.5), 256)
    approx = gaussian_log_prob(x, t(0.1), t(0.25)) + math.log(2 / 255)
    torch.testing.assert_close(lp, approx, atol=1e-4, rtol=0)


# ---------------------------------------------------------------- networks, loss, protocol


def test_networks_start_at_zero_and_loss_is_eq14():
    for model in (DDPM([3], 0, timesteps=100, width=16, depth=2), DDPM([1, 8, 8], 17, timesteps=100, channels=8)):
        assert isinstance(model, DensityModel) and model.likelihood_kind == "bound" and model.loss_name == "mse"
        x = from_levels(torch.randint(0, 17, (32, *model.data_shape), generator=torch.Generator().manual_seed(17)), 17)
        t = torch.randint(1, 101, (32,))
        assert torch.equal(model.net(x, t), torch.zeros_like(x))  # zero-initialized output layer
        perturb(model)
        torch.manual_seed(18)
        loss = model.loss(x)
        torch.manual_seed(18)
        tt = torch.randint(1, 101, (32,))
        noise = torch.randn_like(x)
        abar = torch.tensor(np.concatenate([[1.0], np.cumprod(1 - betas_linear(100))]))[tt].float()
        abar = abar.view(-1, *([1] * len(model.data_shape)))
        xt = abar.sqrt() * x + (1 - abar).sqrt() * noise
        want = (noise - model.net(xt, tt)).pow(2).flatten(1).mean(1)
        assert loss.shape == (32,)
        torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-6)
        loss.mean().backward()
        assert all(p.grad is not None for p in model.parameters())


def test_unet_shapes_and_time_dependence():
    net = EpsUNet(3, channels=12, mults=(1, 2, 2), blocks=2)
    with torch.no_grad():
        net.conv_out.weight.normal_(0, 0.1)
    x = torch.randn(2, 3, 16, 16)
    out1 = net(x, torch.tensor([1, 1]))
    out2 = net(x, torch.tensor([500, 500]))
    assert out1.shape == (2, 3, 16, 16) and (out1 - out2).abs().max() > 1e-3
    # per-sample: a sample's output does not depend on the rest of the batch (GroupNorm, no batch statistics)
    torch.testing.assert_close(net(x[:1], torch.tensor([1])), out1[:1], rtol=1e-4, atol=1e-5)
    emb = timestep_embedding(torch.tensor([0, 3]), 6)
    torch.testing.assert_close(emb[0], torch.tensor([0.0, 0, 0, 1, 1, 1]))
    torch.testing.assert_close(emb[1, 0], torch.tensor(math.sin(3.0)))


def test_log_prob_is_chunk_invariant_eval_safe_and_survives_save_load(tmp_path):
    model = perturb(DDPM([1, 8, 8], 17, timesteps=12, channels=8, bound_batch=7))
    x = from_levels(torch.randint(0, 17, (5, 1, 8, 8), generator=torch.Generator().manual_seed(19)), 17)
    with torch.no_grad():
        a = model.log_prob(x, torch.Generator().manual_seed(20))
        model.bound_batch = 4096
        b = model.log_prob(x, torch.Generator().manual_seed(20))
        model.eval()
        c = model.log_prob(x + 0.01, torch.Generator().manual_seed(20))  # off-grid inputs snap to the nearest level
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-4)
    torch.testing.assert_close(b, c, rtol=0, atol=0)
    assert torch.all(a < 0)  # log-probabilities of discrete data
    torch.save(model.state_dict(), tmp_path / "m.pt")
    clone = DDPM([1, 8, 8], 17, timesteps=12, channels=8)
    clone.load_state_dict(torch.load(tmp_path / "m.pt"))
    with torch.no_grad():
        torch.testing.assert_close(clone.log_prob(x, torch.Generator().manual_seed(20)), b, rtol=1e-6, atol=1e-4)
    assert torch.equal(clone.sample(3, torch.Generator().manual_seed(21), sampler="ddim", steps=4),
                       model.sample(3, torch.Generator().manual_seed(21), sampler="ddim", steps=4))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        DDPM([2, 3], 0)
    with pytest.raises(ValueError):
        DDPM([1, 8, 16], 17)
    with pytest.raises(ValueError):
        DDPM([1, 12, 12], 17)
    with pytest.raises(ValueError):
        DDPM([2], 1)
    with pytest.raises(ValueError):
        DDPM([2], 0, schedule="quadratic")
    with pytest.raises(ValueError):
        DDPM([2], 0, variance="learned")
    model = DDPM([2], 0, timesteps=10, width=8, depth=1)
    for options in ({"temperature": 1.0}, {"sampler": "euler"}, {"sampler": "ddim", "steps": 11}, {"sampler": "ddim", "steps": 0}):
        with pytest.raises(ValueError):
            model.sample(2, **options)
