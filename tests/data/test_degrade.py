"""Numbers for gankit.data.degrade: MATLAB bicubic weights by hand, linear reproduction, MATLAB vs PIL kernels."""
from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from gankit.data.degrade import degrade, imresize, matlab_contributions
from gankit.errors import ConfigError
from gankit.metrics.restoration import psnr, restoration_scores


def keys(x: float, a: float = -0.5) -> float:
    """Keys' cubic convolution kernel, written out from the paper's formula."""
    x = abs(x)
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    """scikit-image's 512×512 RGB test photo as float64 1×3×512×512 in [-1, 1]."""
    return torch.from_numpy(skimage.data.astronaut()).permute(2, 0, 1)[None].double() / 127.5 - 1


# ------------------------------------------------------------------------------------------ MATLAB weights
def test_half_scale_interior_weights_are_stretched_keys_by_hand():
    # ×1/2: output pixel o (1-based) sits at u = 2o − 0.5, between input pixels 2o−1 and 2o; the eight inputs
    # 2o−4 .. 2o+3 lie at distances ±0.5, ±1.5, ±2.5, ±3.5 from u, which the kernel stretched by 2 sees as
    # ±0.25, ±0.75, ±1.25, ±1.75; weight = keys(d/2)/2, then normalised (the eight already sum to 1).
    offsets = [1.75, 1.25, 0.75, 0.25, 0.25, 0.75, 1.25, 1.75]
    raw = [keys(d) / 2 for d in offsets]
    expected = np.array(raw) / sum(raw)
    assert sum(raw) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(expected[:4], [-0.01171875, -0.03515625, 0.11328125, 0.43359375], rtol=0, atol=1e-15)
    weights, indices = matlab_contributions(20, 10, 0.5)
    assert weights.shape == (10, 8)
    for o in range(2, 8):  # 0-based outputs whose taps stay inside 0..19
        np.testing.assert_allclose(weights[o].numpy(), expected, rtol=0, atol=1e-15)
        assert indices[o].tolist() == list(range(2 * o - 3, 2 * o + 5))
    # at the border the indices fold back symmetrically (edge pixel repeated) and the weights are the same
    assert indices[0].tolist() == [2, 1, 0, 0, 1, 2, 3, 4]
    np.testing.assert_allclose(weights[0].numpy(), expected, rtol=0, atol=1e-15)
    assert indices[9].tolist() == [15, 16, 17, 18, 19, 19, 18, 17]


def test_upscale_weights_are_keys_at_the_sample_offsets():
    # ×2, no antialiasing: output o (1-based) sits at u = o/2 + 0.25; for o = 6, u = 3.25, taps 2..5 at distances
    # 1.25, 0.25, −0.75, −1.75 (width-4 kernel, unstretched).
    weights, indices = matlab_contributions(10, 20, 2.0)
    assert weights.shape == (20, 4)
    expected = [keys(1.25), keys(0.25), keys(0.75), keys(1.75)]
    np.testing.assert_allclose(weights[5].numpy(), expected, rtol=0, atol=1e-15)
    assert indices[5].tolist() == [1, 2, 3, 4]
    assert torch.allclose(weights.sum(1), torch.ones(20, dtype=torch.float64), atol=1e-15)


def test_ramp_gives_local_means_in_the_interior():
    # Cubic convolution reproduces linear functions, and the ×1/2 kernel is symmetric about u = 2o − 0.5, so in the
    # interior every output row is the mean of its two input rows. At the border the mirrored ramp is not linear.
    h, w = 32, 12
    ramp = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1).expand(1, 1, h, w).contiguous() * 0.1
    out = imresize(ramp, 0.5)
    assert out.shape == (1, 1, 16, 6)
    means = 0.5 * (ramp[0, 0, 0::2, 0] + ramp[0, 0, 1::2, 0])
    torch.testing.assert_close(out[0, 0, 2:-2], means[2:-2, None].expand(12, 6), rtol=0, atol=1e-13)
    assert (out[0, 0, 0] - means[0]).abs().max() > 1e-3
    # ×1/4: mean of the four input rows
    out4 = imresize(ramp, 0.25)
    means4 = ramp[0, 0, :, 0].view(8, 4).mean(1)
    torch.testing.assert_close(out4[0, 0, 2:-2], means4[2:-2, None].expand(4, 3), rtol=0, atol=1e-13)


