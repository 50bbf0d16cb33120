"""gankit.losses: closed-form values on fixed logits, label smoothing, stability, gradients, the registry."""
from __future__ import annotations

import math

import pytest
import torch

from gankit.config import LossConfig
from gankit.errors import ConfigError
from gankit.losses import LOSSES, build_loss

REAL = [0.0, 2.0]
FAKE = [-1.0, 3.0]


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def relu(x: float) -> float:
    return max(0.0, x)


def bce_real(r: float, t: float) -> float:
    """−[t log σ(r) + (1 − t) log(1 − σ(r))]: the cross-entropy of D's real output against target t."""
    return -(t * math.log(sig(r)) + (1 - t) * math.log(1 - sig(r)))


# Hand-written expectations (t: D's target for real samples).
def expected(name: str, real, fake, t: float = 1.0) -> tuple[float, float]:
    logistic_d = mean(bce_real(r, t) for r in real) + mean(-math.log(1 - sig(f)) for f in fake)
    return {
        "minimax": (logistic_d, mean(math.log(1 - sig(f)) for f in fake)),
        "nsgan": (logistic_d, mean(-math.log(sig(f)) for f in fake)),
        "wgan": (mean(fake) - mean(real), -mean(fake)),
        "hinge": (mean(relu(1 - r) for r in real) + mean(relu(1 + f) for f in fake), -mean(fake)),
        "lsgan": (0.5 * mean((r - t) ** 2 for r in real) + 0.5 * mean(f**2 for f in fake),
                  0.5 * mean((f - 1) ** 2 for f in fake)),
    }[name]


NAMES = ["hinge", "lsgan", "minimax", "nsgan", "wgan"]


def t64(xs) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)


RELATIVISTIC = ["ragan", "rahinge"]


def test_registry_lists_exactly_the_seven_losses():
    assert LOSSES.names() == sorted(NAMES + RELATIVISTIC)
    assert len(LOSSES) == 7
    for name in NAMES + RELATIVISTIC:
        loss = build_loss(LossConfig(name=name))
        assert loss.name == name and loss.relativistic == (name in RELATIVISTIC)
    assert [n for n in LOSSES.names() if build_loss(LossConfig(name=n)).critic] == ["hinge", "rahinge", "wgan"]


def test_unknown_loss_lists_the_choices():
    with pytest.raises(ConfigError) as info:
        build_loss(LossConfig(name="foo"))
    msg = str(info.value)
    assert "\n" not in msg and "loss.name" in msg and "'foo'" in msg
    assert all(n in msg for n in NAMES + RELATIVISTIC)


def test_hand_values_are_what_we_think():
    # A spot check of the reference formulas themselves with numbers worked out on paper:
    # wgan D = mean(-1, 3) - mean(0, 2) = 1 - 1 = 0; hinge D = mean(1, 0) + mean(0, 4) = 0.5 + 2 = 2.5;
    # lsgan D = 0.5·mean(1, 1) + 0.5·mean(1, 9) = 0.5 + 2.5 = 3; lsgan G = 0.5·mean(4, 4) = 2.
    assert expected("wgan", REAL, FAKE) == (0.0, -1.0)
    assert expected("hinge", REAL, FAKE) == (2.5, -1.0)
    assert expected("lsgan", REAL, FAKE) == (3.0, 2.0)
    # minimax D at r = 0: −log ½ = log 2.
    assert expected("minimax", [0.0], [0.0])[0] == pytest.approx(2 * math.log(2))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("real,fake", [(REAL, FAKE), ([0.5, -2.0, 1.5], [0.25]), ([-3.0], [4.0, -0.5, 0.0, 2.0])])
