"""gankit.models.flows: RealNVP and Glow — invertibility, log-determinants against brute-force Jacobians, a
normalized RealNVP density, Glow's dequantization bound, ActNorm's data-dependent init, temperature sampling and
a RealNVP fit of a Gaussian whose entropy is known."""
from __future__ import annotations

import math

import pytest
import torch

from gankit.errors import ConfigError
from gankit.models.density import from_levels, to_levels
from gankit.models.flows import ActNorm, Glow, InvConv1x1, RealNVP, squeeze2x2, unsqueeze2x2
from gankit.models.flows import _coupling_mask

LOG_2PI = math.log(2 * math.pi)


def std_normal(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * z.pow(2).sum(1) - 0.5 * z.shape[1] * LOG_2PI


def perturb(model: torch.nn.Module, scale: float, seed: int = 0) -> torch.nn.Module:
    """Add scale·N(0, 1) to every parameter (the zero-initialized output layers and priors included)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g).to(p.dtype))
    return model


def realnvp(dims: int, seed: int = 0, **kw) -> RealNVP:
    torch.manual_seed(seed)
    args = {"n_couplings": 4, "width": 16, "depth": 2, **kw}
    return RealNVP([dims], 0, **args)


def glow(shape, levels: int = 17, seed: int = 0, **kw) -> Glow:
    torch.manual_seed(seed)
    args = {"n_levels": 2, "depth": 2, "hidden": 8, **kw}
    return Glow(list(shape), levels, **args)


def init_actnorm(model, data: torch.Tensor) -> None:
    """One training-mode forward (ActNorm's data-dependent init), then eval mode."""
    model.train()
    with torch.no_grad():
        model.encode(data)
    model.eval()


def brute_logdet(model, x: torch.Tensor) -> torch.Tensor:
    """log |det ∂encode/∂x| of one sample x (data shape) by the full Jacobian (float64)."""
    shape = x.shape
    jac = torch.autograd.functional.jacobian(lambda v: model.encode(v.reshape(1, *shape))[0], x.reshape(-1))
    sign, logabs = torch.linalg.slogdet(jac)
    assert sign != 0
    return logabs


# ---------------------------------------------------------------- building blocks


def test_coupling_masks_alternate_and_cover_every_coordinate():
    for i in range(6):
        assert _coupling_mask(2, i).tolist() == ([1.0, 0.0] if i % 2 == 0 else [0.0, 1.0])
    masks = [_coupling_mask(5, i) for i in range(4)]
    assert masks[0].tolist() == [1, 0, 1, 0, 1] and masks[2].tolist() == [1, 1, 0, 0, 0]
    for a, b in [(0, 1), (2, 3)]:
        assert torch.equal(masks[a] + masks[b], torch.ones(5))  # complementary pairs: each coordinate is transformed


def test_squeeze_places_pixels_and_unsqueeze_inverts_it():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    s = squeeze2x2(x)
    assert s.shape == (2, 12, 2, 3)
    for c, i, j, y, xx in [(0, 0, 0, 0, 0), (1, 1, 0, 1, 2), (2, 1, 1, 0, 1), (2, 0, 1, 1, 0)]:
        assert s[1, 4 * c + 2 * i + j, y, xx] == x[1, c, 2 * y + i, 2 * xx + j]
    assert torch.equal(unsqueeze2x2(s), x)


def test_invconv_starts_as_a_rotation_and_its_logdet_is_hw_log_abs_det():
    torch.manual_seed(3)
    conv = InvConv1x1(6)
    w = conv.weight()
    torch.testing.assert_close(w @ w.T, torch.eye(6), atol=1e-5, rtol=0)
    perturb(conv, 0.3)
    w = conv.weight().double()
    x = torch.randn(2, 6, 3, 5)
    y, logdet = conv(x)
    torch.testing.assert_close(y, torch.einsum("oc,nchw->nohw", w.float(), x), atol=1e-5, rtol=1e-5)
    expected = 15 * torch.linalg.slogdet(w)[1].item()
    torch.testing.assert_close(logdet, torch.full((2,), expected, dtype=torch.float32), atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(conv.inverse(y), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("image", [False, True])
def test_actnorm_initializes_on_the_first_training_forward_only(image):
    g = torch.Generator().manual_seed(1)
    shape = (64, 3, 4, 4) if image else (256, 3)
    x = torch.randn(shape, generator=g) * torch.tensor([0.5, 2.0, 7.0]).reshape(1, 3, *([1, 1] if image else [])) + 3
    dims = [0, 2, 3] if image else [0]
    norm = ActNorm(3, image=image).eval()
    y, _ = norm(x)
    assert torch.equal(y, x) and not norm.initialized  # eval mode: identity, no init
    norm.train()
    y, logdet = norm(x)
    assert norm.initialized
    torch.testing.assert_close(y.mean(dims), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dims, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
    spatial = 16 if image else 1
    expected = -spatial * torch.log(x.std(dims, unbiased=False)).sum()
    torch.testing.assert_close(logdet, expected.expand(shape[0]), atol=1e-4, rtol=1e-5)
    y2, _ = norm(x * 5)  # a second training batch does not re-initialize
    torch.testing.assert_close(y2.std(dims, unbiased=False), 5 * torch.ones(3), atol=1e-3, rtol=0)
    torch.testing.assert_close(norm.inverse(y), x, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- (a) invertibility


def test_realnvp_decode_inverts_encode():
    g = torch.Generator().manual_seed(0)
    model = realnvp(5)
    init_actnorm(model, torch.randn(128, 5, generator=g) * 3 + 1)
    perturb(model, 0.3)
    x = torch.randn(64, 5, generator=g) * 3
    with torch.no_grad():
        z = model.encode(x)
        assert (z - x).abs().max() > 0.5  # not the identity
        torch.testing.assert_close(model.decode(z), x, atol=1e-4, rtol=0)
        z2 = torch.randn(64, 5, generator=g)
        torch.testing.assert_close(model.encode(model.decode(z2)), z2, atol=1e-4, rtol=0)


@pytest.mark.parametrize("shape,n_levels", [((2, 8, 8), 2), ((3, 8, 8), 3)])
def test_glow_decode_inverts_encode(shape, n_levels):
    g = torch.Generator().manual_seed(0)
    model = glow(shape, n_levels=n_levels)
    x = torch.rand((16, *shape), generator=g) * 2 - 1
    init_actnorm(model, x)
    with torch.no_grad():
        z_init = model.encode(x)
    perturb(model, 0.05)
    with torch.no_grad():
        z = model.encode(x)
        assert z.shape == (16, math.prod(shape))
        assert (z - z_init).abs().max() > 0.05  # the perturbed coupling nets and priors matter
        torch.testing.assert_close(model.decode(z), x, atol=1e-4, rtol=0)
        eps = torch.randn(16, math.prod(shape), generator=g)
        torch.testing.assert_close(model.encode(model.decode(eps)), eps, atol=1e-4, rtol=0)


# ---------------------------------------------------------------- (b) log-determinants


@pytest.mark.parametrize("dims", [2, 5])
def test_realnvp_logdet_matches_the_brute_force_jacobian(dims):
    g = torch.Generator().manual_seed(dims)
    model = realnvp(dims, seed=dims)
    init_actnorm(model, torch.randn(256, dims, generator=g) * 2 - 1)
    perturb(model, 0.3, seed=dims)
    model.double()
    x = torch.randn(6, dims, generator=g, dtype=torch.float64) * 2
    z, logdet = model.encode_logdet(x)
    assert logdet.dtype == torch.float64
    brute = torch.stack([brute_logdet(model, xi) for xi in x])
    assert brute.std() > 0.05  # a non-constant Jacobian: the couplings are non-linear
    torch.testing.assert_close(logdet, brute, atol=0, rtol=1e-5)
    torch.testing.assert_close(model.log_prob(x), std_normal(z) + brute, atol=1e-8, rtol=1e-8)


@pytest.mark.parametrize("shape,n_levels", [((1, 4, 4), 2), ((3, 2, 2), 1), ((2, 4, 4), 2)])
def test_glow_logdet_matches_the_brute_force_jacobian(shape, n_levels):
    g = torch.Generator().manual_seed(1)
    model = glow(shape, n_levels=n_levels, hidden=4)
    init_actnorm(model, torch.rand((32, *shape), generator=g) * 2 - 1)
    perturb(model, 0.1, seed=2)
    model.double()
    x = torch.rand((3, *shape), generator=g, dtype=torch.float64) * 2 - 1
    _, logdet = model.encode_logdet(x)
    brute = torch.stack([brute_logdet(model, xi) for xi in x])
    torch.testing.assert_close(logdet, brute, atol=0, rtol=1e-5)


# ---------------------------------------------------------------- (c) RealNVP is a normalized density


def test_realnvp_density_integrates_to_one():
    g = torch.Generator().manual_seed(5)
    model = realnvp(2, seed=5, n_couplings=6)
    init_actnorm(model, torch.randn(512, 2, generator=g) * 0.7)
    perturb(model, 0.15, seed=5)
    model.double()
    half, n = 7.0, 561
    t = torch.linspace(-half, half, n, dtype=torch.float64)
    grid = torch.cartesian_prod(t, t)
    cell = (t[1] - t[0]) ** 2
    with torch.no_grad():
        z, logdet = model.encode_logdet(grid)
        mass = (model.log_prob(grid).exp().sum() * cell).item()
        without_logdet = (std_normal(z).exp().sum() * cell).item()
    assert logdet.max() - logdet.min() > 0.5  # far from a volume-preserving map
    assert abs(mass - 1) < 1e-2
    assert abs(without_logdet - 1) > 0.1  # the check would catch a missing log-determinant


# ---------------------------------------------------------------- (d) temperature and seeds


def test_realnvp_sampling_temperature_and_seeds():
    model = realnvp(3)
    init_actnorm(model, torch.randn(64, 3) * 2 + 1)
    perturb(model, 0.2)
    cold = model.sample(4, torch.Generator().manual_seed(0), temperature=0.0)
    with torch.no_grad():
        torch.testing.assert_close(cold, model.decode(torch.zeros(4, 3)), atol=0, rtol=0)
    a = model.sample(5, torch.Generator().manual_seed(7), temperature=0.7)
    b = model.sample(5, torch.Generator().manual_seed(7), temperature=0.7)
    c = model.sample(5, torch.Generator().manual_seed(8), temperature=0.7)
    assert torch.equal(a, b) and not torch.equal(a, c) and a.dtype == torch.float32
    with torch.no_grad():
        eps = torch.randn(5, 3, generator=torch.Generator().manual_seed(7))
        torch.testing.assert_close(a, model.decode(0.7 * eps), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, steps=3)


def test_glow_sampling_temperature_seeds_and_grid():
    model = glow((1, 4, 4), levels=9)
    init_actnorm(model, torch.rand(32, 1, 4, 4) * 2 - 1)
    perturb(model, 0.05)
    cold = model.sample(3, torch.Generator().manual_seed(0), temperature=0.0)
    with torch.no_grad():
        mode = model.decode(torch.zeros(1, 16))
    assert cold.shape == (3, 1, 4, 4)
    assert torch.equal(cold, from_levels(to_levels(mode, 9), 9).expand(3, 1, 4, 4))
    a = model.sample(6, torch.Generator().manual_seed(3))
    b = model.sample(6, torch.Generator().manual_seed(3))
    c = model.sample(6, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.dtype == torch.float32
    assert torch.equal(from_levels(to_levels(a, 9), 9), a) and a.min() >= -1 and a.max() <= 1
    with torch.no_grad():  # T = 1: decode of unit Gaussians, snapped
        eps = torch.randn(6, 16, generator=torch.Generator().manual_seed(3))
        assert torch.equal(a, from_levels(to_levels(model.decode(eps), 9), 9))
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, eta=0.0)


# ---------------------------------------------------------------- (e) Glow's dequantization bound


def test_glow_bound_is_log_density_of_the_dequantized_image_plus_d_log_h():
    """log_prob = log p(x + u) + D·log h with u = h·(rand − ½) from the generator, for several K on the same
    weights; x off the grid is snapped first. As K grows, log_prob − D·log h tends to the density at x."""
    shape, d = (1, 4, 4), 16
    base = glow(shape, levels=3)
    state = base.state_dict()
    x3 = from_levels(torch.randint(0, 3, (4, *shape), generator=torch.Generator().manual_seed(0)), 3)
    with torch.no_grad():
        density_at_x = std_normal(base.encode(x3)) + base.encode_logdet(x3)[1]
    gaps = {}
    for k in (3, 5, 9, 2 ** 16 + 1):
        model = glow(shape, levels=k)
        model.load_state_dict(state)
        model.eval()
        h = 2 / (k - 1)
        with torch.no_grad():
            lp = model.log_prob(x3 + 0.1 * h, torch.Generator().manual_seed(11))  # off-grid input snaps back
            u = (torch.rand((4, *shape), generator=torch.Generator().manual_seed(11)) - 0.5) * h
            z, logdet = model.encode_logdet(x3 + u)
        assert torch.isfinite(lp).all()
        torch.testing.assert_close(lp - (std_normal(z) + logdet), torch.full((4,), d * math.log(h)),
                                   atol=1e-4, rtol=0)
        gaps[k] = lp - d * math.log(h) - density_at_x
    assert gaps[3].abs().max() > 0.1  # a wide bin: p(x + u) differs from p(x) ...
    assert gaps[2 ** 16 + 1].abs().max() < 1e-3  # ... a fine grid: u -> 0


def test_glow_bound_probabilities_sum_to_at_most_one():
    """On 1×2×2 images with K = 9, Σ_x h^D·E_u p(x + u) is the model's mass on the box [−1 − h/2, 1 + h/2]^4 (≈ 1
    for a model concentrated inside it) and Σ_x exp(E_u log p(x + u) + D log h) ≤ that (Jensen)."""
    k, shape = 9, (1, 2, 2)
    model = glow(shape, levels=k, n_levels=1, depth=2, hidden=8)
    g = torch.Generator().manual_seed(0)
    init_actnorm(model, 0.25 * torch.randn(256, *shape, generator=g))
    perturb(model, 0.1)
    images = from_levels(torch.cartesian_prod(*[torch.arange(k)] * 4), k).reshape(-1, *shape)  # all 9^4
    draws = 64
    with torch.no_grad():
        lp = model.log_prob(images.repeat(draws, 1, 1, 1), g).reshape(draws, -1).double()
    stratified = lp.exp().mean(0).sum().item()
    jensen = lp.mean(0).exp().sum().item()
    assert abs(stratified - 1) < 1e-2
    assert jensen < stratified and jensen > 0.5
    # without the D·log h term the sum is h^-4 = 256 times larger: the check is sensitive to it
    assert abs(stratified * (k - 1) ** 4 / 16 - 1) > 100


def test_glow_at_init_is_finite_and_loss_uses_the_global_rng():
    model = glow((1, 8, 8), levels=17, depth=3, hidden=16)
    x = from_levels(torch.randint(0, 17, (8, 1, 8, 8)), 17)
    with torch.no_grad():
        lp = model.log_prob(x, torch.Generator().manual_seed(0))
    assert lp.shape == (8,) and torch.isfinite(lp).all()
    torch.manual_seed(4)
    a = model.loss(x)
    torch.manual_seed(4)
    b = model.loss(x)
    assert torch.equal(a, b) and a.requires_grad and model.flows[0][0].layers[0].initialized
    model.eval()
    with torch.no_grad():  # eval-mode log_prob does not depend on the rest of the batch
        one = model.log_prob(x[2:3], torch.Generator().manual_seed(0))
        z, logdet = model.encode_logdet(x)
        z1, logdet1 = model.encode_logdet(x[2:3])
    torch.testing.assert_close(z1, z[2:3], atol=1e-5, rtol=0)
    torch.testing.assert_close(logdet1, logdet[2:3], atol=1e-4, rtol=0)
    assert torch.isfinite(one).all()


# ---------------------------------------------------------------- state dict, eval-mode safety


def test_realnvp_state_dict_round_trip_and_batch_independence():
    model = realnvp(3)
    model.train()
    x = torch.randn(128, 3) * 4 - 2
    model.loss(x).mean().backward()  # the first training forward initializes ActNorm
    assert all(bool(n.initialized) for n in model.norms)
    perturb(model, 0.2)
    clone = realnvp(3, seed=99)
    clone.load_state_dict(model.state_dict())
    clone.train()  # initialized came with the state: a training forward does not re-initialize
    clone.loss(torch.randn(16, 3) * 100)
    model.eval()
    clone.eval()
    with torch.no_grad():
        lp = model.log_prob(x[:10])
        assert torch.equal(lp, clone.log_prob(x[:10]))
        single = torch.cat([model.log_prob(x[i:i + 1]) for i in range(10)])
    torch.testing.assert_close(single, lp, atol=1e-5, rtol=0)


def test_constructor_refusals():
    with pytest.raises(ConfigError):
        RealNVP([1])
    with pytest.raises(ConfigError):
        RealNVP([1, 8, 8], 17)
    with pytest.raises(ConfigError):
        RealNVP([4], 17)
    with pytest.raises(ConfigError):
        Glow([1, 8, 8], 0)
    with pytest.raises(ConfigError):
        Glow([1, 12, 12], 17, n_levels=3)
    assert RealNVP.likelihood_kind == "exact" and Glow.likelihood_kind == "bound"
    assert RealNVP.reversible and Glow.reversible
    assert RealNVP.sample_options == Glow.sample_options == ("temperature",)


# ---------------------------------------------------------------- (f) fitting a Gaussian


def test_realnvp_fits_a_gaussian_to_its_entropy():
    cov = torch.tensor([[2.0, 1.2], [1.2, 1.0]])
    mean = torch.tensor([1.0, -0.5])
    target = torch.distributions.MultivariateNormal(mean, cov)
    entropy = 0.5 * math.log(torch.det(2 * math.pi * math.e * cov).item())
    torch.manual_seed(0)
    model = RealNVP([2], 0, n_couplings=4, width=32, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(300):
        loss = model.loss(target.sample((256,))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    test = target.sample((20000,))
    with torch.no_grad():
        nll = -model.log_prob(test).mean().item()
    true_nll = -target.log_prob(test).mean().item()  # entropy ± sampling noise; nll − true_nll estimates the KL
    assert abs(true_nll - entropy) < 0.03
    assert abs(nll - entropy) < 0.05
    assert -0.01 < nll - true_nll < 0.05
