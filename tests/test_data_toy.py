"""gankit.data.toy and gankit.data.batches: mixture geometry, sample statistics, exact densities, batch order."""
from __future__ import annotations

import json
import math

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import build_dataset, info_of, toy
from gankit.data.batches import TensorBatches, ToyBatches, ToySetBatches, make_batches
from gankit.data.images import ImageData
from gankit.errors import ConfigError

CPU = torch.device("cpu")


# ------------------------------------------------------------------------------------------ geometry

def test_ring_default_centres():
    m = toy.ring()
    assert m.centers.shape == (8, 2) and m.std == 0.01 and m.dim == 2 and m.num_modes == 8
    for k in range(8):
        a = 2 * math.pi * k / 8
        assert m.centers[k].tolist() == pytest.approx([math.cos(a), math.sin(a)], abs=1e-7)
    assert torch.linalg.norm(m.centers, dim=1).tolist() == pytest.approx([1.0] * 8, abs=1e-6)


@pytest.mark.parametrize("modes,radius", [(3, 1.0), (8, 2.5), (12, 0.5), (1, 1.0)])
def test_ring_parametrized(modes, radius):
    m = toy.ring(modes=modes, radius=radius, std=0.1)
    assert m.centers.shape == (modes, 2) and m.std == 0.1
    for k in range(modes):
        a = 2 * math.pi * k / modes
        assert m.centers[k].tolist() == pytest.approx([radius * math.cos(a), radius * math.sin(a)], abs=1e-6)
    # neighbouring centres are 2r·sin(π/n) apart
    if modes > 1:
        d = torch.linalg.norm(m.centers[1] - m.centers[0]).item()
        assert d == pytest.approx(2 * radius * math.sin(math.pi / modes), rel=1e-6)


