"""train.kernels=auto: the GEMM paths of bf16 CPU convolutions compute what PyTorch's kernels compute (exactly in float64,
within bf16 rounding of a float64 reference in bf16), differentiate twice, and leave fp32 training bitwise unchanged."""
from __future__ import annotations

import copy
import os

import pytest
import torch
from torch import nn

from gankit.config import load_preset
from gankit.training import kernels
from gankit.training.kernels import GemmConv2d, GemmConvTranspose2d, conv_weight_grad, select_kernels, use_gemm_kernels
from gankit.training.loop import Trainer

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

CL = torch.channels_last


@pytest.mark.parametrize("shape,kernel,stride,padding", [
    ((3, 5, 9, 7), (4, 4), (2, 2), (1, 1)),
    ((2, 4, 6, 6), (3, 3), (1, 1), (1, 1)),
    ((2, 3, 8, 8), (3, 2), (2, 1), (0, 1)),
    ((2, 6, 4, 4), (4, 4), (1, 1), (0, 0)),
])
def test_conv_weight_grad_equals_autograd_in_float64(shape, kernel, stride, padding) -> None:
    """The patch-matrix GEMM is the convolution's weight gradient (float64: equal to 1e-12, any layout of x)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    w = torch.randn(7, shape[1], *kernel, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(x, w, None, stride, padding)
    dy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    (ref,) = torch.autograd.grad(y, w, dy)
    for fmt in (torch.contiguous_format, CL):
        got = conv_weight_grad(x.contiguous(memory_format=fmt), dy.contiguous(memory_format=fmt), kernel, stride, padding)
        assert got.shape == ref.shape
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


LAYERS = [  # (layer, input shape, the path it must take under bf16 autocast)
    (lambda: nn.Conv2d(128, 256, 4, 2, 1, bias=False), (8, 128, 8, 8), "_GemmConvBackward"),  # DCGAN D's third layer
    (lambda: nn.Conv2d(32, 16, 3, 1, 1), (4, 32, 6, 6), "_GemmConvBackward"),  # with a bias
    (lambda: nn.Conv2d(64, 1, 4, 1, 0), (8, 64, 4, 4), "UnsqueezeBackward0"),  # D's last 4×4 layer: fully connected
    (lambda: nn.ConvTranspose2d(100, 64, 4, 1, 0, bias=False), (8, 100, 1, 1), "PermuteBackward0"),  # G's first layer
    (lambda: nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), (8, 64, 4, 4), "_GemmConvBackward"),
    (lambda: nn.ConvTranspose2d(16, 8, 4, 2, 1), (4, 16, 8, 8), "_GemmConvBackward"),
    (lambda: nn.Conv2d(3, 16, 4, 2, 1), (64, 3, 32, 32), "ConvolutionBackward0"),  # many pixels, 3 channels: oneDNN's
]


def _run(layer: nn.Module, x: torch.Tensor, dy: torch.Tensor, bf16: bool) -> tuple:
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = layer(x)
    (y.double() * dy).sum().backward()
    return y, x.grad, [p.grad for p in layer.parameters()]


@pytest.mark.parametrize("make,shape,path", LAYERS)
def test_gemm_layers_match_pytorch_within_bf16_rounding(make, shape, path, monkeypatch) -> None:
    """Output, input gradient, weight and bias gradients of the GEMM layer against a float64 reference: within bf16
    rounding (relative error < 1e-2) and no worse than PyTorch's own bf16 kernels by more than a third. (Small layers,
    with the size rule off: test_rule_... checks the rule.)"""
    monkeypatch.setattr(kernels, "MIN_MACS", 0)
    torch.manual_seed(0)
    native = make().to(memory_format=CL)
    gemm = copy.deepcopy(native)
    assert use_gemm_kernels(gemm) == 1 and type(gemm) in (GemmConv2d, GemmConvTranspose2d)
    ref = copy.deepcopy(native).double()
    x = torch.randn(shape).contiguous(memory_format=CL)
    dy = torch.randn(native(x).shape, dtype=torch.float64)
    y_ref, gx_ref, gp_ref = _run(ref, x.double(), dy, bf16=False)
    y_n, gx_n, gp_n = _run(native, x, dy, bf16=True)
    y_g, gx_g, gp_g = _run(gemm, x, dy, bf16=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert type(gemm(x.requires_grad_(True)).grad_fn).__name__ == path
    assert y_g.dtype == y_n.dtype == torch.bfloat16 and y_g.shape == y_n.shape
    assert all(p.grad.dtype == torch.float32 for p in gemm.parameters())

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return ((a.double() - b).norm() / b.norm()).item()

    for got, own, want in [(y_g, y_n, y_ref), (gx_g, gx_n, gx_ref), *zip(gp_g, gp_n, gp_ref)]:
        assert rel(got, want) < 1e-2
        assert rel(got, want) <= 1.34 * rel(own, want) + 1e-4


def test_fp32_and_inference_paths_are_pytorchs_own() -> None:
    """Outside bf16 autocast the switched layers are PyTorch's layers: bitwise the same output and gradients."""
    for make, shape, _ in LAYERS:
        torch.manual_seed(0)
        native = make()
        gemm = copy.deepcopy(native)
        use_gemm_kernels(gemm)
        x = torch.randn(shape)
        y_n, gx_n, gp_n = _run(native, x, torch.ones(native(x).shape, dtype=torch.float64), bf16=False)
        y_g, gx_g, gp_g = _run(gemm, x, torch.ones(native(x).shape, dtype=torch.float64), bf16=False)
        assert torch.equal(y_n, y_g) and torch.equal(gx_n, gx_g) and all(torch.equal(a, b) for a, b in zip(gp_n, gp_g))


