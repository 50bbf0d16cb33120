"""Molecules as graphs (MolGAN's representation; De Cao & Kipf 2018), through RDKit.

A molecule of at most M heavy atoms is a pair of integer tensors: ``nodes`` (M,), each atom's type index in the
vocabulary (0: no atom), and ``edges`` (M, M), symmetric, each bond's type index (0: no bond). The vocabulary is taken
from the data: atom types are (element, formal charge) pairs (so a nitro group's N⁺ and O⁻ survive); bond types are
single, double and triple, on the kekulized molecule (aromatic bonds written as alternating single and double ones, so
that no "aromatic" bond has to be generated consistently around a ring). Hydrogens are implicit and come back from
valence rules on the way out.

Graphs → molecules (:func:`decode`) builds an RDKit molecule from the atoms present (type ≠ 0) and the bonds between
them, sanitizes it, and returns its canonical SMILES — or None when RDKit rejects it (a valence violation), or when
the atoms form more than one fragment (a MolGAN sample with disconnected pieces is not one molecule). Failures are
counted by the caller, never raised.

Data that ships: RDKit's own ``Data/NCI/first_5K.smi`` (the first 5,000 NCI compounds), filtered to single-fragment
molecules of at most 9 heavy atoms of C, N, O and F — 431 molecules, a QM9-sized set of "a few hundred compounds".
A user's file: ``.smi`` (the first whitespace-separated token of each line), ``.csv`` / ``.csv.gz`` (a ``smiles``
column, any case — the MOSES splits' CSVs have ``SMILES``) or ``.sdf`` (RDKit's SD reader); ``moses:train`` (``test``, ``test_scaffolds``) reads the
MOSES split shipped inside the ``molsets`` wheel when it is installed. Splits: every 5th molecule (index mod 5 = 4) is ``test``; ``train``
is the rest, ``all`` everything.
"""
from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..types import Batch

BONDS = ("SINGLE", "DOUBLE", "TRIPLE")  # edge types 1..3; 0 is "no bond"
BUNDLED_ELEMENTS = ("C", "N", "O", "F")


def _rdkit() -> Any:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # RDKit prints every rejected molecule; failures are counted instead
    return Chem


@dataclass(frozen=True)
class MolVocab:
    """Atom types (element, formal charge) indexed from 1 (0: no atom), and the bond types of :data:`BONDS`."""

    atoms: tuple[tuple[str, int], ...]
    max_atoms: int

    @property
    def num_atom_types(self) -> int:
        """T: atom types including "no atom"."""
        return len(self.atoms) + 1

    @property
    def num_bond_types(self) -> int:
        """B: bond types including "no bond"."""
        return len(BONDS) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"atoms": [list(a) for a in self.atoms], "bonds": list(BONDS), "max_atoms": self.max_atoms}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MolVocab":
        return cls(tuple((str(s), int(c)) for s, c in d["atoms"]), int(d["max_atoms"]))


def encode(mol: Any, vocab: MolVocab) -> tuple[np.ndarray, np.ndarray]:
    """(nodes (M,) int64, edges (M, M) int64) of an RDKit molecule with at most M heavy atoms, kekulized."""
    Chem = _rdkit()
    mol = Chem.Mol(mol)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    index = {a: i + 1 for i, a in enumerate(vocab.atoms)}
    nodes = np.zeros(vocab.max_atoms, dtype=np.int64)
    edges = np.zeros((vocab.max_atoms, vocab.max_atoms), dtype=np.int64)
    for atom in mol.GetAtoms():
        nodes[atom.GetIdx()] = index[(atom.GetSymbol(), atom.GetFormalCharge())]
    for bond in mol.GetBonds():
        i, j, t = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), BONDS.index(str(bond.GetBondType())) + 1
        edges[i, j] = edges[j, i] = t
    return nodes, edges


def decode(nodes: np.ndarray, edges: np.ndarray, vocab: MolVocab) -> str | None:
    """Canonical SMILES of the graph (nodes (M,), edges (M, M), type indices), or None when it is not one valid molecule.

    Only atoms present (type ≠ 0) and bonds between two present atoms count; the upper triangle of ``edges`` is read."""
    Chem = _rdkit()
    rw = Chem.RWMol()
    where = {}
    for i, t in enumerate(np.asarray(nodes)):
        if t:
            symbol, charge = vocab.atoms[int(t) - 1]
            atom = Chem.Atom(symbol)
            atom.SetFormalCharge(charge)
            where[i] = rw.AddAtom(atom)
    if not where:
        return None
    e = np.asarray(edges)
    for i in where:
        for j in where:
            if j > i and e[i, j]:
                rw.AddBond(where[i], where[j], getattr(Chem.BondType, BONDS[int(e[i, j]) - 1]))
    mol = rw.GetMol()
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises its own (valence, kekulization) errors: an invalid molecule
        return None
    smiles = Chem.MolToSmiles(mol)
    return None if "." in smiles else smiles


