"""gankit.augment.ADA (Karras et al. 2020): each transform against its definition, identity at p = 0,
differentiability, the p controller's exact steps, resume, and build_augment's rules."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch

from gankit import augment as A
from gankit.augment import ada as ada_module  # where ADA looks up its draws (_rand, _randn, _randint)

F64 = torch.float64


def images(n: int = 4, c: int = 3, h: int = 8, w: int = 8, seed: int = 0, dtype=F64) -> torch.Tensor:
    return (torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=F64) * 2 - 1).to(dtype)


def per_sample_const(d: torch.Tensor) -> bool:
    """Every sample of d: N×… holds one value."""
    flat = d.flatten(1)
    return torch.allclose(flat, flat[:, :1].expand_as(flat), atol=1e-12)


# -- p = 0, p = 1 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pipeline", ["bgc", "bgcc"])
@pytest.mark.parametrize("channels", [1, 3])
def test_p0_is_exactly_the_identity_and_draws_nothing(pipeline, channels):
    x = images(c=channels)
    ada = A.ADA(pipeline, p=0.0)
    state = torch.get_rng_state()
    out = ada(x)
    assert out is x and torch.equal(out, x)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("pipeline", ["bgc", "bgcc"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_p1_changes_every_sample_and_keeps_shape_and_dtype(pipeline, channels, dtype):
    x = images(n=8, c=channels, h=16, w=16, dtype=dtype)
    torch.manual_seed(0)
    out = A.ADA(pipeline, p=1.0)(x)
    assert out.shape == x.shape and out.dtype == dtype and torch.isfinite(out).all()
    assert all(not torch.allclose(o, xi) for o, xi in zip(out, x))


def test_each_transform_fires_with_probability_p():
    x = images(n=4000, c=3, h=2, w=2)
    torch.manual_seed(1)
    changed = (A.ADA("brightness", p=0.3)(x) != x).flatten(1).any(1).double().mean().item()
    assert changed == pytest.approx(0.3, abs=0.03)
    # The two rotations fire with 1 − √(1 − p) each, so that some rotation happens with probability p.
    x = images(n=4000, c=1, h=4, w=4)
    changed = (A.ADA("rotate", p=0.5)(x) != x).flatten(1).any(1).double().mean().item()
    assert changed == pytest.approx(0.5, abs=0.03)


# -- blit ----------------------------------------------------------------------------------------------------

def force_randint(monkeypatch, value: int):
    monkeypatch.setattr(ada_module, "_randint", lambda high, shape, device: torch.full(shape, value, dtype=torch.long))


def test_xflip_mirrors_left_right(monkeypatch):
    x = images(h=6, w=8)
    force_randint(monkeypatch, 1)
    assert torch.equal(A.ADA("xflip", p=1.0)(x), x.flip(3))
    force_randint(monkeypatch, 0)  # drew "no flip"
    assert torch.equal(A.ADA("xflip", p=1.0)(x), x)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_rotate90_is_torch_rot90(monkeypatch, k):
    x = images(h=8, w=8)
    force_randint(monkeypatch, k)
    assert torch.equal(A.ADA("rotate90", p=1.0)(x), torch.rot90(x, k, (2, 3)))


def test_rotate90_refuses_non_square_images():
    with pytest.raises(ValueError, match="square"):
        A.ADA("rotate90", p=1.0)(images(h=6, w=8))


def test_xint_moves_a_bright_pixel_by_an_integer_of_at_most_an_eighth():
    x = torch.zeros(200, 1, 16, 16, dtype=F64)
    x[:, :, 8, 7] = 1.0
    torch.manual_seed(2)
    out = A.ADA("xint", p=1.0)(x)
    shifts = []
    for img in out:
        assert torch.equal(img.sum(), torch.tensor(1.0, dtype=F64)) and (img == 1).sum() == 1  # moved, not blurred
        i, j = (img[0] == 1).nonzero()[0].tolist()
        shifts.append((i - 8, j - 7))
        assert abs(i - 8) <= 2 and abs(j - 7) <= 2  # round(16/8) = 2
    assert len(set(shifts)) == 25  # every shift in [−2, 2]² occurs


def test_blit_shift_matches_a_reflected_reference():
    x = images(n=2, c=2, h=5, w=7)
    shift = torch.tensor([[1, -2], [-1, 3]])
    out = A.blit(x, shift=shift)

    def refl(k, size):
        return -k if k < 0 else (2 * (size - 1) - k if k > size - 1 else k)

    for n in range(2):
        for i in range(5):
            for j in range(7):
                src = refl(i - shift[n, 0].item(), 5), refl(j - shift[n, 1].item(), 7)
                assert torch.equal(out[n, :, i, j], x[n, :, src[0], src[1]])
    # flip, then rotate, then shift, in one gather
    flip, rot = torch.tensor([True, False]), torch.tensor([1, 3])
    x = images(n=2, c=2, h=6, w=6)
    got = A.blit(x, flip, rot, torch.zeros(2, 2, dtype=torch.long))
    want = torch.stack([torch.rot90(x[0].flip(2), 1, (1, 2)), torch.rot90(x[1], 3, (1, 2))])
    assert torch.equal(got, want)


# -- geometric -----------------------------------------------------------------------------------------------

def test_affine_identity_rotation_and_shift_in_pixel_units():
    x = images(n=3, c=2, h=6, w=10, dtype=torch.float32)
    eye = torch.eye(3).expand(3, 3, 3)
    assert torch.allclose(A.affine(x, eye), x, atol=1e-5)
    half_turn = A.rotate2d(torch.full((3,), math.pi))
    assert torch.allclose(A.affine(x, half_turn), torch.rot90(x, 2, (2, 3)), atol=1e-5)  # non-square too
    right_by_one = A.translate2d(torch.full((3,), -1.0), torch.zeros(3))  # output x reads input x − 1
    out = A.affine(x, right_by_one)
    assert torch.allclose(out[..., 1:], x[..., :-1], atol=1e-5)
    assert torch.allclose(out[..., 0], x[..., 0], atol=1e-5)  # reflected about the edge


def test_geometric_transforms_alone():
    x = images(n=16, c=3, h=16, w=16)
    for name in ("scale", "rotate", "aniso", "xfrac"):
        torch.manual_seed(3)
        out = A.ADA(name, p=1.0)(x)
        assert out.shape == x.shape and all(not torch.allclose(o, xi) for o, xi in zip(out, x)), name
    # isotropic scaling keeps a constant image constant (reflection padding, no black borders)
    const = torch.full((8, 1, 16, 16), 0.25, dtype=F64)
    torch.manual_seed(4)
    assert torch.allclose(A.ADA("geom", p=1.0)(const), const)


# -- colour --------------------------------------------------------------------------------------------------

def test_brightness_adds_a_per_sample_constant_of_std_02():
    x = images(n=3000, c=3, h=2, w=2)
    torch.manual_seed(5)
    d = A.ADA("brightness", p=1.0)(x) - x
    assert per_sample_const(d)
    assert d[:, 0, 0, 0].std().item() == pytest.approx(0.2, rel=0.06)


def test_contrast_scales_about_mid_gray_by_a_lognormal():
    x = images(n=3000, c=3, h=2, w=2)
    x = x - x.mean((1, 2, 3), keepdim=True)  # zero-mean images: the mean (mid-gray 0) is kept
    torch.manual_seed(6)
    out = A.ADA("contrast", p=1.0)(x)
    assert torch.allclose(out.mean((1, 2, 3)), torch.zeros(3000, dtype=F64), atol=1e-12)
    ratio = out / x
    assert per_sample_const(ratio) and (ratio > 0).all()
    assert ratio[:, 0, 0, 0].log2().std().item() == pytest.approx(0.5, rel=0.06)


def luma_chroma(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Luma (channel mean, ∝ projection on (1,1,1)/√3) and chroma (the rest) of N×3×H×W."""
    mean = x.mean(1, keepdim=True)
    return mean, x - mean


