"""The report's "molecules" panel: the properties of the run's latest sampled molecules (``samples/stepN.smi``, written
by the sample hook) against the training molecules — QED, SA and logP histograms on the same bins — and the scores of
those samples (validity, uniqueness, novelty against the training split)."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import html as H  # noqa: E402
from .plots import fig_png  # noqa: E402
from .rundir import Run  # noqa: E402

REAL, SYNTH = "tab:blue", "tab:orange"
PROPERTIES = (("qed", "QED"), ("sa", "SA score"), ("logp", "logP"))


def latest_smiles(run: Run) -> tuple[int, Path] | None:
    """(step, path) of the highest-step samples/stepN.smi, or None."""
    found = [(int(m.group(1)), p) for p in (run.path / "samples").glob("step*.smi") if (m := re.fullmatch(r"step(\d+)\.smi", p.name))]
    return max(found) if found else None


def properties_png(real: dict[str, np.ndarray], fake: dict[str, np.ndarray]) -> bytes:
    """Three density histograms (QED, SA, logP), real and generated on shared bins (PNG bytes)."""
    fig, axes = plt.subplots(1, 3, figsize=(9.0, 2.4), layout="constrained")
    for ax, (key, label) in zip(axes, PROPERTIES):
        both = np.concatenate([real[key], fake[key]])
        bins = np.histogram_bin_edges(both, bins=24) if len(both) else 10
        ax.hist(real[key], bins=bins, density=True, alpha=0.55, color=REAL, label="training molecules")
        if len(fake[key]):
            ax.hist(fake[key], bins=bins, density=True, alpha=0.55, color=SYNTH, label="generated (valid)")
        ax.set_title(label, fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, frameon=False)
    return fig_png(fig)


def molecules_body(run: Run) -> str:
    """The panel's HTML. Raises when the training molecules cannot be read (the report shows a one-line note)."""
    from ..config import data_config
    from ..data.molecules import load_molecules
    from ..metrics.molecules import novelty, properties, to_mol, uniqueness, validity

    latest = latest_smiles(run)
    if latest is None:
        return H.note("No samples/*.smi yet: nothing to compare with the training molecules.")
    step, path = latest
    cfg = data_config(run.config.get("data", {}))
    real = load_molecules(cfg.path, cfg.max_atoms, cfg.split).smiles
    fake = [None if s == "invalid" else s for s in path.read_text().split()]
    mols_r = [m for m in (to_mol(s) for s in real) if m is not None]
    mols_f = [m for m in (to_mol(s) for s in fake) if m is not None]
    props = {"real": properties(mols_r), "fake": properties(mols_f)}
    rows = [["generated (step %d)" % step, len(fake), f"{validity(fake):.3f}", f"{uniqueness(fake):.3f}", f"{novelty(fake, real):.3f}",
             *(f"{props['fake'][k].mean():.3f}" if len(mols_f) else "—" for k, _ in PROPERTIES)],
            ["training molecules", len(real), "1.000", f"{uniqueness(real):.3f}", "—", *(f"{props['real'][k].mean():.3f}" for k, _ in PROPERTIES)]]
    rel = path.relative_to(run.path).as_posix()
    return "\n".join([H.img(properties_png(props["real"], props["fake"]), "properties: training vs generated"),
                      H.table(["molecules", "n", "valid", "unique", "novel", "QED", "SA", "logP"], rows),
                      H.note(f"Generated: the {len(fake)} molecules of {rel} (fixed latents, the averaged G); training: the "
                             f"{len(real)} molecules of {cfg.name}/{cfg.split}. `gankit evaluate RUN --metrics molecules --n 5000` "
                             "scores more samples with every MOSES measure.")])


__all__ = ["molecules_body", "properties_png", "latest_smiles"]
