"""Typed configuration: one section per concern, chosen by name; YAML presets, dotted overrides, validation.

A run is fully described by a :class:`Config`: ``name``, ``description``, ``task`` (what is trained: ``gan``,
``vae``), ``data``, ``model`` (the options of the family ``model.name`` names, and no other family's), the task's own
sections (gan: ``train``, ``loss``, ``reg``, ``augment``, ``trick``; vae: ``train``, ``vae``), ``eval`` and
``health``. Presets (``src/gankit/presets/*.yaml``) are partial nested dicts merged over the defaults; the CLI then
applies ``section.key=value`` overrides. The resolved config is written to ``RUN/config.json`` and re-creates the run
(``--config RUN/config.json``).

Every field is validated before any work: unknown keys, wrong types and out-of-range values raise a one-line
:class:`~gankit.errors.ConfigError` naming the field, the value and what is allowed. Importing this module imports
neither torch nor any model: the registries that name datasets, families, losses and terms are read when a config
is built.
"""
from __future__ import annotations

import dataclasses
import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..fields import build, check, coerce, describe
from .sections import (COMMON_SECTIONS, TASKS, AugmentConfig, DataConfig, EvalConfig, GANTrainConfig, HealthConfig,
                       LossConfig, TaskConfig, TrainConfig, VAEConfig, VAETrainConfig, term_section)


def registries() -> dict[str, Any]:
    """Every registry a config names, filled (datasets, models, losses, terms, metrics, extractors, likelihoods)."""
    # config sits above these layers; importing them here, when a config is built, keeps `import gankit.config` light
    from .. import data, likelihoods, losses, metrics, models, terms  # noqa: F401
    from ..registry import all_registries

    return all_registries()


def _families() -> Any:
    from ..models import MODELS

    return MODELS


class Config:
    """A whole run (see the module doc). Sections are attributes: ``cfg.train.steps``, ``cfg.model.z_dim``, ``cfg.loss.name``.

    ``Config(values)`` builds the sections from a partial nested dict without validating them; use :func:`from_dict`.
    """

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        values = dict(values or {})
        self.name: str = coerce(values.pop("name", ""), str, "name")
        self.description: str = coerce(values.pop("description", ""), str, "description")
        self.task: TaskConfig = build(TaskConfig, values.pop("task", {}), "task.")
        if self.task.name not in TASKS:
            raise ConfigError(f"task.name: unknown task {self.task.name!r}; choose one of: {', '.join(TASKS)}")
        schema = TASKS[self.task.name]
        own = schema.section_classes()
        allowed = ["data", "model", *own, *[k for k in COMMON_SECTIONS if k != "data"]]
        for key in values:
            if key not in allowed:
                raise ConfigError(f"unknown config key {key!r} for task {self.task.name}; keys: name, description, task, {', '.join(allowed)}")
        model_values = values.get("model", {})
        if not isinstance(model_values, dict):
            raise ConfigError(f"model: expected a mapping of keys, got {model_values!r}")
        family_name = coerce(model_values.get("name", schema.default_model), str, "model.name")
        family = _families().get(family_name, "model.name")
        if family.task != self.task.name:
            from ..models import families_of

            raise ConfigError(f"model.name: {family_name} is a {family.task} family; task {self.task.name} takes: "
                              f"{', '.join(families_of(self.task.name))}")
        self._sections: dict[str, Any] = {"data": build(DataConfig, values.get("data", {}), "data.")}
        _refuse_other_families(model_values, family_name, family, self.task.name)
        self._sections["model"] = build(family.options_cls, {**model_values, "name": family_name}, "model.", label=family_name)
        for key, cls in own.items():
            self._sections[key] = build(cls, values.get(key, {}), f"{key}.")
        for key, cls in COMMON_SECTIONS.items():
            if key != "data":
                self._sections[key] = build(cls, values.get(key, {}), f"{key}.")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._sections[key]
        except KeyError:
            raise AttributeError(f"a {self.task.name} config has no section {key!r}") from None

    def sections(self) -> dict[str, Any]:
        """Section name -> section object, in config.json order."""
        return dict(self._sections)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "task": dataclasses.asdict(self.task),
                **{k: dataclasses.asdict(v) for k, v in self._sections.items()}}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Config({self.to_dict()!r})"


