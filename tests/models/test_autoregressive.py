"""Autoregressive models (gankit.models.autoregressive): MADE (points and discrete data) and the gated PixelCNN.

Checked with numbers: the autoregressive order by exact Jacobians (zero on and after position i, non-zero before it;
PixelCNN's receptive field after one layer exactly, and no blind spot after enough layers), normalization by
enumeration (discrete) and quadrature (points), the mixture / categorical formulas against closed forms, sampling
against ``log_prob`` (cell frequencies within a few standard errors), bitwise reproducibility, the data-dependent
init and its buffer, and a short MADE fit of a Gaussian mixture to within 0.1 nats of its entropy."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from gankit.models.autoregressive import MADE, GatedLayer, PixelCNN, made_masks
from gankit.models.density import DensityModel, from_levels

torch.set_num_threads(1)


def _scale_weights(model: torch.nn.Module, factor: float) -> None:
    """Sharper, far-from-uniform conditionals for the normalization / sampling checks."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(factor)


def _dependence(f, shape: tuple[int, ...], trials: int = 3, seed: int = 0) -> torch.Tensor:
    """Boolean out_positions × in_positions: |∂out/∂in| > 0 for any of ``trials`` random inputs (N = 1).
    ``f`` maps 1×shape to 1×positions×params."""
    g = torch.Generator().manual_seed(seed)
    dep = None
    for _ in range(trials):
        x = torch.rand(1, *shape, generator=g) * 2 - 1
        jac = jacobian(f, x)[0]                             # positions×params×1×shape
        d = jac.abs().sum(1).reshape(jac.shape[0], -1) > 0
        dep = d if dep is None else dep | d
    return dep


def _grid_levels(levels: int, dims: int) -> torch.Tensor:
    """All levels^dims configurations as values in [-1, 1]: (levels^dims)×dims."""
    return from_levels(torch.tensor(list(itertools.product(range(levels), repeat=dims))), levels)


# ---------------------------------------------------------------- structure and ordering


def test_made_masks_connect_exactly_the_earlier_dimensions():
    dims, per_dim = 5, 3
    masks = made_masks(dims, width=8, depth=2, per_dim=per_dim)
    assert [tuple(m.shape) for m in masks] == [(8, 5), (8, 8), (15, 8)]
    paths = masks[2] @ masks[1] @ masks[0]                  # 15×5: number of paths output unit -> input
    connected = (paths > 0).view(dims, per_dim, dims)
    expected = torch.tril(torch.ones(dims, dims, dtype=torch.bool), diagonal=-1)
    assert torch.equal(connected, expected[:, None, :].expand(dims, per_dim, dims))
    # deterministic: the hidden degrees cycle over 1..D-1, no seed involved
    assert torch.equal(masks[0][:, 0], torch.ones(8)) and masks[0][:4].sum(1).tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("levels,shape", [(0, [5]), (4, [5]), (3, [2, 2, 2])])
def test_made_outputs_at_i_depend_exactly_on_inputs_before_i(levels, shape):
    """Zero on and after i by construction; every earlier input reaches i unless a random net's ReLUs happen to
    be dead on the whole path (seed 0 at D = 8 has one such pair, seed 1 none)."""
    torch.manual_seed(1)
    model = MADE(shape, levels, width=32, depth=2, components=3).eval()
    dims = model.dims
    dep = _dependence(model.conditionals, tuple(shape))
    assert torch.equal(dep, torch.tril(torch.ones(dims, dims, dtype=torch.bool), diagonal=-1))


def test_made_log_prob_terms_depend_on_inputs_up_to_i():
    """log p(x_i | x_<i) depends on x_<i and on x_i itself (the density), never on x_>i."""
    torch.manual_seed(1)
    model = MADE([4], 0, width=16, depth=2, components=3).eval()
    dep = _dependence(lambda x: model.log_prob_terms(x).unsqueeze(-1), (4,))
    assert torch.equal(dep, torch.tril(torch.ones(4, 4, dtype=torch.bool)))


