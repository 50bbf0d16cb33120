"""Scores of generated molecules as MOSES and MolGAN define them, computed with RDKit.

References
----------
* MOSES: D. Polykovskiy et al., "Molecular Sets (MOSES): A Benchmarking Platform for Molecular Generation Models",
  Frontiers in Pharmacology 11:565644 (2020); reference code github.com/molecularsets/moses (``moses/metrics/``).
* MolGAN: N. De Cao and T. Kipf, "MolGAN: An implicit generative model for small molecular graphs", ICML 2018 workshop
  on Theoretical Foundations and Applications of Deep Generative Models (arXiv:1805.11973); reference code
  github.com/nicola-decao/MolGAN (``utils/molecular_metrics.py``).
* QED: G. R. Bickerton et al., "Quantifying the chemical beauty of drugs", Nature Chemistry 4:90-98 (2012), RDKit's
  ``rdkit.Chem.QED.qed`` (default weights).
* SA score: P. Ertl and A. Schuffenhauer, "Estimation of synthetic accessibility score of drug-like molecules based on
  molecular complexity and fragment contributions", J. Cheminformatics 1:8 (2009), RDKit's Contrib implementation
  ``Contrib/SA_Score/sascorer.py`` with RDKit's fragment table ``fpscores.pkl.gz`` (1 = easy ... 10 = hard).
* logP: S. A. Wildman and G. M. Crippen, J. Chem. Inf. Comput. Sci. 39:868-873 (1999), ``Crippen.MolLogP``.

Inputs are lists of SMILES; ``None``, the empty string, and any string RDKit cannot parse and sanitize
(``Chem.MolFromSmiles``) are invalid molecules. RDKit's parser messages are silenced while parsing. Canonical SMILES
are RDKit's (``Chem.MolToSmiles``, isomeric). Let X = (x_1, ..., x_N) be the generated entries, V the list of valid ones
(duplicates kept, in order), U = {canonical(v) : v in V} and R the valid molecules of the reference (training) set.

Definitions
-----------
valid
    |V| / N (MOSES ``fraction_valid``). N = 0 raises ValueError.
unique
    |U| / |V|; 0 when V is empty (MOSES ``fraction_unique`` applied to the valid molecules, i.e. unique@|V|).
novel
    |U minus canonical(R)| / |U|; 0 when V is empty (MOSES ``novelty``; MOSES compares with the training strings as
    given, which are canonical in its data; here the training SMILES are canonicalized first).
qed, sa, logp
    Means over V (duplicates count); NaN when V is empty.
qed_w1, sa_w1, logp_w1
    W1(a, b) = integral |F_a(t) - F_b(t)| dt, the Wasserstein-1 distance between the empirical distributions of the
    property over V and over R (``scipy.stats.wasserstein_distance``; MOSES ``WassersteinMetric``, which the paper
    reports for logP, SA, QED and weight). NaN when either side is empty.
intdiv1, intdiv2 (IntDiv_p, p = 1, 2)
    With T(i, j) the Tanimoto similarity |a_i AND a_j| / |a_i OR a_j| of Morgan fingerprints (radius 2, 1,024 bits,
    RDKit's Morgan generator; MOSES's default ``fp_type='morgan'``; T = 1 when both fingerprints are empty), over all
    ordered pairs of V including i = j and duplicates::

        IntDiv_p(V) = 1 - (1/|V|) sum_j ( (1/|V|) sum_i T(i, j)^p )^(1/p)

    This is what MOSES's code computes (``internal_diversity`` -> ``average_agg_tanimoto(gen_fps, gen_fps,
    agg='mean', p=p)``: for each molecule j the mean over i of T^p, its p-th root, then the mean over j). The paper's
    equation writes the p-th root outside one mean over all |V|^2 pairs, 1 - ((1/|V|^2) sum_ij T^p)^(1/p); the two
    agree for p = 1 and whenever every molecule has the same row mean (e.g. two molecules), and differ slightly
    otherwise (MOSES's published IntDiv2 values come from the code). NaN when V is empty.
frag (Frag)
    cos(f_V, f_R) = <f_V, f_R> / (||f_V|| ||f_R||) over the union of keys, where f_X(s) counts the occurrences of the
    fragment SMILES s among the BRICS fragments of all molecules of X: each molecule is cut at its BRICS bonds
    (``Chem.FragmentOnBRICSBonds``, which keeps the cut points as labelled dummy atoms such as ``[16*]``) and its
    canonical SMILES split at ``'.'``; every piece counts, also repeated pieces of one molecule and pieces of duplicate
    molecules (MOSES ``compute_fragments`` / ``fragmenter``: a ``Counter`` updated with each molecule's list of pieces;
    MOSES does not use ``BRICS.BRICSDecompose``, which returns a set of unique pieces). NaN when either count vector is
    empty (MOSES ``cos_similarity``).
scaf (Scaf)
    cos(g_V, g_R), g_X(s) = the number of molecules of X whose Bemis-Murcko scaffold (``MurckoScaffold.
    GetScaffoldForMol``) has canonical SMILES s. As in MOSES ``compute_scaffold`` (``min_rings=2``), a scaffold counts
    only if it is non-empty and has at least ``min_rings`` rings (default 2, MOSES's default; acyclic molecules and
    single-ring scaffolds such as benzene are left out) and molecules whose scaffold RDKit cannot compute are left out.
    NaN when either count vector is empty. Small molecules (e.g. at most 9 heavy atoms) rarely have two rings: pass
    ``min_rings=1`` to :func:`scaffold_similarity` to count single-ring scaffolds too.

MolGAN's reward oracles (:func:`mol_reward`, each in [0, 1], 0 for an invalid molecule) follow
``MolecularMetrics`` of the MolGAN code:

* ``qed``: QED.
* ``logp``: clip((logP - (-2.12178879609)) / (6.0429063424 - (-2.12178879609)), 0, 1)
  (``water_octanol_partition_coefficient_scores(norm=True)``).
* ``sa``: clip((SA - 5) / (1.5 - 5), 0, 1) (``synthetic_accessibility_score_scores(norm=True)``; MolGAN recomputes SA
  from the same fragment table, here RDKit's sascorer gives SA).
* ``validity``: 1 when the SMILES parses to a molecule whose canonical SMILES has neither ``'.'`` (several fragments)
  nor ``'*'`` (dummy atoms), else 0 (``valid_scores`` / ``valid_lambda_special``).
"""
from __future__ import annotations

