"""What the CLI and Python users call. No argument parsing here.

>>> import gankit
>>> run = gankit.train("ring", out="runs/ring", overrides=["train.steps=500"])   # doctest: +SKIP
>>> pipe = gankit.load("runs/ring")                                              # doctest: +SKIP
>>> x = pipe(1000, seed=0)            # or gankit.generate(pipe, 1000, seed=0)   # doctest: +SKIP
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .config import Config, load_file, load_preset
from .errors import ConfigError, DataError
from .io.export import UNSAFE_SUFFIXES
from .io.rundir import MetricsLog
from .tasks import Pipeline, load_pipeline, pipeline_for


def resolve_config(preset: str | None = None, config: str | Path | Config | None = None,
                   overrides: Sequence[str] = (), game: str | None = None) -> Config:
    """A validated Config from a preset name (optionally playing preset ``game``'s game: its loss, penalties, tricks and
    optimizer settings on the preset's data and network), a config file / RUN directory, or a Config object."""
    if game is not None and config is not None:
        raise ConfigError("--game puts a preset's game on another preset; use it with --preset, not --config")
    if isinstance(config, Config):
        from .config import from_dict

        return from_dict(config.to_dict(), list(overrides))
    if config is not None:
        return load_file(config, list(overrides))
    return load_preset(preset or "digits", list(overrides), game=game)


def default_run_dir(cfg: Config) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg.name or cfg.data.name}-{stamp}"


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} exists and is not a directory; give a new directory")
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"--out: {out} is not empty; give a new directory, or continue it with --resume {out}")


def train(preset: str | None = None, *, config: str | Path | Config | None = None, out: str | Path | None = None,
          overrides: Sequence[str] = (), resume: str | Path | None = None, game: str | None = None) -> dict[str, Any]:
    """Train a model (a GAN, or a baseline task); returns a summary dict (steps, images seen, wall time, run_dir) and
    writes RUN/report.html at the end (also when the run was interrupted).

    Args:
        preset: a shipped preset name (``gankit presets``); default ``digits``.
        config: a YAML/JSON config file, a RUN directory (re-creates that run) or a Config.
        out: the run directory to create (default runs/<name>-<timestamp>).
        overrides: dotted ``section.key=value`` strings applied last.
        resume: a run directory to continue from its latest checkpoint (overrides apply, e.g. train.steps).
        game: another preset whose game (loss, reg, trick, optimizer settings, spectral norm) ``preset`` plays,
            e.g. ``train("digits", game="wgan-gp")``.
    """
    from .training.loop import Trainer

    if resume is not None and game is not None:
        raise ConfigError("--game applies to a new run; a resumed run keeps its config")
    if resume is not None:
        run_dir = Path(resume)
        if run_dir.suffix.lower() in UNSAFE_SUFFIXES:
            raise ConfigError(f"--resume: {run_dir.name} looks like a pickle ({run_dir.suffix}); gankit never unpickles. "
                              "Give a gankit run directory (config.json + checkpoints/)")
        if not (run_dir / "config.json").is_file():
            raise ConfigError(f"--resume: {run_dir} is not a run directory (no config.json)")
        cfg = load_file(run_dir / "config.json", list(overrides))
        return _run(Trainer(cfg, run_dir, resume=True))
    cfg = resolve_config(preset, config, overrides, game)
    run_dir = Path(out) if out is not None else default_run_dir(cfg)
    _check_out_dir(run_dir)
    return _run(Trainer(cfg, run_dir))


def profile(preset: str | None = None, *, config: str | Path | Config | None = None, overrides: Sequence[str] = (),
            game: str | None = None, steps: int = 10, warmup: int = 5, trace: str | Path | None = None) -> dict[str, Any]:
    """Where a run's training step spends its time, without writing a run: ``warmup`` steps, then ``steps`` under
    torch.profiler, then ``steps`` timed without it.

    Returns {"step_ms", "img_s", "gflop_per_step", "gflop_s", "precision", "parts": {"D.forward": ms per step, ...}
    (the loop's ranges, inclusive), "ops": {op: self ms per step} (the top 15), "profiled_ms", "steps"}. ``trace``: a
    FILE.json Chrome trace of the profiled steps (chrome://tracing, Perfetto)."""
    import tempfile

    from .training.loop import Trainer
    from .training.profiling import profile_run

    if steps < 1 or warmup < 0:
        raise ConfigError(f"--steps {steps} / --warmup {warmup}: profile at least 1 step after 0 or more warm-up steps")
    if trace is not None and Path(trace).suffix.lower() != ".json":
        raise ConfigError(f"--trace: {trace} should be a FILE.json (a Chrome trace)")
    cfg = resolve_config(preset, config, [*overrides, "train.progress=false"], game)
    with tempfile.TemporaryDirectory() as tmp:
        return profile_run(Trainer(cfg, Path(tmp) / "profile"), steps, warmup, trace)


