"""The contract every registry entry meets: tasks, model families, losses, terms, datasets, extractors, metrics and
likelihoods. Each test is parametrized over a registry's names, so a new entry is checked by being registered; an
entry this file has no smallest config for fails ``test_every_entry_is_covered``.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.config import from_dict, registries
from gankit.data import build_dataset, info_of
from gankit.data.batches import make_batches
from gankit.errors import ConfigError, DataError
from gankit.io.export import export_generator, load_export
from gankit.likelihoods import LIKELIHOODS
from gankit.losses import LOSSES
from gankit.metrics.evaluate import METRICS, evaluate_samples
from gankit.metrics.features import build_extractor
from gankit.models import MODELS
from gankit.tasks import TASKS, Clock, load_pipeline
from gankit.terms import TERMS
from gankit.types import SCHEMAS

CPU = torch.device("cpu")

# ------------------------------------------------------------------ the smallest config of every entry

SMALL_IMAGES = {"data": {"name": "digits", "resolution": 8}, "train": {"batch_size": 8, "steps": 2}}
SMALL_POINTS = {"data": {"name": "ring"}, "train": {"batch_size": 16, "steps": 2}}
SMALL_TABLE = {"data": {"name": "table", "table": "iris", "max_modes": 3}, "train": {"batch_size": 8, "steps": 2}}
#: model family -> the smallest config of it, on the data it is made for
FAMILY = {
    "mlp": {**SMALL_POINTS, "model": {"name": "mlp", "z_dim": 2, "g_width": 8, "d_width": 8, "depth": 1}},
    "dcgan": {**SMALL_IMAGES, "model": {"name": "dcgan", "z_dim": 8, "g_width": 4, "d_width": 4}},
    "resnet": {**SMALL_IMAGES, "data": {"name": "digits", "resolution": 32}, "model": {"name": "resnet", "z_dim": 8, "g_width": 4,
                                                                                       "d_width": 4, "max_width": 8}},
    "progan": {**SMALL_IMAGES, "model": {"name": "progan", "z_dim": 8, "g_width": 4, "d_width": 4, "max_width": 8,
                                         "start_resolution": 4, "phase_kimg": 0.008}},
    "stylegan": {**SMALL_IMAGES, "model": {"name": "stylegan", "z_dim": 8, "w_dim": 8, "mapping_layers": 1, "g_width": 4,
                                           "d_width": 4, "max_width": 8}},
    "stylegan2": {**SMALL_IMAGES, "model": {"name": "stylegan2", "z_dim": 8, "w_dim": 8, "mapping_layers": 1, "g_width": 4,
                                            "d_width": 4, "max_width": 8}},
    "vae-mlp": {**SMALL_POINTS, "task": {"name": "vae"}, "model": {"name": "vae-mlp", "z_dim": 2, "width": 8, "depth": 1}},
    "vae-conv": {**SMALL_IMAGES, "task": {"name": "vae"}, "model": {"name": "vae-conv", "z_dim": 4, "width": 4}},
    "ctgan": {**SMALL_TABLE, "task": {"name": "ctgan"}, "model": {"name": "ctgan", "z_dim": 4, "g_dims": [8], "d_dims": [8], "pac": 2}},
    "tvae": {**SMALL_TABLE, "task": {"name": "tvae"}, "model": {"name": "tvae", "z_dim": 4, "dims": [8]}},
    "molgan": {"data": {"name": "molecules", "max_atoms": 5}, "train": {"batch_size": 8, "steps": 2}, "task": {"name": "molgan"},
               "molgan": {"la": 0.5}, "model": {"name": "molgan", "z_dim": 4, "g_dims": [8], "d_conv": [8], "d_aggregate": 8, "d_dims": [8]}},
    "srresnet": {"task": {"name": "superres"}, "train": {"batch_size": 4, "steps": 2},
                 "data": {"name": "photos", "channels": 3, "resolution": 16, "degrade": "bicubic", "scale": 4},
                 "sr": {"objective": "srgan", "pretrain": 0.0, "layer": "relu1_2"},
                 "model": {"name": "srresnet", "channels": 4, "blocks": 1, "d_channels": 4, "d_fc": 8}},
    "rrdb": {"task": {"name": "superres"}, "train": {"batch_size": 4, "steps": 2},
             "data": {"name": "photos", "channels": 3, "resolution": 16, "degrade": "bicubic", "scale": 2},
             "sr": {"objective": "esrgan", "pretrain": 0.0, "layer": "conv1_2"},
             "model": {"name": "rrdb", "channels": 4, "growth": 2, "blocks": 1, "d_channels": 4, "d_fc": 8}},
    "context-encoder": {"task": {"name": "inpaint"}, "train": {"batch_size": 4, "steps": 2},
                        "data": {"name": "photos", "channels": 3, "resolution": 16, "degrade": "mask", "mask": "blocks"},
                        "model": {"name": "context-encoder", "channels": 4, "d_channels": 4}},
    "unet": {"task": {"name": "pix2pix"}, "train": {"batch_size": 4, "steps": 2}, "data": {"name": "edges2digits", "resolution": 16},
             "model": {"name": "unet", "channels": 4, "d_channels": 4}},
    "cyclegan": {"task": {"name": "cyclegan"}, "train": {"batch_size": 4, "steps": 2},
                 "data": {"name": "digits2color", "channels": 3, "resolution": 16}, "cyclegan": {"pool": 2},
                 "model": {"name": "cyclegan", "channels": 4, "d_channels": 4, "blocks": 1}},
    "stargan": {"task": {"name": "stargan"}, "train": {"batch_size": 4, "steps": 2, "n_critic": 1},
                "data": {"name": "digits-attrs", "channels": 3, "resolution": 16}, "model": {"name": "stargan", "channels": 4, "blocks": 1}},
    "acgan": {"task": {"name": "acgan"}, "train": {"batch_size": 8, "steps": 2}, "data": {"name": "digits", "resolution": 8},
              "model": {"name": "acgan", "z_dim": 8, "g_width": 4, "d_width": 4}},
    "pixelda": {"task": {"name": "pixelda"}, "train": {"batch_size": 4, "steps": 2}, "data": {"name": "digits-m", "channels": 3, "resolution": 16},
                "model": {"name": "pixelda", "z_dim": 2, "channels": 4, "blocks": 1, "d_channels": 4, "t_width": 4}},
    "ssgan": {"task": {"name": "ssgan"}, "train": {"batch_size": 8, "steps": 2},
              "data": {"name": "digits", "resolution": 8, "labels_per_class": 2, "unlabelled": True},
              "model": {"name": "ssgan", "z_dim": 8, "g_width": 4, "d_width": 4}},
    "realnvp": {**SMALL_POINTS, "task": {"name": "flow"}, "model": {"name": "realnvp", "n_couplings": 2, "width": 8, "depth": 1}},
    "glow": {**SMALL_IMAGES, "task": {"name": "flow"}, "model": {"name": "glow", "n_levels": 1, "depth": 1, "hidden": 4}},
    "made": {**SMALL_POINTS, "task": {"name": "autoregressive"}, "model": {"name": "made", "width": 8, "depth": 1, "components": 2}},
    "pixelcnn": {**SMALL_IMAGES, "task": {"name": "autoregressive"}, "model": {"name": "pixelcnn", "layers": 1, "channels": 4}},
    "ddpm": {**SMALL_POINTS, "task": {"name": "diffusion"}, "model": {"name": "ddpm", "timesteps": 10, "width": 8, "depth": 1}},
}
#: task -> a family of it (its smallest run)
TASK = {"gan": "mlp", "vae": "vae-mlp", "ctgan": "ctgan", "tvae": "tvae", "molgan": "molgan", "superres": "srresnet",
        "inpaint": "context-encoder", "pix2pix": "unet", "cyclegan": "cyclegan", "stargan": "stargan",
        "acgan": "acgan", "ssgan": "ssgan", "pixelda": "pixelda", "flow": "realnvp", "autoregressive": "made", "diffusion": "ddpm"}
#: term -> overrides that switch it on, over a family's smallest config
TERM = {
    "gp": ("mlp", {"reg": {"gp": 10.0}}), "dragan": ("mlp", {"reg": {"dragan": 10.0}}), "r1": ("mlp", {"reg": {"r1": 1.0, "lazy": 2}}),
    "r2": ("mlp", {"reg": {"r2": 1.0}}), "drift": ("mlp", {"reg": {"drift": 0.001}}),
    "bcr_real": ("dcgan", {"reg": {"bcr_real": 1.0}}), "bcr_fake": ("dcgan", {"reg": {"bcr_fake": 1.0}}),
    "feature_matching": ("mlp", {"trick": {"feature_matching": 1.0}}), "pl": ("stylegan2", {"reg": {"pl": 2.0, "pl_lazy": 1}}),
    "unroll": ("mlp", {"trick": {"unroll": 2}}), "topk": ("mlp", {"trick": {"topk": 0.5}}),
}
#: dataset -> (overrides, files to make): path datasets read tiny files written here
PATH_DATASETS = {"mnist", "cifar10", "folder", "translation"}


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def config(values: dict, *more: dict):
    base = {"train": {"progress": False, "device": "cpu", "precision": "fp32"}, "eval": {"metrics": []},
            "health": {"monitor": False}}
    for m in (values, *more):
        base = _merge(base, m)
    return from_dict(base)


def task_of(cfg):
    info = info_of(build_dataset(cfg.data), cfg.data.name)
    task = TASKS.get(cfg.task.name)(cfg, info)
    for avg, src in task.ema.items():
        import copy

        task.networks[avg] = copy.deepcopy(task.networks[src]).eval().requires_grad_(False)
    from gankit.training.loop import make_optimizer

    opts = {k: make_optimizer(cfg.train, p, lr) for k, (p, lr) in task.param_groups().items()}
    task.bind(opts, CPU)
    return task, info


def test_every_entry_is_covered():
    assert set(FAMILY) == set(MODELS.names()), "give every model family its smallest config in FAMILY"
    assert set(TASK) == set(TASKS.names())
    assert set(TERM) == set(TERMS.names()), "give every term its switch in TERM"
    assert {e.name for e in MODELS.entries()} >= {f for f in TASK.values()}


# ------------------------------------------------------------------ model families

def _grad_names(task, cfg, images_seen_values) -> set[str]:
    """Names (network.parameter) that got a non-zero gradient from the phases' losses, over some growth stages."""
    reached: set[str] = set()
    batches = make_batches(build_dataset(cfg.data), cfg.train.batch_size, CPU, 0)
    for seen in images_seen_values:
        for name in task.trained:
            if hasattr(task.networks[name], "progress"):
                task.networks[name].progress(seen)
        batch = batches.next()
        for phase in task.phases:
            loss, _ = phase.loss(batch, Clock(0, 0, seen))
            for n in phase.networks:
                task.networks[n].zero_grad(set_to_none=True)
            loss.backward()
            for n in phase.networks:
                for pname, p in task.networks[n].named_parameters():
                    if p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0:
                        reached.add(f"{n}.{pname}")
    return reached


