"""gankit.regularizers: every penalty against hand-computed values on tiny critics (linear, quadratic, conditional)."""
from __future__ import annotations

import math

import pytest
import numpy as np
import torch
from torch import nn

from gankit import regularizers as R

F64 = torch.float64


class Linear(nn.Module):
    """D(x) = wᵀx + b: ∇D = w everywhere, so ‖∇D‖ = ‖w‖."""

    def __init__(self, w: list[float], b: float = 0.3) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=F64))
        self.b = nn.Parameter(torch.tensor(b, dtype=F64))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return x.flatten(1) @ self.w + self.b


class Quadratic(nn.Module):
    """D(x) = ½ xᵀAx with A symmetric: ∇D(x) = Ax, a gradient that changes from sample to sample."""

    def __init__(self, A: torch.Tensor) -> None:
        super().__init__()
        self.A = nn.Parameter(A.clone())

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * ((x @ self.A) * x).sum(1)


class CondLinear(nn.Module):
    """D(x, c) = w_cᵀx: each class has its own slope."""

    def __init__(self, W: torch.Tensor) -> None:
        super().__init__()
        self.W = nn.Parameter(W.clone())

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return (x * self.W[c]).sum(1)


A = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 0.4]], dtype=F64)


def data(n: int = 6, d: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randn(n, d, generator=g, dtype=F64) + 2.0


# ------------------------------------------------------------------ linear critic: closed forms

@pytest.mark.parametrize("w", [[3.0, 4.0, 0.0], [0.3, -0.4, 0.0], [1.0, 0.0, 0.0]])
def test_linear_critic_closed_forms(w):
    D = Linear(w)
    norm = math.hypot(*w)  # 5, 0.5, 1
    real, fake = data()
    gp = R.gradient_penalty(D, real, fake)
    assert gp.shape == (6,)
    assert torch.allclose(gp, torch.full((6,), (norm - 1) ** 2, dtype=F64))
    one = R.gradient_penalty(D, real, fake, one_sided=True)
    assert torch.allclose(one, torch.full((6,), max(norm - 1, 0.0) ** 2, dtype=F64))
    assert torch.allclose(R.dragan_penalty(D, real), torch.full((6,), (norm - 1) ** 2, dtype=F64))
    assert torch.allclose(R.r1_penalty(D, real), torch.full((6,), norm**2, dtype=F64))
    assert torch.allclose(R.r2_penalty(D, fake), torch.full((6,), norm**2, dtype=F64))


def test_one_sided_is_zero_below_one_and_equal_above():
    real, fake = data()
    small, big = Linear([0.3, 0.4, 0.0]), Linear([1.2, 1.6, 0.0])  # ‖w‖ = 0.5 and 2
    assert R.gradient_penalty(small, real, fake, one_sided=True).abs().max().item() == 0.0
    assert R.gradient_penalty(small, real, fake).allclose(torch.full((6,), 0.25, dtype=F64))
    assert torch.equal(R.gradient_penalty(big, real, fake, one_sided=True), R.gradient_penalty(big, real, fake))


def test_penalty_gradients_reach_the_critic_weights():
    # create_graph=True: d/dw mean (‖w‖ − 1)² = 2(‖w‖ − 1) w/‖w‖ and d/dw ‖w‖² = 2w.
    w = torch.tensor([3.0, 4.0, 0.0], dtype=F64)
    real, fake = data()
    D = Linear(w.tolist())
    R.gradient_penalty(D, real, fake).mean().backward()
    assert torch.allclose(D.w.grad, 2 * (5 - 1) * w / 5)
    assert D.b.grad is None or D.b.grad.item() == 0.0  # the bias does not change the slope
    D = Linear(w.tolist())
    R.r1_penalty(D, real).mean().backward()
    assert torch.allclose(D.w.grad, 2 * w)


# ------------------------------------------------------------------ quadratic critic: per-sample gradients

def test_quadratic_r1_r2_per_sample():
    D = Quadratic(A)
    real, fake = data()
    assert torch.allclose(R.r1_penalty(D, real), ((real @ A) ** 2).sum(1))
    assert torch.allclose(R.r2_penalty(D, fake), ((fake @ A) ** 2).sum(1))
    assert torch.allclose(R.input_gradient(D, real), real @ A)


def test_quadratic_gp_on_interpolates_with_the_drawn_eps():
    D = Quadratic(A)
    real, fake = data(n=8)
    torch.manual_seed(5)
    gp = R.gradient_penalty(D, real, fake)
    torch.manual_seed(5)
    eps = torch.rand(8, 1, dtype=F64)  # one ε ~ U[0, 1] per sample, the first draw the penalty makes
    x_hat = eps * real + (1 - eps) * fake
    expected = (torch.linalg.vector_norm(x_hat @ A, dim=1) - 1) ** 2
    assert torch.allclose(gp, expected)
    # the interpolates lie on the segments: ε differs per sample, so per-sample values differ
    assert gp.unique().numel() == 8


def test_images_flatten_per_sample():
    # an image critic D(x) = Σ w ⊙ x: ‖∇‖² = Σ w² for every sample
    w = torch.arange(12, dtype=F64).view(3, 2, 2) / 10
    D = lambda x, c=None: (x * w).sum((1, 2, 3))  # noqa: E731
    x = torch.randn(4, 3, 2, 2, dtype=F64)
    assert torch.allclose(R.r1_penalty(D, x), torch.full((4,), (w**2).sum().item(), dtype=F64))


def test_conditional_critic_uses_the_labels():
    W = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]], dtype=F64)  # ‖w_0‖ = 5, ‖w_1‖ = 2
    D = CondLinear(W)
    real, fake = data(n=4)
    c = torch.tensor([0, 1, 1, 0])
    assert torch.allclose(R.r1_penalty(D, real, c), torch.tensor([25.0, 4.0, 4.0, 25.0], dtype=F64))
    assert torch.allclose(R.gradient_penalty(D, real, fake, c), torch.tensor([16.0, 1.0, 1.0, 16.0], dtype=F64))
    assert torch.allclose(R.dragan_penalty(D, real, c), torch.tensor([16.0, 1.0, 1.0, 16.0], dtype=F64))


