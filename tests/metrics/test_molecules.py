"""Numbers for gankit.metrics.molecules: RDKit's published QED and SA values, hand-computed MOSES scores, closed forms
of internal diversity and of the fragment / scaffold cosine, MolGAN's reward normalizations."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

pytest.importorskip("rdkit")

from rdkit import DataStructs, RDConfig  # noqa: E402
from rdkit.Chem import Crippen, rdFingerprintGenerator  # noqa: E402

from gankit.metrics import molecules as M  # noqa: E402

LOGP_LO, LOGP_HI = -2.12178879609, 6.0429063424  # MolGAN utils/molecular_metrics.py


# --------------------------------------------------------------------------------------------------- parsing
def test_canonical_and_to_mol():
    assert M.canonical("OCC") == M.canonical("C(C)O") == "CCO"
    assert M.canonical("C1=CC=CC=C1") == M.canonical("c1ccccc1") == "c1ccccc1"  # Kekulé and aromatic forms agree
    for bad in (None, "", "C1CC", "C(C)(C)(C)(C)C", "not a smiles", "c1cccc1"):  # unclosed ring, 5-valent C, ...
        assert M.canonical(bad) is None and M.to_mol(bad) is None
    mol = M.to_mol("CCO")
    assert mol.GetNumAtoms() == 3 and M.to_mol(mol) is mol
    with pytest.raises(TypeError):
        M.to_mol(3)


# --------------------------------------------------------------------------------------------------- QED, SA, logP
# RDKit's own reference values: rdkit/Chem/UnitTestQED.py test_examples (assertAlmostEqual, places=3) ...
QED_EXAMPLES = [
    ("c1cc2OCOc2cc1OCC1CNCCC1c1ccc(F)cc1", 0.934),  # paroxetine
    ("C1=NOC(C)=C1C(=O)Nc1ccc(cc1)C(F)(F)F", 0.911),  # leflunomide
    ("CN(C)CCCN1c2ccccc2CCc2ccc(Cl)cc21", 0.818),  # clomipramine
    ("CCCCCNC(=N)NN=CC1=CNc2ccc(CO)cc21", 0.235),  # tegaserod
]
# ... the doctests of rdkit/Chem/QED.py (printed as "0.253...": the first three decimals) ...
QED_DOCTESTS = [
    ("N=C(CCSCc1csc(N=C(N)N)n1)NS(N)(=O)=O", 0.253),
    ("CNC(=NCCSCc1nc[nH]c1C)NC#N", 0.234),
    ("CCCCCNC(=N)NN=Cc1c[nH]c2ccc(CO)cc12", 0.234),
]
# ... and rows of rdkit/Chem/test_data/QED/NCI_200_qed.csv (assertAlmostEqual, places=7)
QED_NCI200 = [
    ("CC1=CC(=O)C=CC1=O", 0.44168670357001333),
    ("CCCCSCC", 0.5111083737021145),
    ("OC(=O)C1=CC=CC=C1", 0.6106035394285075),
    ("CCN(CC)C(C)=O", 0.5227197904575881),
]


@pytest.mark.parametrize("smiles, expected", QED_EXAMPLES)
def test_qed_matches_rdkit_examples(smiles, expected):
    assert round(M.qed(smiles) - expected, 3) == 0


@pytest.mark.parametrize("smiles, expected", QED_DOCTESTS)
def test_qed_matches_rdkit_doctests(smiles, expected):
    assert math.floor(M.qed(smiles) * 1000) / 1000 == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("smiles, expected", QED_NCI200)
def test_qed_matches_rdkit_regression_table(smiles, expected):
    assert M.qed(M.to_mol(smiles)) == pytest.approx(expected, abs=1e-7)


def test_sa_score_reproduces_rdkit_zim100():
    path = os.path.join(RDConfig.RDContribDir, "SA_Score", "data", "zim.100.txt")
    with open(path) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    rows = [r for r in rows if len(r) == 3]
    assert len(rows) == 100
    for smiles, name, expected in rows:
        got = M.sa_score(smiles)
        assert abs(round(got, 3) - float(expected)) < 5e-4, (name, got, expected)
        assert 1.0 <= got <= 10.0


def test_logp_is_crippen_and_bad_input_raises():
    assert M.logp("CCO") == pytest.approx(-0.0014, abs=1e-12)  # Wildman-Crippen: ethanol
    with pytest.raises(ValueError):
        M.qed("C1CC")


# ------------------------------------------------------------------------------------------- valid / unique / novel
GEN = ["CCO", "OCC", None, "C1CC", "c1ccccc1"]  # 3 valid (CCO twice), 2 distinct


def test_validity_uniqueness_novelty_by_hand(one_line):
    assert M.validity(GEN) == pytest.approx(3 / 5)
    assert M.uniqueness(GEN) == pytest.approx(2 / 3)
    assert M.novelty(GEN, ["C(C)O", "C1CC"]) == pytest.approx(1 / 2)  # CCO is known (after canonicalization)
    assert M.novelty(GEN, ["C1=CC=CC=C1", "OCC"]) == 0.0
    assert M.novelty(GEN, []) == 1.0
    assert M.validity(["", "C1CC", None, "C(C)(C)(C)(C)C"]) == 0.0
    assert M.uniqueness([None, "C1CC"]) == 0.0 and M.novelty([None], ["CCO"]) == 0.0
    assert M.uniqueness(["CCO"] * 7) == pytest.approx(1 / 7)
    with one_line(ValueError, match="empty"):
        M.validity([])


# --------------------------------------------------------------------------------------------------- internal diversity
def _fp(smiles):
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    return gen.GetFingerprint(M.to_mol(smiles))


def _tanimoto(a, b):
    return DataStructs.TanimotoSimilarity(_fp(a), _fp(b))


def _intdiv_moses(smiles, p):
    """MOSES's code, written plainly: 1 − mean_j (mean_i T(i, j)^p)^(1/p), all ordered pairs, i = j included."""
    valid = [s for s in smiles if M.to_mol(s) is not None]
    rows = [np.mean([_tanimoto(a, b) ** p for a in valid]) ** (1 / p) for b in valid]
    return 1 - float(np.mean(rows))


