"""gankit.models: shapes, DCGAN layout, conditioning, build_models, and save -> load identity without pickle."""
from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from safetensors import safe_open
from torch import nn

import gankit
from gankit.config import load_preset
from gankit.data import DataInfo
from gankit.errors import CheckpointError
from gankit.models import MODELS, build_models, dcgan, mlp
from gankit.io.export import export_generator, load_generator, load_module_weights, save_module

if os.environ.get("PYTEST_XDIST_WORKER"):  # one torch thread per xdist worker (2 workers on 2 cores)
    torch.set_num_threads(1)

RESOLUTIONS = [8, 16, 32, 64, 128, 256]




def one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg and "\n" not in msg and msg == msg.strip(), repr(msg)
    return msg


# ------------------------------------------------------------------------------------------ shapes

@pytest.mark.parametrize("res", RESOLUTIONS)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("c_dim", [0, 10])
def test_dcgan_shapes(res, channels, c_dim):
    torch.manual_seed(0)
    G = dcgan.Generator(z_dim=16, c_dim=c_dim, img_resolution=res, img_channels=channels, width=8)
    D = dcgan.Discriminator(c_dim=c_dim, img_resolution=res, img_channels=channels, width=8)
    z = torch.randn(2, 16)
    c = torch.tensor([1, 7]) if c_dim else None
    x = G(z, c)
    assert x.shape == (2, channels, res, res)
    assert x.min() >= -1 and x.max() <= 1
    logits = D(x, c)
    assert logits.shape == (2,) and torch.isfinite(logits).all()
    # the number of up/down-sampling stages is log2(res) - 2 (4×4 at the deep end)
    n_up = sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules())
    n_down = sum(isinstance(m, nn.Conv2d) for m in D.features.modules())
    assert n_up == n_down + 1 == (res.bit_length() - 1) - 1


@pytest.mark.parametrize("c_dim", [0, 3])
def test_mlp_shapes(c_dim):
    c = torch.tensor([0, 2]) if c_dim else None
    G = mlp.Generator(z_dim=3, c_dim=c_dim, img_resolution=0, img_channels=2, width=8, depth=2)
    D = mlp.Discriminator(c_dim=c_dim, img_resolution=0, img_channels=2, width=8, depth=2)
    x = G(torch.randn(2, 3), c)
    assert x.shape == (2, 2)
    assert D(x, c).shape == (2,)
    # images: flattened in D, tanh at G's output
    G = mlp.Generator(z_dim=3, c_dim=c_dim, img_resolution=8, img_channels=1, width=8, depth=1)
    D = mlp.Discriminator(c_dim=c_dim, img_resolution=8, img_channels=1, width=8, depth=1)
    x = G(100 * torch.randn(2, 3), c)
    assert x.shape == (2, 1, 8, 8) and x.abs().max() <= 1
    assert D(x, c).shape == (2,)
    # depth hidden layers
    assert sum(isinstance(m, nn.Linear) for m in mlp.Generator(depth=4, width=8).net) == 5


@pytest.mark.parametrize("res", [4, 12, 48, 512, 1024])
def test_unsupported_dcgan_resolution(res):
    with pytest.raises(ValueError, match="power of two"):
        dcgan.Generator(img_resolution=res, width=8)
    with pytest.raises(ValueError, match="power of two"):
        dcgan.Discriminator(img_resolution=res, width=8)


# ------------------------------------------------------------------------------------------ DCGAN layout

def test_dcgan_canonical_widths_at_32():
    G = dcgan.Generator(z_dim=100, img_resolution=32, img_channels=3, width=64)
    D = dcgan.Discriminator(img_resolution=32, img_channels=3, width=64)
    assert [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)] == [256, 128, 64, 3]
    assert [m.in_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)][0] == 100
    assert [m.out_channels for m in D.features if isinstance(m, nn.Conv2d)] == [64, 128, 256]
    assert D.out.in_channels == 256 and D.out.out_channels == 1 and D.out.kernel_size == (4, 4)


def test_max_width_caps_channels():
    G = dcgan.Generator(img_resolution=256, width=64, max_width=128)
    assert max(m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)) == 128


def _after(seq: nn.Sequential, kind: type) -> list[type | None]:
    """For every layer of ``kind`` in ``seq``: the type of the layer right after it (None at the end)."""
    layers = list(seq)
    return [type(layers[i + 1]) if i + 1 < len(layers) else None for i, m in enumerate(layers) if isinstance(m, kind)]


