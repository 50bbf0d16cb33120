"""Typed configuration: one dataclass per concern, YAML presets, dotted overrides, validation.

A run is fully described by a :class:`Config`. Presets (``src/gankit/presets/*.yaml``) are partial nested
dicts merged over the dataclass defaults; the CLI then applies ``section.key=value`` overrides. The
resolved config is written to ``RUN/config.json`` and re-creates the run (``--config RUN/config.json``).

Every field is validated before any work: unknown keys, wrong types and out-of-range values raise a
one-line :class:`~gankit.errors.ConfigError` naming the field, the value and what is allowed.
"""
from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


def _f(default: Any = dataclasses.MISSING, *, help: str = "", low: float | None = None,  # noqa: A002
       high: float | None = None, choices: tuple[str, ...] | None = None, registry: str | None = None,
       factory: Any = None) -> Any:
    """A dataclass field with validation metadata (range, fixed choices, or a registry to choose from)."""
    meta = {"help": help, "low": low, "high": high, "choices": choices, "registry": registry}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    """What to train on. Toys (ring, grid, mog1d) are sampled fresh every batch; images are held in memory."""

    name: str = _f("digits", help="dataset", registry="datasets")
    path: str | None = _f(None, help="folder or file for folder / mnist / cifar10 data")
    split: str = _f("train", help="which split to train on", choices=("train", "test", "all"))
    resolution: int = _f(32, help="image side in pixels", low=4, high=1024)
    channels: int = _f(1, help="image channels: 1 grey, 3 RGB", choices=None, low=1, high=3)
    modes: int | None = _f(None, help="toys: number of mixture components (grid: a square number)", low=1, high=10000)
    radius: float = _f(1.0, help="ring: radius of the circle of centres", low=0.0)
    spacing: float = _f(2.0, help="grid / mog1d: distance between neighbouring centres", low=0.0)
    std: float | None = _f(None, help="toys: standard deviation of each component (default: ring 0.01, grid 0.05, mog1d 0.25)", low=0.0)
    skip_bad_files: bool = _f(False, help="folder: skip unreadable images and report them instead of stopping")
    max_memory_mb: float = _f(2048.0, help="folder: above this decoded size the images stream from disk", low=1.0)


@dataclass
class ModelConfig:
    """Network family and size. Widths double towards the 4×4 end of convolutional networks."""

    name: str = _f("dcgan", help="model family", registry="models")
    z_dim: int = _f(100, help="noise dimension", low=1, high=4096)
    conditional: bool = _f(False, help="condition G and D on the dataset's labels")
    g_width: int = _f(64, help="G channels at the highest resolution (conv) or hidden units (mlp)", low=1, high=4096)
    d_width: int = _f(64, help="D channels at the highest resolution (conv) or hidden units (mlp)", low=1, high=4096)
    max_width: int = _f(512, help="cap on channels of any convolutional layer", low=1, high=8192)
    depth: int = _f(3, help="mlp: hidden layers of G and D", low=1, high=32)
    spectral_norm: str = _f("none", help="spectral normalization (Miyato et al. 2018) of every conv/linear/embedding weight in D, G, both or none",
                            choices=("none", "d", "g", "both"))
    g_norm: str = _f("auto", help="dcgan/resnet: G's normalization; auto: the family's published choice (batch)",
                     choices=("auto", "batch", "layer", "instance", "group", "none"))
    d_norm: str = _f("auto", help="dcgan/resnet: D's normalization; auto: the family's published choice (dcgan batch, resnet none)",
                     choices=("auto", "batch", "layer", "instance", "group", "none"))
    attention: int = _f(0, help="dcgan/resnet: feature-map side at which G and D get one SAGAN self-attention block; 0: off", low=0, high=1024)
    minibatch_discrimination: int = _f(0, help="D: kernels B of minibatch discrimination (Salimans et al. 2016) on its penultimate features; 0: off",
                                       low=0, high=1024)
    minibatch_dims: int = _f(16, help="D: dimensions C of each minibatch-discrimination kernel", low=1, high=1024)
    mbstd: int = _f(0, help="D: group size of the minibatch standard-deviation feature (Karras et al. 2018); 0: off", low=0, high=1024)
    # style-based generators (stylegan, stylegan2)
    w_dim: int = _f(512, help="stylegan/stylegan2: dimension of the intermediate latent w", low=1, high=4096)
    mapping_layers: int = _f(8, help="stylegan/stylegan2: layers of the mapping network z -> w (Karras et al. 2019: 8)", low=1, high=32)
    mapping_lr_mul: float = _f(0.01, help="stylegan/stylegan2: learning-rate multiplier of the mapping network", low=0.0, high=1.0)
    style_mixing: float = _f(0.9, help="stylegan/stylegan2: probability of style-mixing regularization per training batch", low=0.0, high=1.0)
    w_avg_beta: float = _f(0.995, help="stylegan/stylegan2: decay of the tracked average w used by the truncation trick", low=0.0, high=1.0)
    # progressive growing (progan)
    start_resolution: int = _f(4, help="progan: resolution the growing starts from (a power of two)", low=4, high=1024)
    phase_kimg: float = _f(600.0, help="progan: thousands of real images per fade-in phase and per stable phase (Karras et al. 2018: 800)", low=0.0)


