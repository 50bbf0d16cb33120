"""Model-side stabilizers: spectral norm, selectable normalization, the SNGAN ResNet, self-attention,
minibatch discrimination / standard deviation, and their export -> load and resume round trips."""
from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import gankit
from gankit.config import load_preset
from gankit.data import DataInfo
from gankit.errors import ConfigError
from gankit.models import MODELS, build_models, dcgan, mlp, resnet
from gankit.models.layers import (NORMS, ConditionalNorm2d, MinibatchDiscrimination, MinibatchStdDev, SelfAttention, apply_spectral_norm,
                                  group_count)
from gankit.io.export import export_generator, load_generator

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

NORM_TYPES = (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)


def tiny(family, res: int, c_dim: int = 0, **kw) -> tuple[nn.Module, nn.Module]:
    """A tiny G (z_dim 8) and D on 3-channel images; ``kw`` go to both (D-only options are not used here)."""
    common = {"c_dim": c_dim, "img_resolution": res, "img_channels": 3, "width": 4, "max_width": 8, **kw}
    return family.Generator(z_dim=8, **common), family.Discriminator(**common)


def _inputs(net: nn.Module, n: int = 4) -> torch.Tensor:
    if hasattr(net, "z_dim"):
        return torch.randn(n, net.z_dim)
    r = net.img_resolution
    return torch.randn(n, net.img_channels, *((r, r) if r else ()))


# ------------------------------------------------------------------------------------------ spectral norm

def _sn_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if nn.utils.parametrize.is_parametrized(m, "weight")]


def test_spectral_norm_keeps_the_top_singular_value_at_one():
    torch.manual_seed(0)
    nets = [*tiny(dcgan, 16, c_dim=3, spectral_norm=True, attention=8),
            *tiny(resnet, 32, c_dim=3, spectral_norm=True, attention=8),
            mlp.Discriminator(c_dim=3, img_resolution=0, img_channels=2, width=16, spectral_norm=True, minibatch_discrimination=4)]
    for net in nets:
        layers = _sn_layers(net)
        kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)
        plain = [m for m in net.modules() if isinstance(m, kinds) and not getattr(m, "spectral_norm_exempt", False)]
        assert layers and len(layers) == len(plain)  # every conv / linear / embedding weight
        net.train()
        u = layers[0].parametrizations.weight[0]._u
        for _ in range(3):  # one power iteration per training-mode forward: u moves
            before = u.clone()
            net(_inputs(net), torch.tensor([0, 1, 2, 0]))
            assert not torch.equal(before, u)
        for m in layers:  # converge: in train mode every read of .weight is one more power iteration
            for _ in range(100):
                m.weight
        net.eval()  # eval: the weight is W / σ with the stored u, v (no further iteration)
        raw = []
        for m in layers:
            dim = m.parametrizations.weight[0].dim  # 1 for transposed convolutions
            w = m.weight.detach().movedim(dim, 0).flatten(1)  # (out, in·k·k)
            assert torch.linalg.matrix_norm(w, 2).item() == pytest.approx(1.0, rel=0.02), m
            raw.append(torch.linalg.matrix_norm(m.parametrizations.weight.original.detach().movedim(dim, 0).flatten(1), 2).item())
        assert max(abs(r - 1) for r in raw) > 0.1  # the raw weights are not normalized themselves
    # conditional batch-norm tables are exempt (an all-ones gain table would be divided by sqrt(c_dim·C))
    G = nets[2]
    exempt = [m for m in G.modules() if getattr(m, "spectral_norm_exempt", False)]
    assert exempt and not any(nn.utils.parametrize.is_parametrized(m) for m in exempt)
    count = len(_sn_layers(G))
    assert apply_spectral_norm(G) is G and len(_sn_layers(G)) == count  # idempotent: no second normalization
    assert all(len(m.parametrizations.weight) == 1 for m in _sn_layers(G))


# ------------------------------------------------------------------------------------------ normalization

def test_group_count():
    assert [group_count(c) for c in (1, 2, 3, 8, 12, 64, 512)] == [1, 1, 1, 4, 6, 32, 32]


