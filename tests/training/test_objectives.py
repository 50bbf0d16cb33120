"""The composed objective: lazy penalties, clipping, unrolling, packing, instance noise, feature matching,
relativistic G losses, the guard's strengthen(), and every stabilizer preset on toys and digits."""
from __future__ import annotations

import copy
import math
import json
from pathlib import Path

import pytest
from conftest import torchrun_train
import torch
from torch import nn

from gan_helpers import make_task
from gankit.config import load_preset
from gankit.errors import ConfigError
from gankit.regularizers import r1_penalty
from gankit.tasks.gan import DView, pack
from gankit.terms import TERMS
from gankit.training.hooks import Hook
from gankit.training.loop import Trainer

CPU = torch.device("cpu")
TINY_RING = ["train.progress=false", "eval.metrics=[]", "model.g_width=16", "model.d_width=16", "train.batch_size=16",
             "train.sample_every=1000", "train.checkpoint_every=1000", "train.log_every=1"]
TINY_DIGITS = ["train.progress=false", "eval.metrics=[]", "data.size=0", "data.resolution=8", "model.g_width=8", "model.d_width=8",
               "train.batch_size=16", "train.sample_every=1000", "train.checkpoint_every=1000", "train.log_every=1"]
STABILIZER_PRESETS = ["gan-minimax", "nsgan", "lsgan", "wgan", "wgan-gp", "dragan", "unrolled", "pacgan", "r1", "toy-best", "hinge-sngan"]


class TinyG(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z)


class TinyD(nn.Module):
    def __init__(self, inputs: int = 2) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(inputs, 4), nn.Tanh())
        self.out = nn.Linear(4, 1)

    def embed(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.features(x.flatten(1))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.embed(x)).squeeze(1)


@pytest.fixture
def f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def nets(seed: int = 0) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    return TinyG(), TinyD(), torch.randn(8, 2) + 1.0


def events(run: Path, kind: str) -> list[dict]:
    return [e for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if e["event"] == kind]


# ------------------------------------------------------------------ lazy penalties

def test_lazy_r1_every_4th_update_with_weight_times_4(f64):
    G, D, real = nets()
    gamma = 2.0
    obj = make_task(f"reg.r1={gamma}", "reg.lazy=4")
    r1 = r1_penalty(D, real).mean().item()  # deterministic: R1 draws no randomness
    for u in range(8):
        total, stats = obj.d_loss(G, D, real, None, d_update=u)
        extra = (total - stats["d_loss"]).item()
        if u % 4 == 0:
            assert stats["r1"].item() == pytest.approx(r1, rel=1e-12)
            assert extra == pytest.approx(4 * gamma / 2 * r1, rel=1e-10) and stats["d_reg"].item() == pytest.approx(extra)
        else:
            assert "r1" not in stats and extra == 0.0 and stats["d_reg"].item() == 0.0


def test_lazy_r1_in_the_log(tmp_path, no_report):
    run = tmp_path / "run"
    Trainer(load_preset("ring", TINY_RING + ["train.steps=8", "reg.r1=0.1", "reg.lazy=4"]), run).run()
    logs = events(run, "log")
    # the D update of step s is number s − 1: R1 runs at updates 0 and 4 (steps 1 and 5), weight 4 · γ/2
    assert [r["step"] for r in logs if "r1" in r] == [1, 5]
    for r in logs:
        assert r["d_reg"] == pytest.approx(4 * 0.05 * r["r1"] if "r1" in r else 0.0, rel=1e-4, abs=1e-6)


# ------------------------------------------------------------------ clipping

def test_clipping_bounds_every_d_weight_after_steps(tmp_path, no_report):
    t = Trainer(load_preset("wgan", TINY_RING + ["train.steps=3", "train.lr_d=0.1"]), tmp_path / "run")
    t.run()
    assert t.updates["D"] == 15
    params = list(t.nets["D"].parameters())
    assert all(p.abs().max().item() <= 0.01 for p in params)
    assert any(p.abs().max().item() == pytest.approx(0.01, rel=1e-6) for p in params)  # lr 0.1 pushes weights to the bound


# ------------------------------------------------------------------ unrolled GAN