@pytest.mark.parametrize("family", sorted(FAMILY))
def test_family_builds_shapes_and_gradients_reach_every_parameter(family):
    torch.manual_seed(0)
    cfg = config(FAMILY[family])
    task, info = task_of(cfg)
    fam = MODELS.get(family)
    assert fam.task == cfg.task.name and type(cfg.model) is fam.options_cls
    n = 4
    if fam.task == "gan":
        G, D = task.networks["G"], task.networks["D"]
        x = G(torch.randn(n, G.z_dim), None)
        assert x.shape == (n, *info.shape) and D(x, None).shape == (n,)
    elif fam.task == "ctgan":  # G(z, cond) -> N×D raw rows; D judges packs of pac rows with their conditions
        G, D = task.networks["G"], task.networks["D"]
        cond = torch.zeros(n, G.cond_dim)
        x = G(torch.randn(n, G.z_dim), cond)
        assert x.shape == (n, *info.shape) and D(x, cond).shape == (n // D.pac,)
    elif fam.task == "tvae":
        mu, logvar = task.networks["encoder"](torch.zeros(n, *info.shape))
        assert mu.shape == logvar.shape == (n, cfg.model.z_dim) and task.networks["decoder"](mu).shape == (n, *info.shape)
    elif fam.task == "molgan":  # G(z) -> (edges N×M×M×B, nodes N×M×T) logits; D and V judge relaxed graphs
        G = task.networks["G"]
        e, v = G(torch.randn(n, G.z_dim))
        m, t = info.shape
        assert e.shape[:3] == (n, m, m) and v.shape == (n, m, t)
        assert task.networks["D"](e.softmax(-1), v.softmax(-1)).shape == task.networks["V"](e.softmax(-1), v.softmax(-1)).shape == (n,)
    elif fam.task in ("superres", "inpaint"):  # G(input[, mask]) -> N×C×R×R targets; D judges targets (one logit or patches)
        batch = make_batches(build_dataset(cfg.data), n, CPU, 0).next()
        G, D = task.networks["G"], task.networks["D"]
        y = G(batch["input"]) if fam.task == "superres" else G(batch["input"], batch["mask"])
        assert y.shape == batch["x"].shape == (n, *info.shape)
        assert D(y).shape[0] == n
    elif fam.task in ("pix2pix", "cyclegan", "stargan"):  # translators: image (and domain vector) -> an image of the target domain
        batch = make_batches(build_dataset(cfg.data), n, CPU, 0).next()
        nets = task.networks
        if fam.task == "pix2pix":
            y = nets["G"](batch["input"])
            assert y.shape == batch["x"].shape == (n, *info.shape) and nets["D"](torch.cat([batch["input"], y], 1)).shape[0] == n
        elif fam.task == "cyclegan":
            assert nets["G_AB"](batch["a"]).shape == batch["b"].shape and nets["G_BA"](batch["b"]).shape == batch["a"].shape
            assert nets["D_A"](batch["a"]).shape[0] == nets["D_B"](batch["b"]).shape[0] == n
        else:
            y = nets["G"](batch["x"], batch["attrs"])
            src, cls = nets["D"](y)
            assert y.shape == batch["x"].shape and src.shape[0] == n and cls.shape == batch["attrs"].shape
    elif fam.task == "pixelda":  # G(source, z) -> a target-styled image; D judges it; T classifies it
        b = make_batches(build_dataset(cfg.data), n, CPU, 0).next()
        nets = task.networks
        y = nets["G"](b["a"], torch.rand(n, nets["G"].z_dim) * 2 - 1)
        assert y.shape == b["b"].shape and nets["D"](y).shape == (n,) and nets["T"](y).shape == (n, info.domains["classes"])
    elif fam.task in ("acgan", "ssgan"):  # G(z, c) -> images; D -> class logits (AC-GAN: 1 + K, real/fake first)
        G, D = task.networks["G"], task.networks["D"]
        c = torch.arange(n) % info.num_classes if G.c_dim else None
        x = G(torch.randn(n, G.z_dim), c)
        assert x.shape == (n, *info.shape)
        assert D(x).shape == (n, info.num_classes + (fam.task == "acgan")) and D.embed(x).shape == (n, D.feature_dim)
    elif fam.task in ("flow", "autoregressive", "diffusion"):  # one density model: per-sample loss and log p, samples in data space
        net = task.networks["net"]
        x = make_batches(build_dataset(cfg.data), n, CPU, 0).next()["x"]
        assert net.loss(x).shape == net.log_prob(x).shape == (n,) and net.sample(n).shape == (n, *info.shape)
        with torch.no_grad():  # zero-initialized output layers (Glow's couplings, DDPM's ε head) pass no gradient upstream at init
            for p in net.parameters():
                p.add_(0.05 * torch.randn_like(p))
    else:
        mu, logvar = task.networks["encoder"](torch.zeros(n, *info.shape))
        assert mu.shape == logvar.shape == (n, cfg.model.z_dim)
        k = LIKELIHOODS.get(task.likelihood).k
        assert task.networks["decoder"](mu).shape == (n, k * info.shape[0], *info.shape[1:])
    # growing networks: a few stages, so that every resolution's layers take part once
    stages = [0, 8, 12, 16, 24, 32, 10**6] if any(hasattr(task.networks[m], "progress") for m in task.trained) else [0]
    reached = _grad_names(task, cfg, stages)
    every = {f"{n}.{p}" for n in task.trained for p, q in task.networks[n].named_parameters() if q.requires_grad}
    assert every - reached == set(), f"no gradient reaches: {sorted(every - reached)[:5]}"


@pytest.mark.parametrize("family", sorted(FAMILY))
def test_family_export_then_load_is_bitwise(family, tmp_path):
    torch.manual_seed(0)
    cfg = config(FAMILY[family])
    task, info = task_of(cfg)
    network, module, kwargs = task.export_spec()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.01 * torch.randn_like(p))  # not the initialization: a lost weight would show
    out = export_generator(module, family, kwargs, info.to_dict(), tmp_path / "export", extra={"step": 1, **task.export_meta()},
                           task=cfg.task.name, network=network)
    loaded = load_export(out)
    a, b = module.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    pipe = load_pipeline(out)
    if info.schema == "table":  # rows of the table's columns; codes N×C
        cols = len(info.table["schema"]["columns"])
        assert pipe(3, seed=1).shape == (3, cols) and pipe(3, seed=1).equals(pipe(3, seed=1))
        assert torch.equal(pipe.codes(3, seed=1), pipe.codes(3, seed=1))
        return
    if info.schema == "graph":  # SMILES (None: invalid); codes N×(M + M²)
        m = info.shape[0]
        assert len(pipe(3, seed=1)) == 3 and pipe(3, seed=1) == pipe(3, seed=1)
        assert pipe.codes(3, seed=1).shape == (3, m + m * m) and torch.equal(pipe.codes(3, seed=1), pipe.codes(3, seed=1))
        return
    if info.schema == "pairs":  # restored test pairs, the same every call
        out = pipe.eval_outputs(cfg.data, 3, 0)
        assert out.shape == (3, *info.shape) and torch.equal(out, pipe.eval_outputs(cfg.data, 3, 0))
        return
    if info.schema == "domains":  # translations of fixed test items, the same every call
        out, again = pipe.eval_outputs(cfg.data, 3, 0), pipe.eval_outputs(cfg.data, 3, 0)
        assert out["ab"].shape == (3, *info.shape) and all(torch.equal(out[k], again[k]) for k in out)
        return
    assert pipe(3, seed=1).shape == (3, *info.shape) and torch.equal(pipe(3, seed=1), pipe(3, seed=1))


