"""Perceptual path length (PPL): how smoothly a generator's images change along latent interpolations.

Reference: T. Karras, S. Laine, T. Aila, "A Style-Based Generator Architecture for Generative Adversarial
Networks", CVPR 2019, section 4.2. For endpoints z0, z1 ~ N(0, I), a position t and a small step ε:

* Z space:  l_Z = E[ d(G(slerp(z0, z1; t)), G(slerp(z0, z1; t + ε))) / ε² ]
* W space:  l_W = E[ d(g(lerp(f(z0), f(z1); t)), g(lerp(f(z0), f(z1); t + ε))) / ε² ]

where f is the mapping network, g the synthesis network and d a perceptual distance (LPIPS in the paper).
``sampling="full"`` draws t ~ U(0, 1); ``sampling="end"`` uses t = 0, the path's end point, as the reference
implementation does (the paper writes t ∈ {0, 1}). Outliers are filtered as in the reference code: values below
the 1st percentile (numpy "lower" method) and above the 99th (numpy "higher" method) are dropped before the mean.

Conventions here:

* W space interpolates every row of the mapping output ``ws`` (N×num_ws×w_dim) linearly, so the same style
  reaches every layer; synthesis runs with ``noise_mode="const"`` so that noise adds no distance, and the constant
  noise images are redrawn for every batch, as the reference code does (the generator's own are restored after).
* Z space interpolates by spherical linear interpolation of the *directions* z/‖z‖ and feeds G the result scaled
  to norm √z_dim (the typical norm of a z_dim-dimensional standard normal). The reference code feeds unit-norm z
  to a mapping network that normalises z anyway, so for such generators this is the same thing; for generators
  that take z as it is (DCGAN, ...) it keeps z on the shell the generator was trained on.
* Conditional generators (c_dim > 0) get one uniformly drawn class label (int64, gankit's label convention),
  the same for both ends of a pair.
* Crop (``crop=True``, for face data as in the paper): rows 3H/8..7H/8, columns 2W/8..6W/8 (integer H//8
  units). Images larger than ``max_size`` (default 256) are then box-downsampled by the integer factor H //
  max_size of the *uncropped* resolution H, as the reference code does before its VGG.

Randomness: every draw comes from one CPU ``torch.Generator`` seeded with ``seed``; the global RNG is never
touched, so results are reproducible and independent of anything else the program does. Per batch of b pairs
(b = ``batch``, the last batch the remainder), in this order: z0 = randn(b, z_dim), z1 = randn(b, z_dim) (float32),
then c = randint(0, c_dim, (b,)) if c_dim > 0, then t = rand(b) if ``sampling == "full"``, then for a style-based G
every ``noise_const`` buffer (in ``named_buffers`` order) = randn(its shape).

Distances are any callable ``(a, b) -> N`` on two batches of N samples: :func:`pixel_l2`, :func:`feature_l2`
over a gankit feature extractor, or the LPIPS-VGG network of :mod:`gankit.metrics.lpips`; :data:`DISTANCES`
names them for configuration.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import Registry

__all__ = [
    "DISTANCES",
    "Distance",
    "build_distance",
    "feature_l2",
    "filter_outliers",
    "path_lengths",
    "perceptual_path_length",
    "pixel_l2",
    "slerp",
]

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A perceptual distance: ``(a: N×…, b: N×…) -> N`` non-negative values, one per pair (a[i], b[i])."""

SPACES = ("w", "z")
SAMPLINGS = ("end", "full")


