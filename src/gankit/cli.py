"""``gankit`` command line: parse, call the API, print, exit code.

Exit codes: 0 done, 2 bad usage / config / input, 3 stopped by the divergence guard, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"gankit: error: {message} (see gankit {self.prog.split()[-1]} --help)\n" if " " in self.prog
                  else f"gankit: error: {message} (see gankit --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gankit", description="Train, evaluate and diagnose GANs (and the baselines of other families beside them).")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train a model (a GAN, or a baseline task such as a VAE)", description="Train from a preset or a config file; "
                       "override any field with section.key=value (see gankit list --config).")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--preset", help="a shipped recipe (gankit presets); default digits")
    src.add_argument("--config", help="a .yaml / .json config, or RUN/config.json to re-create a run")
    src.add_argument("--resume", metavar="RUN", help="continue RUN from its latest checkpoint")
    t.add_argument("--game", metavar="PRESET", help="play another preset's game (loss, penalties, tricks, optimizer, "
                   "spectral norm) on this preset's data and network, e.g. --preset digits --game wgan-gp")
    t.add_argument("--out", help="run directory to create (default runs/<name>-<time>)")
    t.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides, e.g. train.lr_d=4e-4")

    pr = sub.add_parser("profile", help="where the training step spends its time (torch.profiler; writes no run)",
                        description="Build the run a preset or config describes, warm up, profile a few training steps and print "
                                    "the step's parts (forward, backward, gradient norm, optimizer of each phase, EMA) and top ops.")
    prs = pr.add_mutually_exclusive_group()
    prs.add_argument("--preset", help="a shipped recipe (gankit presets); default digits")
    prs.add_argument("--config", help="a .yaml / .json config, or RUN/config.json")
    pr.add_argument("--game", metavar="PRESET", help="play another preset's game on this preset's data and network")
    pr.add_argument("--steps", type=int, default=10, help="profiled steps (default 10), then as many timed without the profiler")
    pr.add_argument("--warmup", type=int, default=5, help="steps before profiling (default 5)")
    pr.add_argument("--trace", metavar="FILE.json", help="also write a Chrome trace of the profiled steps")
    pr.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides, e.g. train.kernels=native")

    s = sub.add_parser("sample", help="draw samples from a trained generator")
    s.add_argument("run", metavar="RUN|GENERATOR_DIR")
    s.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("--out", required=True, help="FILE.npy (data space) or FILE.png (grid / scatter); tables: FILE.csv")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--class", dest="label", type=int, help="class for a conditional generator (default: all in turn)")
    s.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="truncation ψ toward the average w (style-based generators; 1: off, 0: the average image)")
    pic = s.add_mutually_exclusive_group()
    pic.add_argument("--style-mixing", action="store_true",
                     help="a style-mixing grid: coarse styles of the top row with the fine styles of the left column (--n sources each)")
    pic.add_argument("--interpolate", choices=("z", "w"), help="a latent interpolation: --out FILE.png (strip) or FILE.gif (animation)")
    s.add_argument("--frames", type=int, default=16, help="frames of an interpolation (default 16)")
    s.add_argument("--cutoff", type=int, help="style mixing: how many styles (rows of w) the top row gives (default: up to 8×8)")
    s.add_argument("--condition", action="append", default=[], metavar="COLUMN=VALUE",
                   help="tables: only rows with this value of a categorical / boolean column (repeatable); --out FILE.csv")

    pj = sub.add_parser("project", help="GAN inversion: find the w whose image reproduces IMAGE (style-based generators)")
    pj.add_argument("run", metavar="RUN|GENERATOR_DIR")
    pj.add_argument("image", metavar="IMAGE", help="an image file (cropped to a square and resized to the generator's size)")
    pj.add_argument("--out", required=True, help="folder to write: target and projection side by side (projection.png), w.npy")
    pj.add_argument("--steps", type=int, default=300, help="optimizer steps (default 300)")
    pj.add_argument("--seed", type=int, default=0)
    pj.add_argument("--class", dest="label", type=int, help="class for a conditional generator (default 0)")

    up = sub.add_parser("upscale", help="super-resolve image files with a superres run (SRResNet, SRGAN, ESRGAN)")
    up.add_argument("run", metavar="RUN|GENERATOR_DIR")
    up.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of them")
    up.add_argument("--out", required=True, help="folder to write OUT/<name>.png into")
    up.add_argument("--alpha", type=float, help="ESRGAN's network interpolation: 0 the PSNR model, 1 the GAN (default 1)")
    up.add_argument("--tile", type=int, default=0, help="process overlapping tiles of this many input pixels (bounds memory; 0: whole)")

    ip = sub.add_parser("inpaint", help="fill the holes of an image with an inpaint run")
    ip.add_argument("run", metavar="RUN|GENERATOR_DIR")
    ip.add_argument("image", metavar="IMAGE")
    ip.add_argument("--mask", required=True, help="an image of the same size, white (>= 128) where pixels are missing")
    ip.add_argument("--out", required=True, help="FILE.png to write")

    tp = sub.add_parser("translate", help="translate image files with a pix2pix, cyclegan or stargan run")
    tp.add_argument("run", metavar="RUN|GENERATOR_DIR")
    tp.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of them (resized to the model's resolution)")
    tp.add_argument("--out", required=True, help="folder to write OUT/<name>.png into")
    tp.add_argument("--direction", choices=("AtoB", "BtoA"), help="cyclegan: which way (default AtoB)")
    tp.add_argument("--to", nargs="+", metavar="ATTR=VALUE", help="stargan: target attributes (the others keep the input's own)")

    au = sub.add_parser("augment", help="write a labelled synthetic set from a class-conditional run (acgan, or gan with "
                                        "model.conditional=true)")
    au.add_argument("run", metavar="RUN|GENERATOR_DIR")
    au.add_argument("--n-per-class", type=int, required=True, metavar="N", help="images of each class")
    au.add_argument("--out", required=True, help="FILE.npz (x uint8 N×C×H×W, y, class_names) or a new FOLDER (a subfolder of PNGs per class)")
    au.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    au.add_argument("--truncation", type=float, default=0.0, metavar="TAU",
                    help="draw z from a normal truncated at ±TAU (BigGAN's trick: fewer, more typical samples); 0: off")
    au.add_argument("--filter", action="store_true",
                    help="keep only samples a classifier trained on the run's labelled images assigns to their class")

    r = sub.add_parser("report", help="write RUN/report.html (self-contained: curves, samples, animation, ...)")
    r.add_argument("run", metavar="RUN")
    c = sub.add_parser("compare", help="one HTML page comparing runs: curves on the same axes, final samples")
    c.add_argument("runs", nargs="+", metavar="RUN")
    c.add_argument("--out", required=True, help="FILE.html to write")

    df = sub.add_parser("difficulty", help="what makes a dataset hard, from the data alone: intrinsic dimension, modes, overlap, the floor",
                        description="Descriptors of a dataset's training split before any training (docs/difficulty.md).")
    df.add_argument("dataset", metavar="DATASET")
    df.add_argument("overrides", nargs="*", metavar="data.key=value", help="data options, e.g. data.path=DIR data.modes=16")
    df.add_argument("--n", type=int, default=2000, help="samples to describe (default 2000)")
    df.add_argument("--seed", type=int, default=0)
    df.add_argument("--extractor", help="feature extractor for images (default: the dataset's)")
    df.add_argument("--no-floor", action="store_true", help="skip the real-vs-real metrics")
    df.add_argument("--preset", help="also predict the coverage (and, for images, FID) this preset will reach")
    df.add_argument("--json", action="store_true", help="one JSON object instead of a table")

    e = sub.add_parser("evaluate", help="score a run's generator (FID, KID, precision/recall, ...) with provenance",
                       description="Score RUN's generator against its real data; with --samples PATH --against DATASET|STATS.npz "
                       "samples any model wrote (a folder of images, .npy, .npz); or with --real-vs-real DATASET the floor: "
                       "every metric between two disjoint real splits.")
    e.add_argument("run", nargs="?", metavar="RUN")
    e.add_argument("--real-vs-real", metavar="DATASET", help="score the train split against the test split of DATASET")
    e.add_argument("--samples", metavar="PATH", help="score these samples instead of a run: a folder of images, or a .npy/.npz "
                   "(uint8 N×H×W×C or N×C×H×W images, float images in [-1, 1], float N×D points)")
    e.add_argument("--against", metavar="DATASET|STATS.npz", help="with --samples: a dataset (gankit list; data.key=value "
                   "options) or a pytorch-fid statistics .npz (fid only)")
    e.add_argument("--split", choices=("train", "test"), help="with --samples: the dataset's reference split (default train)")
    e.add_argument("--max-samples", type=int, metavar="N", help="with --samples: score only the first N samples (default all)")
    e.add_argument("--metrics", default="", help="comma-separated (gankit list): e.g. fid,kid,pr,dc,is,c2st,modes,classes")
    e.add_argument("--n", type=int, default=2500, help="generated samples (and at most this many real ones; with --samples: "
                   "real ones only)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--extractor", help="feature extractor (default: by dataset)")
    e.add_argument("--weights", help="inception-v3-fid weights file (pt_inception-2015-12-05-6726825d.pth)")
    e.add_argument("--ref-stats", help="pytorch-fid style .npz (mu, sigma) to compute FID against")
    e.add_argument("--ppl-distance", help="ppl: perceptual distance (digits-cnn, pixel, lpips-vgg; default by dataset)")
    e.add_argument("--ppl-weights", help="ppl with lpips-vgg: the LPIPS weights file (.safetensors, or .pth with its SHA-256 checked)")
    e.add_argument("--ppl-space", choices=("w", "z"), help="ppl: latent space (default w for style-based generators, else z)")
    e.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    e.add_argument("overrides", nargs="*", metavar="data.key=value", help="with --real-vs-real or --samples: data options, e.g. data.path=DIR")

    sub.add_parser("presets", help="list the shipped presets")
    lst = sub.add_parser("list", help="list the registries (tasks, datasets, models, losses, terms, ...)")
    lst.add_argument("--config", action="store_true", help="list every config field with its default instead")
    lst.add_argument("--task", default="gan", help="with --config: the task whose fields to list (gan, vae; default gan)")
    return p


def _cmd_train(args: argparse.Namespace) -> int:
    from . import api

    if args.resume and args.out:
        from .errors import ConfigError

        raise ConfigError("--resume continues RUN in place; drop --out")
    summary = api.train(args.preset, config=args.config, out=args.out, overrides=args.overrides, resume=args.resume,
                        game=args.game)
    run = summary["run_dir"]
    print(f"done: {summary['step']} steps, {summary['images_seen']} images shown, {summary['wall_s']:.0f} s"
          + (" (early stop)" if summary.get("early_stopped") else ""))
    health = summary.get("health") or {}
    if health or summary.get("rollbacks"):
        events = ", ".join(f"{k} ×{v}" for k, v in sorted(health.items()))
        print(f"health: {events or 'no warnings'}; rollbacks: {summary.get('rollbacks', 0)} (details in metrics.jsonl)")
    print(f"run directory: {run}")
    print(f"  open:      {run}/report.html   (samples, curves, evaluations, health; works offline)")
    print(f"  samples:   {run}/samples/   (latest: the highest step)")
    print(f"  metrics:   {run}/metrics.jsonl")
    task = summary.get("task", "gan")
    print(f"  model:     {run}/generator/  ({USE.get(task, 'gankit sample {run} --n 64 --out samples.png').format(run=run)})")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from . import api

    r = api.profile(args.preset, config=args.config, overrides=args.overrides, game=args.game, steps=args.steps,
                    warmup=args.warmup, trace=args.trace)
    flops = ("FLOPs not countable (every counted step differentiated twice)" if r["gflop_per_step"] is None
             else f"{r['gflop_per_step']:.2f} GFLOP/step = {r['gflop_s']:.0f} GFLOP/s")
    print(f"step: {r['step_ms']:.2f} ms ({r['img_s']:.0f} img/s), {flops}, precision {r['precision']} "
          f"(timed without the profiler, {r['steps']} steps)")
    print(f"\nparts of the step (inclusive ms per step under the profiler, which adds its own overhead; "
          f"{r['profiled_ms']:.2f} ms in all):")
    width = max(map(len, [*r["parts"], *r["ops"]]), default=10)
    for part, ms in r["parts"].items():
        print(f"  {part:<{width}}  {ms:8.2f}")
    print("\nops with the most self time (ms per step):")
    for op, ms in r["ops"].items():
        print(f"  {op:<{width}}  {ms:8.2f}")
    if args.trace:
        print(f"\ntrace: {args.trace} (open in chrome://tracing or ui.perfetto.dev)")
    return 0


#: how a trained model of each task is used, for the hints the CLI prints
USE = {"superres": "gankit upscale {run} INPUT... --out DIR", "inpaint": "gankit inpaint {run} IMAGE --mask MASK --out FILE.png",
       "pix2pix": "gankit translate {run} INPUT... --out DIR", "cyclegan": "gankit translate {run} INPUT... --out DIR --direction AtoB|BtoA",
       "stargan": "gankit translate {run} INPUT... --out DIR --to ATTR=VALUE...",
       "acgan": "gankit augment {run} --n-per-class 100 --out synthetic.npz"}


def _cmd_sample(args: argparse.Namespace) -> int:
    from . import api

    from . import sampling
    from .errors import ConfigError
    from .tasks import MolGANPipeline, PairPipeline, TablePipeline, TranslationPipeline

    if not 0.0 <= args.truncation <= 2.0:
        raise ConfigError(f"--truncation: {args.truncation} is outside 0..2; 1 is off, 0.5-0.7 is the usual trade of variety for quality")
    out = Path(args.out)
    if args.interpolate and out.suffix not in (".png", ".gif"):
        raise ConfigError(f"--out: {out.name}: an interpolation is written as FILE.png (a strip) or FILE.gif (an animation)")
    if args.style_mixing and out.suffix != ".png":
        raise ConfigError(f"--out: {out.name}: a style-mixing grid is written as FILE.png")
    G = api.load(args.run)
    if isinstance(G, (PairPipeline, TranslationPipeline)):
        verb = USE[G.meta.get("task", "")].format(run="RUN")
        raise ConfigError(f"sample: a {G.meta.get('task')} model maps given images rather than sampling; use {verb}")
    if isinstance(G, MolGANPipeline):
        if args.condition or args.label is not None or args.interpolate or args.style_mixing or args.truncation != 1.0:
            raise ConfigError("sample: a molecule model takes --n, --seed and --out only")
        table = api.sample_molecules(G, args.n, out, seed=args.seed)
        print(f"wrote {len(table)} molecules ({int(table['valid'].sum())} valid) to {out}")
        return 0
    if isinstance(G, TablePipeline):
        rows = api.sample_table(G, args.n, out, seed=args.seed, condition=_conditions(args.condition))
        print(f"wrote {len(rows)} rows to {out}")
        return 0
    if args.condition:
        raise ConfigError("--condition: selects rows of a table model; for a conditional image generator use --class")
    data = G.gankit_meta.get("data", {})
    if (args.interpolate or args.style_mixing) and len(data.get("shape", [])) != 3:
        raise ConfigError("--interpolate / --style-mixing draw pictures of images; this generator makes toy points")
    if args.style_mixing:
        n = min(args.n, 12)
        x = sampling.style_mixing_grid(G, n, seed=args.seed, psi=args.truncation, cutoff=args.cutoff, label=args.label)
        api.save_samples(x, out, nrow=n + 1)
        print(f"wrote a {n}×{n} style-mixing grid to {out}")
        return 0
    if args.interpolate:
        x = sampling.interpolation_frames(G, args.frames, args.interpolate, seed=args.seed, psi=args.truncation, label=args.label)
        if out.suffix == ".gif":
            out.parent.mkdir(parents=True, exist_ok=True)
            sampling.save_gif(x, out)
        else:
            api.save_samples(x, out, nrow=len(x))
        print(f"wrote a {len(x)}-frame interpolation in {args.interpolate} to {out}")
        return 0
    if args.truncation != 1.0:
        x = sampling.truncated_samples(G, args.n, seed=args.seed, psi=args.truncation, label=args.label)
    else:
        x = api.generate(G, args.n, seed=args.seed, labels=args.label)
    nrow = data.get("num_classes") if (G.c_dim and args.label is None) else None
    out = api.save_samples(x, out, nrow=nrow, centers=data.get("centers"))
    print(f"wrote {args.n} samples to {out}")
    return 0


def _cmd_upscale(args: argparse.Namespace) -> int:
    from . import api

    paths = api.upscale(args.run, args.inputs, args.out, alpha=args.alpha, tile=args.tile)
    print(f"wrote {len(paths)} upscaled image(s) to {args.out}")
    return 0


def _cmd_translate(args: argparse.Namespace) -> int:
    from . import api

    paths = api.translate(args.run, args.inputs, args.out, direction=args.direction, to=args.to)
    print(f"wrote {len(paths)} translated image(s) to {args.out}")
    return 0


def _cmd_augment(args: argparse.Namespace) -> int:
    from . import api

    path, counts = api.augment(args.run, args.out, args.n_per_class, seed=args.seed, truncation=args.truncation, filter=args.filter)
    short = [f"{k}:{c}" for k, c in enumerate(counts) if c < args.n_per_class]
    print(f"wrote {sum(counts)} labelled image(s) to {path}" + (f" (classes short after filtering: {', '.join(short)})" if short else ""))
    return 0


def _cmd_inpaint(args: argparse.Namespace) -> int:
    from . import api

    print(f"wrote {api.inpaint(args.run, args.image, args.mask, args.out)}")
    return 0


def _conditions(items: list[str]) -> dict[str, str]:
    """``["col=value", ...]`` -> {col: value}; a one-line error for an item without ``=``."""
    from .errors import ConfigError

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--condition {item!r}: expected COLUMN=VALUE, e.g. --condition diagnosis=malignant")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _cmd_project(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from . import api, sampling
    from .data.images import load_image
    from .errors import ConfigError

    if args.steps < 1:
        raise ConfigError(f"--steps: {args.steps} must be at least 1")
    G = api.load(args.run)
    sampling.require_style_based(G, "project")
    target = load_image(args.image, G.img_resolution, G.img_channels)
    ws, img, losses = sampling.project(G, target, steps=args.steps, seed=args.seed, label=args.label)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    api.save_samples(torch.cat([target[None], img]), out / "projection.png", nrow=2)
    tmp = out / ".w.tmp.npy"
    np.save(tmp, ws[0].numpy())
    tmp.replace(out / "w.npy")
    print(f"projected {args.image} in {args.steps} steps: pixel MSE {float((img[0] - target).pow(2).mean()):.4f} "
          f"(first step {losses[0]:.4f}); wrote {out}/projection.png (target | projection) and {out}/w.npy")
    return 0


def _cmd_presets(args: argparse.Namespace) -> int:
    from .config import preset_dict, preset_names

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {preset_dict(name).get('description', '')}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from . import tasks  # noqa: F401  (fills the task registry; the others come with the config's registries)
    from .config import describe_fields, registries
    from .config.sections import TASKS as TASK_SCHEMAS
    from .errors import ConfigError

    if args.config:
        if args.task not in TASK_SCHEMAS:
            raise ConfigError(f"--task: unknown task {args.task!r}; choose one of: {', '.join(TASK_SCHEMAS)}")
        for key, tp, default, help_text in describe_fields(args.task):
            print(f"{key:<24} {tp:<16} {default!r:<12} {help_text}")
        return 0
    for kind, reg in registries().items():
        print(f"{kind}:")
        for e in reg.entries():
            print(f"  {e.name:<16} {e.help}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from . import report

    print(f"wrote {report.write_report(args.run)}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from . import report

    print(f"wrote {report.compare(args.runs, args.out)}")
    return 0


def _check_evaluate_args(args: argparse.Namespace) -> None:
    """--samples PATH goes with --against and excludes RUN / --real-vs-real; its options need it. A key=value that
    argparse took for RUN (it comes first among the positionals) is put back among the overrides."""
    from .errors import ConfigError

    if args.run and "=" in args.run and not Path(args.run).exists():  # argparse gives RUN the first key=value
        args.overrides, args.run = [args.run, *args.overrides], None
    if not args.samples:
        given = [flag for flag, value in (("--against", args.against), ("--split", args.split),
                                          ("--max-samples", args.max_samples)) if value is not None]
        if given:
            raise ConfigError(f"{given[0]} goes with --samples PATH (samples from files); add --samples or drop {given[0]}")
        return
    if args.run or args.real_vs_real:
        other = "RUN" if args.run else "--real-vs-real"
        raise ConfigError(f"--samples scores samples from files, {other} scores something else; give one of them")
    if not args.against:
        raise ConfigError("--samples needs --against DATASET (gankit list) or --against STATS.npz (a pytorch-fid statistics file)")
    if args.ref_stats:
        raise ConfigError("--ref-stats is for RUN; with --samples give the statistics file as --against STATS.npz")
    ppl = [flag for flag, value in (("--ppl-distance", args.ppl_distance), ("--ppl-weights", args.ppl_weights),
                                    ("--ppl-space", args.ppl_space)) if value is not None]
    if ppl:
        raise ConfigError(f"{ppl[0]}: ppl needs a generator, files of samples have none; drop it or score RUN")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .config import data_config, dataset_of
    from .errors import ConfigError
    from .evaluation import evaluate_files, evaluate_run, real_vs_real
    from .types import schema

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if args.n < 2:
        raise ConfigError(f"--n: {args.n} is too small; use at least 2")
    _check_evaluate_args(args)
    if args.samples:
        result = evaluate_files(args.samples, args.against, metrics, n=args.n, seed=args.seed, split=args.split,
                                extractor=args.extractor, weights=args.weights, max_samples=args.max_samples,
                                overrides=[o if o.startswith("data.") else f"data.{o}" for o in args.overrides])
    elif args.real_vs_real:
        if args.run:
            raise ConfigError("--real-vs-real scores a dataset against itself; drop RUN")
        data_cfg = data_config({"name": args.real_vs_real}, [o if o.startswith("data.") else f"data.{o}" for o in args.overrides])
        if not metrics:
            kind = dataset_of(data_cfg.name).schema
            metrics = ["quality", "detection"] if kind == "table" else list(schema(kind).metrics)
        result = real_vs_real(data_cfg, metrics, args.n, seed=args.seed, extractor=args.extractor, weights=args.weights)
    else:
        if not args.run:
            raise ConfigError("evaluate needs RUN (a run directory), --samples PATH --against DATASET|STATS.npz, "
                              "or --real-vs-real DATASET")
        if args.overrides:
            raise ConfigError(f"evaluate RUN takes no overrides (got {args.overrides[0]!r})")
        if not metrics:
            raise ConfigError("--metrics: name at least one, e.g. --metrics fid,kid,pr (gankit list shows all)")
        result = evaluate_run(args.run, metrics, args.n, seed=args.seed, extractor=args.extractor,
                              weights=args.weights, ref_stats=args.ref_stats, ppl_distance=args.ppl_distance,
                              ppl_weights=args.ppl_weights, ppl_space=args.ppl_space)
    if args.json:
        print(json.dumps(result))
        return 0
    width = max(len(k) for k in result)
    for key, value in result.items():
        shown = f"{value:.6g}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
    return 0


def _cmd_difficulty(args: argparse.Namespace) -> int:
    import json

    from .config import data_config
    from .difficulty import describe
    from .errors import ConfigError

    if args.n < 30:
        raise ConfigError(f"--n: {args.n} is too few points for a dimension estimate; use at least 30")
    data_cfg = data_config({"name": args.dataset}, [o if o.startswith("data.") else f"data.{o}" for o in args.overrides])
    result = describe(data_cfg, n=args.n, seed=args.seed, extractor=args.extractor, floor=not args.no_floor, preset=args.preset)
    if args.json:
        print(json.dumps(result))
        return 0
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {f'{value:.4g}' if isinstance(value, float) else value}")
    return 0


COMMANDS = {"profile": _cmd_profile, "evaluate": _cmd_evaluate, "difficulty": _cmd_difficulty, "train": _cmd_train, "sample": _cmd_sample, "project": _cmd_project, "presets": _cmd_presets, "list": _cmd_list,
            "report": _cmd_report, "compare": _cmd_compare, "upscale": _cmd_upscale, "inpaint": _cmd_inpaint,
            "translate": _cmd_translate, "augment": _cmd_augment}


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import GankitError
    from .training.loop import Interrupted

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from .version import __version__

        print(__version__)
        return 0
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except Interrupted as e:  # the step finished and a checkpoint was written
        print(f"gankit: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
