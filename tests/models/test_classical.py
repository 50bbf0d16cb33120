"""Tests for gankit.models.classical: bicubic upscaling and biharmonic inpainting baselines."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from gankit.data.masks import make_masks
from gankit.errors import ConfigError
from gankit.models.classical import bicubic_upscale, biharmonic_inpaint


def _cubic_kernel(t: np.ndarray, a: float) -> np.ndarray:
    """The cubic-convolution kernel (Keys 1981) with parameter a."""
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


# ---------------------------------------------------------------- bicubic


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_of_a_constant_is_constant(scale):
    lr = torch.full((2, 3, 7, 9), 0.37)
    up = bicubic_upscale(lr, scale)
    assert up.shape == (2, 3, 7 * scale, 9 * scale) and up.dtype == torch.float32
    torch.testing.assert_close(up, torch.full_like(up, 0.37), atol=1e-6, rtol=0)


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_of_a_ramp_is_the_ramp_in_the_interior(scale):
    """PyTorch's bicubic is cubic convolution with a = −0.75, which reproduces constants exactly but a linear ramp
    only up to a ripple that repeats every input pixel: at sub-pixel phase f the output is ramp(x) + slope·e(f),
    e(f) = Σ_k W(f − k)·k − f, with |e| = 3/64 at ×2, ≤ 21/512 ≈ 0.041 at ×4 (≤ 0.049 at any phase) and mean 0 over
    a period (a = −0.5 would make e ≡ 0).
    The test checks the interior (all four taps inside the image) against exactly that, so a changed kernel or a
    shifted pixel grid fails it."""
    w, slope, offset = 16, 0.1, -0.8
    lr = (offset + slope * torch.arange(w, dtype=torch.float64)).expand(1, 1, 5, w).contiguous()
    up = bicubic_upscale(lr, scale, kernel="torch")[0, 0].numpy()
    np.testing.assert_allclose(up, np.broadcast_to(up[:1], up.shape), atol=1e-12)  # no vertical change
    u = np.arange(w * scale)
    x = (u + 0.5) / scale - 0.5  # align_corners=False
    base = np.floor(x)
    interior = (base - 1 >= 0) & (base + 2 <= w - 1)
    taps = base[:, None] + np.arange(-1, 3)[None, :]
    ripple = (_cubic_kernel(x[:, None] - taps, -0.75) * taps).sum(1) - x
    ramp = offset + slope * x
    np.testing.assert_allclose(up[0, interior], ramp[interior] + slope * ripple[interior], atol=1e-9)
    bound = {2: 3 / 64, 4: 21 / 512}[scale]  # e at the phases ±1/4 (×2) and ±1/8 (×4)
    assert np.abs(up[0, interior] - ramp[interior]).max() <= bound * slope + 1e-12
    # the ripple averages out over whole input pixels: the ramp is reproduced on average
    period = up[0, interior][: (interior.sum() // scale) * scale] - ramp[interior][: (interior.sum() // scale) * scale]
    assert abs(period.mean()) < 1e-9


@pytest.mark.parametrize("scale", [2, 4])
def test_matlab_bicubic_reproduces_a_ramp_exactly_in_the_interior(scale):
    """Keys' a = −0.5 (MATLAB, the SR papers' bicubic rows) reproduces linear functions: no ripple away from the border."""
    w, slope, offset = 16, 0.1, -0.8
    lr = (offset + slope * torch.arange(w, dtype=torch.float64)).expand(1, 1, 5, w).contiguous()
    up = bicubic_upscale(lr, scale)[0, 0].numpy()
    x = (np.arange(w * scale) + 0.5) / scale - 0.5
    interior = (np.floor(x) - 1 >= 0) & (np.floor(x) + 2 <= w - 1)
    np.testing.assert_allclose(up[2, interior], offset + slope * x[interior], atol=1e-9)


def test_bicubic_clamps_overshoot_and_rejects_bad_scale(one_line):
    step = torch.full((1, 1, 4, 8), -1.0)
    step[..., 4:] = 1.0
    up = bicubic_upscale(step, 4)
    assert up.min() >= -1.0 and up.max() <= 1.0
    assert (up == 1.0).any() and (up == -1.0).any()
    with one_line(ConfigError, match="scale"):
        bicubic_upscale(step, 0)
    with one_line(ConfigError, match="scale"):
        bicubic_upscale(step, 1.5)


# ---------------------------------------------------------------- biharmonic


def _gradients(h: int, w: int) -> torch.Tensor:
    """1×3×h×w: a different linear function per channel, inside [-1, 1]."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([0.03 * xx - 0.02 * yy - 0.3, -0.025 * xx + 0.01 * yy + 0.2, 0.01 * xx + 0.01 * yy - 0.5])[None]


def test_biharmonic_preserves_the_known_region_bitwise():
    torch.manual_seed(0)
    image = torch.rand(3, 3, 40, 40) * 2 - 1
    mask = torch.cat([make_masks("free-form", 1, 40, 40, 5), make_masks("blocks", 1, 40, 40, 5),
                      make_masks("center", 1, 40, 40, 5)])
    out = biharmonic_inpaint(image, mask)
    assert out.shape == image.shape and out.dtype == torch.float32
    known = mask.expand_as(image) == 0
    assert torch.equal(out[known], image[known])
    assert out.min() >= -1 and out.max() <= 1
    # the hole really is filled: its values come from the known pixels, not from the input
    hole = ~known
    assert not torch.equal(out[hole], image[hole])
    assert torch.equal(biharmonic_inpaint(image.clone().masked_fill_(hole, 0.9), mask), out)


def test_biharmonic_fills_a_linear_gradient_almost_exactly():
    """A linear function is biharmonic (Δ²u = 0) and the discrete stencil annihilates it, so the fill is exact up to
    the solver's rounding (holes kept off the image edge, where scikit-image uses truncated stencils)."""
    image = _gradients(36, 40)
    mask = torch.zeros(2, 1, 36, 40)
    mask[0, 0, 8:28, 10:30] = 1  # a 20×20 block
    inner = make_masks("free-form", 1, 32, 36, seed=2)[0, 0]
    mask[1, 0, 2:34, 2:38] = inner  # strokes, 2 px away from the edge
    image = image.expand(2, -1, -1, -1).contiguous()
    out = biharmonic_inpaint(image, mask)
    hole = mask.expand_as(image) > 0
    assert hole[1].any()
    assert (out - image)[hole].abs().max() < 1e-3


def test_biharmonic_hole_in_a_constant_image_stays_constant():
    image = torch.full((1, 3, 24, 24), -0.25)
    mask = make_masks("center", 1, 24, 24, seed=0)
    out = biharmonic_inpaint(image, mask)
    torch.testing.assert_close(out, image, atol=1e-6, rtol=0)


def test_biharmonic_edge_cases(one_line):
    image = _gradients(12, 12)
    assert torch.equal(biharmonic_inpaint(image, torch.zeros(1, 1, 12, 12)), image)  # no hole: unchanged
    assert torch.equal(biharmonic_inpaint(image, torch.ones(1, 1, 12, 12)), torch.zeros_like(image))  # all hole: grey
    with one_line(ConfigError, match="mask of shape"):
        biharmonic_inpaint(image, torch.zeros(1, 1, 10, 12))
