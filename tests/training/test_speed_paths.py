"""The speed options of the training step give the eager fp32 results: reusing the fake batch, channels_last,
torch.compile, bf16 autocast (within its precision), and the fp16 refusal on CPU."""
from __future__ import annotations

import copy
import os

import pytest
import torch

from gankit.config import load_preset
from gankit.errors import ConfigError
from gan_helpers import make_task
from gankit.models import dcgan
from gankit.training.loop import Trainer

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

TINY_DIGITS = ["train.precision=fp32", "train.progress=false", "eval.metrics=[]", "data.resolution=8", "model.g_width=8", "model.d_width=8",
               "train.batch_size=16", "train.sample_every=1000", "train.checkpoint_every=1000", "train.log_every=1",
               "health.monitor=false", "health.guard=false"]


def _weights(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _grads(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("conditional", [False, True])
def test_reused_fake_batch_gives_the_gradients_of_a_recomputed_one(conditional: bool) -> None:
    """G's gradients from the D update's batch (reuse) equal those of a second forward pass on the same z, c."""
    torch.manual_seed(0)
    c_dim = 3 if conditional else 0
    G = dcgan.Generator(z_dim=8, c_dim=c_dim, img_resolution=8, img_channels=1, width=4)
    D = dcgan.Discriminator(c_dim=c_dim, img_resolution=8, img_channels=1, width=4)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
    obj = make_task("loss.name=nsgan", "train.reuse_fake=true", z_dim=8, classes=c_dim)
    loss = obj.loss
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    c_real = torch.randint(3, (16,)) if conditional else None

    torch.manual_seed(1)
    z, c = obj.train_latents(16, torch.device("cpu"))  # what d_loss will draw under the same seed
    torch.manual_seed(1)
    d_loss, _ = obj.d_loss(G, D, real, c_real)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()  # G's update sees the updated D either way
    assert all(p.grad is None or not p.grad.abs().sum() for p in G.parameters())  # D's backward left G alone

    g_loss, _ = obj.g_loss(G, D, 16, torch.device("cpu"))
    G.zero_grad(set_to_none=True)
    g_loss.backward()
    reused = _grads(G)

    G.zero_grad(set_to_none=True)
    D.requires_grad_(False)
    recomputed_loss = loss.generator(D(G(z, c), c))
    recomputed_loss.backward()
    torch.testing.assert_close(g_loss, recomputed_loss)
    for a, b in zip(reused, _grads(G)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert obj._fake is None  # consumed: never reused across steps


def test_reuse_is_skipped_when_the_batch_sizes_differ() -> None:
    torch.manual_seed(0)
    G = dcgan.Generator(z_dim=8, img_resolution=8, img_channels=1, width=4)
    D = dcgan.Discriminator(img_resolution=8, img_channels=1, width=4)
    obj = make_task("loss.name=nsgan", "train.reuse_fake=true", z_dim=8)
    obj.d_loss(G, D, torch.zeros(16, 1, 8, 8), None)
    loss, _ = obj.g_loss(G, D, 8, torch.device("cpu"))
    loss.backward()
    assert obj._fake is None


def _train(tmp_path, name: str, extra: list[str], steps: int = 3) -> Trainer:
    cfg = load_preset("digits", TINY_DIGITS + [f"train.steps={steps}"] + extra)
    t = Trainer(cfg, tmp_path / name)
    for _ in range(steps):
        t.train_step()
    return t


def test_channels_last_training_matches_contiguous(tmp_path) -> None:
    a = _train(tmp_path, "a", ["train.optimizer=sgd", "train.channels_last=false"])
    b = _train(tmp_path, "b", ["train.optimizer=sgd", "train.channels_last=true"])
    assert any(p.dim() == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
               for p in b.nets["G"].parameters())
    for p, q in zip([*a.nets["G"].parameters(), *a.nets["D"].parameters()], [*b.nets["G"].parameters(), *b.nets["D"].parameters()]):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_reuse_fake_changes_only_the_noise_stream(tmp_path) -> None:
    """With reuse off the G update draws a fresh batch, so runs differ; both train."""
    a = _train(tmp_path, "a", ["train.reuse_fake=true"])
    b = _train(tmp_path, "b", ["train.reuse_fake=false"])
    assert not all(torch.equal(p, q) for p, q in zip(a.nets["G"].parameters(), b.nets["G"].parameters()))
    assert all(torch.isfinite(p).all() for p in a.nets["G"].parameters())


def test_bf16_autocast_stays_close_to_fp32(tmp_path) -> None:
    a = _train(tmp_path, "a", [], steps=1)
    b = _train(tmp_path, "b", ["train.precision=bf16"], steps=1)
    rel = [((p - q).norm() / (p - w).norm()).item()  # the bf16 update relative to the fp32 update
           for p, q, w in zip(a.nets["G"].parameters(), b.nets["G"].parameters(), _weights(Trainer(a.cfg, tmp_path / "init").nets["G"]))]
    assert max(rel) < 0.3  # Adam's first steps are ±lr·sign-like: bf16 changes only small components


def test_auto_precision_is_bf16_only_for_image_models_on_native_bf16_hardware(tmp_path, monkeypatch) -> None:
    from gankit.training import performance as loop

    monkeypatch.setattr(loop, "native_bf16", lambda device: True)
    assert Trainer(load_preset("digits", TINY_DIGITS[1:]), tmp_path / "a").precision == "bf16"
    assert Trainer(load_preset("ring", ["train.progress=false", "eval.metrics=[]"]), tmp_path / "b").precision == "fp32"
    monkeypatch.setattr(loop, "native_bf16", lambda device: False)
    assert Trainer(load_preset("digits", TINY_DIGITS[1:]), tmp_path / "c").precision == "fp32"


@pytest.mark.parametrize("precision", ["fp16", "tf32"])
def test_gpu_precisions_on_cpu_are_refused(tmp_path, one_line, precision) -> None:
    cfg = load_preset("digits", TINY_DIGITS + [f"train.precision={precision}", "train.device=cpu"])
    with one_line(ConfigError, f"{precision} needs a CUDA device"):
        Trainer(cfg, tmp_path / "x")


def test_compile_targets_leave_double_backward_networks_eager() -> None:
    assert make_task().compile_targets() == ["G", "D"]
    assert make_task("reg.r1=0.1").compile_targets() == ["G"]
    assert make_task("loss.name=wgan").compile_targets() == ["G"]  # the guard may switch on a GP for critic losses
    assert make_task("loss.name=wgan", "health.strengthen=false").compile_targets() == ["G", "D"]
    assert make_task("trick.unroll=2").compile_targets() == ["G"]  # the look-ahead differentiates D's loss twice
    pl = load_preset("digits", ["reg.pl=2", "model.name=stylegan2", "model.g_width=4", "model.d_width=4", "model.max_width=8",
                                "model.w_dim=8", "model.z_dim=8", "model.mapping_layers=1", "data.resolution=8"])
    from gankit.data import DataInfo
    from gankit.tasks.gan import GANTask

    assert GANTask(pl, DataInfo("image", (1, 8, 8), 10, name="digits")).compile_targets() == ["D"]


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path) -> None:
    ring = ["train.progress=false", "eval.metrics=[]", "model.g_width=16", "model.d_width=16", "train.batch_size=16",
            "health.monitor=false", "health.guard=false", "train.steps=3", "train.optimizer=sgd"]  # Adam would amplify
    # last-bit differences of near-zero gradients into ±lr steps
    a = Trainer(load_preset("ring", ring), tmp_path / "a")
    b = Trainer(load_preset("ring", ring + ["train.compile=true"]), tmp_path / "b")
    for _ in range(3):
        a.train_step()
        b.train_step()
    for p, q in zip([*a.nets["G"].parameters(), *a.nets["D"].parameters()], [*b.nets["G"].parameters(), *b.nets["D"].parameters()]):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    assert set(a.nets["G"].state_dict()) == set(b.nets["G"].state_dict())  # checkpoints keep their keys


def test_linear_lr_decay_schedule_and_guard_interplay(tmp_path) -> None:
    cfg = load_preset("digits", TINY_DIGITS + ["train.steps=10", "train.lr_decay=linear", "train.lr_decay_start=0.6",
                                               "train.lr_g=0.01", "train.lr_d=0.02"])
    t = Trainer(cfg, tmp_path / "r")
    seen = []
    for _ in range(10):
        t.train_step()
        seen.append((t.optimizers["G"].param_groups[0]["lr"], t.optimizers["D"].param_groups[0]["lr"]))
    # step s (0-based) trains with 1 before 6, then 1 − (s − 6)/4: 1, 0.75, 0.5, 0.25
    expected = [1.0] * 6 + [1.0, 0.75, 0.5, 0.25]
    assert [g for g, _ in seen] == pytest.approx([0.01 * f for f in expected])
    assert [d for _, d in seen] == pytest.approx([0.02 * f for f in expected])
    for g in t.optimizers["G"].param_groups:  # the peak rate is kept (the guard lowers it on a rollback; resume resets it)
        assert g["lr_peak"] == pytest.approx(0.01)


def test_count_flops_skips_steps_that_differentiate_twice() -> None:
    """count_flops: 2·m·n·k for one m×k @ k×n product; a call that runs autograd.grad through a module (which the
    counter cannot follow) is abandoned, one step runs uncounted and the next is counted; None when every try does."""
    from gankit.training.profiling import count_flops

    a, b = torch.randn(6, 5), torch.randn(5, 7)
    assert count_flops(lambda: a @ b) == 2 * 6 * 5 * 7
    critic, calls = torch.nn.Linear(5, 1, bias=False), []

    def penalty() -> None:
        x = torch.randn(4, 5, requires_grad=True)
        torch.autograd.grad(critic(x).square().sum(), x)

    def lazy_penalty_step() -> None:  # a penalty on every third call, like a lazy R1
        calls.append(1)
        if len(calls) % 3 == 1:
            penalty()
        a @ b

    assert count_flops(lazy_penalty_step) == 2 * 6 * 5 * 7 and len(calls) == 3  # tried, skipped one, counted one
    assert count_flops(penalty, tries=2) is None
