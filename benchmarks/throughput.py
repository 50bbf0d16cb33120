"""Training-step throughput: gankit's step against a plain hand-written PyTorch loop of the same models.

For each model (dcgan32, dcgan64, sngan32, mlp-toy) both loops train the same networks (same classes, same
initial weights, same loss, optimizer and batch) in the same process, alternating in rounds so that load on a
shared machine hits both alike; warm-up steps are excluded and the median per-step time over rounds is reported.
FLOPs per step come from torch.utils.flop_counter on one plain step; the fp32 matrix-multiply peak of this
machine is measured in the same run, and utilization = achieved FLOP/s / peak.

Further sections, each measured in the same run: the training options on dcgan32 (fake-batch reuse off,
channels_last, bf16 autocast, torch.compile) against the same plain loop; seconds per thousand images of the
style-based and progressive presets; evaluation throughput (sampling G_ema, digits-cnn and Inception-v3 feature
extraction); and data-parallel training with 2 gloo processes against 1 process (torchrun).

    python benchmarks/throughput.py [--quick] [--json] [--models dcgan32,mlp-toy] [--sections train,options,profile,families,eval,ddp]
                                    [--out docs/benchmarks/throughput.md]
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import gankit  # noqa: E402
from gankit.config import load_preset  # noqa: E402
from gankit.training.kernels import use_gemm_kernels  # noqa: E402
from gankit.training.loop import Trainer  # noqa: E402

# The canonical models of the issue: name -> (preset, overrides)
MODELS = {
    "dcgan32": ("digits", ["data.channels=3", "data.resolution=32", "model.g_width=64", "model.d_width=64", "model.z_dim=100"]),
    "dcgan64": ("digits", ["data.channels=3", "data.resolution=64", "model.g_width=64", "model.d_width=64", "model.z_dim=100"]),
    "sngan32": ("digits", ["data.channels=3", "data.resolution=32", "model.name=resnet", "model.spectral_norm=d",
                           "loss.name=hinge", "model.g_width=128", "model.d_width=128"]),
    "mlp-toy": ("ring", ["train.batch_size=256"]),
}
COMMON = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.log_every=1000000",
          "train.sample_every=1000000", "train.checkpoint_every=1000000", "train.ema_kimg=0", "train.steps=1000000"]


def gemm_peak_gflops(n: int = 4096, reps: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Matrix-multiply peak of this machine in ``dtype`` (GFLOP/s), best of a few timed runs."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


class PlainLoop:
    """What a user would write by hand: same G and D objects' copies, BCE non-saturating / hinge, Adam.

    ``tuned``: the same loop written after PyTorch's performance guide, with gankit's defaults for this model: the
    trainer's precision (bf16 autocast around the forward passes, backward outside), its memory format
    (channels_last for image models) and fused Adam — like with like for the ratio (issue 24)."""

    def __init__(self, trainer: Trainer, tuned: bool = False) -> None:
        tc = trainer.cfg.train
        self.G, self.D = copy.deepcopy(trainer.nets["G"]), copy.deepcopy(trainer.nets["D"])
        for net in (self.G, self.D):  # PyTorch's own convolution kernels (train.kernels=auto may have switched gankit's)
            use_gemm_kernels(net, on=False)
        self.fmt = trainer.memory_format if tuned else torch.contiguous_format
        self.bf16 = tuned and trainer.precision == "bf16"
        if self.fmt == torch.channels_last:
            self.G, self.D = self.G.to(memory_format=self.fmt), self.D.to(memory_format=self.fmt)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr_g, betas=(tc.beta1, tc.beta2), fused=tuned)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d, betas=(tc.beta1, tc.beta2), fused=tuned)
        self.batch, self.z_dim = tc.batch_size, trainer.cfg.model.z_dim
        self.hinge = trainer.cfg.loss.name == "hinge"
        self.n_critic = tc.n_critic
        self.batches = trainer.batches
        self.precision = "bf16" if self.bf16 else "fp32"

    def autocast(self):  # noqa: ANN201 - a context manager
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def step(self) -> None:
        for _ in range(self.n_critic):
            real = self.batches.next().x
            if self.fmt == torch.channels_last:
                real = real.contiguous(memory_format=self.fmt)
            with self.autocast():
                fake = self.G(torch.randn(self.batch, self.z_dim)).detach()
                r, f = self.D(real).float(), self.D(fake).float()
            if self.hinge:
                d_loss = F.relu(1 - r).mean() + F.relu(1 + f).mean()
            else:
                d_loss = F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + \
                    F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
            self.opt_d.zero_grad()
            d_loss.backward()
            self.opt_d.step()
        with self.autocast():
            f = self.D(self.G(torch.randn(self.batch, self.z_dim))).float()
        g_loss = -f.mean() if self.hinge else F.binary_cross_entropy_with_logits(f, torch.ones_like(f))
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()


def time_steps(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def bench_model(name: str, rounds: int, steps: int, warmup: int, tmp: Path) -> dict:
    preset, overrides = MODELS[name]
    cfg = load_preset(preset, overrides + COMMON)
    trainer = Trainer(cfg, tmp / name)
    plain, tuned = PlainLoop(trainer), PlainLoop(trainer, tuned=True)
    from torch.utils.flop_counter import FlopCounterMode

    def count(fn) -> int:  # noqa: ANN001
        with FlopCounterMode(display=False) as counter:
            fn()
        return counter.get_total_flops()

    flops_plain, flops = count(plain.step), count(trainer.train_step)  # each loop's own work
    for _ in range(warmup):
        plain.step()
        tuned.step()
        trainer.train_step()
    t_plain, t_tuned, t_gankit = [], [], []
    for _ in range(rounds):  # the three loops alternate in every round
        t_plain.append(time_steps(plain.step, steps))
        t_tuned.append(time_steps(tuned.step, steps))
        t_gankit.append(time_steps(trainer.train_step, steps))
    images = cfg.train.batch_size * cfg.train.n_critic  # real images shown per step
    mp, mt, mg = statistics.median(t_plain), statistics.median(t_tuned), statistics.median(t_gankit)
    return {"plain_img_s": images / mp, "gankit_img_s": images / mg, "ratio": mp / mg, "flops_per_step": flops,
            "plain_flops_per_step": flops_plain, "tuned_img_s": images / mt, "tuned_ratio": mt / mg, "precision": trainer.precision,
            "plain_s_per_step": mp, "tuned_s_per_step": mt, "gankit_s_per_step": mg, "batch": cfg.train.batch_size}


OPTIONS = {  # dcgan32 with one training option changed; each against the same plain loop
    "gankit defaults (reuse_fake, channels_last, fused Adam, precision auto)": [],
    "precision fp32": ["train.precision=fp32"],
    "precision fp32, reuse_fake off": ["train.precision=fp32", "train.reuse_fake=false"],
    "precision fp32, channels_last off": ["train.precision=fp32", "train.channels_last=false"],
    "precision fp32, torch.compile": ["train.precision=fp32", "train.compile=true"],
}


def bench_options(rounds: int, steps: int, warmup: int, tmp: Path, quick: bool) -> dict:
    """dcgan32's plain loop and one gankit trainer per option, alternating every round."""
    preset, overrides = MODELS["dcgan32"]
    trainers = {}
    for name, extra in OPTIONS.items():
        if quick and "compile" in name:
            continue
        trainers[name] = Trainer(load_preset(preset, overrides + COMMON + extra), tmp / f"opt-{len(trainers)}")
    plain = PlainLoop(next(iter(trainers.values())))
    t0 = time.perf_counter()
    for _ in range(warmup):  # includes torch.compile's compilation
        plain.step()
        for t in trainers.values():
            t.train_step()
    warm_s = time.perf_counter() - t0
    times: dict[str, list[float]] = {"plain": [], **{k: [] for k in trainers}}
    for _ in range(rounds):
        times["plain"].append(time_steps(plain.step, steps))
        for k, t in trainers.items():
            times[k].append(time_steps(t.train_step, steps))
    batch = 64
    mp = statistics.median(times["plain"])
    out = {"plain_img_s": batch / mp, "warmup_s": warm_s, "options": {}}
    for k in trainers:
        m = statistics.median(times[k])
        out["options"][k] = {"img_s": batch / m, "ratio": mp / m}
    return out