def _unrolled_setup(k: int, adam: bool):
    G, D, real = nets(1)
    opt = torch.optim.Adam(D.parameters(), lr=0.05, betas=(0.5, 0.9)) if adam else torch.optim.SGD(D.parameters(), lr=0.5)
    obj = make_task("loss.name=nsgan", f"trick.unroll={k}", opt_d=opt)
    for u in range(2):  # two real D steps: Adam has moments to continue from
        d, _ = obj.d_loss(G, D, real, None, d_update=u)
        opt.zero_grad()
        d.backward()
        opt.step()
    return G, D, obj, opt, obj.loss, real


def _g(obj, G, D, real=None, **kw):
    torch.manual_seed(123)  # the same z at every evaluation
    return obj.g_loss(G, D, 6, CPU, real=real, **kw)[0]


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("adam", [False, True])
def test_unrolled_value_is_g_loss_after_k_real_d_steps(f64, k, adam):
    G, D, obj, opt, loss, real = _unrolled_setup(k, adam)
    value = _g(obj, G, D, real).item()
    # The same k D steps, taken for real on a copy of D with a copy of its optimizer, on the same batches.
    torch.manual_seed(123)
    fake = G(torch.randn(6, 2)).detach()
    D2 = copy.deepcopy(D)
    opt2 = type(opt)(D2.parameters(), **{k_: v for k_, v in opt.defaults.items() if k_ in ("lr", "betas")})
    opt2.load_state_dict(opt.state_dict())
    for _ in range(k):
        opt2.zero_grad()
        loss.d_loss(D2(real), D2(fake)).backward()
        opt2.step()
    # Metz et al.'s surrogate: G's loss at θ_D^K *and* D's real-data term there, which depends on θ_G through the
    # look-ahead (G maximizes it); the value once lacked the real term.
    assert value == pytest.approx((loss.g_loss(D2(fake)) - loss.d_real(D2(real))).item(), rel=1e-10)


@pytest.mark.parametrize("k", [1, 3])
def test_unrolled_minimax_surrogate_is_minus_d_objective_with_its_real_path(f64, k):
    """With the minimax loss G minimizes f_K = −L_D(θ_D^K) exactly (poolio/unrolled_gan: −unrolled_loss); the gradient
    of the real-data term is part of G's (dropping it changes G's gradient)."""
    G, D, real = nets(1)
    opt = torch.optim.SGD(D.parameters(), lr=0.5)
    obj = make_task("loss.name=minimax", f"trick.unroll={k}", opt_d=opt)
    G.zero_grad()
    value = _g(obj, G, D, real)
    value.backward()
    ours = torch.cat([p.grad.flatten() for p in G.parameters()])
    # By hand: k SGD steps on L_D written out with autograd, then −L_D at θ_D^K and its full gradient in θ_G.
    from torch.func import functional_call
    torch.manual_seed(123)
    z = torch.randn(6, 2)
    theta = {n: p.detach().requires_grad_(True) for n, p in D.named_parameters()}
    f = lambda th, x: functional_call(D, th, (x,))  # noqa: E731
    fake = G(z)
    for _ in range(k):
        lk = obj.loss.d_loss(f(theta, real), f(theta, fake))
        grads = torch.autograd.grad(lk, list(theta.values()), create_graph=True)
        theta = {n: t - 0.5 * g for (n, t), g in zip(theta.items(), grads)}
    f_k = -obj.loss.d_loss(f(theta, real), f(theta, fake))
    assert value.item() == pytest.approx(f_k.item(), rel=1e-12)
    full = torch.cat([g.flatten() for g in torch.autograd.grad(f_k, list(G.parameters()), retain_graph=True)])
    assert torch.allclose(ours, full, rtol=1e-9, atol=1e-12)
    fake_only = torch.cat([g.flatten() for g in torch.autograd.grad(obj.loss.g_loss(f(theta, fake)), list(G.parameters()))])
    assert not torch.allclose(full, fake_only, rtol=1e-3)  # the real path is there and it matters


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("adam", [False, True])
def test_unrolled_gradient_matches_finite_differences(f64, k, adam):
    G, D, obj, opt, _, real = _unrolled_setup(k, adam)
    d_before = [p.detach().clone() for p in D.parameters()]
    grads_before = [p.grad.clone() for p in D.parameters()]
    state_before = copy.deepcopy(opt.state_dict())
    G.zero_grad()
    _g(obj, G, D, real).backward()
    analytic = torch.cat([p.grad.flatten() for p in G.parameters()])
    numeric = []
    h = 1e-6
    with torch.no_grad():
        for p in G.parameters():
            flat = p.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + h
                up = _g(obj, G, D, real).item()
                flat[i] = old - h
                down = _g(obj, G, D, real).item()
                flat[i] = old
                numeric.append((up - down) / (2 * h))
    assert torch.allclose(analytic, torch.tensor(numeric), rtol=1e-5, atol=1e-8)
    # the look-ahead left D alone: weights, .grad and optimizer state
    assert all(torch.equal(a, b) for a, b in zip(d_before, D.parameters()))
    assert all(torch.equal(a, p.grad) for a, p in zip(grads_before, D.parameters()))
    assert str(opt.state_dict()) == str(state_before)
    # and the second-order path matters: the gradient differs from plain (k = 0) G's
    plain = make_task("loss.name=nsgan")
    G.zero_grad()
    _g(plain, G, D, real).backward()
    assert not torch.allclose(analytic, torch.cat([p.grad.flatten() for p in G.parameters()]), rtol=1e-3)


