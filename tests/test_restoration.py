"""Numbers for the restoration tasks (issue 18): the pair data and its layouts, the SR objectives' losses against hand
computations, sub-pixel shuffling, network interpolation, tiling, the known region of inpainting, PatchGAN's receptive
field, the VGG19 loader, the CLI verbs, and a CPU-sized SRResNet that beats bicubic on the held-out photos."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.config import data_config, from_dict
from gankit.data import build_dataset, info_of
from gankit.data.photos import BUNDLED_TEST, BUNDLED_TRAIN, PairBatches, eval_pairs
from gankit.errors import ConfigError, DataError
from gankit.models.inpaint import ChannelwiseFC, ContextEncoder
from gankit.models.patchgan import PatchDiscriminator, layers_for, receptive_field
from gankit.models.superres import RRDBNet, SRResNet
from gankit.models.tiling import tent, tiled, tiled_fixed
from gankit.tasks.inpaint import composite, hole_loss
from gankit.tasks.superres import PAPER, interpolate_state, pixel_loss, relativistic_losses, resolved

SR = {"name": "photos", "channels": 3, "resolution": 32, "degrade": "bicubic", "scale": 4}
HOLES = {"name": "photos", "channels": 3, "resolution": 32, "degrade": "mask", "mask": "free-form"}


# ------------------------------------------------------------------------------------------------ data


def test_bundled_photos_split_and_pairs():
    assert not set(BUNDLED_TRAIN) & set(BUNDLED_TEST)
    train, test = build_dataset(data_config(SR), "train"), build_dataset(data_config(SR), "test")
    assert train.names == list(BUNDLED_TRAIN) and test.names == list(BUNDLED_TEST)
    assert all(p.dtype == torch.uint8 and p.shape[0] == 3 for p in train.photos)
    info = info_of(train, "photos")
    assert info.schema == "pairs" and info.shape == (3, 32, 32) and info.pairs["input_shape"] == [3, 8, 8]
    pairs = eval_pairs(test, 6, seed=3)
    assert pairs["x"].shape == (6, 3, 32, 32) and pairs["input"].shape == (6, 3, 8, 8)
    # the input is the target downsampled by MATLAB's bicubic and rounded to 8 bits
    from gankit.data.degrade import imresize
    from gankit.data.images import quantize

    torch.testing.assert_close(pairs["input"], quantize(imresize(pairs["x"], 0.25)), atol=0, rtol=0)
    again = eval_pairs(build_dataset(data_config(SR), "test"), 6, seed=3)
    assert all(torch.equal(pairs[k], again[k]) for k in pairs)  # fixed: a task's inputs and a metric's targets match


def test_mask_pairs_hold_the_known_pixels():
    data = build_dataset(data_config(HOLES), "test")
    b = eval_pairs(data, 8, 0)
    m = b["mask"]
    assert m.shape == (8, 1, 32, 32) and set(m.unique().tolist()) <= {0.0, 1.0} and 0 < m.mean() < 0.6
    assert torch.equal(b["input"], b["x"] * (1 - m))


def test_pair_batches_resume_exactly():
    data = build_dataset(data_config(SR), "train")
    a = PairBatches(data, 4, torch.device("cpu"), seed=7)
    a.next()
    state = json.loads(json.dumps(a.state_dict()))
    want = a.next()
    b = PairBatches(data, 4, torch.device("cpu"), seed=99)
    b.load_state_dict(state)
    got = b.next()
    assert torch.equal(want["x"], got["x"]) and torch.equal(want["input"], got["input"])
    # ranks of a 2-process run get the two halves of the same global draw
    whole = PairBatches(data, 4, torch.device("cpu"), seed=1).next()["x"]
    halves = [PairBatches(data, 4, torch.device("cpu"), seed=1, shard=(r, 2)).next()["x"] for r in (0, 1)]
    assert torch.equal(whole[:2], halves[0])


def _write_images(folder, n, size=(40, 48)):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"img{i:02d}.png")


def test_folder_layouts_and_their_errors(tmp_path, one_line):
    _write_images(tmp_path / "train", 12)
    cfg = data_config({**SR, "path": str(tmp_path / "train")})
    train, test = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    assert len(train) == 11 and test.names == ["img09.png"]  # every 10th file (sorted) is held out
    _write_images(tmp_path / "set5", 3)
    cfg2 = data_config({**SR, "path": str(tmp_path / "train"), "test_path": str(tmp_path / "set5")})
    assert len(build_dataset(cfg2, "train")) == 12 and len(build_dataset(cfg2, "test")) == 3
    with one_line(ConfigError, match="not a folder"):
        build_dataset(data_config({**SR, "path": str(tmp_path / "nowhere")}), "train")
    (tmp_path / "empty").mkdir()
    with one_line(DataError, match="no image files"):
        build_dataset(data_config({**SR, "path": str(tmp_path / "empty")}), "train")
    with one_line(DataError, match="smaller than the 64-pixel patch"):
        build_dataset(data_config({**SR, "resolution": 64, "path": str(tmp_path / "train")}), "train")
    (tmp_path / "train" / "broken.png").write_bytes(b"not a png")
    with one_line(DataError, match="cannot read as an image"):
        build_dataset(data_config({**SR, "path": str(tmp_path / "train")}), "all")
    with one_line(ConfigError, match="multiple of data.scale"):
        data_config({**SR, "resolution": 30})
    with one_line(ConfigError, match="give data.path too"):
        data_config({**SR, "test_path": str(tmp_path)})


def _cfg(**over):
    base = {"task": {"name": "superres"}, "data": SR, "model": {"name": "srresnet", "channels": 4, "blocks": 1, "d_channels": 4, "d_fc": 8},
            "train": {"progress": False, "steps": 4, "batch_size": 4, "precision": "fp32"}, "eval": {"metrics": []},
            "health": {"monitor": False}}
    for k, v in over.items():
        base[k] = {**base.get(k, {}), **v}
    return from_dict(base)


def test_config_rules(one_line):
    with one_line(ConfigError, match="data.degrade=bicubic"):
        _cfg(data={"degrade": "mask"})
    with one_line(ConfigError, match="not photo data"):
        _cfg(data={"name": "digits"})
    with one_line(ConfigError, match="not a VGG19 layer"):
        _cfg(sr={"layer": "conv6_1"})
    with one_line(ConfigError, match="inpaint needs data.degrade=mask"):
        from_dict({"task": {"name": "inpaint"}, "data": SR})
    with one_line(ConfigError, match="is a inpaint family"):
        from_dict({"task": {"name": "superres"}, "data": SR, "model": {"name": "context-encoder"}})
    with one_line(ConfigError, match="multiple of 16"):
        _cfg(data={"resolution": 24})


# ------------------------------------------------------------------------------------------------ SR objectives


def test_paper_settings_are_the_papers():
    srgan, esrgan = PAPER["srgan"], PAPER["esrgan"]
    assert (srgan["w_adv"], srgan["layer"], srgan["distance"]) == (1e-3, "relu5_4", "l2")  # Ledig et al. eq. 3-5
    assert (esrgan["w_adv"], esrgan["w_pixel"], esrgan["layer"], esrgan["pixel"]) == (5e-3, 1e-2, "conv5_4", "l1")  # Wang et al. §4.1
    cfg = _cfg(sr={"objective": "esrgan", "w_adv": 0.1})
    assert resolved(cfg.sr)["w_adv"] == 0.1 and resolved(cfg.sr)["w_pixel"] == 1e-2


def test_relativistic_average_losses_by_hand():
    dr, df = torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5])
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    # D_Ra(x_r) = σ(C(x_r) − E C(x_f)) with E C(x_f) = 0; D_Ra(x_f) = σ(C(x_f) − E C(x_r)) with E C(x_r) = 2
    ld = -(math.log(sig(1.0)) + math.log(sig(3.0))) / 2 - (math.log(1 - sig(-1.5)) + math.log(1 - sig(-2.5))) / 2
    lg = -(math.log(1 - sig(1.0)) + math.log(1 - sig(3.0))) / 2 - (math.log(sig(-1.5)) + math.log(sig(-2.5))) / 2
    got_d, got_g = relativistic_losses(dr, df)
    assert got_d.item() == pytest.approx(ld, rel=1e-6) and got_g.item() == pytest.approx(lg, rel=1e-6)
    # a constant added to every critic output changes nothing: why the relativistic D has no output bias
    torch.testing.assert_close(relativistic_losses(dr + 7, df + 7)[0], got_d)


def test_pixel_losses_by_hand():
    a, b = torch.zeros(2, 1, 2, 2), torch.tensor([1.0, -1.0, 0.5, 0.0]).view(1, 1, 2, 2).expand(2, 1, 2, 2)
    torch.testing.assert_close(pixel_loss(a, b, "mse"), torch.full((2,), (1 + 1 + 0.25) / 4))
    torch.testing.assert_close(pixel_loss(a, b, "l1"), torch.full((2,), 2.5 / 4))


def test_subpixel_shuffle_round_trip_and_layout():
    x = torch.arange(2 * 12 * 3 * 5, dtype=torch.float32).view(2, 12, 3, 5)
    y = F.pixel_shuffle(x, 2)
    assert y.shape == (2, 3, 6, 10) and torch.equal(F.pixel_unshuffle(y, 2), x)
    # output (c, 2h + i, 2w + j) is input channel c·4 + 2i + j at (h, w) (Shi et al. 2016)
    assert y[1, 2, 2 * 1 + 1, 2 * 4 + 0] == x[1, 2 * 4 + 2 * 1 + 0, 1, 4]
    assert SRResNet(4, 3, 8, 1)(torch.zeros(1, 3, 5, 7)).shape == (1, 3, 20, 28)
    assert RRDBNet(2, 1, 8, 4, 1)(torch.zeros(1, 1, 5, 7)).shape == (1, 1, 10, 14)


def test_network_interpolation_endpoints_and_midpoint():
    torch.manual_seed(0)
    a, b = SRResNet(2, 3, 4, 1), SRResNet(2, 3, 4, 1)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(interpolate_state(sa, sb, 0.0)[k], sa[k]) for k in sa if sa[k].is_floating_point())
    assert all(torch.equal(interpolate_state(sa, sb, 1.0)[k], sb[k]) for k in sb)
    mid = interpolate_state(sa, sb, 0.5)
    k = "head.0.weight"
    torch.testing.assert_close(mid[k], (sa[k] + sb[k]) / 2)
    assert torch.equal(mid["body.0.body.1.num_batches_tracked"], sb["body.0.body.1.num_batches_tracked"])  # integers: the GAN's


def test_perceptual_distance_and_vgg_layers():
    from gankit.metrics.vgg import CONV_NAMES, VGG19, perceptual_distance

    net = VGG19(seed=0)
    assert len(CONV_NAMES) == 16 and CONV_NAMES[-1] == "conv5_4"
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert net.maps(x, "conv2_2").shape == (2, 128, 16, 16) and net.maps(x, "relu5_4").shape == (2, 512, 2, 2)
    before, after = net.maps(x, "conv3_1"), net.maps(x, "relu3_1")
    assert before.min() < 0 and torch.equal(after, before.clamp_min(0))  # after activation = ReLU of before
    assert perceptual_distance(net, x, x, "conv2_2").abs().max() == 0
    y = x.clone().requires_grad_(True)
    perceptual_distance(net, y, torch.zeros_like(x), "relu2_2", "l2").sum().backward()
    assert y.grad.abs().sum() > 0 and all(p.grad is None for p in net.parameters())
    with pytest.raises(ValueError):
        net.maps(x, "conv6_1")


def test_vgg19_weights_load_by_name_and_refuse_others(tmp_path, one_line):
    from safetensors.torch import save_file

    from gankit.metrics.vgg import CONV_INDICES, VGG19, load_vgg19

    src = VGG19(seed=3)
    state = {f"features.{i}.{k}": getattr(src.features[i], k).detach().clone() for i in CONV_INDICES for k in ("weight", "bias")}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision's file has the classifier too: ignored
    save_file(state, tmp_path / "vgg19.safetensors")
    net, sha = load_vgg19(tmp_path / "vgg19.safetensors")
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(net(x), src(x)) and len(sha) == 64
    del state["features.34.bias"]
    save_file(state, tmp_path / "bad.safetensors")
    with one_line(DataError, match="features.34.bias"):
        load_vgg19(tmp_path / "bad.safetensors")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with one_line(DataError, match="vgg19-dcbb9e9a.pth"):
        load_vgg19(tmp_path / "other.pth")  # not torchvision's file: its bytes never reach torch.load


# ------------------------------------------------------------------------------------------------ tiling


def test_tiled_upscaling_equals_whole_away_from_tile_borders():
    torch.manual_seed(0)
    # receptive-field radius in input pixels: 4 (9×9 head) + 3 (three 3×3 at input size) + 1 (3×3 before the shuffle)
    # + 2 (the 9×9 tail at twice the size) = 10
    net = SRResNet(2, 3, 8, 1, batch_norm=False).eval()
    x = torch.rand(1, 3, 70, 90) * 2 - 1
    with torch.no_grad():
        whole = net(x)
        exact = tiled(net, x, 2, tile=32, pad=10)  # the padding covers the receptive field: equal everywhere
        torch.testing.assert_close(exact, whole, atol=1e-5, rtol=0)
        cut = tiled(net, x, 2, tile=32, pad=4)  # the padding cuts 6 px of it: differences only within 6 px of a tile border
    diff = (cut - whole).abs()[0].amax(0)
    band = torch.zeros(140, 180, dtype=torch.bool)
    for b in (64, 128):  # internal tile borders in output pixels; ±2·6 around them
        band[b - 12:b + 12, :] = True
        if b < 180:
            band[:, b - 12:b + 12] = True
    assert diff[~band].max() < 1e-5 < diff[band].max()
    assert diff.max() < 0.5 and diff.mean() < 0.02  # no visible seam: bounded, small on average


def test_pointwise_network_tiles_exactly_and_tent_blends():
    x = torch.rand(2, 3, 23, 37)
    conv = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        assert torch.allclose(tiled(conv, x, 1, tile=7, pad=0), conv(x), atol=1e-6)
    w = tent(8, 2)
    assert w[4, 4] == 1 and w[0, 0] == pytest.approx(1 / 9) and torch.equal(w, w.T)
    mask = torch.zeros(2, 1, 23, 37)
    out = tiled_fixed(lambda a, m: a, x, mask, size=16, overlap=4)  # identical windows blend to the image itself
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------------ inpainting


def test_composite_keeps_known_pixels_bitwise_and_hole_loss_by_hand():
    x = torch.rand(2, 3, 4, 4) * 2 - 1
    m = torch.zeros(2, 1, 4, 4)
    m[:, :, 1:3, 1:3] = 1
    out = composite(x, torch.full_like(x, 0.25), m)
    assert torch.equal(out[m.expand_as(x) == 0], x[m.expand_as(x) == 0]) and (out[m.expand_as(x) == 1] == 0.25).all()
    target = torch.zeros(1, 1, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    pred = torch.tensor([[[[0.5, 9.0], [-1.0, 9.0]]]])  # the known column's error is ignored
    assert hole_loss(pred, target, mask, "l2").item() == pytest.approx((0.25 + 1.0) / 2)
    assert hole_loss(pred, target, mask, "l1").item() == pytest.approx(1.5 / 2)


def test_context_encoder_channelwise_fc_and_shapes():
    fc = ChannelwiseFC(3, 4)
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    fc(x)[:, 0].sum().backward()
    assert x.grad[:, 1:].abs().sum() == 0 and x.grad[:, 0].abs().sum() > 0  # channels do not mix
    G = ContextEncoder(32, 3, 8)
    assert G(torch.zeros(2, 3, 32, 32), torch.zeros(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    with pytest.raises(ConfigError):
        ContextEncoder(48, 3, 8)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_patchgan_receptive_field_measured_by_gradients(layers):
    assert [receptive_field(n) for n in (1, 2, 3, 4, 5)] == [16, 34, 70, 142, 286]
    assert layers_for(256) == 3 and layers_for(128) == 2 and layers_for(64) == 1
    D = PatchDiscriminator(1, 4, layers, norm="none")
    x = torch.randn(1, 1, 160, 160, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    assert int(rows.max() - rows.min() + 1) == receptive_field(layers)


# ------------------------------------------------------------------------------------------------ runs, CLI


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    from gankit import api

    out = tmp_path_factory.mktemp("sr") / "run"
    api.train("esrgan", out=out, overrides=["train.steps=4", "train.progress=false", "eval.metrics=[restoration]", "eval.n=8",
                                            "data.resolution=32", "model.blocks=1", "model.channels=8", "model.growth=4",
                                            "sr.layer=conv1_2", "sr.pretrain=2", "health.monitor=false", "train.sample_every=2"])
    return out


def test_esrgan_run_keeps_its_psnr_model_and_interpolates(sr_run):
    from gankit import api

    events = [json.loads(line) for line in (sr_run / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "psnr_model"] == [2]
    ev = [e for e in events if e["event"] == "eval"][-1]
    assert ev["border_crop"] == 4 and math.isfinite(ev["psnr_y"]) and 0 < ev["ssim_y"] <= 1
    pipe = api.load(sr_run)
    assert pipe.meta["network"] == "G_pair" and pipe.meta["interpolable"]
    lr = torch.rand(2, 3, 6, 5) * 2 - 1
    y0, y1, yh = pipe(lr, alpha=0.0), pipe(lr, alpha=1.0), pipe(lr, alpha=0.5)
    assert y1.shape == (2, 3, 24, 20) and not torch.equal(y0, y1)
    with torch.no_grad():
        torch.testing.assert_close(y0, pipe.module.psnr.eval()(lr).clamp(-1, 1))
    assert torch.equal(pipe(lr), y1) and not torch.equal(yh, y0)
    assert (sr_run / "samples" / "step0000002.png").is_file()


def test_evaluate_a_superres_run(sr_run, capsys):
    from gankit.cli import main

    capsys.readouterr()
    assert main(["evaluate", str(sr_run), "--metrics", "restoration", "--n", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["border_crop"] == 4 and out["n_fake"] == 8 and 0 < out["ssim_y"] <= 1
    # the same 8 test pairs (eval.n = 8, seed 0) as the training's final evaluation, by the exported model: the same score
    trained = [e for e in map(json.loads, (sr_run / "metrics.jsonl").read_text().splitlines()) if e["event"] == "eval" and "source" not in e]
    assert trained[-1]["step"] == 4 and out["psnr_y"] == pytest.approx(trained[-1]["psnr_y"], abs=1e-6)
    assert main(["evaluate", str(sr_run), "--metrics", "hole", "--n", "8"]) == 2
    assert "no holes" in capsys.readouterr().err
    assert main(["evaluate", str(sr_run), "--metrics", "modes", "--n", "8"]) == 2


def test_upscale_and_inpaint_verbs(sr_run, tmp_path, capsys):
    from gankit import api
    from gankit.cli import main

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(tmp_path / "small.png")
    assert main(["upscale", str(sr_run), str(tmp_path / "small.png"), "--out", str(tmp_path / "up"), "--alpha", "0.3", "--tile", "4"]) == 0
    assert Image.open(tmp_path / "up" / "small.png").size == (44, 36)
    assert main(["upscale", str(sr_run), str(tmp_path / "nothing.png"), "--out", str(tmp_path / "up2")]) == 2
    assert main(["upscale", str(sr_run), str(tmp_path / "small.png"), "--out", str(tmp_path / "up3"), "--alpha", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such file" in err[0] and "outside [0, 1]" in err[1]
    assert not (tmp_path / "up2").exists() and not (tmp_path / "up3").exists()  # nothing half-written
    ip = tmp_path / "ip"
    api.train("inpaint", out=ip, overrides=["train.steps=2", "train.progress=false", "eval.metrics=[]", "data.resolution=16",
                                            "model.channels=4", "model.d_channels=4", "health.monitor=false"])
    img = np.random.default_rng(1).integers(0, 256, (23, 30, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "photo.png")
    hole = np.zeros((23, 30), np.uint8)
    hole[5:12, 8:20] = 255
    Image.fromarray(hole).save(tmp_path / "mask.png")
    assert main(["inpaint", str(ip), str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"), "--out", str(tmp_path / "done.png")]) == 0
    done = np.asarray(Image.open(tmp_path / "done.png"))
    assert done.shape == img.shape and np.array_equal(done[hole == 0], img[hole == 0])  # known pixels bitwise
    assert main(["inpaint", str(sr_run), str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"), "--out", str(tmp_path / "x.png")]) == 2
    assert main(["upscale", str(ip), str(tmp_path / "photo.png"), "--out", str(tmp_path / "y")]) == 2
    capsys.readouterr()
    assert main(["sample", str(sr_run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 2
    assert "use gankit upscale" in capsys.readouterr().err


def test_superres_resume_across_the_pretraining_is_bitwise(tmp_path, no_report):
    """6 ESRGAN steps straight == 3, then --resume to 6, with D starting at step 2 and again at 4 (bitwise weights)."""
    from safetensors.torch import load_file

    from gankit import api
    from gankit.cli import main

    base = ["train.progress=false", "eval.metrics=[]", "data.resolution=16", "model.blocks=1", "model.channels=4", "model.growth=2",
            "model.d_channels=4", "model.d_fc=8", "sr.layer=conv1_1", "health.monitor=false", "train.checkpoint_every=3",
            "train.batch_size=4", "train.precision=fp32", "train.sample_every=100"]
    for pretrain in (2, 4):
        a, b = tmp_path / f"straight{pretrain}", tmp_path / f"split{pretrain}"
        api.train("esrgan", out=a, overrides=[*base, f"sr.pretrain={pretrain}", "train.steps=6"])
        with pytest.raises(ConfigError, match="leave none"):
            api.train("esrgan", out=tmp_path / "x", overrides=[*base, f"sr.pretrain={pretrain}", "train.steps=2"])
        api.train("esrgan", out=b, overrides=[*base, f"sr.pretrain={pretrain}", "train.steps=5" if pretrain == 4 else "train.steps=3"])
        assert main(["train", "--resume", str(b), "train.steps=6"]) == 0
        for name in ("G", "D", "G_psnr"):
            wa, wb = load_file(a / "checkpoints" / "6" / f"{name}.safetensors"), load_file(b / "checkpoints" / "6" / f"{name}.safetensors")
            assert all(torch.equal(wa[k], wb[k]) for k in wa), (pretrain, name)


@pytest.mark.slow
def test_cpu_sized_srresnet_beats_bicubic_on_held_out_photos(tmp_path):
    """A small SRResNet ×2 trained for a minute on the 8 training photos has a higher Y-PSNR than MATLAB bicubic on the
    two held-out photos (whole, border crop 2)."""
    from gankit import api
    from gankit.data.degrade import imresize
    from gankit.data.images import quantize, to_float
    from gankit.metrics.restoration import restoration_scores
    from gankit.models.classical import bicubic_upscale

    over = ["data.scale=2", "data.resolution=32", "train.steps=600", "train.batch_size=16", "model.blocks=3", "model.channels=16",
            "train.lr_g=1e-3", "train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000"]
    api.train("srresnet", out=tmp_path / "run", overrides=over)
    pipe = api.load(tmp_path / "run")
    test = build_dataset(data_config({**SR, "scale": 2}), "test")
    gain = []
    for photo in test.photos:
        hr = to_float(photo[None, :, : photo.shape[1] // 2 * 2, : photo.shape[2] // 2 * 2])
        lr = quantize(imresize(hr, 0.5))
        ours = restoration_scores(pipe(lr), hr, scale_crop=2)["psnr_y"]
        base = restoration_scores(bicubic_upscale(lr, 2), hr, scale_crop=2)["psnr_y"]
        gain.append(ours - base)
    assert min(gain) > 0, gain