def test_gemm_backward_differentiates_twice(monkeypatch) -> None:
    """An R1-style penalty (the input gradient's squared norm) differentiated w.r.t. the weights through the GEMM
    layer matches PyTorch's bf16 layer within bf16 rounding."""
    monkeypatch.setattr(kernels, "MIN_MACS", 0)
    torch.manual_seed(0)
    native = nn.Conv2d(64, 32, 4, 2, 1).to(memory_format=CL)
    gemm = copy.deepcopy(native)
    use_gemm_kernels(gemm)
    x = torch.randn(4, 64, 8, 8).contiguous(memory_format=CL)
    grads = []
    for layer in (native, gemm):
        xi = x.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(xi)
        (gx,) = torch.autograd.grad(y.float().square().sum(), xi, create_graph=True)
        grads.append(torch.autograd.grad(gx.square().sum(), layer.weight)[0])
    assert ((grads[0] - grads[1]).norm() / grads[0].norm()).item() < 2e-2


def test_switching_keeps_parameters_and_skips_parametrized_layers() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.utils.parametrizations.spectral_norm(nn.Conv2d(8, 8, 3, 1, 1)),
                        nn.Conv2d(8, 8, 3, 1, 1, groups=2), nn.ConvTranspose2d(8, 4, 4, 2, 1))
    keys = list(net.state_dict())
    assert use_gemm_kernels(net) == 2  # the plain conv and the transposed one
    assert [type(m).__name__ for m in net] == ["GemmConv2d", "ParametrizedConv2d", "Conv2d", "GemmConvTranspose2d"]
    assert list(net.state_dict()) == keys
    assert use_gemm_kernels(net, on=False) == 2 and type(net[0]) is nn.Conv2d and type(net[3]) is nn.ConvTranspose2d
    nets = {"G": net}
    assert select_kernels(nets, ["G"], "native", "bf16", torch.device("cpu")) == 0
    assert select_kernels(nets, ["G"], "auto", "fp32", torch.device("cpu")) == 0
    assert select_kernels(nets, ["G"], "auto", "bf16", torch.device("cuda")) == 0
    assert select_kernels(nets, ["G"], "auto", "bf16", torch.device("cpu")) == 2


def test_rule_takes_the_gemm_only_where_it_pays() -> None:
    """rows = N·Ho·Wo against columns = k·k·C, and the product's size: DCGAN's 64 -> 128 and 128 -> 256 layers at batch
    64 take the GEMM; a 3×3 convolution of 128 channels at 32×32, an RGB input layer and acgan-digits' small 32 -> 64
    layer (2²⁵ multiply-adds) do not."""
    assert kernels._gemm_pays(64, (8, 8), (4, 4), 64, 128) and kernels._gemm_pays(64, (4, 4), (4, 4), 128, 256)
    assert not kernels._gemm_pays(64, (32, 32), (3, 3), 128, 128) and not kernels._gemm_pays(64, (16, 16), (4, 4), 3, 64)
    assert not kernels._gemm_pays(64, (4, 4), (4, 4), 32, 64)


TINY = ["train.progress=false", "eval.metrics=[]", "data.resolution=16", "model.g_width=16", "model.d_width=16", "train.batch_size=16",
        "train.sample_every=1000", "train.checkpoint_every=1000", "train.log_every=1", "health.monitor=false", "health.guard=false",
        "train.steps=2", "train.threads=1"]


def _trained(tmp_path, name: str, extra: list[str]) -> Trainer:
    torch.manual_seed(0)
    t = Trainer(load_preset("digits", TINY + extra), tmp_path / name)
    for _ in range(2):
        t.train_step()
    return t


def test_trainer_switches_in_bf16_only_and_fp32_training_is_bitwise_unchanged(tmp_path) -> None:
    a = _trained(tmp_path, "a", ["train.precision=fp32", "train.kernels=auto"])
    b = _trained(tmp_path, "b", ["train.precision=fp32", "train.kernels=native"])
    assert not any(isinstance(m, (GemmConv2d, GemmConvTranspose2d)) for m in a.nets["G"].modules())
    assert all(torch.equal(p, q) for p, q in zip(a.nets["G"].state_dict().values(), b.nets["G"].state_dict().values()))
    c = _trained(tmp_path, "c", ["train.precision=bf16", "train.kernels=auto"])
    d = _trained(tmp_path, "d", ["train.precision=bf16", "train.kernels=native"])
    assert sum(isinstance(m, (GemmConv2d, GemmConvTranspose2d)) for n in ("G", "D", "G_ema") for m in c.nets[n].modules()) >= 6
    init = Trainer(load_preset("digits", TINY + ["train.precision=fp32"]), tmp_path / "init").nets["G"].state_dict()
    for name, w0 in init.items():  # two Adam steps: the two kernels' updates agree up to bf16 rounding
        if w0.is_floating_point() and w0.dim() == 4:
            du, dv = c.nets["G"].state_dict()[name] - w0, d.nets["G"].state_dict()[name] - w0
            assert ((du - dv).norm() / dv.norm()).item() < 0.3
