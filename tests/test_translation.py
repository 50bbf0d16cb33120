"""Numbers for image-to-image translation (issue 17): the offline domain sets, domain vectors, batches and their resume
state, the pix2pix / CycleGAN / StarGAN losses against hand computations, the history buffer's sampling rule, the
gradient penalty, the translation metric on the truth and on the identity map, folder layouts through a run config,
the translate verb, bitwise resume of CycleGAN, and CPU-sized runs of each offline preset that beat the identity map."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.config import data_config, from_dict
from gankit.data import build_dataset, info_of
from gankit.data.domains import (DIGIT_ATTRIBUTES, DomainBatches, decode_attrs, encode_attrs, eval_items, offline, random_targets,
                                 render)
from gankit.errors import ConfigError
from gankit.metrics.translation import attribute_loss, identity_outputs, matched_reference, translation_scores
from gankit.models.translation import ImagePool
from gankit.tasks.translation import gan_terms, gradient_penalty

CPU = torch.device("cpu")


# ------------------------------------------------------------------------------------------------ data


def test_offline_sets_sizes_kinds_and_content():
    e = offline("edges2digits", "train", 32, 1)
    assert e.kind == "paired" and e.a.shape == e.b.shape == (1438, 1, 32, 32) and e.a.dtype == torch.uint8
    assert set(e.a.unique().tolist()) == {0, 255}  # binary edge maps
    assert torch.equal(e.label_a, e.label_b)
    c = offline("digits2color", "train", 32, 3)
    assert c.kind == "unpaired" and len(c.a) == 719 and len(c.b) == 719 and c.a.shape[1] == c.b.shape[1] == 3
    from gankit.data.images import load_digits

    grey = load_digits(32, 1, "train").images
    assert torch.equal(c.a[:, :1], grey[0::2])  # A: the even train digits, B drawn from the odd ones: nothing paired
    t = offline("digits2color", "test", 32, 3)
    assert len(t.a) == len(t.b) == 359 and torch.equal(t.label_a, t.label_b)  # the test digits rendered both ways
    s = offline("digits-attrs", "train", 32, 3)
    assert s.kind == "domains" and s.attrs.shape == (1438, 5) and s.c_dim == 5
    idx = decode_attrs(s.attrs, s.attributes)
    # every attribute value occurs, about uniformly
    for j, (_, values) in enumerate(DIGIT_ATTRIBUTES):
        counts = torch.bincount(idx[:, j], minlength=len(values)).float() / len(idx)
        assert torch.allclose(counts, torch.full_like(counts, 1 / len(values)), atol=0.05)
    # the colour attribute is the stroke's colour: red strokes have more red than green, green ones the reverse
    stroke = grey.float() / 255 > 0.8
    r, g = (s.a[:, 0].float() * stroke[:, 0]).sum((1, 2)), (s.a[:, 1].float() * stroke[:, 0]).sum((1, 2))
    assert bool((r[idx[:, 0] == 1] > g[idx[:, 0] == 1]).all()) and bool((g[idx[:, 0] == 2] > r[idx[:, 0] == 2]).all())


def test_render_is_the_blend_formula():
    strokes = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]]])
    bg = torch.full((1, 3, 2, 2), 0.8)
    out = render(strokes, torch.tensor([[1.0, 0.0, 0.5]]), torch.tensor([False]), bg, dim=0.5)
    m = strokes[0, 0]
    want = 0.4 * (1 - m)[None] + torch.tensor([1.0, 0.0, 0.5])[:, None, None] * m[None]
    assert torch.equal(out[0], (want * 255).round().to(torch.uint8))
    thick = render(strokes, torch.ones(1, 3), torch.tensor([True]), None)
    assert torch.equal(thick[0, 0], torch.full((2, 2), 255, dtype=torch.uint8))  # a 3×3 maximum spreads the full stroke


def test_domain_vectors_encode_decode_and_targets_differ():
    attrs = (("color", ("w", "r", "g")), ("thick", ("0", "1")), ("texture", ("0", "1")))
    choices = torch.tensor([[0, 1, 0], [2, 0, 1], [1, 1, 1]])
    v = encode_attrs(choices, attrs)
    assert v.tolist() == [[1, 0, 0, 1, 0], [0, 0, 1, 0, 1], [0, 1, 0, 1, 1]]
    assert torch.equal(decode_attrs(v, attrs), choices)
    assert torch.equal(decode_attrs(torch.tensor([[0.1, 3.0, -1.0, -0.2, 0.3]]), attrs, logits=True), torch.tensor([[1, 0, 1]]))
    own = encode_attrs(torch.randint(2, (500, 3)) * torch.tensor([1, 1, 1]), attrs)
    t = random_targets(own, attrs, torch.Generator().manual_seed(0))
    assert not (t == own).all(1).any() and torch.equal(t.sum(1) >= 1, torch.ones(500, dtype=torch.bool))


def test_domain_batches_kinds_shards_and_resume():
    for name, keys in (("edges2digits", {"input", "x"}), ("digits2color", {"a", "b"}), ("digits-attrs", {"x", "attrs"})):
        data = offline(name, "train", 16, 3)
        src = DomainBatches(data, 8, CPU, seed=5)
        b = src.next()
        assert set(b.keys()) == keys and all(v.shape[0] == 8 for v in b.values())
        state = src.state_dict()
        nxt = src.next()
        again = DomainBatches(data, 8, CPU, seed=99)
        again.load_state_dict(state)
        replay = again.next()
        assert all(torch.equal(nxt[k], replay[k]) for k in keys)
        halves = [DomainBatches(data, 8, CPU, seed=5, shard=(r, 2)).next() for r in (0, 1)]
        assert all(torch.equal(torch.cat([h[k] for h in halves]), b[k]) for k in keys)  # ranks slice one global draw


def test_flip_mirrors_both_images_of_a_pair():
    data = offline("edges2digits", "train", 16, 1)
    flipped = type(data)(data.kind, data.a, data.b, flip=True, source="t")
    plain = DomainBatches(data, 64, CPU, seed=1)
    mirrored = DomainBatches(flipped, 64, CPU, seed=1)
    a, b = plain.next(), mirrored.next()
    same = (a["input"] == b["input"]).flatten(1).all(1)
    mirror = (a["input"].flip(3) == b["input"]).flatten(1).all(1)
    assert bool((same | mirror).all()) and 10 < int((~same).sum()) < 54
    assert torch.equal(torch.where(same[:, None, None, None], a["x"], a["x"].flip(3)), b["x"])  # the target flips with its input


def test_eval_items_are_fixed_and_paired_where_the_data_is():
    test = offline("edges2digits", "test", 16, 1)
    i, j = eval_items(test, 10, 3), eval_items(test, 10, 3)
    assert all(torch.equal(i[k], j[k]) for k in i)
    assert torch.equal(i["label_a"], i["label_b"])
    s = eval_items(offline("digits-attrs", "test", 16, 3), 50, 0)
    assert not (s["target"] == s["attrs"]).all(1).any()


# ------------------------------------------------------------------------------------------------ losses by hand


def test_gan_terms_by_hand():
    r, f = torch.tensor([[0.5, -1.0]]), torch.tensor([[2.0, 0.0]])
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert gan_terms(r, f, "vanilla").item() == pytest.approx((sp(-0.5) + sp(1.0)) / 2 + (sp(2.0) + sp(0.0)) / 2, rel=1e-6)
    assert gan_terms(None, f, "vanilla").item() == pytest.approx((sp(-2.0) + sp(0.0)) / 2, rel=1e-6)
    assert gan_terms(r, f, "lsgan").item() == pytest.approx((0.25 + 4.0) / 2 + (4.0 + 0.0) / 2)
    assert gan_terms(None, f, "lsgan").item() == pytest.approx((1.0 + 1.0) / 2)


def test_attribute_loss_is_bce_per_bit_plus_ce_per_group():
    attrs = (("color", ("w", "r", "g")), ("thick", ("0", "1")))
    logits = torch.tensor([[1.0, 2.0, 0.5, -0.3], [0.0, -1.0, 3.0, 2.0]])
    target = torch.tensor([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])
    ce = (-(2.0 - torch.logsumexp(torch.tensor([1.0, 2.0, 0.5]), 0)) - (3.0 - torch.logsumexp(torch.tensor([0.0, -1.0, 3.0]), 0))) / 2
    bce = (-math.log(1 / (1 + math.exp(0.3))) - math.log(1 - 1 / (1 + math.exp(-2.0)))) / 2
    assert attribute_loss(logits, target, attrs).item() == pytest.approx(float(ce) + bce, rel=1e-6)


def test_gradient_penalty_of_a_linear_critic():
    class Linear(torch.nn.Module):  # src = <w, x> per image (as a 1×1 patch map), cls unused
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(1, 2, 3, 3))

        def forward(self, x):  # noqa: ANN001, ANN202
            return (x * self.w).sum((1, 2, 3))[:, None, None, None], None

    D = Linear()
    gp = gradient_penalty(D, torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3))
    assert gp.item() == pytest.approx((D.w.norm().item() - 1) ** 2, rel=1e-5)  # ∇ is w everywhere


def _task(preset: str, overrides: dict):
    from gankit.config import load_preset
    from gankit.tasks import TASKS

    base = load_preset(preset).to_dict()
    for section, values in overrides.items():
        base[section] = {**base.get(section, {}), **values}
    cfg = from_dict(base)
    info = info_of(build_dataset(cfg.data), cfg.data.name)
    return TASKS.get(cfg.task.name)(cfg, info), cfg


class Scale(torch.nn.Module):
    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = torch.nn.Parameter(torch.tensor(s))

    def forward(self, x):  # noqa: ANN001, ANN202
        return x * self.s


class Mean(torch.nn.Module):  # a "patch critic": the per-image mean as a 1×1 map
    def forward(self, x):  # noqa: ANN001, ANN202
        return x.mean((1, 2, 3))[:, None, None, None]


def test_cyclegan_losses_by_hand():
    task, cfg = _task("cyclegan", {"data": {"resolution": 16}, "model": {"channels": 4, "d_channels": 4, "blocks": 1}})
    n = task.networks
    n["G_AB"], n["G_BA"], n["D_A"], n["D_B"] = Scale(0.5), Scale(3.0), Mean(), Mean()
    task.bind({}, CPU)
    a, b = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    loss, stats = task.g_phase({"a": a, "b": b}, None)
    cycle = (1.5 * a - a).abs().mean() + (1.5 * b - b).abs().mean()
    idt = (0.5 * b - b).abs().mean() + (3 * a - a).abs().mean()
    adv = ((0.5 * a).mean((1, 2, 3)) - 1).pow(2).mean() + ((3 * b).mean((1, 2, 3)) - 1).pow(2).mean()
    assert stats["cycle"].item() == pytest.approx(cycle.item(), rel=1e-6)
    assert stats["identity"].item() == pytest.approx(idt.item(), rel=1e-6)
    assert loss.item() == pytest.approx((adv + 10 * cycle + 10 * 0.5 * idt).item(), rel=1e-6)
    n["pool_A"], n["pool_B"] = ImagePool(0), ImagePool(0)  # no history: D sees this step's fakes
    d_loss, _ = task.d_phase({"a": a, "b": b}, None)
    want = 0.5 * (((a.mean((1, 2, 3)) - 1) ** 2).mean() + ((3 * b).mean((1, 2, 3)) ** 2).mean()) + \
        0.5 * (((b.mean((1, 2, 3)) - 1) ** 2).mean() + ((0.5 * a).mean((1, 2, 3)) ** 2).mean())
    assert d_loss.item() == pytest.approx(want.item(), rel=1e-6)


def test_pix2pix_losses_by_hand():
    task, cfg = _task("pix2pix", {"data": {"resolution": 16}, "model": {"channels": 4, "d_channels": 4}})
    task.networks["G"] = Scale(0.5)
    task.networks["D"] = Mean()
    task.bind({}, CPU)
    a, x = torch.rand(3, 1, 16, 16) * 2 - 1, torch.rand(3, 1, 16, 16) * 2 - 1
    loss, stats = task.g_phase({"input": a, "x": x}, None)
    d_fake = torch.cat([a, 0.5 * a], 1).mean((1, 2, 3))  # D sees (input, output) stacked: conditional
    assert loss.item() == pytest.approx((F.softplus(-d_fake).mean() + 100 * (0.5 * a - x).abs().mean()).item(), rel=1e-6)
    d_loss, _ = task.d_phase({"input": a, "x": x}, None)
    d_real = torch.cat([a, x], 1).mean((1, 2, 3))
    assert d_loss.item() == pytest.approx((0.5 * (F.softplus(-d_real).mean() + F.softplus(d_fake).mean())).item(), rel=1e-6)
    l1_only, _ = _task("pix2pix", {"data": {"resolution": 16}, "model": {"channels": 4, "d_channels": 4}, "pix2pix": {"adv": 0.0}})
    assert "D" not in l1_only.networks and "D" not in l1_only.param_groups()


def test_stargan_targets_are_the_batch_vectors_permuted_and_losses_by_hand():
    task, cfg = _task("stargan", {"data": {"resolution": 16}, "model": {"channels": 4, "blocks": 1}})
    task.bind({}, CPU)
    batch = DomainBatches(build_dataset(cfg.data), 8, CPU, 0).next()
    torch.manual_seed(3)
    loss, stats = task.d_phase(batch, None)
    t = task._target
    assert sorted(map(tuple, t.tolist())) == sorted(map(tuple, batch["attrs"].tolist()))  # a permutation of the batch's own
    g_loss, g_stats = task.g_phase(batch, None)
    G, D = task.networks["G"], task.networks["D"]
    fake = G(batch["x"], t)
    src, cls = D(fake)
    rec = (G(fake, batch["attrs"]) - batch["x"]).abs().mean()
    want = -src.mean() + attribute_loss(cls, t, task.attributes) + 10 * rec
    assert g_loss.item() == pytest.approx(want.item(), rel=1e-5)


def test_image_pool_follows_the_history_rule():
    pool = ImagePool(3, 1, 2)
    first = torch.arange(3.0)[:, None, None, None].expand(3, 1, 2, 2)
    assert torch.equal(pool.query(first), first) and int(pool.count) == 3  # filling: stored and returned
    torch.manual_seed(7)
    new = torch.full((200, 1, 2, 2), 100.0) + torch.arange(200.0)[:, None, None, None]
    stored_before = pool.images.clone()
    torch.manual_seed(7)
    out = pool.query(new)
    # replay the rule with the same draws
    torch.manual_seed(7)
    images = stored_before.clone()
    for k in range(200):
        if float(torch.rand(())) < 0.5:
            j = int(torch.randint(3, ()))
            assert torch.equal(out[k], images[j])
            images[j] = new[k]
        else:
            assert torch.equal(out[k], new[k])
    assert torch.equal(pool.images, images)
    old = (out < 100).all() if False else (out != new).flatten(1).any(1).float().mean()
    assert 0.35 < float(old) < 0.65  # about half the returned images are from the history


# ------------------------------------------------------------------------------------------------ the metric


def test_translation_metric_on_the_truth_and_the_identity_map():
    train, test = offline("edges2digits", "train", 32, 1), offline("edges2digits", "test", 32, 1)
    items = eval_items(test, 120)
    truth = translation_scores({"ab": items["b"]}, train, test)
    assert truth["l1"] == 0 and truth["psnr"] == math.inf and truth["ssim"] == pytest.approx(1.0)
    assert truth["domain_acc"] == 1.0 and truth["content_acc"] > 0.95 and abs(truth["fid"]) < 1e-6
    floor = translation_scores(identity_outputs(test, 120), train, test)
    assert floor["domain_acc"] == 0.0 and floor["fid"] > 100 and floor["content_acc"] < truth["content_acc"]
    s_train, s_test = offline("digits-attrs", "train", 32, 3), offline("digits-attrs", "test", 32, 3)
    ident = translation_scores(identity_outputs(s_test, 200), s_train, s_test)
    assert ident["domain_acc"] < 0.05 and ident["content_acc"] > 0.9
    ref = matched_reference(s_test, eval_items(s_test, 200)["target"])
    assert len(ref) == 200  # every target combination occurs among the 359 test digits


# ------------------------------------------------------------------------------------------------ folders through a config


def _write(path, arr):  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_user_layouts_through_data_config(tmp_path, one_line):
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("test", 2)):
        for side in "AB":
            for i in range(n + (side == "B")):
                _write(tmp_path / "cg" / f"{split}{side}" / f"{i}.png", rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
        for i in range(n):
            _write(tmp_path / "al" / split / f"{i}.jpg", rng.integers(0, 256, (10, 20, 3), dtype=np.uint8))
    cfg = data_config({"name": "translation", "path": str(tmp_path / "cg"), "resolution": 16, "channels": 3})
    d = build_dataset(cfg, "train")
    assert d.kind == "unpaired" and d.a.shape == (4, 3, 16, 16) and d.b.shape == (5, 3, 16, 16)
    info = info_of(d, "translation")
    assert info.schema == "domains" and info.domains["kind"] == "unpaired"
    al = build_dataset(data_config({"name": "translation", "path": str(tmp_path / "al"), "resolution": 8, "channels": 3}), "test")
    assert al.kind == "paired" and al.a.shape == al.b.shape == (2, 3, 8, 8)
    with one_line(ConfigError, match="data.path"):
        data_config({"name": "translation", "resolution": 16})
    with one_line(ConfigError, match="paired data"):
        from gankit import api

        api.train("pix2pix", out=tmp_path / "x", overrides=["data.name=translation", f"data.path={tmp_path / 'cg'}", "data.resolution=16",
                                                            "data.channels=3", "train.steps=1"])
    assert not (tmp_path / "x" / "generator").exists()
    with one_line(ConfigError, match="translates images between domains"):
        from gankit import api

        api.train("cyclegan", out=tmp_path / "y", overrides=["data.name=digits"])


# ------------------------------------------------------------------------------------------------ runs, verbs, resume

TINY = ["train.progress=false", "health.monitor=false", "data.resolution=16", "model.channels=4", "train.batch_size=4",
        "train.sample_every=2", "eval.metrics=[translation]", "eval.n=16", "eval.every=2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from gankit import api
    from tests.conftest import disable_report

    root = tmp_path_factory.mktemp("translation")
    with pytest.MonkeyPatch.context() as mp:
        disable_report(mp)
        api.train("pix2pix", out=root / "p2p", overrides=[*TINY, "model.d_channels=4", "train.steps=2"])
        api.train("cyclegan", out=root / "cg", overrides=[*TINY, "model.d_channels=4", "model.blocks=1", "train.steps=2"])
        api.train("stargan", out=root / "sg", overrides=[*TINY, "model.blocks=1", "train.steps=2", "train.n_critic=2"])
    return root


def test_runs_log_the_translation_metric_and_triplet_pictures(runs):
    import json

    for name, keys in (("p2p", {"domain_acc", "content_acc", "fid", "l1", "psnr", "ssim"}),
                       ("cg", {"domain_acc", "content_acc", "fid", "domain_acc_ba", "content_acc_ba", "fid_ba", "cycle_l1"}),
                       ("sg", {"domain_acc", "attr_acc", "content_acc", "fid", "cycle_l1"})):
        events = [json.loads(line) for line in (runs / name / "metrics.jsonl").read_text().splitlines()]
        ev = [e for e in events if e["event"] == "eval"][-1]
        assert keys <= set(ev) and ev["n_items"] == 16
        grid = Image.open(runs / name / "samples" / "step0000002.png")
        cols = {"p2p": 3, "cg": 6, "sg": 3}[name]
        assert grid.size[0] > grid.size[1] * cols / 8 * 0.9  # 8 rows of input → output (→ reconstruction) triplets


def test_translate_verb_and_its_errors(runs, tmp_path, capsys):
    from gankit.cli import main

    rng = np.random.default_rng(2)
    _write(tmp_path / "in" / "a.png", rng.integers(0, 256, (40, 30, 3), dtype=np.uint8))
    _write(tmp_path / "in" / "b.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    assert main(["translate", str(runs / "p2p"), str(tmp_path / "in"), "--out", str(tmp_path / "o1")]) == 0
    assert Image.open(tmp_path / "o1" / "a.png").size == (16, 16)
    assert main(["translate", str(runs / "cg"), str(tmp_path / "in" / "a.png"), "--out", str(tmp_path / "o2"), "--direction", "BtoA"]) == 0
    assert main(["translate", str(runs / "sg"), str(tmp_path / "in" / "b.png"), "--out", str(tmp_path / "o3"), "--to", "color=red", "thick=1"]) == 0
    assert Image.open(tmp_path / "o3" / "b.png").size == (16, 16)
    capsys.readouterr()
    bad = [["translate", str(runs / "sg"), str(tmp_path / "in"), "--out", str(tmp_path / "x1"), "--to", "hair=red"],
           ["translate", str(runs / "sg"), str(tmp_path / "in"), "--out", str(tmp_path / "x2"), "--to", "color=blue"],
           ["translate", str(runs / "sg"), str(tmp_path / "in"), "--out", str(tmp_path / "x3")],
           ["translate", str(runs / "cg"), str(tmp_path / "in"), "--out", str(tmp_path / "x4"), "--to", "color=red"],
           ["translate", str(runs / "p2p"), str(tmp_path / "none"), "--out", str(tmp_path / "x5")],
           ["sample", str(runs / "cg"), "--n", "4", "--out", str(tmp_path / "x6.png")]]
    for argv in bad:
        assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(bad) and "not an attribute" in err[0] and "not a value of color" in err[1] and "--to ATTR=VALUE" in err[2]
    assert "gankit translate" in err[5]
    assert not any((tmp_path / f"x{i}").exists() for i in range(1, 6))  # nothing half-written


def test_bad_folders_stop_training_with_one_line(tmp_path, capsys):
    from gankit.cli import main

    rng = np.random.default_rng(3)
    for side, names in (("A", ["1.png", "2.png", "3.png"]), ("B", ["1.png", "2.png", "4.png"])):
        for n in names:
            _write(tmp_path / "par" / side / "train" / n, rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    (tmp_path / "dom" / "train" / "happy").mkdir(parents=True)
    (tmp_path / "dom" / "train" / "sad").mkdir(parents=True)
    (tmp_path / "dom" / "test" / "sad").mkdir(parents=True)
    for d in ("train/happy", "train/sad", "test/sad"):
        _write(tmp_path / "dom" / d / "0.png", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    capsys.readouterr()
    base = ["train.steps=1", "train.progress=false", "data.resolution=16", "data.channels=3"]
    assert main(["train", "--preset", "pix2pix", "--out", str(tmp_path / "r1"), "data.name=translation",
                 f"data.path={tmp_path / 'par'}", "data.layout=parallel", *base]) == 2
    assert main(["train", "--preset", "stargan", "--out", str(tmp_path / "r2"), "data.name=translation",
                 f"data.path={tmp_path / 'dom'}", *base]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no match" in err[0] and "3.png" in err[0] and "happy" in err[1]
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_pipelines_from_python_and_evaluate(runs):
    from gankit import api
    from gankit.evaluation import evaluate_run

    sg = api.load(runs / "sg")
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    own = sg.own_attributes(x)
    t = sg.target_vectors(x, {"thick": "1"})
    assert torch.equal(decode_attrs(t, sg.attributes)[:, 1], torch.ones(3, dtype=torch.long))
    assert torch.equal(decode_attrs(t, sg.attributes)[:, [0, 2]], own[:, [0, 2]])  # the others keep D's reading
    assert sg(x, target={"color": "green"}).shape == (3, 3, 16, 16)
    cg = api.load(runs / "cg")
    assert not torch.equal(cg(x, direction="AtoB"), cg(x, direction="BtoA"))
    res = evaluate_run(runs / "cg", ["translation"], n=12, log=False)
    assert res["n_items"] == 12 and 0 <= res["domain_acc"] <= 1


def test_cyclegan_resume_is_bitwise(tmp_path, no_report):
    """4 CycleGAN steps straight == 2, then --resume to 4: the pools' images and draws are part of the state."""
    from safetensors.torch import load_file

    from gankit import api
    from gankit.cli import main

    base = [*TINY, "eval.metrics=[]", "model.d_channels=4", "model.blocks=1", "cyclegan.pool=3", "train.checkpoint_every=2",
            "train.precision=fp32"]
    a, b = tmp_path / "straight", tmp_path / "split"
    api.train("cyclegan", out=a, overrides=[*base, "train.steps=4"])
    api.train("cyclegan", out=b, overrides=[*base, "train.steps=2"])
    assert main(["train", "--resume", str(b), "train.steps=4"]) == 0
    for name in ("G_AB", "G_BA", "D_A", "D_B", "pool_A", "pool_B"):
        wa, wb = load_file(a / "checkpoints" / "4" / f"{name}.safetensors"), load_file(b / "checkpoints" / "4" / f"{name}.safetensors")
        assert all(torch.equal(wa[k], wb[k]) for k in wa), name