@pytest.mark.parametrize("family", sorted(FAMILY))
def test_family_conditioning_changes_the_output(family):
    fam = MODELS.get(family)
    if "conditional" not in {f.name for f in dataclasses.fields(fam.options_cls)}:
        pytest.skip(f"{family} has no conditioning")
    values = _merge(FAMILY[family], {"model": {"conditional": True}, "data": {"name": "digits"}})
    try:
        cfg = config(values)
    except ConfigError as e:
        assert "conditional" in str(e)  # a family that refuses labels says so by name
        return
    torch.manual_seed(0)
    task, info = task_of(cfg)
    G, D = task.networks["G"], task.networks["D"]
    G.eval(), D.eval()
    with torch.no_grad():
        for p in [*G.parameters(), *D.parameters()]:
            p.add_(0.05 * torch.randn_like(p))  # zero-initialized label tables would hide the path
        z = torch.randn(2, G.z_dim).repeat(2, 1)
        c = torch.tensor([0, 1, 2, 3])
        x = G(z, c)
        assert not torch.allclose(x[:2], x[2:]), "G ignores its label"
        xx = x[:2].repeat(2, 1, 1, 1) if x.ndim == 4 else x[:2].repeat(2, 1)
        d = D(xx, c)
        assert not torch.allclose(d[:2], d[2:]), "D ignores its label"


