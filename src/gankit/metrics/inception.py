"""The FID Inception-v3 network: the standard feature extractor for FID, KID and Inception Score.

Architecture: Inception-v3 (Szegedy et al., 2016, "Rethinking the Inception Architecture for Computer Vision",
CVPR), in the exact variant of the TensorFlow graph ``inception-2015-12-05`` that the original FID code
(Heusel et al., 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
NeurIPS) and the original Inception Score code (Salimans et al., 2016, "Improved Techniques for Training GANs",
NeurIPS) use, as ported to PyTorch by pytorch-fid (M. Seitzer), weights file ``pt_inception-2015-12-05-6726825d.pth``.
It differs from the ImageNet Inception-v3 of torchvision in three ways that change the numbers:

1. 1008 output classes, not 1000 (the TF graph's softmax layer);
2. the 3×3 stride-1 average pools inside the Mixed blocks do not count the zero padding
   (``count_include_pad=False``, TensorFlow's 'SAME' average pooling);
3. the pool branch of the last block (Mixed_7c) uses a 3×3 *max* pool instead of an average pool.

Every convolution is a "basic conv": Conv2d without bias -> BatchNorm2d(eps=0.001) -> ReLU. There is no auxiliary
classifier and no dropout (neither exists in the inference graph). Parameter and buffer names match the
pytorch-fid state dict exactly (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_var``, ...,
``fc.weight`` (1008, 2048), ``fc.bias`` (1008,)); 23,850,960 parameters in all.

Input convention. gankit images live in [-1, 1] (N×C×H×W float). pytorch-fid takes [0, 1] and maps it to [-1, 1]
with ``2x - 1``; giving the network [-1, 1] directly is the same thing. Inputs are resized to 299×299 inside
:meth:`FIDInceptionV3.forward` with ``F.interpolate(mode="bilinear", align_corners=False, antialias=False)``, as
pytorch-fid does (resizing and the affine map to [-1, 1] commute, since bilinear weights sum to 1). This is
*not* bit-identical to the TensorFlow graph, which resizes uint8 images with TF1's own bilinear kernel and maps
them with ``(x - 128) / 128`` (torch-fidelity emulates that path); FID values agree with pytorch-fid, and with
TF/torch-fidelity only to within the small, known difference between the two resizers. Grey images (C = 1) are
repeated to three channels.

Outputs. ``pool3`` is the 2048-d global average pool of Mixed_7c (after ReLU, so non-negative), the features FID
and KID compare. ``logits`` is the full classifier output ``pool3 @ fc.weightᵀ + fc.bias`` (1008-d).
``logits_unbiased`` is ``pool3 @ fc.weightᵀ`` without the bias: Salimans et al.'s released Inception Score code
multiplies pool3 by the softmax weights only, and torch-fidelity's default IS feature is the same
(``logits_unbiased``). :meth:`FIDInceptionV3.probs` therefore defaults to the softmax of the unbiased logits;
``with_bias=True`` gives the softmax of the full classifier output.

Weights. Finding, verifying, downloading and loading the weights file is :mod:`gankit.metrics.inception_weights`
(:func:`find_weights`, :func:`load_fid_inception`, :data:`EXPECTED_SHA256`, ...); those names are re-exported
here, so ``gankit.metrics.inception.load_fid_inception`` keeps working. The functions read the digest and URL from
``inception_weights`` at call time: patch them there, not here.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import DataError
# The weights file's names, re-exported (this module was their home before the split); inception_weights does not
# import this module at load time, so there is no import cycle.
from .inception_weights import (
    EXPECTED_SHA256,
    WEIGHTS_FILENAME,
    WEIGHTS_URL,
    default_cache_dir,
    find_weights,
    load_fid_inception,
    sha256_file,
)

__all__ = [
    "EXPECTED_SHA256",
    "FEATURE_DIM",
    "FIDInceptionV3",
    "INPUT_SIZE",
    "NUM_CLASSES",
    "WEIGHTS_FILENAME",
    "WEIGHTS_URL",
    "default_cache_dir",
    "find_weights",
    "load_fid_inception",
    "load_state",
    "sha256_file",
]

INPUT_SIZE = 299  # the network's native resolution
FEATURE_DIM = 2048  # pool3
NUM_CLASSES = 1008  # the TF 2015-12-05 graph's classifier


# --------------------------------------------------------------------------------------------- architecture
class _BasicConv(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d(eps=0.001, TF's value) -> ReLU. State keys: ``conv.weight``, ``bn.*``."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _same_pool3x3(x: torch.Tensor, kind: str) -> torch.Tensor:
    """3×3, stride 1, 'same'-padded pooling of the Mixed blocks' pool branch, as in the TF graph.

    ``"avg"`` averages only over the in-image positions (padding not counted; a constant image stays constant at
    the border). ``"max"`` is the max pool that the graph's last block (Mixed_7c) uses instead.
    """
    if kind == "max":
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
    if kind == "avg":
        return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"pool kind must be 'avg' or 'max'; got {kind!r}")


class _Mixed35(nn.Module):
    """Block on the 35×35 grid (Mixed_5b/5c/5d): C_in -> 64 + 64 + 96 + pool_features channels."""

    def __init__(self, c_in: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _BasicConv(c_in, 64, 1)
        self.branch5x5_1 = _BasicConv(c_in, 48, 1)
        self.branch5x5_2 = _BasicConv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _BasicConv(c_in, 64, 1)
        self.branch3x3dbl_2 = _BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _BasicConv(96, 96, 3, padding=1)
        self.branch_pool = _BasicConv(c_in, pool_features, 1)
        self.pool_kind = "avg"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_same_pool3x3(x, self.pool_kind))
        return torch.cat([b1, b5, b3, bp], dim=1)


class _Reduce35to17(nn.Module):
    """Grid reduction 35×35 -> 17×17 (Mixed_6a): C_in -> 384 + 96 + C_in channels."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = _BasicConv(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = _BasicConv(c_in, 64, 1)
        self.branch3x3dbl_2 = _BasicConv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _BasicConv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], dim=1)