def _refuse_other_families(values: dict[str, Any], name: str, family: Any, task: str) -> None:
    """A model field of another family of the task gets a line that says whose it is (a preset's network options
    meeting ``model.name=other``); unknown names are left to the schema's own error."""
    from ..models import MODELS, families_of

    own = {f.name for f in dataclasses.fields(family.options_cls)}
    for key in values:
        if key in own:
            continue
        owners = [f for f in families_of(task) if key in {x.name for x in dataclasses.fields(MODELS.get(f).options_cls)}]
        if owners:
            raise ConfigError(f"model.{key}: {name} has no {key} (it is an option of {', '.join(owners)}); drop it or use "
                              f"model.name={owners[0]}")


# --------------------------------------------------------------------------- building from dicts

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
    cfg = Config(merged)
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


GAME_TRAIN_KEYS = ("n_critic", "updates", "optimizer", "lr_g", "lr_d", "beta1", "beta2", "lr_decay", "lr_decay_start")


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
    for who, d in ((game, src), (values.get("name", "config"), values)):
        if d.get("task", {}).get("name", "gan") != "gan":
            raise ConfigError(f"--game: {who} is a {d['task']['name']} preset; a game (loss, penalties, tricks) is played by GANs")
    model = out.setdefault("model", {})
    sn = src.get("model", {}).get("spectral_norm", "none")
    family = _families().get(model.get("name", TASKS["gan"].default_model), "model.name")
    if sn != "none" or "spectral_norm" in {f.name for f in dataclasses.fields(family.options_cls)}:
        model["spectral_norm"] = sn
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
    return from_dict(upgrade(values or {}), overrides)


#: defaults of the one ModelConfig every family shared before the task engine (config.json files of older runs list them all)
LEGACY_MODEL_DEFAULTS = {"max_width": 512, "depth": 3, "spectral_norm": "none", "g_norm": "auto", "d_norm": "auto", "attention": 0,
                         "minibatch_discrimination": 0, "minibatch_dims": 16, "mbstd": 0, "w_dim": 512, "mapping_layers": 8,
                         "mapping_lr_mul": 0.01, "style_mixing": 0.9, "w_avg_beta": 0.995, "start_resolution": 4, "phase_kimg": 600.0}


def upgrade(values: dict[str, Any]) -> dict[str, Any]:
    """A config.json written before the task engine (no ``task`` section) as today's: the model fields of other
    families, which that format listed at their defaults, are dropped; a field set to another value stays (and is
    refused by name, as it would not have applied)."""
    if not isinstance(values, dict) or "task" in values or not isinstance(values.get("model"), dict):
        return values
    model = dict(values["model"])
    family = _families().get(model.get("name", TASKS["gan"].default_model), "model.name")
    own = {f.name for f in dataclasses.fields(family.options_cls)}
    for key, default in LEGACY_MODEL_DEFAULTS.items():
        if key not in own and model.get(key, default) == default:
            model.pop(key, None)
    return {**values, "model": model}


# --------------------------------------------------------------------------- validation

def _lookup(regs: dict[str, Any]) -> Any:
    def lookup(registry: str, name: str, where: str) -> None:
        if registry in regs:
            regs[registry].get(name, field=where)

    return lookup


def dataset_of(name: str) -> Any:
    """The registered builder of dataset ``name`` (with its attributes: schema, labelled, extractor, check_config)."""
    return registries()["datasets"].get(name, "data.name")


def traits_of(cfg: Config) -> frozenset[str]:
    """The data's schema name and the model family's traits (what cross-field rules of terms may ask about)."""
    return frozenset({dataset_of(cfg.data.name).schema, *_families().get(cfg.model.name).traits})