def test_intdiv_of_identical_molecules_is_zero():
    for p in (1, 2):
        assert M.internal_diversity(["CCO"] * 5, p=p) == 0.0
        assert M.internal_diversity(["CCO", "OCC", None, "C1CC", "C(O)C"], p=p) == 0.0
    assert math.isnan(M.internal_diversity([None, "C1CC"]))


def test_intdiv_two_molecules_closed_form():
    a, b = "CCOC(=O)c1ccccc1", "Cc1ccc(N)cc1"
    t = _tanimoto(a, b)
    assert 0 < t < 1
    assert M.internal_diversity([a, b], p=1) == pytest.approx(1 - (2 + 2 * t) / 4, abs=1e-12)
    assert M.internal_diversity([a, b], p=2) == pytest.approx(1 - math.sqrt((2 + 2 * t * t) / 4), abs=1e-12)
    assert M.internal_diversity([a, None, b, "C1CC"], p=1) == pytest.approx(1 - (2 + 2 * t) / 4, abs=1e-12)


def test_intdiv_matches_moses_formula_with_duplicates_and_blocks(monkeypatch):
    smiles = ["CCOC(=O)c1ccccc1", "Cc1ccc(N)cc1", "OCC", "CCO", "c1ccc2ccccc2c1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", None]
    for p in (1, 2, 3):
        expected = _intdiv_moses(smiles, p)
        assert M.internal_diversity(smiles, p=p) == pytest.approx(expected, abs=1e-12)
        monkeypatch.setattr(M, "_BLOCK_ELEMENTS", 7)  # one row per block: the blocked path gives the same number
        assert M.internal_diversity(smiles, p=p) == pytest.approx(expected, abs=1e-12)
        monkeypatch.undo()
    # p = 1: the paper's single mean over all |V|^2 pairs is the same number
    valid = [s for s in smiles if s]
    paper = 1 - np.mean([[_tanimoto(a, b) for a in valid] for b in valid])
    assert M.internal_diversity(smiles, p=1) == pytest.approx(paper, abs=1e-12)
    with pytest.raises(ValueError):
        M.internal_diversity(smiles, p=0)