def decode_batch(nodes: np.ndarray, edges: np.ndarray, vocab: MolVocab) -> list[str | None]:
    """:func:`decode` of each graph of a batch: nodes (N, M), edges (N, M, M)."""
    return [decode(n, e, vocab) for n, e in zip(nodes, edges)]


def to_codes(nodes: torch.Tensor | np.ndarray, edges: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Graphs as flat float32 rows N×(M + M²): atom types, then the bond-type matrix row by row — the form samples take
    in gankit (what a molecule model's ``decode`` returns and evaluation scores)."""
    nodes, edges = torch.as_tensor(nodes), torch.as_tensor(edges)
    return torch.cat([nodes.flatten(1), edges.flatten(1)], 1).float()


def split_codes(codes: torch.Tensor | np.ndarray, atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """(nodes N×M, edges N×M×M) int64 of graph codes (:func:`to_codes`)."""
    c = np.asarray(codes.cpu() if isinstance(codes, torch.Tensor) else codes).astype(np.int64)
    return c[:, :atoms], c[:, atoms:].reshape(len(c), atoms, atoms)


def codes_to_smiles(codes: torch.Tensor | np.ndarray, vocab: MolVocab) -> list[str | None]:
    """Canonical SMILES (None: not a valid molecule) of graph codes N×(M + M²)."""
    return decode_batch(*split_codes(codes, vocab.max_atoms), vocab)


@functools.lru_cache(maxsize=4)
def bundled_smiles(max_atoms: int = 9) -> tuple[str, ...]:
    """The canonical SMILES of RDKit's NCI first_5K molecules that are one fragment of ≤ max_atoms heavy atoms of
    C, N, O, F (431 at 9), in file order."""
    from rdkit import RDConfig

    Chem = _rdkit()
    out = []
    with open(os.path.join(RDConfig.RDDataDir, "NCI", "first_5K.smi")) as f:
        for line in f:
            mol = Chem.MolFromSmiles(line.split()[0]) if line.strip() else None
            if mol is None or mol.GetNumHeavyAtoms() > max_atoms or len(Chem.GetMolFrags(mol)) != 1:
                continue
            if all(a.GetSymbol() in BUNDLED_ELEMENTS for a in mol.GetAtoms()):
                out.append(Chem.MolToSmiles(mol))
    return tuple(out)


MOSES_SPLITS = ("train", "test", "test_scaffolds")


def moses_file(split: str) -> Path:
    """The CSV of a MOSES split (``data.path=moses:train``) inside the installed ``molsets`` wheel, found through the
    package metadata (its ``moses`` package is not imported: that import fails on current RDKit)."""
    from importlib import metadata

    if split not in MOSES_SPLITS:
        raise DataError(f"data.path: moses:{split} is not a MOSES split; use moses:{', moses:'.join(MOSES_SPLITS)}")
    try:
        dist = metadata.distribution("molsets")
    except metadata.PackageNotFoundError:
        raise DataError("data.path: moses:... needs the molsets wheel (pip install molsets); or give the CSV's path") from None
    for f in dist.files or ():
        if f.name in (f"{split}.csv.gz", f"{split}.csv") and "dataset" in str(f):
            return Path(dist.locate_file(f))
    raise DataError(f"data.path: the installed molsets has no {split}.csv(.gz); give the CSV's path")


def read_smiles_file(path: str) -> list[str]:
    """The SMILES strings of a .smi / .txt file (first token per line; a header line 'smiles' is skipped), a .csv /
    .csv.gz (its ``smiles`` column, any case), an .sdf (each record's molecule, written as SMILES; an unreadable record
    becomes an empty string, which :func:`prepare` counts as unparseable) or ``moses:SPLIT`` (:func:`moses_file`). Read
    as text only. One-line DataError for a missing file, a CSV without that column, no rows."""
    if path.startswith("moses:"):
        path = str(moses_file(path.split(":", 1)[1]))
    p = Path(path)
    if not p.is_file():
        raise DataError(f"data.path: {path} is not a file; give a .smi, .csv or .sdf of molecules")
    if p.suffix.lower() == ".sdf":  # RDKit parses the text records; an unreadable record is dropped (counted as unparseable)
        supplier = _rdkit().SDMolSupplier(str(p))
        out = [_rdkit().MolToSmiles(m) if m is not None else "" for m in supplier]
    elif p.name.lower().endswith((".csv", ".csv.gz")):
        import gzip

        with (gzip.open(p, "rt", newline="") if p.suffix.lower() == ".gz" else p.open(newline="")) as f:
            reader = csv.DictReader(f)
            column = next((c for c in reader.fieldnames or () if c.strip().lower() == "smiles"), None)
            if column is None:
                raise DataError(f"{path}: no 'smiles' column (columns: {', '.join(reader.fieldnames or ())}); name the SMILES column 'smiles'")
            out = [row[column].strip() for row in reader if row.get(column, "").strip()]
    else:  # .smi / .txt
        try:
            text = p.read_text()
        except UnicodeDecodeError:
            raise DataError(f"{path}: not a text file of SMILES (one per line); give a .smi or .csv") from None
        out = [line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if out and out[0].lower() == "smiles":
            out = out[1:]
    if not out:
        raise DataError(f"{path}: no SMILES found")
    return out


class MolData:
    """One split of a molecule dataset, as graphs.

    Attributes:
        smiles: the canonical SMILES of the split's molecules (N). nodes: (N, M) int64. edges: (N, M, M) int64.
        vocab: the whole dataset's vocabulary (every split shares it). dropped: {reason: count} of input molecules
        left out (unparseable, too many atoms, several fragments). source: where the molecules came from.
    """

    def __init__(self, smiles: list[str], vocab: MolVocab, dropped: dict[str, int], source: str) -> None:
        Chem = _rdkit()
        self.smiles, self.vocab, self.dropped, self.source = list(smiles), vocab, dropped, source
        nodes, edges = zip(*(encode(Chem.MolFromSmiles(s), vocab) for s in smiles)) if smiles else ((), ())
        self.nodes = np.stack(nodes) if smiles else np.zeros((0, vocab.max_atoms), np.int64)
        self.edges = np.stack(edges) if smiles else np.zeros((0, vocab.max_atoms, vocab.max_atoms), np.int64)

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def shape(self) -> tuple[int, int]:
        """(M, T): atoms per graph and atom types (with "no atom")."""
        return (self.vocab.max_atoms, self.vocab.num_atom_types)

    def graph_info(self) -> dict[str, Any]:
        return {**self.vocab.to_dict(), "source": self.source, "dropped": dict(self.dropped)}


def prepare(raw: list[str], max_atoms: int) -> tuple[list[str], MolVocab, dict[str, int]]:
    """Canonical SMILES of the usable molecules of ``raw``, the vocabulary they need and what was dropped and why."""
    Chem = _rdkit()
    keep, dropped, atoms = [], {"unparseable": 0, "too many atoms": 0, "several fragments": 0}, set()
    for s in raw:
        mol = Chem.MolFromSmiles(s) if s else None  # RDKit reads "" as a molecule of no atoms
        if mol is None:
            dropped["unparseable"] += 1
        elif mol.GetNumHeavyAtoms() > max_atoms:
            dropped["too many atoms"] += 1
        elif len(Chem.GetMolFrags(mol)) != 1:
            dropped["several fragments"] += 1
        else:
            keep.append(Chem.MolToSmiles(mol))
            atoms.update((a.GetSymbol(), a.GetFormalCharge()) for a in mol.GetAtoms())
    order = {"C": 0, "N": 1, "O": 2, "F": 3}  # the common elements first, then alphabetical; neutral before charged
    vocab = MolVocab(tuple(sorted(atoms, key=lambda a: (order.get(a[0], 9), a[0], abs(a[1]), a[1]))), max_atoms)
    return keep, vocab, {k: v for k, v in dropped.items() if v}


def load_molecules(path: str | None, max_atoms: int = 9, split: str = "train") -> MolData:
    """The molecules of a user's .smi / .csv file (``path``) or, without one, the bundled NCI set, as graphs of at most
    ``max_atoms`` heavy atoms; ``split`` train / test / all (every 5th molecule is a test molecule)."""
    raw = read_smiles_file(path) if path else list(bundled_smiles(max_atoms))
    smiles, vocab, dropped = prepare(raw, max_atoms)
    if not smiles:
        raise DataError(f"{path or 'the bundled set'}: no molecule of at most {max_atoms} heavy atoms in one fragment "
                        f"({', '.join(f'{v} {k}' for k, v in dropped.items())}); raise data.max_atoms")
    index = np.arange(len(smiles))
    keep = {"all": index, "test": index[index % 5 == 4], "train": index[index % 5 != 4]}[split]
    source = f"{path or 'RDKit NCI first_5K'} (≤{max_atoms} heavy atoms), split {split}"
    return MolData([smiles[i] for i in keep], vocab, dropped, source)


class MolBatches:
    """Batches of molecular graphs on the device, epochs of a seeded permutation, with resumable state.

    Each batch holds ``nodes`` (B×M×T one-hot float), ``edges`` (B×M×M×B one-hot float, symmetric) and ``x`` (the same
    nodes, what every schema names its samples). :meth:`add` appends graphs to the pool (the elite-sample loop);
    added graphs are part of the state, so a resumed run sees the same pool.
    """

    def __init__(self, data: MolData, batch_size: int, device: torch.device, seed: int, shard: tuple[int, int] = (0, 1)) -> None:
        if len(data) < batch_size:
            from ..errors import ConfigError

            raise ConfigError(f"train.batch_size: {batch_size} is larger than the dataset ({len(data)} molecules); use at most {len(data)}")
        self.t, self.b = data.vocab.num_atom_types, data.vocab.num_bond_types
        self.nodes, self.edges = torch.from_numpy(data.nodes).to(device), torch.from_numpy(data.edges).to(device)
        self.base = len(data)
        self.batch_size, self.device, self.shard = batch_size, device, shard
        self.gen = torch.Generator().manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self._start_epoch()

    def _start_epoch(self, size: int | None = None) -> None:
        self._epoch_gen_state = self.gen.get_state().tolist()
        self.perm = torch.randperm(size or len(self.nodes), generator=self.gen).to(self.device)

    def next(self) -> Batch:
        if self.pos + self.batch_size > len(self.perm):
            self.epoch, self.pos = self.epoch + 1, 0
            self._start_epoch()
        rank, world = self.shard
        idx = self.perm[self.pos:self.pos + self.batch_size]
        idx = idx if world == 1 else idx[rank * (len(idx) // world):(rank + 1) * (len(idx) // world)]
        self.pos += self.batch_size
        nodes = torch.nn.functional.one_hot(self.nodes[idx], self.t).float()
        return Batch(x=nodes, nodes=nodes, edges=torch.nn.functional.one_hot(self.edges[idx], self.b).float())

    def sample_reference(self, n: int, seed: int = 0) -> torch.Tensor:
        """n real graphs as codes (CPU, N×(M + M²) float32: atom types, then bond types row by row, what samples are),
        drawn with a separate seed: the training stream is not advanced."""
        idx = torch.randint(self.base, (n,), generator=torch.Generator().manual_seed(seed)).to(self.nodes.device)
        return to_codes(self.nodes[idx], self.edges[idx]).cpu()

    def add(self, nodes: torch.Tensor, edges: torch.Tensor) -> None:
        """Append graphs (nodes (K, M), edges (K, M, M) type indices) to the pool; they join from the next epoch."""
        self.nodes = torch.cat([self.nodes, nodes.to(self.device, torch.int64)])
        self.edges = torch.cat([self.edges, edges.to(self.device, torch.int64)])

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos, "epoch_gen": self._epoch_gen_state, "epoch_size": len(self.perm),
                "added_nodes": self.nodes[self.base:].cpu().tolist(), "added_edges": self.edges[self.base:].cpu().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nodes, self.edges = self.nodes[:self.base], self.edges[:self.base]
        if state.get("added_nodes"):
            self.add(torch.tensor(state["added_nodes"]), torch.tensor(state["added_edges"]))
        self.gen.set_state(torch.tensor(state["epoch_gen"], dtype=torch.uint8))
        self._start_epoch(state.get("epoch_size"))  # graphs added during this epoch join the next one
        self.epoch, self.pos = state["epoch"], state["pos"]


__all__ = ["BONDS", "MolVocab", "MolData", "MolBatches", "encode", "decode", "decode_batch", "bundled_smiles",
           "load_molecules", "prepare", "read_smiles_file", "moses_file", "to_codes", "split_codes", "codes_to_smiles"]
