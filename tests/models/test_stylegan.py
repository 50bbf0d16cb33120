"""StyleGAN and StyleGAN2 families: shapes, demodulation, truncation, style mixing, w_avg, building through the
config, export -> load round trips and the config refusals."""
from __future__ import annotations

import math

import pytest
import torch

import gankit
from gankit.config import from_dict, load_preset
from gankit.data import DataInfo
from gankit.errors import ConfigError
from gankit.models import MODELS, build_models, stylegan
from gankit.io.export import export_generator, load_generator

FAMILIES = {"stylegan": (stylegan.Generator, stylegan.Discriminator),
            "stylegan2": (stylegan.Generator2, stylegan.Discriminator2)}
TINY = {"width": 4, "max_width": 16}


def tiny_g(family: str, res: int = 16, c_dim: int = 0, channels: int = 3, **kw) -> stylegan.StyleGenerator:
    args = {"z_dim": 8, "c_dim": c_dim, "w_dim": 16, "img_resolution": res, "img_channels": channels,
            "mapping_layers": 2, **TINY, **kw}
    return FAMILIES[family][0](**args)


def _perturb(G: torch.nn.Module) -> torch.nn.Module:
    """Make zero-initialised strengths / biases non-zero so that every path matters."""
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return G


# ------------------------------------------------------------------------------------------ shapes

@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_at_every_resolution(family):
    G_cls, D_cls = FAMILIES[family]
    for res in (8, 16, 32, 64):
        for c_dim in (0, 5):
            for ch in (1, 3):
                torch.manual_seed(res + c_dim + ch)
                G = G_cls(z_dim=8, c_dim=c_dim, w_dim=16, img_resolution=res, img_channels=ch, mapping_layers=2, **TINY)
                D = D_cls(c_dim=c_dim, img_resolution=res, img_channels=ch, **TINY)
                assert (G.z_dim, G.c_dim, G.w_dim, G.img_resolution, G.img_channels) == (8, c_dim, 16, res, ch)
                assert G.num_ws == 2 * int(math.log2(res)) - 2 and G.w_avg.shape == (16,)
                c = torch.tensor([0, 4, 2]) if c_dim else None
                z = torch.randn(3, 8)
                ws = G.mapping(z, c)
                assert ws.shape == (3, G.num_ws, 16)
                assert torch.equal(ws[:, 0], ws[:, -1])  # no truncation: one w broadcast to every layer
                x = G(z, c)
                assert x.shape == (3, ch, res, res) and torch.isfinite(x).all() and x.std() > 0.05
                logits = D(x, c)
                assert logits.shape == (3,) and torch.isfinite(logits).all()
                assert D.embed(x, c).shape == (3, min(res, 16))  # 4×4 channels: 4 · R/4, capped at 16
                if c_dim:  # the label changes both networks' outputs
                    with pytest.raises(ValueError, match="conditional"):
                        G(z)
                    c2 = (c + 1) % c_dim
                    assert not torch.allclose(G(z, c2, noise_mode="const"), G(z, c, noise_mode="const"))
                    assert not torch.allclose(D(x, c2), logits)


def test_channel_widths_double_towards_4x4_and_are_capped():
    assert stylegan.channels(64, 4, 16) == {4: 16, 8: 16, 16: 16, 32: 8, 64: 4}
    assert stylegan.channels(1024, 32, 512) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128,
                                                512: 64, 1024: 32}  # StyleGAN2 config F
    for bad in (4, 12, 2048):
        with pytest.raises(ValueError, match="power of two"):
            stylegan.Generator2(img_resolution=bad)


# ------------------------------------------------------------------------------------------ modulated convolution