class _Mixed17(nn.Module):
    """Block on the 17×17 grid with factorised 7×7 convolutions (Mixed_6b..6e): C_in -> 4 × 192 channels."""

    def __init__(self, c_in: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = _BasicConv(c_in, 192, 1)
        self.branch7x7_1 = _BasicConv(c_in, c7, 1)
        self.branch7x7_2 = _BasicConv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _BasicConv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _BasicConv(c_in, c7, 1)
        self.branch7x7dbl_2 = _BasicConv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _BasicConv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _BasicConv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _BasicConv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _BasicConv(c_in, 192, 1)
        self.pool_kind = "avg"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = conv(bd)
        bp = self.branch_pool(_same_pool3x3(x, self.pool_kind))
        return torch.cat([b1, b7, bd, bp], dim=1)


class _Reduce17to8(nn.Module):
    """Grid reduction 17×17 -> 8×8 (Mixed_7a): C_in -> 320 + 192 + C_in channels."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = _BasicConv(c_in, 192, 1)
        self.branch3x3_2 = _BasicConv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _BasicConv(c_in, 192, 1)
        self.branch7x7x3_2 = _BasicConv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _BasicConv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _BasicConv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], dim=1)


class _Mixed8(nn.Module):
    """Block on the 8×8 grid with split 1×3 / 3×1 heads (Mixed_7b, 7c): C_in -> 320 + 768 + 768 + 192 = 2048.

    ``pool_kind`` is ``"avg"`` for Mixed_7b and ``"max"`` for Mixed_7c (the TF graph's quirk, kept for fidelity).
    """

    def __init__(self, c_in: int, pool_kind: str) -> None:
        super().__init__()
        self.branch1x1 = _BasicConv(c_in, 320, 1)
        self.branch3x3_1 = _BasicConv(c_in, 384, 1)
        self.branch3x3_2a = _BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _BasicConv(c_in, 448, 1)
        self.branch3x3dbl_2 = _BasicConv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _BasicConv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _BasicConv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _BasicConv(c_in, 192, 1)
        self.pool_kind = pool_kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        t = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(t), self.branch3x3_2b(t)], dim=1)
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t)], dim=1)
        bp = self.branch_pool(_same_pool3x3(x, self.pool_kind))
        return torch.cat([b1, b3, bd, bp], dim=1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 as in the TF 2015-12-05 graph used by FID and IS (see the module docstring).

    Built frozen: eval mode, ``requires_grad=False`` on every parameter (it is a fixed measuring instrument; call
    ``.train()`` / ``.requires_grad_(True)`` explicitly if you really want otherwise). Weights are random until
    loaded with :func:`load_state` or built by :func:`load_fid_inception`.

    Shapes (N images):
        input  N×3×H×W or N×1×H×W, float, values in [-1, 1]; any H, W (resized to 299×299 inside).
        pool3            N×2048  (non-negative)
        logits           N×1008  (pool3 @ Wᵀ + b)
        logits_unbiased  N×1008  (pool3 @ Wᵀ)
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _BasicConv(3, 32, 3, stride=2)   # 299 -> 149
        self.Conv2d_2a_3x3 = _BasicConv(32, 32, 3)            # 149 -> 147
        self.Conv2d_2b_3x3 = _BasicConv(32, 64, 3, padding=1)  # 147, then max pool -> 73
        self.Conv2d_3b_1x1 = _BasicConv(64, 80, 1)            # 73
        self.Conv2d_4a_3x3 = _BasicConv(80, 192, 3)           # 71, then max pool -> 35
        self.Mixed_5b = _Mixed35(192, pool_features=32)       # 256 channels
        self.Mixed_5c = _Mixed35(256, pool_features=64)       # 288
        self.Mixed_5d = _Mixed35(288, pool_features=64)       # 288
        self.Mixed_6a = _Reduce35to17(288)                    # 768 @ 17×17
        self.Mixed_6b = _Mixed17(768, c7=128)
        self.Mixed_6c = _Mixed17(768, c7=160)
        self.Mixed_6d = _Mixed17(768, c7=160)
        self.Mixed_6e = _Mixed17(768, c7=192)
        self.Mixed_7a = _Reduce17to8(768)                     # 1280 @ 8×8
        self.Mixed_7b = _Mixed8(1280, pool_kind="avg")        # 2048
        self.Mixed_7c = _Mixed8(2048, pool_kind="max")        # 2048
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        self.requires_grad_(False)
        self.eval()

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Check the input, move it to the model's device and dtype, grey -> RGB, resize to 299×299."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] not in (1, 3):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"FID Inception input must be a tensor of shape (N, 3, H, W) or (N, 1, H, W); got {shape}")
        if not x.is_floating_point():
            raise ValueError(
                f"FID Inception input must be float in [-1, 1]; got dtype {x.dtype} "
                "(for uint8 images in [0, 255] pass x.float() / 127.5 - 1)"
            )
        ref = self.fc.weight
        x = x.to(device=ref.device, dtype=ref.dtype)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            # pytorch-fid's resize: bilinear, half-pixel centres, no anti-aliasing when shrinking.
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                              antialias=False)
        return x

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the network.

        Args:
            x: N×3×H×W or N×1×H×W float tensor in [-1, 1] (any device/dtype; moved to the model's).

        Returns:
            ``{"pool3": N×2048, "logits": N×1008, "logits_unbiased": N×1008}`` in the model's dtype.
        """
        x = self._prepare(x)
        x = self.Conv2d_1a_3x3(x)
        x = self.Conv2d_2a_3x3(x)
        x = self.Conv2d_2b_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_3b_1x1(x)
        x = self.Conv2d_4a_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        pool3 = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        unbiased = pool3 @ self.fc.weight.t()
        return {"pool3": pool3, "logits": unbiased + self.fc.bias, "logits_unbiased": unbiased}

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """pool3 features for FID/KID: N×3×H×W (or N×1×H×W) in [-1, 1] -> N×2048, non-negative."""
        return self(x)["pool3"]

    @torch.no_grad()
    def probs(self, x: torch.Tensor, with_bias: bool = False) -> torch.Tensor:
        """Class probabilities for the Inception Score: N×C×H×W in [-1, 1] -> N×1008, rows summing to 1.

        Default: softmax of the unbiased logits (pool3 @ Wᵀ), as in Salimans et al.'s released IS code and
        torch-fidelity. ``with_bias=True``: softmax of the full classifier output (pool3 @ Wᵀ + b).
        """
        out = self(x)
        return torch.softmax(out["logits" if with_bias else "logits_unbiased"], dim=1)


# ------------------------------------------------------------------------------------------------- loading
def load_state(model: nn.Module, state_dict: object, source: str = "state dict") -> nn.Module:
    """Check ``state_dict`` key by key against ``model`` and load it strictly.

    ``num_batches_tracked`` BatchNorm counters may be absent (files written by old PyTorch versions do not have
    them; they play no part in eval mode) and are then kept from the model. Everything else must match exactly:
    same keys, same shapes, tensors only.

    Args:
        model: the module to load into (normally a :class:`FIDInceptionV3`).
        state_dict: a mapping of parameter/buffer names to tensors.
        source: what to call the state dict in error messages (a file path).

    Returns:
        ``model``, loaded.

    Raises:
        DataError: one line naming the source and the first missing, unexpected or wrongly shaped key.
    """
    fix = f"use the FID Inception weights {WEIGHTS_FILENAME} from {WEIGHTS_URL}"
    if not isinstance(state_dict, Mapping):
        raise DataError(f"{source}: expected a state dict (name -> tensor), got {type(state_dict).__name__}; {fix}")
    expected = model.state_dict()
    full: dict[str, torch.Tensor] = {}
    for key, want in expected.items():
        if key not in state_dict:
            if key.endswith("num_batches_tracked"):
                full[key] = want
                continue
            raise DataError(f"{source}: missing key {key!r} (shape {tuple(want.shape)}); {fix}")
        got = state_dict[key]
        if not isinstance(got, torch.Tensor):
            raise DataError(f"{source}: key {key!r} holds a {type(got).__name__}, not a tensor; {fix}")
        if tuple(got.shape) != tuple(want.shape):
            raise DataError(
                f"{source}: key {key!r} has shape {tuple(got.shape)}, expected {tuple(want.shape)}; {fix}")
        full[key] = got
    for key in state_dict:
        if key not in expected:
            raise DataError(f"{source}: unexpected key {key!r} (not part of the FID Inception-v3); {fix}")
    model.load_state_dict(full, strict=True)
    return model