# ------------------------------------------------------------------ PacGAN

def test_pack_joins_consecutive_samples():
    x = torch.arange(24.0).view(6, 2, 2)  # 6 samples of 2×2
    p = pack(x, 3)
    assert p.shape == (2, 6, 2)
    assert torch.equal(p[1], torch.cat([x[3], x[4], x[5]]))
    assert torch.equal(pack(x, 1), x)
    with pytest.raises(ValueError, match="packs of 4"):
        pack(x, 4)


@pytest.mark.parametrize("data", ["ring", "digits"])
def test_pacgan_d_input_is_m_times_wider_and_batch_n_over_m(tmp_path, no_report, data):
    extra = TINY_DIGITS if data == "digits" else TINY_RING
    t = Trainer(load_preset("pacgan", extra + [f"data.name={data}", "train.steps=2"]), tmp_path / "run")
    first = next(m for m in t.nets["D"].modules() if isinstance(m, nn.Linear))
    single = 2 if data == "ring" else 8 * 8
    assert first.in_features == 4 * single
    real = t.batches.next().x
    seen = t.task.view(real, 0)
    assert seen.shape[0] == 16 // 4 and t.nets["D"](seen).shape == (4,)
    assert t.task.judge(real).shape == (16,)  # single samples scored as packs of copies
    t.run()


def test_pacgan_refuses_indivisible_batches(one_line):
    from gankit.errors import ConfigError

    with one_line(ConfigError, match="trick.pack"):
        load_preset("pacgan", ["train.batch_size=30"])


# ------------------------------------------------------------------ instance noise

def test_instance_noise_schedule():
    v = DView(noise=0.2, noise_steps=100)
    assert [v.sigma(s) for s in (0, 25, 50, 100, 150)] == pytest.approx([0.2, 0.15, 0.1, 0.0, 0.0])
    torch.manual_seed(0)
    added = DView(noise=0.5, noise_steps=10)(torch.zeros(20000, 2), 0)
    assert added.std().item() == pytest.approx(0.5, rel=0.02) and added.mean().abs().item() < 0.01
    assert torch.equal(DView(noise=0.5, noise_steps=10)(torch.ones(3, 2), 10), torch.ones(3, 2))  # annealed away


def test_instance_noise_over_the_whole_run_by_default(tmp_path, no_report):
    run = tmp_path / "run"
    t = Trainer(load_preset("ring", TINY_RING + ["train.steps=10", "trick.instance_noise=0.1"]), run)
    assert t.task.view.noise_steps == 10
    t.run()
    logged = {r["step"]: r["noise_std"] for r in events(run, "log")}
    assert logged[1] == pytest.approx(0.1) and logged[6] == pytest.approx(0.05) and logged[10] == pytest.approx(0.01)


# ------------------------------------------------------------------ G's terms: feature matching, relativistic