@pytest.mark.parametrize("family,resolutions", [(dcgan, [8, 16, 32, 64, 128, 256]), (resnet, [32, 64, 128])])
@pytest.mark.parametrize("norm", NORMS)
def test_every_norm_builds_with_the_right_shapes(family, resolutions, norm):
    for res in resolutions:
        for c_dim in (0, 3):
            torch.manual_seed(0)
            G, D = tiny(family, res, c_dim, norm=norm)
            c = torch.tensor([0, 2]) if c_dim else None
            x = G(torch.randn(2, 8), c)
            assert x.shape == (2, 3, res, res) and x.abs().max() <= 1
            assert D(x, c).shape == (2,)
            for net in (G, D):
                found = [m for m in net.modules() if isinstance(m, NORM_TYPES)]
                if norm == "none" or (family is dcgan and net is D and res == 8):  # 8×8 DCGAN D: only the input conv
                    assert not found
                else:
                    assert found
                    expected = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d}.get(norm, nn.GroupNorm)
                    assert all(type(m) is expected for m in found)
                    if norm == "layer":
                        assert all(m.num_groups == 1 for m in found)
                    if norm == "group":
                        assert all(m.num_groups == group_count(m.num_channels) for m in found)
                    # affine unless inside a class-conditional norm (ResNet G: the gains come from the label)
                    cond = {id(m.norm) for m in net.modules() if isinstance(m, ConditionalNorm2d)}
                    assert bool(cond) == bool(c_dim and net is G and family is resnet)
                    assert all(m.affine == (id(m) not in cond) for m in found)
            if family is dcgan:  # D's input layer never has a norm; convs have a bias only without one
                assert isinstance(D.features[1], nn.LeakyReLU)
                convs = [m for m in D.features if isinstance(m, nn.Conv2d)][1:]
                assert all((m.bias is not None) == (norm == "none") for m in convs)


def test_resnet_d_defaults_to_no_norm_and_the_config_maps_auto():
    info = DataInfo("image", (1, 32, 32), 10, tuple("abcdefghij"), name="digits")
    for cfg_norms, g_norm, d_norm in [(("auto", "auto"), "batch", "none"), (("layer", "group"), "layer", "group")]:
        cfg = load_preset("digits", ["model.name=resnet", f"model.g_norm={cfg_norms[0]}", f"model.d_norm={cfg_norms[1]}"]).model
        _, _, gk, dk = build_models(cfg, info)
        assert gk.get("norm", "batch") == g_norm and dk.get("norm", "none") == d_norm
    cfg = load_preset("digits", ["model.d_norm=layer"]).model
    assert build_models(cfg, info)[3]["norm"] == "layer"


# ------------------------------------------------------------------------------------------ ResNet

@pytest.mark.parametrize("res", [32, 64, 128])
def test_resnet_layout_and_shapes(res):
    # the published widths: SNGAN CIFAR (G 256, D 128) and Miyato & Koyama's 64/128 models (ch = 64, cap 1024)
    published = {32: ([256] * 4, [(128, 16), (128, 8), (128, 8), (128, 8)]),
                 64: ([1024, 512, 256, 128, 64], [(64, 32), (128, 16), (256, 8), (512, 4), (1024, 4)]),
                 128: ([1024, 1024, 512, 256, 128, 64], [(64, 64), (128, 32), (256, 16), (512, 8), (1024, 4), (1024, 4)])}
    g_width, d_width = (256, 128) if res == 32 else (64, 64)
    assert resnet.g_widths(res, g_width, 1024) == published[res][0]
    assert resnet.d_layout(res, d_width, 1024) == published[res][1]
    torch.manual_seed(0)
    G, D = tiny(resnet, res, c_dim=0)
    assert sum(isinstance(b, resnet.GBlock) for b in G.blocks) == res.bit_length() - 3  # 4×4 -> R×R
    assert G.linear.out_features == 16 * resnet.g_widths(res, 4, 8)[0]
    x = G(torch.randn(3, 8))
    assert x.shape == (3, 3, res, res)
    h = D.blocks(x)
    assert h.shape == (3, resnet.d_layout(res, 4, 8)[-1][0], 8 if res == 32 else 4, 8 if res == 32 else 4)
    assert D(x).shape == (3,)
    assert isinstance(D.blocks[0], resnet.DBlock) and D.blocks[0].optimized
    assert not any(isinstance(m, nn.ReLU) for m in D.modules())  # functional ReLUs: the shortcut input stays intact


