"""PixelDA (Bousmalis et al. 2017): the masked pairwise MSE against a hand computation and its invariance to a shift of
the foreground, the digits-m set (MNIST-M's |patch − digit| blend, labels, disjoint train halves), the G-phase loss as
α·L_d + β·L_t + γ·L_c recomputed from the networks, the target labels' absence from training, a tiny run whose
accuracy events and exported pipeline round-trip, and bitwise resume."""
from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.config import load_preset
from gankit.data import build_dataset, info_of
from gankit.data.domains import _textures, offline
from gankit.data.images import load_digits, to_float
from gankit.errors import ConfigError
from gankit.tasks import TASKS
from gankit.tasks.pixelda import PixelDAPipeline, pmse
from gankit.training.loop import make_optimizer

CPU = torch.device("cpu")
TINY = ["data.resolution=16", "model.channels=4", "model.blocks=1", "model.d_channels=4", "model.t_width=4", "train.batch_size=8"]


# ------------------------------------------------------------------------------------------------ the content loss


def test_pmse_by_hand():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[5.0, 6.0], [7.0, 8.0]]]])
    y = torch.zeros_like(x)
    mask = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    # sample 0: d = 1, 2, 3 over k = 3 pixels: (1 + 4 + 9)/3 − (1 + 2 + 3)²/9 = 14/3 − 4 = 2/3; sample 1: empty mask, 0
    got = pmse(x, y, mask)
    assert got.shape == (2,)
    assert got[0].item() == pytest.approx(2 / 3, rel=1e-6) and got[1].item() == 0.0
    # two channels, a one-channel mask counts each masked pixel once per channel: d = 1, 3 (channel 0), 2, 6 (channel 1)
    x2 = torch.tensor([[[[1.0, 9.0], [3.0, 9.0]], [[2.0, 9.0], [6.0, 9.0]]]])
    m2 = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    want = (1 + 9 + 4 + 36) / 4 - (1 + 3 + 2 + 6) ** 2 / 16
    assert pmse(x2, torch.zeros_like(x2), m2).item() == pytest.approx(want, rel=1e-6)
    # it is the (population) variance of the masked differences
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 3, 5, 5, generator=gen), torch.randn(3, 3, 5, 5, generator=gen)
    m = torch.rand(3, 1, 5, 5, generator=gen) > 0.4
    for i in range(3):
        d = (a[i] - b[i])[m[i].expand(3, -1, -1)]
        assert pmse(a, b, m)[i].item() == pytest.approx(d.var(unbiased=False).item(), rel=1e-5)


def test_pmse_ignores_a_shift_of_the_foreground_but_not_a_change_inside_it():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(4, 3, 8, 8, generator=gen), torch.rand(4, 3, 8, 8, generator=gen)
    mask = torch.rand(4, 1, 8, 8, generator=gen) > 0.5
    base = pmse(x, y, mask)
    shifted = x + 0.7 * mask  # the whole foreground one colour lighter: the paper's point, pairs of pixels keep their differences
    torch.testing.assert_close(pmse(shifted, y, mask), base, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pmse(x + 5.0 * ~mask, y, mask), base)  # outside the mask nothing counts
    assert (F.mse_loss(shifted, y) - F.mse_loss(x, y)).abs() > 0.1  # where a plain MSE moves
    half = mask & (torch.arange(8)[None, None, :, None] < 4)  # only part of the foreground lighter: pairs differ now
    assert (pmse(x + 0.7 * half, y, mask) - base).abs().min() > 1e-3


# ------------------------------------------------------------------------------------------------ digits-m