@dataclass
class LossConfig:
    """Adversarial loss; see gankit.losses for the exact formulas and sign convention."""

    name: str = _f("nsgan", help="adversarial loss", registry="losses")
    real_target: float = _f(1.0, help="one-sided label smoothing: D's target for real samples (e.g. 0.9)", low=0.0, high=1.0)


@dataclass
class TrainConfig:
    """The schedule. `step` is one G update; D updates and images shown are counted separately."""

    steps: int = _f(2000, help="G updates", low=1)
    batch_size: int = _f(64, help="samples per D and per G update", low=1, high=65536)
    seed: int = _f(0, help="seeds Python, NumPy and torch", low=0)
    n_critic: int = _f(1, help="D updates per G update", low=1, high=100)
    optimizer: str = _f("adam", help="optimizer of G and D", choices=("adam", "rmsprop", "sgd"))
    lr_g: float = _f(2e-4, help="G learning rate", low=0.0, high=10.0)
    lr_d: float = _f(2e-4, help="D learning rate (two time-scale rule: may differ from lr_g)", low=0.0, high=10.0)
    lr_decay: str = _f("none", help="learning-rate schedule of G and D: none, or linear decay to 0 from lr_decay_start·steps to the end",
                       choices=("none", "linear"))
    lr_decay_start: float = _f(0.5, help="fraction of train.steps after which the linear decay begins", low=0.0, high=1.0)
    beta1: float = _f(0.5, help="Adam beta1 (sgd: momentum)", low=0.0, high=1.0)
    beta2: float = _f(0.999, help="Adam beta2", low=0.0, high=1.0)
    ema_kimg: float = _f(0.0, help="half-life of G_ema in thousands of images shown; 0 keeps G_ema = G", low=0.0)
    ema_rampup: float | None = _f(0.05, help="EMA half-life at most this fraction of images shown so far (StyleGAN2); null: off", low=0.0)
    log_every: int = _f(50, help="steps between log lines in metrics.jsonl", low=1)
    sample_every: int = _f(500, help="steps between sample grids / scatter plots", low=1)
    checkpoint_every: int = _f(1000, help="steps between checkpoints", low=1)
    keep_checkpoints: int = _f(2, help="how many recent checkpoints to keep", low=1)
    device: str = _f("auto", help="auto, cpu, cuda or cuda:N")
    threads: int = _f(0, help="CPU threads for torch; 0 leaves torch's default", low=0, high=1024)
    progress: bool = _f(True, help="show a progress bar")
    reuse_fake: bool = _f(True, help="G's update reuses the last D update's fake batch (one G forward pass fewer per step; same gradients)")
    channels_last: bool = _f(True, help="image models: networks and batches in channels_last memory format (measured faster on CPU; see docs/benchmarks/throughput.md)")
    precision: str = _f("auto", help="autocast precision of the forward passes: auto (bf16 for image models where the CPU or GPU computes bf16 "
                        "natively, else fp32), fp32, bf16, or fp16 (GPU, with a gradient scaler)", choices=("auto", "fp32", "bf16", "fp16"))
    compile: bool = _f(False, help="torch.compile G and D (D stays eager when a gradient penalty needs double backward)")
    tensorboard: bool = _f(False, help="also write scalars and sample images to RUN/tensorboard/ (pip install gankit[tensorboard])")