def test_demodulation_keeps_unit_variance_and_its_absence_does_not():
    torch.manual_seed(0)
    n, cin, cout, w_dim = 8, 32, 32, 16
    x = torch.randn(n, cin, 64, 64)
    w = 3.0 * torch.randn(n, w_dim)  # styles with rms ≈ √(9 + 1) ≈ 3.2, far from 1
    demod = stylegan.ModulatedConv2d(cin, cout, 3, w_dim, demodulate=True)
    plain = stylegan.ModulatedConv2d(cin, cout, 3, w_dim, demodulate=False)
    plain.load_state_dict(demod.state_dict())
    with torch.no_grad():
        y, y_plain = demod(x, w), plain(x, w)
        s = demod.affine(w)
        assert s.pow(2).mean().sqrt() > 2.5
        # reference: each sample's own weights, conv2d without groups
        ref = torch.cat([torch.nn.functional.conv2d(x[i:i + 1], demod.weight * demod.scale * s[i][None, :, None, None],
                                                    padding=1) for i in range(n)])
        assert torch.allclose(y_plain, ref, atol=1e-4)
        norms = ref.new_tensor([(demod.weight * demod.scale * s[i][None, :, None, None]).pow(2).sum(dim=(1, 2, 3)).sqrt()
                                .tolist() for i in range(n)])  # N×cout
        assert torch.allclose(y, ref / norms[:, :, None, None], atol=1e-4)
    interior = (slice(None), slice(None), slice(1, -1), slice(1, -1))  # zero padding lowers the border variance
    assert y[interior].std().item() == pytest.approx(1.0, rel=0.05)
    assert y.std().item() == pytest.approx(1.0, rel=0.1)
    expected_plain = norms.pow(2).mean().sqrt().item()  # E[y²] = Σ w'² for i.i.d. unit inputs
    assert y_plain[interior].std().item() == pytest.approx(expected_plain, rel=0.1)
    assert y_plain.std().item() > 2.0


def test_stylegan2_to_rgb_is_not_demodulated_and_adain_normalizes():
    G = tiny_g("stylegan2")
    assert all(b.to_rgb.conv.demodulate is False and b.conv1.conv.demodulate for b in G.blocks)
    torch.manual_seed(1)
    adain = stylegan.AdaIN(6, 16)
    x, w = 5 + 3 * torch.randn(4, 6, 8, 8), torch.randn(4, 16)
    with torch.no_grad():
        y = adain(x, w)
        scale, shift = adain.scale(w), adain.shift(w)
    norm = (y - shift[:, :, None, None]) / scale[:, :, None, None]
    assert torch.allclose(norm.mean(dim=(2, 3)), torch.zeros(4, 6), atol=1e-4)
    assert torch.allclose(norm.pow(2).mean(dim=(2, 3)), torch.ones(4, 6), atol=1e-3)
    assert torch.allclose(stylegan.AdaIN(6, 16).scale(torch.zeros(1, 16)), torch.ones(1, 6))  # scale bias starts at 1


# ------------------------------------------------------------------------------------------ truncation and w_avg

@pytest.mark.parametrize("family", FAMILIES)
def test_truncation_psi_zero_gives_the_average_image(family):
    torch.manual_seed(2)
    G = _perturb(tiny_g(family)).eval()
    with torch.no_grad():
        G.w_avg.copy_(torch.randn(16))
        z1, z2 = torch.randn(3, 8), torch.randn(3, 8)
        a = G(z1, truncation_psi=0.0, noise_mode="const")
        b = G(z2, truncation_psi=0.0, noise_mode="const")
        avg = G.synthesis(G.w_avg.expand(3, G.num_ws, -1), noise_mode="const")
        assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a, avg, atol=1e-6)
        assert not torch.allclose(G(z1, noise_mode="const"), a)
        # ψ and the cutoff: ws[:, :k] = w_avg + ψ (w − w_avg), the rest untouched
        w = G.mapping(z1)[:, 0]
        ws = G.mapping(z1, truncation_psi=0.5, truncation_cutoff=3)
        assert torch.allclose(ws[:, :3], (G.w_avg + 0.5 * (w - G.w_avg))[:, None].expand(-1, 3, -1), atol=1e-6)
        assert torch.equal(ws[:, 3:], w[:, None].expand(-1, G.num_ws - 3, -1))
        # noise: const is repeatable, random is not, none differs from const once strengths are non-zero
        assert torch.equal(G(z1, noise_mode="const"), G(z1, noise_mode="const"))
        assert not torch.allclose(G(z1, noise_mode="random"), G(z1, noise_mode="random"))
        assert not torch.allclose(G(z1, noise_mode="none"), G(z1, noise_mode="const"))