def test_resnet_projection_and_conditional_g():
    torch.manual_seed(0)
    G, D = tiny(resnet, 32, c_dim=10)
    G.eval()
    z = torch.randn(4, 8)
    a, b = G(z, torch.tensor([0, 1, 2, 3])), G(z, torch.tensor([5, 1, 9, 3]))
    with torch.no_grad():  # make the per-class gains differ (they start at 1 for every class)
        for m in G.modules():
            if hasattr(m, "gain") and isinstance(m.gain, nn.Embedding):
                m.gain.weight.add_(0.5 * torch.randn_like(m.gain.weight))
        a, b = G(z, torch.tensor([0, 1, 2, 3])), G(z, torch.tensor([5, 1, 9, 3]))
    changed = (a - b).flatten(1).abs().amax(1)
    assert changed[0] > 0 and changed[2] > 0 and changed[1] == 0 and changed[3] == 0
    with pytest.raises(ValueError, match="conditional"):
        G(z, None)
    x = a.detach()
    c1, c2 = torch.tensor([0, 4, 9, 3]), torch.tensor([1, 4, 2, 3])
    with torch.no_grad():
        d1, d2 = D(x, c1), D(x, c2)
        expected = ((D.proj.embed(c1) - D.proj.embed(c2)) * D.embed(x)).sum(1)
    assert (d1 - d2).tolist() == pytest.approx(expected.tolist(), rel=1e-4, abs=1e-6)
    assert d1[1] == d2[1] and d1[3] == d2[3] and d1[0] != d2[0] and d1[2] != d2[2]


# ------------------------------------------------------------------------------------------ self-attention

def test_self_attention_identity_at_zero_and_the_sagan_formula():
    torch.manual_seed(0)
    att = SelfAttention(16)
    x = torch.randn(2, 16, 3, 4)
    assert att.gamma.item() == 0 and torch.equal(att(x), x)
    with torch.no_grad():
        att.gamma.fill_(0.7)
        y = att(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    # by hand: o_j = v(Σ_i softmax_i(f(x_i)·g(x_j)) h(x_i)), y = x + γ·o
    f, g, h = (conv.weight[:, :, 0, 0] for conv in (att.f, att.g, att.h))
    v = att.v.weight[:, :, 0, 0]
    for n in range(2):
        pts = x[n].flatten(1).T  # P×C
        o = torch.zeros_like(pts)
        for j in range(pts.shape[0]):
            s = torch.stack([(f @ pts[i]) @ (g @ pts[j]) for i in range(pts.shape[0])])
            beta = torch.softmax(s, 0)
            o[j] = v @ sum(beta[i] * (h @ pts[i]) for i in range(pts.shape[0]))
        assert torch.allclose(y[n].flatten(1).T, pts + 0.7 * o, atol=1e-5)


@pytest.mark.parametrize("family,res,side", [(dcgan, 16, 4), (dcgan, 16, 8), (resnet, 32, 8), (resnet, 64, 32)])
def test_attention_starts_as_the_identity_inside_g_and_d(family, res, side):
    torch.manual_seed(0)
    G, D = tiny(family, res, attention=side)
    G.eval(), D.eval()
    # (container, index) of each attention block: one in G, one in D, in a Sequential / ModuleList
    slots = [(net.get_submodule(name.rpartition(".")[0]), int(name.rpartition(".")[2]))
             for net in (G, D) for name, m in net.named_modules() if isinstance(m, SelfAttention)]
    assert len(slots) == 2
    sides = []
    for seq, i in slots:
        seq[i].register_forward_hook(lambda m, inp, out: sides.append(inp[0].shape[-1]))
    z = torch.randn(3, 8)
    with torch.no_grad():
        x = G(z)
        logit = D(x)
        assert sides == [side, side]  # placed at the requested side in both networks
        blocks = [seq[i] for seq, i in slots]
        for seq, i in slots:
            seq[i] = nn.Identity()
        assert torch.equal(G(z), x) and torch.equal(D(x), logit)  # γ = 0: the same as no attention
        for (seq, i), att in zip(slots, blocks):
            seq[i] = att
            att.gamma.fill_(100.0)  # DCGAN init (N(0, 0.02) weights) makes o small
        for new, old in ((G(z), x), (D(x), logit)):  # relative: tiny DCGAN outputs are ~1e-5
            assert (new - old).abs().max() > 1e-3 * old.abs().max()
    with pytest.raises(ValueError, match="attention"):
        family.Generator(img_resolution=res, width=4, attention=res * 2)


# ------------------------------------------------------------------------------------------ minibatch layers

def test_mbstd_is_the_mean_group_std_by_hand():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 2, 2)
    y = MinibatchStdDev(4)(x)  # 6 samples, group size 4 -> the largest divisor ≤ 4 is 3: groups {0,2,4}, {1,3,5}
    assert y.shape == (6, 4, 2, 2) and torch.equal(y[:, :3], x)
    for members in ([0, 2, 4], [1, 3, 5]):
        grp = x[members].double()
        var = ((grp - grp.mean(0)) ** 2).mean(0)
        expected = (var + 1e-8).sqrt().mean().item()
        for n in members:
            assert torch.allclose(y[n, 3], torch.full((2, 2), expected, dtype=y.dtype), atol=1e-6)
    flat = MinibatchStdDev(2)(x.flatten(1))  # vectors: one extra feature
    assert flat.shape == (6, 13) and flat[0, 12] == flat[3, 12] and flat[0, 12] != flat[1, 12]