# --------------------------------------------------------------------------------------------------- Frag / Scaf
def test_fragment_similarity():
    mols = ["CCOC(=O)c1ccccc1", "c1ccccc1Oc1ccccc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]
    assert M.fragment_similarity(mols, list(reversed(mols)) + [None]) == pytest.approx(1.0, abs=1e-15)
    # no BRICS bonds: each molecule is its own fragment; {benzene: 2, cyclohexane: 1} vs {benzene: 1, butane: 1}
    assert M.fragment_similarity(["c1ccccc1", "c1ccccc1", "C1CCCCC1"], ["c1ccccc1", "CCCC"]) == pytest.approx(
        2 / math.sqrt(5 * 2), abs=1e-15)
    assert M.fragment_similarity(["c1ccccc1"], ["CCCC"]) == 0.0
    # diphenyl ether -> {[16*]c1ccccc1: 2, [3*]O[3*]: 1} (a repeated piece counts twice), anisole -> {[16*]c1ccccc1: 1,
    # [3*]OC: 1}: 2 / sqrt(5 * 2) (a set of pieces, as BRICSDecompose gives, would give 1/2)
    assert M.fragment_similarity(["c1ccccc1Oc1ccccc1"], ["COc1ccccc1"]) == pytest.approx(2 / math.sqrt(10), abs=1e-15)
    assert math.isnan(M.fragment_similarity([None], ["CCO"]))


def test_scaffold_similarity():
    naphthalenes, indoles = ["Cc1ccc2ccccc2c1", "CCc1ccc2ccccc2c1"], ["c1ccc2[nH]ccc2c1", "Cc1ccc2[nH]ccc2c1"]
    assert M.scaffold_similarity(naphthalenes + indoles, indoles[::-1] + naphthalenes) == pytest.approx(1.0, abs=1e-15)
    assert M.scaffold_similarity(naphthalenes, indoles) == 0.0
    # {naphthalene: 2, indole: 1} vs {naphthalene: 1, indole: 1}
    gen, ref = naphthalenes + indoles[:1], ["c1ccc2ccccc2c1", "Cc1ccc2[nH]ccc2c1"]
    assert M.scaffold_similarity(gen, ref) == pytest.approx(3 / math.sqrt(5 * 2), abs=1e-15)
    # MOSES min_rings=2: single-ring and acyclic scaffolds are not counted (nothing left: NaN); min_rings=1 counts them
    assert math.isnan(M.scaffold_similarity(["Cc1ccccc1", "CCO"], ["CCc1ccccc1"]))
    assert M.scaffold_similarity(["Cc1ccccc1", "CCO"], ["CCc1ccccc1"], min_rings=1) == pytest.approx(1.0, abs=1e-15)


# ------------------------------------------------------------------------------------------- W1 and the score dict
def test_property_w1():
    assert M.property_w1([0.0, 1.0], [1.0, 2.0]) == pytest.approx(1.0)
    assert M.property_w1([0.0, 0.0, 3.0], [0.0]) == pytest.approx(1.0)  # mass 1/3 moved by 3
    assert math.isnan(M.property_w1([], [1.0]))


def test_molecule_scores_by_hand():
    train = ["CCO", "c1ccccc1C", "CC(=O)Nc1ccc(O)cc1", "C1CC"]
    gen = ["OCC", "Cc1ccccc1", "Cc1ccccc1", None, "CCCCO", "c1ccc2ccccc2c1", "C1CC", "CN"]
    s = M.molecule_scores(gen, train)
    assert set(s) == {"valid", "unique", "novel", "qed", "sa", "logp", "qed_w1", "sa_w1", "logp_w1", "intdiv1",
                      "intdiv2", "frag", "scaf", "n"}
    assert s["n"] == 8 and s["valid"] == pytest.approx(6 / 8)
    assert s["unique"] == pytest.approx(5 / 6) and s["novel"] == pytest.approx(3 / 5)
    valid = ["OCC", "Cc1ccccc1", "Cc1ccccc1", "CCCCO", "c1ccc2ccccc2c1", "CN"]
    ref = ["CCO", "c1ccccc1C", "CC(=O)Nc1ccc(O)cc1"]
    for k, fn in (("qed", M.qed), ("sa", M.sa_score), ("logp", M.logp)):
        assert s[k] == pytest.approx(np.mean([fn(x) for x in valid]), abs=1e-12)
        assert s[f"{k}_w1"] == pytest.approx(M.property_w1([fn(x) for x in valid], [fn(x) for x in ref]), abs=1e-12)
    assert s["intdiv1"] == pytest.approx(M.internal_diversity(gen, p=1), abs=1e-12)
    assert s["intdiv2"] == pytest.approx(M.internal_diversity(gen, p=2), abs=1e-12)
    assert s["frag"] == pytest.approx(M.fragment_similarity(gen, train), abs=1e-12)
    assert math.isnan(s["scaf"])  # no two-ring scaffold in the training set
    # the first n entries; the training set's values come from the cache the second time
    hits = M._reference.cache_info().hits
    s4 = M.molecule_scores(gen, train, n=4)
    assert M._reference.cache_info().hits == hits + 1
    assert s4["n"] == 4 and s4["valid"] == pytest.approx(3 / 4) and s4["novel"] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        M.molecule_scores(gen, train, n=9)


def test_molecule_scores_none_valid():
    s = M.molecule_scores([None, "C1CC"], ["CCO"])
    assert s["valid"] == 0.0 and s["unique"] == 0.0 and s["novel"] == 0.0 and s["n"] == 2
    for k in ("qed", "sa", "logp", "qed_w1", "sa_w1", "logp_w1", "intdiv1", "intdiv2", "frag", "scaf"):
        assert math.isnan(s[k]), k


# --------------------------------------------------------------------------------------------------- MolGAN rewards
def test_mol_reward(one_line):
    assert M.REWARDS == ("qed", "logp", "sa", "validity")
    for kind in M.REWARDS:
        for bad in (None, "", "C1CC"):
            assert M.mol_reward(bad, kind) == 0.0
    smi = "CC(=O)Nc1ccc(O)cc1"
    assert M.mol_reward(smi, "qed") == M.qed(smi)
    # ethanol: Crippen logP = -0.0014 -> (-0.0014 + 2.12178879609) / (6.0429063424 + 2.12178879609) = 0.259702139...
    assert M.mol_reward("CCO", "logp") == pytest.approx(2.12038879609 / 8.16469513849, abs=1e-12)
    assert M.mol_reward("CCO", "logp") == pytest.approx(0.2597021395, abs=1e-10)
    assert M.mol_reward("C" * 30, "logp") == 1.0 and M.mol_reward("OCC(O)C(O)C(O)C(O)C=O", "logp") == 0.0
    x = Crippen.MolLogP(M.to_mol(smi))
    assert M.mol_reward(smi, "logp") == pytest.approx((x - LOGP_LO) / (LOGP_HI - LOGP_LO), abs=1e-12)
    # SA: (sa - 5) / (1.5 - 5); zim.100.txt gives SA 3.166 for ZINC21984717
    assert M.mol_reward("Cc1c(C(=O)NCCO)[n+](=O)c2ccccc2n1[O-]", "sa") == pytest.approx((3.166 - 5) / -3.5, abs=2e-4)
    assert M.mol_reward("CCO", "sa") == pytest.approx(min(1.0, (M.sa_score("CCO") - 5) / -3.5), abs=1e-12)
    assert M.mol_reward("CCO", "validity") == 1.0
    assert M.mol_reward("CCO.O", "validity") == 0.0 and M.mol_reward("[*]CC", "validity") == 0.0  # MolGAN's rule
    for kind in M.REWARDS:
        assert 0.0 <= M.mol_reward("CC(C)Cc1ccc(C(C)C(=O)O)cc1", kind) <= 1.0
    with one_line(ValueError, match="qed, logp, sa, validity"):
        M.mol_reward("CCO", "potency")
