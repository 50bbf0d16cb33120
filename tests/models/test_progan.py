"""ProGAN (Karras et al. 2018): the growing schedule in closed form, shapes at every stage, continuity of the
fade-in at both ends, equalized learning rate and pixel norm, the ``lod`` buffer round trip (resume, export,
EMA), which parameters a stage trains, and the config rules."""
from __future__ import annotations

import copy
import math
import os

import pytest
import torch
import torch.nn.functional as F

from gankit.config import from_dict, load_preset, preset_dict
from gankit.data import DataInfo
from gankit.errors import ConfigError
from gankit.models import MODELS, build_models, gan_family, progan
from gankit.models.equalized import EqualConv2d, EqualLinear, pixel_norm
from gankit.io.export import export_generator, load_generator
from gankit.training.ema import update_ema

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

TINY = {"width": 4, "max_width": 16}


def nets(res: int, channels: int = 3, **kw) -> tuple[progan.Generator, progan.Discriminator]:
    torch.manual_seed(0)
    common = {"img_resolution": res, "img_channels": channels, **TINY, **kw}
    return progan.Generator(z_dim=8, **common), progan.Discriminator(**common)


def set_lod(*modules, lod: float) -> None:
    with torch.no_grad():
        for m in modules:
            m.lod.fill_(lod)


def up(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=k, mode="nearest")


@pytest.fixture
def registered(monkeypatch):
    """The family in the model registry for this test (a no-op once models/__init__.py registers it)."""
    if "progan" not in MODELS.names():
        from gankit.registry import Entry

        monkeypatch.setitem(MODELS._entries, "progan", Entry("progan", gan_family(progan, traits=("d_embed",)), "ProGAN"))


# ------------------------------------------------------------------------------------------ schedule

@pytest.mark.parametrize("res,start,kimg,seen,lod", [
    # R=32 from 4×4 (s = 3), phases of 1000 images: stable 4 | fade 8 | stable 8 | fade 16 | stable 16 | fade 32 | 32
    (32, 4, 1.0, 0, 3.0), (32, 4, 1.0, 999, 3.0), (32, 4, 1.0, 1000, 3.0), (32, 4, 1.0, 1250, 2.75),
    (32, 4, 1.0, 1750, 2.25), (32, 4, 1.0, 2000, 2.0), (32, 4, 1.0, 2999, 2.0), (32, 4, 1.0, 3500, 1.5),
    (32, 4, 1.0, 4000, 1.0), (32, 4, 1.0, 5000, 1.0), (32, 4, 1.0, 5500, 0.5), (32, 4, 1.0, 6000, 0.0),
    (32, 4, 1.0, 10**9, 0.0),
    # from 8×8 (s = 2), phases of 500 images
    (32, 8, 0.5, 0, 2.0), (32, 8, 0.5, 625, 1.75), (32, 8, 0.5, 1250, 1.0), (32, 8, 0.5, 1875, 0.25), (32, 8, 0.5, 2000, 0.0),
    # no growing: phase_kimg = 0, or starting at the full resolution
    (32, 4, 0.0, 0, 0.0), (1024, 4, 0.0, 12345, 0.0), (16, 16, 1.0, 0, 0.0), (16, 16, 1.0, 1500, 0.0),
])
def test_lod_schedule_values(res, start, kimg, seen, lod):
    assert progan.lod_at(seen, res, start, kimg) == lod


def test_lod_schedule_closed_form_and_continuity():
    s, T = 5, 800  # 1024 px from 32 px, 0.8 kimg phases
    seen = list(range(0, 13 * T, 37))
    lods = [progan.lod_at(n, 1024, 32, T / 1000) for n in seen]
    for n, lod in zip(seen, lods):
        t = n / T
        expected = s if t < 1 else max(0.0, s - math.floor((t - 1) / 2) - min((t - 1) - 2 * math.floor((t - 1) / 2), 1.0))
        assert lod == pytest.approx(expected, abs=1e-12)
    assert all(b <= a for a, b in zip(lods, lods[1:]))  # never grows back
    assert max(a - b for a, b in zip(lods, lods[1:])) <= 37 / T + 1e-12  # no jumps: at most the linear fade rate
    with pytest.raises(ValueError, match="larger than img_resolution"):
        progan.lod_at(0, 16, 32, 1.0)


def test_progress_sets_the_stage():
    G, D = nets(32, phase_kimg=1.0)
    assert (G.resolution, G.alpha) == (4, 1.0) and float(G.lod) == 3.0  # a new network starts at start_resolution
    for seen, stage in [(0, (4, 1.0)), (1250, (8, 0.25)), (2000, (8, 1.0)), (3500, (16, 0.5)), (6000, (32, 1.0))]:
        for net in (G, D):
            net.progress(seen)
            assert net.stage() == pytest.approx(stage) and float(net.lod) == progan.lod_at(seen, 32, 4, 1.0)
    G0, _ = nets(16, phase_kimg=0.0)
    assert G0.stage() == (16, 1.0)


