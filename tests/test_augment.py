"""gankit.augment (DiffAugment): transforms checked against their definitions, shapes, differentiability, config rules."""
from __future__ import annotations

import pytest
import torch

from gankit import augment as A
from gankit.config import load_preset
from gankit.errors import ConfigError

F64 = torch.float64


def images(n: int = 4, c: int = 3, h: int = 8, w: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=F64) * 2 - 1


def test_empty_policy_is_the_identity():
    x = images()
    aug = A.DiffAugment("")
    assert not aug and torch.equal(aug(x), x)
    state = torch.get_rng_state()
    aug(x)
    assert torch.equal(torch.get_rng_state(), state)  # draws nothing: turning it off changes no other randomness


def test_color_transforms_match_their_formulas():
    x = images()
    torch.manual_seed(3)
    out = A.color(x)
    torch.manual_seed(3)
    b = torch.rand(4, 1, 1, 1, dtype=F64) - 0.5
    y = x + b
    s = torch.rand(4, 1, 1, 1, dtype=F64) * 2.0
    y = (y - y.mean(1, keepdim=True)) * s + y.mean(1, keepdim=True)
    k = torch.rand(4, 1, 1, 1, dtype=F64) + 0.5
    y = (y - y.mean((1, 2, 3), keepdim=True)) * k + y.mean((1, 2, 3), keepdim=True)
    assert torch.allclose(out, y)


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Reference: out[i, j] = x[i − dy, j − dx] where inside, else 0 (one C×H×W image)."""
    out = torch.zeros_like(x)
    h, w = x.shape[1:]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[:, i, j] = x[:, i - dy, j - dx]
    return out


def test_translation_is_a_zero_padded_shift_of_at_most_an_eighth():
    x = images(n=16, h=16, w=16)
    torch.manual_seed(1)
    out = A.translation(x)
    assert out.shape == x.shape
    found = []
    for n in range(16):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(out[n], _shift(x[n], dy, dx))]
        assert len(matches) == 1, n  # |shift| ≤ 16/8 = 2 pixels each way
        found.append(matches[0])
    assert len(set(found)) > 4  # shifts are drawn per sample


def test_cutout_zeroes_one_square_of_half_the_side():
    x = torch.ones(64, 2, 8, 8, dtype=F64)
    torch.manual_seed(2)
    out = A.cutout(x)
    assert out.shape == x.shape
    for img in out:
        zero = img[0] == 0
        assert torch.equal(zero, img[1] == 0)  # the same square in every channel
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert 2 <= len(rows) <= 4 and 2 <= len(cols) <= 4  # side 4, clipped at most to half at a border
        assert zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a full rectangle
        assert zero.sum().item() == len(rows) * len(cols)
    assert (out == 0).double().mean().item() == pytest.approx(0.2, abs=0.06)  # ~16/64 less the clipping


def test_flip_mirrors_about_half():
    x = images(n=200, c=1, h=4, w=4)
    torch.manual_seed(0)
    out = A.flip(x)
    flipped = torch.tensor([torch.equal(o, xi.flip(2)) for o, xi in zip(out, x)])
    same = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x)])
    assert (flipped | same).all() and 70 < flipped.sum().item() < 130


def test_full_policy_is_differentiable():
    aug = A.DiffAugment("color,translation,cutout")
    x = images(n=2, c=2, h=4, w=4).requires_grad_(True)

    def f(inp: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(7)  # the same draws at every evaluation
        return aug(inp)

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-6)
    # and gradients are not trivially zero
    f(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_same_seed_same_augmentation():
    aug = A.DiffAugment("color,translation,cutout")
    x = images()
    torch.manual_seed(11)
    a = aug(x)
    torch.manual_seed(11)
    assert torch.equal(a, aug(x))


def test_bad_policies_and_shapes():
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        A.DiffAugment("color,rotate")
    with pytest.raises(ValueError, match="N×C×H×W"):
        A.DiffAugment("color")(torch.zeros(4, 2))


def test_config_refuses_augmentation_on_toys_and_accepts_it_on_images(one_line):
    with one_line(ConfigError, match="augment.policy"):
        load_preset("ring", ["augment.policy=color,translation"])
    with one_line(ConfigError, match="augment.policy: unknown augmentation 'zoom'"):
        load_preset("digits", ["augment.policy=zoom"])
    with one_line(ConfigError, match="reg.bcr_real"):
        load_preset("grid", ["reg.bcr_real=10"])
    cfg = load_preset("digits", ["augment.policy=color,translation,cutout"])
    assert A.parse_policy(cfg.augment.policy) == ["color", "translation", "cutout"]
