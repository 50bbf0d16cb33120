"""Adaptive discriminator augmentation, :class:`ADA` (Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020,
"Training Generative Adversarial Networks with Limited Data", NeurIPS): a callable
``augment(x: N×C×H×W) -> N×C×H×W`` whose strength p steers itself from D's outputs on real images.

Every transform of its pipeline is applied to each sample independently with probability ``p`` (the two rotations
with 1 − √(1 − p), so that some rotation happens with probability p), in the paper's fixed order; p = 0 is exactly
the identity. Data are assumed in [−1, 1], so 0 is mid-gray.

=============  ==========================================================================================
blit           xflip (mirror left-right with prob ½), rotate90 (k·90°, k uniform in 0..3; square images),
               xint (integer shift round(U[−⅛, ⅛]·side) per axis); exact pixel copies, reflected borders
geom           scale (isotropic, 2^N(0, 0.2²)), rotate (U[−180°, 180°], before and after aniso),
               aniso (x·s, y/s with s = 2^N(0, 0.2²)), xfrac (shift N(0, 0.125²)·side); one 3×3 matrix per
               sample, bilinear resampling with reflection padding
color          brightness (+N(0, 0.2²)), contrast (×2^N(0, 0.5²) about mid-gray 0), lumaflip (negate the
               luma component with prob ½), hue (rotation U[−180°, 180°] about the luma axis (1,1,1)/√3),
               saturation (chroma ×2^N(0, 1)); one 4×4 matrix per sample. Images without exactly 3 channels
               get brightness and contrast only: the other three need RGB.
cutout         zero a square of half the side at a uniform centre (clipped at the borders)
=============  ==========================================================================================

Pipelines (``augment.ada_pipeline``): ``bgc`` (blit, geom, color), ``bgcc`` (+ cutout), or a comma list of the
group and transform names above. The objective calls ``augment(x)`` and reports D's real logits to
:meth:`ADA.observe`, which every ``interval`` calls moves p by sign(r_t − target)·(images seen)/(kimg·1000),
r_t = E[sign D(real)] (the paper's overfitting heuristic).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

Tensor = torch.Tensor

# Parameterized operations first (pure functions of x and the drawn parameters, so tests can check them in
# isolation), then the class that draws the parameters and steers p.

ADA_GROUPS: dict[str, tuple[str, ...]] = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": ("brightness", "contrast", "lumaflip", "hue", "saturation"),
    "cutout": ("cutout",),
}
ADA_TRANSFORMS: tuple[str, ...] = tuple(t for group in ADA_GROUPS.values() for t in group)  # the paper's order
ADA_PIPELINES: dict[str, tuple[str, ...]] = {
    "bgc": ADA_GROUPS["blit"] + ADA_GROUPS["geom"] + ADA_GROUPS["color"],
    "bgcc": ADA_GROUPS["blit"] + ADA_GROUPS["geom"] + ADA_GROUPS["color"] + ADA_GROUPS["cutout"],
}
_RGB_ONLY = ("lumaflip", "hue", "saturation")
_LUMA = (3 ** -0.5, 3 ** -0.5, 3 ** -0.5)  # the paper's luma axis: equal weights, unit length


def parse_ada_pipeline(pipeline: str, field: str = "augment.ada_pipeline") -> tuple[str, ...]:
    """``"bgc"``, ``"bgcc"`` or a comma list of pipeline / group / transform names -> transform names in the
    paper's order.

    Order is always the paper's (blit, geom, color, cutout), whatever order the list names them in.
    """
    spec = pipeline.strip()
    if spec in ADA_PIPELINES:
        return ADA_PIPELINES[spec]
    groups = [g for g in ADA_GROUPS if g != "cutout"]  # cutout is also a transform name
    allowed = f"{', '.join(ADA_PIPELINES)} or a comma list of {', '.join(groups + list(ADA_TRANSFORMS))}"
    parts = [s.strip() for s in spec.split(",") if s.strip()]
    if not parts:
        raise ValueError(f"{field}: empty ADA pipeline; choose {allowed}")
    chosen: set[str] = set()
    for part in parts:
        if part not in ADA_PIPELINES and part not in ADA_GROUPS and part not in ADA_TRANSFORMS:
            raise ValueError(f"{field}: unknown ADA transform {part!r}; choose {allowed}")
        chosen.update(ADA_PIPELINES.get(part) or ADA_GROUPS.get(part) or (part,))
    return tuple(t for t in ADA_TRANSFORMS if t in chosen)


# Draws: every random number ADA uses comes through these three, from torch's global RNG (resumable runs);
# tests monkeypatch them to force a draw.
def _rand(shape: tuple[int, ...], device: torch.device) -> Tensor:
    return torch.rand(shape, device=device)


def _randn(shape: tuple[int, ...], device: torch.device) -> Tensor:
    return torch.randn(shape, device=device)


def _randint(high: int, shape: tuple[int, ...], device: torch.device) -> Tensor:
    return torch.randint(0, high, shape, device=device)


def _matrix(rows: list[list[Any]], like: Tensor) -> Tensor:
    """Rows of per-sample scalars (N-vectors or numbers) -> N×R×K, dtype and device of ``like`` (an N-vector)."""
    flat = [torch.as_tensor(e, dtype=like.dtype, device=like.device).expand_as(like) for row in rows for e in row]
    return torch.stack(flat, dim=-1).view(like.shape[0], len(rows), len(rows[0]))


def translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    """N×3×3 homogeneous 2-D translation by (tx, ty) (N-vectors)."""
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    """N×3×3 scaling of x by sx and y by sy (N-vectors)."""
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def rotate2d(theta: Tensor) -> Tensor:
    """N×3×3 rotation by theta radians (N-vector)."""
    c, s = theta.cos(), theta.sin()
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def translate3d(tx: Tensor, ty: Tensor, tz: Tensor) -> Tensor:
    """N×4×4 homogeneous translation of RGB by (tx, ty, tz)."""
    return _matrix([[1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1]], tx)


def scale3d(sx: Tensor, sy: Tensor, sz: Tensor) -> Tensor:
    """N×4×4 per-channel scaling of RGB about 0."""
    return _matrix([[sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1]], sx)


def rotate3d(axis: tuple[float, float, float], theta: Tensor) -> Tensor:
    """N×4×4 rotation of RGB by theta radians (N-vector) about the unit ``axis`` (Rodrigues' formula)."""
    a, b, c = axis
    cos, sin = theta.cos(), theta.sin()
    k = 1 - cos
    return _matrix([[a * a * k + cos, a * b * k - c * sin, a * c * k + b * sin, 0],
                    [b * a * k + c * sin, b * b * k + cos, b * c * k - a * sin, 0],
                    [c * a * k - b * sin, c * b * k + a * sin, c * c * k + cos, 0],
                    [0, 0, 0, 1]], theta)


def _luma_projector(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """N×4×4 v·vᵀ for the luma axis v (zero in the homogeneous row and column)."""
    v = torch.tensor(_LUMA + (0.0,), dtype=dtype, device=device)
    return torch.outer(v, v).expand(n, 4, 4)


def _reflect(k: Tensor, size: int) -> Tensor:
    """Integer indices reflected into [0, size) about the edge pixels (−1 -> 1, size -> size − 2)."""
    k = torch.where(k < 0, -k, k)
    k = torch.where(k > size - 1, 2 * (size - 1) - k, k)
    return k.clamp(0, size - 1)


def blit(x: Tensor, flip: Tensor | None = None, rot90: Tensor | None = None, shift: Tensor | None = None) -> Tensor:
    """ADA's pixel blitting, exactly (every output pixel is a copy of one input pixel). x: N×C×H×W.

    flip: N bools, mirror left-right (``x.flip(3)``); rot90: N ints k, quarter turns as ``torch.rot90(x, k, (2, 3))``
    (square images only); shift: N×2 ints (dy, dx) in pixels, ``out[i, j] = in[i − dy, j − dx]`` with the uncovered
    border filled by reflection. Applied in that order: flip, rotate, shift. One gather, differentiable in x.
    """
    n, c, h, w = x.shape
    i = torch.arange(h, device=x.device).view(1, h, 1).expand(n, h, w)
    j = torch.arange(w, device=x.device).view(1, 1, w).expand(n, h, w)
    # Walk back from output to input coordinates: the last operation's inverse first.
    if shift is not None:
        i = _reflect(i - shift[:, 0].view(n, 1, 1), h)
        j = _reflect(j - shift[:, 1].view(n, 1, 1), w)
    if rot90 is not None:
        if h != w:
            raise ValueError(f"ADA rotate90 needs square images; got {h}×{w} "
                             "(leave rotate90 out of augment.ada_pipeline)")
        k, s = rot90.view(n, 1, 1) % 4, h - 1
        # torch.rot90 by k reads out[i, j] = in[(j, s − i)], in[(s − i, s − j)], in[(s − j, i)] for k = 1, 2, 3
        i, j = (torch.where(k == 1, j, torch.where(k == 2, s - i, torch.where(k == 3, s - j, i))),
                torch.where(k == 1, s - i, torch.where(k == 2, s - j, torch.where(k == 3, i, j))))
    if flip is not None:
        j = torch.where(flip.view(n, 1, 1), w - 1 - j, j)
    index = (i * w + j).reshape(n, 1, h * w).expand(n, c, h * w)
    return x.reshape(n, c, h * w).gather(2, index).view(n, c, h, w)


def affine(x: Tensor, G_inv: Tensor) -> Tensor:
    """Resample x: N×C×H×W at ``G_inv @ p`` for every output pixel p, bilinearly, reflecting outside the image.

    G_inv: N×3×3 in pixel units, origin at the image centre, x right and y down: it maps output pixel coordinates
    to input ones (the inverse of the transform the image undergoes). align_corners=False puts the normalized
    coordinates ±1 on the image's outer edges, so the identity samples every pixel centre exactly.
    """
    n, _, h, w = x.shape
    S = torch.diag(torch.tensor([w / 2, h / 2, 1.0], dtype=G_inv.dtype, device=G_inv.device))
    S_inv = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], dtype=G_inv.dtype, device=G_inv.device))
    theta = (S_inv @ G_inv @ S)[:, :2, :].to(x.dtype)  # normalized output -> normalized input coordinates
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def color_transform(x: Tensor, C: Tensor) -> Tensor:
    """Apply per-sample colour matrices C: N×4×4 (homogeneous RGB) to x: N×3×H×W; for other channel counts
    only C's first diagonal entry and offset are used (``x·C[0,0] + C[0,3]``), which is exact when C is built from
    brightness and contrast alone. Written as elementwise products, not a matmul, so TF32 never rounds it.
    """
    n = x.shape[0]
    C = C.to(x.dtype)
    if x.shape[1] == 3:
        return (C[:, :3, :3, None, None] * x[:, None]).sum(2) + C[:, :3, 3].view(n, 3, 1, 1)
    return x * C[:, 0, 0].view(n, 1, 1, 1) + C[:, 0, 3].view(n, 1, 1, 1)


