"""gankit difficulty: the descriptors against closed forms and known datasets."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from gankit.cli import main
from gankit.config import data_config
from gankit.difficulty import class_balance, describe, mixture_overlap, neighbour_overlap


def test_mixture_overlap_closed_form():
    # two centres 1 apart, σ = 0.5: a sample passes the midpoint (0.5 away, one σ) with probability Φ(−1), twice that
    assert mixture_overlap(np.array([[0.0, 0.0], [1.0, 0.0]]), 0.5) == pytest.approx(2 * norm.cdf(-1.0), rel=1e-12)
    # the smallest distance decides: a far third centre changes nothing
    assert mixture_overlap(np.array([[0.0, 0.0], [1.0, 0.0], [9.0, 9.0]]), 0.5) == pytest.approx(2 * norm.cdf(-1.0), rel=1e-12)


def test_class_balance_is_normalized_entropy():
    assert class_balance(np.array([0, 1, 2, 3] * 5), 4) == pytest.approx(1.0)
    labels = np.array([0] * 9 + [1])
    assert class_balance(labels, 2) == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) / math.log(2))


def test_neighbour_overlap_separable_and_mixed():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (200, 3)), rng.normal(50, 1, (200, 3))
    labels = np.r_[np.zeros(200, int), np.ones(200, int)]
    assert neighbour_overlap(np.r_[a, b], labels) == 0.0
    same = rng.normal(0, 1, (400, 3))  # two classes from one distribution: about half the neighbours disagree
    assert neighbour_overlap(same, labels) == pytest.approx(0.5, abs=0.06)


def test_descriptors_of_the_toys_follow_their_construction(capsys):
    ring = describe(data_config({"name": "ring"}), n=1000, floor=False)
    assert ring["modes"] == 8 and ring["dimension"] == 2 and abs(ring["id_twonn"] - 2) < 0.2
    # 8 centres on the unit circle are 2·sin(π/8) apart; the cloud's RMS distance from its mean is √(1 + 2σ²) ≈ 1
    assert ring["separation"] == pytest.approx(2 * math.sin(math.pi / 8) / 0.01, rel=1e-6)
    assert ring["relative_width"] == pytest.approx(0.01 / math.sqrt(1 + 2 * 0.01**2), rel=0.01)
    close = describe(data_config({"name": "ring", "modes": 32, "std": 0.08}), n=1000, floor=False)
    # 32 centres on the unit circle are 2·sin(π/32) = 0.196 apart: with σ 0.08 the overlap is 2Φ(−0.098/0.08)
    assert close["overlap_gauss"] == pytest.approx(2 * norm.cdf(-math.sin(math.pi / 32) / 0.08), rel=1e-6)  # centres are float32
    # the kNN overlap of neighbouring components sits above the Gaussian one (a neighbour may come from either side)
    assert close["overlap"] > close["overlap_gauss"] and ring["overlap"] == 0.0
    assert main(["difficulty", "grid", "data.modes=9", "--n", "500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["modes"] == 9 and out["floor_modes"] == 9
    assert main(["difficulty", "table", "--no-floor"]) == 2


def test_toys_in_more_dimensions_keep_their_centres_and_gain_intrinsic_dimension():
    import torch

    from gankit.data import build_dataset

    flat = build_dataset(data_config({"name": "ring", "std": 0.05}))
    deep = build_dataset(data_config({"name": "ring", "std": 0.05, "dim": 8}))
    assert deep.centers.shape == (8, 8) and torch.equal(deep.centers[:, :2], flat.centers) and not deep.centers[:, 2:].any()
    x, comp = deep.sample_labelled(500, torch.Generator().manual_seed(3))
    assert torch.equal(x, deep.sample(500, torch.Generator().manual_seed(3)))  # the same draws, with their components
    assert ((x - deep.centers[comp]).norm(dim=1) / 0.05).pow(2).mean().item() == pytest.approx(8, rel=0.1)  # χ²₈ / 8 per coordinate
    d = describe(data_config({"name": "ring", "std": 0.05, "dim": 8}), n=2000, floor=False)
    assert d["id_twonn"] == pytest.approx(8, rel=0.1) and d["dimension"] == 8 and d["overlap"] == 0.0
    assert main(["difficulty", "ring", "data.dim=1", "--no-floor"]) == 2


def test_class_subsets_relabel_in_the_order_given():
    from gankit.data import build_dataset
    from gankit.errors import ConfigError

    full = build_dataset(data_config({"name": "digits"}))
    sub = build_dataset(data_config({"name": "digits", "classes": [7, 3]}))
    assert sub.class_names == ["7", "3"] and len(sub) == int(((full.labels == 7) | (full.labels == 3)).sum())
    assert torch_equal(sub.images[sub.labels == 0], full.images[full.labels == 7])
    d = describe(data_config({"name": "digits", "classes": [0, 1, 2]}), n=2000, floor=False)
    assert d["modes"] == 3 and d["mode_balance"] > 0.99
    for bad in ([3, 3], [10]):
        with pytest.raises(ConfigError, match="data.classes"):
            build_dataset(data_config({"name": "digits", "classes": bad}))


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a, b)


def test_prediction_refuses_a_preset_the_fit_did_not_train(capsys):
    from gankit.difficulty import load_fit

    fit = load_fit()
    assert {"ring", "grid", "digits"} <= set(fit["presets"]) and fit["targets"]["coverage"]["datasets"] >= 20
    assert main(["difficulty", "ring", "--no-floor", "--n", "500", "--preset", "cifar10"]) == 2
    assert "no difficulty fit for 'cifar10'" in capsys.readouterr().err
    assert main(["difficulty", "ring", "data.modes=16", "--no-floor", "--n", "500", "--preset", "ring", "--json"]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["predicted_coverage"] <= 1.0