# ------------------------------------------------------------------ tasks

@pytest.mark.parametrize("task", sorted(TASK))
def test_task_trains_exports_and_samples(task, tmp_path, no_report):
    import gankit
    from gankit.training.loop import Trainer

    cfg = config(FAMILY[TASK[task]], {"train": {"steps": 2, "checkpoint_every": 2}})
    t = Trainer(cfg, tmp_path / "run")
    summary = t.run()
    assert summary["step"] == 2 and t.task.name == task
    assert set(t.networks()) >= set(t.task.trained) | set(t.task.ema)
    ckpt = sorted((tmp_path / "run" / "checkpoints" / "2").glob("*.safetensors"))
    assert {p.stem for p in ckpt} == set(t.networks()) | {"state"}
    pipe = gankit.load(tmp_path / "run")
    if t.info.schema == "graph":  # SMILES, None where invalid
        assert pipe.meta["task"] == task and len(pipe(5)) == 5 and all(s is None or isinstance(s, str) for s in pipe(5))
        return
    if t.info.schema == "pairs":
        assert pipe.meta["task"] == task and pipe.eval_outputs(cfg.data, 5, 0).shape == (5, *t.info.shape)
        return
    if t.info.schema == "domains":
        assert pipe.meta["task"] == task and pipe.eval_outputs(cfg.data, 5, 0)["ab"].shape == (5, *t.info.shape)
        return
    shape = (5, len(t.info.table["schema"]["columns"])) if t.info.schema == "table" else (5, *t.info.shape)
    assert pipe.meta["task"] == task and pipe(5).shape == shape


