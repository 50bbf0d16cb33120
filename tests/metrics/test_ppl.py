"""Perceptual path length and the LPIPS-VGG distance: closed forms, reference formulas, invariants, safe loading.

No real weights are needed: LPIPS runs with a random He-scaled VGG16 state dict of the documented layout (heads
drawn non-negative), written to disk by the tests. PPL is checked on linear "generators", whose path lengths
have a closed form, with the draws regenerated from the documented RNG contract of gankit.metrics.ppl.
"""
from __future__ import annotations

import hashlib
import math
import pathlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

import gankit.metrics.lpips as lp
from gankit.errors import ConfigError, DataError
from gankit.metrics.features import from_module
from gankit.metrics.lpips import LPIPS, convert_lpips, load_lpips, load_state
from gankit.metrics.ppl import (
    DISTANCES,
    build_distance,
    feature_l2,
    filter_outliers,
    path_lengths,
    perceptual_path_length,
    pixel_l2,
    slerp,
)

# VGG16 ("configuration D" of Simonyan & Zisserman, 2015): conv widths, "M" = 2×2 max pool. In the torchvision
# `features` numbering a conv takes two indices (conv, ReLU) and a pool one.
VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
SHIFT = torch.tensor([-0.030, -0.088, -0.188], dtype=torch.float64).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450], dtype=torch.float64).view(1, 3, 1, 1)


