"""MolGAN on a few hundred molecules, side by side in one run (issue 21): λ, the collapse remedies, and two non-GAN
baselines, each over ``--seeds`` seeds, scored by ``--metrics molecules`` on the same number of samples.

Rows (all on RDKit's bundled 431 molecules, the ``molgan`` preset's schedule, z of 8 dimensions as in the authors'
example unless stated):

* MolGAN λ = 1 (no reward), λ = 0.5 and λ = 0 (reward QED);
* λ = 0.5 with each remedy for collapse on: D's batch discriminator, experience replay (the last 2,000 graphs, half of
  D's fake batch), the elite-sample loop (the top 1 % of 1,000 samples by QED joins the data every 100 steps), and all
  three together;
* λ = 0.5 with what D sees of G's graphs changed (straight-through one-hot samples, Gumbel-softmax samples instead of
  the authors' softmax), with the paper's 32-dimensional z instead of the authors' example's 8 (alone and with the batch
  discriminator), and with z of 128;
* **random graphs under valence rules**: as many heavy atoms as a training molecule drawn at random, atom types from
  the data's frequencies, a random spanning tree then random extra bonds, every bond order allowed by the atoms'
  remaining valences (no learning: what validity and novelty cost nothing);
* **CharRNN**: a character-level LSTM on SMILES (one layer of 256 units, about MolGAN G's parameter count), trained
  by teacher forcing for the same wall-clock budget as the λ = 0.5 MolGAN, sampled at temperature 1.

Published anchors for context (different data: QM9 has 134k molecules): MolGAN on QM9 (valid 98.1 %, unique 10.4 %,
novel 94.2 %); MOSES's CharRNN (valid 0.975, unique@10k 0.999, novelty 0.842, IntDiv 0.856) and LatentGAN (valid
0.897, novelty 0.950).

    python benchmarks/molecules.py [--seeds 3] [--steps 1500] [--n 2000] [--threads 1] [--from-rows]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "benchmarks" / "rows" / "molecules.jsonl"
PAGE = ROOT / "docs" / "benchmarks" / "molecules.md"
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]
VARIANTS = {
    "MolGAN λ=1 (no RL)": ["molgan.la=1.0"],
    "MolGAN λ=0.5": ["molgan.la=0.5"],
    "MolGAN λ=0 (RL only)": ["molgan.la=0.0"],
    "λ=0.5 + batch discriminator": ["molgan.la=0.5", "model.minibatch=true"],
    "λ=0.5 + experience replay": ["molgan.la=0.5", "molgan.replay=2000", "molgan.replay_fraction=0.5"],
    "λ=0.5 + elite samples": ["molgan.la=0.5", "molgan.elite_every=100", "molgan.elite_pool=1000", "molgan.elite_fraction=0.01"],
    "λ=0.5 + all three remedies": ["molgan.la=0.5", "model.minibatch=true", "molgan.replay=2000", "molgan.replay_fraction=0.5",
                                   "molgan.elite_every=100", "molgan.elite_pool=1000", "molgan.elite_fraction=0.01"],
    "λ=0.5, D sees hard samples (straight-through)": ["molgan.la=0.5", "molgan.output=hard-gumbel"],
    "λ=0.5, D sees Gumbel-softmax samples": ["molgan.la=0.5", "molgan.output=gumbel"],
    "λ=0.5, z 32 (the paper's)": ["molgan.la=0.5", "model.z_dim=32"],
    "λ=0.5, z 32 + batch discriminator": ["molgan.la=0.5", "model.z_dim=32", "model.minibatch=true"],
    "λ=0.5, z 128": ["molgan.la=0.5", "model.z_dim=128"],
}
BASELINES = ("random graphs (valence rules)", "CharRNN (SMILES LSTM)")
SHOWN = ("vun", "valid", "unique", "novel", "qed", "sa", "logp_w1", "intdiv1", "frag", "scaf1")


def molgan_row(name: str, over: list[str], seed: int, steps: int, n: int) -> dict:
    import gankit
    from gankit.evaluation import evaluate_run

    with tempfile.TemporaryDirectory() as tmp:
        summary = gankit.train("molgan", out=Path(tmp) / "run", overrides=[*QUIET, "model.z_dim=8", *over, f"train.steps={steps}",
                                                                         f"train.seed={seed}"])
        got = evaluate_run(Path(tmp) / "run", ["molecules"], n, seed=seed, log=False)
    return {"variant": name, "seed": seed, "steps": steps, "train_s": summary["wall_s"], **{k: got[k] for k in got if k in SCORES}, "n": n}


# --------------------------------------------------------------------------- baseline 1: random graphs under valence rules


def random_valence_smiles(train: list[str], n: int, seed: int) -> list[str | None]:
    """n molecules drawn without learning: atom count and atom types from the data's frequencies, a random spanning tree,
    then random extra bonds; each bond's order is drawn among those both atoms' remaining valences allow."""
    import numpy as np
    from rdkit import Chem

    rng = np.random.default_rng(seed)
    mols = [Chem.MolFromSmiles(s) for s in train]
    sizes = [m.GetNumHeavyAtoms() for m in mols]
    kinds = [(a.GetSymbol(), a.GetFormalCharge()) for m in mols for a in m.GetAtoms()]
    types, counts = np.unique(np.array([f"{s}|{c}" for s, c in kinds]), return_counts=True)
    table = Chem.GetPeriodicTable()
    out: list[str | None] = []
    for _ in range(n):
        k = int(rng.choice(sizes))
        atoms = [t.split("|") for t in rng.choice(types, size=k, p=counts / counts.sum())]
        cap = [table.GetDefaultValence(s) + int(c) if s == "N" else table.GetDefaultValence(s) - abs(int(c)) for s, c in atoms]
        left = list(cap)
        rw = Chem.RWMol()
        for s, c in atoms:
            a = Chem.Atom(s)
            a.SetFormalCharge(int(c))
            rw.AddAtom(a)
        bonds: dict[tuple[int, int], int] = {}
        order = rng.permutation(k)
        for idx in range(1, k):  # a random spanning tree: each new atom joins an earlier one with room for a bond
            i = int(order[idx])
            room = [int(j) for j in order[:idx] if left[int(j)] > 0]
            if not room or left[i] <= 0:
                break
            j = int(rng.choice(room))
            bo = int(rng.integers(1, min(3, left[i], left[j]) + 1))
            bonds[(min(i, j), max(i, j))] = bo
            left[i] -= bo
            left[j] -= bo
        for _ in range(int(rng.integers(0, 3))):  # a few ring closures
            free = [i for i in range(k) if left[i] > 0]
            if len(free) < 2:
                break
            i, j = (int(x) for x in rng.choice(free, 2, replace=False))
            if (min(i, j), max(i, j)) in bonds:
                continue
            bonds[(min(i, j), max(i, j))] = 1
            left[i] -= 1
            left[j] -= 1
        for (i, j), bo in bonds.items():
            rw.AddBond(i, j, {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}[bo])
        m = rw.GetMol()
        try:
            Chem.SanitizeMol(m)
            s = Chem.MolToSmiles(m)
            out.append(None if "." in s else s)
        except Exception:
            out.append(None)
    return out


# --------------------------------------------------------------------------- baseline 2: a character-level SMILES model


def charrnn_smiles(train: list[str], n: int, seed: int, budget_s: float, hidden: int = 256) -> tuple[list[str | None], dict]:
    """A one-layer LSTM over SMILES characters (start / end tokens), Adam 1e-3, batches of 32, trained by teacher forcing
    for ``budget_s`` seconds, then n samples at temperature 1 (at most 60 characters)."""
    import torch
    from torch import nn

    from gankit.metrics.molecules import canonical

    torch.manual_seed(seed)
    chars = sorted({c for s in train for c in s})
    vocab = ["^", "$", *chars]
    index = {c: i for i, c in enumerate(vocab)}
    seqs = [torch.tensor([0, *(index[c] for c in s), 1]) for s in train]

    class CharRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.lstm, self.out = nn.Embedding(len(vocab), 32), nn.LSTM(32, hidden, batch_first=True), nn.Linear(hidden, len(vocab))

        def forward(self, x, state=None):
            h, state = self.lstm(self.embed(x), state)
            return self.out(h), state

    model = CharRNN()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(seed)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < budget_s:
        pick = torch.randint(len(seqs), (32,), generator=gen).tolist()
        batch = nn.utils.rnn.pad_sequence([seqs[i] for i in pick], batch_first=True, padding_value=1)
        logits, _ = model(batch[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    out: list[str | None] = []
    with torch.no_grad():
        x, state = torch.zeros(n, 1, dtype=torch.long), None
        text = [[] for _ in range(n)]
        done = torch.zeros(n, dtype=torch.bool)
        for _ in range(60):
            logits, state = model(x, state)
            x = torch.multinomial(logits[:, -1].softmax(-1), 1, generator=gen)
            for i in range(n):
                if not done[i]:
                    if int(x[i]) == 1:
                        done[i] = True
                    elif int(x[i]) > 1:
                        text[i].append(vocab[int(x[i])])
        out = [canonical("".join(t)) if t else None for t in text]
    return [None if s is None or "." in s else s for s in out], {"params": params, "steps": steps}


def baseline_row(name: str, seed: int, n: int, budget_s: float) -> dict:
    from gankit.data.molecules import load_molecules
    from gankit.metrics.molecules import molecule_scores, scaffold_similarity

    train = load_molecules(None, 9, "all").smiles
    t0 = time.perf_counter()
    extra = {}
    if name.startswith("random"):
        smiles = random_valence_smiles(train, n, seed)
    else:
        smiles, extra = charrnn_smiles(train, n, seed, budget_s)
    got = {**molecule_scores(smiles, train), "scaf1": scaffold_similarity(smiles, train, min_rings=1)}
    return {"variant": name, "seed": seed, "train_s": time.perf_counter() - t0, **{k: got[k] for k in got if k in SCORES}, "n": n, **extra}


SCORES = ("vun", "valid", "unique", "novel", "qed", "sa", "logp", "qed_w1", "sa_w1", "logp_w1", "intdiv1", "intdiv2", "frag", "scaf", "scaf1")


def summarize(rows: list[dict]) -> dict[str, dict]:
    """variant -> {score: (mean, standard error)}, seeds, train_s mean, and whether the issue's goal held in every seed."""
    out: dict[str, dict] = {}
    for r in rows:
        r = {**r, "vun": r["valid"] * r["unique"] * r["novel"]} if "vun" not in r else r  # rows written before vun existed
        out.setdefault(r["variant"], {"_rows": []})["_rows"].append(r)
    for name, d in out.items():
        rs = d.pop("_rows")
        d["seeds"] = len(rs)
        for k in (*SCORES, "train_s"):
            vals = [r[k] for r in rs if k in r and r[k] is not None and math.isfinite(r[k])]
            if vals:
                sem = statistics.stdev(vals) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0
                d[k] = (statistics.fmean(vals), sem)
        d["goal"] = sum(r["valid"] >= 0.9 and r["unique"] >= 0.5 and r["novel"] >= 0.5 for r in rs)
    return out


