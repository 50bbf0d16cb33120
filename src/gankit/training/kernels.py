"""Faster bf16 convolution kernels for the CPU training step (``train.kernels``; issue 24).

Measured in benchmarks/throughput.py (docs/benchmarks/throughput.md, "Kernels"): on a CPU with AMX / AVX-512 BF16,
oneDNN computes a bf16 convolution's forward pass and its input gradient at 0.8-1.8 TFLOP/s, but the weight gradient
of the DCGAN's 4×4 stride-2 layers at only 0.25-0.55 TFLOP/s, and the two degenerate layers (G's first transposed
convolution of a 1×1 latent, D's last 4×4 convolution to one logit) at under 0.1 TFLOP/s. Both are matrix products
in disguise:

* the weight gradient of a convolution with kernel k, stride s, padding p is one GEMM,
  ``dW[o, (i, j, c)] = Σ_{n, y, x} dY[n, o, y, x] · X[n, c, s·y - p + i, s·x - p + j]``: with X in channels_last the
  patches (N·Ho·Wo) × (k·k·C) are one strided copy, dY is already (N·Ho·Wo) × O, and the product lands in the weight's
  channels_last layout (O, k, k, C);
* a transposed convolution's weight gradient is the same product with the roles of X and dY swapped (it is the
  adjoint of the convolution with the same weight);
* a transposed convolution of a 1×1 input (stride 1, no padding) and a convolution whose kernel covers its whole
  unpadded input are fully connected layers.

:func:`use_gemm_kernels` switches a network's plain ``nn.Conv2d`` / ``nn.ConvTranspose2d`` layers to subclasses that
take these paths when the layer runs under CPU bf16 autocast (its parameters, state dict and module tree unchanged);
anywhere else (fp32, GPU, inference in fp32) they run PyTorch's own kernels, so fp32 training is bitwise unchanged.
The forward pass and the input gradient stay oneDNN's (already fast). The results equal PyTorch's up to bf16
rounding (GEMM and oneDNN both accumulate in fp32; tests/training/test_kernels.py compares them), and the backward
is built from differentiable ops, so a gradient penalty can differentiate it again.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# A layer's weight gradient goes through the GEMM when its reduction (N·Ho·Wo rows) is at most this many times its
# columns (k·k·C_in): oneDNN's kernel is slow when the layer has many channels over few pixels (3.5× slower than the
# GEMM for DCGAN's 128 -> 256 channels at 8×8 -> 4×4, batch 64) and fast when it has many pixels (5× faster than the
# GEMM, whose patch matrix grows k·k times the input, for 3×3 convolutions of 128 channels at 32×32).
ROWS_PER_COLUMN = 4
# ... and when the product is large enough to repay the patch copy: at 2²⁷ multiply-adds (the digits preset's 64 -> 128
# layers, batch 64) the layer's forward + backward measured 1.3× faster through the GEMM, at 2²⁵ (acgan-digits' 32 -> 64)
# 0.84-0.93× as fast.
MIN_MACS = 2**26


def _gemm_pays(n: int, out: tuple[int, int] | torch.Size, kernel: tuple[int, int], channels: int, outputs: int) -> bool:
    """rows = n·out pixels, columns = kernel·channels (the patch matrix), times ``outputs`` for the product's size."""
    rows, cols = n * out[0] * out[1], kernel[0] * kernel[1] * channels
    return rows <= ROWS_PER_COLUMN * cols and rows * cols * outputs >= MIN_MACS


def _bf16_cpu(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


def _patches(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
             out: tuple[int, int]) -> torch.Tensor:
    """x: N×C×H×W -> its (N·Ho·Wo) × (kh·kw·C) patch matrix, rows in (n, y, x) order, columns in (i, j, c) order."""
    n, c = x.shape[:2]
    xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, padding[1], padding[1], padding[0], padding[0])).contiguous()  # N×H'×W'×C
    s = xp.stride()
    windows = xp.as_strided((n, out[0], out[1], kernel[0], kernel[1], c), (s[0], stride[0] * s[1], stride[1] * s[2], s[1], s[2], s[3]))
    return windows.reshape(n * out[0] * out[1], kernel[0] * kernel[1] * c)


def conv_weight_grad(x: torch.Tensor, grad_out: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                     padding: tuple[int, int]) -> torch.Tensor:
    """The gradient of ``F.conv2d(x, W, stride, padding)`` w.r.t. W (O×C×kh×kw, channels_last) as one GEMM.

    x: N×C×H×W; grad_out: N×O×Ho×Wo."""
    o, (ho, wo) = grad_out.shape[1], grad_out.shape[2:]
    cols = _patches(x, kernel, stride, padding, (ho, wo))  # (N·Ho·Wo) × (kh·kw·C)
    rows = grad_out.permute(0, 2, 3, 1).reshape(-1, o)  # (N·Ho·Wo) × O
    return (rows.t() @ cols).view(o, kernel[0], kernel[1], x.shape[1]).permute(0, 3, 1, 2)