def test_minibatch_discrimination_by_hand_and_in_chunks():
    torch.manual_seed(0)
    mbd = MinibatchDiscrimination(5, kernels=3, kernel_dims=4)
    with torch.no_grad():
        mbd.T.weight.mul_(0.3)
    h = torch.randn(7, 5)
    out = mbd(h)
    assert out.shape == (7, 8) and torch.equal(out[:, :5], h)
    m = mbd.T(h).view(7, 3, 4)
    for i in range(7):
        for b in range(3):
            # the released code: a sum over the other samples plus a learned bias (initialized to −1)
            expected = sum(torch.exp(-(m[i, b] - m[j, b]).abs().sum()) for j in range(7) if j != i) - 1.0
            assert out[i, 5 + b].item() == pytest.approx(expected.item(), rel=1e-5)
    with torch.no_grad():
        mbd.bias.copy_(torch.tensor([0.5, -2.0, 3.0]))
    assert torch.allclose(mbd(h)[:, 5:] - out[:, 5:], torch.tensor([1.5, -1.0, 4.0]).expand(7, 3), atol=1e-6)
    with torch.no_grad():
        mbd.bias.fill_(-1.0)
    mbd.max_elements = 10  # force row chunks of 1
    assert torch.allclose(mbd(h), out, atol=1e-7)


def _d_variants(kind: str) -> list[nn.Module]:
    kw = {kind: 2 if kind == "mbstd" else 3} if kind else {}
    return [mlp.Discriminator(img_resolution=8, img_channels=3, width=16, depth=2, **kw),
            dcgan.Discriminator(img_resolution=8, img_channels=3, width=4, **kw),
            resnet.Discriminator(img_resolution=32, img_channels=3, width=4, max_width=8, **kw)]


@pytest.mark.parametrize("kind", ["", "mbstd", "minibatch_discrimination"])
def test_minibatch_layers_couple_samples(kind):
    torch.manual_seed(0)
    for D in _d_variants(kind):
        D.eval()  # batch norm on running statistics: without the minibatch layers each sample is scored alone
        res = D.img_resolution
        x = torch.randn(4, 3, res, res)
        with torch.no_grad():
            base = D(x)
            for other in (1, 2):  # mbstd groups of 2 in a batch of 4: {0, 2} and {1, 3}
                x2 = x.clone()
                x2[other] = torch.randn(3, res, res)
                moved = D(x2)[0] != base[0]
                assert moved == (kind == "minibatch_discrimination" or (kind == "mbstd" and other == 2)), (type(D), other)


