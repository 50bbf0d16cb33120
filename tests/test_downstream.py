"""Numbers for GANs as data for other models (issue 19): the semi-supervised GAN's K+1-class loss against a hand
computation, the few-label split and its batches (resume state included), classical augmentation's identity case and
its geometry, the truncated normal, the synthetic-set writer's round trips, AC-GAN's losses, a CPU-sized few-label run
where the semi-supervised D beats the same classifier trained on its labelled images alone, and the augment verb."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit import downstream as ds
from gankit.config import from_dict, load_preset, validate
from gankit.data import build_dataset
from gankit.data.batches import FewLabelBatches, make_batches
from gankit.data.images import FewLabelData, few_labels, load_digits, load_folder, to_float, to_uint8
from gankit.errors import ConfigError
from gankit.tasks.semi import real_probability, ssgan_d_terms

from test_cli import assert_usage_error, run_cli

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

QUIET = ["train.progress=false", "eval.metrics=[]", "train.sample_every=100000", "train.checkpoint_every=100000", "health.monitor=false"]


# ------------------------------------------------------------------------------------------------ the K+1-class loss


def test_ssgan_loss_is_the_k_plus_1_softmax_with_an_implicit_zero_logit():
    """Salimans et al. 2016 §5: the K real classes' logits and a fake class whose logit is fixed at 0."""
    torch.manual_seed(0)
    real, fake, lab = torch.randn(6, 4) * 2, torch.randn(5, 4) * 2, torch.randn(3, 4)
    y = torch.tensor([0, 3, 1])
    sup, unsup = ssgan_d_terms(real, fake, lab, y)
    p_real = F.softmax(torch.cat([real, torch.zeros(6, 1)], 1), 1)   # K+1 classes, the last one "fake"
    p_fake = F.softmax(torch.cat([fake, torch.zeros(5, 1)], 1), 1)
    p_lab = F.softmax(torch.cat([lab, torch.zeros(3, 1)], 1), 1)
    # supervised: log p(y | x, y < K+1) = log p_y / (1 − p_fake)
    hand_sup = -(p_lab[torch.arange(3), y] / (1 - p_lab[:, 4])).log().mean()
    hand_unsup = -(1 - p_real[:, 4]).log().mean() - p_fake[:, 4].log().mean()
    assert sup.item() == pytest.approx(hand_sup.item(), rel=1e-5)
    assert unsup.item() == pytest.approx(hand_unsup.item(), rel=1e-5)
    assert torch.allclose(real_probability(real), 1 - p_real[:, 4], atol=1e-6)
    # the K logits are over-parametrized: adding c to every real logit moves D(x) = Z/(Z+1) as Z·e^c
    z = real.exp().sum(1)
    assert torch.allclose(real_probability(real + 1.0), z * math.e / (z * math.e + 1), atol=1e-6)


def test_acgan_losses_on_one_batch_match_the_paper():
    """D: −L_S + λ·L_C (real and generated classes); G: −log P(real | G) + λ·CE, recomputed from D's outputs."""
    cfg = load_preset("acgan-digits", ["model.g_width=8", "model.d_width=8", "model.dropout=0", "model.noise=0", "acgan.cls=0.5",
                                       "data.labels_per_class=0", "data.unlabelled=false"])
    from gankit.data import info_of
    from gankit.tasks import TASKS
    from gankit.tasks.base import Clock

    data = build_dataset(cfg.data)
    task = TASKS.get("acgan")(cfg, info_of(data, "digits"))
    task.bind({}, torch.device("cpu"))
    batch = make_batches(data, 16, torch.device("cpu"), 0).next()
    torch.manual_seed(1)
    loss, stats = task.d_phase(batch, Clock(0, 0, 0))
    torch.manual_seed(1)
    z = torch.randn(16, task.z_dim)
    c = torch.randint(10, (16,))
    G, D = task.networks["G"], task.networks["D"]
    with torch.no_grad():
        out_r, out_f = D(batch["x"]), D(G(z, c))
    src = -F.logsigmoid(out_r[:, 0]).mean() - F.logsigmoid(-out_f[:, 0]).mean()
    cls = F.cross_entropy(out_r[:, 1:], batch["label"]) + F.cross_entropy(out_f[:, 1:], c)
    assert loss.item() == pytest.approx((src + 0.5 * cls).item(), rel=1e-4)
    assert stats["d_src"].item() == pytest.approx(src.item(), rel=1e-4)


# ------------------------------------------------------------------------------------------------ the few-label split