def _pixel_dependence(model: PixelCNN, side: int) -> torch.Tensor:
    """(H·W)×(H·W) boolean: logits of pixel p depend on input pixel q."""
    def f(x):
        return model.logits(x).flatten(2).transpose(1, 2)   # 1×(H·W)×K
    return _dependence(f, (1, side, side))


def test_pixelcnn_has_no_blind_spot_and_sees_only_earlier_pixels():
    """With layers ≥ H on a 6×6 image the logits of every pixel depend on exactly the pixels before it in raster
    order: the whole rows above (no blind spot to the upper right), the row to its left, not itself."""
    torch.manual_seed(0)
    model = PixelCNN([1, 6, 6], 3, layers=6, channels=8, kernel=3)
    dep = _pixel_dependence(model, 6)
    assert torch.equal(dep, torch.tril(torch.ones(36, 36, dtype=torch.bool), diagonal=-1))


def test_pixelcnn_receptive_field_of_one_layer():
    """One layer, kernel 3: pixel (i, j) sees rows i−2..i−1 at columns j−1..j+1 (the vertical stack's 2×3 window
    shifted down a row) and (i, j−1) (the type-A horizontal 1×1 window), nothing else."""
    torch.manual_seed(0)
    side = 6
    model = PixelCNN([1, side, side], 3, layers=1, channels=8, kernel=3)
    dep = _pixel_dependence(model, side)
    for i, j in itertools.product(range(side), repeat=2):
        want = torch.zeros(side, side, dtype=torch.bool)
        want[max(i - 2, 0):max(i, 0), max(j - 1, 0):j + 2] = True
        if j > 0:
            want[i, j - 1] = True
        assert torch.equal(dep[i * side + j].view(side, side), want), (i, j)


def test_pixelcnn_large_kernel_few_layers_is_causal():
    torch.manual_seed(2)
    model = PixelCNN([1, 6, 6], 4, layers=2, channels=6, kernel=5)
    dep = _pixel_dependence(model, 6)
    assert not (dep & ~torch.tril(torch.ones(36, 36, dtype=torch.bool), diagonal=-1)).any()
    # reach r = layers · (k // 2) = 4: the last pixel (5, 5) sees columns 1..5 of every row above and (5, 1..4),
    # never column 0
    last = dep[35].view(6, 6)
    want = torch.zeros(6, 6, dtype=torch.bool)
    want[:5, 1:] = True
    want[5, 1:5] = True
    assert torch.equal(last, want)


def test_gated_layer_gate_and_residual():
    """v' = tanh(a) ⊙ σ(b) of the vertical pre-activation's halves; a later layer's horizontal output is h plus a
    1×1 conv of its gate (so zeroing that conv returns h), the first layer's has no residual."""
    torch.manual_seed(0)
    v, h = torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 5)
    layer = GatedLayer(4, 4, 3, first=False)
    with torch.no_grad():
        layer.v_conv.weight.zero_()
        layer.v_conv.bias.copy_(torch.tensor([0.3, -1.0, 2.0, 0.0, 1.0, -2.0, 0.5, 4.0]))
    v_out, h_out = layer(v, h)
    want = torch.tanh(torch.tensor([0.3, -1.0, 2.0, 0.0])) * torch.sigmoid(torch.tensor([1.0, -2.0, 0.5, 4.0]))
    torch.testing.assert_close(v_out, want.view(1, 4, 1, 1).expand(2, 4, 5, 5))
    with torch.no_grad():
        layer.h_out.weight.zero_()
        layer.h_out.bias.zero_()
    assert torch.equal(layer(v, h)[1], h)
    first = GatedLayer(4, 4, 3, first=True)
    with torch.no_grad():
        first.h_out.weight.zero_()
        first.h_out.bias.fill_(0.25)
    assert torch.equal(first(v, h)[1], torch.full_like(h, 0.25))


# ---------------------------------------------------------------- closed forms and normalization


