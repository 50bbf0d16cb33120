"""D under attack: FGSM, PGD, the Lipschitz estimate and the accidental-attack ratio against closed forms on a linear D,
and the training probe (events logged, training unchanged)."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import gankit
from gankit.metrics.robustness import accidental_attack, fgsm_shift, lipschitz_estimate, pgd_shift, probe


class LinearD(nn.Module):
    """D(x) = w·x + b on flattened inputs."""

    def __init__(self, dim: int, seed: int = 0) -> None:
        super().__init__()
        self.lin = nn.Linear(dim, 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.randn(1, dim, generator=torch.Generator().manual_seed(seed)))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.lin(x.flatten(1)).squeeze(1)


def test_fgsm_on_a_linear_d_moves_the_logit_by_eps_times_the_l1_norm():
    D = LinearD(12)
    w = D.lin.weight.detach()[0]
    x = torch.randn(5, 3, 2, 2)
    eps = 0.03
    torch.testing.assert_close(fgsm_shift(D, x, eps, +1.0), torch.full((5,), eps * float(w.abs().sum())))
    torch.testing.assert_close(fgsm_shift(D, x, eps, -1.0), torch.full((5,), -eps * float(w.abs().sum())))
    # the L∞ maximum of a linear score is that corner: PGD reaches it and no further
    torch.testing.assert_close(pgd_shift(D, x, eps, +1.0), torch.full((5,), eps * float(w.abs().sum())))
    torch.testing.assert_close(lipschitz_estimate(D, x), torch.full((5,), float(w.norm())))


def test_accidental_attack_ratio_is_one_along_the_gradient_and_zero_across_it():
    D = LinearD(4)
    w = D.lin.weight.detach()[0]
    before = torch.randn(6, 4)
    along = before + 0.2 * w / w.norm()
    assert accidental_attack(D, before, along)["g_ratio"] == pytest.approx(1.0, rel=1e-5)
    across = torch.zeros(4)
    across[0], across[1] = w[1], -w[0]  # orthogonal to w
    out = accidental_attack(D, before, before + 0.2 * across / across.norm())
    assert abs(out["g_ratio"]) < 1e-5 and out["g_step"] == pytest.approx(0.2, rel=1e-5)


def test_probe_reports_both_sides():
    D = LinearD(2)
    out = probe(D, torch.randn(8, 2), torch.randn(8, 2), 0.1)
    l1 = float(D.lin.weight.detach().abs().sum())
    assert out["fgsm_real"] == pytest.approx(-0.1 * l1, rel=1e-5) and out["fgsm_fake"] == pytest.approx(0.1 * l1, rel=1e-5)


def test_training_probe_logs_events_and_changes_nothing(tmp_path, no_report):
    over = ["train.steps=6", "train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=1000",
            "train.checkpoint_every=1000"]
    gankit.train("ring", out=tmp_path / "plain", overrides=over)
    gankit.train("ring", out=tmp_path / "probed", overrides=[*over, "trick.probe_adversarial=2", "trick.probe_eps=0.05"])
    a, b = (load_file(tmp_path / r / "generator" / "model.safetensors") for r in ("plain", "probed"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # probing does not touch training
    events = [json.loads(line) for line in (tmp_path / "probed" / "metrics.jsonl").read_text().splitlines()]
    probes = [e for e in events if e["event"] == "adversarial" and "fgsm_real" in e]
    follow = [e for e in events if e["event"] == "adversarial" and "g_ratio" in e]
    assert [e["step"] for e in probes] == [2, 4, 6] and [e["since_step"] for e in follow] == [2, 4]
    assert all(e["fgsm_real"] <= 0 <= e["fgsm_fake"] and e["pgd_fake"] >= e["fgsm_fake"] - 1e-6 for e in probes)