def test_lumaflip_negates_luma_and_keeps_chroma(monkeypatch):
    x = images()
    force_randint(monkeypatch, 1)
    out = A.ADA("lumaflip", p=1.0)(x)
    (l0, c0), (l1, c1) = luma_chroma(x), luma_chroma(out)
    assert torch.allclose(l1, -l0) and torch.allclose(c1, c0)


def test_hue_rotates_chroma_about_the_luma_axis():
    x = images(n=16)
    torch.manual_seed(7)
    out = A.ADA("hue", p=1.0)(x)
    (l0, c0), (l1, c1) = luma_chroma(x), luma_chroma(out)
    assert torch.allclose(l1, l0) and torch.allclose(c1.norm(dim=1), c0.norm(dim=1))
    assert not torch.allclose(c1, c0)
    # one rotation per sample: the angle between input and output chroma is the same at every pixel
    cos = (c0 * c1).sum(1) / (c0.norm(dim=1) * c1.norm(dim=1))
    assert per_sample_const(cos.unsqueeze(1).clamp(-1, 1).acos().round(decimals=8))


def test_saturation_scales_chroma_per_sample():
    x = images(n=16)
    torch.manual_seed(8)
    out = A.ADA("saturation", p=1.0)(x)
    (l0, c0), (l1, c1) = luma_chroma(x), luma_chroma(out)
    assert torch.allclose(l1, l0) and per_sample_const(c1 / c0)