# ------------------------------------------------------------------------------------------------ distances
def pixel_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared difference per sample: ``mean over all elements of (a[i] - b[i])²``.

    Args:
        a, b: N×… tensors of the same shape (images N×C×H×W, or vectors).

    Returns:
        N float64 values.
    """
    if a.shape != b.shape:
        raise ValueError(f"pixel_l2 inputs must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    # Subtract in the source dtype (exact for nearby floats), square in float64.
    return (a - b).double().square().flatten(1).mean(dim=1)


def feature_l2(extractor: Any, device: str | torch.device = "cpu", **options: Any) -> Distance:
    """Squared euclidean distance of feature vectors: ``d(a, b)[i] = ‖φ(a[i]) - φ(b[i])‖²``.

    Args:
        extractor: a name in the ``extractors`` registry (``"digits-cnn"`` for the bundled digits) or an
            :class:`~gankit.metrics.features.Extractor` (e.g. from :func:`~gankit.metrics.features.from_module`).
        device: where a named extractor is built.
        options: passed to a named extractor's builder (e.g. ``weights=PATH``).

    Returns:
        A :data:`Distance`: ``(a: N×…, b: N×…) -> N`` float64, φ applied in one batch of 2N.
    """
    from .features import Extractor, build_extractor

    ext = build_extractor(extractor, device=device, **options) if isinstance(extractor, str) else extractor
    if not isinstance(ext, Extractor):
        raise ConfigError(f"feature_l2 needs an extractor name or a gankit Extractor; got {type(extractor).__name__}")

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape:
            raise ValueError(f"feature_l2 inputs must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
        f, _ = ext.fn(torch.cat([a, b]).to(ext.device))
        f = f.flatten(1).double()
        return (f[: len(a)] - f[len(a):]).square().sum(dim=1)

    distance.__name__ = f"feature_l2[{ext.name}]"
    return distance


DISTANCES: Registry[Callable[..., Distance]] = Registry(
    "distances", callable, "a function (weights=None, device='cpu', **options) -> distance (a, b) -> N")


@DISTANCES.register("lpips-vgg", help="LPIPS v0.1 on VGG16 (Zhang et al. 2018); weights=PATH from convert_lpips")
def _lpips_vgg(weights: str | None = None, device: str | torch.device = "cpu", sha256: str | None = None,
               **_: Any) -> Distance:
    if weights is None:
        raise ConfigError("distance 'lpips-vgg' needs weights=PATH, a file written by "
                          "gankit.metrics.lpips.convert_lpips (no weights ship with gankit)")
    from .lpips import load_lpips

    return load_lpips(weights, sha256=sha256, device=device)


@DISTANCES.register("digits-cnn", help="squared L2 of the digits-cnn features (128-d), for the bundled digits")
def _digits_cnn(weights: str | None = None, device: str | torch.device = "cpu", **_: Any) -> Distance:
    return feature_l2("digits-cnn", device=device)


@DISTANCES.register("pixel", help="mean squared pixel difference per sample (no weights)")
def _pixel(weights: str | None = None, device: str | torch.device = "cpu", **_: Any) -> Distance:
    return pixel_l2


def build_distance(name: str, weights: str | None = None, device: str | torch.device = "cpu",
                   **options: Any) -> Distance:
    """The distance registered as ``name`` (``lpips-vgg``, ``digits-cnn``, ``pixel``).

    Args:
        name: a :data:`DISTANCES` name.
        weights: weights file for distances that need one (``lpips-vgg``).
        device: where networks are built.
        options: builder options (``sha256=`` for an ``lpips-vgg`` ``.pth`` file).

    Raises:
        ConfigError: unknown name (listing the choices) or missing weights.
    """
    return DISTANCES.get(name, "ppl.distance")(weights=weights, device=device, **options)


# ------------------------------------------------------------------------------------------------ sampling
def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical linear interpolation between the directions of ``a`` and ``b``.

    Args:
        a, b: N×D (any non-zero norms; only directions matter).
        t: N positions (or a scalar); 0 gives a/‖a‖, 1 gives b/‖b‖, values outside [0, 1] continue on the circle.

    Returns:
        N×D unit vectors on the great circle through a/‖a‖ and b/‖b‖, at angle t·θ from a/‖a‖ (θ the angle
        between a and b), in the dtype of ``a``.
    """
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    t = t.reshape(-1, 1) if t.ndim else t
    cos = (a * b).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    theta = torch.acos(cos)
    ortho = b - cos * a  # the part of b orthogonal to a: the circle's second axis
    ortho = ortho / ortho.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    out = a * torch.cos(t * theta) + ortho * torch.sin(t * theta)
    return out / out.norm(dim=-1, keepdim=True)