def validate(cfg: Config) -> None:
    """Check every field's range and choices, then the rules that tie fields together."""
    regs = registries()
    lookup = _lookup(regs)
    for key, section in cfg.sections().items():
        check(section, f"{key}.", lookup)
    for i, m in enumerate(cfg.eval.metrics):
        regs["metrics"].get(m, field=f"eval.metrics[{i}]")
        if m == "ppl":
            raise ConfigError(f"eval.metrics[{i}]: ppl scores the generator itself, not samples; after training run: gankit evaluate RUN --metrics ppl")
    if cfg.eval.best_metric:
        reported = [v for m in cfg.eval.metrics for v in regs["metrics"].get(m).values]
        if cfg.eval.best_metric not in reported:
            raise ConfigError(f"eval.best_metric: {cfg.eval.best_metric!r} is not reported by eval.metrics {cfg.eval.metrics}; "
                              f"choose one of: {', '.join(reported) or '(set eval.metrics first)'}")
    if cfg.eval.extractor != "auto":
        regs["extractors"].get(cfg.eval.extractor, field="eval.extractor")
    # Cross-field rules live with the pieces they concern (datasets, model families, terms check their own options),
    # so that a new dataset, family or term brings its own rules.
    dataset = dataset_of(cfg.data.name)
    if getattr(dataset, "check_config", None):
        dataset.check_config(cfg.data)
    if cfg.data.size and dataset.schema != "points":
        raise ConfigError(f"data.size: a fixed set of drawn points is for the toy mixtures (ring, grid, mog1d); {cfg.data.name!r} "
                          "is a dataset already: leave data.size=0")
    if getattr(cfg.model, "conditional", False) and not getattr(dataset, "labelled", True):
        raise ConfigError(f"model.conditional: {cfg.data.name!r} has no labels; set model.conditional=false or use labelled data")
    if (cfg.data.labels_per_class or cfg.data.unlabelled) and (dataset.schema != "image" or not getattr(dataset, "labelled", True)):
        raise ConfigError(f"data.labels_per_class: {cfg.data.name!r} is not labelled image data; the few-label protocol takes "
                          "digits, mnist, cifar10 or a folder with class subfolders")
    if cfg.data.labels_per_class and cfg.data.split != "train":
        raise ConfigError(f"data.split: the few-label protocol (data.labels_per_class) trains on the train split; got {cfg.data.split}")
    if cfg.data.unlabelled and not cfg.data.labels_per_class:
        raise ConfigError("data.unlabelled: only with data.labels_per_class (every image is labelled otherwise); set both")
    if cfg.train.device not in ("auto", "cpu") and not cfg.train.device.startswith(("cuda", "mps")):
        raise ConfigError(f"train.device: {cfg.train.device!r} is not a device; use auto, cpu, cuda or cuda:N")
    TASK_CHECKS[cfg.task.name](cfg, traits_of(cfg))  # the task first: it names the task a dataset needs
    _families().get(cfg.model.name).check_config(cfg, dataset.schema)


def _check_gan(cfg: Config, traits: frozenset[str]) -> None:
    """The GAN task's rules: what D sees (augmentation, packing), the loss, and every term's own rules."""
    from ..augment import parse_ada_pipeline, parse_policy
    from ..losses import build_loss
    from ..terms import TERMS

    images = "image" in traits
    if "table" in traits:
        raise ConfigError(f"task.name: gan trains on points and images; {cfg.data.name!r} is a table: use task.name=ctgan (or tvae)")
    if "graph" in traits:
        raise ConfigError(f"task.name: gan trains on points and images; {cfg.data.name!r} holds molecules: use task.name=molgan")
    try:
        for key in ("policy", "bcr_policy"):
            parse_policy(getattr(cfg.augment, key), f"augment.{key}")
        parse_ada_pipeline(cfg.augment.ada_pipeline)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if not images and cfg.augment.policy:
        raise ConfigError(f"augment.policy: {cfg.augment.policy!r} augments images, but {cfg.data.name!r} is not image data; set augment.policy=''")
    if not images and cfg.augment.ada != "none":
        raise ConfigError(f"augment.ada: adaptive augmentation transforms images, but {cfg.data.name!r} is not image data; set augment.ada=none")
    if cfg.augment.ada != "none" and cfg.augment.policy:
        raise ConfigError(f"augment.ada={cfg.augment.ada} and augment.policy={cfg.augment.policy!r} both augment D's inputs; "
                          "choose one (set augment.policy='' or augment.ada=none)")
    try:
        loss = build_loss(cfg.loss)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if cfg.augment.ada != "none" and loss.boundary is None and not loss.relativistic:
        raise ConfigError(f"augment.ada: ADA steers p from which side of D's decision boundary real scores fall; a {loss.name} "
                          "critic has none (its output is defined up to a constant); use loss.name=nsgan, hinge, lsgan or ragan, "
                          "or DiffAugment (augment.policy=color,translation,cutout)")
    for entry in TERMS.in_order():
        entry.obj.check_config(cfg, traits)
    m = cfg.trick.pack
    if m > 1 and cfg.train.batch_size % m:
        raise ConfigError(f"trick.pack: train.batch_size={cfg.train.batch_size} is not a multiple of {m}; use a batch size divisible by {m}")
    if m > 1 and cfg.model.conditional:
        raise ConfigError("trick.pack: PacGAN packs unconditional samples; set trick.pack=1 or model.conditional=false")
    if cfg.trick.probe_adversarial and (cfg.model.conditional or m > 1):
        raise ConfigError("trick.probe_adversarial: probes an unconditional, unpacked D; set model.conditional=false and trick.pack=1, "
                          "or trick.probe_adversarial=0")


