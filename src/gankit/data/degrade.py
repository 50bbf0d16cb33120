"""Low-resolution inputs for super-resolution, made the way the SR benchmarks make them: bicubic downsampling as
MATLAB's ``imresize`` does it (the "BI" degradation of SRCNN, EDSR, RCAN, SwinIR, ...), optionally preceded by a
Gaussian blur and followed by additive Gaussian noise (the "BD"/"DN"-style degradations).

MATLAB ``imresize(I, scale, 'bicubic')`` (Image Processing Toolbox, ``imresize.m``: ``contributions`` and
``cubic``), reproduced by :func:`matlab_contributions` and :func:`imresize`:

* kernel: Keys' cubic convolution with a = −0.5 (R. Keys, "Cubic convolution interpolation for digital image
  processing", IEEE TASSP 29(6), 1981), support [−2, 2];
* antialiasing when downscaling (scale < 1): the kernel is stretched to ``scale·k(scale·x)``, support 4/scale;
* output pixel x (1-based) samples the input at ``u = x/scale + 0.5·(1 − 1/scale)`` (pixel centres aligned);
* taps ``floor(u − width/2) + 0 .. ceil(width) + 1``, weights normalised to sum 1, indices outside 1..L mirrored
  symmetrically (edge pixel repeated: …, 2, 1, 1, 2, …);
* separable: one dimension after the other, the one with the smaller scale first (rows first when equal);
  output size ``ceil(scale·L)``.

``kernel="pil"`` uses ``torch.nn.functional.interpolate(mode="bicubic", antialias=True)``, which follows PIL's
``Image.resize(BICUBIC)`` (to ~1e-6): the same a = −0.5 kernel, stretched the same way, and the same pixel-centre
mapping, but at the border the taps that fall outside the image are dropped and the rest renormalised instead of
mirrored. The two agree in the interior (to float rounding) and differ only in the outer output pixels: 2 of them
on each side at ×1/2 and ×1/4, 3 at ×2, 6 at ×4. Measured on scikit-image's 512×512 RGB "astronaut" image
(``tests/data/test_degrade.py``, 0..255 scale): the largest border difference is about 10.5 grey levels at ×1/2 and
12.2 at ×1/4; the PIL-kernel LR image scored against the MATLAB-kernel one has a PSNR of 66.6 dB at ×1/2 and
58.4 dB at ×1/4; and the "bicubic baseline" (each LR upscaled back with the MATLAB kernel and scored against the HR
image on Y, cropped by the scale) differs by only about 0.0003 dB at both scales, because the crop removes most of
the affected border. Small, but not zero: LR inputs meant to reproduce published numbers exactly must use
``kernel="matlab"``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import ConfigError

__all__ = ["KERNELS", "SCALES", "degrade", "imresize", "matlab_contributions"]

KERNELS = ("matlab", "pil")
SCALES = (2, 4)  # degrade's downscaling factors


def _cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = −0.5 (MATLAB imresize's ``cubic``), zero outside [−2, 2]."""
    ax = x.abs()
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


def matlab_contributions(in_length: int, out_length: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and input indices of MATLAB's bicubic ``imresize`` along one dimension (its ``contributions``).

    Args:
        in_length: input size L along the dimension (>= 1).
        out_length: output size (MATLAB: ``ceil(scale·L)``).
        scale: output/input size factor (> 0); below 1 the kernel is antialiased (stretched by 1/scale).

    Returns:
        ``(weights, indices)``, both (out_length, P): float64 weights, each row summing to 1, and int64 0-based input
        indices (mirrored into 0..L−1). Output pixel o is ``Σ_p weights[o, p] · input[indices[o, p]]``. Taps whose
        weight is zero in every row are dropped, as MATLAB does (P = 8 for ×1/2, 16 for ×1/4, 4 for ×2 and ×4).
    """
    kernel_width = 4.0
    if scale < 1:
        def h(x: torch.Tensor) -> torch.Tensor:
            return scale * _cubic(scale * x)
        kernel_width /= scale
    else:
        h = _cubic
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate of each output pixel centre
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)
    weights = h(u[:, None] - idx)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Symmetric mirror of 1-based indices: aux = [1..L, L..1], indexed cyclically (so any overshoot folds back).
    aux = torch.cat([torch.arange(in_length), torch.arange(in_length - 1, -1, -1)])
    indices = aux[(idx.long() - 1) % (2 * in_length)]
    keep = (weights != 0).any(dim=0)
    return weights[:, keep], indices[:, keep]


def _resize_dim(x: torch.Tensor, dim: int, scale: float) -> torch.Tensor:
    """MATLAB bicubic resize of float64 ``x`` along ``dim`` (output ceil(scale·L))."""
    length = x.shape[dim]
    weights, indices = matlab_contributions(length, math.ceil(length * scale), scale)
    weights, indices = weights.to(x.device), indices.to(x.device)
    xt = x.movedim(dim, -1)
    out = torch.zeros(*xt.shape[:-1], weights.shape[0], dtype=x.dtype, device=x.device)
    # A loop over the P taps (<= 18), not over pixels: each step gathers one input column per output pixel. This
    # needs one output-sized temporary, where gathering all taps at once would need P of them.
    for p in range(weights.shape[1]):
        out += xt.index_select(-1, indices[:, p]) * weights[:, p]
    return out.movedim(-1, dim)


def imresize(img: torch.Tensor, scale: float, *, kernel: str = "matlab") -> torch.Tensor:
    """Bicubic resize of images by ``scale`` (e.g. 1/2, 1/4 down; 2, 4 up), as MATLAB's ``imresize`` or PIL.

    Args:
        img: float tensor N×C×H×W (any value range; no clamping is done, as MATLAB does not for double input).
        scale: output/input size factor, > 0; the output is N×C×ceil(H·scale)×ceil(W·scale).
        kernel: ``"matlab"`` (see the module docstring; computed in float64, returned in the input dtype) or
            ``"pil"`` (``F.interpolate(mode="bicubic", antialias=True, align_corners=False)`` to the same size; its
            sampling grid uses the factor in/out, which equals 1/scale when scale·H and scale·W are integers).

    Returns:
        Tensor N×C×ceil(H·scale)×ceil(W·scale), same dtype and device as ``img``.

    Raises:
        ConfigError: unknown kernel, non-positive scale, or not a float N×C×H×W tensor.
    """
    if kernel not in KERNELS:
        raise ConfigError(f"imresize: kernel={kernel!r} is not known; use one of {', '.join(KERNELS)}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise ConfigError(f"imresize: scale={scale!r} is not a positive number; "
                          f"use e.g. 0.25 to shrink ×4 or 2 to enlarge ×2")
    if not isinstance(img, torch.Tensor) or img.dim() != 4 or not img.is_floating_point():
        what = f"{img.dtype} {tuple(img.shape)}" if isinstance(img, torch.Tensor) else type(img).__name__
        raise ConfigError(f"imresize: img is {what}; "
                          f"give a float tensor N×C×H×W (uint8 images: gankit.data.images.to_float)")
    h, w = img.shape[-2:]
    size = (math.ceil(h * scale), math.ceil(w * scale))
    if kernel == "pil":
        return F.interpolate(img, size=size, mode="bicubic", antialias=True, align_corners=False)
    # Equal scales on both axes: MATLAB resizes the first dimension (rows, H) first.
    out = _resize_dim(_resize_dim(img.to(torch.float64), -2, scale), -1, scale)
    return out.to(img.dtype)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of N×C×H×W, σ in pixels, kernel size 2·ceil(3σ)+1, reflect padding."""
    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-t.square() / (2 * sigma**2))
    g = (g / g.sum()).to(dtype=x.dtype, device=x.device)
    n, c, h, w = x.shape
    planes = F.pad(x.reshape(n * c, 1, h, w), (radius, radius, radius, radius), mode="reflect")
    planes = F.conv2d(F.conv2d(planes, g.view(1, 1, -1, 1)), g.view(1, 1, 1, -1))
    return planes.reshape(n, c, h, w)