import functools
import importlib.util
import math
import os
from collections import Counter
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from rdkit.Chem import Mol

#: reward oracles of :func:`mol_reward` (MolGAN)
REWARDS = ("qed", "logp", "sa", "validity")
#: MolGAN's logP normalization bounds (``water_octanol_partition_coefficient_scores``)
LOGP_BOUNDS = (-2.12178879609, 6.0429063424)
#: MolGAN's SA normalization: SA = 5 maps to 0, SA = 1.5 to 1 (``synthetic_accessibility_score_scores``)
SA_BOUNDS = (5.0, 1.5)
#: Morgan fingerprint of internal diversity (MOSES ``fingerprint(fp_type='morgan')``: radius 2, 1,024 bits)
FP_RADIUS, FP_BITS = 2, 1024
#: MOSES ``compute_scaffold(min_rings=2)``
MIN_RINGS = 2

# internal diversity works on blocks of about this many similarities (rows × molecules) at a time
_BLOCK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------------------------------- parsing
def to_mol(smiles: str | Mol | None) -> Mol | None:
    """The RDKit molecule of a SMILES string (parsed and sanitized, parser messages silenced), or None when ``smiles``
    is None, empty or not a molecule RDKit accepts. An RDKit ``Mol`` is returned as it is (None if it has no atoms)."""
    from rdkit import rdBase

    with rdBase.BlockLogs():
        return _mol(smiles)