# ------------------------------------------------------------------ losses: the sign convention

@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_sign_convention(name):
    loss = LOSSES.get(name)()
    hi, lo = torch.full((8,), 2.0), torch.full((8,), -2.0)
    assert loss.d_loss(hi, lo) < loss.d_loss(lo, hi), "D's loss falls when real scores rise and fake scores fall"
    assert loss.generator(hi, lo) < loss.generator(lo, lo), "G's loss falls when its samples score higher"
    # scores in (0, 1): between LSGAN's targets 0 and 1, where every loss here is monotone in each score
    real = torch.rand(8, requires_grad=True)
    fake = torch.rand(8, requires_grad=True)
    g_real, g_fake = torch.autograd.grad(loss.d_loss(real, fake), [real, fake])
    assert (g_real <= 1e-12).all() and (g_fake >= -1e-12).all()
    (g,) = torch.autograd.grad(loss.generator(fake, real.detach()), [fake])
    assert (g <= 1e-12).all()


# ------------------------------------------------------------------ terms

@pytest.mark.parametrize("name", sorted(TERM))
def test_term_declares_its_fields_switches_on_and_computes(name):
    cls = TERMS.get(name)
    family, switch = TERM[name]
    for key in cls.fields:
        section, field = key.split(".")
        assert field in {f.name for f in dataclasses.fields(getattr(config(FAMILY[family]), section))}, key
    torch.manual_seed(0)
    cfg = config(FAMILY[family], switch)
    assert cls.active(cfg) and not cls.active(config(FAMILY[family]))
    task, info = task_of(cfg)
    term = next(t for t in task.terms[cls.phase] if t.name == name)
    batch = make_batches(build_dataset(cfg.data), cfg.train.batch_size, CPU, 0).next()
    stats = {}
    for phase in task.phases:
        loss, s = phase.loss(batch, Clock(0, 0, 0))
        assert torch.isfinite(loss)
        stats.update(s)
    if cls.kind == "loss":
        assert term.key in stats and math.isfinite(float(stats[term.key])), f"{name} logs its value as {term.key}"
    for net in cls.twice:
        assert net not in task.compile_targets(), f"{name} differentiates {net} twice: torch.compile must leave it eager"
    if cls.strengthen:
        assert name in task.weights()


