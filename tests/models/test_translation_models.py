"""Tests for gankit.models.translation (pix2pix's U-Net, CycleGAN's ResNet G, StarGAN's G and D) and the PatchGAN's
bias rule (gankit.models.patchgan).

Parameter counts are pinned twice: as the exact integer and as a closed-form sum over the layers (k·k·c_in·c_out
weights, c_out biases where the recipe has them, 2·c for each affine norm). The published numbers they must round to:

* pix2pix ``unet_256`` (batch norm, 3 -> 3): the reference (junyanz/pytorch-CycleGAN-and-pix2pix) prints
  "[Network G] Total number of parameters : 54.414 M"; its PatchGAN D (6 input channels) "2.769 M".
* CycleGAN ``resnet_9blocks`` (instance norm): "11.378 M" per generator; its D (3 input channels) "2.765 M".
  ``resnet_6blocks`` is 7,837,699 (7.838 M) with instance norm and 7,841,411 (7.841 M) with batch norm.
* StarGAN (yunjey/stargan, 128², c_dim = 5, 6 residual blocks, 6 D layers) prints "The number of parameters:
  8430528" for G and "44762048" for D.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.models.patchgan import PatchDiscriminator
from gankit.models.translation import (ResnetBlock, ResnetGenerator, StarGANDiscriminator, StarGANGenerator,
                                       UNetGenerator)


def _params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _on_meta(cls, **kw) -> nn.Module:
    """Build a big network without allocating or initializing its weights (only to count them)."""
    with torch.device("meta"):
        return cls(**kw)


def _conv(k: int, c_in: int, c_out: int, bias: bool) -> int:
    return k * k * c_in * c_out + (c_out if bias else 0)


# ---------------------------------------------------------------- closed forms


def _unet_formula(c_in: int, c_out: int, res: int, ch: int = 64, max_mult: int = 8, norm: str = "batch") -> int:
    n = int(math.log2(res))
    w = [ch * min(2 ** i, max_mult) for i in range(n)]
    bias, nrm = norm != "batch", (lambda c: 2 * c if norm == "batch" else 0)
    total = sum(_conv(4, ([c_in] + w)[i], w[i], bias) for i in range(n))  # down convs
    total += sum(nrm(w[i]) for i in range(1, n - 1))  # down norms (not the first, not the innermost)
    total += _conv(4, w[n - 1], w[n - 2], bias) + nrm(w[n - 2])  # innermost up: no skip input yet
    total += sum(_conv(4, 2 * w[lv], w[lv - 1], bias) + nrm(w[lv - 1]) for lv in range(1, n - 1))  # skip-fed ups
    return total + _conv(4, 2 * w[0], c_out, True)  # outermost: bias, tanh, no norm


def _resnet_formula(blocks: int, norm: str, c_in: int = 3, c_out: int = 3, ch: int = 64, downs: int = 2) -> int:
    bias, nrm = norm != "batch", (lambda c: 2 * c if norm == "batch" else 0)
    total = _conv(7, c_in, ch, bias) + nrm(ch)
    for i in range(downs):
        total += _conv(3, ch * 2 ** i, ch * 2 ** (i + 1), bias) + nrm(ch * 2 ** (i + 1))
        total += _conv(3, ch * 2 ** (i + 1), ch * 2 ** i, bias) + nrm(ch * 2 ** i)  # the mirror transposed conv
    mid = ch * 2 ** downs
    total += blocks * 2 * (_conv(3, mid, mid, bias) + nrm(mid))
    return total + _conv(7, ch, c_out, True)


def _patchgan_formula(c_in: int, norm: str, ch: int = 64, layers: int = 3) -> int:
    bias, nrm = norm != "batch", (lambda c: 2 * c if norm == "batch" else 0)
    total, c = _conv(4, c_in, ch, True), ch
    for i in range(1, layers + 1):
        c_out = ch * min(2 ** i, 8)
        total += _conv(4, c, c_out, bias) + nrm(c_out)
        c = c_out
    return total + _conv(4, c, 1, True)


def _stargan_g_formula(c_dim: int, img: int = 3, ch: int = 64, blocks: int = 6, downs: int = 2) -> int:
    inorm = lambda c: 2 * c  # noqa: E731 — affine IN (running stats are buffers, not parameters)
    total = _conv(7, img + c_dim, ch, False) + inorm(ch)
    for i in range(downs):
        total += 2 * (_conv(4, ch * 2 ** i, ch * 2 ** (i + 1), False)) + inorm(ch * 2 ** (i + 1)) + inorm(ch * 2 ** i)
    mid = ch * 2 ** downs
    total += blocks * 2 * (_conv(3, mid, mid, False) + inorm(mid))
    return total + _conv(7, ch, img, False)


def _stargan_d_formula(c_dim: int, res: int, img: int = 3, ch: int = 64, layers: int = 6) -> int:
    widths = [ch * 2 ** i for i in range(layers)]
    total = sum(_conv(4, c_in, c_out, True) for c_in, c_out in zip([img] + widths, widths))
    h = res // 2 ** layers
    return total + _conv(3, widths[-1], 1, False) + _conv(h, widths[-1], c_dim, False)


# ---------------------------------------------------------------- parameter counts


def test_unet_256_has_pix2pix_parameter_count():
    G = _on_meta(UNetGenerator)  # 3 -> 3, 256², 64 channels, batch norm: pix2pix's unet_256
    assert _params(G) == _unet_formula(3, 3, 256) == 54_413_955
    assert f"{_params(G) / 1e6:.3f}" == "54.414"  # as the reference prints it
    assert len(G.encoder) == len(G.decoder) == 8


@pytest.mark.parametrize("blocks,norm,count,printed", [
    (9, "instance", 11_378_179, "11.378"),  # CycleGAN's G_A / G_B (reference: 11.378 M)
    (6, "instance", 7_837_699, "7.838"),
    (6, "batch", 7_841_411, "7.841"),
])
def test_resnet_generator_parameter_counts(blocks, norm, count, printed):
    G = _on_meta(ResnetGenerator, blocks=blocks, norm=norm)
    assert _params(G) == _resnet_formula(blocks, norm) == count
    assert f"{count / 1e6:.3f}" == printed


@pytest.mark.parametrize("c_in,norm,count,printed", [
    (3, "instance", 2_764_737, "2.765"),  # CycleGAN's D_A (biases, no affine norm)
    (6, "batch", 2_768_705, "2.769"),  # pix2pix's conditional D (input and output concatenated)
])
def test_patchgan_70_parameter_counts(c_in, norm, count, printed):
    D = PatchDiscriminator(img_channels=c_in, channels=64, layers=3, norm=norm)
    assert _params(D) == _patchgan_formula(c_in, norm) == count
    assert f"{count / 1e6:.3f}" == printed


def test_patchgan_biases_follow_the_norm():
    def inner_biases(norm):
        convs = [m for m in PatchDiscriminator(channels=8, norm=norm).modules() if isinstance(m, nn.Conv2d)][1:-1]
        return [m.bias is not None for m in convs]

    assert inner_biases("batch") == [False] * 3
    assert inner_biases("instance") == [True] * 3 and inner_biases("none") == [True] * 3


def test_stargan_parameter_counts_match_the_reference_printout():
    G = _on_meta(StarGANGenerator, c_dim=5, img_resolution=128)
    D = _on_meta(StarGANDiscriminator, c_dim=5, img_resolution=128)
    assert _params(G) == _stargan_g_formula(5) == 8_430_528
    assert _params(D) == _stargan_d_formula(5, 128) == 44_762_048
    assert D.layers == 6 and D.patch == 2


# ---------------------------------------------------------------- U-Net


@pytest.mark.parametrize("res", [8, 32])
def test_unet_shapes_and_range(res):
    torch.manual_seed(0)
    G = UNetGenerator(in_channels=2, img_channels=3, img_resolution=res, channels=8)
    y = G(torch.randn(2, 2, res, res))
    assert y.shape == (2, 3, res, res) and y.abs().max() <= 1
    assert [t.shape[-1] for t in _encoder_features(G, torch.randn(2, 2, res, res))] == [res >> (i + 1) for i in
                                                                                         range(int(math.log2(res)))]
    assert (G.in_channels, G.img_channels, G.img_resolution) == (2, 3, res)


def _encoder_features(G: UNetGenerator, x: torch.Tensor) -> list[torch.Tensor]:
    out = []
    for layer in G.encoder:
        x = layer(x)
        out.append(x)
    return out


def test_unet_layer_recipe():
    G = UNetGenerator(img_resolution=32, channels=8, norm="batch")
    kinds = [[type(m).__name__ for m in layer] for layer in G.encoder]
    assert kinds[0] == ["Conv2d"] and kinds[-1] == ["LeakyReLU", "Conv2d"]
    assert all(k == ["LeakyReLU", "Conv2d", "BatchNorm2d"] for k in kinds[1:-1])
    dec = [[type(m).__name__ for m in layer] for layer in G.decoder]
    assert dec[-1] == ["ReLU", "ConvTranspose2d", "Tanh"]
    assert dec[0] == ["ReLU", "ConvTranspose2d", "BatchNorm2d"]
    assert all(d == ["ReLU", "ConvTranspose2d", "BatchNorm2d", "Dropout"] for d in dec[1:4])
    # the skip-fed decoder layers take twice the mirror width; convs have no bias under batch norm except the last
    assert [layer[1].in_channels for layer in G.decoder] == [64, 128, 64, 32, 16]
    convs = [m for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [m.bias is None for m in convs] == [True] * 9 + [False]
    G = UNetGenerator(img_resolution=32, channels=8, norm="instance")
    assert all(m.bias is not None for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    assert sum(isinstance(m, nn.InstanceNorm2d) and not m.affine for m in G.modules()) == 3 + 4


def _zero_output(module, inputs, output):
    return torch.zeros_like(output)


def test_unet_skip_connections_carry_the_input_past_the_bottleneck():
    torch.manual_seed(0)
    G = UNetGenerator(img_resolution=32, channels=8, norm="none").eval()
    x = torch.randn(1, 3, 32, 32, requires_grad=True)

    def grad_norm(zeroed: list[int]) -> float:
        hooks = [G.encoder[i].register_forward_hook(_zero_output) for i in zeroed]
        try:
            (g,) = torch.autograd.grad(G(x).sum(), x, allow_unused=True)
            return 0.0 if g is None else float(g.abs().sum())
        finally:
            for h in hooks:
                h.remove()

    n = len(G.encoder)
    assert grad_norm([]) > 0
    assert grad_norm([n - 1]) > 0  # bottleneck cut: the skips still carry the input
    assert grad_norm(list(range(1, n))) > 0  # only the outermost skip left
    assert grad_norm(list(range(n))) == 0  # control: every path cut, the hooks do cut


def test_unet_dropout_is_the_noise_source():
    x = torch.randn(2, 3, 32, 32)

    def two_passes(G):
        torch.manual_seed(1)
        a = G(x)
        torch.manual_seed(2)
        return a, G(x)

    torch.manual_seed(0)
    G = UNetGenerator(img_resolution=32, channels=8)
    a, b = two_passes(G.train())
    assert not torch.equal(a, b)
    a, b = two_passes(G.eval())
    assert torch.equal(a, b)
    torch.manual_seed(0)
    a, b = two_passes(UNetGenerator(img_resolution=32, channels=8, dropout=0.0).train())
    assert torch.equal(a, b)  # batch norm in train mode is deterministic


@pytest.mark.parametrize("res,kw,count", [
    (256, {}, 3), (8, {}, 1), (16, {}, 2), (32, {}, 3), (64, {}, 3),
    (256, {"dropout": 0.0}, 0), (256, {"dropout_layers": 1}, 1), (256, {"dropout_layers": 10}, 6),
])
def test_unet_dropout_layers(res, kw, count):
    G = _on_meta(UNetGenerator, img_resolution=res, **kw)
    drops = [j for j, layer in enumerate(G.decoder) if any(isinstance(m, nn.Dropout) for m in layer)]
    assert drops == list(range(1, count + 1))
    assert all(m.p == kw.get("dropout", 0.5) for m in G.modules() if isinstance(m, nn.Dropout))


@pytest.mark.parametrize("kw,match", [
    ({"img_resolution": 100}, "power of two"), ({"img_resolution": 4}, "power of two"),
    ({"norm": "group"}, "norm"), ({"dropout": 1.0}, "dropout"),
])
def test_unet_rejects_bad_arguments(one_line, kw, match):
    with one_line(ConfigError, match=match):
        UNetGenerator(**kw)


# ---------------------------------------------------------------- ResNet generator


@pytest.mark.parametrize("res,norm", [(32, "instance"), (64, "batch")])
def test_resnet_generator_shapes_and_range(res, norm):
    torch.manual_seed(0)
    G = ResnetGenerator(in_channels=1, img_channels=3, img_resolution=res, channels=8, blocks=3, norm=norm)
    y = G(torch.randn(2, 1, res, res))
    assert y.shape == (2, 3, res, res) and y.abs().max() <= 1
    assert (G.in_channels, G.img_channels, G.img_resolution) == (1, 3, res)


def test_resnet_generator_pads_by_reflection():
    G = ResnetGenerator(img_resolution=32, channels=8, blocks=4)
    convs = [m for m in G.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.padding == (0, 0) for m in convs if m.stride == (1, 1))  # reflection pads do the padding
    strided = [m for m in convs if m.stride == (2, 2)]
    assert len(strided) == 2 and all(m.padding == (1, 1) and m.kernel_size == (3, 3) for m in strided)
    ups = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == 2 and all(m.output_padding == (1, 1) and m.stride == (2, 2) for m in ups)
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in G.modules()) == 2 + 2 * 4
    assert sum(isinstance(m, ResnetBlock) for m in G.modules()) == 4


def test_resnet_block_is_residual():
    block = ResnetBlock(4, norm="none")
    nn.init.zeros_(block.body[-2].weight)
    nn.init.zeros_(block.body[-2].bias)
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(block(x), x)


# ---------------------------------------------------------------- StarGAN


def test_stargan_generator_shapes_and_conditioning():
    torch.manual_seed(0)
    G = StarGANGenerator(img_channels=3, c_dim=4, img_resolution=32, channels=8, blocks=2)
    x = torch.randn(2, 3, 32, 32)
    c0 = torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0]])
    c1 = torch.tensor([[0.0, 1, 1, 0], [1, 0, 1, 1]])
    y0, y1 = G(x, c0), G(x, c1)
    assert y0.shape == (2, 3, 32, 32) and y0.abs().max() <= 1
    assert (y0 - y1).abs().amax(dim=(1, 2, 3)).min() > 1e-4  # every sample reacts to its target domain
    assert (G.img_channels, G.c_dim, G.img_resolution) == (3, 4, 32)
    assert G.net[0].in_channels == 3 + 4
    assert all(m.bias is None for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    norms = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(m.affine and not m.track_running_stats for m in norms)  # each image's own statistics, in eval mode too


@pytest.mark.parametrize("res,layers,h", [(32, 4, 2), (32, None, 2), (64, 3, 8)])
def test_stargan_discriminator_heads(res, layers, h):
    torch.manual_seed(0)
    D = StarGANDiscriminator(img_channels=3, c_dim=5, img_resolution=res, channels=8, layers=layers)
    src, cls = D(torch.randn(2, 3, res, res))
    assert src.shape == (2, 1, h, h) and cls.shape == (2, 5)
    assert D.src.bias is None and D.cls.bias is None and D.cls.kernel_size == (h, h)
    convs = [m for m in D.net if isinstance(m, nn.Conv2d)]
    assert all(m.bias is not None and m.stride == (2, 2) for m in convs)
    assert all(m.negative_slope == 0.01 for m in D.net if isinstance(m, nn.LeakyReLU))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in D.modules())


def test_stargan_discriminator_width_cap():
    D = StarGANDiscriminator(img_resolution=64, channels=16, layers=5, max_width=64)
    assert [m.out_channels for m in D.net if isinstance(m, nn.Conv2d)] == [16, 32, 64, 64, 64]


def test_stargan_rejects_indivisible_resolution(one_line):
    with one_line(ConfigError, match="img_resolution"):
        StarGANDiscriminator(img_resolution=48, layers=5)
    with one_line(ConfigError, match="img_resolution"):
        StarGANGenerator(img_resolution=30)