def test_feature_matching_value(f64):
    G, D, real = nets(2)
    obj = make_task("trick.feature_matching=0.5")
    obj.d_loss(G, D, real, None)
    torch.manual_seed(123)
    loss, stats = obj.g_loss(G, D, 6, CPU, real=real)
    torch.manual_seed(123)
    fake = G(torch.randn(6, 2))
    fm = (D.embed(real).mean(0) - D.embed(fake).mean(0)).pow(2).sum()
    assert stats["fm"].item() == pytest.approx(fm.item(), rel=1e-12)
    assert loss.item() == pytest.approx(stats["g_loss"].item() + 0.5 * fm.item(), rel=1e-12)


def test_relativistic_g_loss_uses_the_last_real_batch(f64):
    G, D, real = nets(3)
    obj = make_task("loss.name=ragan")
    loss = obj.loss
    with pytest.raises(ValueError, match="compares with real data"):
        obj.g_loss(G, D, 6, CPU)
    obj.d_loss(G, D, real, None)
    value = _g(obj, G, D, real).item()
    torch.manual_seed(123)
    fake = G(torch.randn(6, 2))
    assert value == pytest.approx(loss.generator(D(fake), D(real)).item(), rel=1e-12)


# ------------------------------------------------------------------ the guard's strengthen()

class PoisonD(Hook):
    """Fault injection (as in test_robustness): fill one of D's weights with NaN after the given step."""

    def __init__(self, at: int) -> None:
        super().__init__(1)
        self.at = at

    def fire(self, t: Trainer) -> None:
        if t.step == self.at:
            self.at = -1
            with torch.no_grad():
                next(t.nets["D"].parameters()).fill_(float("nan"))


@pytest.mark.parametrize("loss,extra,changed", [
    ("wgan", [], {"gp": [0.0, 10.0]}),                      # critic loss: GP switched on at λ = 10
    ("wgan", ["reg.gp=4"], {"gp": [4.0, 8.0]}),              # ... or doubled
    ("nsgan", ["reg.r1=0.5"], {"r1": [0.5, 1.0]}),           # other losses: an active gradient penalty doubled
    ("nsgan", [], {}),                                      # nothing to raise
    ("wgan", ["health.strengthen=false"], {}),
])
def test_rollback_strengthens_the_penalty(tmp_path, no_report, loss, extra, changed):
    run = tmp_path / "run"
    cfg = load_preset("ring", TINY_RING + ["train.steps=12", "health.snapshot_every=2", f"loss.name={loss}", *extra])
    t = Trainer(cfg, run)
    t.hooks.append(PoisonD(6))
    t.run()
    (rb,) = events(run, "rollback")
    assert rb["strengthened"] == changed
    for name, (_, new) in changed.items():
        assert t.task.weights()[name] == new
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        after = records[records.index(next(r for r in records if r["event"] == "rollback")):]
        assert all(name in r for r in after if r["event"] == "log")  # logged from the rollback on
        # the raised weight survives a resume (saved with the training state)
        assert Trainer(load_preset("ring", TINY_RING + ["train.steps=14", f"loss.name={loss}", *extra]), run,
                       resume=True).task.weights()[name] == new


# ------------------------------------------------------------------ penalties in the distributed path

@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in")
def test_lazy_r1_in_two_processes_matches_one_process(tmp_path, no_report):
    """R1 draws no randomness, so 2 gloo ranks (each its shard's mean, gradients all-reduced) equal 1 process."""
    from safetensors.torch import load_file

    import gankit

    ov = ["train.progress=false", "eval.metrics=[]", "train.steps=6", "train.batch_size=32", "model.g_width=16",
          "model.d_width=16", "train.checkpoint_every=6", "train.sample_every=1000", "train.log_every=3",
          "reg.r1=1.0", "reg.lazy=2", "health.monitor=false"]
    gankit.train("ring", out=tmp_path / "one", overrides=ov)
    torchrun_train(2, "ring", tmp_path / "two", ov)
    for net in ("G", "D"):
        a = load_file(str(tmp_path / "one" / "checkpoints" / "6" / f"{net}.safetensors"))
        b = load_file(str(tmp_path / "two" / "checkpoints" / "6" / f"{net}.safetensors"))
        assert all(torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4) for k in a), net
    assert [r["r1"] for r in events(tmp_path / "two", "log")] == pytest.approx([r["r1"] for r in events(tmp_path / "one", "log")], rel=1e-4)