def test_few_labels_picks_k_per_class_by_seed_and_hides_the_rest():
    train = load_digits(16, 1, "train")
    a, b, c = few_labels(train, 3, seed=0), few_labels(train, 3, seed=0), few_labels(train, 3, seed=1)
    assert len(a) == 30 and torch.equal(torch.bincount(a.labels), torch.full((10,), 3))
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    hidden = few_labels(train, 3, seed=0, keep_unlabelled=True)
    assert isinstance(hidden, FewLabelData) and len(hidden) == len(train)
    assert int(hidden.known.sum()) == 30 and set(hidden.labels[~hidden.known].tolist()) == {-1}
    # the labelled images are the same ones, with their true labels
    assert torch.equal(hidden.labels[hidden.known], train.labels[hidden.known])
    assert sorted(hidden.images[hidden.known].flatten(1).sum(1).tolist()) == sorted(a.images.flatten(1).sum(1).tolist())
    with pytest.raises(ConfigError, match="fewer than 1000"):
        few_labels(train, 1000)


def test_few_label_batches_and_their_resume_state():
    cfg = from_dict({"data": {"name": "digits", "resolution": 8, "labels_per_class": 2, "unlabelled": True}})
    data = build_dataset(cfg.data, "train")
    assert isinstance(data, FewLabelData)
    assert len(build_dataset(cfg.data, "test")) == 359 and build_dataset(cfg.data, "test").labels.min() >= 0  # test labels kept
    src = make_batches(data, 32, torch.device("cpu"), seed=3)
    assert isinstance(src, FewLabelBatches)
    b = src.next()
    assert b["x"].shape == b["xl"].shape == (32, 1, 8, 8) and "label" not in b
    known = to_float(data.images[data.known])
    for img, y in zip(b["xl"], b["yl"]):  # every labelled image is one of the 20, with its own label
        j = int((known - img).flatten(1).abs().sum(1).argmin())
        assert torch.equal(known[j], img) and int(data.labels[data.known][j]) == int(y)
    state = src.state_dict()
    nxt = src.next()
    again = make_batches(data, 32, torch.device("cpu"), seed=3)
    again.load_state_dict(state)
    nxt2 = again.next()
    assert all(torch.equal(nxt[k], nxt2[k]) for k in nxt)


def test_few_label_config_errors_are_one_line():
    for values, match in [({"data": {"name": "ring", "labels_per_class": 5}}, "not labelled image data"),
                          ({"data": {"name": "digits", "unlabelled": True}}, "only with data.labels_per_class"),
                          ({"task": {"name": "ssgan"}, "data": {"name": "digits", "labels_per_class": 5}}, "set data.unlabelled=true"),
                          ({"task": {"name": "acgan"}, "data": {"name": "ring"}}, "labelled image"),
                          ({"data": {"name": "digits", "labels_per_class": 5, "split": "all"}}, "trains on the train split")]:
        with pytest.raises(ConfigError, match=match):
            validate(from_dict(values))


# ------------------------------------------------------------------------------------------------ augmentation, sampling, files


def test_classical_augment_identity_and_shift_geometry():
    gen = torch.Generator().manual_seed(0)
    x = to_float(load_digits(16, 1, "test").images[:8])
    same = ds.classical_augment(x, gen, shift=0, rotate=0, elastic_alpha=0)
    assert torch.allclose(same, x, atol=1e-5)  # the identity grid samples pixel centres exactly
    # a shift of exactly 2 pixels in x (no rotation, no elastic): the image moves by 2 columns, background enters
    theta_shift = 2 * 2 / 16  # normalized units
    torch.manual_seed(0)
    out = F.grid_sample(x + 1, F.affine_grid(torch.tensor([[[1.0, 0, theta_shift], [0, 1.0, 0]]]).expand(8, -1, -1), x.shape,
                                             align_corners=False), align_corners=False) - 1
    assert torch.allclose(out[..., :-2], x[..., 2:], atol=1e-5) and torch.allclose(out[..., -2:], torch.full_like(out[..., -2:], -1))
    aug = ds.classical_augment(x, torch.Generator().manual_seed(1))
    assert aug.shape == x.shape and aug.min() >= -1 - 1e-6 and aug.max() <= 1 + 1e-6
    assert not torch.allclose(aug, x)
    # deterministic in the generator
    assert torch.equal(aug, ds.classical_augment(x, torch.Generator().manual_seed(1)))


def test_truncated_normal_stays_inside_and_off_is_a_normal():
    z = ds.truncated_normal(4000, 8, 0.5, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 0.5
    # a normal truncated at ±0.5 has variance 1 − 2·0.5·φ(0.5)/(2Φ(0.5) − 1)
    phi, Phi = math.exp(-0.125) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(0.5 / math.sqrt(2)))
    assert z.var().item() == pytest.approx(1 - phi / (2 * Phi - 1), abs=0.01)
    assert torch.equal(ds.truncated_normal(10, 3, 0.0, torch.Generator().manual_seed(2)), torch.randn(10, 3, generator=torch.Generator().manual_seed(2)))