class _GemmConv(torch.autograd.Function):
    """conv2d or (``transposed``) conv_transpose2d without output padding, inputs already bf16 and autocast off, whose
    weight gradient is :func:`conv_weight_grad` (for the transposed layer with the roles of input and output gradient
    swapped: it is the adjoint of the convolution with the same weight)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, transposed):  # noqa: ANN001, ANN205 - torch's Function protocol
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, transposed)
        return (F.conv_transpose2d if transposed else F.conv2d)(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        x, weight = ctx.saved_tensors
        stride, padding, transposed = ctx.conf
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = F.conv2d(grad, weight, None, stride, padding) if transposed else \
                torch.nn.grad.conv2d_input(x.shape, weight, grad, stride, padding)
        if ctx.needs_input_grad[1]:  # transposed: Cin×Cout×kh×kw, the transposed layer's own weight shape
            gw = conv_weight_grad(grad, x, weight.shape[2:], stride, padding) if transposed else \
                conv_weight_grad(x, grad, weight.shape[2:], stride, padding)
        if ctx.needs_input_grad[2]:
            gb = grad.sum((0, 2, 3), dtype=torch.float32)
        return gx, gw, gb, None, None, None


def _bf16(*tensors: torch.Tensor | None) -> tuple:
    return tuple(None if t is None else t.to(torch.bfloat16) for t in tensors)


def _plain(m: nn.Module) -> bool:
    return m.groups == 1 and m.dilation == (1, 1) and m.padding_mode == "zeros" and not isinstance(m.padding, str)


class GemmConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose bf16 CPU training step takes the GEMM paths of this module (same parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _bf16_cpu(x):
            return super().forward(x)
        kh, kw = self.kernel_size
        ph, pw = self.padding
        with torch.autocast("cpu", enabled=False):
            x, w, b = _bf16(x, self.weight, self.bias)
            if (ph, pw) == (0, 0) and tuple(x.shape[2:]) == (kh, kw):  # one output pixel: a fully connected layer
                y = F.linear(x.permute(0, 2, 3, 1).reshape(len(x), -1), w.permute(0, 2, 3, 1).reshape(len(w), -1), b)
                return y[:, :, None, None]
            out = ((x.shape[2] + 2 * ph - kh) // self.stride[0] + 1, (x.shape[3] + 2 * pw - kw) // self.stride[1] + 1)
            if _gemm_pays(len(x), out, self.kernel_size, self.in_channels, self.out_channels):
                return _GemmConv.apply(x, w, b, self.stride, self.padding, False)
            return F.conv2d(x, w, b, self.stride, self.padding)


class GemmConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` whose bf16 CPU training step takes the GEMM paths of this module (same parameters)."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if not _bf16_cpu(x) or output_size is not None or self.output_padding != (0, 0):
            return super().forward(x, output_size)
        kh, kw = self.kernel_size
        with torch.autocast("cpu", enabled=False):
            x, w, b = _bf16(x, self.weight, self.bias)
            if self.padding == (0, 0) and self.stride == (1, 1) and tuple(x.shape[2:]) == (1, 1):  # 1×1 -> k×k: fully connected
                c, o = w.shape[:2]
                y = (x.reshape(len(x), c) @ w.permute(0, 2, 3, 1).reshape(c, -1)).view(len(x), kh, kw, o).permute(0, 3, 1, 2)
                return y if b is None else y + b[:, None, None]
            if _gemm_pays(len(x), x.shape[2:], self.kernel_size, self.out_channels, self.in_channels):  # the roles swap
                return _GemmConv.apply(x, w, b, self.stride, self.padding, True)
            return F.conv_transpose2d(x, w, b, self.stride, self.padding)


_SWAP = {nn.Conv2d: GemmConv2d, nn.ConvTranspose2d: GemmConvTranspose2d}


def use_gemm_kernels(net: nn.Module, on: bool = True) -> int:
    """Switch ``net``'s plain convolutions (exactly ``nn.Conv2d`` / ``nn.ConvTranspose2d``: not parametrized ones,
    e.g. spectral-normalized, nor subclasses; groups 1, dilation 1, zero padding) to the GEMM-kernel subclasses, in
    place (``on=False``: back to PyTorch's classes). Parameters, buffers, state-dict keys and fp32 results are
    unchanged. Returns how many layers were switched."""
    swap = _SWAP if on else {v: k for k, v in _SWAP.items()}
    count = 0
    for m in net.modules():
        new = swap.get(type(m))
        if new is not None and _plain(m):
            m.__class__ = new
            count += 1
    return count


def select_kernels(nets: dict[str, nn.Module], names: list[str], kernels: str, precision: str, device: torch.device) -> int:
    """``train.kernels``: ``auto`` switches the networks ``names`` to the GEMM paths when they train in bf16 on the
    CPU (where they were measured faster); ``native`` keeps PyTorch's kernels. Returns how many layers switched."""
    if kernels != "auto" or precision != "bf16" or device.type != "cpu":
        return 0
    return sum(use_gemm_kernels(nets[n]) for n in names)