# ------------------------------------------------------------------------------------------ config and export

def test_config_checks_name_the_field(one_line):
    cases = [(["model.name=resnet", "data.resolution=48"], "data.resolution"),
             (["model.name=resnet", "model.attention=4"], "model.attention"),
             (["model.name=dcgan", "data.resolution=16", "model.attention=16"], "model.attention"),
             (["model.name=resnet", "model.g_norm=batchy"], "model.g_norm"),
             (["model.spectral_norm=yes"], "model.spectral_norm"),
             (["model.mbstd=1"], "model.mbstd"),
             (["model.mbstd=16", "train.batch_size=8"], "model.mbstd")]
    for overrides, field in cases:
        with one_line(ConfigError, match=field.replace(".", r"\.")):
            load_preset("digits", overrides)
    with one_line(ConfigError, match=r"model\.d_norm"):
        load_preset("ring", ["model.d_norm=layer"])
    with one_line(ConfigError, match=r"model\.attention"):
        load_preset("ring", ["model.attention=8"])
    assert load_preset("digits", ["model.name=resnet", "model.attention=16", "model.mbstd=4"]).model.attention == 16


def test_kwargs_carry_only_the_options_in_use():
    info = DataInfo("image", (1, 32, 32), 10, tuple("abcdefghij"), name="digits")
    plain = load_preset("digits", ["model.conditional=true"]).model
    assert set(build_models(plain, info)[2]) == {"z_dim", "width", "c_dim", "img_resolution", "img_channels", "max_width"}
    cfg = load_preset("digits", ["model.name=resnet", "model.spectral_norm=d", "model.attention=16", "model.mbstd=4",
                                 "model.minibatch_discrimination=5", "model.minibatch_dims=8"]).model
    G, D, gk, dk = build_models(cfg, info)
    assert gk["attention"] == dk["attention"] == 16 and "spectral_norm" not in gk and dk["spectral_norm"] is True
    assert (dk["mbstd"], dk["minibatch_discrimination"], dk["minibatch_dims"]) == (4, 5, 8)
    assert not _sn_layers(G) and _sn_layers(D)
    json.dumps([gk, dk])


def _trained_like(G: nn.Module) -> nn.Module:
    torch.manual_seed(1)
    G.train()
    with torch.no_grad():
        for _ in range(3):  # moves batch-norm statistics and the power-iteration vectors u, v
            G(torch.randn(8, G.z_dim), torch.randint(G.c_dim, (8,)) if G.c_dim else None)
        for p in G.parameters():
            p.add_(0.05 * torch.randn_like(p))  # includes the attention γ
    return G.eval()


@pytest.mark.parametrize("c_dim", [0, 10])
def test_resnet_export_load_round_trip_with_sn_and_attention(tmp_path, c_dim):
    kwargs = {"z_dim": 8, "c_dim": c_dim, "img_resolution": 32, "img_channels": 1, "width": 4, "max_width": 8,
              "attention": 16, "spectral_norm": True}
    G = _trained_like(resnet.Generator(**kwargs))
    assert any(k.endswith("parametrizations.weight.original") for k in G.state_dict())
    assert any(k.endswith("weight.0._u") for k in G.state_dict())
    out = export_generator(G, "resnet", kwargs, {"schema": "image", "shape": [1, 32, 32]}, tmp_path / "generator")
    for G2 in (load_generator(out), gankit.load(out)):
        assert G2.gankit_meta["kwargs"] == kwargs
        for (k, a), (k2, b) in zip(G.state_dict().items(), G2.state_dict().items()):
            assert k == k2 and torch.equal(a, b), k
        labels = list(range(6)) if c_dim else None
        assert torch.equal(gankit.generate(G2, 6, seed=0, labels=labels), gankit.generate(G, 6, seed=0, labels=labels))
    assert MODELS.get("resnet").generator is resnet.Generator


# ------------------------------------------------------------------------------------------ training

TINY_RESNET = ["model.name=resnet", "model.spectral_norm=d", "loss.name=hinge", "data.resolution=32", "model.g_width=8",
               "model.d_width=8", "train.batch_size=8", "eval.metrics=[]", "train.progress=false"]