def _run(trainer: Any) -> dict[str, Any]:
    """Run, then write the report (after the run's end event; also when a signal stopped it)."""
    from .training.loop import Interrupted

    try:
        summary = trainer.run()
    except Interrupted:
        if trainer.dist.is_main:
            write_run_report(trainer.run_dir)
        raise
    if summary.pop("main_process", True):
        write_run_report(trainer.run_dir)
    return summary


def write_run_report(run_dir: Path) -> None:
    """RUN/report.html at the end of a run. A failing report never fails the run: the error is logged as a ``report``
    event and printed as one line."""
    import sys

    from .report import write_report  # report/ only reads the run directory

    log = MetricsLog(Path(run_dir) / "metrics.jsonl")
    try:
        write_report(run_dir)
        log.write("report", path="report.html")
    except Exception as e:  # noqa: BLE001 - the run itself succeeded; say what went wrong and go on
        msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        log.write("report", ok=False, error=msg)
        print(f"gankit: warning: report not written ({msg}); retry with: gankit report {run_dir}", file=sys.stderr)


def load(path: str | Path, device: str | torch.device = "cpu") -> Pipeline:
    """An export (RUN, RUN/generator or RUN/best) as a callable pipeline: ``pipe(n)``, ``pipe(n, labels)``.

    The network is ``pipe.module`` (eval mode, no gradients); its attributes (``z_dim``, ``c_dim``, ``gankit_meta``)
    are readable on the pipeline.
    """
    return load_pipeline(path, device)


def generate(model: Pipeline | nn.Module, n: int, seed: int = 0, labels: int | Sequence[int] | torch.Tensor | None = None,
             batch: int = 512) -> torch.Tensor:
    """n samples in data space from a pipeline (or a generator module): points n×D, images n×C×H×W in [-1, 1].

    Args:
        labels: for conditional generators: one class for all samples, or n labels; default: cycle
            through the classes (0, 1, ..., c_dim-1, 0, ...).
    """
    if not isinstance(model, Pipeline):
        model = pipeline_for(model, getattr(model, "gankit_meta", {}))
    return model(n, labels=labels, seed=seed, batch=batch)


def save_samples(x: torch.Tensor, out: str | Path, nrow: int | None = None, centers: Any = None) -> Path:
    """Write samples as .npy (data space) or a .png grid / scatter plot over ``centers`` (toys)."""
    from .visual import save_grid, save_scatter

    out = Path(out)
    if out.suffix not in (".npy", ".png"):
        raise ConfigError(f"--out: {out.name} must end in .npy (samples in data space) or .png (a picture)")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        tmp = out.with_name(f".{out.stem}.tmp.npy")
        np.save(tmp, x.numpy())
        tmp.replace(out)
    elif x.ndim == 4:
        save_grid(x, out, nrow=nrow)
    else:
        save_scatter(x, out, centers=centers)
    return out


def sample_table(pipe: Pipeline, n: int, out: str | Path | None = None, seed: int = 0, condition: dict[str, Any] | None = None) -> Any:
    """n synthetic rows (a DataFrame) of a table model (ctgan, tvae), only rows with ``condition``'s values when given
    ({column: value}, categorical / boolean columns); written to ``out`` (.csv) when given."""
    from .data.tables.schema import write_csv
    from .tasks import TablePipeline

    if not isinstance(pipe, TablePipeline):
        raise ConfigError("sample_table: this model does not make tables; use generate()")
    if out is not None and Path(out).suffix.lower() != ".csv":
        raise ConfigError(f"--out: {Path(out).name}: a table model writes rows as FILE.csv")
    rows = pipe(n, seed=seed, condition=condition)
    if out is not None:
        write_csv(rows, pipe.layout.schema, out)
    return rows