def _check_vae(cfg: Config, traits: frozenset[str]) -> None:
    """The VAE task's rules: a likelihood that fits the data."""
    lk = cfg.vae.likelihood
    if "table" in traits:
        raise ConfigError(f"task.name: vae models points and images; {cfg.data.name!r} is a table: use task.name=tvae")
    if "graph" in traits:
        raise ConfigError(f"task.name: vae models points and images; {cfg.data.name!r} holds molecules: use task.name=molgan")
    if "points" in traits and lk in ("bernoulli", "logistic"):
        raise ConfigError(f"vae.likelihood: {lk} is a likelihood of pixels; {cfg.data.name!r} holds points: use gaussian (or auto)")
    if "image" in traits and lk == "gaussian":
        raise ConfigError("vae.likelihood: gaussian on [-1, 1] pixels is not a likelihood of images here; use bernoulli or logistic (or auto)")


def _check_density(cfg: Config, traits: frozenset[str]) -> None:
    """flow, autoregressive and diffusion model points and images (their families say which of the two)."""
    if "points" not in traits and "image" not in traits:
        raise ConfigError(f"task.name: {cfg.task.name} models points and images; {cfg.data.name!r} is neither (use data.name=ring, grid "
                          "or digits)")
    if "image" in traits and cfg.task.name in ("flow", "autoregressive") and cfg.data.labels_per_class:
        raise ConfigError(f"data.labels_per_class: {cfg.task.name} models are unconditional; set data.labels_per_class=0")
    if cfg.task.name == "diffusion" and cfg.diffusion.sampler == "ddim" and cfg.diffusion.steps > cfg.model.timesteps:
        raise ConfigError(f"diffusion.steps: DDIM samples on a subsequence of the {cfg.model.timesteps} training steps; {cfg.diffusion.steps} is "
                          f"more: use at most {cfg.model.timesteps}")


def _check_table_task(cfg: Config, traits: frozenset[str]) -> None:
    """ctgan / tvae: table data (the model family checks it too)."""
    if "table" not in traits:
        raise ConfigError(f"task.name: {cfg.task.name} models tables; {cfg.data.name!r} is not table data (use data.name=table)")


def _check_molgan(cfg: Config, traits: frozenset[str]) -> None:
    """molgan: molecular graphs (the model family checks it too)."""
    if "graph" not in traits:
        raise ConfigError(f"task.name: molgan generates molecules; {cfg.data.name!r} is not molecule data (use data.name=molecules)")


def _check_pairs(cfg: Config, traits: frozenset[str]) -> None:
    """Super-resolution and inpainting train on photo pairs of their own degradation."""
    want = {"superres": "bicubic", "inpaint": "mask"}[cfg.task.name]
    if "pairs" not in traits:
        raise ConfigError(f"task.name: {cfg.task.name} restores photos; {cfg.data.name!r} is not photo data (use data.name=photos "
                          f"data.degrade={want})")
    if cfg.data.degrade != want:
        raise ConfigError(f"data.degrade: {cfg.task.name} needs data.degrade={want}; got {cfg.data.degrade}")
    if cfg.task.name == "superres" and cfg.sr.layer:
        from ..metrics.vgg import CONV_NAMES

        kind, _, rest = cfg.sr.layer.partition("_")
        if kind[:-1] not in ("conv", "relu") or f"conv{kind[-1:]}_{rest}" not in CONV_NAMES:
            raise ConfigError(f"sr.layer: {cfg.sr.layer!r} is not a VGG19 layer; use conv1_1 … conv5_4 (before activation) or "
                              "relu1_1 … relu5_4 (after)")