def test_synthetic_sets_round_trip_as_npz_and_folder(tmp_path):
    x = to_float(load_digits(8, 1, "test").images[:12])
    y = torch.arange(12) % 3
    names = ["zero", "one", "two"]
    npz = ds.write_synthetic(x, y, tmp_path / "set.npz", names)
    x2, y2, names2 = ds.read_synthetic(npz)
    assert torch.equal(x2, x) and torch.equal(y2, y) and names2 == names  # 8-bit images: exact
    with np.load(npz, allow_pickle=False) as f:
        assert f["x"].dtype == np.uint8 and f["x"].shape == (12, 1, 8, 8)
    folder = ds.write_synthetic(x, y, tmp_path / "set", names)
    data, _ = load_folder(str(folder), resolution=8, channels=1)  # gankit's folder loader: a subfolder per class
    assert sorted(data.class_names) == sorted(names) and len(data) == 12
    back = {(tuple(img.flatten().tolist()), data.class_names[int(lab)]) for img, lab in zip(data.images, data.labels)}
    want = {(tuple(img.flatten().tolist()), names[int(lab)]) for img, lab in zip(load_digits(8, 1, "test").images[:12], y)}
    assert back == want
    with pytest.raises(ConfigError, match="not an empty folder"):
        ds.write_synthetic(x, y, folder, names)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(Exception, match="not a labelled NPZ"):
        ds.read_synthetic(bad)


# ------------------------------------------------------------------------------------------------ runs


def test_semi_supervised_d_beats_its_labelled_images_alone(tmp_path, no_report):
    """With 1 label per class (10 of 1,438 digits), the SSGAN's D, which also learns from the unlabelled images and
    generated ones, classifies the test digits better than the same network trained on the 10 labelled images alone
    (ssgan.unsup=0: the supervised term only; same steps, seed and batches). Measured: 0.62 against 0.48."""
    import json

    acc = {}
    for unsup in (1, 0):
        run = tmp_path / f"ss{unsup}"
        gankit.train("ssgan-digits", out=run, overrides=[*QUIET, "data.labels_per_class=1", "train.steps=400", "model.g_width=16",
                                                          "model.d_width=16", f"ssgan.unsup={unsup}", "eval.every=0"])
        events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"classify"' in line]
        assert len(events) == 1 and events[0]["step"] == 400 and events[0]["n"] == 359  # scored once, at the end
        acc[unsup] = events[0]["test_acc"]
    assert acc[1] > acc[0] + 0.05, acc
    test = load_digits(16, 1, "test")
    pipe = gankit.load(tmp_path / "ss1")
    p = pipe.classify(to_float(test.images))
    assert p.shape == (359, 10) and torch.allclose(p.sum(1), torch.ones(359), atol=1e-5)
    assert float((p.argmax(1) == test.labels).float().mean()) == pytest.approx(acc[1], abs=1e-6)  # the export is the scored D
    assert pipe(4).shape == (4, 1, 16, 16)


def test_acgan_run_augment_verb_and_filter(tmp_path, no_report):
    run = tmp_path / "ac"
    gankit.train("acgan-digits", out=run, overrides=[*QUIET, "train.steps=60", "model.g_width=8", "model.d_width=8"])
    out = tmp_path / "syn.npz"
    code, stdout, err = run_cli("augment", run, "--n-per-class", "4", "--out", out, "--truncation", "1.0")
    assert code == 0, err
    x, y, names = ds.read_synthetic(out)
    assert x.shape == (40, 1, 16, 16) and torch.equal(torch.bincount(y), torch.full((10,), 4)) and names == [str(k) for k in range(10)]
    # the samples are G_ema's for those latents and classes: the pipeline's decode gives the same images
    gen = torch.Generator().manual_seed(0)
    z = ds.truncated_normal(40, 64, 1.0, gen)
    again = gankit.load(run).decode(z, torch.arange(10).repeat_interleave(4))
    assert torch.equal(x, to_float(to_uint8(again)))
    code, stdout, err = run_cli("augment", run, "--n-per-class", "3", "--out", tmp_path / "f.npz", "--filter")
    assert code == 0, err
    _, yf, _ = ds.read_synthetic(tmp_path / "f.npz")
    assert len(yf) <= 30 and torch.bincount(yf, minlength=10).max() <= 3
    assert_usage_error(*run_cli("augment", run, "--n-per-class", "0", "--out", tmp_path / "z.npz"))
    assert not (tmp_path / "z.npz").exists()
