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
    assert close["overlap"] == pytest.approx(2 * norm.cdf(-math.sin(math.pi / 32) / 0.08), rel=1e-6)  # centres are float32 and close["overlap"] > ring["overlap"]
    assert main(["difficulty", "grid", "data.modes=9", "--n", "500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["modes"] == 9 and out["floor_modes"] == 9
    assert main(["difficulty", "table", "--no-floor"]) == 2