@pytest.mark.parametrize("res", [8, 32, 128])
def test_dcgan_batch_norm_placement(res):
    G = dcgan.Generator(img_resolution=res, img_channels=3, width=8)
    D = dcgan.Discriminator(img_resolution=res, img_channels=3, width=8)
    g_next = _after(G.net, nn.ConvTranspose2d)
    assert g_next[:-1] == [nn.BatchNorm2d] * (len(g_next) - 1)  # BN after every layer but the output
    assert g_next[-1] is nn.Tanh
    assert isinstance(list(G.net)[-1], nn.Tanh)
    d_next = _after(D.features, nn.Conv2d)
    assert d_next[0] is nn.LeakyReLU  # no BN after the input conv
    assert d_next[1:] == [nn.BatchNorm2d] * (len(d_next) - 1)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == len(d_next) - 1
    assert all(m.negative_slope == 0.2 for m in D.modules() if isinstance(m, nn.LeakyReLU))
    # no bias before a batch norm (it would be cancelled)
    for seq, kind in ((G.net, nn.ConvTranspose2d), (D.features, nn.Conv2d)):
        layers = list(seq)
        for i, m in enumerate(layers[:-1]):
            if isinstance(m, kind) and isinstance(layers[i + 1], nn.BatchNorm2d):
                assert m.bias is None