@pytest.mark.parametrize("family", FAMILIES)
def test_w_avg_tracks_the_mean_w_in_training_only(family):
    torch.manual_seed(3)
    G = tiny_g(family, w_avg_beta=0.9, style_mixing=1.0)
    z = torch.randn(16, 8)
    mean_w = G.mapping(z)[:, 0].mean(dim=0).detach()
    G.eval()
    G(z)
    assert torch.equal(G.w_avg, torch.zeros(16))
    G.train()
    with torch.no_grad():
        G(z)  # with mixing: the second mapping call must not update w_avg
    assert torch.allclose(G.w_avg, 0.1 * mean_w, atol=1e-6)  # lerp from 0 towards the mean by 1 − β
    for _ in range(60):
        with torch.no_grad():
            G(z)
    assert torch.allclose(G.w_avg, mean_w * (1 - 0.9**61), atol=1e-5)  # converges to the mean w
    assert (G.w_avg - mean_w).norm() < 0.01 * mean_w.norm()


# ------------------------------------------------------------------------------------------ style mixing

@pytest.mark.parametrize("family", FAMILIES)
def test_style_mixing_crosses_over_two_latents(family, monkeypatch):
    torch.manual_seed(4)
    G = _perturb(tiny_g(family, res=32, style_mixing=1.0)).train()
    calls, seen = [], []
    mapping, synthesis = G.mapping, G.synthesis
    monkeypatch.setattr(G, "mapping", lambda z, *a, **k: calls.append(z) or mapping(z, *a, **k))
    monkeypatch.setattr(G, "synthesis", lambda ws, *a, **k: seen.append(ws) or synthesis(ws, *a, **k))
    z1 = torch.randn(4, 8)
    cutoffs = set()
    for seed in range(40):
        calls.clear(), seen.clear()
        torch.manual_seed(seed)
        with torch.no_grad():
            x = G(z1, noise_mode="const")
        assert len(calls) == 2 and torch.equal(calls[0], z1) and not torch.allclose(calls[1], z1)
        with torch.no_grad():
            w1, w2 = mapping(z1)[:, 0], mapping(calls[1])[:, 0]
        ws = seen[0]
        from_z1 = [torch.equal(ws[:, i], w1) for i in range(G.num_ws)]
        from_z2 = [torch.equal(ws[:, i], w2) for i in range(G.num_ws)]
        k = from_z1.index(False)
        assert 1 <= k < G.num_ws and all(from_z1[:k]) and all(from_z2[k:]) and not any(from_z2[:k])
        cutoffs.add(k)
        if seed == 0:  # the mixed image is neither pure image
            with torch.no_grad():
                pure1, pure2 = synthesis(mapping(z1), "const"), synthesis(mapping(calls[1]), "const")
            assert not torch.allclose(x, pure1, atol=1e-4) and not torch.allclose(x, pure2, atol=1e-4)
    assert cutoffs == set(range(1, G.num_ws))  # k ~ U{1, …, num_ws − 1}


@pytest.mark.parametrize("family", FAMILIES)
def test_no_mixing_training_forward_equals_eval_forward(family):
    torch.manual_seed(5)
    G = _perturb(tiny_g(family, style_mixing=0.0))
    z = torch.randn(4, 8)
    with torch.no_grad():
        eval_out = G.eval()(z, noise_mode="const")
        state = torch.get_rng_state()
        train_out = G.train()(z, noise_mode="const")
        assert torch.equal(state, torch.get_rng_state())  # no draws at all without mixing
        assert torch.equal(train_out, eval_out)
        torch.manual_seed(9)
        a = G.train()(z)
        torch.manual_seed(9)
        assert torch.equal(a, G.eval()(z))  # random noise too, given the same seed
    G.style_mixing = 0.5  # mixing about half of the batches
    mixed = 0
    for seed in range(40):
        torch.manual_seed(seed)
        with torch.no_grad():
            mixed += not torch.equal(G.train()(z, noise_mode="const"), eval_out)
    assert 8 <= mixed <= 32


# ------------------------------------------------------------------------------------------ gradients