def test_closed_form_values(name, real, fake):
    loss = build_loss(LossConfig(name=name))
    d_exp, g_exp = expected(name, real, fake)
    assert loss.d_loss(t64(real), t64(fake)).item() == pytest.approx(d_exp, rel=1e-12, abs=1e-12)
    assert loss.g_loss(t64(fake)).item() == pytest.approx(g_exp, rel=1e-12, abs=1e-12)
    # float32 gives the same numbers to float32 precision; the result is a 0-d tensor
    d32 = loss.d_loss(torch.tensor(real), torch.tensor(fake))
    assert d32.shape == () and d32.dtype == torch.float32
    assert d32.item() == pytest.approx(d_exp, rel=1e-6, abs=1e-6)


def test_minimax_and_nsgan_share_d_and_differ_in_g():
    mm, ns = build_loss(LossConfig(name="minimax")), build_loss(LossConfig(name="nsgan"))
    r, f = t64(REAL), t64(FAKE)
    assert mm.d_loss(r, f).item() == ns.d_loss(r, f).item()
    # minimax G = mean log(1 − σ(f)) = −mean softplus(f): (−log(1+e^−1) − log(1+e^3)) / 2
    assert mm.g_loss(f).item() == pytest.approx(-(math.log1p(math.exp(-1)) + math.log1p(math.exp(3))) / 2, rel=1e-12)
    # nsgan G = −mean log σ(f) = mean softplus(−f)
    assert ns.g_loss(f).item() == pytest.approx((math.log1p(math.exp(1)) + math.log1p(math.exp(-3))) / 2, rel=1e-12)


@pytest.mark.parametrize("name", ["minimax", "nsgan", "lsgan"])
@pytest.mark.parametrize("t", [0.9, 0.7, 0.0])
def test_label_smoothing_changes_only_d_on_real(name, t):
    smooth, plain = build_loss(LossConfig(name=name, real_target=t)), build_loss(LossConfig(name=name))
    r, f = t64(REAL), t64(FAKE)
    d_exp, g_exp = expected(name, REAL, FAKE, t)
    assert smooth.d_loss(r, f).item() == pytest.approx(d_exp, rel=1e-12)
    assert smooth.g_loss(f).item() == plain.g_loss(f).item() == pytest.approx(g_exp, rel=1e-12)
    # fake targets are never smoothed: the fake part of D's loss is the same as without smoothing
    z = t64([0.0, 0.0])
    assert smooth.d_loss(z, f).item() - smooth.d_loss(z, t64([0.0])).item() == pytest.approx(
        plain.d_loss(z, f).item() - plain.d_loss(z, t64([0.0])).item(), rel=1e-12)


def test_label_smoothing_worked_example():
    # minimax D with t = 0.9 at r = [0, 2], f = [-1, 3], written out term by term
    t = 0.9
    real_part = ((t * math.log1p(math.exp(-0.0)) + (1 - t) * math.log1p(math.exp(0.0)))
                 + (t * math.log1p(math.exp(-2.0)) + (1 - t) * math.log1p(math.exp(2.0)))) / 2
    fake_part = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(3.0))) / 2
    loss = build_loss(LossConfig(name="minimax", real_target=t))
    assert loss.d_loss(t64(REAL), t64(FAKE)).item() == pytest.approx(real_part + fake_part, rel=1e-12)
    # lsgan D with t = 0.9: 0.5·mean(0.81, 1.21) + 0.5·mean(1, 9) = 0.505 + 2.5
    ls = build_loss(LossConfig(name="lsgan", real_target=t))
    assert ls.d_loss(t64(REAL), t64(FAKE)).item() == pytest.approx(3.005, rel=1e-12)


@pytest.mark.parametrize("name", ["wgan", "hinge", "ragan", "rahinge"])
def test_losses_without_a_real_label_refuse_label_smoothing(name):
    with pytest.raises(ValueError, match=f"loss.real_target: {name} has no real label"):
        build_loss(LossConfig(name=name, real_target=0.9))
    assert build_loss(LossConfig(name=name, real_target=1.0)).name == name