@pytest.mark.parametrize("scale", [0.5, 0.25, 2.0, 4.0])
def test_constant_image_stays_constant_everywhere(scale):
    x = torch.full((2, 3, 13, 18), 0.37)
    out = imresize(x, scale)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full_like(out, 0.37), rtol=0, atol=1e-7)


@pytest.mark.parametrize("h, w, scale, size", [(32, 48, 0.5, (16, 24)), (32, 48, 0.25, (8, 12)), (33, 47, 0.5, (17, 24)),
                                               (30, 30, 0.25, (8, 8)), (8, 5, 2, (16, 10)), (8, 5, 4, (32, 20))])
def test_output_sizes(h, w, scale, size):
    x = torch.rand(2, 3, h, w)
    assert imresize(x, scale).shape == (2, 3, *size)
    assert imresize(x, scale, kernel="pil").shape == (2, 3, *size)


# ------------------------------------------------------------------------------------------ MATLAB vs PIL
def test_pil_kernel_is_pil():
    x = np.random.default_rng(0).random((37, 29)).astype(np.float32)
    for scale in (0.5, 0.25, 2.0):
        size = (math.ceil(29 * scale), math.ceil(37 * scale))
        ref = np.asarray(Image.fromarray(x, mode="F").resize(size, Image.Resampling.BICUBIC))
        out = imresize(torch.from_numpy(x)[None, None], scale, kernel="pil")[0, 0].numpy()
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("scale, border", [(0.5, 2), (0.25, 2), (2.0, 3), (4.0, 6)])
def test_matlab_and_pil_agree_inside_and_differ_at_the_border(astronaut, scale, border):
    hr = astronaut[..., :96, :128].float()
    m = imresize(hr, scale)
    p = imresize(hr, scale, kernel="pil")
    inner = (slice(None), slice(None), slice(border, -border), slice(border, -border))
    torch.testing.assert_close(m[inner], p[inner], rtol=0, atol=1e-5)
    # the outermost ring differs: mirrored taps vs taps dropped and renormalised
    ring = torch.ones(m.shape[-2:], dtype=torch.bool)
    ring[border:-border, border:-border] = False
    assert (m - p).abs()[..., ring].max() > 1e-3
    # and the difference reaches exactly `border` pixels in (the next ring in is already equal)
    edge = (m - p).abs().amax(dim=(0, 1))
    assert edge[border - 1, border:-border].max() > 1e-4 or edge[border:-border, border - 1].max() > 1e-4


def test_kernel_difference_on_a_photo(astronaut):
    # The numbers quoted in gankit.data.degrade's docstring.
    to255 = lambda t: (t + 1) * 127.5  # noqa: E731
    lr_m2, lr_p2 = imresize(astronaut, 0.5), imresize(astronaut, 0.5, kernel="pil")
    lr_m4, lr_p4 = imresize(astronaut, 0.25), imresize(astronaut, 0.25, kernel="pil")
    assert psnr(to255(lr_p2[0]), to255(lr_m2[0])) == pytest.approx(66.6, abs=0.05)
    assert psnr(to255(lr_p4[0]), to255(lr_m4[0])) == pytest.approx(58.4, abs=0.05)
    assert to255(lr_p2).sub(to255(lr_m2)).abs().max().item() == pytest.approx(10.5, abs=0.05)
    assert to255(lr_p4).sub(to255(lr_m4)).abs().max().item() == pytest.approx(12.2, abs=0.05)
    # the bicubic baseline (LR upscaled back with the MATLAB kernel, Y PSNR, crop = scale) barely moves
    for s, lr_m, lr_p in ((2, lr_m2, lr_p2), (4, lr_m4, lr_p4)):
        base_m = restoration_scores(imresize(lr_m, s).clamp(-1, 1), astronaut, scale_crop=s)["psnr_y"]
        base_p = restoration_scores(imresize(lr_p, s).clamp(-1, 1), astronaut, scale_crop=s)["psnr_y"]
        assert 0 < abs(base_m - base_p) < 1e-3