def sha256(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def random_lpips_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """The documented key layout with He-scaled convolutions (activations stay O(1)) and non-negative heads."""
    g = torch.Generator().manual_seed(seed)
    state, idx, c_in = {}, 0, 3
    for v in VGG16_CFG:
        if v == "M":
            idx += 1
            continue
        state[f"net.{idx}.weight"] = torch.randn(v, c_in, 3, 3, generator=g) * math.sqrt(2.0 / (9 * c_in))
        state[f"net.{idx}.bias"] = torch.randn(v, generator=g) * 0.05
        idx, c_in = idx + 2, v
    for k, c in enumerate((64, 128, 256, 512, 512)):
        state[f"lin{k}.weight"] = torch.rand(1, c, 1, 1, generator=g)
    return state


def reference_taps(state: dict[str, torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    """relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 of the scaled input, written from the VGG16 configuration."""
    h = (x - SHIFT) / SCALE
    taps, idx = [], 0
    for v in VGG16_CFG:
        if v == "M":
            taps.append(h)
            h = F.max_pool2d(h, 2)
            idx += 1
        else:
            h = F.relu(F.conv2d(h, state[f"net.{idx}.weight"].double(), state[f"net.{idx}.bias"].double(), padding=1))
            idx += 2
    return taps + [h]


def reference_lpips(state: dict[str, torch.Tensor], x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """Σ_k mean_hw Σ_c w_kc (f̂0 - f̂1)², f̂ = f / (‖f‖_c + 1e-10), in float64."""
    total = torch.zeros(len(x0), dtype=torch.float64)
    for k, (f0, f1) in enumerate(zip(reference_taps(state, x0.double()), reference_taps(state, x1.double()))):
        n0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        n1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        w = state[f"lin{k}.weight"].double().view(1, -1, 1, 1)
        total += (w * (n0 - n1) ** 2).sum(1).mean(dim=(1, 2))
    return total


def images(n: int, size: int = 32, channels: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, size, size, generator=g) * 2 - 1


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def state():
    return random_lpips_state()


@pytest.fixture(scope="module")
def model(state):
    return load_state(LPIPS(), state)


@pytest.fixture(scope="module")
def st_file(state, tmp_path_factory):
    path = tmp_path_factory.mktemp("lpips") / "lpips-vgg.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


# ------------------------------------------------------------------------------------------------------ LPIPS
def test_layout_matches_vgg16_and_the_paper(model):
    sd = model.state_dict()
    assert len(sd) == 13 * 2 + 5  # no scaling constants in the file
    trunk = sum(v.numel() for k, v in sd.items() if k.startswith("net."))
    assert trunk == 14_714_688  # VGG16's convolutional part
    assert [tuple(sd[f"lin{k}.weight"].shape) for k in range(5)] == [(1, c, 1, 1) for c in (64, 128, 256, 512, 512)]
    assert sd["net.28.weight"].shape == (512, 512, 3, 3) and sd["net.5.weight"].shape == (128, 64, 3, 3)
    assert all(not p.requires_grad for p in model.parameters()) and not model.training
    assert lp.VGG16_SHA256.startswith("397923af")  # torch.hub names the file after its digest's first 8 hex


def test_lpips_zero_symmetric_positive(model):
    x, y = images(3, seed=1), images(3, seed=2)
    with torch.no_grad():
        assert torch.allclose(model(x, x), torch.zeros(3), atol=1e-6)
        d_xy, d_yx = model(x, y), model(y, x)
    assert d_xy.shape == (3,)
    assert torch.allclose(d_xy, d_yx, rtol=1e-5, atol=0)
    assert (d_xy > 1e-3).all()


def test_lpips_equals_the_formula_on_one_tap(state):
    """Heads 1..4 zeroed: d = mean_hw Σ_c w_c (f̂0 - f̂1)² of relu1_2, computed by hand."""
    one_tap = {k: (torch.zeros_like(v) if k.startswith("lin") and k != "lin0.weight" else v) for k, v in state.items()}
    net = load_state(LPIPS(), one_tap).double()
    x0, x1 = images(2, size=16, seed=3).double(), images(2, size=16, seed=4).double()
    want = []
    for a, b in zip(x0, x1):
        fa, fb = [
            F.relu(F.conv2d(F.relu(F.conv2d((img[None] - SHIFT) / SCALE, state["net.0.weight"].double(),
                                            state["net.0.bias"].double(), padding=1)),
                            state["net.2.weight"].double(), state["net.2.bias"].double(), padding=1))[0].numpy()
            for img in (a, b)
        ]  # 64×16×16 each
        na = fa / (np.sqrt((fa ** 2).sum(0)) + 1e-10)
        nb = fb / (np.sqrt((fb ** 2).sum(0)) + 1e-10)
        w = state["lin0.weight"].double().numpy().reshape(64)
        want.append(np.einsum("c,chw->hw", w, (na - nb) ** 2).mean())
    with torch.no_grad():
        got = net(x0, x1).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_lpips_equals_the_reference_on_all_taps(model, state):
    x0, x1 = images(2, seed=5), images(2, seed=6)
    with torch.no_grad():
        got = model.double()(x0, x1)
        model.float()
    np.testing.assert_allclose(got.numpy(), reference_lpips(state, x0, x1).numpy(), rtol=1e-9)


def test_lpips_grey_is_repeated_and_input_is_checked(model, one_line):
    g0, g1 = images(2, channels=1, seed=7), images(2, channels=1, seed=8)
    with torch.no_grad():
        torch.testing.assert_close(model(g0, g1), model(g0.repeat(1, 3, 1, 1), g1.repeat(1, 3, 1, 1)))
    with one_line(ValueError, match="at least 16"):
        model(images(1, size=8), images(1, size=8))
    with one_line(ValueError, match="same shape"):
        model(images(1), images(2))


def test_safetensors_round_trip(model, state, st_file):
    loaded = load_lpips(st_file)
    for k, v in state.items():
        assert torch.equal(loaded.state_dict()[k], v)
    x0, x1 = images(2, seed=9), images(2, seed=10)
    with torch.no_grad():
        assert torch.equal(loaded(x0, x1), model(x0, x1))
    load_lpips(st_file, sha256=sha256(st_file).upper())  # an expected digest, when given, is checked


def test_safetensors_wrong_digest_refused(st_file, one_line):
    with one_line(DataError, match="SHA-256") as info:
        load_lpips(st_file, sha256="0" * 64)
    assert "nothing was loaded" in str(info.value)


def test_pth_needs_matching_digest_and_nothing_is_unpickled_before(tmp_path, monkeypatch, one_line):
    path = tmp_path / "lpips.pth"
    torch.save({"net.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    calls = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(1))
    with one_line(DataError, match="sha256"):
        load_lpips(path)
    with one_line(DataError, match="SHA-256 is"):
        load_lpips(path, sha256="ab" * 32)
    with one_line(ConfigError, match="64 hex"):
        load_lpips(path, sha256="not-a-digest")
    assert calls == []


def test_pth_with_matching_digest_loads(state, tmp_path):
    path = tmp_path / "lpips.pth"
    torch.save(state, path)
    loaded = load_lpips(path, sha256=sha256(path))
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())


class _Evil:
    """Unpickling this would create the marker file: proof that the pickle ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_pth_pickle_with_objects_is_refused_and_never_executed(tmp_path, one_line):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pth"
    torch.save({"net.0.weight": torch.zeros(64, 3, 3, 3), "x": _Evil(str(marker))}, path)
    with one_line(DataError, match="weights_only"):
        load_lpips(path, sha256=sha256(path))
    assert not marker.exists()
    # allowed by weights_only, but not a tensor: refused by the key check
    plain = tmp_path / "plain.pth"
    torch.save({"net.0.weight": 3}, plain)
    with one_line(DataError, match="not a tensor"):
        load_lpips(plain, sha256=sha256(plain))


def test_bad_state_dicts_are_refused(state, one_line):
    net = LPIPS()
    before = net.state_dict()["lin0.weight"].clone()
    bad_cases = {
        "negative": {**state, "lin2.weight": -state["lin2.weight"]},
        r"shape \(1, 64": {**state, "lin1.weight": torch.ones(1, 64, 1, 1)},
        "missing key 'net.28.bias'": {k: v for k, v in state.items() if k != "net.28.bias"},
        "unexpected key 'shift'": {**state, "shift": torch.zeros(3)},
        "dtype": {**state, "lin0.weight": torch.ones(1, 64, 1, 1, dtype=torch.int64)},
    }
    for match, bad in bad_cases.items():
        with one_line(DataError, match=match):
            load_state(net, bad, source="f")
    assert torch.equal(net.state_dict()["lin0.weight"], before)  # nothing was loaded


def test_unknown_suffix_missing_and_damaged_files(tmp_path, one_line):
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    with one_line(DataError, match="not a readable safetensors file"):
        load_lpips(damaged)
    with one_line(DataError, match="unknown weights format"):
        load_lpips(tmp_path / "w.bin")
    with one_line(DataError, match="not found"):
        load_lpips(tmp_path / "absent.safetensors")


def test_convert_lpips_combines_the_published_layouts(state, tmp_path, one_line):
    vgg = {f"features.{k[4:]}": v for k, v in state.items() if k.startswith("net.")}
    vgg["classifier.6.weight"] = torch.zeros(10, 4)  # the classifier is dropped
    lin = {f"lin{k}.model.1.weight": state[f"lin{k}.weight"] for k in range(5)}
    vgg_path, lin_path = tmp_path / "vgg16-397923af.pth", tmp_path / "vgg.pth"
    out = tmp_path / "o" / "lpips.safetensors"
    torch.save(vgg, vgg_path, _use_new_zipfile_serialization=False)  # both published files predate the zip format
    torch.save(lin, lin_path, _use_new_zipfile_serialization=False)
    with one_line(DataError, match="SHA-256 is"):  # the published digests by default: these fakes are refused
        convert_lpips(vgg_path, lin_path, out)
    assert not out.exists()
    digest = convert_lpips(vgg_path, lin_path, out, vgg16_sha256=sha256(vgg_path), lin_sha256=sha256(lin_path))
    assert digest == sha256(out) and not list(out.parent.glob("*.part"))
    loaded = load_lpips(out, sha256=digest)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())


# --------------------------------------------------------------------------------------------------- PPL
class LinearStyleG(nn.Module):
    """ws[:, k] = z @ M_k (+ E[c], a large per-class offset), images = ws.flatten(1) @ A: linear, float64."""

    def __init__(self, z_dim=5, w_dim=4, num_ws=3, shape=(2, 3, 4), c_dim=0, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.z_dim, self.c_dim, self.shape = z_dim, c_dim, shape
        self.M = nn.Parameter(torch.randn(num_ws, z_dim, w_dim, generator=g, dtype=torch.float64))
        self.A = nn.Parameter(torch.randn(num_ws * w_dim, math.prod(shape), generator=g, dtype=torch.float64))
        self.E = nn.Parameter(100 * torch.randn(max(c_dim, 1), w_dim, generator=g, dtype=torch.float64))
        self.seen_training: list[bool] = []

    def mapping(self, z, c=None, truncation_psi=1.0):
        ws = torch.einsum("nz,kzw->nkw", z, self.M)
        if self.c_dim:
            ws = ws + self.E[c][:, None, :]
        return ws

    def synthesis(self, ws, noise_mode="random"):
        assert noise_mode == "const"
        self.seen_training.append(self.training)
        return (ws.flatten(1) @ self.A).view(-1, *self.shape)


class LinearZG(nn.Module):
    """A plain generator G(z) = z @ A (no mapping network); records the norms of the z it is given."""

    def __init__(self, z_dim=6, out=5, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.z_dim, self.c_dim = z_dim, 0
        self.A = nn.Parameter(torch.randn(z_dim, out, generator=g, dtype=torch.float64))
        self.norms: list[torch.Tensor] = []

    def forward(self, z):
        self.norms.append(z.norm(dim=1))
        return z @ self.A


def draws(n, batch, z_dim, c_dim, sampling, seed):
    """The documented draw order: per batch z0, z1 (randn, float32), c (randint, if c_dim), t (rand, if full)."""
    g = torch.Generator().manual_seed(seed)
    z0s, z1s, ts = [], [], []
    for start in range(0, n, batch):
        b = min(batch, n - start)
        z0s.append(torch.randn(b, z_dim, generator=g))
        z1s.append(torch.randn(b, z_dim, generator=g))
        if c_dim:
            torch.randint(0, c_dim, (b,), generator=g)
        ts.append(torch.rand(b, generator=g) if sampling == "full" else torch.zeros(b))
    return torch.cat(z0s).double(), torch.cat(z1s).double(), torch.cat(ts).double()


def closed_form_w(G: LinearStyleG, z0, z1) -> np.ndarray:
    """Linear G, pixel_l2: d/ε² = ‖A·ε(w1 - w0)‖²/(D ε²) = ‖A(w1 - w0)‖²/D for every t (labels cancel)."""
    with torch.no_grad():
        dw = torch.einsum("nz,kzw->nkw", z1 - z0, G.M).flatten(1)
        return ((dw @ G.A) ** 2).sum(1).numpy() / G.A.shape[1]


def reference_filter(v: np.ndarray) -> np.ndarray:
    s, m = np.sort(v), len(v) - 1
    lo, hi = s[math.floor(0.01 * m)], s[math.ceil(0.99 * m)]
    return v[(v >= lo) & (v <= hi)]


@pytest.mark.parametrize("sampling", ["full", "end"])
def test_w_space_linear_generator_closed_form(sampling):
    G = LinearStyleG()
    got = path_lengths(G, pixel_l2, n=50, batch=16, space="w", sampling=sampling, seed=3)
    z0, z1, _ = draws(50, 16, G.z_dim, 0, sampling, seed=3)
    np.testing.assert_allclose(got, closed_form_w(G, z0, z1), rtol=1e-7)


def test_w_space_ppl_is_the_filtered_mean_of_the_closed_form():
    G = LinearStyleG(seed=1)
    res = perceptual_path_length(G, pixel_l2, n=300, batch=64, space="w", sampling="full", seed=0)
    z0, z1, _ = draws(300, 64, G.z_dim, 0, "full", seed=0)
    kept = reference_filter(closed_form_w(G, z0, z1))
    assert len(kept) == 296  # 2 dropped at each end
    assert res["ppl"] == pytest.approx(kept.mean(), rel=1e-7)
    assert res["ppl_std"] == pytest.approx(kept.std(), rel=1e-6)
    assert set(res) == {"ppl", "ppl_std", "n"} and res["n"] == 300


def test_conditional_generator_uses_one_label_per_pair():
    """E[c] adds 100·randn to w; were the two ends given different labels, the values would explode."""
    G = LinearStyleG(c_dim=4, seed=2)
    got = path_lengths(G, pixel_l2, n=40, batch=16, space="w", sampling="full", seed=5)
    z0, z1, _ = draws(40, 16, G.z_dim, 4, "full", seed=5)
    np.testing.assert_allclose(got, closed_form_w(G, z0, z1), rtol=1e-7)


def test_generator_runs_in_eval_mode_and_is_restored():
    G = LinearStyleG().train()
    path_lengths(G, pixel_l2, n=4, batch=2)
    assert G.seen_training == [False, False] and G.training


def test_global_rng_is_untouched_and_seed_decides():
    G = LinearStyleG()
    torch.manual_seed(1)
    before = torch.get_rng_state()
    a = perceptual_path_length(G, pixel_l2, n=20, sampling="full", seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(2)
    assert perceptual_path_length(G, pixel_l2, n=20, sampling="full", seed=7) == a
    assert perceptual_path_length(G, pixel_l2, n=20, sampling="full", seed=8)["ppl"] != a["ppl"]


def test_slerp_keeps_norms_and_moves_at_constant_angle():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 8, generator=g, dtype=torch.float64), torch.randn(6, 8, generator=g, dtype=torch.float64)
    ah, bh = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    theta = torch.acos((ah * bh).sum(1))
    t = torch.rand(6, generator=g, dtype=torch.float64) * 1.4 - 0.2
    p, q = slerp(a, b, t), slerp(a, b, t + 0.1)
    torch.testing.assert_close(p.norm(dim=1), torch.ones(6, dtype=torch.float64))
    torch.testing.assert_close(torch.acos((p * q).sum(1).clamp(-1, 1)), 0.1 * theta)
    torch.testing.assert_close(slerp(a, b, 0.0), ah)
    torch.testing.assert_close(slerp(a, b, 1.0), bh)
    torch.testing.assert_close(slerp(a, a, 0.5), ah)  # no direction to turn to: stays put, no NaN
    # the textbook form: (sin((1-t)θ) â + sin(tθ) b̂) / sin θ
    textbook = (torch.sin((1 - t) * theta)[:, None] * ah + torch.sin(t * theta)[:, None] * bh)
    textbook = textbook / torch.sin(theta)[:, None]
    torch.testing.assert_close(p, textbook)


def test_z_space_plain_generator_closed_form():
    G = LinearZG()
    eps = 1e-4
    got = path_lengths(G, pixel_l2, n=30, batch=8, space="z", sampling="full", seed=4, epsilon=eps)
    norms = torch.cat(G.norms)
    torch.testing.assert_close(norms, torch.full_like(norms, math.sqrt(G.z_dim)))  # on the √z_dim shell
    z0, z1, t = draws(30, 8, G.z_dim, 0, "full", seed=4)
    a, b = z0 / z0.norm(dim=1, keepdim=True), z1 / z1.norm(dim=1, keepdim=True)
    theta = torch.acos((a * b).sum(1))

    def point(s):
        return (torch.sin((1 - s) * theta)[:, None] * a + torch.sin(s * theta)[:, None] * b) / torch.sin(theta)[:, None]

    dz = (point(t + eps) - point(t)) * math.sqrt(G.z_dim)
    want = ((dz @ G.A.detach()) ** 2).mean(1).numpy() / eps ** 2
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_z_space_style_generator_goes_through_mapping_and_synthesis():
    """For a linear mapping, z-space PPL is the same as for the composed linear map z -> image."""
    G = LinearStyleG(seed=4)
    got = path_lengths(G, pixel_l2, n=10, batch=10, space="z", sampling="end", seed=1)
    z0, z1, _ = draws(10, 10, G.z_dim, 0, "end", seed=1)
    a, b = z0 / z0.norm(dim=1, keepdim=True), z1 / z1.norm(dim=1, keepdim=True)
    theta = torch.acos((a * b).sum(1))
    tangent = (b - torch.cos(theta)[:, None] * a) / torch.sin(theta)[:, None] * theta[:, None]  # d/dt at t = 0
    with torch.no_grad():
        img = torch.einsum("nz,kzw->nkw", tangent * math.sqrt(G.z_dim), G.M).flatten(1) @ G.A
    want = (img ** 2).mean(1).numpy()  # first order in ε
    np.testing.assert_allclose(got, want, rtol=1e-3)


def test_outliers_are_filtered():
    v = np.arange(1000.0)
    np.random.default_rng(0).shuffle(v)
    kept = filter_outliers(v)
    np.testing.assert_array_equal(kept, reference_filter(v))
    assert kept.min() == 9 and kept.max() == 990 and len(kept) == 982
    assert len(filter_outliers(np.arange(50.0))) == 50  # below 100 values nothing is dropped

    calls = []

    def spiky(a, b):  # 1 everywhere, one huge outlier in the first batch
        d = torch.ones(len(a), dtype=torch.float64)
        if not calls:
            d[3] = 1e6
        calls.append(1)
        return d

    G = LinearStyleG()
    eps = 1e-2
    assert path_lengths(G, spiky, n=200, batch=64, epsilon=eps).max() == pytest.approx(1e6 / eps ** 2)
    calls.clear()
    res = perceptual_path_length(G, spiky, n=200, batch=64, epsilon=eps)
    assert res["ppl"] == pytest.approx(1 / eps ** 2) and res["ppl_std"] == 0.0


def test_non_finite_values_give_nan():
    res = perceptual_path_length(LinearStyleG(), lambda a, b: torch.full((len(a),), float("nan")), n=4)
    assert math.isnan(res["ppl"]) and math.isnan(res["ppl_std"]) and res["n"] == 4


def test_crop_and_downsample_reach_the_distance():
    class ImageG(LinearStyleG):
        def __init__(self, size):
            super().__init__(shape=(1, size, size))

    seen = []

    def recording(a, b):
        seen.append(tuple(a.shape))
        return pixel_l2(a, b)

    path_lengths(ImageG(32), recording, n=2, batch=2, crop=True)
    path_lengths(ImageG(64), recording, n=2, batch=2, max_size=32)
    path_lengths(ImageG(64), recording, n=2, batch=2, max_size=None)
    # StyleGAN2-ADA: the factor is G.img_resolution // 256, taken *before* the crop: at 512 the 256×256 crop is pooled
    # to 128 (the cropped size's factor was 1, so LPIPS saw an input twice too large)
    path_lengths(ImageG(512), recording, n=1, batch=1, crop=True)
    path_lengths(ImageG(64), recording, n=1, batch=1, crop=True, max_size=16)
    assert seen == [(2, 1, 16, 16), (2, 1, 32, 32), (2, 1, 64, 64), (1, 1, 128, 128), (1, 1, 8, 8)]
    # box downsampling by 2 is a 2×2 average: same value as pixel_l2 on pooled images
    G = ImageG(64)
    got = path_lengths(G, pixel_l2, n=3, batch=3, max_size=32, seed=2)
    z0, z1, _ = draws(3, 3, G.z_dim, 0, "end", seed=2)
    with torch.no_grad():
        dimg = (torch.einsum("nz,kzw->nkw", z1 - z0, G.M).flatten(1) @ G.A).view(3, 1, 64, 64)
    np.testing.assert_allclose(got, (F.avg_pool2d(dimg, 2) ** 2).mean((1, 2, 3)).numpy(), rtol=1e-6)


def test_ppl_with_lpips_end_to_end(model):
    class TanhG(LinearStyleG):
        def __init__(self):
            super().__init__(z_dim=8, w_dim=8, num_ws=2, shape=(3, 32, 32))

        def synthesis(self, ws, noise_mode="random"):
            return torch.tanh(super().synthesis(ws, noise_mode) * 0.1).float()

    res = perceptual_path_length(TanhG(), model, n=4, batch=2, sampling="full", epsilon=1e-2)
    assert math.isfinite(res["ppl"]) and res["ppl"] > 0 and res["n"] == 4


def test_pixel_and_feature_distances_closed_forms():
    a, b = torch.zeros(2, 3, 2, 2), torch.full((2, 3, 2, 2), 2.0)
    b[1] = 0
    np.testing.assert_array_equal(pixel_l2(a, b).numpy(), [4.0, 0.0])
    lin = nn.Linear(6, 3).double()
    d = feature_l2(from_module(lin))
    x, y = torch.randn(4, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    with torch.no_grad():
        want = ((x - y) @ lin.weight.T).pow(2).sum(1)  # the bias cancels
    torch.testing.assert_close(d(x, y), want)


def test_distance_registry(st_file, state, one_line):
    assert DISTANCES.names() == ["digits-cnn", "lpips-vgg", "pixel"]
    assert build_distance("pixel") is pixel_l2
    net = build_distance("lpips-vgg", weights=str(st_file))
    assert isinstance(net, LPIPS) and torch.equal(net.state_dict()["lin3.weight"], state["lin3.weight"])
    with one_line(ConfigError, match="needs weights"):
        build_distance("lpips-vgg")
    with one_line(ConfigError, match="choose one of: digits-cnn, lpips-vgg, pixel"):
        build_distance("lpips")
    assert perceptual_path_length(LinearStyleG(), "pixel", n=8) == perceptual_path_length(LinearStyleG(), pixel_l2, n=8)


def test_invalid_options_are_one_line_errors(one_line):
    G = LinearStyleG()
    for kwargs, match in [({"space": "x"}, "ppl.space"), ({"sampling": "mid"}, "ppl.sampling"),
                          ({"n": 0}, "ppl.n"), ({"batch": 1.5}, "ppl.batch"), ({"epsilon": 0}, "ppl.epsilon")]:
        with one_line(ConfigError, match=match):
            perceptual_path_length(G, pixel_l2, **kwargs)
    with one_line(ConfigError, match="style-based"):
        perceptual_path_length(LinearZG(), pixel_l2, space="w")
    with one_line(ConfigError, match="ppl.crop"):
        perceptual_path_length(LinearZG(), pixel_l2, space="z", crop=True, n=2)


@pytest.mark.slow  # trains the digits classifier on first use (~12 s on one core); cached for the session after
def test_digits_cnn_distance_is_squared_feature_distance():
    from gankit.metrics.features import build_extractor

    d = build_distance("digits-cnn")
    x, y = images(3, size=16, channels=1, seed=11), images(3, size=16, channels=1, seed=12)
    ext = build_extractor("digits-cnn")
    fx, fy = ext(x)["features"], ext(y)["features"]
    np.testing.assert_allclose(d(x, y).numpy(), ((fx - fy) ** 2).sum(1), rtol=1e-6)
    np.testing.assert_allclose(d(x, x).numpy(), np.zeros(3), atol=1e-9)
    torch.testing.assert_close(d(x, y), d(y, x), rtol=1e-6, atol=0.0)  # symmetric up to float32 features (batch order changes rounding)


def test_constant_noise_is_redrawn_per_batch_and_restored():
    """The reference randomizes every noise_const buffer before each batch (both ends share it); G keeps its own."""
    class NoisyG(LinearStyleG):
        def __init__(self):
            super().__init__(shape=(1, 4, 4))
            self.register_buffer("noise_const", torch.randn(1, 1, 4, 4, dtype=torch.float64))
            self.noises = []

        def synthesis(self, ws, noise_mode="random"):
            self.noises.append(self.noise_const.clone())
            return super().synthesis(ws, noise_mode) + self.noise_const

    G = NoisyG()
    own = G.noise_const.clone()
    values = path_lengths(G, pixel_l2, n=4, batch=2, seed=3)
    assert torch.equal(G.noise_const, own)
    # the documented order per batch: z0, z1, then the noise images
    g = torch.Generator().manual_seed(3)
    expected, z0s, z1s = [], [], []
    for _ in range(2):
        z0s.append(torch.randn(2, G.z_dim, generator=g))
        z1s.append(torch.randn(2, G.z_dim, generator=g))
        expected.append(torch.randn(1, 1, 4, 4, generator=g).double())
    assert all(torch.equal(a, b) for a, b in zip(G.noises, expected)) and not torch.equal(G.noises[0], G.noises[1])
    # noise is shared by both ends of a pair: the distance is the noise-free one
    np.testing.assert_allclose(values, closed_form_w(G, torch.cat(z0s).double(), torch.cat(z1s).double()), rtol=1e-9)
