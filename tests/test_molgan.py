"""Molecules as graphs and MolGAN: round trips through RDKit, the networks' invariants, the objective's closed forms,
and a short run end to end (train, sample, evaluate)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.data.molecules import MolBatches, MolVocab, bundled_smiles, decode, encode, load_molecules, prepare
from gankit.errors import DataError
from gankit.models.molgan import Discriminator, Generator
from gankit.tasks.molgan import categorical, molgan_penalty, relax, reward_of, symmetric_draw


def test_every_bundled_molecule_survives_encode_decode():
    data = load_molecules(None, 9, "all")
    assert len(data) == 431 and len(bundled_smiles(9)) == 431  # RDKit's NCI first_5K: one fragment, ≤ 9 heavy atoms of C, N, O, F
    assert data.vocab.atoms == (("C", 0), ("N", 0), ("N", 1), ("O", 0), ("O", -1), ("F", 0))  # nitro groups keep N⁺ and O⁻
    back = [decode(n, e, data.vocab) for n, e in zip(data.nodes, data.edges)]
    assert back == data.smiles
    assert (data.edges == data.edges.transpose(0, 2, 1)).all() and not np.diagonal(data.edges, axis1=1, axis2=2).any()
    assert len(load_molecules(None, 9, "train")) + len(load_molecules(None, 9, "test")) == 431


def test_decode_counts_failures_instead_of_raising():
    from rdkit import Chem

    vocab = MolVocab((("C", 0), ("O", 0)), 4)
    nodes, edges = encode(Chem.MolFromSmiles("CCO"), vocab)
    assert decode(nodes, edges, vocab) == "CCO"
    five = np.array([1, 1, 1, 1]), np.zeros((4, 4), np.int64)
    five[1][0, 1:] = five[1][1:, 0] = 3  # a carbon with three triple bonds: valence 9
    assert decode(*five, vocab) is None
    apart = np.array([1, 1, 0, 0]), np.zeros((4, 4), np.int64)  # two carbons, no bond: two fragments
    assert decode(*apart, vocab) is None and decode(np.zeros(4, np.int64), np.zeros((4, 4), np.int64), vocab) is None


def test_user_files_and_what_is_dropped(tmp_path):
    smi = tmp_path / "m.smi"
    smi.write_text("smiles\nCCO ethanol\nnot-a-molecule\nCCCCCCCCCCCC\nCC.O\nc1ccccc1\n")
    data = load_molecules(str(smi), 9, "all")
    assert data.smiles == ["CCO", "c1ccccc1"] and data.dropped == {"unparseable": 1, "too many atoms": 1, "several fragments": 1}
    csv = tmp_path / "m.csv"
    csv.write_text("SMILES,SPLIT\nCCO,train\nCCN,train\n")
    assert load_molecules(str(csv), 9, "all").smiles == ["CCO", "CCN"]
    from rdkit import Chem

    with Chem.SDWriter(str(tmp_path / "m.sdf")) as w:  # an SD file: its records' molecules, the broken one counted
        for smi in ("CCO", "c1ccccc1O", "CCCCCCCCCCCC"):
            w.write(Chem.MolFromSmiles(smi))
    with (tmp_path / "m.sdf").open("a") as f:
        f.write("broken\n  RDKit\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n$$$$\n")
    sdf = load_molecules(str(tmp_path / "m.sdf"), 9, "all")
    assert sdf.smiles == ["CCO", "Oc1ccccc1"] and sdf.dropped == {"unparseable": 1, "too many atoms": 1}
    (tmp_path / "bad.csv").write_text("name\nx\n")
    with pytest.raises(DataError, match="no 'smiles' column"):
        load_molecules(str(tmp_path / "bad.csv"), 9, "all")
    assert prepare(["CCO"], 9)[1].atoms == (("C", 0), ("O", 0))


def test_batches_are_one_hot_and_the_elite_pool_resumes():
    data = load_molecules(None, 9, "all")
    b = MolBatches(data, 32, torch.device("cpu"), seed=0)
    batch = b.next()
    assert batch["edges"].shape == (32, 9, 9, 4) and batch["nodes"].shape == (32, 9, 7)
    assert torch.equal(batch["edges"].sum(-1), torch.ones(32, 9, 9)) and torch.equal(batch["x"], batch["nodes"])
    b.add(torch.from_numpy(data.nodes[:3]), torch.from_numpy(data.edges[:3]))
    state = json.loads(json.dumps(b.state_dict()))
    c = MolBatches(data, 32, torch.device("cpu"), seed=0)
    c.load_state_dict(state)
    assert len(c.nodes) == 434 and all(torch.equal(b.next()["edges"], c.next()["edges"]) for _ in range(20))


def test_generator_is_symmetric_and_the_critic_ignores_atom_order():
    torch.manual_seed(0)
    G, D = Generator(z_dim=8, atoms=9, atom_types=7, bond_types=4), Discriminator(atom_types=7, bond_types=4, minibatch=False)
    e, n = G(torch.randn(5, 8))
    assert e.shape == (5, 9, 9, 4) and n.shape == (5, 9, 7) and torch.allclose(e, e.transpose(1, 2))
    edges, nodes = e.softmax(-1), n.softmax(-1)
    perm = torch.randperm(9)
    permuted = D(edges[:, perm][:, :, perm], nodes[:, perm])
    assert torch.allclose(D(edges, nodes), permuted, atol=1e-5)  # a graph network: relabelling atoms changes nothing
    V = Discriminator(atom_types=7, bond_types=4, sigmoid=True)
    assert ((V(edges, nodes) > 0) & (V(edges, nodes) < 1)).all()


def test_penalty_of_a_linear_critic_is_its_closed_form():
    """D(e, n) = Σ we·e + Σ wn·n has ∂D/∂e_ij = we_ij and ∂D/∂n_i = wn_i everywhere: the penalty is
    mean_ij (1 − ‖we_ij‖)² + mean_i (1 − ‖wn_i‖)² whatever the graphs."""
    torch.manual_seed(1)
    we, wn = torch.randn(4, 4, 3), torch.randn(4, 5)

    class Linear(torch.nn.Module):
        def forward(self, e, n):
            return (e * we).sum((1, 2, 3)) + (n * wn).sum((1, 2))

    real = (torch.rand(6, 4, 4, 3), torch.rand(6, 4, 5))
    fake = (torch.rand(6, 4, 4, 3), torch.rand(6, 4, 5))
    want = (1 - we.norm(dim=-1)).pow(2).mean() + (1 - wn.norm(dim=-1)).pow(2).mean()
    assert torch.allclose(molgan_penalty(Linear(), real, fake), want.expand(6), atol=1e-6)


def test_reward_gradient_reaches_G_only_through_the_relaxed_graph():
    torch.manual_seed(2)
    G, V = Generator(z_dim=4, atoms=5, atom_types=4, bond_types=4), Discriminator(atom_types=4, bond_types=4, sigmoid=True)
    e, n = G(torch.randn(8, 4))
    for how in ("softmax", "gumbel", "hard-gumbel"):
        G.zero_grad()
        (-V(relax(e, how, 1.0), relax(n, how, 1.0)).mean()).backward(retain_graph=True)
        assert G.edges.weight.grad.abs().sum() > 0 and G.nodes.weight.grad.abs().sum() > 0
    hard = symmetric_draw(e), categorical(n)  # the molecules the oracle scores: integers, no gradient path
    assert not hard[0].requires_grad and hard[0].dtype == torch.int64
    assert reward_of(["CCO", None], ["validity"]).tolist() == [1.0, 0.0]


def test_categorical_draws_follow_the_softmax():
    logits = torch.tensor([[0.0, 1.0, -1.0]]).expand(20000, 3)
    counts = torch.bincount(categorical(logits, torch.Generator().manual_seed(0)), minlength=3).double() / 20000
    assert torch.allclose(counts, logits[0].double().softmax(0), atol=0.01)
    e = symmetric_draw(torch.randn(3, 5, 5, 4), torch.Generator().manual_seed(1))
    assert torch.equal(e, e.transpose(1, 2)) and not torch.diagonal(e, dim1=1, dim2=2).any()


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("molgan") / "run"
    over = ["train.steps=12", "train.log_every=6", "train.sample_every=12", "train.checkpoint_every=12", "eval.every=0",
            "eval.metrics=[]", "molgan.rl_start=4", "molgan.replay=64", "molgan.elite_every=6", "molgan.elite_pool=200",
            "model.minibatch=true", "train.progress=false"]
    assert main(["train", "--preset", "molgan", "--out", str(out), *over]) == 0
    return out


def test_a_short_run_trains_samples_and_scores(short_run, tmp_path, capsys):
    events = [json.loads(l) for l in (short_run / "metrics.jsonl").read_text().splitlines()]
    elite = [e for e in events if e["event"] == "elite"]
    assert [e["step"] for e in elite] == [6, 12] and all(0 <= e["added"] <= 2 for e in elite)
    logs = [e for e in events if e["event"] == "log"]
    assert logs and "loss_rl" in logs[-1] and "reward_fake" in logs[-1]
    smi = (short_run / "samples" / "step0000012.smi").read_text().splitlines()
    assert len(smi) == 64 and (short_run / "samples" / "step0000012.png").is_file()
    for suffix in (".smi", ".csv", ".png"):
        assert main(["sample", str(short_run), "--n", "20", "--out", str(tmp_path / f"m{suffix}")]) == 0
    import pandas as pd

    table = pd.read_csv(tmp_path / "m.csv")
    assert list(table.columns) == ["smiles", "valid", "qed", "sa", "logp"] and len(table) == 20
    assert ((table["qed"] > 0) | ~table["valid"]).all()
    capsys.readouterr()
    assert main(["evaluate", str(short_run), "--metrics", "molecules", "--n", "200", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert 0 <= got["valid"] <= 1 and got["n_fake"] == 200 and got["n_real"] == 431
    assert main(["report", str(short_run)]) == 0
    page = (short_run / "report.html").read_text()
    assert "molecules: training vs generated" in page and "not rendered" not in page
    import gankit

    pipe = gankit.load(short_run)
    assert pipe(10, seed=3) == pipe(10, seed=3) and len(pipe(10)) == 10


@pytest.mark.parametrize("argv, match", [
    (["train", "--preset", "molgan", "data.name=digits"], "molgan generates"),
    (["train", "--preset", "digits", "data.name=molecules"], "use task.name=molgan"),
    (["train", "--preset", "molgan", "molgan.reward=potency"], "molgan.reward"),
    (["evaluate", "--samples", "x.npy", "--against", "molecules", "--metrics", "fid"], ""),
])
def test_bad_molecule_configs_are_one_line_errors(argv, match, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "r")] if argv[0] == "train" else argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


def test_python_facade_fits_a_list_and_a_registered_reward_steers_nothing_invalid(tmp_path):
    from gankit.data.molecules import bundled_smiles
    from gankit.molecules import MolGAN, register_reward
    from gankit.tasks.molgan import REWARDS

    calls = []
    register_reward("heavy", lambda s: calls.append(s) or min(1.0, len(s) / 20))
    assert REWARDS["heavy"](None) == 0.0 and calls == []  # an invalid molecule never reaches the user's function
    model = MolGAN(steps=3, seed=0, la=0.5, reward="heavy", rl_start=0, out=tmp_path, overrides=["train.batch_size=8",
                   "train.progress=false", "eval.metrics=[]"]).fit(list(bundled_smiles(9)[:40]))
    assert (tmp_path / "data" / "molecules.smi").read_text().count("\n") == 40 and calls  # V learned from the user's reward
    assert len(model.sample(7)) == 7 and model.evaluate(n=50)["n_real"] == 40


def test_user_files_are_read_as_text_never_unpickled(tmp_path, capsys):
    import gzip
    import pickle

    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "m.smi").write_bytes(pickle.dumps(Evil()))
    assert main(["train", "--preset", "molgan", f"data.path={tmp_path / 'm.smi'}", "--out", str(tmp_path / "r")]) == 2
    assert not marker.exists() and len(capsys.readouterr().err.strip().splitlines()) == 1
    with gzip.open(tmp_path / "train.csv.gz", "wt") as f:  # the MOSES splits' format
        f.write("SMILES,SPLIT\nCCO,train\nc1ccncc1,train\n")
    assert load_molecules(str(tmp_path / "train.csv.gz"), 9, "all").smiles == ["CCO", "c1ccncc1"]
    with pytest.raises(DataError, match="moses:train"):
        load_molecules("moses:valid", 9, "all")


def test_resume_is_bitwise_with_replay_elite_and_the_reward(tmp_path):
    """12 steps straight == 6 steps, then --resume to 12: the replay buffer and the elite additions are part of the state."""
    from safetensors.torch import load_file

    args = ["train.batch_size=8", "train.log_every=3", "train.sample_every=6", "train.checkpoint_every=6", "eval.metrics=[]",
            "molgan.rl_start=2", "molgan.replay=40", "molgan.elite_every=4", "molgan.elite_pool=60", "molgan.elite_fraction=0.05",
            "model.g_dims=[16]", "model.d_conv=[8]", "model.d_aggregate=8", "model.d_dims=[8]", "train.progress=false",
            "health.monitor=false"]
    assert main(["train", "--preset", "molgan", "--out", str(tmp_path / "a"), *args, "train.steps=12"]) == 0
    assert main(["train", "--preset", "molgan", "--out", str(tmp_path / "b"), *args, "train.steps=6"]) == 0
    assert main(["train", "--resume", str(tmp_path / "b"), "train.steps=12"]) == 0
    a, b = tmp_path / "a" / "checkpoints" / "12", tmp_path / "b" / "checkpoints" / "12"
    for name in ("G", "D", "V", "G_ema", "state"):
        wa, wb = load_file(a / f"{name}.safetensors"), load_file(b / f"{name}.safetensors")
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), name
    ja, jb = json.loads((a / "state.json").read_text()), json.loads((b / "state.json").read_text())
    assert ja["batches"] == jb["batches"] and ja["objective"] == jb["objective"] and len(ja["objective"]["replay_edges"]) == 40
    elite = [[(e["step"], e["added"]) for e in map(json.loads, (r / "metrics.jsonl").read_text().splitlines()) if e["event"] == "elite"]
             for r in (tmp_path / "a", tmp_path / "b")]
    assert elite[0] == elite[1] and [s for s, _ in elite[0]] == [4, 8, 12]
    assert len(ja["batches"]["added_nodes"]) == sum(k for _, k in elite[0])


def test_vun_is_the_fraction_of_samples_that_are_valid_distinct_and_new():
    from gankit.metrics.evaluate import METRICS

    fake = ["CCO", "OCC", "CCN", "c1ccccc1", None, "C1CC", "CCCC", "CCCC"]  # 8 samples; valid distinct: CCO, CCN, benzene, butane
    got = METRICS.get("molecules").fn({"fake": fake, "real": ["CCO", "c1ccccc1"], "seed": 0})
    assert got["valid"] == pytest.approx(6 / 8) and got["unique"] == pytest.approx(4 / 6) and got["novel"] == pytest.approx(2 / 4)
    assert got["vun"] == pytest.approx(2 / 8)  # CCN and CCCC are the only new molecules: 2 of the 8 samples
    assert METRICS.get("molecules").primary == "vun"