def _device_dtype(G: nn.Module) -> tuple[torch.device, torch.dtype]:
    for tensor in list(G.parameters()) + list(G.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.float32


def _is_style_based(G: nn.Module) -> bool:
    return callable(getattr(G, "mapping", None)) and callable(getattr(G, "synthesis", None))


def _postprocess(x: torch.Tensor, crop: bool, max_size: int | None) -> torch.Tensor:
    """The reference code's face crop and box downsampling (images only; other samples pass through).

    The factor is the *full* resolution's, ``H // max_size`` before cropping (StyleGAN2-ADA's metrics/ppl.py:
    ``G.img_resolution // 256``): a 1024² image is cropped to 512×512 and then pooled by 4, to 128×128.
    """
    if x.ndim != 4:
        if crop:
            raise ConfigError(f"ppl.crop needs images (N×C×H×W); the generator gives shape {tuple(x.shape)}")
        return x
    factor = x.shape[2] // max_size if max_size is not None else 1
    if crop:
        c = x.shape[2] // 8
        x = x[:, :, c * 3: c * 7, c * 2: c * 6]
    if factor > 1:
        x = F.avg_pool2d(x, kernel_size=factor, stride=factor)
    return x


def _noise_buffers(G: nn.Module) -> list[torch.Tensor]:
    """A style-based G's per-layer constant noise images (buffers named ``noise_const``)."""
    return [b for name, b in G.named_buffers() if name.rsplit(".", 1)[-1] == "noise_const"]


def _fresh_noise(buffers: list[torch.Tensor], gen: torch.Generator) -> None:
    """Redraw every constant noise image from ``gen`` (the reference redraws them for each batch; both ends of a pair
    see the same noise, so noise adds no distance but the measurement averages over it)."""
    for buf in buffers:
        buf.copy_(torch.randn(buf.shape, generator=gen).to(device=buf.device, dtype=buf.dtype))


def _validate(G: Any, distance: Any, n: Any, epsilon: Any, space: Any, sampling: Any, batch: Any,
              max_size: Any) -> None:
    if space not in SPACES:
        raise ConfigError(f"ppl.space must be one of {', '.join(SPACES)}; got {space!r}")
    if sampling not in SAMPLINGS:
        raise ConfigError(f"ppl.sampling must be one of {', '.join(SAMPLINGS)}; got {sampling!r}")
    for name, value in (("n", n), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ConfigError(f"ppl.{name} must be a positive integer; got {value!r}")
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, numbers.Integral)
                                 or max_size < 1):
        raise ConfigError(f"ppl.max_size must be a positive integer or None; got {max_size!r}")
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not (0 < epsilon < 1):
        raise ConfigError(f"ppl.epsilon must be a small positive number (the paper uses 1e-4); got {epsilon!r}")
    if not callable(distance):
        raise ConfigError(f"ppl distance must be a callable (a, b) -> N or a name in {DISTANCES.names()}; "
                          f"got {type(distance).__name__}")
    z_dim = getattr(G, "z_dim", None)
    if isinstance(z_dim, bool) or not isinstance(z_dim, numbers.Integral) or z_dim < 1:
        raise ConfigError(f"ppl needs a generator with an integer attribute z_dim >= 1; {type(G).__name__} has "
                          f"z_dim={z_dim!r}")
    if space == "w" and not _is_style_based(G):
        raise ConfigError(f"ppl.space 'w' needs a style-based generator (G.mapping and G.synthesis); "
                          f"{type(G).__name__} has none, use space='z'")


def path_lengths(G: nn.Module, distance: Distance | str, n: int = 10000, epsilon: float = 1e-4,
                 space: str = "w", sampling: str = "end", batch: int = 64, seed: int = 0, crop: bool = False,
                 max_size: int | None = 256) -> np.ndarray:
    """The n unfiltered per-pair values ``d(G(p(t)), G(p(t + ε))) / ε²`` behind :func:`perceptual_path_length`.

    Args and randomness: as in :func:`perceptual_path_length` (and the module docstring).

    Returns:
        (n,) float64 array, in draw order.
    """
    if isinstance(distance, str):
        distance = build_distance(distance, device=_device_dtype(G)[0])
    _validate(G, distance, n, epsilon, space, sampling, batch, max_size)
    device, dtype = _device_dtype(G)
    n, batch, epsilon = int(n), int(batch), float(epsilon)
    z_dim, c_dim = int(G.z_dim), int(getattr(G, "c_dim", 0) or 0)
    style = _is_style_based(G)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    out = np.empty(n, dtype=np.float64)
    was_training = G.training
    noise = _noise_buffers(G) if style else []
    kept = [b.clone() for b in noise]
    G.eval()  # a metric measures the inference-time generator (BatchNorm statistics, no dropout)
    try:
        with torch.inference_mode():
            for start in range(0, n, batch):
                b = min(batch, n - start)
                z0 = torch.randn(b, z_dim, generator=gen)
                z1 = torch.randn(b, z_dim, generator=gen)
                c = torch.randint(0, c_dim, (b,), generator=gen) if c_dim > 0 else None
                t = torch.rand(b, generator=gen) if sampling == "full" else torch.zeros(b)
                c2 = torch.cat([c, c]).to(device) if c is not None else None  # same label at both ends
                _fresh_noise(noise, gen)
                if space == "w":
                    ws = G.mapping(torch.cat([z0, z1]).to(device=device, dtype=dtype), c2)
                    w0, w1 = ws[:b], ws[b:]
                    tt = t.to(device=ws.device, dtype=ws.dtype).view(b, *([1] * (ws.ndim - 1)))
                    wa, wb = torch.lerp(w0, w1, tt), torch.lerp(w0, w1, tt + epsilon)
                    images = G.synthesis(torch.cat([wa, wb]), noise_mode="const")
                else:
                    t64 = t.double()
                    za = slerp(z0.double(), z1.double(), t64)
                    zb = slerp(z0.double(), z1.double(), t64 + epsilon)
                    z = (torch.cat([za, zb]) * math.sqrt(z_dim)).to(device=device, dtype=dtype)
                    if style:
                        images = G.synthesis(G.mapping(z, c2), noise_mode="const")
                    else:
                        images = G(z, c2) if c2 is not None else G(z)
                images = _postprocess(images, crop, max_size)
                d = torch.as_tensor(distance(images[:b], images[b:]))
                if d.numel() != b:
                    raise ValueError(f"the ppl distance returned shape {tuple(d.shape)} for {b} pairs; it must "
                                     "return one value per pair")
                out[start:start + b] = d.detach().reshape(-1).double().cpu().numpy() / (epsilon ** 2)
    finally:
        G.train(was_training)
        with torch.no_grad():
            for buf, k in zip(noise, kept):
                buf.copy_(k)
    return out