def test_config_refuses_label_smoothing_for_a_critic_and_path_length_without_style():
    from gankit.config import ConfigError, load_preset

    with pytest.raises(ConfigError, match="hinge has no real label"):
        load_preset("ring", ["loss.name=hinge", "loss.real_target=0.9"])
    with pytest.raises(ConfigError, match="reg.pl: path-length regularization needs a style-based G"):
        load_preset("ring", ["reg.pl=2"])


@pytest.mark.parametrize("name,t", [(n, t) for n in NAMES for t in (1.0, 0.9) if t == 1.0 or n not in ("hinge", "wgan")])
def test_numerically_stable_at_extreme_logits(name, t):
    loss = build_loss(LossConfig(name=name, real_target=t))
    for r, f in [(100.0, -100.0), (-100.0, 100.0), (100.0, 100.0), (-100.0, -100.0)]:
        real = torch.tensor([r, r], requires_grad=True)
        fake = torch.tensor([f, f], requires_grad=True)
        d = loss.d_loss(real, fake)
        g = loss.g_loss(fake)
        assert torch.isfinite(d) and torch.isfinite(g), (name, r, f, d, g)
        (d + g).backward()
        assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_extreme_logits_have_the_limit_values():
    r, f = torch.tensor([100.0]), torch.tensor([-100.0])
    mm, ns = build_loss(LossConfig(name="minimax")), build_loss(LossConfig(name="nsgan"))
    assert mm.d_loss(r, f).item() == pytest.approx(0.0, abs=1e-30)  # D perfect: softplus(−100) ≈ 4e−44
    assert mm.d_loss(-r, -f).item() == pytest.approx(200.0, rel=1e-6)  # D perfectly wrong: 100 + 100
    assert ns.g_loss(f).item() == pytest.approx(100.0, rel=1e-6)  # −log σ(−100) = 100 (not inf)
    assert mm.g_loss(f).item() == pytest.approx(0.0, abs=1e-30)  # log(1 − σ(−100)) ≈ −4e−44


def _g_grad(name: str, f: float) -> float:
    fake = torch.tensor([f], dtype=torch.float64, requires_grad=True)
    build_loss(LossConfig(name=name)).g_loss(fake).backward()
    return fake.grad.item()


def test_minimax_g_gradient_vanishes_where_nsgan_does_not():
    # d/df log(1 − σ(f)) = −σ(f);  d/df −log σ(f) = −(1 − σ(f)).  At f = −10 (D(G(z)) ≈ 4.5e−5):
    mm, ns = _g_grad("minimax", -10.0), _g_grad("nsgan", -10.0)
    assert mm == pytest.approx(-sig(-10.0), rel=1e-10)
    assert ns == pytest.approx(-(1 - sig(-10.0)), rel=1e-10)
    assert abs(mm) < 1e-4 and abs(ns) > 0.999
    assert abs(ns) / abs(mm) > 1e4
    # both push f up (G minimizes; a negative gradient means increasing f lowers the loss)
    assert mm < 0 and ns < 0


@pytest.mark.parametrize("f", [-3.0, 0.0, 2.5])
def test_g_gradients_match_derivatives(f):
    assert _g_grad("minimax", f) == pytest.approx(-sig(f), rel=1e-10)
    assert _g_grad("nsgan", f) == pytest.approx(-(1 - sig(f)), rel=1e-10)
    assert _g_grad("wgan", f) == pytest.approx(-1.0)
    assert _g_grad("hinge", f) == pytest.approx(-1.0)
    assert _g_grad("lsgan", f) == pytest.approx(f - 1.0, rel=1e-12)


def test_losses_are_means_over_the_batch():
    # Repeating a batch changes nothing: every term is a mean, not a sum.
    for name in NAMES:
        loss = build_loss(LossConfig(name=name))
        r, f = t64(REAL), t64(FAKE)
        assert loss.d_loss(r.repeat(3), f.repeat(5)).item() == pytest.approx(loss.d_loss(r, f).item(), rel=1e-12)
        assert loss.g_loss(f.repeat(4)).item() == pytest.approx(loss.g_loss(f).item(), rel=1e-12)