def cutout_at(x: Tensor, centre: Tensor, size: float = 0.5) -> Tensor:
    """Zero, in x: N×C×H×W, the pixels whose centres lie within size/2 of ``centre``: N×2 (cx, cy) in [0, 1]
    image fractions, in both axes (a square of ``size`` of the side, clipped at the borders)."""
    n, _, h, w = x.shape
    u = (torch.arange(w, device=x.device, dtype=centre.dtype) + 0.5) / w
    v = (torch.arange(h, device=x.device, dtype=centre.dtype) + 0.5) / h
    inside = ((u.view(1, 1, w) - centre[:, 0].view(n, 1, 1)).abs() < size / 2) & \
             ((v.view(1, h, 1) - centre[:, 1].view(n, 1, 1)).abs() < size / 2)  # N×H×W
    return x * (~inside).unsqueeze(1).to(x.dtype)


class ADA:
    """Adaptive discriminator augmentation (Karras et al. 2020): ``ADA("bgc")(x: N×C×H×W) -> N×C×H×W``.

    Args:
        pipeline: ``"bgc"``, ``"bgcc"`` or a comma list of group / transform names (module docstring).
        p: the probability with which each transform is applied to each sample, in [0, 1].
        target: the value of r_t = E[sign D(real)] that :meth:`observe` steers toward (paper: 0.6).
        kimg: p can move from 0 to 1 in this many thousand real images (paper: 500); 0 makes every adjustment
            jump to 0 or 1.
        interval: :meth:`observe` calls (D updates) between adjustments (paper: 4).
        adaptive: False: p stays fixed (r_t is still measured and logged).
        batch_size: real images behind one :meth:`observe` call (the global batch under DDP).

    In a job of several processes (:meth:`distribute`), every rank draws the augmentation parameters of the *global*
    batch and keeps its own rows (as the GAN task draws its latents), and the sign sums behind r_t are all-reduced at
    every :meth:`observe`: p, r_t and the accumulators are the same on every rank, and the job augments exactly as
    one process does with the global batch.

    p = 0 returns x itself and draws nothing. All randomness comes from torch's global RNG; the output is a
    linear function of x (pixel copies, bilinear resampling, affine colour maps, masks), so G's gradient
    flows through it.
    """

    def __init__(self, pipeline: str = "bgc", p: float = 0.0, target: float = 0.6, kimg: float = 500.0,
                 interval: int = 4, adaptive: bool = True, batch_size: int = 64) -> None:
        self.pipeline = pipeline
        self.transforms = parse_ada_pipeline(pipeline)
        for name, value, ok, allowed in (("p", p, 0 <= p <= 1, "in [0, 1]"),
                                         ("target", target, 0 <= target <= 1, "in [0, 1]"),
                                         ("kimg", kimg, kimg >= 0, ">= 0"),
                                         ("interval", interval, interval >= 1, ">= 1"),
                                         ("batch_size", batch_size, batch_size >= 1, ">= 1")):
            if not ok:
                raise ValueError(f"ADA {name}={value!r} is out of range; use a value {allowed}")
        self.p, self.target, self.kimg = float(p), float(target), float(kimg)
        self.interval, self.adaptive, self.batch_size = int(interval), bool(adaptive), int(batch_size)
        self.last_rt = math.nan
        self._sign_sum: float | Tensor = 0.0  # a device tensor between adjustments: no host sync per call
        self._sign_count = 0
        self._calls = 0
        self.rank, self.world = 0, 1

    def distribute(self, rank: int, world: int) -> None:
        """Take part in a job of ``world`` processes as ``rank`` (torch.distributed must be initialized when world > 1)."""
        self.rank, self.world = int(rank), int(world)

    def _draw(self, fn: Any, *args: Any) -> Tensor:
        """``fn(*args, shape, device)`` for this rank's rows of the global batch: every rank draws world·n rows."""
        *lead, shape, dev = args
        if self.world == 1:
            return fn(*lead, shape, dev)
        n = shape[0]
        return fn(*lead, (n * self.world, *shape[1:]), dev)[self.rank * n:(self.rank + 1) * n]

    # -- augmentation --------------------------------------------------------------------------------------

    def __call__(self, x: Tensor) -> Tensor:
        p = min(max(float(self.p), 0.0), 1.0)
        if p == 0.0:
            return x
        if x.dim() != 4:
            raise ValueError(f"ADA works on N×C×H×W images; got shape {tuple(x.shape)}")
        names = self.transforms if x.shape[1] == 3 else tuple(t for t in self.transforms if t not in _RGB_ONLY)
        # Parameters in float64 for float64 images (tests), float32 otherwise (also under AMP).
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        if any(t in names for t in ADA_GROUPS["blit"]):
            x = self._blit(x, names, p)
        if any(t in names for t in ADA_GROUPS["geom"]):
            x = self._geom(x, names, p, dtype)
        if any(t in names for t in ADA_GROUPS["color"]):
            x = self._color(x, names, p, dtype)
        if "cutout" in names:
            n = x.shape[0]
            keep_all = ~self._applied(n, p, x.device)
            centre = self._draw(_rand, (n, 2), x.device).to(dtype)
            x = torch.where(keep_all.view(n, 1, 1, 1), x, cutout_at(x, centre))
        return x

    def _applied(self, n: int, p: float, device: torch.device) -> Tensor:
        """N bools: which samples get this transform."""
        return self._draw(_rand, (n,), device) < p

    def _blit(self, x: Tensor, names: tuple[str, ...], p: float) -> Tensor:
        n, _, h, w = x.shape
        dev = x.device
        flip = rot = shift = None
        if "xflip" in names:
            on = self._applied(n, p, dev)
            flip = on & (self._draw(_randint, 2, (n,), dev) == 1)
        if "rotate90" in names:
            on = self._applied(n, p, dev)
            rot = self._draw(_randint, 4, (n,), dev) * on
        if "xint" in names:
            on = self._applied(n, p, dev)
            t = (self._draw(_rand, (n, 2), dev) * 2 - 1) * 0.125  # (ty, tx) as fractions of the side
            shift = torch.stack([(t[:, 0] * h).round(), (t[:, 1] * w).round()], dim=1).long() * on.view(n, 1)
        return blit(x, flip, rot, shift)

    def _geom(self, x: Tensor, names: tuple[str, ...], p: float, dtype: torch.dtype) -> Tensor:
        n, _, h, w = x.shape
        dev = x.device
        p_rot = 1 - math.sqrt(1 - p)  # two rotation chances: P(at least one) = p, as in the paper
        G_inv = torch.eye(3, dtype=dtype, device=dev).expand(n, 3, 3)
        moved = torch.zeros(n, dtype=torch.bool, device=dev)
        # Accumulate the inverse, G_inv = T1⁻¹ T2⁻¹ …: the image undergoes T1 first, then T2, …
        for step in ("scale", "rotate", "aniso", "rotate", "xfrac"):
            if step not in names:
                continue
            on = self._applied(n, p_rot if step == "rotate" else p, dev)
            if step == "scale":
                s = torch.exp2(self._draw(_randn, (n,), dev).to(dtype) * 0.2 * on)  # lognormal, std 0.2·ln 2
                T_inv = scale2d(1 / s, 1 / s)
            elif step == "rotate":
                theta = (self._draw(_rand, (n,), dev).to(dtype) * 2 - 1) * math.pi * on
                T_inv = rotate2d(-theta)
            elif step == "aniso":
                s = torch.exp2(self._draw(_randn, (n,), dev).to(dtype) * 0.2 * on)
                T_inv = scale2d(1 / s, s)
            else:  # xfrac
                t = self._draw(_randn, (n, 2), dev).to(dtype) * 0.125 * on.view(n, 1)  # (tx, ty) as fractions of the side
                T_inv = translate2d(-t[:, 0] * w, -t[:, 1] * h)
            G_inv, moved = G_inv @ T_inv, moved | on
        # Untouched samples stay bitwise equal (resampling at the identity is exact only up to rounding).
        return torch.where(moved.view(n, 1, 1, 1), affine(x, G_inv), x)

    def _color(self, x: Tensor, names: tuple[str, ...], p: float, dtype: torch.dtype) -> Tensor:
        n, dev = x.shape[0], x.device
        eye = torch.eye(4, dtype=dtype, device=dev)
        vv = _luma_projector(n, dtype, dev)
        C = eye.expand(n, 4, 4)
        # Left-multiplied, C = Tk … T2 T1: the first transform is applied first.
        for step in ADA_GROUPS["color"]:
            if step not in names:
                continue
            on = self._applied(n, p, dev).to(dtype)
            if step == "brightness":
                b = self._draw(_randn, (n,), dev).to(dtype) * 0.2 * on
                T = translate3d(b, b, b)
            elif step == "contrast":  # about 0, mid-gray of [−1, 1] data
                c = torch.exp2(self._draw(_randn, (n,), dev).to(dtype) * 0.5 * on)
                T = scale3d(c, c, c)
            elif step == "lumaflip":
                i = self._draw(_randint, 2, (n,), dev).to(dtype) * on
                T = eye - 2 * vv * i.view(n, 1, 1)
            elif step == "hue":
                theta = (self._draw(_rand, (n,), dev).to(dtype) * 2 - 1) * math.pi * on
                T = rotate3d(_LUMA, theta)
            else:  # saturation
                s = torch.exp2(self._draw(_randn, (n,), dev).to(dtype) * 1.0 * on)
                T = vv + (eye - vv) * s.view(n, 1, 1)
            C = T @ C
        return color_transform(x, C)

    # -- steering p ----------------------------------------------------------------------------------------

    def observe(self, real_logits: Tensor) -> None:
        """Accumulate sign(D(real)) (any shape; D's margins from its decision boundary for losses whose boundary is not
        0, gankit.losses.AdversarialLoss.margins); every ``interval`` calls set r_t = mean sign and, if adaptive,
        p ← clamp(p + sign(r_t − target)·batch_size·interval / (kimg·1000), 0, 1). r_t > target means D is
        confident on reals (overfitting), so augment more."""
        signs = torch.sign(real_logits.detach()).sum(dtype=torch.float64)
        count = real_logits.numel()
        if self.world > 1:  # every rank must see the same r_t: sum the signs and counts of all ranks
            import torch.distributed as dist

            both = torch.stack([signs, torch.tensor(float(count), dtype=torch.float64, device=signs.device)])
            if dist.get_backend() != "nccl":
                both = both.cpu()
            dist.all_reduce(both)
            signs, count = both[0].to(real_logits.device), int(both[1].item())
        self._sign_sum = self._sign_sum + signs
        self._sign_count += count
        self._calls += 1
        if self._calls >= self.interval:
            self._adjust()

    def _adjust(self) -> None:
        rt = float(self._sign_sum) / self._sign_count if self._sign_count else math.nan
        if math.isfinite(rt):
            self.last_rt = rt
            if self.adaptive and rt != self.target:
                seen = self.batch_size * self._calls  # images behind the logits, also under PacGAN / DDP
                step = seen / (self.kimg * 1000) if self.kimg > 0 else math.inf
                self.p = min(max(self.p + math.copysign(step, rt - self.target), 0.0), 1.0)
        self._sign_sum, self._sign_count, self._calls = 0.0, 0, 0

    def stats(self) -> dict[str, float]:
        """For the log: ``{"ada_p": p, "ada_rt": latest r_t (nan before the first adjustment)}``."""
        return {"ada_p": float(self.p), "ada_rt": float(self.last_rt)}

    # -- resume --------------------------------------------------------------------------------------------

    _STATE_KEYS = ("p", "sign_sum", "sign_count", "calls", "last_rt")

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready: p, the open interval's accumulators and the latest r_t (None for nan)."""
        return {"p": float(self.p), "sign_sum": float(self._sign_sum), "sign_count": int(self._sign_count),
                "calls": int(self._calls), "last_rt": None if math.isnan(self.last_rt) else float(self.last_rt)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`. In fixed mode p stays the configured one (a resumed run may change it)."""
        missing = [k for k in self._STATE_KEYS if k not in state]
        if missing:
            raise ValueError(f"ADA state lacks {', '.join(missing)}; expected the keys {', '.join(self._STATE_KEYS)}")
        if self.adaptive:
            self.p = float(state["p"])
        self._sign_sum, self._sign_count = float(state["sign_sum"]), int(state["sign_count"])
        self._calls = int(state["calls"])
        self.last_rt = math.nan if state["last_rt"] is None else float(state["last_rt"])

    def __bool__(self) -> bool:
        return self.adaptive or self.p > 0

    def __repr__(self) -> str:
        mode = "adaptive" if self.adaptive else "fixed"
        return (f"ADA({self.pipeline!r}, p={self.p:.4g}, {mode}, target={self.target:g}, kimg={self.kimg:g}, "
                f"interval={self.interval}, batch_size={self.batch_size})")
