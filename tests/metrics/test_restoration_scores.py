"""Numbers for gankit.metrics.restoration: BT.601 luma by hand, PSNR and SSIM against closed forms and scikit-image."""
from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.color
import skimage.metrics
import torch

from gankit.data.images import to_uint8
from gankit.errors import ConfigError
from gankit.metrics.restoration import psnr, restoration_scores, rgb_to_y, ssim, to_uint8_range


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def smooth_image(seed: int, shape: tuple[int, ...], sigma: float = 3.0) -> np.ndarray:
    """Random field blurred with a Gaussian, rescaled to [0, 255] (float64): locally correlated like a photo."""
    from scipy.ndimage import gaussian_filter

    axes = (sigma, sigma) + (0,) * (len(shape) - 2)
    x = gaussian_filter(rng(seed).standard_normal(shape), axes)
    return 255 * (x - x.min()) / (x.max() - x.min())


# ------------------------------------------------------------------------------------------------- rgb_to_y
@pytest.mark.parametrize("rgb, y", [
    ((0, 0, 0), 16.0),
    ((255, 255, 255), 235.0),
    ((255, 0, 0), 16 + 65.481),
    ((0, 255, 0), 16 + 128.553),
    ((0, 0, 255), 16 + 24.966),
    ((100, 50, 200), 16 + (65.481 * 100 + 128.553 * 50 + 24.966 * 200) / 255),
])
def test_rgb_to_y_hand_values(rgb, y):
    arr = np.array(rgb, dtype=np.uint8).reshape(1, 1, 3)
    out = rgb_to_y(arr)
    assert out.dtype == np.float64 and out.shape == (1, 1)
    assert out[0, 0] == pytest.approx(y, abs=1e-12)
    t = torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1)
    out_t = rgb_to_y(t)
    assert out_t.dtype == torch.float32 and out_t.shape == (1, 1, 1)
    assert out_t.item() == pytest.approx(y, abs=1e-4)


def test_rgb_to_y_agrees_with_skimage_and_keeps_kind():
    img = rng(1).integers(0, 256, (17, 23, 3)).astype(np.uint8)
    ref = skimage.color.rgb2ycbcr(img / 255.0)[..., 0]
    np.testing.assert_allclose(rgb_to_y(img), ref, rtol=0, atol=1e-12)
    # torch N×3×H×W, float64 kept, channel axis kept as 1
    t = torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    out = rgb_to_y(t)
    assert out.dtype == torch.float64 and out.shape == (2, 1, 17, 23)
    np.testing.assert_allclose(out[1, 0].numpy(), ref, rtol=0, atol=1e-12)
    assert rgb_to_y(t.float()).dtype == torch.float32
    # Y of in-range input stays in [16, 235]
    assert 16 <= rgb_to_y(img).min() and rgb_to_y(img).max() <= 235


def test_rgb_to_y_rejects_non_rgb(one_line):
    with one_line(ConfigError, match="rgb_to_y"):
        rgb_to_y(np.zeros((4, 4, 4)))
    with one_line(ConfigError, match="rgb_to_y"):
        rgb_to_y(torch.zeros(1, 1, 4, 4))


# ----------------------------------------------------------------------------------------------------- PSNR
@pytest.mark.parametrize("d", [1, 3, 10])
def test_psnr_constant_offset_closed_form(d):
    a = rng(2).integers(20, 200, (16, 16, 3)).astype(np.uint8)
    b = (a + d).astype(np.uint8)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / d**2), abs=1e-10)
    # same offset in every channel -> Y offset is d·(65.481 + 128.553 + 24.966)/255 = d·219/255
    dy = d * 219 / 255
    assert psnr(a, b, y_channel=True) == pytest.approx(10 * math.log10(255**2 / dy**2), abs=1e-9)


