"""LPIPS-VGG: the learned perceptual image patch similarity of Zhang et al. (2018), on a VGG16 trunk.

Reference: R. Zhang, P. Isola, A. A. Efros, E. Shechtman, O. Wang, "The Unreasonable Effectiveness of Deep Features
as a Perceptual Metric", CVPR 2018 (metric version v0.1, "lin" variant: frozen trunk, learned linear heads).

The distance between two images x0, x1 (each N×3×H×W in [-1, 1]):

1. scale each input channel: ``(x - shift) / scale`` with shift = (-0.030, -0.088, -0.188) and
   scale = (0.458, 0.448, 0.450), the paper's ScalingLayer (it maps [-1, 1] inputs to ImageNet-normalised ones);
2. run the convolutional part of VGG16 (Simonyan & Zisserman, 2015) in the layer layout of the vgg16 of
   torchvision (``features`` indices 0-29: thirteen 3×3 convolutions with ReLU, four 2×2 max pools) and tap the
   activations after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (indices 3, 8, 15, 22, 29; 64, 128, 256, 512,
   512 channels; strides 1, 2, 4, 8, 16);
3. unit-normalise every tap over channels at each position, ``f / (‖f‖₂ + 1e-10)``;
4. per tap k: ``d_k = mean over (h, w) of Σ_c w_k,c · (f̂0 - f̂1)²_c`` (a 1×1 convolution without bias, with
   non-negative weights w_k, applied to the squared difference, then a spatial average);
5. ``d = Σ_k d_k``: one non-negative number per image pair.

Grey inputs (N×1×H×W) are repeated to three channels. H and W must be at least 16 (relu5_3 sits after four
2×2 pools). Untrained heads are initialised to 1, which is the paper's unlearned baseline (a cosine distance of
the normalised features, summed over channels); real use needs the v0.1 weights.

Weights file (one file, trunk and heads together), keys and shapes:

* ``net.<i>.weight`` (C_out, C_in, 3, 3) and ``net.<i>.bias`` (C_out,) for the torchvision ``features`` index
  i in 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28 (the 13 convolutions, 14,714,688 parameters);
* ``lin<k>.weight`` (1, C_k, 1, 1) for k = 0..4, C_k = 64, 128, 256, 512, 512, all entries >= 0.

:func:`convert_lpips` writes that file (``.safetensors``) from the two published files: the ImageNet VGG16 of
torchvision (``vgg16-397923af.pth``) and the LPIPS v0.1 heads (``lpips/weights/v0.1/vgg.pth`` in
richzhang/PerceptualSimilarity), whose SHA-256 digests it checks before either is read. :func:`load_lpips` reads
the combined file: ``.safetensors`` directly (a plain tensor container, nothing can execute; an expected SHA-256
may be given and is then checked), or ``.pth`` only when the caller gives the file's SHA-256 (checked on the very
bytes then passed to ``torch.load(weights_only=True)``).

No download happens here: the two source files must be fetched by the user.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError, DataError

__all__ = [
    "CONV_INDICES",
    "LIN_SHA256",
    "LPIPS",
    "MIN_SIZE",
    "SCALE",
    "SHIFT",
    "TAP_CHANNELS",
    "TAP_INDICES",
    "VGG16_SHA256",
    "convert_lpips",
    "load_lpips",
    "load_state",
]

# The paper's ScalingLayer constants (per RGB channel), for inputs in [-1, 1].
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)

# VGG16 `features` layout of torchvision: index -> (in, out) channels of each 3×3 convolution (padding 1);
# ReLU follows every convolution at index + 1; 2×2 max pools sit at indices 4, 9, 16, 23.
_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256), 12: (256, 256), 14: (256, 256),
          17: (256, 512), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512), 28: (512, 512)}
_POOLS = (4, 9, 16, 23)
CONV_INDICES = tuple(_CONVS)
TAP_INDICES = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
TAP_CHANNELS = (64, 128, 256, 512, 512)
MIN_SIZE = 16  # four 2×2 pools before relu5_3

# SHA-256 of the two published source files. Neither is hashed by its publisher in full; these are the digests
# pinned independently by several public projects that verify the files (and the torchvision one starts with the
# 397923af that torch.hub puts in its file name, as it must). vgg16-397923af.pth: 553,433,881 bytes, from
# https://download.pytorch.org/models/vgg16-397923af.pth. LPIPS v0.1 vgg.pth: 7,289 bytes, from
# https://github.com/richzhang/PerceptualSimilarity (lpips/weights/v0.1/vgg.pth).
VGG16_SHA256 = "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0"
LIN_SHA256 = "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"

_EPS = 1e-10  # added to the channel norm, as in the reference implementation
_MAX_READ = 1 << 30  # refuse to read weight files above 1 GiB (the real inputs are 553 MB and 59 MB)
_FIX = "build the file with gankit.metrics.lpips.convert_lpips(vgg16_pth, lin_pth, out.safetensors)"


class LPIPS(nn.Module):
    """LPIPS distance on a VGG16 trunk (Zhang et al., 2018, v0.1 "lin"); see the module docstring.

    Built frozen (eval mode, ``requires_grad=False`` on every parameter: a fixed measuring instrument; gradients
    still flow to the *inputs*, so it also works as a loss). Trunk weights are random until loaded with
    :func:`load_state` or built by :func:`load_lpips`; heads start at 1 (the paper's unlearned baseline).

    Shapes:
        x0, x1: N×3×H×W or N×1×H×W float in [-1, 1], same shape, H, W >= 16.
        output: N distances (>= 0), in the model's dtype and device.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(TAP_INDICES[-1] + 1):
            if i in _CONVS:
                layers.append(nn.Conv2d(*_CONVS[i], kernel_size=3, padding=1))
            elif i in _POOLS:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        for k, c in enumerate(TAP_CHANNELS):
            head = nn.Conv2d(c, 1, kernel_size=1, bias=False)
            nn.init.ones_(head.weight)
            setattr(self, f"lin{k}", head)
        self.requires_grad_(False)
        self.eval()

    def _prepare(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """Check one input, move it to the model's device and dtype, grey -> RGB."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] not in (1, 3):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"LPIPS {name} must be a tensor of shape (N, 3, H, W) or (N, 1, H, W); got {shape}")
        if not x.is_floating_point():
            raise ValueError(f"LPIPS {name} must be float in [-1, 1]; got dtype {x.dtype}")
        if min(x.shape[-2:]) < MIN_SIZE:
            raise ValueError(f"LPIPS {name} must be at least {MIN_SIZE}×{MIN_SIZE} pixels (relu5_3 is at stride 16); "
                             f"got {tuple(x.shape[-2:])}")
        ref = self.lin0.weight
        x = x.to(device=ref.device, dtype=ref.dtype)
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised VGG taps of a prepared (N×3×H×W, model dtype) batch.

        Returns:
            [N×64×H×W, N×128×H/2×W/2, N×256×H/4×W/4, N×512×H/8×W/8, N×512×H/16×W/16], each with unit channel
            norm at every position (or 0 where the activation is exactly 0).
        """
        # The scaling constants are built in the input's dtype on each call (not buffers): exact in any precision,
        # and the state dict holds exactly the layout documented above.
        shift = torch.tensor(SHIFT, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        scale = torch.tensor(SCALE, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        h = (x - shift) / scale
        out = []
        for i, layer in enumerate(self.net):
            h = layer(h)
            if i in TAP_INDICES:
                out.append(h / (h.square().sum(dim=1, keepdim=True).sqrt() + _EPS))
        return out

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """LPIPS distance of each pair (x0[i], x1[i]).

        Args:
            x0, x1: N×3×H×W or N×1×H×W float tensors in [-1, 1] of the same shape (moved to the model's device).

        Returns:
            N distances, >= 0; 0 for identical images.
        """
        a, b = self._prepare(x0, "x0"), self._prepare(x1, "x1")
        if a.shape != b.shape:
            raise ValueError(f"LPIPS inputs must have the same shape; got {tuple(x0.shape)} and {tuple(x1.shape)}")
        n = a.shape[0]
        d = torch.zeros(n, dtype=a.dtype, device=a.device)
        for k, f in enumerate(self.taps(torch.cat([a, b]))):  # one trunk pass for both sides
            diff = (f[:n] - f[n:]).square()
            d = d + getattr(self, f"lin{k}")(diff).mean(dim=(1, 2, 3))
        return d


# ------------------------------------------------------------------------------------------------- loading
def _expected_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (c_in, c_out) in _CONVS.items():
        shapes[f"net.{i}.weight"] = (c_out, c_in, 3, 3)
        shapes[f"net.{i}.bias"] = (c_out,)
    for k, c in enumerate(TAP_CHANNELS):
        shapes[f"lin{k}.weight"] = (1, c, 1, 1)
    return shapes


def load_state(model: LPIPS, state_dict: object, source: str = "state dict") -> LPIPS:
    """Check ``state_dict`` against the documented layout and load it into ``model``.

    Every key must be present, hold a floating tensor of the documented shape, and the heads must be
    non-negative; no other key is allowed.

    Raises:
        DataError: one line naming the source and the first offending key.
    """
    if not isinstance(state_dict, Mapping):
        raise DataError(f"{source}: expected a state dict (name -> tensor), got {type(state_dict).__name__}; {_FIX}")
    expected = _expected_shapes()
    for key, shape in expected.items():
        if key not in state_dict:
            raise DataError(f"{source}: missing key {key!r} (shape {shape}); not an LPIPS-VGG weights file; {_FIX}")
        got = state_dict[key]
        if not isinstance(got, torch.Tensor):
            raise DataError(f"{source}: key {key!r} holds a {type(got).__name__}, not a tensor; {_FIX}")
        if not got.is_floating_point():
            raise DataError(f"{source}: key {key!r} has dtype {got.dtype}, expected a float tensor; {_FIX}")
        if tuple(got.shape) != shape:
            raise DataError(f"{source}: key {key!r} has shape {tuple(got.shape)}, expected {shape}; {_FIX}")
        if key.startswith("lin") and bool((got < 0).any()):
            raise DataError(f"{source}: {key!r} has negative weights; LPIPS heads are non-negative "
                            "(a different or damaged file)")
        if not bool(torch.isfinite(got).all()):
            raise DataError(f"{source}: key {key!r} holds NaN or inf values (a damaged file)")
    for key in state_dict:
        if key not in expected:
            raise DataError(f"{source}: unexpected key {key!r} (not part of LPIPS-VGG); {_FIX}")
    model.load_state_dict({k: state_dict[k] for k in expected}, strict=True)
    return model


def _check_sha(value: str, name: str) -> str:
    digest = str(value).strip().lower()
    if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
        raise ConfigError(f"{name} must be a SHA-256 digest (64 hex digits); got {value!r}")
    return digest


def _read_verified(path: str | os.PathLike, sha256: str | None, what: str) -> tuple[Path, bytes]:
    """Read a file's bytes once; when ``sha256`` is given, refuse them unless their digest matches."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: {what} not found; give the path of the file")
    if p.stat().st_size > _MAX_READ:
        raise DataError(f"{p}: {p.stat().st_size} bytes is far larger than any {what}; wrong file")
    data = p.read_bytes()
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise DataError(f"{p}: SHA-256 is {got}, expected {sha256} (a different or damaged file); "
                            "nothing was loaded")
    return p, data


def _torch_load(p: Path, data: bytes) -> object:
    """``torch.load(weights_only=True)`` of verified bytes; refusals become one-line DataErrors."""
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for forbidden globals, RuntimeError/EOFError for damaged archives
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"{p}: torch.load(weights_only=True) refused the file ({type(exc).__name__}: {reason}); "
                        "it is not a plain tensor state dict") from None


def load_lpips(path: str | os.PathLike, sha256: str | None = None,
               device: str | torch.device = "cpu") -> LPIPS:
    """Build :class:`LPIPS` with the weights of one combined file (layout in the module docstring).

    Args:
        path: ``.safetensors`` (preferred; written by :func:`convert_lpips`) or ``.pth``/``.pt`` (a state dict
            saved with ``torch.save``).
        sha256: expected SHA-256 of the file. Optional for ``.safetensors`` (checked when given); **required** for
            ``.pth``/``.pt``, whose bytes reach ``torch.load(weights_only=True)`` only after they match.
        device: where the model goes.

    Returns:
        The frozen model, in eval mode on ``device``.

    Raises:
        DataError: one line: not found, digest mismatch or missing, unreadable, refused by ``weights_only``, or a
            missing / unexpected / wrongly shaped / negative-head key. Nothing is loaded in any of these cases.
        ConfigError: ``sha256`` is not 64 hex digits.
    """
    expected = _check_sha(sha256, "sha256") if sha256 is not None else None
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix == ".safetensors":
        p, data = _read_verified(p, expected, "LPIPS-VGG weights file")
        from safetensors import SafetensorError
        from safetensors.torch import load as load_safetensors

        try:
            state = load_safetensors(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise DataError(f"{p}: not a readable safetensors file ({reason}); {_FIX}") from None
    elif suffix in (".pth", ".pt"):
        if expected is None:
            raise DataError(f"{p}: a .pth file is read only when its SHA-256 is given (sha256=...); "
                            f"or convert it to .safetensors with convert_lpips")
        p, data = _read_verified(p, expected, "LPIPS-VGG weights file")
        state = _torch_load(p, data)
    else:
        raise DataError(f"{p}: unknown weights format {p.suffix!r}; give a .safetensors file (or a .pth with sha256)")
    model = load_state(LPIPS(), state, source=str(p))
    return model.to(device).eval()


def convert_lpips(vgg16_pth: str | os.PathLike, lin_pth: str | os.PathLike, out_safetensors: str | os.PathLike,
                  vgg16_sha256: str = VGG16_SHA256, lin_sha256: str = LIN_SHA256) -> str:
    """Combine the published VGG16 trunk and LPIPS v0.1 heads into one ``.safetensors`` file for :func:`load_lpips`.

    Each input's bytes are read once and hashed; only if the digest matches are those bytes given to
    ``torch.load(weights_only=True)``. ``features.<i>.weight/bias`` of the trunk become ``net.<i>.*`` (the
    classifier is dropped); ``lin<k>.model.1.weight`` of the heads (``lin<k>.model.0.weight`` in files saved
    without dropout) becomes ``lin<k>.weight``. The result is checked like any loaded file and written atomically
    (a temporary file renamed into place), with both source digests in its metadata.

    Args:
        vgg16_pth: vgg16-397923af.pth (the ImageNet VGG16 weights of torchvision).
        lin_pth: LPIPS v0.1 ``vgg.pth``.
        out_safetensors: where to write the combined file.
        vgg16_sha256, lin_sha256: expected digests; the defaults are those of the published files.

    Returns:
        SHA-256 of the written file (pass it to :func:`load_lpips` to pin it).

    Raises:
        DataError: one line: a file missing, a digest mismatch, a refused pickle, a missing or misshapen key.
            Nothing is written then.
    """
    vgg_sha, lin_sha = _check_sha(vgg16_sha256, "vgg16_sha256"), _check_sha(lin_sha256, "lin_sha256")
    vp, vdata = _read_verified(vgg16_pth, vgg_sha, "VGG16 weights file (vgg16-397923af.pth)")
    lp, ldata = _read_verified(lin_pth, lin_sha, "LPIPS v0.1 heads file (vgg.pth)")
    trunk, heads = _torch_load(vp, vdata), _torch_load(lp, ldata)
    del vdata, ldata
    for source, sd in ((vp, trunk), (lp, heads)):
        if not isinstance(sd, Mapping):
            raise DataError(f"{source}: expected a state dict (name -> tensor), got {type(sd).__name__}")
    state: dict[str, object] = {}
    for i in CONV_INDICES:
        for kind in ("weight", "bias"):
            key = f"features.{i}.{kind}"
            if key not in trunk:
                raise DataError(f"{vp}: missing key {key!r}; expected the VGG16 of torchvision (vgg16-397923af.pth)")
            state[f"net.{i}.{kind}"] = trunk[key]
    for k in range(len(TAP_CHANNELS)):
        key = next((c for c in (f"lin{k}.model.1.weight", f"lin{k}.model.0.weight") if c in heads), None)
        if key is None:
            raise DataError(f"{lp}: missing key 'lin{k}.model.1.weight'; expected the LPIPS v0.1 vgg.pth")
        state[f"lin{k}.weight"] = heads[key]
    load_state(LPIPS(), state, source=f"{vp} + {lp}")  # validates keys, shapes, dtypes, signs

    from safetensors.torch import save_file

    out = Path(out_safetensors).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out.name + ".", suffix=".part", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in state.items()}
        save_file(tensors, str(tmp), metadata={"format": "pt", "gankit": "lpips-vgg v0.1",
                                               "vgg16_sha256": vgg_sha, "lin_sha256": lin_sha})
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return digest