def write_page(rows: list[dict], meta: dict) -> None:
    from gankit.data.molecules import load_molecules
    from gankit.metrics.molecules import molecule_scores

    train = load_molecules(None, 9, "all").smiles
    ref = {**molecule_scores(train, train), "scaf1": 1.0, "vun": 0.0}
    order = {name: i for i, name in enumerate([*VARIANTS, *BASELINES])}
    s = dict(sorted(summarize(rows).items(), key=lambda kv: order.get(kv[0], len(order))))
    lines = ["# Molecules: MolGAN, its remedies for collapse, and two baselines", "",
             f"Written by `benchmarks/molecules.py` on {meta.get('date', '?')} (torch threads 1). Training data: RDKit's bundled "
             f"431 molecules (≤ 9 heavy atoms of C, N, O, F); MolGAN: the `molgan` preset for {meta.get('steps', '?')} G steps "
             "(batch 32, 5 D steps each) with an 8-dimensional z (the authors' example) unless the row says otherwise, reward "
             "QED where λ < 1; every row scores "
             f"{meta.get('n', '?')} samples per seed with `--metrics molecules` (MOSES definitions, against the 431); mean ± "
             "standard error over seeds. `vun` = valid · unique · novel, the fraction of samples that are valid, distinct and "
             "new. *Goal* counts the seeds with valid ≥ 0.9 **and** unique ≥ 0.5 **and** novel ≥ 0.5.", "",
             "| model | seeds | " + " | ".join(SHOWN) + " | train s | goal |", "|" + "---|" * (len(SHOWN) + 4)]
    for name, d in s.items():
        cells = [f"{d[k][0]:.3f} ± {d[k][1]:.3f}" if k in d else "—" for k in SHOWN]
        lines.append(f"| {name} | {d['seeds']} | " + " | ".join(cells) + f" | {d['train_s'][0]:.0f} | {d['goal']}/{d['seeds']} |")
    lines.append("| *the training set itself* | — | " + " | ".join(f"{ref[k]:.3f}" if k in ref else "—" for k in SHOWN) + " | — | — |")
    lines += ["", f"The training set's mean QED is {ref['qed']:.3f}; `novel` of the training set against itself is 0 by definition.", ""]
    lines += [n + "\n" for n in meta.get("notes", [])]
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", help="comma-separated row indices to run (0-11 MolGAN variants, 12-13 baselines), appending to the "
                                   "rows file (default: all, the file rewritten)")
    ap.add_argument("--from-rows", action="store_true")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if not args.from_rows:
        names = [*VARIANTS, *BASELINES]
        todo = [names[int(i)] for i in args.only.split(",")] if args.only else names
        if not args.only:
            ROWS.unlink(missing_ok=True)
        for name in todo:
            for seed in range(args.seeds):
                if name in VARIANTS:
                    _append(molgan_row(name, VARIANTS[name], seed, args.steps, args.n))
                else:  # the CharRNN trains as long as MolGAN λ = 0.5 did (its rows so far; else 150 s)
                    done = [json.loads(line) for line in ROWS.read_text().splitlines()] if ROWS.is_file() else []
                    spent = [r["train_s"] for r in done if r["variant"] == "MolGAN λ=0.5"]
                    _append(baseline_row(name, seed, args.n, statistics.fmean(spent) if spent else 150.0))
    rows = [json.loads(line) for line in ROWS.read_text().splitlines() if line.strip()]
    write_page(rows, {"date": dt.date.today().isoformat(), "steps": rows[0].get("steps"), "n": rows[0]["n"], "notes": args.note})
    print(f"wrote {PAGE}")


def _append(row: dict) -> None:
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    with ROWS.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