FAMILIES = {  # preset -> overrides: seconds per thousand images at the preset's own settings
    "stylegan2-digits": [],
    "stylegan2-digits + path length": ["reg.pl=2"],
    "progan-digits (32×32 stage)": ["model.phase_kimg=0"],
    "digits (DCGAN, for scale)": [],
}


def bench_profile(steps: int, warmup: int, tmp: Path, top: int = 12) -> dict:
    """Where dcgan32's step spends its time: torch.profiler (CPU) over ``steps`` steps of gankit's loop and of the
    like-for-like plain loop; the ops with the most self time in either, in ms per step."""
    from torch.profiler import ProfilerActivity, profile

    preset, overrides = MODELS["dcgan32"]
    trainer = Trainer(load_preset(preset, overrides + COMMON), tmp / "profile")
    tuned = PlainLoop(trainer, tuned=True)
    out = {}
    for name, fn in (("gankit", trainer.train_step), ("plain", tuned.step)):
        for _ in range(warmup):
            fn()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                fn()
        out[name] = {e.key: e.self_cpu_time_total / 1e3 / steps for e in prof.key_averages()}
    total = {k: sum(v.values()) for k, v in out.items()}
    keys = sorted(set(out["gankit"]) | set(out["plain"]), key=lambda k: -max(out["gankit"].get(k, 0), out["plain"].get(k, 0)))[:top]
    return {"total_ms": total, "ops": [[k, out["gankit"].get(k, 0.0), out["plain"].get(k, 0.0)] for k in keys], "steps": steps}