# ------------------------------------------------------------------------------------------------ degrade
def test_degrade_shapes_range_and_equivalence_to_imresize():
    hr = torch.rand(2, 3, 32, 40) * 2 - 1
    lr = degrade(hr, 4)
    assert lr.shape == (2, 3, 8, 10) and lr.dtype == torch.float32
    torch.testing.assert_close(lr, imresize(hr, 0.25).clamp(-1, 1), rtol=0, atol=0)
    assert degrade(hr, 2, kernel="pil").shape == (2, 3, 16, 20)
    assert lr.min() >= -1 and lr.max() <= 1


def test_degrade_noise_is_reproducible_and_has_the_given_std():
    hr = torch.zeros(4, 3, 64, 64)
    a = degrade(hr, 2, noise_std=0.1, generator=torch.Generator().manual_seed(7))
    b = degrade(hr, 2, noise_std=0.1, generator=torch.Generator().manual_seed(7))
    c = degrade(hr, 2, noise_std=0.1, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.std().item() == pytest.approx(0.1, rel=0.03)


def test_degrade_blur():
    # A constant image is unchanged by a normalised blur with reflect padding; an impulse spreads with variance σ².
    assert torch.allclose(degrade(torch.full((1, 1, 32, 32), 0.5), 2, blur_sigma=1.5), torch.full((1, 1, 16, 16), 0.5))
    from gankit.data.degrade import _gaussian_blur

    x = torch.zeros(1, 1, 31, 31, dtype=torch.float64)
    x[0, 0, 15, 15] = 1.0
    y = _gaussian_blur(x, 2.0)[0, 0]
    assert y.sum().item() == pytest.approx(1.0, abs=1e-12)
    t = torch.arange(31, dtype=torch.float64) - 15
    # variance of the Gaussian truncated at radius ceil(3σ) = 6 and renormalised, summed by hand
    g = [math.exp(-k * k / 8) for k in range(-6, 7)]
    expected = sum(gk * k * k for gk, k in zip(g, range(-6, 7))) / sum(g)
    assert 3.9 < expected < 4.0
    assert (y.sum(1) * t**2).sum().item() == pytest.approx(expected, abs=1e-12)
    assert (y[15, 15 + 7:] == 0).all() and y[15, 15 + 6] > 0  # kernel radius ceil(3σ) = 6


@pytest.mark.parametrize("kwargs, match", [
    (dict(scale=3), "scale=3"), (dict(scale=0.5), "scale=0.5"), (dict(scale=True), "scale=True"),
    (dict(scale=2, kernel="lanczos"), "kernel='lanczos'"), (dict(scale=2, noise_std=-0.1), "noise_std"),
    (dict(scale=2, blur_sigma=float("nan")), "blur_sigma"), (dict(scale=2, blur_sigma=20.0), "blur_sigma=20.0"),
])
def test_degrade_bad_arguments(one_line, kwargs, match):
    with one_line(ConfigError, match=match):
        degrade(torch.zeros(1, 3, 16, 16), **kwargs)


def test_imresize_bad_arguments(one_line):
    with one_line(ConfigError, match="kernel"):
        imresize(torch.zeros(1, 1, 8, 8), 0.5, kernel="nearest")
    with one_line(ConfigError, match="scale=0"):
        imresize(torch.zeros(1, 1, 8, 8), 0)
    with one_line(ConfigError, match="to_float"):
        imresize(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), 0.5)
