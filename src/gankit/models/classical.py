"""Classical restoration baselines, the rows the GANs are compared with: no parameters, no training.

* :func:`bicubic_upscale` — super-resolution by bicubic interpolation, the "Bicubic" row of the SR papers (SRGAN,
  Ledig et al. 2017; ESRGAN, Wang et al. 2018). Cubic convolution (Keys 1981, "Cubic Convolution Interpolation for
  Digital Image Processing", IEEE TASSP 29(6)): by default as MATLAB's imresize computes it (a = −0.5, the papers'
  rows; :func:`gankit.data.degrade.imresize`), which reproduces linear ramps exactly in the interior; ``kernel="torch"``
  is PyTorch's (a = −0.75, OpenCV's choice), which reproduces constants exactly but linear ramps only up to a
  zero-mean ripple of at most 0.047 (×2) or 0.041 (×4) times the ramp's step per input pixel.
* :func:`biharmonic_inpaint` — inpainting by the biharmonic equation Δ²u = 0 in the hole with the known pixels as
  boundary values (Damelin & Hoang 2018, "On Surface Completion and Image Inpainting by Biharmonic Functions:
  Numerical Aspects", IJMMS; Chui & Mhaskar 2010), scikit-image's ``inpaint_biharmonic``. Any function with
  Δ²u = 0 — constants and linear ramps among them — is filled in exactly, up to the sparse solver's rounding.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError

Tensor = torch.Tensor


def bicubic_upscale(lr: Tensor, scale: int, kernel: str = "matlab") -> Tensor:
    """Bicubic upscaling by an integer factor.

    Args:
        lr: N×C×h×w images in [-1, 1] (any float dtype, any device).
        scale: the factor, an integer ≥ 1.
        kernel: ``matlab`` (MATLAB's imresize, a = −0.5, mirrored borders) or ``torch`` (F.interpolate, a = −0.75).

    Returns:
        N×C×(h·scale)×(w·scale), same dtype and device, clamped to [-1, 1] (cubic convolution overshoots at edges).
        Pixel centres are aligned as in every SR paper (``align_corners=False``): output pixel u samples the input
        at (u + 0.5)/scale − 0.5; near the border the input is extended by repeating its edge pixels.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ConfigError(f"bicubic_upscale: scale={scale!r} is not an integer ≥ 1; give the SR factor, e.g. 4")
    if not isinstance(lr, Tensor) or lr.dim() != 4:
        raise ConfigError(f"bicubic_upscale: input of shape {tuple(getattr(lr, 'shape', ()))} is not N×C×h×w; give a 4-D tensor")
    if not lr.is_floating_point():
        raise ConfigError(f"bicubic_upscale: input dtype {lr.dtype} is not floating point; give images in [-1, 1] as float")
    if kernel == "matlab":
        from ..data.degrade import imresize

        return imresize(lr, int(scale), kernel="matlab").clamp_(-1.0, 1.0)
    if kernel != "torch":
        raise ConfigError(f"bicubic_upscale: kernel={kernel!r} is not known; use matlab or torch")
    h, w = lr.shape[-2:]
    # size= rather than scale_factor=: with an integer factor both map coordinates the same way, and size= leaves
    # no doubt about the output shape
    up = F.interpolate(lr, size=(h * int(scale), w * int(scale)), mode="bicubic", align_corners=False)
    return up.clamp_(-1.0, 1.0)


def biharmonic_inpaint(image: Tensor, mask: Tensor) -> Tensor:
    """Fill the holes of each image by biharmonic interpolation from the known pixels.

    Args:
        image: N×C×H×W in [-1, 1]; the hole's values are ignored.
        mask: N×1×H×W (or N×H×W), 1 in the hole, 0 where known (values > 0.5 count as hole).

    Returns:
        float32 N×C×H×W on ``image``'s device: outside the hole bitwise equal to ``image`` as float32, in the hole
        the biharmonic fill (solved per image in float64; scikit-image clips it per channel to the known pixels'
        range). An image without a hole is returned unchanged; an image that is all hole has nothing to
        interpolate from and is filled with 0 (mid-grey).
    """
    if not isinstance(image, Tensor) or image.dim() != 4:
        raise ConfigError(f"biharmonic_inpaint: image of shape {tuple(getattr(image, 'shape', ()))} is not N×C×H×W; give a 4-D tensor")
    if not isinstance(mask, Tensor):
        raise ConfigError(f"biharmonic_inpaint: mask is a {type(mask).__name__}, not a tensor; give N×1×H×W with 1 in the hole")
    n, c, h, w = image.shape
    if mask.dim() == 3:
        mask = mask[:, None]
    if tuple(mask.shape) != (n, 1, h, w):
        raise ConfigError(f"biharmonic_inpaint: mask of shape {tuple(mask.shape)} does not fit image {tuple(image.shape)}; "
                          f"give {(n, 1, h, w)}")
    from skimage.restoration import inpaint_biharmonic  # scikit-image is slow to import; only this needs it

    img32 = image.detach().to(torch.float32)
    holes = (mask.detach() > 0.5).cpu().numpy()[:, 0]
    filled = img32.cpu().numpy().copy()
    for i in range(n):
        hole = holes[i]
        if not hole.any():
            continue
        if hole.all():
            filled[i] = 0.0
            continue
        # float64 for the solve: the system's conditioning grows with the hole, and float32 loses digits there
        hwc = filled[i].transpose(1, 2, 0).astype(np.float64)
        out = inpaint_biharmonic(hwc, hole, channel_axis=-1)
        filled[i] = out.transpose(2, 0, 1).astype(np.float32)
    result = torch.from_numpy(filled).to(image.device)
    # the known region copied back from the input itself, so it is exact whatever the solver did there
    keep = ~torch.from_numpy(holes).to(image.device)[:, None].expand(n, c, h, w)
    return torch.where(keep, img32, result)