# ------------------------------------------------------------------ every stabilizer preset runs

@pytest.mark.parametrize("data", ["ring", "digits"])
@pytest.mark.parametrize("preset", STABILIZER_PRESETS)
def test_preset_runs_on_toys_and_digits(tmp_path, no_report, preset, data):
    extra = TINY_DIGITS if data == "digits" else TINY_RING
    run = tmp_path / "run"
    summary = Trainer(load_preset(preset, extra + [f"data.name={data}", "train.steps=3"]), run).run()
    assert summary["step"] == 3 and summary["rollbacks"] == 0
    last = events(run, "log")[-1]
    assert all(isinstance(v, (int, float)) and v == v for k, v in last.items() if k not in ("event",))


@pytest.mark.parametrize("preset", STABILIZER_PRESETS)
def test_preset_game_runs_on_the_digits_dcgan(tmp_path, no_report, preset):
    cfg = load_preset("digits", TINY_DIGITS + ["train.steps=3"], game=preset)
    assert (cfg.model.name, cfg.data.name, cfg.loss.name) == ("dcgan", "digits", load_preset(preset).loss.name)
    summary = Trainer(cfg, tmp_path / "run").run()
    assert summary["step"] == 3 and summary["rollbacks"] == 0
    assert summary["d_updates"] == 3 * cfg.train.n_critic


# ------------------------------------------------------------------ top-k training

def _topk(*overrides: str):
    return TERMS.get("topk")(load_preset("ring", list(overrides)))


def test_topk_count_anneals_linearly_to_the_floor():
    term = _topk("trick.topk=0.5", "train.steps=200", "trick.topk_ramp=0.5")  # down over 100 steps
    assert [term.count(64, s) for s in (0, 25, 50, 100, 1000)] == [64, 56, 48, 32, 32]
    assert _topk("trick.topk=0.01", "train.steps=1", "trick.topk_ramp=1").count(8, 5) == 1  # never 0
    # with a stop: down over [0, 100], hold, back up over [200, 300], then the whole batch
    stop = _topk("trick.topk=0.5", "train.steps=400", "trick.topk_ramp=0.25", "trick.topk_stop=0.75")
    assert [stop.count(64, s) for s in (0, 50, 100, 199, 200, 250, 300, 400)] == [64, 48, 32, 32, 32, 48, 64, 64]


def test_topk_schedule_refusals(one_line):
    from gankit.errors import ConfigError

    with one_line(ConfigError, match="trick.topk_stop: top-k training is off"):
        load_preset("ring", ["trick.topk_stop=0.9"])
    with one_line(ConfigError, match="use trick.topk_stop >= 0.5"):
        load_preset("ring", ["trick.topk=0.5", "trick.topk_ramp=0.25", "trick.topk_stop=0.4"])
    with one_line(ConfigError, match="trick.topk_ramp: .* in \\(0, 1\\]"):
        load_preset("ring", ["trick.topk=0.5", "trick.topk_ramp=0"])


@pytest.mark.parametrize("name", ["nsgan", "wgan", "lsgan"])
def test_topk_g_loss_is_the_loss_of_the_best_scored_samples_and_the_rest_get_no_gradient(f64, name):
    G, D, real = nets(4)
    obj = make_task(f"loss.name={name}", "trick.topk=0.5", "train.steps=20", "trick.topk_ramp=0.5")  # down over 10 steps
    loss = obj.loss
    obj.d_loss(G, D, real, None)
    torch.manual_seed(123)
    value, stats = obj.g_loss(G, D, 6, CPU, step=10)  # past the anneal: keep 3 of 6
    torch.manual_seed(123)
    scores = D(G(torch.randn(6, 2)))
    best = scores.argsort(descending=True)[:3]
    assert value.item() == pytest.approx(loss.generator(scores[best]).item(), rel=1e-12)
    assert stats["topk"].item() == 0.5
    # G's gradient is the gradient of the kept samples' loss alone
    grads = torch.autograd.grad(value, list(G.parameters()))
    for a, b in zip(grads, torch.autograd.grad(loss.generator(scores[best]), list(G.parameters()))):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-14)
    # and at step 0 nothing is dropped: the plain loss
    torch.manual_seed(123)
    assert obj.g_loss(G, D, 6, CPU, step=0)[0].item() == pytest.approx(loss.generator(scores).item(), rel=1e-12)