def test_made_mixture_conditionals_match_the_closed_form():
    """Output weights zeroed: every conditional is the bias' mixture; log-std below −7 is clamped to −7."""
    model = MADE([2], 0, width=8, depth=1, components=2).eval()
    bias = torch.tensor([[0.0, math.log(3.0), -1.0, 2.0, 0.0, math.log(0.5)],
                         [0.0, 0.0, 0.5, 0.5, -20.0, -20.0]])   # dim 1: two equal Gaussians with log σ = −7
    with torch.no_grad():
        model.net[-1].weight.zero_()
        model.net[-1].bias.copy_(bias.flatten())
    x = torch.tensor([[0.3, 0.5], [1.7, 0.5 + 1e-3]], dtype=torch.float64)

    def normal(v, m, s):
        return np.exp(-0.5 * ((v - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))

    xs = x.numpy()
    p0 = 0.25 * normal(xs[:, 0], -1.0, 1.0) + 0.75 * normal(xs[:, 0], 2.0, 0.5)
    p1 = normal(xs[:, 1], 0.5, math.exp(-7.0))
    want = np.log(p0) + np.log(p1)
    got = model.log_prob(x.float()).detach().double().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_made_categorical_conditionals_match_the_closed_form():
    model = MADE([2], 3, width=8, depth=1).eval()
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    with torch.no_grad():
        model.net[-1].weight.zero_()
        model.net[-1].bias.copy_(logits.flatten())
    x = torch.tensor([[1.0, -1.0], [0.02, 0.97]])            # levels (2, 0) and (1, 2): off-grid values snap
    logp = torch.log_softmax(logits, dim=1)
    want = torch.stack([logp[0, 2] + logp[1, 0], logp[0, 1] + logp[1, 2]])
    torch.testing.assert_close(model.log_prob(x), want)
    torch.testing.assert_close(model.loss(x), -want)


def test_made_discrete_probabilities_sum_to_one():
    torch.manual_seed(0)
    model = MADE([3], 3, width=16, depth=2).eval()
    _scale_weights(model, 3.0)
    with torch.no_grad():
        logp = model.log_prob(_grid_levels(3, 3)).double()
    assert logp.shape == (27,) and logp.dtype == torch.float64
    assert logp.max() - logp.min() > 2.0                    # far from uniform, so the sum is a real check
    assert abs(logp.exp().sum().item() - 1.0) < 1e-5


def test_pixelcnn_probabilities_sum_to_one():
    torch.manual_seed(0)
    model = PixelCNN([1, 2, 2], 3, layers=2, channels=8)
    _scale_weights(model, 2.0)
    x = _grid_levels(3, 4).view(81, 1, 2, 2)
    with torch.no_grad():
        logp = model.log_prob(x).double()
    assert logp.shape == (81,) and logp.max() - logp.min() > 2.0
    assert abs(logp.exp().sum().item() - 1.0) < 1e-5


def _made_grid_density(model: MADE, lim: float = 8.0, step: float = 0.02):
    """Midpoint-rule grid on [−lim, lim]²: (centres G×G×2, density G×G float64)."""
    c = torch.arange(-lim + step / 2, lim, step)
    xx, yy = torch.meshgrid(c, c, indexing="ij")
    pts = torch.stack([xx, yy], -1)
    with torch.no_grad():
        dens = model.log_prob(pts.view(-1, 2)).double().exp().view(len(c), len(c))
    return pts, dens * step * step


def test_made_continuous_density_integrates_to_one_and_sampling_agrees():
    torch.manual_seed(3)
    model = MADE([2], 0, width=16, depth=2, components=3).eval()
    _scale_weights(model, 1.5)
    pts, mass = _made_grid_density(model)
    assert abs(mass.sum().item() - 1.0) < 1e-2
    # the conditional of x_1 really depends on x_0 (otherwise this is a product of two 1-D checks)
    cond_mean = (mass * pts[..., 1]).sum(1) / mass.sum(1)
    assert cond_mean.max() - cond_mean.min() > 0.5
    # sampling: mass of the four quadrants and of a band, from 20000 samples vs the quadrature
    n = 20000
    s = model.sample(n, torch.Generator().manual_seed(0)).double()
    regions = [lambda p: (p[..., 0] < 0) & (p[..., 1] < 0), lambda p: (p[..., 0] < 0) & (p[..., 1] >= 0),
               lambda p: (p[..., 0] >= 0) & (p[..., 1] < 0), lambda p: (p[..., 1] - p[..., 0]).abs() < 0.5]
    for region in regions:
        p = (mass * region(pts)).sum().item()
        f = region(s).double().mean().item()
        assert abs(f - p) < 4 * math.sqrt(p * (1 - p) / n) + 2e-3, (f, p)


# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize("kind", ["made-points", "made-images", "pixelcnn"])
def test_same_seed_same_samples(kind):
    torch.manual_seed(0)
    if kind == "made-points":
        model, shape = MADE([3], 0, width=16, components=2), (3,)
    elif kind == "made-images":
        model, shape = MADE([1, 3, 3], 5, width=16), (1, 3, 3)
    else:
        model, shape = PixelCNN([1, 4, 4], 5, layers=2, channels=8), (1, 4, 4)
    a = model.sample(64, torch.Generator().manual_seed(7))
    b = model.sample(64, torch.Generator().manual_seed(7))
    c = model.sample(64, torch.Generator().manual_seed(8))
    assert a.shape == (64, *shape) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    if kind != "made-points":                               # discrete samples lie on the grey levels
        k = (a + 1) * (model.levels - 1) / 2
        torch.testing.assert_close(k, k.round(), atol=1e-5, rtol=0)
        assert a.min() >= -1 and a.max() <= 1 and len(a.unique()) > 2
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, temperature=0.5)