def sample_molecules(pipe: Pipeline, n: int, out: str | Path | None = None, seed: int = 0) -> Any:
    """n molecules of a molecule model (molgan) as a DataFrame — smiles (None: not a valid molecule), valid, qed, sa,
    logp — written to ``out`` when given: .smi (one SMILES per line, ``invalid`` for the others), .csv (the table) or
    .png (RDKit drawings of the first 48 valid ones)."""
    import pandas as pd

    from .metrics.molecules import logp, qed, sa_score, to_mol
    from .tasks import MolGANPipeline
    from .visual import save_molecules

    if not isinstance(pipe, MolGANPipeline):
        raise ConfigError("sample_molecules: this model does not make molecules; use generate()")
    suffix = Path(out).suffix.lower() if out is not None else ""
    if out is not None and suffix not in (".smi", ".csv", ".png"):
        raise ConfigError(f"--out: {Path(out).name}: a molecule model writes FILE.smi, FILE.csv or FILE.png")
    smiles = pipe(n, seed=seed)
    mols = [to_mol(s) for s in smiles]
    table = pd.DataFrame({"smiles": smiles, "valid": [m is not None for m in mols],
                          "qed": [qed(m) if m is not None else np.nan for m in mols],
                          "sa": [sa_score(m) if m is not None else np.nan for m in mols],
                          "logp": [logp(m) if m is not None else np.nan for m in mols]})
    if suffix == ".csv":
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(out).with_name(f".{Path(out).stem}.tmp.csv")
        table.to_csv(tmp, index=False)
        tmp.replace(out)
    elif out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        save_molecules(smiles, out)
    return table


def _image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """The image files named by ``inputs`` (files, or folders whose image files are taken, sorted); one-line errors."""
    from .data.photos import _EXTENSIONS

    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in _EXTENSIONS and not f.name.startswith("."))
            if not found:
                raise DataError(f"{p}: no image files ({', '.join(sorted(_EXTENSIONS))}) in this folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{p}: no such file or folder; give image files or folders of them")
    return files


def _write_png(x: torch.Tensor, path: Path) -> None:
    """One C×H×W image in [-1, 1] as an 8-bit PNG, written atomically."""
    from PIL import Image

    from .data.images import to_uint8

    arr = to_uint8(x[None])[0].permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(tmp)
    tmp.replace(path)


def upscale(pipe: Pipeline | str | Path, inputs: Sequence[str | Path], out: str | Path, alpha: float | None = None,
            tile: int = 0) -> list[Path]:
    """Super-resolve image files (or folders of them) with a superres run; writes OUT/<name>.png for each, returns the paths.

    ``alpha``: ESRGAN's network interpolation (0 the PSNR model, 1 the GAN; runs trained with sr.pretrain > 0). ``tile``:
    process in overlapping tiles of that many input pixels (0: whole images). Every input is read before anything is written."""
    from .data.images import to_float
    from .data.photos import read_photo
    from .tasks import SuperResolutionPipeline

    pipe = load(pipe) if not isinstance(pipe, Pipeline) else pipe
    if not isinstance(pipe, SuperResolutionPipeline):
        raise ConfigError(f"upscale: {pipe.meta.get('task', 'this')} models do not upscale; give a superres run")
    if tile < 0:
        raise ConfigError(f"--tile: {tile} must be 0 (whole images) or a tile side in input pixels")
    files = _image_files(inputs)
    channels = pipe.meta["kwargs"]["img_channels"]
    images = [to_float(read_photo(str(f), channels)) for f in files]
    outs = [pipe(x[None], alpha=alpha, tile=tile)[0] for x in images]
    paths = []
    for f, y in zip(files, outs):
        paths.append(Path(out) / f"{f.stem}.png")
        _write_png(y, paths[-1])
    return paths


def inpaint(pipe: Pipeline | str | Path, image: str | Path, mask: str | Path, out: str | Path, overlap: int | None = None) -> Path:
    """Fill the holes of an image file with an inpaint run: ``mask`` an image of the same size, white (≥ 128) where pixels
    are missing; writes ``out`` (.png) with the known pixels unchanged. Larger images are done in overlapping windows."""
    from .data.images import to_float
    from .data.masks import load_mask
    from .data.photos import read_photo
    from .tasks import InpaintPipeline

    pipe = load(pipe) if not isinstance(pipe, Pipeline) else pipe
    if not isinstance(pipe, InpaintPipeline):
        raise ConfigError(f"inpaint: {pipe.meta.get('task', 'this')} models do not inpaint; give an inpaint run")
    if Path(out).suffix.lower() != ".png":
        raise ConfigError(f"--out: {Path(out).name}: the completed image is written as FILE.png")
    x = to_float(read_photo(str(image), pipe.meta["kwargs"]["img_channels"]))
    m = torch.as_tensor(load_mask(str(mask), x.shape[1], x.shape[2]), dtype=torch.float32)
    y = pipe(x[None], masks=m[None, None], overlap=overlap)[0]
    _write_png(y, Path(out))
    return Path(out)


