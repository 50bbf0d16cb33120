"""Image-restoration scores as the super-resolution literature reports them: PSNR and SSIM on the Y channel (or RGB)
of 8-bit images, with ``scale`` pixels cropped from every side.

Definitions followed (the numbers in SR papers come from these, so they are reproduced exactly, not approximately):

* Luma: ITU-R BT.601 "studio swing" Y as MATLAB's ``rgb2ycbcr`` and BasicSR's ``bgr2ycbcr(y_only=True)`` compute it
  for RGB in [0, 255]: ``Y = 16 + (65.481·R + 128.553·G + 24.966·B) / 255``, in [16, 235] for in-range input.
  MATLAB's ``rgb2ycbcr`` on a *uint8* image also rounds Y to uint8; BasicSR (and this module) keep Y unrounded.
* PSNR: ``10·log10(L² / MSE)``, MSE over all cropped pixels and channels of one image, L = 255 (BasicSR
  ``calculate_psnr``; infinite when the images are equal).
* SSIM: Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error visibility to
  structural similarity", IEEE TIP 13(4), 2004, in the form of the authors' MATLAB ``ssim_index.m`` and BasicSR's
  ``calculate_ssim``: 11×11 Gaussian window with σ = 1.5 (normalised), C1 = (0.01·L)², C2 = (0.03·L)², local means
  and (biased, 1/N) variances by 'valid' filtering (the map is (H−10)×(W−10)), SSIM = mean of the map; for several
  channels the mean of the per-channel SSIMs. This equals scikit-image's ``structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``, which filters with reflection and then crops
  the 5-pixel border where the reflection would matter.
* Grey (1-channel) images with ``y_channel=True`` are taken to be Y already (BasicSR's ``to_y_channel`` leaves them
  unchanged), so Y scores and grey scores coincide.

:func:`restoration_scores` is the one-call version for gankit images (N×C×H×W in [-1, 1]): it first puts both
images on the 8-bit grid exactly as gankit writes and scores generated images (:func:`gankit.data.images.to_uint8`),
since the published numbers are computed on 8-bit files.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..data.images.core import to_uint8
from ..errors import ConfigError

__all__ = ["psnr", "restoration_scores", "rgb_to_y", "ssim", "to_uint8_range"]

# BT.601 luma coefficients for RGB scaled to [0, 1], giving Y in [16, 235] (MATLAB rgb2ycbcr, first row).
_Y_COEFFS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0

# The SSIM window of Wang et al. (2004): 11 taps, σ = 1.5.
_SSIM_WIN = 11
_SSIM_SIGMA = 1.5


def rgb_to_y(img: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """BT.601 luma Y of RGB images in [0, 255]: ``16 + (65.481·R + 128.553·G + 24.966·B) / 255``.

    Args:
        img: NumPy array with RGB last (H×W×3, or any ...×3), or torch tensor with RGB third from last (3×H×W or
            N×3×H×W); float or uint8, values in [0, 255].

    Returns:
        The same kind: NumPy float64 ...×H×W (channel axis dropped, as ``rgb2ycbcr(img)[..., 0]``); torch
        ...×1×H×W (channel axis kept, so it is still an image tensor) in the input's float dtype (float32 for
        uint8 and other non-float32/64 input). Values in [16, 235] for input in [0, 255].

    Raises:
        ConfigError: the channel axis does not have 3 entries.
    """
    if isinstance(img, torch.Tensor):
        if img.dim() < 3 or img.shape[-3] != 3:
            raise ConfigError(f"rgb_to_y: torch image of shape {tuple(img.shape)} is not RGB; give 3×H×W or N×3×H×W")
        dtype = img.dtype if img.dtype in (torch.float32, torch.float64) else torch.float32
        # Divide by 255 first, then weigh: the order BasicSR and scikit-image use, so results agree to the last bit.
        x = img.to(dtype) / 255.0
        coeffs = torch.tensor(_Y_COEFFS, dtype=dtype, device=img.device).view(3, 1, 1)
        return (x * coeffs).sum(dim=-3, keepdim=True) + _Y_OFFSET
    arr = np.asarray(img)
    if arr.ndim < 2 or arr.shape[-1] != 3:
        raise ConfigError(f"rgb_to_y: array of shape {arr.shape} is not RGB; give H×W×3 with RGB last")
    return (arr.astype(np.float64) / 255.0) @ np.array(_Y_COEFFS) + _Y_OFFSET


def to_uint8_range(x: torch.Tensor) -> torch.Tensor:
    """gankit images in [-1, 1] -> the 8-bit values gankit would write for them, as float32 in [0, 255].

    ``floor(clamp(x·127.5 + 128, 0, 255))`` via :func:`gankit.data.images.to_uint8` (applied to float32, as
    :func:`gankit.data.images.quantize` does), so a restored image is scored exactly as its saved PNG would be.

    Args:
        x: torch tensor of any shape (normally N×C×H×W), values in [-1, 1]; outside values are clipped.

    Returns:
        float32 tensor, same shape and device, integer values 0..255.
    """
    return to_uint8(x.detach().float()).to(torch.float32)


def _to_batch(img: np.ndarray | torch.Tensor, fn: str, name: str) -> tuple[torch.Tensor, bool]:
    """One image or a batch -> float64 tensor N×C×H×W, and whether it was a single image.

    NumPy: H×W, H×W×C or N×H×W×C (channels last). Torch: H×W, C×H×W or N×C×H×W (channels first)."""
    if isinstance(img, torch.Tensor):
        t = img.detach()
        if t.device.type == "mps":  # no float64 on MPS
            t = t.cpu()
        t = t.to(torch.float64)
        if t.dim() == 2:
            return t[None, None], True
        if t.dim() == 3:
            return t[None], True
        if t.dim() == 4:
            return t, False
        raise ConfigError(f"{fn}: {name} has shape {tuple(t.shape)}; give a torch image C×H×W or a batch N×C×H×W")
    arr = np.asarray(img)
    if arr.dtype.kind not in "biuf":
        raise ConfigError(f"{fn}: {name} has dtype {arr.dtype}; give a numeric image (uint8 or float, values in [0, 255])")
    t = torch.from_numpy(arr.astype(np.float64))
    if t.dim() == 2:
        return t[None, None], True
    if t.dim() == 3:
        return t.permute(2, 0, 1)[None], True
    if t.dim() == 4:
        return t.permute(0, 3, 1, 2), False
    raise ConfigError(f"{fn}: {name} has shape {tuple(t.shape)}; give a NumPy image H×W×C or a batch N×H×W×C")


def _prepare(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, fn: str, crop_border: int, y_channel: bool,
             data_range: float, min_size: int) -> tuple[torch.Tensor, torch.Tensor, bool, bool]:
    """Check arguments, crop, convert to Y: float64 N×C×H×W pair, whether the input was NumPy and a single image."""
    if isinstance(a, torch.Tensor) != isinstance(b, torch.Tensor):
        raise ConfigError(f"{fn}: one image is a torch tensor and the other is not; give both as torch or both as NumPy")
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise ConfigError(f"{fn}: crop_border={crop_border!r} is not a non-negative integer; use e.g. the SR scale 4")
    if not (isinstance(data_range, (int, float)) and math.isfinite(data_range) and data_range > 0):
        raise ConfigError(f"{fn}: data_range={data_range!r} is not a positive number; use 255.0 for 8-bit images")
    ta, single = _to_batch(a, fn, "a")
    tb, _ = _to_batch(b, fn, "b")
    if ta.shape != tb.shape:
        raise ConfigError(f"{fn}: images differ in shape ({tuple(ta.shape)} vs {tuple(tb.shape)}); give equal shapes")
    if tb.device != ta.device:
        tb = tb.to(ta.device)
    h, w = ta.shape[-2:]
    if h - 2 * crop_border < min_size or w - 2 * crop_border < min_size:
        raise ConfigError(f"{fn}: crop_border={crop_border} leaves less than {min_size}×{min_size} of a {h}×{w} image; "
                          f"use a smaller crop or larger images")
    if crop_border:
        ta = ta[..., crop_border:h - crop_border, crop_border:w - crop_border]
        tb = tb[..., crop_border:h - crop_border, crop_border:w - crop_border]
    if y_channel:
        c = ta.shape[1]
        if c == 3:
            ta, tb = rgb_to_y(ta), rgb_to_y(tb)
        elif c != 1:  # a single channel is taken as Y already, as BasicSR's to_y_channel does
            raise ConfigError(f"{fn}: y_channel=True needs RGB (3 channels) or grey (1) images, got {c}; "
                              f"use y_channel=False")
    return ta, tb, not isinstance(a, torch.Tensor), single


def _finish(values: torch.Tensor, numpy_in: bool, single: bool) -> float | np.ndarray | torch.Tensor:
    """Per-image float64 values (N,) -> float for a single image, else NumPy array or tensor (N,)."""
    if single:
        return float(values[0])
    return values.cpu().numpy() if numpy_in else values


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, *, crop_border: int = 0, y_channel: bool = False,
         data_range: float = 255.0) -> float | np.ndarray | torch.Tensor:
    """Peak signal-to-noise ratio ``10·log10(data_range² / MSE)`` in dB, MSE over pixels and channels.

    Args:
        a, b: images of equal shape, both NumPy (H×W, H×W×C or N×H×W×C) or both torch (H×W, C×H×W or N×C×H×W);
            values in [0, data_range] (RGB in [0, 255] when ``y_channel``).
        crop_border: pixels removed from each of the four sides before scoring (SR convention: the scale factor).
        y_channel: score the BT.601 luma :func:`rgb_to_y` of RGB images (grey images are taken as Y already).
        data_range: L, the peak value (255 for 8-bit images).

    Returns:
        dB, ``inf`` where the images are equal. A float for a single image; for a batch a float64 array (NumPy
        input) or tensor (torch input) of shape (N,).

    Raises:
        ConfigError: mixed kinds, unequal shapes, a bad crop_border/data_range, or y_channel with 2 or >3 channels.
    """
    ta, tb, numpy_in, single = _prepare(a, b, "psnr", crop_border, y_channel, data_range, 1)
    mse = (ta - tb).square().mean(dim=(1, 2, 3))
    # L²/0 is inf in torch, and log10(inf) = inf: equal images score inf, as in BasicSR.
    return _finish(10.0 * torch.log10(float(data_range) ** 2 / mse), numpy_in, single)


def _gaussian_1d(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Normalised 1-D Gaussian (size,), centred; its outer product is MATLAB's fspecial('gaussian', size, sigma)."""
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma**2))
    return g / g.sum()