def test_one_channel_colour_is_brightness_and_contrast_only():
    x = images(n=16, c=1)
    torch.manual_seed(9)
    out = A.ADA("color", p=1.0)(x)
    # out = a·x + b per sample: a second difference in x gives a constant ratio
    a = (out[..., 1:] - out[..., :-1]) / (x[..., 1:] - x[..., :-1])
    assert per_sample_const(a) and (a > 0).all()  # no luma flip: the gray image is never negated
    state = torch.get_rng_state()
    torch.manual_seed(9)
    want = A.ADA("brightness,contrast", p=1.0)(x)  # same draws: the RGB-only transforms draw nothing
    torch.set_rng_state(state)
    assert torch.equal(out, want)


def test_color_matrix_identity_is_exact():
    x = images()
    assert torch.equal(A.color_transform(x, torch.eye(4, dtype=F64).expand(4, 4, 4)), x)


# -- cutout --------------------------------------------------------------------------------------------------

def test_cutout_zeroes_one_square_of_half_the_side():
    x = torch.ones(64, 2, 16, 16, dtype=F64)
    torch.manual_seed(10)
    out = A.ADA("cutout", p=1.0)(x)
    for img in out:
        zero = img[0] == 0
        assert torch.equal(zero, img[1] == 0)
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 8 and 1 <= len(cols) <= 8  # 8 = half of 16, fewer where clipped
        assert zero.sum().item() == len(rows) * len(cols) and zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    assert max(int((o[0] == 0).sum()) for o in out) == 64