def degrade(hr: torch.Tensor, scale: int, *, kernel: str = "matlab", blur_sigma: float = 0.0, noise_std: float = 0.0,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """High-resolution images -> their low-resolution inputs: blur (optional), bicubic ×1/scale, noise (optional).

    Args:
        hr: float tensor N×C×H×W in [-1, 1]. H and W should be multiples of ``scale`` (SR's "modcrop"), else the
            LR size is ceil(H/scale)×ceil(W/scale).
        scale: downscaling factor, 2 or 4.
        kernel: bicubic kernel of :func:`imresize`, ``"matlab"`` (the benchmarks' LR images) or ``"pil"``.
        blur_sigma: σ of a Gaussian blur applied first, in HR pixels (0: none); kernel size 2·ceil(3σ)+1, reflect
            padding, so ceil(3σ) must be less than H and W.
        noise_std: standard deviation of additive Gaussian noise on the LR image, in [-1, 1] units (0: none;
            e.g. 2·σ₂₅₅/255 for a noise level σ₂₅₅ given on the 0..255 scale).
        generator: torch generator the noise is drawn from (the global one when None); noise is drawn on the
            generator's device and moved to the images' device, so a seeded CPU generator gives the same LR images
            on any device.

    Returns:
        LR images N×C×ceil(H/scale)×ceil(W/scale), same dtype and device, clamped to [-1, 1].

    Raises:
        ConfigError: scale not 2 or 4, unknown kernel, negative/non-finite blur_sigma or noise_std, a blur wider
            than the image, or hr not a float N×C×H×W tensor.
    """
    if isinstance(scale, bool) or scale not in SCALES:
        raise ConfigError(f"degrade: scale={scale!r} is not supported; use one of {', '.join(map(str, SCALES))}")
    if kernel not in KERNELS:
        raise ConfigError(f"degrade: kernel={kernel!r} is not known; use one of {', '.join(KERNELS)}")
    for name, value in (("blur_sigma", blur_sigma), ("noise_std", noise_std)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"degrade: {name}={value!r} is not a non-negative number; use 0 for none or e.g. 1.0")
    if not isinstance(hr, torch.Tensor) or hr.dim() != 4 or not hr.is_floating_point():
        what = f"{hr.dtype} {tuple(hr.shape)}" if isinstance(hr, torch.Tensor) else type(hr).__name__
        raise ConfigError(f"degrade: hr is {what}; give a float tensor N×C×H×W in [-1, 1]")
    x = hr
    if blur_sigma > 0:
        radius = math.ceil(3 * blur_sigma)
        if radius >= min(hr.shape[-2:]):
            raise ConfigError(f"degrade: blur_sigma={blur_sigma} needs a kernel radius {radius} below the image size "
                              f"{tuple(hr.shape[-2:])}; use a smaller sigma or larger images")
        x = _gaussian_blur(x, float(blur_sigma))
    lr = imresize(x, 1.0 / scale, kernel=kernel)
    if noise_std > 0:
        device = generator.device if generator is not None else lr.device
        noise = torch.randn(lr.shape, generator=generator, dtype=lr.dtype, device=device)
        lr = lr + float(noise_std) * noise.to(lr.device)
    return lr.clamp(-1.0, 1.0)