def bench_families(steps: int, warmup: int, tmp: Path) -> dict:
    out = {}
    for label, extra in FAMILIES.items():
        preset = label.split()[0]
        cfg = load_preset(preset, COMMON + extra)
        t = Trainer(cfg, tmp / f"fam-{len(out)}")
        for _ in range(warmup):
            t.train_step()
        s = time_steps(t.train_step, steps)
        out[label] = {"s_per_kimg": s / (cfg.train.batch_size * cfg.train.n_critic) * 1000, "img_s": cfg.train.batch_size / s,
                      "batch": cfg.train.batch_size, "params_G": sum(p.numel() for p in t.nets["G"].parameters())}
    return out


def bench_eval(tmp: Path, quick: bool) -> dict:
    """Sampling G_ema and feature extraction, images per second (inference mode, batched)."""
    from gankit.metrics import inception
    from gankit.metrics.features import Extractor, build_extractor

    out = {}
    t = Trainer(load_preset("digits", COMMON), tmp / "eval")
    z = torch.randn(2048, 100)
    t.sample((z[:256], None))
    s = time_steps(lambda: t.sample((z, None)), 1)
    out["sample G_ema (digits DCGAN, 32×32)"] = {"img_s": len(z) / s, "batch": 512}
    x = t.sample((z, None))
    ext = build_extractor("digits-cnn")
    ext(x[:256])
    s = time_steps(lambda: ext(x), 1)
    out["digits-cnn features + classes"] = {"img_s": len(x) / s, "batch": ext.batch_size}
    net = inception.FIDInceptionV3().eval()  # random weights: the same work as the real network
    inc = Extractor("inception-v3-fid (random weights)", lambda b: (net(b)["pool3"], None), batch_size=64)
    n = 128 if quick else 512
    inc(x[:64])
    s = time_steps(lambda: inc(x[:n]), 1)
    out["inception-v3-fid pool3 (299×299)"] = {"img_s": n / s, "batch": 64}
    return out


