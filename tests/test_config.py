"""gankit.config: defaults, presets, dotted overrides, validation messages, round trips, the field reference."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
import yaml

import gankit  # noqa: F401  (fills the registries)
from gankit.config import (Config, describe_fields, from_dict, load_file, load_preset, parse_override, preset_dict,
                           preset_names, validate)
from gankit.errors import ConfigError
from gankit.registry import all_registries


def config_error(overrides, base=None) -> str:
    """The message of the ConfigError that ``overrides`` over ``base`` (a preset dict) raise; checks one line."""
    with pytest.raises(ConfigError) as info:
        from_dict(base if base is not None else {}, overrides)
    msg = str(info.value)
    assert msg and "\n" not in msg and msg == msg.strip(), repr(msg)
    return msg


def all_keys(values: dict | None = None) -> list[str]:
    """Every dotted field of a Config (default: the default one), from its sections' dataclasses."""
    base = Config(values)
    keys = ["name", "description"] + [f"task.{f.name}" for f in dataclasses.fields(base.task)]
    for name, section in base.sections().items():
        keys += [f"{name}.{f.name}" for f in dataclasses.fields(section)]
    return keys


# ------------------------------------------------------------------------------------------ defaults

def test_defaults():
    cfg = Config()
    assert (cfg.data.name, cfg.data.resolution, cfg.data.channels, cfg.data.path) == ("digits", 32, 1, None)
    assert (cfg.model.name, cfg.model.z_dim, cfg.model.conditional) == ("dcgan", 100, False)
    assert (cfg.loss.name, cfg.loss.real_target) == ("nsgan", 1.0)
    t = cfg.train
    assert (t.steps, t.batch_size, t.seed, t.n_critic, t.optimizer) == (2000, 64, 0, 1, "adam")
    assert (t.lr_g, t.lr_d, t.beta1, t.beta2) == (2e-4, 2e-4, 0.5, 0.999)
    assert t.device == "auto" and t.progress is True
    assert cfg.eval.metrics == [] and cfg.eval.every == 0
    validate(cfg)  # the defaults are a valid run
    assert from_dict({}) == cfg
    # every default is independent per instance (lists are not shared)
    a, b = Config(), Config()
    a.eval.metrics.append("x")
    assert b.eval.metrics == []


# ------------------------------------------------------------------------------------------ presets

PATH_PRESETS = {"mnist", "cifar10"}  # ship with data.path: null; the user must say where the data is


def test_preset_names_are_the_yaml_files():
    names = preset_names()
    assert names == sorted(names) and len(set(names)) == len(names)
    for required in ("ring", "grid", "digits", "digits-cond", "mnist", "cifar10"):
        assert required in names


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_loads_with_its_values(name):
    raw = preset_dict(name)
    overrides = []
    if raw.get("data", {}).get("path", "x") is None:
        # a preset that needs data.path refuses to load without it, and says so
        msg = config_error([], raw)
        assert "data.path" in msg
        overrides = ["data.path=/somewhere/data"]
    cfg = load_preset(name, overrides)
    assert cfg.name == name
    assert isinstance(raw.get("description", ""), str) and raw.get("description")
    # every value the YAML sets is in the Config, with the right type
    for section, values in raw.items():
        if not isinstance(values, dict):
            assert getattr(cfg, section) == values
            continue
        for key, value in values.items():
            got = getattr(getattr(cfg, section), key)
            if value is None and section == "data" and key == "path":
                assert got == "/somewhere/data"
            else:
                assert got == value, (section, key)
                if isinstance(value, float):
                    assert isinstance(got, float)
    # toys train an MLP (the task's), images a conv net
    if cfg.data.name in ("ring", "grid", "mog1d"):
        assert cfg.model.name == {"gan": "mlp", "vae": "vae-mlp", "flow": "realnvp", "autoregressive": "made", "diffusion": "ddpm"}[cfg.task.name]


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ConfigError) as info:
        load_preset("nope")
    msg = str(info.value)
    assert "\n" not in msg and "'nope'" in msg and all(n in msg for n in preset_names())