def parse_targets(pairs: Sequence[str]) -> dict[str, str]:
    """``["color=red", "thick=1"]`` -> {"color": "red", "thick": "1"}; one-line errors for anything else."""
    out: dict[str, str] = {}
    for text in pairs:
        key, sep, value = text.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"--to: {text!r} is not ATTR=VALUE (e.g. --to color=red thick=1)")
        out[key.strip()] = value.strip()
    return out


def translate(pipe: Pipeline | str | Path, inputs: Sequence[str | Path], out: str | Path, direction: str | None = None,
              to: dict[str, str] | Sequence[str] | None = None) -> list[Path]:
    """Translate image files (or folders of them) with a pix2pix, cyclegan or stargan run; writes OUT/<name>.png for
    each and returns the paths. Images are resized to the model's resolution (Pillow bicubic) as its data was.

    ``direction`` (CycleGAN): AtoB (default) or BtoA. ``to`` (StarGAN): {attribute: value} or ["ATTR=VALUE", ...];
    attributes left out keep the input's own, as the model's D reads them. Every input is read before anything is
    written."""
    from .data.images import to_float
    from .data.layouts import read_images
    from .tasks import StarGANPipeline, TranslationPipeline

    pipe = load(pipe) if not isinstance(pipe, Pipeline) else pipe
    if not isinstance(pipe, TranslationPipeline):
        raise ConfigError(f"translate: {pipe.meta.get('task', 'this')} models do not translate; give a pix2pix, cyclegan or stargan run")
    if to and not isinstance(pipe, StarGANPipeline):
        raise ConfigError(f"--to: a {pipe.meta.get('task')} model translates between two fixed domains; --to is for stargan runs")
    if isinstance(pipe, StarGANPipeline) and not to:
        raise ConfigError(f"translate: a stargan model needs target attributes: --to ATTR=VALUE ... ({pipe.describe()})")
    files = _image_files(inputs)
    channels = pipe.meta["domains"]["channels_a" if direction != "BtoA" else "channels_b"]
    (images,) = read_images([str(f) for f in files], channels, pipe.meta["data"]["shape"][-1])  # as training images were read
    batch = to_float(images)
    if isinstance(pipe, StarGANPipeline):
        target = parse_targets(to) if not isinstance(to, dict) else to
        outs = pipe(batch, target=target)
    else:
        outs = pipe(batch, direction=direction)
    paths = []
    for f, y in zip(files, outs):
        paths.append(Path(out) / f"{f.stem}.png")
        _write_png(y, paths[-1])
    return paths


def augment(pipe: Pipeline | str | Path, out: str | Path, per_class: int, *, seed: int = 0, truncation: float = 0.0,
            filter: bool = False) -> tuple[Path, list[int]]:
    """Write a labelled synthetic set from a class-conditional run (task acgan, or gan with model.conditional=true):
    ``per_class`` images of every class to ``out`` (a .npz with x uint8 N×C×H×W, y, class_names; or a folder with a
    subfolder of PNG files per class). ``truncation``: τ of the truncated-normal z (0: off). ``filter``: keep only the
    samples that a classifier trained on the run's own labelled training images (gankit.downstream's fixed classifier)
    assigns to their class. Returns (the path, how many images of each class were written)."""
    from . import downstream
    from .config import from_dict
    from .data import build_dataset
    from .data.images import FewLabelData, to_float

    if truncation < 0:
        raise ConfigError(f"--truncation: {truncation} must be ≥ 0 (0: off; BigGAN used 0.5-2)")
    run = pipe if not isinstance(pipe, Pipeline) else None
    pipe = load(pipe) if not isinstance(pipe, Pipeline) else pipe
    names = list(pipe.meta.get("data", {}).get("class_names", [])) or list(pipe.meta.get("class_names", []))
    keep = None
    if filter:
        run_cfg = pipe.meta.get("run_config")
        if run_cfg is None:
            raise ConfigError(f"--filter: {run} has no run config to read its labelled images from; give the run directory")
        data = build_dataset(from_dict(run_cfg).data, "train")
        x, y = to_float(data.images), data.labels
        if isinstance(data, FewLabelData):
            x, y = x[data.known], y[data.known]
        keep = downstream.train_classifier(x, y, len(names), augment=True, seed=seed)
    x, y = downstream.synthesize(pipe, per_class, seed=seed, truncation=truncation, keep=keep)
    counts = torch.bincount(y, minlength=len(names)).tolist()
    return downstream.write_synthetic(x, y, out, names or [str(k) for k in range(len(counts))]), counts


__all__ = ["train", "load", "generate", "save_samples", "sample_table", "sample_molecules", "upscale", "inpaint", "translate", "augment", "parse_targets", "resolve_config", "DataError"]