@dataclass
class EvalConfig:
    """Evaluation during training (metric names from `gankit list`)."""

    every: int = _f(0, help="steps between evaluations; 0: only at the end when metrics are set", low=0)
    metrics: list[str] = _f(help="metrics to compute", factory=list)
    n: int = _f(2500, help="generated samples per evaluation (and at most this many real ones)", low=2)
    extractor: str = _f("auto", help="feature extractor (auto: identity for toys, digits-cnn for digits/mnist, else inception-v3-fid)")
    weights: str | None = _f(None, help="inception-v3-fid: path to pt_inception-2015-12-05-6726825d.pth")
    best_metric: str = _f("", help="keep the best generator by this value (e.g. fid, modes); empty: the first metric's main value")
    seed: int = _f(0, help="seed of the evaluation noise and real subsets", low=0)
    patience: int = _f(0, help="early stopping: stop after this many evaluations without a better best_metric; 0: off", low=0)


@dataclass
class HealthConfig:
    """The divergence guard and the health monitor (training/health.py)."""

    guard: bool = _f(True, help="roll back and lower learning rates on NaN/inf or an exploding D")
    max_retries: int = _f(3, help="rollbacks before the run stops with exit code 3", low=0, high=100)
    snapshot_every: int = _f(50, help="steps between in-memory snapshots the guard rolls back to", low=1)
    lr_factor: float = _f(0.5, help="learning rates are multiplied by this on each rollback", low=0.0, high=1.0)
    strengthen: bool = _f(True, help="on each rollback also switch on or raise a gradient penalty (critic losses: reg.gp=10, else ×2)")
    max_abs_logit: float = _f(1e4, help="|mean D output| above this counts as exploding", low=0.0)
    monitor: bool = _f(True, help="log health events (D overpowering, mode collapse, oscillation)")
    diversity_every: int = _f(0, help="steps between diversity checks; 0: every train.sample_every", low=0)
    collapse_ratio: float = _f(0.5, help="warn when G's sample spread falls below this fraction of the data's", low=0.0, high=1.0)


@dataclass
class RegConfig:
    """Penalties on D (gankit.regularizers); each weight 0 = off. D's loss = adversarial + Σ weight · mean penalty."""

    gp: float = _f(0.0, help="WGAN-GP gradient penalty λ on real/fake interpolates (Gulrajani et al. 2017: 10)", low=0.0)
    gp_one_sided: bool = _f(False, help="penalize only gradient norms above 1: max(0, ‖∇‖ − 1)²")
    dragan: float = _f(0.0, help="DRAGAN penalty λ around perturbed real data (Kodali et al. 2017: 10)", low=0.0)
    r1: float = _f(0.0, help="R1 γ: (γ/2)‖∇D(x)‖² on real data (Mescheder et al. 2018)", low=0.0)
    r2: float = _f(0.0, help="R2 γ: (γ/2)‖∇D(G(z))‖² on generated data", low=0.0)
    lazy: int = _f(1, help="gradient penalties (gp, dragan, r1, r2) every this many D updates, weight × interval (StyleGAN2)", low=1, high=1000)
    bcr_real: float = _f(0.0, help="balanced consistency λ on real images (Zhao et al. 2020: 10); T = augment.bcr_policy", low=0.0)
    bcr_fake: float = _f(0.0, help="balanced consistency λ on generated images (Zhao et al. 2020: 10)", low=0.0)
    clip: float = _f(0.0, help="WGAN weight clipping: D's parameters clamped to [−c, c] after each D step (Arjovsky et al. 2017: 0.01)", low=0.0)
    pl: float = _f(0.0, help="StyleGAN2 path-length regularization weight on G (Karras et al. 2020: 2); needs a style-based G", low=0.0)
    pl_lazy: int = _f(4, help="path-length regularization every this many G updates, weight × interval", low=1, high=1000)
    drift: float = _f(0.0, help="ProGAN drift ε·D(x)² on real scores (Karras et al. 2018: 0.001)", low=0.0)