def _frequencies_match(samples: torch.Tensor, configs: torch.Tensor, probs: torch.Tensor, sigmas: float) -> None:
    n = samples.shape[0]
    for cfg, p in zip(configs, probs.tolist()):
        f = (samples == cfg).all(1).double().mean().item()
        assert abs(f - p) < sigmas * math.sqrt(p * (1 - p) / n) + 1e-4, (cfg.tolist(), f, p)


def test_made_discrete_sampling_matches_log_prob():
    torch.manual_seed(4)
    model = MADE([2], 3, width=16, depth=2).eval()
    _scale_weights(model, 2.0)
    configs = _grid_levels(3, 2)
    with torch.no_grad():
        probs = model.log_prob(configs).double().exp()
    assert probs.max() > 0.2 and probs.min() < 0.05        # not uniform
    samples = model.sample(20000, torch.Generator().manual_seed(1))
    _frequencies_match(samples, configs, probs, 4.0)


def test_pixelcnn_sampling_matches_log_prob():
    torch.manual_seed(5)
    model = PixelCNN([1, 2, 2], 3, layers=2, channels=8)
    _scale_weights(model, 2.0)
    configs = _grid_levels(3, 4)
    with torch.no_grad():
        probs = model.log_prob(configs.view(81, 1, 2, 2)).double().exp()
    samples = model.sample(20000, torch.Generator().manual_seed(2)).view(20000, 4)
    _frequencies_match(samples, configs, probs, 4.5)


# ---------------------------------------------------------------- evaluation safety, init, errors


def test_log_prob_is_per_sample_and_survives_a_state_dict_round_trip():
    torch.manual_seed(0)
    kwargs = json.loads('{"data_shape": [1, 4, 4], "levels": 17, "layers": 2, "channels": 8, "kernel": 3}')
    pix = PixelCNN(**kwargs)
    x = from_levels(torch.randint(0, 17, (5, 1, 4, 4)), 17)
    with torch.no_grad():
        full = pix.log_prob(x)
        one = torch.cat([pix.log_prob(x[i:i + 1]) for i in range(5)])
        jitter = pix.log_prob(x + (torch.rand_like(x) - 0.5) * 0.05)   # < half a level: same levels
    torch.testing.assert_close(full, one)
    torch.testing.assert_close(full, jitter)
    assert (full < 0).all() and full.shape == (5,)
    twin = PixelCNN(**kwargs)
    twin.load_state_dict(pix.state_dict())
    torch.testing.assert_close(twin.log_prob(x), full)