# ------------------------------------------------------------------------------------------ shapes

@pytest.mark.parametrize("res", [8, 16, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_stage(res, channels):
    G, D = nets(res, channels)
    max_lod = int(math.log2(res)) - 2
    z = torch.randn(4, 8)
    with torch.no_grad():
        for lod in [max_lod - 0.5 * i for i in range(2 * max_lod + 1)]:
            set_lod(G, D, lod=lod)
            r = res >> math.floor(lod)
            assert G.resolution == D.resolution == r
            assert G.synthesis(z, r, G.alpha).shape == (4, channels, r, r)
            x = G(z)
            assert x.shape == (4, channels, res, res) and torch.isfinite(x).all()
            k = res // r  # the stage's image, nearest-upsampled: constant on k×k blocks
            assert torch.equal(x, up(x[:, :, ::k, ::k], k))
            logits = D(x)
            assert logits.shape == (4,) and torch.isfinite(logits).all()
            assert D.embed(x).shape == (4, min(16, 4 * res // 4))  # C at 4×4: min(max_width, width·R/4)


def test_widths_follow_the_resolution():
    G, D = nets(32)  # width 4 at 32, doubling towards 4×4, capped at 16
    assert [G.to_rgb[str(r)].weight.shape[1] for r in (4, 8, 16, 32)] == [16, 16, 8, 4]
    assert [D.from_rgb[str(r)].weight.shape[0] for r in (4, 8, 16, 32)] == [16, 16, 8, 4]
    assert D.blocks["32"].conv2.weight.shape[:2] == (8, 4) and D.final.conv.weight.shape[1] == 16 + 1  # + mbstd


def test_bad_constructor_arguments():
    for kw in ({"img_resolution": 12}, {"img_resolution": 4}, {"img_resolution": 2048}, {"start_resolution": 64},
               {"start_resolution": 6}, {"c_dim": 10}):
        with pytest.raises(ValueError, match="progan"):
            progan.Generator(**{"img_resolution": 32, **TINY, **kw})
    with pytest.raises(ValueError, match="mbstd"):
        progan.Discriminator(img_resolution=32, mbstd=1)


# ------------------------------------------------------------------------------------------ fade-in

@pytest.mark.parametrize("r", [8, 16, 32])
def test_fade_start_equals_the_previous_stage(r):
    G, D = nets(32)
    torch.manual_seed(1)
    z, x = torch.randn(4, 8), torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        # exactly, at alpha = 0
        assert torch.equal(G.synthesis(z, r, 0.0), up(G.synthesis(z, r // 2, 1.0), 2))
        x_r = F.avg_pool2d(x, 32 // r)
        assert torch.equal(D.score(x_r, r, 0.0), D.score(F.avg_pool2d(x_r, 2), r // 2, 1.0))
        # through the schedule: just after the fade began vs the end of the previous stable phase
        level = int(math.log2(32 // r))
        set_lod(G, D, lod=level + 1)
        g_prev, d_prev = G(z), D(x)
        set_lod(G, D, lod=level + 1 - 1e-4)
        assert G.resolution == r and G.alpha == pytest.approx(1e-4, abs=1e-6)
        assert torch.allclose(G(z), g_prev, atol=1e-3) and torch.allclose(D(x), d_prev, atol=1e-3)


@pytest.mark.parametrize("r", [8, 16, 32])
def test_fade_end_equals_the_new_stable_stage(r):
    G, D = nets(32)
    torch.manual_seed(2)
    z, x_r = torch.randn(4, 8), torch.randn(4, 3, r, r)
    with torch.no_grad():
        # G's fade is linear in alpha between the upsampled previous image and the new one
        lo, hi = up(G.synthesis(z, r // 2, 1.0), 2), G.synthesis(z, r, 1.0)
        assert torch.allclose(G.synthesis(z, r, 0.3), 0.7 * lo + 0.3 * hi, atol=1e-6)
        assert torch.allclose(G.synthesis(z, r, 1 - 1e-6), hi, atol=1e-4)
        assert torch.allclose(D.score(x_r, r, 1 - 1e-6), D.score(x_r, r, 1.0), atol=1e-4)
        level = int(math.log2(32 // r))
        set_lod(G, D, lod=level)
        g_stable = G(z)
        set_lod(G, D, lod=level + 1e-5)
        assert G.resolution == r and G.alpha == pytest.approx(1 - 1e-5, abs=1e-6)
        assert torch.allclose(G(z), g_stable, atol=1e-3)


def test_d_fade_matches_the_documented_formula():
    """During a fade D judges x' = lerp(up2(pool2(x)), x, alpha) and blends its features as
    h = lerp(fromRGB_prev(pool2(x)), block(fromRGB_cur(x')), alpha)."""
    _, D = nets(16)
    torch.manual_seed(3)
    x, a = torch.randn(4, 3, 16, 16), 0.3
    with torch.no_grad():
        low = F.avg_pool2d(x, 2)
        blended = (1 - a) * up(low, 2) + a * x
        h = (1 - a) * progan._act(D.from_rgb["8"](low)) + a * D.blocks["16"](progan._act(D.from_rgb["16"](blended)))
        expected = D.final(D.blocks["8"](h))
        assert torch.allclose(D.score(x, 16, a), expected, atol=1e-5)
        # an image already constant on 2×2 blocks passes the input blend unchanged
        blocky = up(low, 2)
        assert torch.allclose(torch.lerp(up(F.avg_pool2d(blocky, 2), 2), blocky, a), blocky)


# ------------------------------------------------------------------------------------------ equalized lr, pixel norm

def test_equalized_layers_have_unit_output_std():
    torch.manual_seed(0)
    lin = EqualLinear(256, 128)
    assert lin.weight.std().item() == pytest.approx(1.0, abs=0.02)  # stored N(0, 1), scaled at run time
    assert lin(torch.randn(4096, 256)).std().item() == pytest.approx(1.0, abs=0.05)
    conv = EqualConv2d(32, 16, 3)
    y = conv(torch.randn(32, 32, 12, 12))[:, :, 1:-1, 1:-1]  # inside: no zero padding in the window
    assert y.std().item() == pytest.approx(1.0, abs=0.05)
    # the He gain after the leaky ReLU: E[(√2·lrelu(a))²] = 2·(1 + 0.2²)/2 = 1.04 for a ~ N(0, 1)
    assert progan._act(torch.randn(10**6)).pow(2).mean().item() == pytest.approx(1.04, rel=0.01)


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    torch.manual_seed(0)
    x = 3 * torch.randn(4, 8, 5, 5) + 1
    assert torch.allclose(pixel_norm(x).pow(2).mean(dim=1), torch.ones(4, 5, 5), atol=1e-5)
    G, _ = nets(8)
    with torch.no_grad():
        h = G.blocks["4"](100 * torch.randn(3, 8))  # G's features: unit mean square whatever the scale of z
    assert torch.allclose(h.pow(2).mean(dim=1), torch.ones(3, 4, 4), atol=1e-4)


# ------------------------------------------------------------------------------------------ the lod buffer

def _perturb(net: torch.nn.Module) -> None:
    torch.manual_seed(5)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))


def test_lod_buffer_round_trip_mid_fade():
    G, D = nets(16, phase_kimg=1.0)
    for net in (G, D):
        net.progress(1250)  # lod 1.75: fading in 8×8, alpha 0.25
        _perturb(net)
    assert "lod" in G.state_dict() and "lod" in D.state_dict()
    torch.manual_seed(9)
    G2 = progan.Generator(z_dim=8, img_resolution=16, img_channels=3, phase_kimg=1.0, **TINY)
    D2 = progan.Discriminator(img_resolution=16, img_channels=3, phase_kimg=1.0, **TINY)
    assert G2.stage() == (4, 1.0)
    z, x = torch.randn(6, 8), torch.randn(6, 3, 16, 16)
    with torch.no_grad():
        g2_before = G2(z)  # reads (and remembers) the old lod: loading must invalidate that
        G2.load_state_dict(G.state_dict())
        D2.load_state_dict(D.state_dict())
        assert G2.stage() == D2.stage() == G.stage() == (8, 0.25)
        assert torch.equal(G2(z), G(z)) and torch.equal(D2(x), D(x))
        assert not torch.equal(G2(z), g2_before)


def test_ema_copy_carries_the_stage():
    G, _ = nets(16, phase_kimg=1.0)
    G_ema = copy.deepcopy(G)
    z = torch.randn(3, 8)
    with torch.no_grad():
        G_ema(z)
        G.progress(3500)  # lod 0.5
        _perturb(G)
        update_ema(G_ema, G, 0.0)  # parameters and buffers copied
        assert G_ema.stage() == G.stage() == (16, 0.5)
        assert torch.equal(G_ema(z), G(z))


def test_export_then_load_keeps_the_stage(tmp_path, registered):
    kwargs = {"z_dim": 8, "img_resolution": 16, "img_channels": 1, "start_resolution": 4, "phase_kimg": 1.0, **TINY}
    G = progan.Generator(**kwargs)
    G.progress(1500)  # lod 1.5
    _perturb(G)
    out = export_generator(G, "progan", kwargs, {"schema": "image", "shape": [1, 16, 16]}, tmp_path / "g")
    G2 = load_generator(out)
    assert G2.stage() == (8, 0.5)
    z = torch.randn(5, 8)
    with torch.no_grad():
        assert torch.equal(G2(z), G(z))


def test_randomness_only_from_the_global_rng():
    a, b = nets(16)[0].state_dict(), nets(16)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------------------ gradients

def _trained(net: torch.nn.Module) -> set[str]:
    """Top-level pieces (``blocks.16``, ``to_rgb.8``, ``final``) whose parameters received a non-zero gradient."""
    out = set()
    for name, p in net.named_parameters():
        if p.grad is not None and p.grad.abs().sum() > 0:
            parts = name.split(".")
            out.add(parts[0] if parts[0] == "final" else ".".join(parts[:2]))
    return out


@pytest.mark.parametrize("lod,g_expected,d_expected", [
    (1.5, {"blocks.4", "blocks.8", "blocks.16", "to_rgb.16", "to_rgb.8"},
     {"from_rgb.16", "from_rgb.8", "blocks.16", "blocks.8", "final"}),  # fading in 16×16
    (1.0, {"blocks.4", "blocks.8", "blocks.16", "to_rgb.16"}, {"from_rgb.16", "blocks.16", "blocks.8", "final"}),
    (2.0, {"blocks.4", "blocks.8", "to_rgb.8"}, {"from_rgb.8", "blocks.8", "final"}),
])
def test_gradients_reach_only_active_stages(lod, g_expected, d_expected):
    G, D = nets(32)
    set_lod(G, D, lod=lod)
    torch.manual_seed(4)
    D(G(torch.randn(4, 8))).sum().backward()
    assert _trained(G) == g_expected and _trained(D) == d_expected


# ------------------------------------------------------------------------------------------ config

def _cfg(data: str = "digits", **fields):
    """A progan config on ``data`` with ``fields`` (section__name=value) set; validated, so a refusal raises here."""
    values = {"data": {"name": data}, "model": {"name": "progan", "g_width": 8, "d_width": 8}}
    for key, value in fields.items():
        section, name = key.split("__")
        values.setdefault(section, {})[name] = value
    return from_dict(values)


@pytest.mark.parametrize("fields,match", [
    ({"model__conditional": True}, r"model.conditional: .*use model.name=stylegan2 or dcgan for conditional models"),
    # other families' options are not progan's: refused by name, saying whose they are
    ({"model__spectral_norm": "d"}, r"model.spectral_norm: progan has no spectral_norm \(it is an option of dcgan, mlp, resnet\)"),
    ({"model__g_norm": "batch"}, r"model.g_norm: progan has no g_norm \(it is an option of dcgan, mlp, resnet\)"),
    ({"model__d_norm": "none"}, "model.d_norm: progan has no d_norm"),
    ({"model__attention": 8}, "model.attention: progan has no attention"),
    ({"model__minibatch_discrimination": 4}, "model.minibatch_discrimination: progan has no minibatch_discrimination"),
    ({"data__resolution": 12}, "data.resolution: 12"),
    ({"data__resolution": 4}, "data.resolution: 4"),
    ({"data__resolution": 2048}, "data.resolution: 2048"),
    ({"model__start_resolution": 64}, "model.start_resolution: 64"),
    ({"model__start_resolution": 12}, "model.start_resolution: 12"),
    ({"model__mbstd": 1}, "model.mbstd"),
    ({"model__mbstd": 128}, "model.mbstd"),
])
def test_check_config_refusals(fields, match, one_line):
    with one_line(ConfigError, match=match):
        _cfg(**fields)


def test_check_config_accepts_and_refuses_toys(one_line):
    _cfg()
    _cfg(model__start_resolution=32, model__mbstd=4)
    with one_line(ConfigError, match="needs image data"):
        _cfg("ring")


def test_options_and_build_from_a_preset(registered):
    cfg = load_preset("digits", ["model.name=progan", "model.g_width=4", "model.d_width=4", "model.max_width=16",
                                 "model.z_dim=8", "model.mbstd=4", "model.start_resolution=8", "model.phase_kimg=2"])
    info = DataInfo("image", (1, 32, 32), 10, name="digits")
    G, D, gk, dk = build_models(cfg.model, info)
    assert gk == {"z_dim": 8, "width": 4, "img_resolution": 32, "img_channels": 1, "max_width": 16,
                  "start_resolution": 8, "phase_kimg": 2.0}
    assert dk == {"width": 4, "mbstd": 4, "img_resolution": 32, "img_channels": 1, "max_width": 16,
                  "start_resolution": 8, "phase_kimg": 2.0}
    assert G.stage() == D.stage() == (8, 1.0)
    with torch.no_grad():
        assert D(G(torch.randn(2, 8))).shape == (2,)
    with pytest.raises(ConfigError, match="model.conditional"):
        load_preset("digits", ["model.name=progan", "model.conditional=true"])