def test_dcgan_init():
    torch.manual_seed(0)
    G = dcgan.Generator(img_resolution=64, img_channels=3, width=64)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert w.mean().item() == pytest.approx(0.0, abs=1e-3) and w.std().item() == pytest.approx(0.02, rel=0.02)
    bn = torch.cat([m.weight for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01)


def test_g_output_in_range_even_for_large_z():
    G = dcgan.Generator(z_dim=8, img_resolution=16, img_channels=1, width=8).eval()
    x = G(1000 * torch.randn(8, 8))
    assert x.min() >= -1 and x.max() <= 1 and x.abs().max() > 0.5


# ------------------------------------------------------------------------------------------ conditioning

@pytest.mark.parametrize("family", [dcgan, mlp])
def test_conditional_g_depends_on_labels(family):
    torch.manual_seed(0)
    kw = {"img_resolution": 8, "img_channels": 1, "width": 8}
    G = family.Generator(z_dim=8, c_dim=10, **kw).eval()
    z = torch.randn(4, 8)
    a = G(z, torch.tensor([0, 1, 2, 3]))
    b = G(z, torch.tensor([5, 1, 9, 3]))
    assert torch.equal(a, G(z, torch.tensor([0, 1, 2, 3])))  # deterministic
    changed = (a - b).flatten(1).abs().amax(1)
    assert changed[0] > 0 and changed[2] > 0  # new label, new output
    assert changed[1] == 0 and changed[3] == 0  # same label, same output (eval mode: no batch coupling)
    with pytest.raises(ValueError, match="conditional"):
        G(z, None)


@pytest.mark.parametrize("family", [dcgan, mlp])
def test_projection_d_is_logit_plus_inner_product(family):
    torch.manual_seed(0)
    kw = {"img_resolution": 8, "img_channels": 1, "width": 8}
    D = family.Discriminator(c_dim=10, **kw).eval()
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    c1, c2 = torch.tensor([0, 4, 9]), torch.tensor([1, 4, 2])
    with torch.no_grad():
        # make the embeddings clearly non-zero so the difference is visible
        D.proj.embed.weight.normal_()
        d1, d2 = D(x, c1), D(x, c2)
        h = D.features(x.flatten(1) if family is mlp else x)
        h = h.sum(dim=(2, 3)) if h.ndim == 4 else h
        expected = ((D.proj.embed(c1) - D.proj.embed(c2)) * h).sum(1)
    assert (d1 - d2).tolist() == pytest.approx(expected.tolist(), rel=1e-4, abs=1e-5)
    assert d1[1] == d2[1] and d1[0] != d2[0] and d1[2] != d2[2]
    with pytest.raises(ValueError, match="conditional"):
        D(x, None)


# ------------------------------------------------------------------------------------------ build_models

def test_build_models_toy():
    info = DataInfo("points", (2,), centers=[[1.0, 0.0]], std=0.01, name="ring")
    cfg = mlp.Options(name="mlp", z_dim=3, g_width=16, d_width=12, depth=2)
    G, D, gk, dk = build_models(cfg, info)
    assert isinstance(G, mlp.Generator) and isinstance(D, mlp.Discriminator)
    assert gk == {"z_dim": 3, "width": 16, "c_dim": 0, "img_resolution": 0, "img_channels": 2, "depth": 2}
    assert dk == {"width": 12, "c_dim": 0, "img_resolution": 0, "img_channels": 2, "depth": 2}
    assert G(torch.randn(5, 3)).shape == (5, 2)
    json.dumps([gk, dk])  # plain JSON: saved next to the weights


@pytest.mark.parametrize("conditional", [False, True])
def test_build_models_image(conditional):
    info = DataInfo("image", (3, 16, 16), 10, tuple(str(i) for i in range(10)), name="x")
    cfg = dcgan.Options(name="dcgan", z_dim=8, g_width=8, d_width=4, conditional=conditional, max_width=16)
    G, D, gk, dk = build_models(cfg, info)
    c_dim = 10 if conditional else 0
    assert (G.c_dim, D.c_dim, G.img_resolution, G.img_channels) == (c_dim, c_dim, 16, 3)
    assert gk["width"] == 8 and dk["width"] == 4 and gk["max_width"] == dk["max_width"] == 16
    c = torch.arange(2) if conditional else None
    x = G(torch.randn(2, 8), c)
    assert x.shape == (2, 3, 16, 16) and D(x, c).shape == (2,)
    # rebuilt from the saved kwargs alone, the networks have the same parameter shapes
    G2 = dcgan.Generator(**json.loads(json.dumps(gk)))
    assert [p.shape for p in G2.parameters()] == [p.shape for p in G.parameters()]


def test_build_models_unknown_family():
    with pytest.raises(Exception) as info:
        build_models(mlp.Options(name="nope"), DataInfo("points", (2,)))
    msg = one_line(info.value)
    assert "model.name" in msg and all(n in msg for n in MODELS.names())


def test_data_info_round_trip():
    info = DataInfo("image", (1, 8, 8), 10, tuple("abcdefghij"), name="digits")
    assert DataInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info


# ------------------------------------------------------------------------------------------ save / load

def _trained_like(G: nn.Module) -> nn.Module:
    """Make weights and batch-norm statistics non-default (as after training) so a lost buffer would show."""
    torch.manual_seed(1)
    G.train()
    with torch.no_grad():
        for _ in range(3):
            G(torch.randn(8, G.z_dim), torch.randint(G.c_dim, (8,)) if G.c_dim else None)
        for p in G.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return G.eval()


@pytest.mark.parametrize("family,kwargs", [
    ("dcgan", {"z_dim": 8, "c_dim": 0, "img_resolution": 16, "img_channels": 3, "width": 8, "max_width": 32}),
    ("dcgan", {"z_dim": 8, "c_dim": 10, "img_resolution": 8, "img_channels": 1, "width": 8, "max_width": 32}),
    ("mlp", {"z_dim": 2, "c_dim": 0, "img_resolution": 0, "img_channels": 2, "width": 16, "depth": 2}),
    ("resnet", {"z_dim": 8, "c_dim": 10, "img_resolution": 32, "img_channels": 1, "width": 4, "max_width": 8}),
])
def test_export_then_load_gives_identical_samples(tmp_path, family, kwargs):
    G = _trained_like(MODELS.get(family).generator(**kwargs))
    res = kwargs["img_resolution"]
    info = {"schema": "points", "shape": [2]} if family == "mlp" else {"schema": "image", "shape": [kwargs["img_channels"], res, res]}
    out = export_generator(G, family, kwargs, info, tmp_path / "generator", extra={"step": 7})
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    G2 = load_generator(out)
    assert not G2.training and not any(p.requires_grad for p in G2.parameters())
    assert G2.gankit_meta["kwargs"] == kwargs and G2.gankit_meta["step"] == 7 and G2.gankit_meta["family"] == family
    for (k, a), (k2, b) in zip(G.state_dict().items(), G2.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    z = torch.randn(6, kwargs["z_dim"], generator=torch.Generator().manual_seed(0))
    c = torch.arange(6) % kwargs["c_dim"] if kwargs["c_dim"] else None
    with torch.no_grad():
        assert torch.equal(G(z, c), G2(z, c))
    # gankit.generate draws z from the seed: the same as calling G on that z
    labels = list(range(6)) if kwargs["c_dim"] else None
    s = gankit.generate(G2, 6, seed=0, labels=labels)
    with torch.no_grad():
        assert torch.equal(s, G(z, torch.tensor(labels) if labels else None))
    assert torch.equal(s, gankit.generate(G2, 6, seed=0, labels=labels))
    # exporting again over the same directory replaces it atomically and leaves no temporary folders
    export_generator(G, family, kwargs, info, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator"]


def test_export_contents_are_plain_json_and_safetensors(tmp_path):
    kwargs = {"z_dim": 4, "c_dim": 0, "img_resolution": 8, "img_channels": 1, "width": 4, "max_width": 8}
    G = dcgan.Generator(**kwargs)
    out = export_generator(G, "dcgan", kwargs, {"schema": "image", "shape": [1, 8, 8]}, tmp_path / "g")
    meta = json.loads((out / "config.json").read_text())
    assert meta["format"] == "gankit-generator" and meta["family"] == "dcgan" and meta["kwargs"] == kwargs
    raw = (out / "model.safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])  # a safetensors file: a JSON header, then raw tensor bytes
    assert set(header) - {"__metadata__"} == set(G.state_dict())
    assert b"\x80\x04" not in raw[:2] and not raw.startswith(b"PK")  # neither a pickle nor a torch zip
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert set(f.keys()) == set(G.state_dict())


def test_load_from_another_architecture_is_a_one_line_error(tmp_path):
    small = dcgan.Generator(z_dim=4, img_resolution=8, img_channels=1, width=4)
    save_module(small, tmp_path / "w.safetensors")
    for other in (dcgan.Generator(z_dim=4, img_resolution=8, img_channels=1, width=8),
                  dcgan.Generator(z_dim=4, img_resolution=16, img_channels=1, width=4),
                  mlp.Generator(z_dim=4)):
        with pytest.raises(CheckpointError) as info:
            load_module_weights(other, tmp_path / "w.safetensors")
        assert "another architecture" in one_line(info.value)
    # through an exported generator whose config was edited to another width
    kwargs = {"z_dim": 4, "c_dim": 0, "img_resolution": 8, "img_channels": 1, "width": 4, "max_width": 8}
    out = export_generator(dcgan.Generator(**kwargs), "dcgan", kwargs, {}, tmp_path / "g")
    meta = json.loads((out / "config.json").read_text())
    meta["kwargs"]["width"] = 8
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as info:
        load_generator(out)
    assert "another architecture" in one_line(info.value)


def test_bad_generator_directories_are_one_line_errors(tmp_path):
    kwargs = {"z_dim": 4, "c_dim": 0, "img_resolution": 8, "img_channels": 1, "width": 4, "max_width": 8}
    out = export_generator(dcgan.Generator(**kwargs), "dcgan", kwargs, {}, tmp_path / "g")
    cases = {
        "missing": lambda: load_generator(tmp_path / "nope"),
        "empty": lambda: (tmp_path / "empty").mkdir() or load_generator(tmp_path / "empty"),
    }
    for name, call in cases.items():
        with pytest.raises(CheckpointError) as info:
            call()
        one_line(info.value)
    for meta_edit, words in [({"format": "other"}, "format"), ({"family": "vae"}, "vae"),
                             ({"kwargs": {**kwargs, "bogus": 1}}, "kwargs")]:
        meta = json.loads((out / "config.json").read_text())
        (out / "config.json").write_text(json.dumps({**meta, **meta_edit}))
        with pytest.raises(CheckpointError) as info:
            load_generator(out)
        assert words in one_line(info.value)
        (out / "config.json").write_text(json.dumps(meta))
    (out / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError) as info:
        load_generator(out)
    assert "safetensors" in one_line(info.value)


class _Evil:
    """Unpickling this creates the marker file: proof that a pickle was executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".pt", ".pkl", ".pth", ".ckpt"])
def test_pickle_files_are_refused_and_never_executed(tmp_path, suffix):
    marker = tmp_path / "executed"
    evil = tmp_path / f"model{suffix}"
    evil.write_bytes(pickle.dumps(_Evil(str(marker))))
    with pytest.raises(CheckpointError) as info:
        gankit.load(evil)
    assert "pickle" in one_line(info.value)
    assert not marker.exists()
    # a generator directory with a pickle lying next to it loads from config.json + safetensors only
    kwargs = {"z_dim": 2, "c_dim": 0, "img_resolution": 0, "img_channels": 2, "width": 4, "depth": 1}
    out = export_generator(mlp.Generator(**kwargs), "mlp", kwargs, {}, tmp_path / "g")
    (out / f"model{suffix}").write_bytes(evil.read_bytes())
    (out / "model.pkl").write_bytes(evil.read_bytes())
    gankit.load(out)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------ a real run

def test_run_directory_generator_matches_the_trained_g_ema(tmp_path, no_report):
    from gankit.training.loop import Trainer

    cfg = load_preset("digits-cond", ["data.resolution=8", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
                                      "train.steps=3", "train.batch_size=8", "train.progress=false",
                                      "train.ema_kimg=0.01", "train.device=cpu", "eval.metrics="])
    t = Trainer(cfg, tmp_path / "run")
    t.run()
    G = gankit.load(tmp_path / "run")  # a run directory: its generator/ is found
    G2 = gankit.load(tmp_path / "run" / "generator")
    z = torch.randn(10, 8, generator=torch.Generator().manual_seed(3))
    c = torch.arange(10)
    with torch.no_grad():
        ref = t.nets["G_ema"].eval()(z, c)
        assert torch.equal(G.module(z, c), ref) and torch.equal(G2.module(z, c), ref)
    assert torch.equal(G(10, labels=c), gankit.generate(G2, 10, labels=c))  # the pipeline: n samples
    assert G.c_dim == 10 and G.gankit_meta["data"]["num_classes"] == 10
    assert G.gankit_meta["run_config"] == cfg.to_dict()
    meta = json.loads((tmp_path / "run" / "generator" / "config.json").read_text())
    assert meta["family"] == "dcgan"