def filter_outliers(values: np.ndarray) -> np.ndarray:
    """The reference code's filter: keep v with P1 <= v <= P99 (1st percentile by numpy's "lower" method, 99th
    by "higher"), so roughly 1% is dropped at each end (nothing at all below 100 values).

    Args:
        values: (n,) finite values.

    Returns:
        The kept values, in their original order.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    lo = np.percentile(v, 1, method="lower")
    hi = np.percentile(v, 99, method="higher")
    return v[(v >= lo) & (v <= hi)]


def perceptual_path_length(G: nn.Module, distance: Distance | str, n: int = 10000, epsilon: float = 1e-4,
                           space: str = "w", sampling: str = "end", batch: int = 64, seed: int = 0,
                           crop: bool = False, max_size: int | None = 256) -> dict[str, float | int]:
    """Perceptual path length of generator ``G`` (Karras et al., 2019, section 4.2).

    Args:
        G: ``space="w"``: a style-based generator with ``G.mapping(z, c) -> ws`` (N×num_ws×w_dim) and
            ``G.synthesis(ws, noise_mode="const") -> images``; ``space="z"``: any ``G(z[, c]) -> samples`` (a
            style-based G is then run as mapping + synthesis with constant noise). Attributes ``z_dim`` and
            optionally ``c_dim`` (labels are int64 class indices). Run in eval mode, restored afterwards.
        distance: a :data:`Distance` ``(a, b) -> N`` (e.g. :func:`pixel_l2`, :func:`feature_l2`, an
            :class:`~gankit.metrics.lpips.LPIPS`) or a :data:`DISTANCES` name that needs no weights.
        n: number of pairs (the paper: 100,000; the default keeps CPU runs short).
        epsilon: step ε along the path (the paper: 1e-4).
        space: ``"w"`` (lerp of mapping outputs) or ``"z"`` (slerp of latent directions).
        sampling: ``"end"`` (t = 0) or ``"full"`` (t ~ U(0, 1)).
        batch: pairs per generator call (the generator sees 2·batch samples).
        seed: seeds the private generator of all draws; the global RNG is not used.
        crop: face crop of the paper (FFHQ-like data).
        max_size: images larger than this are box-downsampled to about this size; None keeps them.

    Returns:
        ``{"ppl": mean of the filtered values, "ppl_std": their standard deviation (ddof=0), "n": pairs drawn}``.
        Values are in distance units per ε²; any non-finite value (a diverged generator) gives NaN for both.

    Raises:
        ConfigError: one line: an invalid option, a generator without what ``space`` needs, an unknown distance.
    """
    values = path_lengths(G, distance, n=n, epsilon=epsilon, space=space, sampling=sampling, batch=batch,
                          seed=seed, crop=crop, max_size=max_size)
    if not np.isfinite(values).all():
        return {"ppl": float("nan"), "ppl_std": float("nan"), "n": int(n)}
    kept = filter_outliers(values)
    return {"ppl": float(kept.mean()), "ppl_std": float(kept.std()), "n": int(n)}