def _mol(smiles: str | Mol | None) -> Mol | None:
    """:func:`to_mol` without silencing RDKit (callers silence it once around a loop)."""
    from rdkit import Chem

    if smiles is None:
        return None
    if isinstance(smiles, Chem.Mol):
        return smiles if smiles.GetNumAtoms() > 0 else None
    if not isinstance(smiles, str):
        raise TypeError(f"to_mol: expected a SMILES string or None; got {type(smiles).__name__}")
    if not smiles:
        return None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def canonical(smiles: str | None) -> str | None:
    """RDKit's canonical SMILES of a parseable, sanitizable molecule; None for an invalid one."""
    from rdkit import Chem

    mol = to_mol(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def _parse(smiles: Sequence[str | None]) -> tuple[list[Mol], list[str]]:
    """The valid molecules of ``smiles`` in order (duplicates kept) and their canonical SMILES."""
    from rdkit import Chem, rdBase

    mols, canon = [], []
    with rdBase.BlockLogs():
        for s in smiles:
            m = _mol(s)
            if m is not None:
                mols.append(m)
                canon.append(Chem.MolToSmiles(m))
    return mols, canon


def _as_mol(mol: Mol | str, name: str) -> Mol:
    m = to_mol(mol)
    if m is None:
        raise ValueError(f"{name}: {mol!r} is not a valid molecule")
    return m


# --------------------------------------------------------------------------------------------------- per molecule
def qed(mol: Mol | str) -> float:
    """QED (Bickerton et al. 2012; RDKit's ``QED.qed``, default weights) of one molecule (Mol or SMILES); in (0, 1)."""
    from rdkit.Chem import QED

    return float(QED.qed(_as_mol(mol, "qed")))


def logp(mol: Mol | str) -> float:
    """Wildman-Crippen logP (RDKit's ``Crippen.MolLogP``; log10 of the octanol/water partition coefficient)."""
    from rdkit.Chem import Crippen

    return float(Crippen.MolLogP(_as_mol(mol, "logp")))


@functools.lru_cache(maxsize=1)
def _sascorer() -> ModuleType:
    """RDKit's Contrib ``SA_Score/sascorer.py``, loaded once from its file (it reads RDKit's own fpscores.pkl.gz)."""
    from rdkit import RDConfig

    path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
    if not os.path.isfile(path):
        raise ImportError(f"sa_score: RDKit's SA_Score contribution is missing ({path}); install a full RDKit")
    spec = importlib.util.spec_from_file_location("_gankit_rdkit_sascorer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sa_score(mol: Mol | str) -> float:
    """Synthetic accessibility (Ertl & Schuffenhauer 2009; RDKit's Contrib sascorer): 1 (easy) to 10 (hard)."""
    return float(_sascorer().calculateScore(_as_mol(mol, "sa_score")))


def properties(mols: Iterable[Mol]) -> dict[str, np.ndarray]:
    """QED, SA score and logP of valid molecules: {"qed", "sa", "logp"}: arrays (N,), float64."""
    from rdkit.Chem import QED, Crippen

    sascorer = _sascorer()
    rows = [(QED.qed(m), sascorer.calculateScore(m), Crippen.MolLogP(m)) for m in mols]
    a = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    return {"qed": a[:, 0], "sa": a[:, 1], "logp": a[:, 2]}


# --------------------------------------------------------------------------------------------------- set scores
def validity(smiles: Sequence[str | None]) -> float:
    """Fraction of the N entries that are valid molecules (MOSES valid); N = 0 raises ValueError."""
    if len(smiles) == 0:
        raise ValueError("validity: no molecules given (an empty list); pass at least one SMILES or None")
    mols, _ = _parse(smiles)
    return len(mols) / len(smiles)


def uniqueness(smiles: Sequence[str | None]) -> float:
    """Distinct canonical SMILES among the valid entries / the number of valid entries (MOSES unique@k over the valid
    ones); 0.0 when none is valid."""
    _, canon = _parse(smiles)
    return len(set(canon)) / len(canon) if canon else 0.0


@functools.lru_cache(maxsize=4)
def _canonical_set(train: tuple[str | None, ...]) -> frozenset[str]:
    return frozenset(_parse(train)[1])


def novelty(smiles: Sequence[str | None], train: Sequence[str | None]) -> float:
    """Fraction of the distinct valid canonical generated SMILES that are not among the canonicalized training SMILES
    (MOSES novelty); 0.0 when none is valid."""
    gen = set(_parse(smiles)[1])
    if not gen:
        return 0.0
    return len(gen - _canonical_set(tuple(train))) / len(gen)


def _fingerprints(canon: list[str], mols: list[Mol]) -> tuple[np.ndarray, np.ndarray]:
    """Morgan bit matrix (M, FP_BITS) uint8 of the M distinct molecules and the multiplicity (M,) of each."""
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_BITS)
    index: dict[str, int] = {}
    rows, counts = [], []
    for c, m in zip(canon, mols):
        k = index.get(c)
        if k is None:
            index[c] = len(rows)
            rows.append(gen.GetFingerprintAsNumPy(m))
            counts.append(1)
        else:
            counts[k] += 1
    return np.asarray(rows, dtype=np.uint8).reshape(-1, FP_BITS), np.asarray(counts, dtype=np.float64)


def _intdiv(fps: np.ndarray, weight: np.ndarray, p: int) -> float:
    """IntDiv_p of the multiset whose distinct fingerprints are the rows of ``fps`` with multiplicities ``weight``."""
    n = weight.sum()
    if n == 0:
        return float("nan")
    f = fps.astype(np.float32)  # bit counts <= 1024: float32 products and sums are exact
    bits = f.sum(1, dtype=np.float64)
    root = np.empty(len(f))
    step = max(1, _BLOCK_ELEMENTS // max(1, len(f)))
    for s in range(0, len(f), step):
        inter = (f[s:s + step] @ f.T).astype(np.float64)
        union = bits[s:s + step, None] + bits[None, :] - inter
        t = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
        if p != 1:
            t **= p
        root[s:s + step] = (t @ weight / n) ** (1.0 / p)  # per molecule: (mean over all molecules of T^p)^(1/p)
    return float(1.0 - root @ weight / n)


def internal_diversity(smiles: Sequence[str | None], p: int = 1) -> float:
    """MOSES IntDiv_p of the valid entries (duplicates kept): 1 − mean_j (mean_i T(i, j)^p)^(1/p) over all ordered
    pairs including i = j, T the Tanimoto similarity of Morgan fingerprints (radius 2, 1,024 bits); in [0, 1]. NaN when
    none is valid. Blocks of rows keep memory bounded (10,000 molecules take a few seconds)."""
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"internal_diversity: p must be a positive integer; got {p!r}")
    mols, canon = _parse(smiles)
    if not mols:
        return float("nan")
    fps, weight = _fingerprints(canon, mols)
    return _intdiv(fps, weight, int(p))


def _fragment_counts(mols: Iterable[Mol]) -> Counter[str]:
    from rdkit import Chem, rdBase

    counts: Counter[str] = Counter()
    with rdBase.BlockLogs():
        for m in mols:
            counts.update(Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(m)).split("."))
    return counts