# ------------------------------------------------------------------ relativistic average losses (Jolicoeur-Martineau 2019)

def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def expected_relativistic(name: str, real, fake) -> tuple[float, float]:
    """D's and G's loss written out: each sample against the other kind's mean score."""
    mr, mf = mean(real), mean(fake)
    if name == "ragan":  # −log σ(r − m_f) = softplus(−(r − m_f));  −log(1 − σ(f − m_r)) = softplus(f − m_r)
        d = mean(softplus(-(r - mf)) for r in real) + mean(softplus(f - mr) for f in fake)
        g = mean(softplus(-(f - mr)) for f in fake) + mean(softplus(r - mf) for r in real)
    else:
        d = mean(relu(1 - (r - mf)) for r in real) + mean(relu(1 + (f - mr)) for f in fake)
        g = mean(relu(1 - (f - mr)) for f in fake) + mean(relu(1 + (r - mf)) for r in real)
    return d, g


def test_relativistic_worked_example():
    # REAL = [0, 2] (m_r = 1), FAKE = [-1, 3] (m_f = 1).  rahinge D: relu(1 − (0 − 1)) = 2, relu(1 − (2 − 1)) = 0,
    # relu(1 + (−1 − 1)) = 0, relu(1 + (3 − 1)) = 3  ->  mean(2, 0) + mean(0, 3) = 2.5; G swaps roles: also 2.5.
    assert expected_relativistic("rahinge", REAL, FAKE) == (2.5, 2.5)
    # ragan at equal scores everywhere: every term is softplus(0) = log 2, for D and for G.
    d, g = expected_relativistic("ragan", [0.5, 0.5], [0.5])
    assert d == pytest.approx(2 * math.log(2)) and g == pytest.approx(2 * math.log(2))


@pytest.mark.parametrize("name", RELATIVISTIC)
@pytest.mark.parametrize("real,fake", [(REAL, FAKE), ([0.5, -2.0, 1.5], [0.25]), ([-3.0], [4.0, -0.5, 0.0, 2.0])])
def test_relativistic_closed_forms(name, real, fake):
    loss = build_loss(LossConfig(name=name))
    d_exp, g_exp = expected_relativistic(name, real, fake)
    r, f = t64(real), t64(fake)
    assert loss.d_loss(r, f).item() == pytest.approx(d_exp, rel=1e-12, abs=1e-12)
    assert loss.generator(f, r).item() == pytest.approx(g_exp, rel=1e-12, abs=1e-12)
    assert loss.g_loss_rel(f, r).item() == loss.generator(f, r).item()
    # G's loss is D's with the roles of real and fake exchanged (the relativistic symmetry)
    assert loss.generator(f, r).item() == pytest.approx(loss.d_loss(f, r).item(), rel=1e-12)


@pytest.mark.parametrize("name", RELATIVISTIC)
def test_relativistic_g_loss_needs_real_scores(name):
    loss = build_loss(LossConfig(name=name))
    with pytest.raises(ValueError, match="real"):
        loss.generator(t64(FAKE))
    with pytest.raises(ValueError, match="real"):
        loss.g_loss(t64(FAKE))
    # the absolute losses ignore real scores in generator()
    ns = build_loss(LossConfig(name="nsgan"))
    assert ns.generator(t64(FAKE), t64(REAL)).item() == ns.g_loss(t64(FAKE)).item()


@pytest.mark.parametrize("name", RELATIVISTIC)
def test_relativistic_stable_at_extreme_logits(name):
    loss = build_loss(LossConfig(name=name))
    for r, f in [(100.0, -100.0), (-100.0, 100.0)]:
        real = torch.tensor([r, r], requires_grad=True)
        fake = torch.tensor([f, f], requires_grad=True)
        total = loss.d_loss(real, fake) + loss.generator(fake, real)
        assert torch.isfinite(total)
        total.backward()
        assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()
