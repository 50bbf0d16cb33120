"""Molecules from Python: MolGAN trained on SMILES, sampled as SMILES, scored as MOSES scores.

>>> from gankit.molecules import MolGAN, register_reward                # doctest: +SKIP
>>> model = MolGAN(la=0.5, reward="qed", steps=1500, seed=0).fit()      # RDKit's bundled 431 molecules  # doctest: +SKIP
>>> model.fit(["CCO", "c1ccccc1O", ...])                                # or your own SMILES  # doctest: +SKIP
>>> model.sample(1000)                                                  # canonical SMILES, None where invalid  # doctest: +SKIP
>>> model.evaluate()                                                    # valid, unique, novel, qed, ..., scaf  # doctest: +SKIP
>>> register_reward("small", lambda smi: 1.0 / len(smi))                # then MolGAN(reward="small")  # doctest: +SKIP

Each fit is an ordinary gankit run (the same loop, checkpoints, report and ``gankit.load``); SMILES given as a list are
written into the run directory as ``data/molecules.smi`` and the run trains on them.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

from .errors import ConfigError


def register_reward(name: str, fn: Any) -> None:
    """Make ``fn`` (canonical SMILES -> float in [0, 1]) a reward: ``molgan.reward=name`` (see gankit.tasks.molgan)."""
    from .tasks.molgan import register_reward as _register

    _register(name, fn)


class MolGAN:
    """MolGAN (De Cao & Kipf 2018) with gankit's ``molgan`` preset; keyword options are ``molgan.*`` settings (``la``,
    ``reward``, ``replay``, ``elite_every``, ...), ``steps``, ``seed``, ``minibatch`` (D's batch discriminator), ``out`` (the
    run directory; default a temporary one) and ``overrides`` (any other dotted settings)."""

    def __init__(self, steps: int | None = None, seed: int = 0, out: str | Path | None = None, minibatch: bool = False,
                 max_atoms: int = 9, overrides: Sequence[str] = (), **molgan: Any) -> None:
        self.steps, self.seed, self.out, self.minibatch, self.max_atoms, self.molgan = steps, seed, out, minibatch, max_atoms, molgan
        self.overrides = list(overrides)  # any other config settings, e.g. ["train.batch_size=16"]
        self.run: Path | None = None
        self.pipe: Any = None
        self._tmp: Any = None

    def fit(self, smiles: Sequence[str] | None = None) -> "MolGAN":
        """Train on ``smiles`` (a list of SMILES) or, without them, on the bundled set; returns self."""
        from .api import load, train

        if self.out is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gankit-molgan-")
        run = Path(self.out or self._tmp.name) / "run"
        over = [f"train.seed={self.seed}", f"data.max_atoms={self.max_atoms}", f"model.minibatch={str(self.minibatch).lower()}",
                *(f"molgan.{k}={v}" for k, v in self.molgan.items())]
        if self.steps is not None:
            over.append(f"train.steps={self.steps}")
        if smiles is not None:
            if isinstance(smiles, str) or not len(smiles):
                raise ConfigError("MolGAN.fit: give a list of SMILES strings (or nothing for the bundled set)")
            path = run.parent / "data" / "molecules.smi"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{s}\n" for s in smiles))
            over += [f"data.path={path}", "data.split=all"]
        train("molgan", out=run, overrides=[*over, *self.overrides])
        self.run, self.pipe = run, load(run)
        return self

    def _need(self) -> Any:
        if self.pipe is None:
            raise ConfigError("MolGAN: call fit() first")
        return self.pipe

    def sample(self, n: int, seed: int = 0) -> list[str | None]:
        """n canonical SMILES (None where the graph is not a valid molecule)."""
        return self._need()(n, seed=seed)

    def evaluate(self, n: int = 1000, seed: int = 0) -> dict[str, Any]:
        """The ``molecules`` metrics of n samples against the training molecules (a flat dict with provenance)."""
        from .evaluation import evaluate_run

        self._need()
        return evaluate_run(self.run, ["molecules"], n, seed=seed, log=False)


__all__ = ["MolGAN", "register_reward"]