def _scaffold_counts(mols: Iterable[Mol], min_rings: int = MIN_RINGS) -> Counter[str]:
    from rdkit import Chem, rdBase
    from rdkit.Chem.Scaffolds import MurckoScaffold

    counts: Counter[str] = Counter()
    with rdBase.BlockLogs():
        for m in mols:
            try:
                scaffold = MurckoScaffold.GetScaffoldForMol(m)
            except (ValueError, RuntimeError):  # as MOSES: a molecule RDKit cannot reduce has no scaffold
                continue
            smiles = Chem.MolToSmiles(scaffold)
            if smiles and scaffold.GetRingInfo().NumRings() >= min_rings:
                counts[smiles] += 1
    return counts


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    """Cosine similarity of two count vectors over the union of their keys; NaN when either is empty (MOSES)."""
    if not a or not b:
        return float("nan")
    dot = sum(v * b[k] for k, v in a.items() if k in b)  # Python integers: exact
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm


def fragment_similarity(gen: Sequence[str | None], ref: Sequence[str | None]) -> float:
    """MOSES Frag: cosine similarity of the BRICS fragment counts (``Chem.FragmentOnBRICSBonds``, every piece of every
    valid molecule counted) of ``gen`` and ``ref``; in [0, 1], NaN when either side has no fragments."""
    return _cosine(_fragment_counts(_parse(gen)[0]), _fragment_counts(_parse(ref)[0]))


def scaffold_similarity(gen: Sequence[str | None], ref: Sequence[str | None], *, min_rings: int = MIN_RINGS) -> float:
    """MOSES Scaf: cosine similarity of the Bemis-Murcko scaffold counts of the valid molecules of ``gen`` and ``ref``,
    counting only non-empty scaffolds with at least ``min_rings`` rings (MOSES: 2); in [0, 1], NaN when either side has
    no such scaffold."""
    return _cosine(_scaffold_counts(_parse(gen)[0], min_rings), _scaffold_counts(_parse(ref)[0], min_rings))