def test_psnr_agrees_with_skimage_numpy_and_torch():
    a = rng(3).integers(0, 256, (20, 24, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng(4).integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    ref = skimage.metrics.peak_signal_noise_ratio(a, b, data_range=255)
    assert psnr(a, b) == pytest.approx(ref, abs=1e-10)
    ta = torch.from_numpy(a).permute(2, 0, 1)
    tb = torch.from_numpy(b).permute(2, 0, 1)
    assert psnr(ta, tb) == pytest.approx(ref, abs=1e-10)
    # batches: one value per image, in the input's kind
    batch = psnr(torch.stack([ta, ta]), torch.stack([tb, ta]))
    assert isinstance(batch, torch.Tensor) and batch.shape == (2,)
    assert batch[0].item() == pytest.approx(ref, abs=1e-10) and batch[1].item() == math.inf
    nb = psnr(np.stack([a, a]), np.stack([b, b]))
    assert isinstance(nb, np.ndarray) and nb.shape == (2,)
    np.testing.assert_allclose(nb, ref, atol=1e-10)
    # Y channel equals skimage's PSNR of skimage's Y planes
    ya = skimage.color.rgb2ycbcr(a / 255.0)[..., 0]
    yb = skimage.color.rgb2ycbcr(b / 255.0)[..., 0]
    ref_y = skimage.metrics.peak_signal_noise_ratio(ya, yb, data_range=255)
    assert psnr(a, b, y_channel=True) == pytest.approx(ref_y, abs=1e-9)


def test_psnr_crop_border_crops_exactly():
    a = rng(5).integers(0, 256, (20, 20, 3)).astype(np.uint8)
    b = a.copy()
    b[:4, :, :] = 255 - b[:4, :, :]  # difference only in the top 4 rows
    b[:, -4:, 0] = 0  # and the right 4 columns
    assert psnr(a, b, crop_border=4) == math.inf
    assert math.isfinite(psnr(a, b, crop_border=3))
    # the crop removes exactly crop_border pixels per side: compare with slicing by hand
    c = np.clip(a.astype(int) + rng(6).integers(-5, 6, a.shape), 0, 255)
    assert psnr(a, c, crop_border=2) == pytest.approx(psnr(a[2:-2, 2:-2], c[2:-2, 2:-2]), abs=1e-12)


def test_psnr_data_range():
    a = rng(7).random((8, 8))
    b = a + 0.1
    assert psnr(a, b, data_range=1.0) == pytest.approx(20.0, abs=1e-9)


# ----------------------------------------------------------------------------------------------------- SSIM
def test_ssim_identical_is_one():
    a = smooth_image(8, (32, 32, 3))
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert ssim(a, a, y_channel=True) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("kind", ["random", "smooth"])
def test_ssim_agrees_with_skimage_grey(kind):
    # skimage filters the full image with reflection and crops (win-1)/2 = 5 pixels of its map: that leaves exactly
    # the positions whose 11×11 window lies inside the image, i.e. our 'valid' map, so the means must agree.
    if kind == "random":
        a = rng(9).integers(0, 256, (40, 36)).astype(np.float64)
        b = np.clip(a + rng(10).normal(0, 25, a.shape), 0, 255)
    else:
        a = smooth_image(11, (40, 36))
        b = np.clip(0.8 * a + 20 + rng(12).normal(0, 5, a.shape), 0, 255)
    ref = skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                                data_range=255)
    assert ssim(a, b) == pytest.approx(ref, abs=1e-10)
    t = ssim(torch.from_numpy(a)[None], torch.from_numpy(b)[None])
    assert t == pytest.approx(ref, abs=1e-10)


def test_ssim_agrees_with_skimage_colour_and_batch():
    a = smooth_image(13, (30, 34, 3))
    b = np.clip(a + rng(14).normal(0, 15, a.shape), 0, 255)
    ref = skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                                data_range=255, channel_axis=2)
    assert ssim(a, b) == pytest.approx(ref, abs=1e-10)
    ta = torch.from_numpy(a).permute(2, 0, 1)
    tb = torch.from_numpy(b).permute(2, 0, 1)
    batch = ssim(torch.stack([ta, ta]), torch.stack([tb, ta]))
    assert batch.shape == (2,)
    assert batch[0].item() == pytest.approx(ref, abs=1e-10) and batch[1].item() == pytest.approx(1.0, abs=1e-12)
    # y_channel: SSIM of the Y planes
    ya = skimage.color.rgb2ycbcr(a / 255.0)[..., 0]
    yb = skimage.color.rgb2ycbcr(b / 255.0)[..., 0]
    ref_y = skimage.metrics.structural_similarity(ya, yb, gaussian_weights=True, sigma=1.5,
                                                  use_sample_covariance=False, data_range=255)
    assert ssim(a, b, y_channel=True) == pytest.approx(ref_y, abs=1e-10)
    # cropping is the same as slicing by hand
    assert ssim(a, b, crop_border=3) == pytest.approx(ssim(a[3:-3, 3:-3], b[3:-3, 3:-3]), abs=1e-12)