# ------------------------------------------------------------------ datasets

def _path_dataset(name: str, tmp_path: Path) -> dict:
    if name == "mnist":
        from data.test_images import make_mnist

        make_mnist(tmp_path / "mnist", n_train=5, n_test=3)
        return {"name": "mnist", "path": str(tmp_path / "mnist"), "resolution": 8}
    if name == "cifar10":
        from data.test_images import make_cifar10

        make_cifar10(tmp_path / "cifar")
        return {"name": "cifar10", "path": str(tmp_path / "cifar"), "resolution": 8, "channels": 3}
    from PIL import Image

    if name == "translation":  # the CycleGAN layout
        for sub in ("trainA", "trainB", "testA", "testB"):
            (tmp_path / "cg" / sub).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((12, 10, 3), 40 * i, np.uint8)).save(tmp_path / "cg" / sub / f"{i}.png")
        return {"name": "translation", "path": str(tmp_path / "cg"), "resolution": 8, "channels": 3}
    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((12, 12, 3), 40 * i, np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    return {"name": "folder", "path": str(tmp_path / "imgs"), "resolution": 8, "channels": 3}


@pytest.mark.parametrize("name", sorted(registries()["datasets"].names()))
def test_dataset_builds_a_schema_and_batches(name, tmp_path, one_line):
    from gankit.config import data_config

    builder = registries()["datasets"].get(name)
    if name in PATH_DATASETS:
        with one_line(ConfigError, match="data.path"):
            data_config({"name": name})
        cfg = data_config(_path_dataset(name, tmp_path))
    else:
        cfg = data_config({"name": name, "resolution": 8})
    data = build_dataset(cfg)
    info = info_of(data, name)
    assert info.schema == builder.schema and info.schema in SCHEMAS
    batch = make_batches(data, 2, CPU, 0).next()
    if info.schema == "domains":  # translation: the kind decides the keys (input/x, a/b, x/attrs)
        keys = {"paired": {"input", "x"}, "unpaired": {"a", "b"}, "domains": {"x", "attrs"}}[info.domains["kind"]]
        assert set(batch.keys()) == keys and all(batch[k].shape[0] == 2 for k in keys)
        return
    assert batch.x.shape == (2, *info.shape) and batch.x.dtype == torch.float32
    assert ("label" in batch) == bool(info.num_classes)
    if info.schema == "image":
        assert batch.x.min() >= -1 and batch.x.max() <= 1


# ------------------------------------------------------------------ extractors

@pytest.mark.parametrize("name", sorted(registries()["extractors"].names()))
def test_extractor_gives_features_with_provenance(name, tmp_path, monkeypatch):
    if name == "inception-v3-fid":  # weights from a user path only: without them, one line that says where
        monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
        with pytest.raises(DataError) as e:
            build_extractor(name)
        assert "\n" not in str(e.value) and "pt_inception" in str(e.value)
        return
    if name == "vgg19":  # ImageNet weights from a user path only
        with pytest.raises(ConfigError) as e:
            build_extractor(name)
        assert "\n" not in str(e.value) and "vgg19-dcbb9e9a.pth" in str(e.value)
        return
    ext = build_extractor(name)
    x = torch.rand(5, 2) if name == "identity" else torch.rand(5, 1, 32, 32) * 2 - 1
    out = ext(x)
    assert out["features"].shape[0] == 5 and out["features"].dtype == np.float64
    if out["probs"] is not None:
        assert np.allclose(out["probs"].sum(1), 1.0)
    prov = ext.provenance()
    assert prov["extractor"] == name and set(prov) == {"extractor", "extractor_sha256", "resize"}


# ------------------------------------------------------------------ metrics

@pytest.mark.parametrize("name", sorted(METRICS.names()))
def test_metric_reports_exactly_its_declared_values(name):
    from gankit.config import data_config

    metric = METRICS.get(name)
    points = "points" in metric.needs
    if "table" in metric.needs:  # a simulated table where the metric needs a known model, else a bundled one
        data_cfg = data_config({"name": "table", "table": "asia" if "simulated" in metric.needs else "iris", "rows": 300})
    elif "graph" in metric.needs:
        data_cfg = data_config({"name": "molecules", "split": "all"})
    elif "pairs" in metric.needs:
        data_cfg = data_config({"name": "photos", "channels": 3, "resolution": 16, "degrade": "mask", "mask": "blocks"})
    elif "domains" in metric.needs:  # each kind of translation data reports its part of the values; together, all of them
        from gankit.data.domains import eval_items

        reported: set[str] = set()
        gen = torch.Generator().manual_seed(0)
        noisy = lambda x: (x + 0.05 * torch.randn(x.shape, generator=gen)).clamp(-1, 1)  # noqa: E731
        for data_name in ("edges2digits", "digits2color", "digits-attrs"):
            data_cfg = data_config({"name": data_name, "channels": 3, "resolution": 16})
            info = info_of(build_dataset(data_cfg), data_name)
            items = eval_items(build_dataset(data_cfg, "test"), 24, 0)
            fake = {"ab": noisy(items["b"] if "b" in items else items["a"]), "aba": noisy(items["a"])}
            if "b" in items and data_name == "digits2color":
                fake.update(ba=noisy(items["a"]), bab=noisy(items["b"]))
            result = evaluate_samples(fake, info, data_cfg, [name])
            scores = {k for k, v in result.items() if isinstance(v, float) and k != "seed"}
            assert scores <= set(metric.values) and metric.primary in scores and all(math.isfinite(result[k]) for k in scores), data_name
            reported |= scores
        assert reported == set(metric.values)
        return
    else:
        data_cfg = data_config({"name": "ring"} if points else {"name": "digits"})
    data = build_dataset(data_cfg)
    info = info_of(data, data_cfg.name)
    gen = torch.Generator().manual_seed(0)
    if "table" in metric.needs:  # the training rows' codes, shuffled per column: every value valid, the joint broken
        codes = torch.from_numpy(data.codes)
        fake = torch.stack([c[torch.randperm(len(c), generator=gen)] for c in codes.T], dim=1)
    elif "graph" in metric.needs:  # the training graphs, every third with a carbon made five-fold bonded: some valid, some not
        fake = torch.cat([torch.from_numpy(data.nodes), torch.from_numpy(data.edges).flatten(1)], 1).float()
        m = data.vocab.max_atoms
        fake[::3, m + 1:m + m] = 3.0  # atom 0 triple-bonded to every other atom
    elif "pairs" in metric.needs:  # the targets of the test pairs, a little noisy
        from gankit.data.photos import eval_pairs

        fake = (eval_pairs(data, 20, 0)["x"] + 0.05 * torch.randn(20, 3, 16, 16, generator=gen)).clamp(-1, 1)
        data_cfg = data_config({"name": "photos", "channels": 3, "resolution": 16, "degrade": "mask", "mask": "blocks", "split": "test"})
        info = info_of(build_dataset(data_cfg, "test"), "photos")
    elif points:  # draws of the ring itself, a few far off: every mode has high-quality samples, so every value is finite
        from gankit.data.toy import ring

        fake = torch.cat([ring().sample(280, gen), torch.randn(20, 2, generator=gen)])
    else:
        fake = torch.rand(300, 1, 32, 32, generator=gen) * 2 - 1
    if "generator" in metric.needs:
        with pytest.raises(ConfigError):  # scores a generator, not samples
            evaluate_samples(fake, info, data_cfg, [name], n_real=300)
        return
    result = evaluate_samples(fake, info, data_cfg, [name], n_real=300)
    scores = {k for k, v in result.items() if isinstance(v, float) and k not in ("seed",)}
    assert scores == set(metric.values), f"{name} reports {sorted(scores)}, declares {sorted(metric.values)}"
    assert all(math.isfinite(result[k]) for k in metric.values)


# ------------------------------------------------------------------ likelihoods

@pytest.mark.parametrize("name", sorted(LIKELIHOODS.names()))
def test_likelihood_is_normalized(name):
    lk = LIKELIHOODS.get(name)
    torch.manual_seed(0)
    params = torch.randn(3, lk.k * 2) * 0.5  # 3 samples of 2 dimensions
    if name == "gaussian":
        x = torch.randn(3, 2)
        mu, log_sigma = params[:, :2], params[:, 2:]
        ref = torch.distributions.Normal(mu, log_sigma.exp()).log_prob(x).sum(1)
        torch.testing.assert_close(lk.log_prob(params, x), ref)
    elif name == "bernoulli":  # the two outcomes of each pixel sum to 1
        p0, p1 = (lk.log_prob(params[:, :1], torch.full((3, 1), v)).exp() for v in (-1.0, 1.0))
        torch.testing.assert_close(p0 + p1, torch.ones(3))
    else:  # every 8-bit value of one dimension: the bins' probabilities sum to 1
        grid = torch.arange(256, dtype=torch.float64) / 127.5 - 1
        p = params[:1, [0, 2]].double().expand(256, 2)  # μ and log s of dimension 0
        total = lk.log_prob(p, grid[:, None]).exp().sum()
        assert abs(float(total) - 1.0) < 1e-6
    assert lk.mean(params).shape == (3, 2) and lk.sample(params, torch.Generator().manual_seed(0)).shape == (3, 2)