def property_w1(gen_values: Sequence[float] | np.ndarray, ref_values: Sequence[float] | np.ndarray) -> float:
    """Wasserstein-1 distance between the empirical distributions of two samples of a property (shapes (n,) and (m,),
    in the property's units; ``scipy.stats.wasserstein_distance``, as MOSES compares logP, SA, QED and weight). NaN when
    either sample is empty."""
    from scipy.stats import wasserstein_distance

    a = np.asarray(gen_values, dtype=np.float64).ravel()
    b = np.asarray(ref_values, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(wasserstein_distance(a, b))


@functools.lru_cache(maxsize=4)
def _reference(train: tuple[str | None, ...], min_rings: int = MIN_RINGS) -> dict[str, Any]:
    """Everything :func:`molecule_scores` needs of a training set, computed once per tuple of its SMILES: the canonical
    set, the property values (qed, sa, logp; (m,) each) and the fragment and scaffold counts."""
    mols, canon = _parse(train)
    return {"canonical": frozenset(canon), "properties": properties(mols), "frag": _fragment_counts(mols),
            "scaf": _scaffold_counts(mols, min_rings)}


def molecule_scores(generated: Sequence[str | None], train: Sequence[str | None], n: int | None = None, *,
                    min_rings: int = MIN_RINGS) -> dict[str, float]:
    """The MOSES / MolGAN scores of ``generated`` (SMILES, None for invalid; the first ``n`` entries when given)
    against ``train``: valid, unique, novel; qed, sa, logp (means over the valid molecules) and their W1 to the
    training set's values (qed_w1, sa_w1, logp_w1); intdiv1, intdiv2; frag, scaf (scaffolds of at least ``min_rings``
    rings, MOSES: 2); n (entries scored, an int). Property means, W1 and intdiv are NaN when no generated molecule is
    valid; frag and scaf are NaN when either side has nothing to count (definitions in the module docstring). The
    training set's values are computed once per tuple of its SMILES (a small LRU cache)."""
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"molecule_scores: n must be a positive integer or None; got {n!r}")
        if n > len(generated):
            raise ValueError(f"molecule_scores: n={n} but only {len(generated)} generated entries were given")
        generated = generated[:n]
    if len(generated) == 0:
        raise ValueError("molecule_scores: no generated molecules given (an empty list)")
    ref = _reference(tuple(train), int(min_rings))
    mols, canon = _parse(generated)
    distinct = set(canon)
    out: dict[str, float] = {
        "valid": len(mols) / len(generated),
        "unique": len(distinct) / len(canon) if canon else 0.0,
        "novel": len(distinct - ref["canonical"]) / len(distinct) if distinct else 0.0,
    }
    props = properties(mols)
    for k in ("qed", "sa", "logp"):
        out[k] = float(props[k].mean()) if mols else float("nan")
    for k in ("qed", "sa", "logp"):
        out[f"{k}_w1"] = property_w1(props[k], ref["properties"][k])
    if mols:
        fps, weight = _fingerprints(canon, mols)
        out["intdiv1"], out["intdiv2"] = _intdiv(fps, weight, 1), _intdiv(fps, weight, 2)
    else:
        out["intdiv1"] = out["intdiv2"] = float("nan")
    out["frag"] = _cosine(_fragment_counts(mols), ref["frag"])
    out["scaf"] = _cosine(_scaffold_counts(mols, int(min_rings)), ref["scaf"])
    out["n"] = len(generated)
    return out


# --------------------------------------------------------------------------------------------------- MolGAN rewards
def mol_reward(smiles: str | None, kind: str) -> float:
    """MolGAN's reward oracle ``kind`` (one of :data:`REWARDS`) of one SMILES, in [0, 1]; 0.0 for an invalid molecule.
    qed: QED; logp: logP scaled by MolGAN's bounds :data:`LOGP_BOUNDS`, clipped; sa: (SA − 5) / (1.5 − 5), clipped;
    validity: 1 for one connected molecule without dummy atoms."""
    if kind not in REWARDS:
        raise ValueError(f"mol_reward: unknown kind {kind!r}; known: {', '.join(REWARDS)}")
    mol = to_mol(smiles)
    if mol is None:
        return 0.0
    if kind == "validity":
        from rdkit import Chem

        s = Chem.MolToSmiles(mol)
        return float(bool(s) and "." not in s and "*" not in s)
    try:
        if kind == "qed":
            return qed(mol)
        if kind == "logp":
            lo, hi = LOGP_BOUNDS
            return float(np.clip((logp(mol) - lo) / (hi - lo), 0.0, 1.0))
        lo, hi = SA_BOUNDS
        return float(np.clip((sa_score(mol) - lo) / (hi - lo), 0.0, 1.0))
    except (ValueError, RuntimeError):  # as MolGAN: a molecule RDKit cannot score earns 0
        return 0.0


__all__ = [
    "properties",
    "REWARDS", "LOGP_BOUNDS", "SA_BOUNDS", "FP_RADIUS", "FP_BITS", "MIN_RINGS",
    "to_mol", "canonical", "validity", "uniqueness", "novelty", "qed", "logp", "sa_score", "internal_diversity",
    "fragment_similarity", "scaffold_similarity", "property_w1", "molecule_scores", "mol_reward",
]