# ------------------------------------------------------------------------------------------ overrides

def test_dotted_overrides_have_the_right_types():
    cfg = load_preset("digits", ["train.lr_d=4e-4", "train.steps=500", "model.conditional=true", "data.std=0.3",
                                 "train.beta1=0", "train.steps=1e3", "model.name=mlp", "data.modes=null"])
    assert cfg.train.lr_d == 0.0004 and isinstance(cfg.train.lr_d, float)
    assert cfg.train.steps == 1000 and isinstance(cfg.train.steps, int)  # later overrides win; 1e3 is an integer
    assert cfg.model.conditional is True
    assert cfg.data.std == 0.3
    assert cfg.train.beta1 == 0.0 and isinstance(cfg.train.beta1, float)
    assert cfg.model.name == "mlp" and cfg.data.modes is None
    for text in ("false", "no", "off", "False"):
        assert load_preset("digits", [f"model.conditional={text}"]).model.conditional is False
    for text in ("true", "yes", "on", "True"):
        assert load_preset("digits", [f"model.conditional={text}"]).model.conditional is True
    # quoted strings (e.g. from a JSON file) are read the same way
    assert from_dict({"model": {"conditional": "0"}}).model.conditional is False
    assert from_dict({"model": {"conditional": "1"}}).model.conditional is True


def test_bool_override_accepts_0_and_1():
    assert load_preset("digits", ["model.conditional=1"]).model.conditional is True
    assert load_preset("digits", ["model.conditional=0"]).model.conditional is False
    assert load_preset("digits", ["model.conditional=0"]).model.conditional is False


def test_override_parsing():
    assert parse_override("train.lr_d=4e-4") == (["train", "lr_d"], "4e-4")  # YAML 1.1 reads 4e-4 as a string ...
    assert parse_override("train.steps=500") == (["train", "steps"], 500)
    assert parse_override("a.b=x=y") == (["a", "b"], "x=y")  # only the first '=' splits
    for bad in ("train.steps", ".steps=1", "train..steps=1"):
        assert "section.key=value" in config_error([bad])


def test_list_override():
    metrics = all_registries().get("metrics")
    if metrics is None:  # no metrics registry: any names are accepted
        assert load_preset("ring", ["eval.metrics=a,b"]).eval.metrics == ["a", "b"]
        return
    # a metrics registry checks the names: unknown ones are refused with the choices listed
    msg = config_error(["eval.metrics=a,b"], preset_dict("ring"))
    assert "eval.metrics[0]" in msg and "'a'" in msg and all(n in msg for n in metrics.names())
    a, b = metrics.names()[:2]
    assert load_preset("ring", [f"eval.metrics={a},{b}"]).eval.metrics == [a, b]
    assert load_preset("ring", [f"eval.metrics=[{a}, {b}]"]).eval.metrics == [a, b]  # YAML list form


# ------------------------------------------------------------------------------------------ validation

def test_unknown_key_names_it_and_lists_the_known_keys():
    msg = config_error(["train.lrr=1"])
    assert "train.lrr" in msg
    for key in ("lr_g", "lr_d", "steps", "batch_size", "n_critic"):
        assert key in msg
    msg = config_error(["trian.steps=1"])
    assert "trian" in msg and "train" in msg and "data" in msg


@pytest.mark.parametrize("override,field,value", [
    ("train.steps=abc", "train.steps", "abc"),
    ("train.steps=2.5", "train.steps", "2.5"),
    ("train.lr_d=fast", "train.lr_d", "fast"),
    ("model.conditional=maybe", "model.conditional", "maybe"),
    ("train.lr_g=nan", "train.lr_g", "nan"),
    ("data.resolution=[1, 2]", "data.resolution", "[1, 2]"),
])
def test_wrong_type_names_field_and_value(override, field, value):
    msg = config_error([override])
    assert field in msg and value in msg