def test_topk_ramp_and_stop_are_fractions_of_the_run(tmp_path, no_report):
    run = tmp_path / "run"
    t = Trainer(load_preset("ring", TINY_RING + ["train.steps=8", "trick.topk=0.5"]), run)
    topk = next(term for term in t.task.terms["G"] if term.name == "topk")
    assert (topk.ramp, topk.stop) == (4, 0)  # default: down over half the run, no stop
    t.run()
    logged = {r["step"]: r["topk"] for r in events(run, "log")}
    assert logged[1] == 1.0 and logged[8] == 0.5  # step s logs the update made at G step s - 1
    t = Trainer(load_preset("ring", TINY_RING + ["train.steps=20", "trick.topk=0.5", "trick.topk_ramp=0.25", "trick.topk_stop=0.75"]),
                tmp_path / "stop")
    topk = next(term for term in t.task.terms["G"] if term.name == "topk")
    assert (topk.ramp, topk.stop) == (5, 15)
    t.run()
    logged = {r["step"]: r["topk"] for r in events(tmp_path / "stop", "log")}
    assert [logged[s] for s in (1, 6, 11, 16, 20)] == [1.0, 0.5, 0.5, 1.0, 1.0]


# ------------------------------------------------------------------ fidelity: what the penalties differentiate

class LinearD(nn.Module):
    def __init__(self, w) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("term", ["r1", "r2", "gp", "dragan"])
def test_penalties_differentiate_through_the_augmentation(f64, term):
    """StyleGAN2-ADA / DiffAugment take ∇ with respect to the image *before* augmentation: with a linear D and an
    augmentation that masks the second coordinate, ‖∇_x D(T(x))‖ = |w₁| (the augmented image's gradient is ‖w‖)."""
    G, _, real = nets()
    D = LinearD([3.0, 4.0])
    obj = make_task(f"reg.{term}=1.0")
    obj.view = DView(augment=lambda x: x * torch.tensor([1.0, 0.0]))
    _, stats = obj.d_loss(G, D, real, None)
    sq = 3.0 ** 2  # ‖∇‖² of x ↦ w·(m ⊙ x); it would be 25 with respect to the augmented image
    expected = sq if term in ("r1", "r2") else (math.sqrt(sq) - 1.0) ** 2
    assert stats[term].item() == pytest.approx(expected, rel=1e-12)


def test_penalties_without_a_view_are_the_plain_ones(f64):
    G, _, real = nets()
    D = LinearD([3.0, 4.0])
    _, stats = make_task("reg.r1=1.0").d_loss(G, D, real, None)
    assert stats["r1"].item() == pytest.approx(25.0, rel=1e-12)


def test_packed_penalty_norm_is_per_pack(f64):
    """Under PacGAN D scores packs: the gradient of a pack's score is its m samples' gradients together."""
    G, _, real = nets()
    D = LinearD([1.0, 2.0, 2.0, 4.0])  # a pack of 2 points: ‖∇‖² = 1 + 4 + 4 + 16 = 25
    obj = make_task("reg.r1=1.0", "trick.pack=2", "train.batch_size=8")
    _, stats = obj.d_loss(G, D, real, None)
    assert stats["r1"].item() == pytest.approx(25.0, rel=1e-12)


# ------------------------------------------------------------------ fidelity: each loss's own decision boundary