def test_tiny_resnet_sngan_run(tmp_path, no_report):
    gankit.train("digits", out=tmp_path / "run", overrides=TINY_RESNET + ["train.steps=3"])
    G = gankit.load(tmp_path / "run")
    assert G.gankit_meta["family"] == "resnet" and "spectral_norm" not in G.gankit_meta["kwargs"]
    assert G.module(torch.randn(2, G.z_dim)).shape == (2, 1, 32, 32) and G(2).shape == (2, 1, 32, 32)
    d = load_file(str(next((tmp_path / "run" / "checkpoints").iterdir()) / "D.safetensors"))
    assert any(k.endswith("parametrizations.weight.original") for k in d) and all(torch.isfinite(t).all() for t in d.values())


def test_resume_with_spectral_norm_is_bitwise_exact(tmp_path, no_report):
    base = TINY_RESNET + ["model.spectral_norm=both", "model.attention=16", "train.checkpoint_every=4", "train.ema_kimg=0.01"]
    gankit.train("digits", out=tmp_path / "straight", overrides=base + ["train.steps=8"])
    gankit.train("digits", out=tmp_path / "split", overrides=base + ["train.steps=4"])
    gankit.train(resume=tmp_path / "split", overrides=["train.steps=8"])
    for net in ("G", "D", "G_ema"):
        a = load_file(str(tmp_path / "straight" / "checkpoints" / "8" / f"{net}.safetensors"))
        b = load_file(str(tmp_path / "split" / "checkpoints" / "8" / f"{net}.safetensors"))
        assert a.keys() == b.keys() and any(k.endswith("._u") for k in a)
        for k in a:
            assert torch.equal(a[k], b[k]), f"{net}.{k} differs after resume"


def test_mlp_paper_options_build_the_papers_networks():
    """PacGAN's mixture networks (G 4×400 bias-free Linear + BatchNorm + ReLU; D 3×200 maxout with 5 pieces; N(0, 0.02²)
    weights, zero biases) and the unrolled-GAN notebook's (tanh, orthogonal init with gain 1.4)."""
    from gankit.models.mlp import Maxout

    torch.manual_seed(0)
    G = mlp.Generator(z_dim=2, width=400, depth=4, norm="batch", init="normal")
    lin = [m for m in G.net if isinstance(m, nn.Linear)]
    assert len(lin) == 5 and all(m.bias is None for m in lin[:4]) and lin[4].bias is not None
    assert sum(isinstance(m, nn.BatchNorm1d) for m in G.net) == 4
    w = torch.cat([m.weight.flatten() for m in lin])
    assert w.std().item() == pytest.approx(0.02, rel=0.02) and lin[4].bias.abs().max() == 0
    D = mlp.Discriminator(img_channels=8, width=200, depth=3, maxout=5, init="normal")
    assert sum(isinstance(m, Maxout) for m in D.features) == 3 and D(torch.randn(6, 8)).shape == (6,)
    # maxout is the max over each unit's pieces
    mo = Maxout(3, 2, 4)
    x = torch.randn(5, 3)
    assert torch.equal(mo(x), mo.linear(x).view(5, 2, 4).amax(2))
    T = mlp.Generator(z_dim=256, width=128, depth=2, activation="tanh", init="orthogonal")
    W = T.net[0].weight  # 128×256, orthogonal rows scaled by 1.4
    assert torch.allclose(W @ W.t(), 1.4**2 * torch.eye(128), atol=1e-5)
    assert sum(isinstance(m, nn.Tanh) for m in T.net) == 2


def test_mlp_separate_depths_from_config():
    from gankit.config import load_preset
    from gankit.models import build_models
    from gankit.data import DataInfo

    cfg = load_preset("ring", ["model.g_depth=4", "model.d_depth=2", "model.maxout=5", "model.g_norm=batch"]).model
    G, D, gk, dk = build_models(cfg, DataInfo("points", (2,), centers=[[1.0, 0.0]], std=0.01, name="ring"))
    assert gk["depth"] == 4 and dk["depth"] == 2 and dk["maxout"] == 5 and gk["norm"] == "batch"
    assert "maxout" not in gk and "norm" not in dk