DDP_WORKER = "--ddp-worker"


def ddp_worker(steps: int, warmup: int, threads: int) -> None:
    """Run under torchrun: dcgan32 with the global batch 64 split over the processes; rank 0 prints img/s."""
    import tempfile

    torch.set_num_threads(threads)
    preset, overrides = MODELS["dcgan32"]
    with tempfile.TemporaryDirectory() as tmp:
        t = Trainer(load_preset(preset, overrides + COMMON + [f"train.threads={threads}"]), Path(tmp) / "ddp")
        for _ in range(warmup):
            t.train_step()
        s = time_steps(t.train_step, steps)
        if t.dist.is_main:
            print(json.dumps({"img_s": 64 / s, "world": t.dist.world}))
        t.dist.close()


def bench_ddp(steps: int, warmup: int) -> dict:
    import socket
    import subprocess

    out = {}
    for nproc, threads in ((1, 2), (2, 1)):
        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            port = sk.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
               f"--master_port={port}", __file__, DDP_WORKER, str(steps), str(warmup), str(threads)]
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
        if res.returncode or not lines:
            out[f"{nproc} process(es)"] = {"error": (res.stderr.strip().splitlines() or ["failed"])[-1]}
            continue
        out[f"{nproc} process{'es' if nproc > 1 else ''} × {threads} thread{'s' if threads > 1 else ''}"] = json.loads(lines[-1])
    return out


def _section(title: str, intro: str, header: list[str], rows: list[list]) -> list[str]:
    """A markdown section: title, one paragraph, a table whose first column is left-aligned."""
    return ["", f"## {title}", "", intro, "", "| " + " | ".join(header) + " |",
            "|---|" + "---:|" * (len(header) - 1), *("| " + " | ".join(str(c) for c in r) + " |" for r in rows)]