@pytest.mark.parametrize("family", FAMILIES)
def test_gradients_reach_the_mapping_network_and_every_parameter(family):
    torch.manual_seed(6)
    G = tiny_g(family, c_dim=3).train()
    D = FAMILIES[family][1](c_dim=3, img_resolution=16, img_channels=3, **TINY)
    c = torch.tensor([0, 1, 2, 0])
    D(G(torch.randn(4, 8), c), c).sum().backward()
    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for name, p in G.map.named_parameters():
        assert p.grad.abs().sum() > 0, name
    assert G.map.fcs[0].lr_mul == 0.01


# ------------------------------------------------------------------------------------------ through gankit

DIGITS = DataInfo("image", (1, 32, 32), 10, tuple("0123456789"), name="digits")
SMALL = ["model.w_dim=32", "model.mapping_layers=2", "model.g_width=4", "model.d_width=4", "model.max_width=16",
         "model.z_dim=16", "model.mbstd=4"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("conditional", [False, True])
def test_build_through_config_and_export_round_trip(tmp_path, family, conditional):
    cfg = load_preset("digits", [f"model.name={family}", f"model.conditional={str(conditional).lower()}", *SMALL])
    G, D, gk, dk = build_models(cfg.model, DIGITS)
    assert type(G) is FAMILIES[family][0] and type(D) is FAMILIES[family][1]
    c_dim = 10 if conditional else 0
    assert gk == {"z_dim": 16, "c_dim": c_dim, "w_dim": 32, "img_resolution": 32, "img_channels": 1, "width": 4,
                  "max_width": 16, "mapping_layers": 2, "mapping_lr_mul": 0.01, "style_mixing": 0.9, "w_avg_beta": 0.995}
    assert dk == {"c_dim": c_dim, "img_resolution": 32, "img_channels": 1, "width": 4, "max_width": 16, "mbstd": 4}
    assert isinstance(D.epilogue.mbstd, gankit.models.layers.MinibatchStdDev) and D.epilogue.mbstd.group_size == 4
    c = torch.arange(6) % 10 if conditional else None
    torch.manual_seed(7)
    _perturb(G)
    G.train()(torch.randn(8, 16), torch.arange(8) % 10 if conditional else None)  # w_avg moves away from 0
    G.eval()
    assert G.w_avg.abs().sum() > 0
    out = export_generator(G, family, gk, DIGITS.to_dict(), tmp_path / "generator")
    G2 = load_generator(out)
    assert G2.gankit_meta["kwargs"] == gk and not G2.training
    for (k, a), (k2, b) in zip(G.state_dict().items(), G2.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    z = torch.randn(6, 16)
    with torch.no_grad():
        for kw in ({"noise_mode": "const"}, {"noise_mode": "const", "truncation_psi": 0.7}):
            assert torch.equal(G2(z, c, **kw), G(z, c, **kw))
        torch.manual_seed(8)
        a = G(z, c)
        torch.manual_seed(8)
        assert torch.equal(G2(z, c), a)  # random noise from the same seed
    assert D(a, c).shape == (6,)
    assert MODELS.get(family).generator is FAMILIES[family][0]


def test_config_refusals():
    ok = load_preset("digits", ["model.name=stylegan2", *SMALL])
    assert ok.model.name == "stylegan2"
    for family in FAMILIES:
        for override, field in [("model.spectral_norm=d", "model.spectral_norm"), ("model.g_norm=batch", "model.g_norm"),
                                ("model.d_norm=layer", "model.d_norm"), ("model.attention=16", "model.attention"),
                                ("model.minibatch_discrimination=4", "model.minibatch_discrimination"),
                                ("model.mapping_lr_mul=0", "model.mapping_lr_mul"), ("model.mbstd=1", "model.mbstd"),
                                ("data.resolution=48", "data.resolution")]:
            with pytest.raises(ConfigError, match=field) as e:
                load_preset("digits", [f"model.name={family}", override])
            assert "\n" not in str(e.value)
        with pytest.raises(ConfigError, match="needs image data"):
            from_dict({"data": {"name": "ring"}, "model": {"name": family}})
        with pytest.raises(ConfigError, match=f"model.depth: {family} has no depth \\(it is an option of mlp\\)"):
            load_preset("ring", [f"model.name={family}"])