@pytest.mark.parametrize("override,field,allowed", [
    ("train.batch_size=0", "train.batch_size", "1 to 65536"),
    ("loss.real_target=1.5", "loss.real_target", "0.0 to 1.0"),
    ("loss.real_target=-0.1", "loss.real_target", "0.0 to 1.0"),
    ("train.steps=0", "train.steps", "1 to any"),
    ("train.n_critic=101", "train.n_critic", "1 to 100"),
])
def test_out_of_range_says_the_allowed_range(override, field, allowed):
    msg = config_error([override])
    assert field in msg and "allowed" in msg and allowed in msg


def test_fixed_choices_are_listed():
    msg = config_error(["train.optimizer=adamw"])
    assert "train.optimizer" in msg and "adam, rmsprop, sgd" in msg


@pytest.mark.parametrize("override,field,registry", [
    ("loss.name=foo", "loss.name", "losses"),
    ("data.name=foo", "data.name", "datasets"),
    ("model.name=foo", "model.name", "models"),
])
def test_unknown_registry_name_lists_the_choices(override, field, registry):
    msg = config_error([override])
    assert field in msg and "'foo'" in msg
    names = all_registries()[registry].names()
    assert f"choose one of: {', '.join(names)}" in msg


@pytest.mark.parametrize("overrides,words", [
    (["data.name=grid", "data.modes=24", "model.name=mlp"], ["data.modes", "24", "square"]),
    (["data.name=grid", "data.modes=24"], ["data.modes", "square"]),
    (["model.name=dcgan", "data.resolution=48"], ["data.resolution", "48", "power of two"]),
    (["model.name=dcgan", "data.resolution=512"], ["data.resolution", "512"]),
    (["model.name=dcgan", "data.name=ring"], ["dcgan", "ring", "mlp"]),
    (["data.name=mnist"], ["data.path", "mnist"]),
    (["data.name=cifar10"], ["data.path"]),
    (["data.name=folder"], ["data.path"]),
    (["data.name=ring", "model.name=mlp", "data.std=0"], ["data.std", "positive"]),
    (["data.name=ring", "model.name=mlp", "data.radius=0"], ["data.radius", "positive"]),
    (["train.device=tpu"], ["train.device", "tpu"]),
])
def test_cross_field_rules(overrides, words):
    msg = config_error(overrides)
    for w in words:
        assert w in msg, (w, msg)


def test_valid_cross_field_combinations_pass():
    load_preset("grid", ["data.modes=36"])
    load_preset("digits", ["data.resolution=64"])
    load_preset("ring", ["model.name=mlp", "data.modes=5"])
    from_dict({}, ["data.name=mnist", "data.path=/data/mnist"])


def test_bad_file_and_section_shapes(tmp_path):
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError) as info:
        load_file(p)
    assert "\n" not in str(info.value) and "JSON" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_file(tmp_path / "missing.yaml")
    assert "\n" not in str(info.value) and "missing.yaml" in str(info.value)
    msg = config_error([], {"train": 5})
    assert "train" in msg and "mapping" in msg


# ------------------------------------------------------------------------------------------ round trips

def _nondefault() -> Config:
    return load_preset("ring", ["train.lr_d=4e-4", "train.steps=123", "data.std=0.02", "data.modes=6",
                                "loss.real_target=0.9", "model.conditional=false", "train.seed=7"])


def test_round_trip_through_json_file(tmp_path):
    for cfg in (Config(), _nondefault(), load_preset("digits-cond")):
        path = tmp_path / "config.json"
        path.write_text(json.dumps(cfg.to_dict(), indent=2))
        back = load_file(path)
        assert back == cfg
        assert back.to_dict() == cfg.to_dict()
        assert json.loads(json.dumps(back.to_dict())) == cfg.to_dict()
        # a run directory holding config.json is accepted as well
        assert load_file(tmp_path) == cfg


def test_round_trip_through_yaml_and_dict(tmp_path):
    cfg = _nondefault()
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    assert load_file(path) == cfg
    assert from_dict(cfg.to_dict()) == cfg
    # overrides apply on top of a file
    assert load_file(path, ["train.steps=9"]).train.steps == 9