# -- gradients -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pipeline", ["blit", "geom", "color", "bgcc"])
def test_differentiable_in_x(pipeline):
    """With the draws fixed, ADA is affine in x, f(x) = J x + b, so autograd's vector-Jacobian product must
    satisfy the adjoint identity ⟨Jᵀv, d⟩ = ⟨v, f(x + d) − f(x)⟩ for any v, d (a one-shot gradcheck)."""
    ada = A.ADA(pipeline, p=1.0)
    x = images(n=3, c=3, h=8, w=8).requires_grad_(True)
    d, v = images(n=3, c=3, h=8, w=8, seed=1), images(n=3, c=3, h=8, w=8, seed=2)

    def f(inp):
        torch.manual_seed(12)  # the same draws at every evaluation
        return ada(inp)

    (f(x) * v).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    with torch.no_grad():
        change = f(x + d) - f(x)
    assert not torch.allclose(change, d)  # the transform did something
    assert (x.grad * d).sum().item() == pytest.approx((v * change).sum().item(), rel=1e-9, abs=1e-9)
    x.grad = None
    f(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradcheck_on_a_tiny_batch():
    ada = A.ADA("bgcc", p=1.0)
    x = images(n=1, c=3, h=4, w=4).requires_grad_(True)

    def f(inp):
        torch.manual_seed(14)
        return ada(inp)

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


# -- steering p ----------------------------------------------------------------------------------------------

def test_p_rises_by_the_exact_step_under_overfitting_and_falls_to_zero():
    ada = A.ADA("bgc", p=0.0, target=0.6, kimg=0.5, interval=4, batch_size=64)
    step = 64 * 4 / 500
    assert math.isnan(ada.stats()["ada_rt"])
    for _ in range(3):
        ada.observe(torch.ones(64))
    assert ada.p == 0.0 and math.isnan(ada.last_rt)  # no adjustment inside the interval
    ada.observe(torch.ones(64))
    assert ada.p == step and ada.last_rt == 1.0
    assert ada.stats() == {"ada_p": step, "ada_rt": 1.0}
    for _ in range(4):
        ada.observe(torch.ones(64))
    assert ada.p == 1.0  # 2·0.512 clamped
    for _ in range(4):
        ada.observe(-torch.ones(64))
    assert ada.p == pytest.approx(1 - step) and ada.last_rt == -1.0
    for _ in range(8):
        ada.observe(-torch.ones(64))
    assert ada.p == 0.0  # clamped at 0


def test_rt_is_the_mean_sign_and_at_the_target_p_stays():
    ada = A.ADA(p=0.3, target=0.5, interval=2, batch_size=4)
    ada.observe(torch.tensor([2.0, 3.0, -1.0, 0.5]))  # signs 1 1 −1 1
    ada.observe(torch.tensor([[1.0, 1.0], [-0.1, 4.0]]))  # any shape
    assert ada.last_rt == 0.5 and ada.p == 0.3


def test_fixed_mode_never_changes_p():
    ada = A.ADA("bgc", p=0.25, kimg=0.5, adaptive=False)
    for sign in [1] * 8 + [-1] * 2:
        ada.observe(sign * torch.ones(64))
    assert ada.p == 0.25 and ada.last_rt == 1.0  # r_t is still measured, for the log
    assert bool(ada) and not A.ADA(p=0.0, adaptive=False) and A.ADA(p=0.0)


def test_state_dict_round_trip_resumes_bitwise():
    # P(logit > 0) = 0.8: r_t wanders around the target 0.6, so p goes up and down
    logits = [torch.randn(16, generator=torch.Generator().manual_seed(s)) + 0.8416 for s in range(40)]
    x = images(n=8, h=16, w=16)
    a = A.ADA("bgcc", p=0.5, kimg=1.0, interval=3, batch_size=16)
    for t in logits[:10]:  # stop mid-interval: accumulators matter
        a.observe(t)
    b = A.ADA("bgcc", p=0.0, kimg=1.0, interval=3, batch_size=16)
    b.load_state_dict(json.loads(json.dumps(a.state_dict(), allow_nan=False)))
    ps_a, ps_b = [], []
    for t in logits[10:]:
        a.observe(t)
        b.observe(t)
        ps_a.append(a.p)
        ps_b.append(b.p)
    assert ps_a == ps_b and len(set(ps_a)) > 3 and a.stats() == b.stats()
    torch.manual_seed(13)
    out_a = a(x)
    torch.manual_seed(13)
    assert torch.equal(out_a, b(x))
    with pytest.raises(ValueError, match="lacks p"):
        b.load_state_dict({"sign_sum": 0.0, "sign_count": 0, "calls": 0, "last_rt": None})


# -- construction ---------------------------------------------------------------------------------------------

def test_pipelines_and_errors(one_line):
    assert A.parse_ada_pipeline("bgcc") == A.parse_ada_pipeline("cutout,color , geom,blit") == A.ADA_TRANSFORMS
    assert A.parse_ada_pipeline("hue,xflip") == ("xflip", "hue")  # the paper's order, not the listed one
    with one_line(ValueError, match="unknown ADA transform 'zoom'; choose bgc, bgcc or a comma list of blit"):
        A.ADA("blit,zoom")
    with one_line(ValueError, match="empty ADA pipeline"):
        A.ADA(" , ")
    with one_line(ValueError, match="ADA p=1.5"):
        A.ADA(p=1.5)
    with one_line(ValueError, match="N×C×H×W"):
        A.ADA(p=0.5)(torch.zeros(4, 2))
    assert repr(A.ADA("bgcc", p=0.5, adaptive=False)).startswith("ADA('bgcc', p=0.5, fixed")


def test_build_augment(one_line):
    cfg = SimpleNamespace(policy="", ada="none", ada_pipeline="bgcc", ada_p=0.2, ada_target=0.7, ada_kimg=100.0, ada_interval=8)
    assert A.build_augment(cfg, 32) is None
    cfg.policy = "color,translation"
    assert isinstance(A.build_augment(cfg, 32), A.DiffAugment)
    cfg.ada = "adaptive"
    with one_line(ValueError, match="augment.policy and augment.ada are exclusive"):
        A.build_augment(cfg, 32)
    cfg.policy = ""
    ada = A.build_augment(cfg, 32)
    assert isinstance(ada, A.ADA) and ada.adaptive and ada.transforms == A.ADA_TRANSFORMS
    assert (ada.p, ada.target, ada.kimg, ada.interval, ada.batch_size) == (0.2, 0.7, 100.0, 8, 32)
    cfg.ada = "fixed"
    assert not A.build_augment(cfg, 32).adaptive