@pytest.mark.parametrize("name, real, fake, acc_real, acc_fake", [
    ("nsgan", [0.3, -0.1, 2.0, 0.6], [-0.2, 0.4, -1.0, 0.1], 0.75, 0.5),   # logit 0
    ("hinge", [0.3, -0.1, 2.0, 0.6], [-0.2, 0.4, -1.0, 0.1], 0.75, 0.5),   # 0
    ("lsgan", [0.3, -0.1, 2.0, 0.6], [-0.2, 0.4, -1.0, 0.1], 0.5, 1.0),    # ½, halfway between targets 0 and 1
    ("ragan", [0.3, -0.1, 2.0, 0.6], [-0.2, 0.4, -1.0, 0.1], 1.0, 1.0),    # the other kind's mean: −0.175 / 0.7
])
def test_d_accuracy_uses_the_loss_boundary(name, real, fake, acc_real, acc_fake):
    obj = make_task(f"loss.name={name}")
    r, f = torch.tensor(real), torch.tensor(fake)
    stats = obj.d_stats(obj.loss.d_loss(r, f), r, f)
    assert stats["d_acc_real"].item() == pytest.approx(acc_real) and stats["d_acc_fake"].item() == pytest.approx(acc_fake)


def test_lsgan_accuracy_sees_an_overpowering_d():
    """LSGAN's D at its optimum scores fakes near 0 and reals near 1: every sample is on its side of ½ (with a
    threshold of 0 half the fakes looked misclassified and the d_overpowering check could never fire)."""
    obj = make_task("loss.name=lsgan")
    r, f = torch.full((64,), 0.98), torch.linspace(-0.05, 0.05, 64)
    stats = obj.d_stats(obj.loss.d_loss(r, f), r, f)
    assert stats["d_acc_real"].item() == 1.0 and stats["d_acc_fake"].item() == 1.0


def test_wgan_logs_no_accuracy():
    obj = make_task("loss.name=wgan")
    r, f = torch.randn(8), torch.randn(8)
    assert "d_acc_real" not in obj.d_stats(obj.loss.d_loss(r, f), r, f)


def test_rollback_restores_the_objective_state(tmp_path, no_report):
    """The guard rolls the objective back with the networks: ADA's p, its open interval's accumulators and r_t are the
    snapshot's again (before, p kept the value the diverging steps had steered it to)."""
    cfg = load_preset("ring", TINY_DIGITS + ["data.name=digits", "model.name=mlp", "train.steps=10", "health.snapshot_every=2",
                                             "augment.ada=adaptive", "augment.ada_kimg=0.5", "augment.ada_interval=1"])
    t = Trainer(cfg, tmp_path / "run")
    seen: dict[int, dict] = {}
    check = t.guard.check

    def recording(trainer, stats):
        rolled = check(trainer, stats)
        if rolled:
            seen["after"] = copy.deepcopy(trainer.task.state_dict()["augment"])
            seen["to"] = trainer.step
        elif "after" not in seen:
            seen[trainer.step] = copy.deepcopy(trainer.task.state_dict()["augment"])
        return rolled

    t.guard.check = recording
    t.hooks.append(PoisonD(6))
    t.run()
    assert "after" in seen
    assert seen["after"] == seen[seen["to"]]
    assert seen["after"]["p"] != seen[6]["p"]  # p had moved on between the snapshot and the divergence


@pytest.mark.parametrize("name, real, fake, rt", [
    ("nsgan", [0.3, 0.3, 0.3, -0.2], [-1.0, -1.0, -1.0, -1.0], 0.5),   # sign of the logit
    ("lsgan", [0.3, 0.3, 0.3, 0.8], [0.0, 0.0, 0.0, 0.0], -0.5),       # sign(f − ½): 0.3 is on the fake side
    ("ragan", [0.3, 0.3, 0.3, -0.2], [0.5, 0.5, 0.5, 0.5], -1.0),      # sign(f − mean fake)
])
def test_ada_heuristic_uses_the_loss_boundary(name, real, fake, rt):
    """ADA's r_t = E sign(margin of D's real scores): the logistic loss's sign(D(x)) generalized by the loss's own
    decision boundary (an LSGAN D at the optimum scores reals near 1 and fakes near 0: sign(D(x)) was always +1)."""
    from gankit.augment import ADA

    obj = make_task(f"loss.name={name}")
    obj.view = DView(augment=ADA("blit", p=0.0, interval=1))
    G, _, _ = nets()

    class Scripted(nn.Module):
        """D's scores, in call order: the real batch, then the fake one."""

        def __init__(self) -> None:
            super().__init__()
            self.outs = [torch.tensor(real), torch.tensor(fake)]

        def forward(self, x, c=None):
            return self.outs.pop(0)

    obj.d_loss(G, Scripted(), torch.randn(4, 2), None)
    assert obj.view.augment.last_rt == pytest.approx(rt)