@pytest.mark.parametrize("mu, c", [(100.0, 10.0), (50.0, 100.0), (0.0, 255.0)])
def test_ssim_constant_images_closed_form(mu, c):
    # Constant images: all local variances and the covariance are 0, so the contrast-structure term is C2/C2 = 1
    # and SSIM is the luminance term (2·μa·μb + C1) / (μa² + μb² + C1) at every position.
    c1 = (0.01 * 255) ** 2
    a = np.full((16, 16), mu)
    b = a + c
    expected = (2 * mu * (mu + c) + c1) / (mu**2 + (mu + c) ** 2 + c1)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_ssim_rejects_images_too_small_after_crop(one_line):
    a = np.zeros((20, 20))
    with one_line(ConfigError, match="ssim: crop_border=5"):
        ssim(a, a, crop_border=5)
    with one_line(ConfigError, match="differ in shape"):
        ssim(a, np.zeros((20, 21)))
    with one_line(ConfigError, match="crop_border=-1"):
        psnr(a, a, crop_border=-1)
    with one_line(ConfigError, match="y_channel"):
        psnr(np.zeros((4, 4, 2)), np.zeros((4, 4, 2)), y_channel=True)
    with one_line(ConfigError, match="torch"):
        psnr(a, torch.zeros(20, 20))


# ------------------------------------------------------------------------------------------ restoration_scores
def test_to_uint8_range_matches_gankit_quantization():
    x = torch.linspace(-1.2, 1.2, 1001).view(1, 1, 1, -1)
    out = to_uint8_range(x)
    assert out.dtype == torch.float32 and out.min() == 0 and out.max() == 255
    assert torch.equal(out, to_uint8(x).float())
    assert torch.equal(out, (x * 127.5 + 128).clamp(0, 255).floor())


def test_restoration_scores_identical_images():
    x = torch.rand(2, 3, 24, 24) * 2 - 1
    s = restoration_scores(x, x, scale_crop=4)
    assert set(s) == {"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"}
    assert all(isinstance(v, float) for v in s.values())
    assert s["psnr_y"] == math.inf and s["psnr_rgb"] == math.inf
    assert s["ssim_y"] == pytest.approx(1.0, abs=1e-12) and s["ssim_rgb"] == pytest.approx(1.0, abs=1e-12)


def test_restoration_scores_y_and_rgb_differ_for_a_colour_shift():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 32, 32, generator=gen) * 1.6 - 0.8
    restored = target.clone()
    restored[:, 0] += 16 / 127.5  # red +16 grey levels, blue -16: Y moves by 16·(65.481 − 24.966)/255 only
    restored[:, 2] -= 16 / 127.5
    s = restoration_scores(restored, target, scale_crop=2)
    a, b = to_uint8_range(restored), to_uint8_range(target)
    assert s["psnr_rgb"] == pytest.approx(float(psnr(a, b, crop_border=2).mean()), abs=1e-12)
    assert s["psnr_y"] == pytest.approx(float(psnr(a, b, crop_border=2, y_channel=True).mean()), abs=1e-12)
    # 8-bit rounding can move a channel by 16 ± 1 levels; the closed forms bracket the scores.
    assert 10 * math.log10(255**2 / (2 * 17**2 / 3)) <= s["psnr_rgb"] <= 10 * math.log10(255**2 / (2 * 15**2 / 3))
    dy_hi, dy_lo = (17 * 65.481 - 15 * 24.966) / 255, (15 * 65.481 - 17 * 24.966) / 255
    assert 10 * math.log10(255**2 / dy_hi**2) - 1e-9 <= s["psnr_y"] <= 10 * math.log10(255**2 / dy_lo**2) + 1e-9
    assert s["psnr_y"] > s["psnr_rgb"] + 3
    assert s["ssim_y"] != pytest.approx(s["ssim_rgb"], abs=1e-4)


def test_restoration_scores_grey_y_equals_grey():
    gen = torch.Generator().manual_seed(1)
    target = torch.rand(3, 1, 20, 20, generator=gen) * 2 - 1
    restored = (target + 0.05 * torch.randn(3, 1, 20, 20, generator=gen)).clamp(-1, 1)
    s = restoration_scores(restored, target, scale_crop=3)
    assert s["psnr_y"] == s["psnr_rgb"] and s["ssim_y"] == s["ssim_rgb"]
    a, b = to_uint8_range(restored)[:, 0], to_uint8_range(target)[:, 0]
    ref = np.mean([skimage.metrics.peak_signal_noise_ratio(x[3:-3, 3:-3].numpy(), y[3:-3, 3:-3].numpy(), data_range=255)
                   for x, y in zip(b, a)])
    assert s["psnr_y"] == pytest.approx(ref, abs=1e-9)


def test_restoration_scores_bad_input(one_line):
    x = torch.zeros(1, 3, 16, 16)
    with one_line(ConfigError, match="restoration_scores"):
        restoration_scores(x, torch.zeros(1, 3, 16, 17), scale_crop=0)
    with one_line(ConfigError, match="restoration_scores"):
        restoration_scores(torch.zeros(3, 16, 16), torch.zeros(3, 16, 16), scale_crop=0)
    with one_line(ConfigError, match="scale_crop"):
        restoration_scores(x, x, scale_crop=-2)