def test_digits_m_is_the_mnist_m_blend_with_the_digits_labels():
    r = 16
    tr, te = offline("digits-m", "train", r, 3), offline("digits-m", "test", r, 3)
    d_tr, d_te = load_digits(r, 1, "train"), load_digits(r, 1, "test")
    assert tr.kind == te.kind == "unpaired" and tr.classes == 10 and tr.names == ("digits", "digits-m")
    assert tr.a.shape == tr.b.shape == (719, 3, r, r) and te.a.shape == te.b.shape == (359, 3, r, r)
    assert tr.a.dtype == tr.b.dtype == torch.uint8
    # train: A the even digits (grey in three channels), B the odd ones; nothing of B is the blend of an A digit
    assert torch.equal(tr.a, d_tr.images[0::2].expand(-1, 3, -1, -1))
    assert torch.equal(tr.label_a, d_tr.labels[0::2]) and torch.equal(tr.label_b, d_tr.labels[1::2])
    assert torch.equal(te.a, d_te.images.expand(-1, 3, -1, -1)) and torch.equal(te.label_a, d_te.labels)
    assert torch.equal(te.label_b, d_te.labels)
    # B = |patch − digit| per channel, recomputed pixel by pixel (train: digit 2j+1 on patch 2j+1, seed 1; test: seed 2)
    for data, digits, split, seed, rows in ((tr, d_tr, "train", 1, (0, 5, 300)), (te, d_te, "test", 2, (0, 7, 358))):
        patches = _textures(len(digits.images), r, split, seed)
        for j in rows:
            i = 2 * j + 1 if split == "train" else j
            for c, y, x in ((0, 8, 8), (1, 3, 12), (2, 10, 4), (0, 0, 0)):
                digit = digits.images[i, 0, y, x].item() / 255.0
                want = round(abs(patches[i, c, y, x].item() - digit) * 255)
                assert abs(data.b[j, c, y, x].item() - want) <= 1, (split, j, c, y, x)
    # the test photos are the held-out ones: no test patch equals a train patch
    assert not torch.equal(_textures(4, r, "test", 2), _textures(4, r, "train", 2))


# ------------------------------------------------------------------------------------------------ the objective


def _task(overrides: list[str]):
    cfg = load_preset("pixelda", [*TINY, "train.progress=false", *overrides])
    info = info_of(build_dataset(cfg.data), cfg.data.name)
    task = TASKS.get("pixelda")(cfg, info)
    task.networks["G_ema"] = copy.deepcopy(task.networks["G"]).eval().requires_grad_(False)
    opts = {k: make_optimizer(cfg.train, p, lr) for k, (p, lr) in task.param_groups().items()}
    task.bind(opts, CPU)
    return task, cfg, opts


def test_g_phase_is_alpha_adv_plus_beta_task_plus_gamma_content():
    # no noise or dropout in D, so that its logits can be recomputed; γ > 0 so that every term counts
    task, cfg, _ = _task(["model.d_noise=0", "model.d_dropout=0", "pixelda.alpha=0.3", "pixelda.beta=0.2", "pixelda.gamma=0.7"])
    n = task.networks
    assert [(p.name, p.networks) for p in task.phases] == [("D", ("D",)), ("G", ("G", "T"))]
    state = copy.deepcopy(task.state_dict())
    torch.manual_seed(5)
    loss, stats = task.g_phase(None, None)
    # again by hand: the same labelled source batch (the stream rewound) and the same z (the first global draw)
    task.load_state_dict(state)
    src = task._source_batches.next()
    xs, ys = src["x"], src["label"]
    torch.manual_seed(5)
    z = torch.rand(len(xs), n["G"].z_dim) * 2 - 1
    with torch.no_grad():
        fake = n["G"](xs, z)
        adv = F.softplus(-n["D"](fake)).mean()
        task_source, task_adapted = F.cross_entropy(n["T"](xs), ys), F.cross_entropy(n["T"](fake), ys)
        fg = (xs.mean(1, keepdim=True) > 0).expand_as(xs)
        content = torch.stack([((xs[i] - fake[i])[fg[i]]).var(unbiased=False) for i in range(len(xs))]).mean()
    assert z.min() >= -1 and z.max() <= 1
    for key, want in (("adv", adv), ("task_source", task_source), ("task_adapted", task_adapted), ("content", content)):
        assert stats[key].item() == pytest.approx(want.item(), rel=1e-4, abs=1e-6), key
    assert stats["task"].item() == pytest.approx((task_source + task_adapted).item(), rel=1e-5)
    want = 0.3 * stats["adv"] + 0.2 * stats["task"] + 0.7 * stats["content"]
    assert loss.item() == pytest.approx(want.item(), rel=1e-6) and stats["loss_g"].item() == pytest.approx(loss.item())
    # D's loss: −log σ(D(x_t)) − log(1 − σ(D(G(x_s, z)))) on the loop's batch
    batch = {"a": to_float(task.source.images[:8]), "b": to_float(offline("digits-m", "train", 16, 3).b[:8])}
    torch.manual_seed(6)
    d_loss, d_stats = task.d_phase(batch, None)
    torch.manual_seed(6)
    with torch.no_grad():
        fake = n["G"](batch["a"], torch.rand(8, n["G"].z_dim) * 2 - 1)
        want = -F.logsigmoid(n["D"](batch["b"])).mean() - F.logsigmoid(-n["D"](fake)).mean()
    assert d_loss.item() == pytest.approx(want.item(), rel=1e-5)