def test_grid_default_centres():
    m = toy.grid()
    assert m.centers.shape == (25, 2) and m.std == 0.05
    got = {tuple(round(v, 6) for v in c) for c in m.centers.tolist()}
    assert got == {(float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


@pytest.mark.parametrize("modes,spacing", [(4, 1.0), (9, 3.0), (16, 0.5), (1, 2.0)])
def test_grid_parametrized(modes, spacing):
    m = toy.grid(modes=modes, spacing=spacing, std=0.1)
    side = math.isqrt(modes)
    coords = [(i - (side - 1) / 2) * spacing for i in range(side)]
    got = {tuple(round(v, 6) for v in c) for c in m.centers.tolist()}
    assert got == {(round(x, 6), round(y, 6)) for x in coords for y in coords}
    assert m.centers.mean(0).tolist() == pytest.approx([0.0, 0.0], abs=1e-6)


def test_grid_refuses_non_square():
    with pytest.raises(ValueError, match="square"):
        toy.grid(modes=24)


@pytest.mark.parametrize("modes,spacing,expected", [(3, 2.0, [-2, 0, 2]), (4, 1.0, [-1.5, -0.5, 0.5, 1.5]), (1, 5.0, [0])])
def test_mog1d_centres(modes, spacing, expected):
    m = toy.mog1d(modes=modes, spacing=spacing)
    assert m.centers.shape == (modes, 1) and m.std == 0.25 and m.dim == 1
    assert m.centers[:, 0].tolist() == pytest.approx(expected, abs=1e-7)


def test_mixture_refuses_bad_arguments():
    with pytest.raises(ValueError):
        toy.ToyMixture(torch.zeros(3), 0.1)
    with pytest.raises(ValueError):
        toy.ToyMixture(torch.zeros(2, 2), 0.0)


def test_dataset_builders_use_the_config():
    m = build_dataset(DataConfig(name="ring", modes=5, radius=3.0, std=0.2))
    assert m.num_modes == 5 and m.std == 0.2
    assert torch.linalg.norm(m.centers, dim=1).tolist() == pytest.approx([3.0] * 5, rel=1e-6)
    g = build_dataset(DataConfig(name="grid", spacing=1.0))  # defaults: 25 modes, std 0.05
    assert g.num_modes == 25 and g.std == 0.05 and g.centers.abs().max().item() == pytest.approx(2.0)
    info = info_of(g, "grid")
    assert info.schema == "points" and info.shape == (2,) and info.num_classes == 0 and info.std == 0.05
    assert torch.tensor(info.centers).tolist() == g.centers.tolist()


# ------------------------------------------------------------------------------------------ samples

def _per_component(m: toy.ToyMixture, n: int, seed: int):
    x = m.sample(n, torch.Generator().manual_seed(seed))
    assert x.shape == (n, m.dim) and x.dtype == torch.float32
    idx = torch.cdist(x.double(), m.centers.double()).argmin(1)
    return x.double(), idx


@pytest.mark.parametrize("make", [
    lambda: toy.ring(), lambda: toy.ring(modes=5, radius=2.0, std=0.1), lambda: toy.grid(),
    lambda: toy.grid(modes=9, spacing=1.0, std=0.02), lambda: toy.mog1d(), lambda: toy.mog1d(modes=4, spacing=3.0, std=0.4),
])
def test_sample_statistics_per_component(make):
    m = make()
    k = m.num_modes
    # at least 20k samples and 4,000 per component, so a 5% tolerance on each std is > 4 standard errors
    n = max(20000, 4000 * k)
    x, idx = _per_component(m, n, seed=1)
    counts = torch.bincount(idx, minlength=k).double()
    # equal weights: each count is Binomial(n, 1/k); 5 standard deviations
    sd = math.sqrt(n * (1 / k) * (1 - 1 / k))
    assert (counts - n / k).abs().max().item() < 5 * sd
    for j in range(k):
        xj = x[idx == j]
        # mean within 5 standard errors of the centre, std within 5% (per coordinate)
        se = m.std / math.sqrt(len(xj))
        assert (xj.mean(0) - m.centers[j].double()).abs().max().item() < 5 * se
        assert xj.std(0).tolist() == pytest.approx([m.std] * m.dim, rel=0.05)
    # pooled over components: the residual std is σ to within 1.5%
    pooled = (x - m.centers.double()[idx]).std().item()
    assert pooled == pytest.approx(m.std, rel=0.015)


def test_samples_are_seeded():
    m = toy.ring()
    a = m.sample(100, torch.Generator().manual_seed(3))
    b = m.sample(100, torch.Generator().manual_seed(3))
    c = m.sample(100, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # one generator continues its stream: two draws of 50 are not two copies of the same 50
    g = torch.Generator().manual_seed(3)
    assert not torch.equal(m.sample(50, g), m.sample(50, g))


# ------------------------------------------------------------------------------------------ density

def mixture_density(x, centers, std) -> float:
    """The equally weighted isotropic Gaussian mixture density, written out."""
    d = len(x)
    norm = (2 * math.pi * std**2) ** (-d / 2)
    return sum(norm * math.exp(-sum((xi - ci) ** 2 for xi, ci in zip(x, c)) / (2 * std**2)) for c in centers) / len(centers)


@pytest.mark.parametrize("make,points", [
    (lambda: toy.ring(std=0.3), [[0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [-0.7, 0.7], [2.0, -1.0]]),
    (lambda: toy.ring(), [[1.0, 0.0], [1.005, 0.003], [math.cos(math.pi / 4), math.sin(math.pi / 4) + 0.01]]),
    (lambda: toy.grid(std=0.5), [[0.0, 0.0], [1.0, 1.0], [-4.0, 3.3], [5.0, 5.0]]),
    (lambda: toy.mog1d(), [[0.0], [1.0], [-2.1], [3.0]]),
])
def test_log_prob_equals_the_written_out_density(make, points):
    m = make()
    centers = m.centers.double().tolist()
    lp = m.log_prob(torch.tensor(points, dtype=torch.float64))
    assert lp.shape == (len(points),)
    for p, v in zip(points, lp.tolist()):
        assert v == pytest.approx(math.log(mixture_density(p, centers, m.std)), rel=1e-9, abs=1e-9)
    # float32 input gives the same to float32 precision
    lp32 = m.log_prob(torch.tensor(points, dtype=torch.float32))
    assert lp32.dtype == torch.float32
    assert lp32.tolist() == pytest.approx(lp.tolist(), rel=1e-4, abs=1e-4)


def test_log_prob_is_finite_far_away():
    m = toy.ring()  # std 0.01: at distance 10 the density underflows, but its log does not
    lp = m.log_prob(torch.tensor([[10.0, 10.0]], dtype=torch.float64))
    assert torch.isfinite(lp).all() and lp.item() < -1e5


def test_log_prob_integrates_to_one_1d():
    m = toy.mog1d()  # centres -2, 0, 2; std 0.25
    x = torch.linspace(-6, 6, 24001, dtype=torch.float64)[:, None]
    p = m.log_prob(x).exp()
    assert torch.trapezoid(p, x[:, 0]).item() == pytest.approx(1.0, abs=1e-8)
    # first and second moments by quadrature match the mixture: mean 0, variance σ² + mean(c²) = 0.0625 + 8/3
    assert torch.trapezoid(p * x[:, 0], x[:, 0]).item() == pytest.approx(0.0, abs=1e-8)
    assert torch.trapezoid(p * x[:, 0] ** 2, x[:, 0]).item() == pytest.approx(0.0625 + 8 / 3, rel=1e-7)


def test_log_prob_integrates_to_one_2d():
    m = toy.ring(std=0.3)
    h = 0.02
    g = torch.arange(-3.0, 3.0 + h / 2, h, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    total = m.log_prob(pts).exp().sum().item() * h * h
    assert total == pytest.approx(1.0, abs=1e-4)


# ------------------------------------------------------------------------------------------ batches

def small_images(n: int = 12, classes: int = 3) -> ImageData:
    """Image i is filled with the value 10·i, its label is i % classes: both can be read back from a batch."""
    images = (torch.arange(n, dtype=torch.uint8) * 10)[:, None, None, None].expand(n, 1, 4, 4).contiguous()
    labels = torch.arange(n) % classes
    return ImageData(images, labels, [str(c) for c in range(classes)], "test")


def ids(x: torch.Tensor) -> list[int]:
    """Which image each row of a float batch is (pixels were 10·i, now in [-1, 1])."""
    v = ((x + 1) * 127.5).round().to(torch.int64)
    assert (v == v[:, :1, :1, :1]).all()  # each image is constant
    assert (v[:, 0, 0, 0] % 10 == 0).all()
    return (v[:, 0, 0, 0] // 10).tolist()


def draw(src, k: int) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """k batches as (x, label or None) pairs."""
    return [(b.x, b.get("label")) for b in (src.next() for _ in range(k))]


def test_tensor_batches_every_image_once_per_epoch():
    data = small_images(12)
    src = TensorBatches(data, 3, CPU, seed=0)
    epochs = []
    for _ in range(4):
        seen = []
        for x, y in draw(src, 4):
            assert x.shape == (3, 1, 4, 4) and x.dtype == torch.float32
            assert x.min() >= -1 and x.max() <= 1
            i = ids(x)
            assert y.tolist() == [j % 3 for j in i]  # labels stay with their images
            seen += i
        assert sorted(seen) == list(range(12))
        epochs.append(seen)
    assert len({tuple(e) for e in epochs}) == 4  # a fresh order every epoch
    assert src.epoch == 3


def test_tensor_batches_drop_the_incomplete_batch():
    src = TensorBatches(small_images(10), 3, CPU, seed=1)
    for _ in range(3):
        seen = [j for x, _ in draw(src, 3) for j in ids(x)]
        assert len(seen) == len(set(seen)) == 9  # no repeats within an epoch; one image left out


def test_tensor_batches_without_labels():
    data = small_images(6)
    data.labels = None
    b = TensorBatches(data, 2, CPU, seed=0).next()
    assert set(b) == {"x"} and b.get_label() is None and b.x.shape == (2, 1, 4, 4)


def test_tensor_batches_refuse_a_batch_larger_than_the_data():
    with pytest.raises(ConfigError) as info:
        TensorBatches(small_images(5), 8, CPU, seed=0)
    assert "\n" not in str(info.value) and "train.batch_size" in str(info.value)


def test_tensor_batches_seeded_order():
    a = [ids(x) for x, _ in draw(TensorBatches(small_images(), 3, CPU, seed=5), 10)]
    b = [ids(x) for x, _ in draw(TensorBatches(small_images(), 3, CPU, seed=5), 10)]
    c = [ids(x) for x, _ in draw(TensorBatches(small_images(), 3, CPU, seed=6), 10)]
    assert a == b and a != c


@pytest.mark.parametrize("k,m", [(0, 5), (2, 7), (4, 1), (5, 9), (11, 3)])
def test_tensor_batches_resume_exactly(k, m):
    src = TensorBatches(small_images(), 3, CPU, seed=2)
    draw(src, k)
    state = json.loads(json.dumps(src.state_dict()))  # the state is plain JSON
    expected = draw(src, m)
    other = TensorBatches(small_images(), 3, CPU, seed=99)  # a different seed: the state alone decides
    other.load_state_dict(state)
    got = draw(other, m)
    for (xa, ya), (xb, yb) in zip(expected, got):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


@pytest.mark.parametrize("k,m", [(0, 4), (3, 5)])
def test_toy_batches_resume_exactly(k, m):
    mix = toy.grid()
    src = ToyBatches(mix, 16, CPU, seed=1)
    first = draw(src, k)
    state = json.loads(json.dumps(src.state_dict()))
    expected = draw(src, m)
    other = ToyBatches(mix, 16, CPU, seed=123)
    other.load_state_dict(state)
    got = draw(other, m)
    for (xa, ya), (xb, yb) in zip(expected, got):
        assert ya is None and yb is None and xa.shape == (16, 2)
        assert torch.equal(xa, xb)
    # and the stream itself is seeded
    again = draw(ToyBatches(mix, 16, CPU, seed=1), k + m)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(again, first + expected))


def _fixed(size: int) -> toy.ToyMixture:
    return build_dataset(DataConfig(name="ring", size=size))


def test_fixed_toy_set_every_point_once_per_epoch_and_the_same_points_every_epoch():
    src = make_batches(_fixed(64), 16, CPU, seed=3)
    assert isinstance(src, ToySetBatches) and src.points.shape == (64, 2)
    epochs = [torch.cat([src.next()["x"] for _ in range(4)]) for _ in range(2)]
    for e in epochs:  # each epoch is a permutation of the 64 points drawn once
        assert sorted(map(tuple, e.tolist())) == sorted(map(tuple, src.points.tolist()))
    assert not torch.equal(epochs[0], epochs[1])  # in a fresh order
    # the points are the mixture's: every one within 6 std of a ring centre
    assert torch.cdist(src.points, _fixed(64).centers).min(dim=1).values.max() < 6 * 0.01
    # the same seed draws the same set; another seed another set
    assert torch.equal(make_batches(_fixed(64), 16, CPU, seed=3).points, src.points)
    assert not torch.equal(make_batches(_fixed(64), 16, CPU, seed=4).points, src.points)


def test_fixed_toy_set_resumes_exactly_and_refuses_a_set_smaller_than_a_batch():
    src = make_batches(_fixed(48), 16, CPU, seed=1)
    draw(src, 4)  # into the second epoch
    state = json.loads(json.dumps(src.state_dict()))
    expected = draw(src, 5)
    other = make_batches(_fixed(48), 16, CPU, seed=1)
    other.load_state_dict(state)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(expected, draw(other, 5)))
    with pytest.raises(ConfigError, match="data.size: 8 points are fewer than train.batch_size 16"):
        make_batches(_fixed(8), 16, CPU, seed=0)


def test_make_batches_picks_the_source():
    assert isinstance(make_batches(toy.ring(), 4, CPU, 0), ToyBatches)
    assert isinstance(make_batches(small_images(), 4, CPU, 0), TensorBatches)