def write_markdown(out: Path, result: dict) -> None:
    lines = [
        "# Training throughput", "",
        f"Written by `benchmarks/throughput.py{' --quick' if result['quick'] else ''}` on {result['date']}.", "",
        f"Machine: {result['machine']}. torch {torch.__version__}, {result['threads']} threads. "
        f"Measured matmul peak (4096², best of 5): fp32 **{result['gemm_peak_gflops']:.1f} GFLOP/s**"
        + (f", bf16 **{result['gemm_peak_bf16_gflops']:.1f} GFLOP/s**." if result.get("gemm_peak_bf16_gflops") else "."), "",
        "Three loops train the same networks with the same loss, optimizer and batch, alternating in "
        f"{result['rounds']} rounds of {result['steps']} steps after warm-up; times are medians over rounds. The plain loop "
        "is written by hand twice: in fp32 with PyTorch's defaults, and *like for like* — gankit's precision for the model "
        "(bf16 autocast for image models here), its memory format (channels_last) and fused Adam, as PyTorch's performance "
        "guide advises (issue 24). `ratio` = gankit images/s ÷ the plain loop's (> 1: gankit is faster); the same-precision "
        "ratio is the fair one. FLOPs per step are counted by torch.utils.flop_counter on each loop's own step (gankit's G "
        "update computes no weight gradients for D and reuses the D update's fake batch; the plain loops do neither). "
        "Utilization = FLOPs per step ÷ step time ÷ the measured matmul peak of the precision that ran.", "",
        "| model | batch | precision | plain fp32 img/s | plain same-precision img/s | gankit img/s | ratio to fp32 plain | "
        "ratio to same-precision plain | GFLOP/step plain / gankit | utilization same-precision plain / gankit |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in result["models"].items():
        if "skipped" in m:
            lines.append(f"| {name} | | | | | | | | | skipped: {m['skipped']} |")
            continue
        if "tuned_img_s" not in m:  # a table kept from a run before the like-for-like loop
            lines.append(f"| {name} | {m['batch']} | | {m['plain_img_s']:.0f} | — | {m['gankit_img_s']:.0f} | {m['ratio']:.2f} | — | "
                         f"{m['plain_flops_per_step'] / 1e9:.2f} / {m['flops_per_step'] / 1e9:.2f} | — |")
            continue
        lines.append(f"| {name} | {m['batch']} | {m['precision']} | {m['plain_img_s']:.0f} | {m['tuned_img_s']:.0f} | "
                     f"{m['gankit_img_s']:.0f} | {m['ratio']:.2f} | {m['tuned_ratio']:.2f} | "
                     f"{m['plain_flops_per_step'] / 1e9:.2f} / {m['flops_per_step'] / 1e9:.2f} | "
                     f"{m['tuned_utilization']:.0%} / {m['utilization']:.0%} |")
    if "options" in result:
        o = result["options"]
        lines += ["", "## Training options on dcgan32", "",
                  f"Each option alone on top of gankit's defaults, alternating with the same plain loop ({o['plain_img_s']:.0f} img/s) "
                  f"in every round (warm-up, including any compilation: {o['warmup_s']:.0f} s). On by default: fake-batch reuse "
                  "(G's update reuses the D update's fake batch: same G weights, so the same gradients, one G forward pass fewer), "
                  "channels_last for image models, fused Adam, and `train.precision=auto`, which is bf16 autocast for image models "
                  "where the hardware computes bf16 natively (this CPU has AVX-512 BF16) and fp32 otherwise. torch.compile is "
                  "opt-in (it costs the warm-up above and needs a C++ compiler).", "",
                  "| option | img/s | ratio to plain |", "|---|---:|---:|"]
        lines += [f"| {k} | {v['img_s']:.0f} | {v['ratio']:.2f} |" for k, v in o["options"].items()]
    if "profile" in result:
        pr = result["profile"]
        lines += _section("Where the time goes: dcgan32 under torch.profiler",
                          f"Self CPU time per step (ms) of the ops that take the most in either loop, over {pr['steps']} steps after "
                          "warm-up: gankit's step against the like-for-like plain loop's (bf16, channels_last, fused Adam). The profiler "
                          "adds its own overhead to every op, so totals exceed the timed steps above; the split between ops is what "
                          f"to read. Totals: gankit {pr['total_ms']['gankit']:.1f} ms, plain {pr['total_ms']['plain']:.1f} ms.",
                          ["op", "gankit ms/step", "plain ms/step"],
                          [[f"`{k}`", f"{g:.2f}", f"{pl:.2f}"] for k, g, pl in pr["ops"]])
    if "families" in result:
        lines += _section("Style-based and progressive presets (CPU)",
                          "Seconds per thousand real images shown to D at each preset's own batch and regularization schedule "
                          "(lazy R1, ADA; path length where named), median step time after warm-up.",
                          ["preset", "batch", "G params", "img/s", "s/kimg"],
                          [[k, v["batch"], f"{v['params_G'] / 1e6:.2f} M", f"{v['img_s']:.0f}", f"{v['s_per_kimg']:.1f}"]
                           for k, v in result["families"].items()])
    if "eval" in result:
        lines += _section("Evaluation throughput",
                          "Inference mode, batched in chunks (the batch column); images per second including the transfer to NumPy "
                          "float64. Inception-v3 runs with random weights of the real shapes (the same work as the real network).",
                          ["stage", "batch", "img/s"], [[k, v["batch"], f"{v['img_s']:.0f}"] for k, v in result["eval"].items()])
    if "ddp" in result:
        lines += _section("Data parallel on this machine (gloo, torchrun)",
                          "dcgan32 with the global batch of 64 split over the processes (gradients all-reduced every update); "
                          "the same two cores either way.", ["layout", "img/s"],
                          [[k, f"{v['img_s']:.0f}" if "img_s" in v else f"failed: {v['error']}"] for k, v in result["ddp"].items()])
    lines += ["", f"Load average at start / end: {result['load'][0]:.2f} / {result['load'][1]:.2f}."
              + (f" Tables kept from an earlier run (`--merge`): {result['merged']}." if result.get("merged") else ""), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and steps (a few minutes)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--sections", default="train,options,profile,families,eval,ddp", help="which tables to measure")
    p.add_argument("--merge", help="a --json output of an earlier run: its tables for the sections not measured now are kept "
                   "(the page says which run each comes from)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "throughput.md"))
    if len(sys.argv) > 1 and sys.argv[1] == DDP_WORKER:
        ddp_worker(*map(int, sys.argv[2:5]))
        return
    args = p.parse_args()
    sections = set(args.sections.split(","))
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, steps, warmup = (3, 5, 3) if args.quick else (5, 10, 5)
    import tempfile

    load0 = os.getloadavg()[0]
    peak = gemm_peak_gflops()
    peak_bf16 = gemm_peak_gflops(dtype=torch.bfloat16)  # where the CPU multiplies bf16 natively (AMX, AVX-512 BF16)
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in (args.models.split(",") if "train" in sections else []):
            try:
                m = bench_model(name, rounds, steps, warmup, Path(tmp))
            except gankit.errors.ConfigError as e:  # e.g. a model family this version does not have
                models[name] = {"skipped": str(e)}
                continue
            ran = peak_bf16 if m["precision"] == "bf16" else peak  # utilization against the peak of the precision that ran
            m["utilization"] = m["flops_per_step"] / m["gankit_s_per_step"] / (ran * 1e9)
            m["tuned_utilization"] = m["plain_flops_per_step"] / m["tuned_s_per_step"] / (ran * 1e9)
            m["plain_utilization"] = m["plain_flops_per_step"] / m["plain_s_per_step"] / (peak * 1e9)
            models[name] = m
            print(f"{name}: plain fp32 {m['plain_img_s']:.0f} img/s, plain {m['precision']} {m['tuned_img_s']:.0f} img/s, gankit "
                  f"{m['gankit_img_s']:.0f} img/s, ratio to the same precision {m['tuned_ratio']:.2f}, utilization {m['utilization']:.0%}",
                  file=sys.stderr)
        extra = {}
        if "options" in sections:
            extra["options"] = bench_options(rounds, steps, warmup, Path(tmp), args.quick)
            print(f"options: {json.dumps(extra['options'])}", file=sys.stderr)
        if "profile" in sections:
            extra["profile"] = bench_profile(steps, warmup, Path(tmp))
        if "families" in sections:
            extra["families"] = bench_families(3 * steps, 4, Path(tmp))
            print(f"families: {json.dumps(extra['families'])}", file=sys.stderr)
        if "eval" in sections:
            extra["eval"] = bench_eval(Path(tmp), args.quick)
            print(f"eval: {json.dumps(extra['eval'])}", file=sys.stderr)
    if "ddp" in sections:
        extra["ddp"] = bench_ddp(steps * rounds, warmup)
        print(f"ddp: {json.dumps(extra['ddp'])}", file=sys.stderr)
    result = {"date": dt.datetime.now().isoformat(timespec="seconds"), "quick": args.quick, "rounds": rounds, "steps": steps, **extra,
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", "threads": torch.get_num_threads(),
              "gemm_peak_gflops": peak, "gemm_peak_bf16_gflops": peak_bf16, "models": models, "load": (load0, os.getloadavg()[0])}
    if args.merge:
        earlier = json.loads(Path(args.merge).read_text())
        kept = [k for k in ("options", "profile", "families", "eval", "ddp") if k in earlier and k not in result]
        if not result["models"] and earlier.get("models"):  # the main table, with the peak its utilization used
            kept.insert(0, "models")
            result["gemm_peak_gflops"] = earlier["gemm_peak_gflops"]
            result["gemm_peak_bf16_gflops"] = earlier.get("gemm_peak_bf16_gflops")
        for k in kept:
            result[k] = earlier[k]
        if kept:
            result["merged"] = "; ".join(filter(None, [earlier.get("merged"), f"{', '.join(kept)} from the run of {earlier['date']}"]))
    write_markdown(Path(args.out), result)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