def test_floats_keep_their_value_through_json():
    cfg = load_preset("ring", ["train.lr_g=0.1", "train.lr_d=3.3333333333333335e-05"])
    back = from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back.train.lr_g == 0.1 and back.train.lr_d == 3.3333333333333335e-05


# ------------------------------------------------------------------------------------------ reference

def _family_of(task: str, key: str, help_text: str) -> dict:
    """The config values whose default config has ``key``: the task's default family, or the first family the
    field's help names ("… [stylegan, stylegan2]")."""
    values = {"task": {"name": task}}
    if key.startswith("model.") and help_text.endswith("]"):
        values["model"] = {"name": help_text.rsplit("[", 1)[1].split(",")[0].strip(" ]")}
    return values


@pytest.mark.parametrize("task", ["gan", "vae"])
def test_describe_fields_covers_every_field(task):
    from gankit.models import MODELS, families_of

    rows = describe_fields(task)
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys))
    expected = set(all_keys({"task": {"name": task}}))
    for fam in families_of(task):  # every family's model fields appear once
        expected |= {f"model.{f.name}" for f in dataclasses.fields(MODELS.get(fam).options_cls)}
    assert set(keys) == expected
    for key, tp, default, help_text in rows:
        node = Config(_family_of(task, key, help_text)).to_dict()
        for part in key.split("."):
            node = node[part]
        assert default == node, key
        assert isinstance(tp, str) and tp
        assert help_text and "\n" not in help_text, key


@pytest.mark.parametrize("task", ["gan", "vae"])
def test_every_field_accepts_its_default_as_an_override(task):
    # the CLI form of every default value parses back to the same value (a field the CLI could not set
    # to its own default would be a defect)
    data = {} if task == "gan" else {"data": {"name": "digits"}}
    for key, _tp, default, help_text in describe_fields(task):
        if "." not in key or key == "task.name":
            continue
        if isinstance(default, list):
            text = ",".join(default)
        elif default is None:
            text = "null"
        elif isinstance(default, bool):
            text = str(default).lower()
        else:
            text = str(default)
        values = {**data, **_family_of(task, key, help_text)}
        if values.get("model", {}).get("name") in ("vae-mlp", "mlp"):
            values["data"] = {"name": "ring"}  # the flat-vector families' home
        base = from_dict(values)
        cfg = from_dict(values, [f"{key}={text}"])
        assert cfg == base, key


def test_numbers_from_the_command_line_are_finite():
    for text in ("inf", "-inf", "1e999"):
        msg = config_error([f"train.lr_g={text}"])
        assert "train.lr_g" in msg
    assert math.isfinite(load_preset("ring", ["train.lr_g=1e-300"]).train.lr_g)


def test_with_game_moves_the_game_and_keeps_the_network_and_data():
    digits, wgp = load_preset("digits"), load_preset("wgan-gp")
    cfg = load_preset("digits", ["train.steps=7"], game="wgan-gp")
    assert cfg.name == "digits-wgan-gp" and cfg.train.steps == 7
    # the game: loss, penalty, critic steps and optimizer settings of wgan-gp
    assert (cfg.loss.name, cfg.reg.gp, cfg.train.n_critic) == ("wgan", 10.0, 5)
    assert (cfg.train.lr_g, cfg.train.lr_d, cfg.train.beta1, cfg.train.beta2) == (wgp.train.lr_g, wgp.train.lr_d, 0.5, 0.9)
    # the network, data, batch and EMA of digits; a per-sample penalty gets a layer-norm critic instead of batch norm
    assert (cfg.model.name, cfg.model.g_width, cfg.data.name, cfg.train.batch_size, cfg.train.ema_kimg) == (
        "dcgan", digits.model.g_width, "digits", digits.train.batch_size, digits.train.ema_kimg)
    assert digits.model.d_norm == "auto" and cfg.model.d_norm == "layer"
    sn = load_preset("digits", game="hinge-sngan")
    assert (sn.loss.name, sn.model.spectral_norm, sn.model.d_norm, sn.train.beta1) == ("hinge", "d", "auto", 0.0)
    wgan = load_preset("digits", game="wgan")
    assert (wgan.train.optimizer, wgan.reg.clip, wgan.reg.gp) == ("rmsprop", 0.01, 0.0)