def _ssim_one(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """Mean SSIM per channel of one image pair C×H×W (float64) -> (C,)."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    g = _gaussian_1d(_SSIM_WIN, _SSIM_SIGMA, x.dtype, x.device)
    # The 2-D window is the outer product of g with itself, so 'valid' filtering is two 1-D passes (rows, then
    # columns); the five statistics go through the filter as one stack of planes.
    planes = torch.stack([x, y, x * x, y * y, x * y]).reshape(-1, 1, *x.shape[-2:])
    f = F.conv2d(F.conv2d(planes, g.view(1, 1, -1, 1)), g.view(1, 1, 1, -1))
    mu_x, mu_y, exx, eyy, exy = f.reshape(5, x.shape[0], *f.shape[-2:])
    var_x = exx - mu_x * mu_x
    var_y = eyy - mu_y * mu_y
    cov = exy - mu_x * mu_y
    smap = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    return smap.mean(dim=(-2, -1))


def ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, *, crop_border: int = 0, y_channel: bool = False,
         data_range: float = 255.0) -> float | np.ndarray | torch.Tensor:
    """Structural similarity (Wang et al. 2004; BasicSR ``calculate_ssim``): mean of the 'valid' SSIM map.

    Args:
        a, b: images of equal shape, both NumPy (H×W, H×W×C or N×H×W×C) or both torch (H×W, C×H×W or N×C×H×W);
            values in [0, data_range] (RGB in [0, 255] when ``y_channel``). At least 11×11 after cropping.
        crop_border: pixels removed from each of the four sides before scoring (SR convention: the scale factor).
        y_channel: score the BT.601 luma :func:`rgb_to_y` of RGB images (grey images are taken as Y already).
        data_range: L; C1 = (0.01·L)², C2 = (0.03·L)².

    Returns:
        SSIM in [-1, 1] (1 for equal images), the mean over channels of each channel's map mean. A float for a
        single image; for a batch a float64 array (NumPy input) or tensor (torch input) of shape (N,).

    Raises:
        ConfigError: mixed kinds, unequal shapes, images under 11×11 after the crop, a bad crop_border/data_range, or
            y_channel with 2 or >3 channels.
    """
    ta, tb, numpy_in, single = _prepare(a, b, "ssim", crop_border, y_channel, data_range, _SSIM_WIN)
    # One image at a time (a loop over images, not pixels): the five filtered planes of a whole batch of
    # large test images in float64 would need several GB.
    values = torch.stack([_ssim_one(x, y, float(data_range)).mean() for x, y in zip(ta, tb)])
    return _finish(values, numpy_in, single)


def restoration_scores(restored: torch.Tensor, target: torch.Tensor, *, scale_crop: int) -> dict[str, float]:
    """PSNR and SSIM of restored images against their targets, the way SR papers report them.

    Both are first put on the 8-bit grid (:func:`to_uint8_range`), then scored in [0, 255] with ``scale_crop``
    pixels cropped from each side, on the BT.601 Y channel and on all channels.

    Args:
        restored, target: torch N×C×H×W, C = 3 (RGB) or 1 (grey), values in [-1, 1] (gankit's data space).
        scale_crop: border crop in pixels, by convention the SR scale factor (0 for none).

    Returns:
        ``{"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"}``: means over the N images of per-image PSNR (dB; inf if any
        pair is equal) and SSIM. For grey images the ``_y`` and ``_rgb`` values are the same grey scores.

    Raises:
        ConfigError: not torch N×C×H×W with C in (1, 3), unequal shapes, or a bad scale_crop.
    """
    for name, t in (("restored", restored), ("target", target)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4 or t.shape[1] not in (1, 3):
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ConfigError(f"restoration_scores: {name} is {shape}; "
                              f"give a torch tensor N×3×H×W or N×1×H×W in [-1, 1]")
    if restored.shape != target.shape:
        raise ConfigError(f"restoration_scores: restored {tuple(restored.shape)} and target {tuple(target.shape)} "
                          f"differ in shape; give equal shapes")
    if isinstance(scale_crop, bool) or not isinstance(scale_crop, int) or scale_crop < 0:
        raise ConfigError(f"restoration_scores: scale_crop={scale_crop!r} is not a non-negative integer; "
                          f"use the SR scale, e.g. 4")
    a, b = to_uint8_range(restored), to_uint8_range(target)
    kw = dict(crop_border=scale_crop)
    return {
        "psnr_y": float(psnr(a, b, y_channel=True, **kw).mean()),
        "ssim_y": float(ssim(a, b, y_channel=True, **kw).mean()),
        "psnr_rgb": float(psnr(a, b, **kw).mean()),
        "ssim_rgb": float(ssim(a, b, **kw).mean()),
    }