@dataclass
class AugmentConfig:
    """Differentiable augmentation of D's inputs (gankit.augment); images only. ADA settings belong here too."""

    policy: str = _f("", help="DiffAugment transforms for real and fake alike, e.g. color,translation,cutout; empty: off")
    bcr_policy: str = _f("flip,translation", help="the augmentation T of consistency regularization (reg.bcr_real / reg.bcr_fake)")
    ada: str = _f("none", help="adaptive discriminator augmentation (Karras et al. 2020): none, adaptive (p steered toward ada_target) or fixed (p = ada_p)",
                  choices=("none", "adaptive", "fixed"))
    ada_pipeline: str = _f("bgc", help="ADA transforms: bgc (blit, geometric, color), bgcc (+ cutout) or a comma list of transform names")
    ada_p: float = _f(0.0, help="ADA: the augmentation probability at the start (adaptive) or throughout (fixed)", low=0.0, high=1.0)
    ada_target: float = _f(0.6, help="ADA: target of r_t = E[sign(D(real))]; p rises above it and falls below", low=0.0, high=1.0)
    ada_kimg: float = _f(500.0, help="ADA: thousands of images over which p can move from 0 to 1", low=0.0)
    ada_interval: int = _f(4, help="ADA: D updates between adjustments of p", low=1, high=10000)


@dataclass
class TrickConfig:
    """Training tricks from the literature (training/objectives.py); each 0 = off."""

    instance_noise: float = _f(0.0, help="std of Gaussian noise on D's real and fake inputs at step 0, annealed linearly to 0 (Sønderby et al. 2017)", low=0.0)
    instance_noise_steps: int = _f(0, help="steps over which the instance noise anneals to 0; 0: the whole run", low=0)
    feature_matching: float = _f(0.0, help="weight of ‖E f(x) − E f(G(z))‖² on D's penultimate features added to G's loss (Salimans et al. 2016)", low=0.0)
    unroll: int = _f(0, help="unrolled GAN: G's loss through this many look-ahead D updates (Metz et al. 2017: 5)", low=0, high=100)
    pack: int = _f(1, help="PacGAN: D judges this many samples jointly (Lin et al. 2018: 2-4); batch_size must be a multiple", low=1, high=64)
    topk: float = _f(0.0, help="top-k training: G's adversarial loss keeps only this fraction of its batch, the samples D scores most realistic, annealed from 1 (Sinha et al. 2020); 0: off", low=0.0, high=1.0)
    topk_ramp: float = _f(0.5, help="fraction of the run over which top-k's kept fraction falls linearly from 1 to trick.topk (and rises back before trick.topk_stop)", low=0.0, high=1.0)
    topk_stop: float = _f(0.0, help="fraction of the run by which top-k has ended: the kept fraction rises linearly back to 1 over the trick.topk_ramp before it; 0: top-k to the end", low=0.0, high=1.0)