def test_ada_with_a_wasserstein_critic_is_refused():
    from gankit.config import validate
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="augment.ada: .*wgan critic has none"):
        validate(load_preset("digits", ["loss.name=wgan", "reg.gp=10", "augment.ada=adaptive"]))
    validate(load_preset("digits", ["loss.name=lsgan", "augment.ada=adaptive"]))  # every loss with a boundary is fine


# ------------------------------------------------------------------ simultaneous updates, PacGAN's split G calls

def _one_step_by_hand(trainer_overrides: list[str], tmp_path) -> tuple[bool, bool]:
    """Run one training step and the same step by hand as simultaneous gradient descent (both gradients at (θ_G, θ_D)
    on the step's real batch and z, then one Adam step each); returns whether G and D match the hand-made ones."""
    t = Trainer(load_preset("ring", TINY_RING + ["train.steps=1", "train.ema_kimg=0", "train.lr_g=0.01", "train.lr_d=0.01",
                                                 *trainer_overrides]), tmp_path / "run")
    G0, D0 = copy.deepcopy(t.nets["G"]), copy.deepcopy(t.nets["D"])
    seen: dict[str, list] = {"z": [], "x": []}
    draw, next_batch = t.task.train_latents, t.next_batch

    def latents(n, device):
        out = draw(n, device)
        seen["z"].append(out[0].clone())
        return out

    def batch():
        b = next_batch()
        seen["x"].append(b["x"].clone())
        return b

    t.task.train_latents, t.next_batch = latents, batch
    t.run()
    assert len(seen["z"]) == 1 and len(seen["x"]) == 1  # one fake batch and one real batch per step, in both modes
    z, x = seen["z"][0], seen["x"][0]
    loss = t.task.loss
    fake = G0(z)
    g_grads = torch.autograd.grad(loss.generator(D0(fake)), list(G0.parameters()))
    d_grads = torch.autograd.grad(loss.d_loss(D0(x), D0(fake.detach())), list(D0.parameters()))
    for net, grads in ((G0, g_grads), (D0, d_grads)):
        for p, g in zip(net.parameters(), grads):
            p.grad = g
        torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.5, 0.999)).step()

    def same(a, b):
        return all(torch.allclose(p, q, rtol=1e-5, atol=1e-7) for p, q in zip(a.parameters(), b.parameters()))

    return same(t.nets["G"], G0), same(t.nets["D"], D0)


def test_simultaneous_updates_take_both_gradients_at_the_same_weights(tmp_path, no_report):
    assert _one_step_by_hand(["train.updates=simultaneous"], tmp_path / "sim") == (True, True)
    # Alternating: D's update is the same (G's fakes, θ_D), G's is taken against the updated D, so it differs.
    assert _one_step_by_hand(["train.updates=alternating"], tmp_path / "alt") == (False, True)


def test_simultaneous_updates_need_one_critic_update_and_the_gan_task():
    with pytest.raises(ConfigError, match="train.n_critic"):
        make_task("train.updates=simultaneous", "train.n_critic=2")
    with pytest.raises(ConfigError, match="trick.pack is 1"):
        make_task("trick.pack_split=true")


def test_pack_split_makes_each_pack_position_in_its_own_call():
    task = make_task("trick.pack=4", "trick.pack_split=true", "train.batch_size=16")
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    call = lambda z, c=None: G(z)  # noqa: E731
    z = torch.randn(16, 2)
    out = task.generate(call, z, None)
    # Pack k holds samples 4k … 4k+3; position j of every pack comes from one call on z[j::4] (batch norm over 4 rows).
    for j in range(4):
        assert torch.allclose(out[j::4], G(z[j::4]), atol=1e-6)
    assert not torch.allclose(out, G(z), atol=1e-3)  # one call normalizes over all 16: not the same samples
    G.eval()  # without batch statistics the split changes nothing
    assert torch.allclose(task.generate(call, z, None), G(z), atol=1e-6)