def test_game_is_refused_with_a_config_file_or_a_resume(tmp_path):
    from gankit import api

    with pytest.raises(ConfigError, match="--game puts a preset's game on another preset"):
        api.resolve_config(config=tmp_path / "x.yaml", game="wgan-gp")
    with pytest.raises(ConfigError, match="--game applies to a new run"):
        api.train(resume=tmp_path, game="wgan-gp")
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        load_preset("digits", game="nope")


def test_image_channels_are_grey_or_rgb():
    # 1 or 3: no loader or model makes 2-channel images (the range 1..3 used to admit 2)
    assert "data.channels: 2 is not allowed; choose one of: 1, 3" in config_error(["data.channels=2"])
    assert from_dict({}, ["data.channels=3"]).data.channels == 3


def test_paper_presets_build_their_papers_networks():
    """pacgan / nsgan: PacGAN's code (G 4×400 bias-free + BN, D 3×200 maxout-5, packs of 4 → D input 8); unrolled: the
    notebook's 2×128 tanh nets on z 256 with orthogonal init; parameter counts by formula."""
    from torch import nn

    from gankit.data import DataInfo
    from gankit.models import build_models
    from gankit.models.mlp import Maxout

    info = DataInfo("points", (2,), centers=[[1.0, 0.0]], std=0.01, name="ring")
    cfg = load_preset("pacgan")
    G, D, _, _ = build_models(cfg.model, info, pack=cfg.trick.pack)
    # G: 2·400 + 3·400·400 (no biases) + 4 BN (2·400 each) + 400·2 + 2
    assert sum(p.numel() for p in G.parameters()) == 2 * 400 + 3 * 400 * 400 + 4 * 800 + 400 * 2 + 2
    maxouts = [m for m in D.modules() if isinstance(m, Maxout)]
    assert [m.linear.in_features for m in maxouts] == [8, 200, 200] and all(m.linear.out_features == 1000 for m in maxouts)
    assert (cfg.train.beta1, cfg.train.lr_g, cfg.train.batch_size, cfg.train.steps, cfg.train.ema_kimg) == (0.8, 1e-4, 400, 400_000, 0.0)
    ns = load_preset("nsgan")
    assert (ns.trick.pack, ns.train.batch_size, ns.model.maxout, ns.loss.name) == (1, 100, 5, "nsgan")
    un = load_preset("unrolled")
    G, D, _, _ = build_models(un.model, info)
    assert sum(isinstance(m, nn.Tanh) for m in G.modules()) == 2 and sum(isinstance(m, nn.Tanh) for m in D.modules()) == 2
    assert sum(p.numel() for p in G.parameters()) == 256 * 128 + 128 + 128 * 128 + 128 + 128 * 2 + 2
    assert (un.loss.name, un.trick.unroll, un.train.lr_g, un.train.lr_d, un.train.steps) == ("minimax", 5, 1e-3, 1e-4, 25_000)
    # how their code steps: G and D simultaneously (the notebook's one session call; ALI's algorithm in PacGAN's code),
    # PacGAN's G called once per pack position, and its fixed training sets (100,000 packs; 100,000 points unpacked)
    assert [load_preset(p).train.updates for p in ("pacgan", "nsgan", "gan-minimax", "unrolled")] == ["simultaneous"] * 4
    assert (cfg.trick.pack_split, cfg.data.size, ns.data.size, load_preset("gan-minimax").data.size) == (True, 400_000, 100_000, 100_000)
    assert load_preset("digits", game="pacgan").train.updates == "simultaneous"  # the game carries how the players move