@dataclass
class Config:
    """A whole run."""

    name: str = _f("", help="preset or run name")
    description: str = _f("", help="one line about the recipe")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    reg: RegConfig = field(default_factory=RegConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    trick: TrickConfig = field(default_factory=TrickConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- building from dicts

def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    return {type(None): "null", bool: "true/false"}.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` as type ``tp`` or raise ConfigError. Strings from the command line are parsed."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none")):
            if type(None) in args:
                return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError:
                pass
        raise ConfigError(f"{where}: {value!r} is not {_type_name(tp)}")
    if origin is list:
        (inner,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: {value!r} is not a {_type_name(tp)} (give a list or 'a,b,c')")
        return [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):  # YAML reads "key=1" as an integer
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{where}: {value!r} is not true/false")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: {value!r} is not an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                f = math.nan
            if math.isfinite(f) and f.is_integer():
                return int(f)
        raise ConfigError(f"{where}: {value!r} is not an integer")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: {value!r} is not a number")
        if isinstance(value, (int, float)):
            out = float(value)
        elif isinstance(value, str):
            try:
                out = float(value)
            except ValueError:
                raise ConfigError(f"{where}: {value!r} is not a number") from None
        else:
            raise ConfigError(f"{where}: {value!r} is not a number")
        if not math.isfinite(out):
            raise ConfigError(f"{where}: {value!r} is not a finite number")
        return out
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: {value!r} is not a string")
    raise TypeError(f"unsupported config type {tp!r} at {where}")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping of keys, got {values!r}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"unknown config key {where!r}; keys{' in ' + prefix[:-1] if prefix else ''}: {', '.join(names)}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, f"{where}.")
        else:
            kwargs[key] = _coerce(value, tp, where)
    return cls(**kwargs)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr_d=4e-4"`` -> (["train", "lr_d"], 4e-4). Values are read as YAML scalars or lists."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected section.key=value, e.g. train.steps=500")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) < 1 or not all(parts):
        raise ConfigError(f"override {text!r}: expected section.key=value, e.g. train.steps=500")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def _nest(parts: list[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for p in reversed(parts):
        out = {p: out}
    return out


def from_dict(values: dict[str, Any], overrides: list[str] = ()) -> Config:
    """Build and validate a Config from a (partial) nested dict and dotted overrides."""
    merged = dict(values)
    for text in overrides:
        parts, value = parse_override(text)
        merged = _merge(merged, _nest(parts, value))
    cfg = _build(Config, merged, "")
    validate(cfg)
    return cfg


# --------------------------------------------------------------------------- presets and files

def preset_names() -> list[str]:
    folder = resources.files("gankit") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_dict(name: str) -> dict[str, Any]:
    """The raw YAML of a shipped preset."""
    if name not in preset_names():
        raise ConfigError(f"--preset: unknown preset {name!r}; choose one of: {', '.join(preset_names())}")
    text = (resources.files("gankit") / "presets" / f"{name}.yaml").read_text()
    values = yaml.safe_load(text) or {}
    values.setdefault("name", name)
    return values


GAME_TRAIN_KEYS = ("n_critic", "optimizer", "lr_g", "lr_d", "beta1", "beta2", "lr_decay", "lr_decay_start")


def with_game(values: dict[str, Any], game: str) -> dict[str, Any]:
    """``values`` (a preset's dict) playing preset ``game``'s game: its loss, reg and trick sections, optimizer settings
    (``GAME_TRAIN_KEYS``) and spectral norm. Data, network, batch size, steps, EMA and evaluation stay ``values``'.
    A per-sample gradient penalty (gp, dragan) on a batch-norm DCGAN critic gets layer norm instead, as Gulrajani et
    al. 2017 advise; everything else is copied as is (e.g. a toy preset's R1 γ: give ``reg.r1=10`` for images)."""
    src = preset_dict(game)
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    out["name"] = f"{values.get('name', 'config')}-{game}"
    out["description"] = f"{values.get('name', 'config')} playing {game}'s game"
    for section in ("loss", "reg", "trick"):
        out[section] = dict(src.get(section, {}))
    out["train"] = {**out.get("train", {}), **{k: v for k, v in src.get("train", {}).items() if k in GAME_TRAIN_KEYS}}
    model = out.setdefault("model", {})
    model["spectral_norm"] = src.get("model", {}).get("spectral_norm", "none")
    reg = out["reg"]
    if (reg.get("gp") or reg.get("dragan")) and model.get("name") == "dcgan" and model.get("d_norm", "auto") in ("auto", "batch"):
        model["d_norm"] = "layer"
    return out


def load_preset(name: str, overrides: list[str] = (), game: str | None = None) -> Config:
    """Preset ``name`` (optionally playing preset ``game``'s game, see ``with_game``) with dotted overrides."""
    values = preset_dict(name)
    return from_dict(with_game(values, game) if game else values, overrides)


def load_file(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a config from a .json (e.g. RUN/config.json) or .yaml file."""
    p = Path(path)
    if p.is_dir() and (p / "config.json").is_file():
        p = p / "config.json"
    if not p.is_file():
        raise ConfigError(f"--config: no file at {str(path)!r}; give a .yaml file or a RUN/config.json")
    try:
        text = p.read_text()
        values = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"--config {p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'} ({str(e).splitlines()[0]})") from None
    return from_dict(values or {}, overrides)


# --------------------------------------------------------------------------- validation

def _check_field(section: Any, f: dataclasses.Field, where: str) -> None:
    value = getattr(section, f.name)
    meta = f.metadata
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{where}: {value!r} is not allowed; choose one of: {', '.join(meta['choices'])}")
    if meta.get("registry"):
        from .registry import all_registries  # registries are filled when gankit is imported

        reg = all_registries().get(meta["registry"])
        if reg is not None:
            reg.get(value, field=where)
    nums = value if isinstance(value, list) else [value]
    for v in nums:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            low, high = meta.get("low"), meta.get("high")
            if low is not None and v < low:
                raise ConfigError(f"{where}: {v!r} is too small; allowed: {low} to {high if high is not None else 'any'}")
            if high is not None and v > high:
                raise ConfigError(f"{where}: {v!r} is too large; allowed: {low if low is not None else 'any'} to {high}")


def validate(cfg: Config) -> None:
    """Check every field's range and choices, then the rules that tie fields together."""
    import gankit  # noqa: F401  (fills the registries)

    for section_field in dataclasses.fields(cfg):
        section = getattr(cfg, section_field.name)
        if dataclasses.is_dataclass(section):
            for f in dataclasses.fields(section):
                _check_field(section, f, f"{section_field.name}.{f.name}")
        else:
            _check_field(cfg, section_field, section_field.name)
    from .registry import all_registries

    regs = all_registries()
    for i, m in enumerate(cfg.eval.metrics):
        if "metrics" in regs:
            regs["metrics"].get(m, field=f"eval.metrics[{i}]")
        if m == "ppl":
            raise ConfigError(f"eval.metrics[{i}]: ppl scores the generator itself, not samples; after training run: gankit evaluate RUN --metrics ppl")
    if cfg.eval.best_metric and "metrics" in regs:
        reported = [v for m in cfg.eval.metrics for v in regs["metrics"].get(m).values]
        if cfg.eval.best_metric not in reported:
            raise ConfigError(f"eval.best_metric: {cfg.eval.best_metric!r} is not reported by eval.metrics {cfg.eval.metrics}; "
                              f"choose one of: {', '.join(reported) or '(set eval.metrics first)'}")
    if cfg.eval.extractor != "auto" and "extractors" in regs:
        regs["extractors"].get(cfg.eval.extractor, field="eval.extractor")
    # Cross-field rules live with the pieces they concern (datasets and model families check their
    # own options), so that a new dataset or family brings its own rules.
    if "datasets" in regs:
        checker = getattr(regs["datasets"].get(cfg.data.name), "check_config", None)
        if checker:
            checker(cfg.data)
    if cfg.model.conditional and getattr(regs["datasets"].get(cfg.data.name), "labelled", None) is False:
        raise ConfigError(f"model.conditional: {cfg.data.name!r} has no labels; set model.conditional=false or use labelled data")
    if "models" in regs:
        checker = getattr(regs["models"].get(cfg.model.name), "check_config", None)
        if checker:
            checker(cfg)
    if cfg.train.device not in ("auto", "cpu") and not cfg.train.device.startswith(("cuda", "mps")):
        raise ConfigError(f"train.device: {cfg.train.device!r} is not a device; use auto, cpu, cuda or cuda:N")
    _check_stabilizers(cfg, regs["datasets"].get(cfg.data.name) if "datasets" in regs else None)


def _check_stabilizers(cfg: Config, dataset: Any) -> None:
    """Rules that tie reg / augment / trick to the data and the schedule."""
    from .augment import parse_ada_pipeline, parse_policy

    toy = getattr(dataset, "kind", None) == "toy"
    try:
        for key in ("policy", "bcr_policy"):
            parse_policy(getattr(cfg.augment, key), f"augment.{key}")
        parse_ada_pipeline(cfg.augment.ada_pipeline)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if toy and cfg.augment.policy:
        raise ConfigError(f"augment.policy: {cfg.augment.policy!r} augments images, but {cfg.data.name!r} is 2-D toy data; set augment.policy=''")
    if toy and cfg.augment.ada != "none":
        raise ConfigError(f"augment.ada: adaptive augmentation transforms images, but {cfg.data.name!r} is 2-D toy data; set augment.ada=none")
    if cfg.augment.ada != "none" and cfg.augment.policy:
        raise ConfigError(f"augment.ada={cfg.augment.ada} and augment.policy={cfg.augment.policy!r} both augment D's inputs; "
                          "choose one (set augment.policy='' or augment.ada=none)")
    if toy and (cfg.reg.bcr_real or cfg.reg.bcr_fake):
        raise ConfigError(f"reg.bcr_real / reg.bcr_fake: consistency regularization augments images, but {cfg.data.name!r} is toy data; set them to 0")
    if (cfg.reg.bcr_real or cfg.reg.bcr_fake) and not cfg.augment.bcr_policy.strip():
        raise ConfigError("augment.bcr_policy: consistency regularization needs an augmentation T; e.g. augment.bcr_policy=flip,translation")
    from .losses import build_loss

    try:
        build_loss(cfg.loss)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if cfg.reg.pl and cfg.model.name not in ("stylegan", "stylegan2"):
        raise ConfigError(f"reg.pl: path-length regularization needs a style-based G (model.name=stylegan or stylegan2), "
                          f"not {cfg.model.name}; set reg.pl=0")
    tk = cfg.trick
    if tk.topk and not tk.topk_ramp:
        raise ConfigError("trick.topk_ramp: top-k's kept fraction needs a ramp from 1 to trick.topk; use a fraction of the run in (0, 1], e.g. 0.5")
    if tk.topk and tk.topk_stop and tk.topk_stop < 2 * tk.topk_ramp:
        raise ConfigError(f"trick.topk_stop={tk.topk_stop:g}: top-k falls over {tk.topk_ramp:g} of the run and rises back over "
                          f"{tk.topk_ramp:g} more; use trick.topk_stop >= {2 * tk.topk_ramp:g} or a shorter trick.topk_ramp")
    if tk.topk_stop and not tk.topk:
        raise ConfigError("trick.topk_stop: top-k training is off; set trick.topk (the kept fraction, e.g. 0.5) or trick.topk_stop=0")
    m = cfg.trick.pack
    if m > 1 and cfg.train.batch_size % m:
        raise ConfigError(f"trick.pack: train.batch_size={cfg.train.batch_size} is not a multiple of {m}; use a batch size divisible by {m}")
    if m > 1 and cfg.model.conditional:
        raise ConfigError("trick.pack: PacGAN packs unconditional samples; set trick.pack=1 or model.conditional=false")


def data_config(values: dict[str, Any], overrides: list[str] = ()) -> DataConfig:
    """A validated DataConfig alone (for commands that need data but no model, e.g. evaluate --real-vs-real)."""
    import gankit  # noqa: F401  (fills the registries)
    from .registry import all_registries

    merged = dict(values)
    for text in overrides:
        parts, value = parse_override(text)
        if parts[0] != "data":
            raise ConfigError(f"override {text!r}: only data.* fields apply here")
        merged = _merge(merged, _nest(parts[1:], value))
    cfg = _build(DataConfig, merged, "data.")
    for f in dataclasses.fields(cfg):
        _check_field(cfg, f, f"data.{f.name}")
    checker = getattr(all_registries()["datasets"].get(cfg.name, "data.name"), "check_config", None)
    if checker:
        checker(cfg)
    return cfg


def describe_fields() -> list[tuple[str, str, Any, str]]:
    """(dotted key, type, default, help) for every field: the config reference in docs and `gankit list`."""
    rows = []
    base = Config()
    for sf in dataclasses.fields(Config):
        section = getattr(base, sf.name)
        if dataclasses.is_dataclass(section):
            hints = _hints(type(section))
            for f in dataclasses.fields(section):
                rows.append((f"{sf.name}.{f.name}", _type_name(hints[f.name]), getattr(section, f.name), f.metadata.get("help", "")))
        else:
            rows.append((sf.name, "str", section, sf.metadata.get("help", "")))
    return rows