def test_target_labels_never_reach_training(monkeypatch):
    """The same run with the target's train labels scrambled trains to the same weights: B's labels only score T."""
    import gankit.data as data_module

    def weights(scramble: bool) -> dict[str, torch.Tensor]:
        real = offline

        def patched(name, split, resolution, channels):  # noqa: ANN001, ANN202
            d = real(name, split, resolution, channels)
            return dataclasses.replace(d, label_b=(d.label_b + 3) % 10) if scramble and split == "train" else d

        monkeypatch.setattr(data_module, "offline", patched)
        torch.manual_seed(0)
        task, cfg, opts = _task([])
        gen = torch.Generator().manual_seed(0)
        train = build_dataset(cfg.data, "train")
        assert torch.equal(train.label_b, real("digits-m", "train", 16, 3).label_b) != scramble  # the patch took
        for _ in range(2):  # two steps: D, then G and T
            ia, ib = torch.randint(len(train.a), (8,), generator=gen), torch.randint(len(train.b), (8,), generator=gen)
            batch = {"a": to_float(train.a[ia]), "b": to_float(train.b[ib])}
            for phase in task.phases:
                loss, _ = phase.loss(batch, None)
                opts[phase.optimizer].zero_grad(set_to_none=True)
                loss.backward()
                opts[phase.optimizer].step()
        return {f"{k}.{p}": v.detach().clone() for k in ("G", "D", "T") for p, v in task.networks[k].state_dict().items()}

    a, b = weights(False), weights(True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_pixelda_refuses_data_without_source_labels_or_two_domains(one_line, tmp_path):
    with one_line(ConfigError, match="task.name"):
        load_preset("pixelda", ["data.name=digits"])
    with one_line(ConfigError, match="task.name: pixelda adapts"):
        gankit.train("pixelda", out=tmp_path / "p2p", overrides=[*TINY, "data.name=edges2digits"])
    assert not (tmp_path / "p2p").exists()


# ------------------------------------------------------------------------------------------------ a run


def test_tiny_run_logs_target_accuracy_and_its_export_round_trips(tmp_path, no_report):
    run = tmp_path / "run"
    gankit.train("pixelda", out=run, overrides=[*TINY, "train.steps=4", "eval.every=2", "train.sample_every=4",
                                                 "train.checkpoint_every=4", "train.progress=false", "health.monitor=false"])
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    classify = [e for e in events if e["event"] == "classify"]
    assert [e["step"] for e in classify] == [2, 4]
    for e in classify:
        assert 0.0 <= e["target_acc"] <= 1.0 and 0.0 <= e["source_acc"] <= 1.0 and e["n"] == 359
    assert any(e["event"] == "samples" for e in events)
    pipe = gankit.load(run)
    assert isinstance(pipe, PixelDAPipeline) and pipe.meta["task"] == "pixelda" and pipe.z_dim == 10
    test = offline("digits-m", "test", 16, 3)
    x = to_float(test.a[:5])
    y = pipe(x)
    assert y.shape == (5, 3, 16, 16) and y.min() >= -1 and y.max() <= 1
    assert torch.equal(y, pipe(x, seed=0)) and not torch.equal(y, pipe(x, seed=1))  # z is drawn from the seed
    probs = pipe.classify(to_float(test.b[:5]))
    assert probs.shape == (5, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    # the exported T is the one the last classify event scored
    acc = float((pipe.classify(to_float(test.b)).argmax(1) == test.label_b).float().mean())
    assert acc == pytest.approx(classify[-1]["target_acc"])
    with pytest.raises(ConfigError):
        pipe(x, direction="BtoA")


def test_resume_is_bitwise(tmp_path, no_report):
    """The task's own labelled source stream is checkpointed: 2 + 2 resumed steps export what 4 steps do."""
    from safetensors.torch import load_file

    base = [*TINY, "train.progress=false", "health.monitor=false", "train.checkpoint_every=2", "eval.every=2"]
    gankit.train("pixelda", out=tmp_path / "a", overrides=[*base, "train.steps=4"])
    gankit.train("pixelda", out=tmp_path / "b", overrides=[*base, "train.steps=2"])
    gankit.train(resume=tmp_path / "b", overrides=["train.steps=4"])
    a, b = (load_file(str(tmp_path / r / "generator" / "model.safetensors")) for r in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