@pytest.mark.parametrize("preset,steps,overrides,margin", [
    ("pix2pix", 150, ["model.channels=16", "model.d_channels=16"], 0.5),
    ("cyclegan", 60, ["model.channels=8", "model.d_channels=8", "model.blocks=2", "data.resolution=16"], 0.5),
    ("stargan", 200, ["model.channels=8", "model.blocks=2", "data.resolution=16", "train.n_critic=2", "train.lr_g=5e-4",
                      "train.lr_d=5e-4"], 0.1),
])
def test_cpu_sized_presets_beat_the_identity_map(preset, steps, overrides, margin, tmp_path, no_report):
    """A short run of each offline preset puts more test translations in the target domain than the identity map,
    which puts none (StarGAN: 1 in 120 by chance, all five bits right)."""
    from gankit import api
    from gankit.config import load_file

    run = tmp_path / preset
    api.train(preset, out=run, overrides=["train.progress=false", "eval.metrics=[]", "health.monitor=false", f"train.steps={steps}",
                                          "train.sample_every=100000", *overrides])
    cfg = load_file(run / "config.json")
    train, test = build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test")
    got = translation_scores(api.load(run).eval_outputs(cfg.data, 200, 0), train, test)
    floor = translation_scores(identity_outputs(test, 200), train, test)
    assert got["domain_acc"] > floor["domain_acc"] + margin, (got, floor)