def _check_translation(cfg: Config, traits: frozenset[str]) -> None:
    """pix2pix, cyclegan and stargan translate images between domains (the task checks the data's kind)."""
    if "domains" not in traits:
        example = {"pix2pix": "edges2digits", "cyclegan": "digits2color", "stargan": "digits-attrs"}[cfg.task.name]
        raise ConfigError(f"task.name: {cfg.task.name} translates images between domains; {cfg.data.name!r} is not translation data "
                          f"(use data.name={example}, or data.name=translation data.path=FOLDER)")


def _check_labelled(cfg: Config, traits: frozenset[str]) -> None:
    """acgan and ssgan learn classes: labelled images (ssgan also uses the unlabelled ones)."""
    if "image" not in traits or not getattr(dataset_of(cfg.data.name), "labelled", True):
        raise ConfigError(f"task.name: {cfg.task.name} learns classes from labelled images; {cfg.data.name!r} is not labelled image "
                          "data (use data.name=digits, mnist, cifar10, or a folder with class subfolders)")
    if cfg.task.name == "ssgan" and cfg.data.labels_per_class and not cfg.data.unlabelled:
        raise ConfigError("data.unlabelled: ssgan learns from the unlabelled images too; set data.unlabelled=true "
                          "(or data.labels_per_class=0 to label every image)")


def _check_adaptation(cfg: Config, traits: frozenset[str]) -> None:
    """pixelda adapts labelled source images to an unlabelled target domain."""
    if "domains" not in traits:
        raise ConfigError(f"task.name: pixelda adapts a labelled source domain to a target domain; {cfg.data.name!r} is not "
                          "domain data (use data.name=digits-m)")


TASK_CHECKS = {"pix2pix": _check_translation, "cyclegan": _check_translation, "stargan": _check_translation, "gan": _check_gan, "vae": _check_vae, "ctgan": _check_table_task, "tvae": _check_table_task, "molgan": _check_molgan, "superres": _check_pairs,
               "inpaint": _check_pairs, "acgan": _check_labelled, "ssgan": _check_labelled, "pixelda": _check_adaptation,
               "flow": _check_density, "autoregressive": _check_density, "diffusion": _check_density}


def data_config(values: dict[str, Any], overrides: list[str] = ()) -> DataConfig:
    """A validated DataConfig alone (for commands that need data but no model, e.g. evaluate --real-vs-real)."""
    merged = dict(values)
    for text in overrides:
        parts, value = parse_override(text)
        if parts[0] != "data":
            raise ConfigError(f"override {text!r}: only data.* fields apply here")
        merged = _merge(merged, _nest(parts[1:], value))
    cfg = build(DataConfig, merged, "data.")
    check(cfg, "data.", _lookup(registries()))
    checker = getattr(dataset_of(cfg.name), "check_config", None)
    if checker:
        checker(cfg)
    return cfg


def describe_fields(task: str = "gan") -> list[tuple[str, str, Any, str]]:
    """(dotted key, type, default, help) of every field a ``task`` config can have: the default config's fields,
    then the model fields of the task's other families (their help says which families have them)."""
    cfg = Config({"task": {"name": task}})
    rows = [("name", "str", "", "preset or run name"), ("description", "str", "", "one line about the recipe")]
    rows += [(k, tp, task, h) for k, tp, _, h in describe(TaskConfig, "task.")]
    for key, section in cfg.sections().items():
        rows += describe(type(section), f"{key}.")
    from ..models import MODELS, families_of

    seen = {r[0] for r in rows}
    extra: dict[str, tuple[tuple[str, str, Any, str], list[str]]] = {}
    for name in families_of(task):
        for row in describe(MODELS.get(name).options_cls, "model."):
            if row[0] not in seen:
                extra.setdefault(row[0], (row, []))[1].append(name)
    for row, fams in extra.values():
        rows.append((row[0], row[1], row[2], f"{row[3]} [{', '.join(fams)}]"))
    return rows


__all__ = ["Config", "TaskConfig", "DataConfig", "TrainConfig", "GANTrainConfig", "VAETrainConfig", "EvalConfig", "HealthConfig",
           "LossConfig", "AugmentConfig", "VAEConfig", "from_dict", "load_preset", "load_file", "preset_names", "preset_dict",
           "with_game", "parse_override", "validate", "data_config", "describe_fields", "registries", "term_section", "upgrade",
           "GAME_TRAIN_KEYS"]