def test_made_data_init_runs_once_in_training_mode_and_is_saved():
    """Points: the first training-mode log_prob sets the mixture biases to the batch's marginal quantiles, once;
    eval mode never does; a loaded state dict carries ``initialized``. Discrete models have no data init."""
    torch.manual_seed(0)
    x = torch.randn(512, 2) * torch.tensor([3.0, 0.5]) + torch.tensor([10.0, -4.0])
    model = MADE([2], 0, width=16, components=4)
    evaluated = MADE([2], 0, width=16, components=4).eval()
    evaluated.load_state_dict(model.state_dict())
    assert not bool(model.initialized)
    before = evaluated.log_prob(x)
    torch.testing.assert_close(evaluated.log_prob(x), before)       # eval mode never initializes
    assert not bool(evaluated.initialized)
    first = model.log_prob(x)                                       # training mode: initializes on this batch
    assert bool(model.initialized) and first.mean() > before.mean() + 5
    bias = model.net[-1].bias.detach().view(2, 3, 4)
    torch.testing.assert_close(bias[:, 1], torch.quantile(x, torch.tensor([0.125, 0.375, 0.625, 0.875]), dim=0).T)
    model.log_prob(x[:7] * 100)                                     # a second batch does not re-initialize
    torch.testing.assert_close(model.net[-1].bias.detach().view(2, 3, 4), bias)
    twin = MADE([2], 0, width=16, components=4)                     # training mode, but loads initialized = True
    twin.load_state_dict(model.state_dict())
    torch.testing.assert_close(twin.log_prob(x), first)
    discrete = MADE([2], 3, width=8)
    b = discrete.net[-1].bias.detach().clone()
    discrete.log_prob(x.clamp(-1, 1))
    assert torch.equal(discrete.net[-1].bias.detach(), b)


def test_interface_and_errors():
    made, pix = MADE([4], 0, width=8), PixelCNN([1, 3, 3], 4, layers=1, channels=4)
    for m in (made, pix):
        assert isinstance(m, DensityModel) and m.likelihood_kind == "exact" and not m.reversible
    with pytest.raises(ValueError, match="one-channel"):
        PixelCNN([3, 8, 8], 17)
    with pytest.raises(ValueError, match="K > 1"):
        PixelCNN([1, 8, 8], 0)
    with pytest.raises(ValueError, match="odd"):
        PixelCNN([1, 8, 8], 17, kernel=4)
    with pytest.raises(ValueError, match="levels"):
        MADE([4], 1)
    with pytest.raises(ValueError, match=r"\[D\]"):
        MADE([1, 4, 4], 0)


# ---------------------------------------------------------------- training


def test_made_fits_a_gaussian_mixture_to_its_entropy():
    """300 Adam steps on a 2-D mixture of three well-separated Gaussians (σ = 0.5, centres 4 apart, one of them
    making x_1 | x_0 = −2 bimodal): the held-out NLL is within 0.1 nats of the entropy H(w) + log(2πe σ²) (exact up
    to e^−32-sized overlaps, checked by Monte Carlo with the true density)."""
    means = torch.tensor([[-2.0, -2.0], [2.0, 2.0], [-2.0, 2.0]])
    w, sigma = torch.tensor([0.5, 0.3, 0.2]), 0.5
    entropy = -(w * w.log()).sum().item() + math.log(2 * math.pi * math.e * sigma ** 2)
    g = torch.Generator().manual_seed(0)

    def draw(n):
        c = torch.multinomial(w, n, replacement=True, generator=g)
        return means[c] + sigma * torch.randn(n, 2, generator=g)

    def true_nll(x):
        sq = ((x[:, None] - means) ** 2).sum(-1)
        return -torch.logsumexp(-0.5 * sq / sigma ** 2 + w.log(), 1) + math.log(2 * math.pi * sigma ** 2)

    test = draw(5000)
    assert abs(true_nll(test).mean().item() - entropy) < 0.05
    torch.manual_seed(0)
    model = MADE([2], 0, width=64, depth=2, components=5)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(300):
        loss = model.loss(draw(256)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 0:
            with torch.no_grad():
                start = model.eval().loss(test).mean().item()
            model.train()
    model.eval()
    with torch.no_grad():
        nll = model.loss(test).mean().item()
    assert start > entropy + 0.3                    # the data init alone is not enough (x_1 | x_0 is not learnt)
    assert nll - entropy < 0.1, (nll, entropy)