def test_zero_gradient_is_finite():
    # A constant critic: ‖∇‖ = 0 exactly; the GP is 1 and its weight gradient is finite (no 0/0 from the norm).
    D = Linear([0.0, 0.0, 0.0])
    real, fake = data()
    gp = R.gradient_penalty(D, real, fake)
    assert torch.allclose(gp, torch.ones(6, dtype=F64))
    gp.mean().backward()
    assert torch.isfinite(D.w.grad).all()


# ------------------------------------------------------------------ DRAGAN's perturbations

def test_dragan_points_statistics():
    torch.manual_seed(0)
    x = torch.randn(20000, 2, dtype=F64) * 3.0 + 1.0
    s = x.std().item()
    # = α·0.5·std(x)·u: u ~ U[0, 1) per element, α ~ U[0, 1) per sample (the reference code's interpolate
    # between x and its perturbation x + 0.5·std·u)
    delta = R.dragan_points(x) - x
    assert delta.min().item() >= 0.0 and delta.max().item() <= 0.5 * s
    assert delta.mean().item() == pytest.approx(0.5 * s / 4, rel=0.02)  # E[αu] = ¼
    assert delta.std().item() == pytest.approx(0.5 * s * math.sqrt(7 / 144), rel=0.02)  # Var[αu] = 1/9 − 1/16
    # one α per sample couples a sample's coordinates: corr(αu₁, αu₂) = (1/12 − 1/16) / (7/144) = 3/7
    # (0 for the α = 1 special case, independent per element)
    corr = np.corrcoef(delta[:, 0].numpy(), delta[:, 1].numpy())[0, 1]
    assert corr == pytest.approx(3 / 7, abs=0.02)
    assert R.dragan_points(x, scale=0.0).equal(x)


# ------------------------------------------------------------------ consistency, drift, clipping

def test_bcr_with_a_known_augmentation():
    D = Linear([1.0, -2.0, 0.5])
    real, _ = data()
    shift = lambda x: x + 1.0  # noqa: E731  D(x) − D(x + 1) = −Σw = 0.5 for every sample
    assert torch.allclose(R.consistency_penalty(D, real, shift), torch.full((6,), 0.25, dtype=F64))
    # a non-linear critic: (½xᵀAx − ½(−x)ᵀA(−x))² = 0 under negation, and matches by hand under scaling
    Q = Quadratic(A)
    assert R.consistency_penalty(Q, real, lambda x: -x).abs().max().item() < 1e-12
    half = 0.5 * ((real @ A) * real).sum(1)
    assert torch.allclose(R.consistency_penalty(Q, real, lambda x: 2 * x), (half - 4 * half) ** 2)
    # precomputed logits give the same value
    assert torch.allclose(R.consistency_penalty(Q, real, lambda x: 2 * x, logits=Q(real)), (3 * half) ** 2)


def test_drift_is_the_squared_score():
    logits = torch.tensor([-2.0, 0.0, 3.0])
    assert R.drift_penalty(logits).tolist() == [4.0, 0.0, 9.0]


def test_clip_weights_bounds_every_parameter():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    before = [p.detach().clone() for p in D.parameters()]
    R.clip_weights(D, 0.01)
    for p, b in zip(D.parameters(), before):
        assert p.abs().max().item() <= 0.01
        inside = b.abs() <= 0.01
        assert torch.equal(p[inside], b[inside])  # values already inside are unchanged
        assert torch.equal(p[~inside], 0.01 * b[~inside].sign())


def test_every_penalty_is_a_registered_term_of_d():
    from gankit.terms import TERMS, of_phase

    d_terms = [c.name for c in of_phase("D")]
    assert d_terms == ["gp", "dragan", "r1", "r2", "bcr_real", "bcr_fake", "drift"]  # the order their values are summed
    assert set(TERMS.names()) == set(d_terms) | {"feature_matching", "pl", "unroll", "topk"}
