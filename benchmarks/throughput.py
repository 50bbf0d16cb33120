"""Training-step throughput: gankit's step against a plain hand-written PyTorch loop of the same models.

For each model (dcgan32, dcgan64, sngan32, mlp-toy) the loops train the same networks (same classes, same initial
weights, same loss, optimizer and batch) in the same process, alternating in rounds so that load on a shared machine
hits both alike; warm-up steps are excluded and the median per-step time over rounds is reported. The plain loop runs
twice: in fp32 with PyTorch's defaults and like for like (gankit's precision, channels_last, fused Adam). FLOPs per
step come from torch.utils.flop_counter on each loop's step; the fp32 and bf16 matrix-multiply peaks of this machine
are measured in the same run, and utilization = achieved FLOP/s / the peak of the precision that ran.

Further sections, each measured in the same run: the training options on dcgan32 (kernels, fake-batch reuse,
torch.compile, precision, channels_last, the whole loop turn with guard and hooks); batch sizes; where the time goes
(the loop's profiler ranges and the top ops); each convolution alone (oneDNN against gankit's kernels); the
style-based and progressive presets against the plain loop; sampling and feature extraction against their plain
equivalents; data-parallel training with 2 gloo processes; and, where a CUDA device exists, a GPU section.

    python benchmarks/throughput.py [--quick] [--json] [--models dcgan32,mlp-toy]
                                    [--sections train,options,batches,profile,kernels,kernel-presets,families,eval,ddp,gpu]
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
from gankit.training.performance import span  # noqa: E402
from gankit.training.profiling import count_flops, profile_steps, sync, time_steps  # noqa: E402

# The canonical models of the issue: name -> (preset, overrides)
MODELS = {
    "dcgan32": ("digits", ["data.channels=3", "data.resolution=32", "model.g_width=64", "model.d_width=64", "model.z_dim=100"]),
    "dcgan64": ("digits", ["data.channels=3", "data.resolution=64", "model.g_width=64", "model.d_width=64", "model.z_dim=100"]),
    "sngan32": ("digits", ["data.channels=3", "data.resolution=32", "model.name=resnet", "model.spectral_norm=d",
                           "loss.name=hinge", "model.g_width=128", "model.d_width=128"]),
    "mlp-toy": ("ring", ["train.batch_size=256"]),
}
COMMON = ["train.device=cpu", "train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.log_every=1000000",
          "train.sample_every=1000000", "train.checkpoint_every=1000000", "train.ema_kimg=0", "train.steps=1000000"]


def gemm_peak_gflops(n: int = 4096, reps: int = 5, dtype: torch.dtype = torch.float32, device: str = "cpu") -> float:
    """Matrix-multiply peak of this machine in ``dtype`` (GFLOP/s), best of a few timed runs."""
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        sync()
        t = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


class PlainLoop:
    """What a user would write by hand: copies of the same G and D, the same loss and regularizers written out, Adam.

    Losses: non-saturating (BCE), hinge and Wasserstein; regularizers: R1 (γ/2, lazy every ``reg.lazy`` D updates
    with its weight × the interval, StyleGAN2), WGAN-GP (λ on real/fake interpolates) and ProGAN's drift. No moving
    average of G (gankit keeps G_ema every step: work the plain loop does not do). ``tuned``: the same loop written
    after PyTorch's performance guide, with gankit's defaults for this model: the trainer's precision (bf16 autocast
    around the forward passes, backward outside), its memory format (channels_last for image models) and fused Adam —
    like with like for the ratio (issue 24)."""

    def __init__(self, trainer: Trainer, tuned: bool = False) -> None:
        cfg, tc = trainer.cfg, trainer.cfg.train
        self.G, self.D = copy.deepcopy(trainer.nets["G"]), copy.deepcopy(trainer.nets["D"])
        for net in (self.G, self.D):  # PyTorch's own convolution kernels (train.kernels=auto may have switched gankit's)
            use_gemm_kernels(net, on=False)
            if hasattr(net, "progress"):  # a growing network (ProGAN) at the stage gankit's first step sets
                net.progress(0)
        self.fmt = trainer.memory_format if tuned else torch.contiguous_format
        self.bf16 = tuned and trainer.precision == "bf16"
        if self.fmt == torch.channels_last:
            self.G, self.D = self.G.to(memory_format=self.fmt), self.D.to(memory_format=self.fmt)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr_g, betas=(tc.beta1, tc.beta2), fused=tuned)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d, betas=(tc.beta1, tc.beta2), fused=tuned)
        self.batch, self.z_dim = tc.batch_size, cfg.model.z_dim
        self.loss = cfg.loss.name
        if self.loss not in ("nsgan", "hinge", "wgan"):
            raise ValueError(f"the plain loop writes out nsgan, hinge and wgan, not {self.loss}")
        self.r1, self.gp, self.drift, self.lazy = cfg.reg.r1, cfg.reg.gp, cfg.reg.drift, cfg.reg.lazy
        self.n_critic, self.d_updates = tc.n_critic, 0
        self.batches = trainer.batches
        self.precision = "bf16" if self.bf16 else "fp32"
        self.device = trainer.device

    def autocast(self):  # noqa: ANN201 - a context manager
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def input_grad(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        with self.autocast():
            out = self.D(x).float()
        return torch.autograd.grad(out.sum(), x, create_graph=True)[0].flatten(1)

    def step(self) -> None:
        for _ in range(self.n_critic):
            with span("plain.D.data"):
                real = self.batches.next().x
                if self.fmt == torch.channels_last:
                    real = real.contiguous(memory_format=self.fmt)
            with span("plain.D.forward"):
                with self.autocast():
                    fake = self.G(torch.randn(self.batch, self.z_dim, device=self.device)).detach()
                    r, f = self.D(real).float(), self.D(fake).float()
                if self.loss == "hinge":
                    d_loss = F.relu(1 - r).mean() + F.relu(1 + f).mean()
                elif self.loss == "wgan":
                    d_loss = f.mean() - r.mean()
                else:
                    d_loss = F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + \
                        F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
                if self.d_updates % self.lazy == 0:  # the input-gradient penalties, on their (lazy) schedule
                    if self.r1:
                        d_loss = d_loss + self.r1 * 0.5 * self.lazy * self.input_grad(real).square().sum(1).mean()
                    if self.gp:
                        eps = torch.rand(len(real), 1, 1, 1, device=self.device)
                        norms = self.input_grad(eps * real + (1 - eps) * fake).norm(dim=1)
                        d_loss = d_loss + self.gp * self.lazy * (norms - 1).square().mean()
                if self.drift:
                    d_loss = d_loss + self.drift * r.square().mean()
            self.opt_d.zero_grad()
            with span("plain.D.backward"):
                d_loss.backward()
            with span("plain.D.optimizer"):
                self.opt_d.step()
            self.d_updates += 1
        with span("plain.G.forward"):
            with self.autocast():
                f = self.D(self.G(torch.randn(self.batch, self.z_dim, device=self.device))).float()
            g_loss = F.binary_cross_entropy_with_logits(f, torch.ones_like(f)) if self.loss == "nsgan" else -f.mean()
        self.opt_g.zero_grad()
        with span("plain.G.backward"):
            g_loss.backward()
        with span("plain.G.optimizer"):
            self.opt_g.step()


def alternate(loops: dict, rounds: int, steps: int, warmup: int) -> dict[str, float]:
    """{name: median seconds per call} of the step functions ``loops``: ``warmup`` calls of each, then ``rounds`` rounds
    in which each runs ``steps`` calls in turn (load on a shared machine hits them alike). Also "warmup_s": the
    warm-up's wall time (torch.compile's compilation happens there)."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        for fn in loops.values():
            fn()
    warm_s = time.perf_counter() - t0
    times: dict[str, list[float]] = {k: [] for k in loops}
    for _ in range(rounds):
        for k, fn in loops.items():
            times[k].append(time_steps(fn, steps))
    return {**{k: statistics.median(v) for k, v in times.items()}, "warmup_s": warm_s}


def bench_model(name: str, rounds: int, steps: int, warmup: int, tmp: Path) -> dict:
    preset, overrides = MODELS[name]
    cfg = load_preset(preset, overrides + COMMON)
    trainer = Trainer(cfg, tmp / name)
    plain, tuned = PlainLoop(trainer), PlainLoop(trainer, tuned=True)
    flops_plain, flops = count_flops(plain.step), count_flops(trainer.train_step)  # each loop's own work
    med = alternate({"plain": plain.step, "tuned": tuned.step, "gankit": trainer.train_step}, rounds, steps, warmup)
    images = cfg.train.batch_size * cfg.train.n_critic  # real images shown per step
    mp, mt, mg = med["plain"], med["tuned"], med["gankit"]
    return {"plain_img_s": images / mp, "gankit_img_s": images / mg, "ratio": mp / mg, "flops_per_step": flops,
            "plain_flops_per_step": flops_plain, "tuned_img_s": images / mt, "tuned_ratio": mt / mg, "precision": trainer.precision,
            "plain_s_per_step": mp, "tuned_s_per_step": mt, "gankit_s_per_step": mg, "batch": cfg.train.batch_size}


OPTIONS = {  # dcgan32 with one training option changed; each against the plain loop of the precision it runs in
    "gankit defaults (reuse_fake, channels_last, fused Adam, precision auto, kernels auto)": [],
    "kernels native (PyTorch's convolution kernels)": ["train.kernels=native"],
    "reuse_fake off": ["train.reuse_fake=false"],
    "reuse_fake off, kernels native (what the plain loop computes)": ["train.reuse_fake=false", "train.kernels=native"],
    "torch.compile": ["train.compile=true"],
    "torch.compile, kernels native": ["train.compile=true", "train.kernels=native"],
    "the whole loop turn: + divergence guard (snapshots every 50 steps), log every 50, health checks": [
        "health.monitor=true", "train.log_every=50"],
    "precision fp32": ["train.precision=fp32"],
    "precision fp32, reuse_fake off": ["train.precision=fp32", "train.reuse_fake=false"],
    "precision fp32, channels_last off": ["train.precision=fp32", "train.channels_last=false"],
    "precision fp32, torch.compile": ["train.precision=fp32", "train.compile=true"],
}


def bench_options(rounds: int, steps: int, warmup: int, tmp: Path, quick: bool) -> dict:
    """dcgan32: one gankit trainer per option and the like-for-like plain loop of each precision (bf16 and fp32, both
    with channels_last and fused Adam), all alternating every round."""
    preset, overrides = MODELS["dcgan32"]
    trainers = {}
    for name, extra in OPTIONS.items():
        if quick and "compile" in name:
            continue
        trainers[name] = Trainer(load_preset(preset, overrides + COMMON + extra), tmp / f"opt-{len(trainers)}")
    plains = {t.precision: PlainLoop(t, tuned=True) for t in reversed(trainers.values())}
    steppers = {}
    for k, t in trainers.items():  # a training step, or the whole turn of Trainer.run's loop (guard and hooks too)
        if "loop turn" in k:
            t.guard.start(t)
        steppers[k] = t.iteration if "loop turn" in k else t.train_step
    med = alternate({**{f"plain {k}": p.step for k, p in plains.items()}, **steppers}, rounds, steps, warmup)
    batch = 64
    out = {"plain_img_s": {k: batch / med[f"plain {k}"] for k in plains}, "warmup_s": med["warmup_s"], "options": {}}
    for k, t in trainers.items():
        img_s = batch / med[k]
        out["options"][k] = {"img_s": img_s, "precision": t.precision, "ratio": img_s / out["plain_img_s"][t.precision]}
    return out


BATCHES = (32, 64, 128, 256)


def bench_batches(rounds: int, steps: int, warmup: int, tmp: Path) -> dict:
    """dcgan32 at several batch sizes: gankit against the like-for-like plain loop, and utilization of the bf16 peak
    (more work per step: a protocol choice, since the batch changes the optimization)."""
    preset, overrides = MODELS["dcgan32"]
    out = {}
    for batch in BATCHES:
        t = Trainer(load_preset(preset, overrides + COMMON + [f"train.batch_size={batch}"]), tmp / f"batch-{batch}")
        plain = PlainLoop(t, tuned=True)
        flops = count_flops(t.train_step)
        med = alternate({"plain": plain.step, "gankit": t.train_step}, rounds, steps, warmup)
        mp, mg = med["plain"], med["gankit"]
        out[str(batch)] = {"plain_img_s": batch / mp, "gankit_img_s": batch / mg, "ratio": mp / mg, "gflop_per_step": flops / 1e9,
                           "gankit_s_per_step": mg, "precision": t.precision}
    return out


FAMILIES = {  # label -> (preset, overrides, whether a plain loop writes it out): s/kimg at the preset's own settings
    "stylegan2-digits (ADA)": ("stylegan2-digits", [], False),
    "stylegan2-digits, ADA off": ("stylegan2-digits", ["augment.ada=none"], True),
    "stylegan2-digits + path length": ("stylegan2-digits", ["reg.pl=2"], False),
    "progan-digits (32×32 stage)": ("progan-digits", ["model.phase_kimg=0"], True),
    "digits (DCGAN, for scale)": ("digits", [], True),
}


def bench_profile(steps: int, warmup: int, tmp: Path, top: int = 14) -> dict:
    """Where dcgan32's step spends its time: torch.profiler (CPU) over ``steps`` steps of gankit's loop (its default
    kernels and ``train.kernels=native``) and of the like-for-like plain loop. Two tables: the phases' ranges
    (gankit.<phase>.<part> and the plain loop's matching plain.<phase>.<part>, inclusive ms per step) and the ops with
    the most self time in any of the three (ms per step)."""
    preset, overrides = MODELS["dcgan32"]
    trainer = Trainer(load_preset(preset, overrides + COMMON), tmp / "profile")
    native = Trainer(load_preset(preset, overrides + COMMON + ["train.kernels=native"]), tmp / "profile-native")
    tuned = PlainLoop(trainer, tuned=True)
    ops, ranges = {}, {}
    for name, fn in (("gankit", trainer.train_step), ("native", native.train_step), ("plain", tuned.step)):
        prof = profile_steps(fn, steps, warmup, prefixes=("gankit.", "plain."))
        ops[name], ranges[name] = prof["ops"], prof["ranges"]
    total = {k: sum(v.values()) for k, v in ops.items()}
    keys = sorted(set().union(*ops.values()), key=lambda k: -max(v.get(k, 0) for v in ops.values()))[:top]
    order = [f"{p}.{part}" for p in ("D", "G") for part in ("data", "forward", "backward", "grad_norm", "optimizer")] + ["ema", "stats"]
    return {"total_ms": total, "steps": steps,
            "ops": [[k, ops["gankit"].get(k, 0.0), ops["native"].get(k, 0.0), ops["plain"].get(k, 0.0)] for k in keys],
            "ranges": [[k, *(ranges[n].get(k) for n in ("gankit", "native", "plain"))] for k in order
                       if any(k in ranges[n] for n in ranges)]}


def bench_kernels(tmp: Path, reps: int = 15) -> dict:
    """Each convolution of dcgan32 (batch 64, bf16 autocast, channels_last) alone: forward, input gradient and weight
    gradient, in PyTorch's kernels (oneDNN) and in the path ``train.kernels=auto`` takes; TFLOP/s against the bf16
    GEMM peak. Times are medians of ``reps`` after warm-up; a backward pass's time is (forward + backward) - forward."""
    from torch.utils.flop_counter import FlopCounterMode

    from gankit.training.kernels import GemmConv2d, GemmConvTranspose2d

    preset, overrides = MODELS["dcgan32"]
    trainer = Trainer(load_preset(preset, overrides + COMMON + ["train.kernels=native"]), tmp / "kernels")
    seen: dict[tuple, tuple] = {}
    counts: dict[tuple, list[int]] = {}  # per layer and input shape: forward passes, input gradients, weight gradients

    def record(module, inputs, _out):  # noqa: ANN001 - every forward with grad enabled is backpropagated once here
        key = (repr(module), tuple(inputs[0].shape))
        seen.setdefault(key, (module, tuple(inputs[0].shape)))
        n = counts.setdefault(key, [0, 0, 0])
        grad = torch.is_grad_enabled()
        n[0] += 1
        n[1] += int(grad and inputs[0].requires_grad)
        n[2] += int(grad and module.weight.requires_grad)

    handles = [m.register_forward_hook(record) for n in ("G", "D") for m in trainer.nets[n].modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    trainer.train_step()
    for h in handles:
        h.remove()

    def median_time(fn) -> float:  # noqa: ANN001
        for _ in range(3):
            fn()
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    rows = []
    for key, (module, shape) in seen.items():
        native = copy.deepcopy(module).float()
        gemm = copy.deepcopy(native)
        switched = use_gemm_kernels(gemm)
        x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
        with FlopCounterMode(display=False) as counter, torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            y = native(x)
        flops = counter.get_total_flops()
        dy = torch.randn(y.shape, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
        times = {}
        for label, layer in (("native", native), ("gankit", gemm)):
            xg = x.clone().requires_grad_(True)

            def fwd(inp=x, layer=layer):  # noqa: ANN001, ANN202
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return layer(inp)

            t_f = median_time(lambda: fwd())  # noqa: B023
            t_w = median_time(lambda: torch.autograd.grad(fwd(), layer.weight, dy)) - t_f  # noqa: B023
            layer.requires_grad_(False)  # the input gradient alone, as through G's update's frozen D
            t_x = median_time(lambda: torch.autograd.grad(fwd(xg), xg, dy)) - t_f  # noqa: B023
            layer.requires_grad_(True)
            times[label] = (t_f, t_x, t_w)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fn = type(gemm(x.requires_grad_(True)).grad_fn).__name__
        path = "oneDNN" if not switched or fn == "ConvolutionBackward0" else ("GEMM" if fn == "_GemmConvBackward" else "fully connected")
        rows.append({"layer": f"{type(module).__name__.replace('Gemm', '')}({module.in_channels}→{module.out_channels}, "
                              f"k{module.kernel_size[0]} s{module.stride[0]} p{module.padding[0]})",
                     "input": "×".join(map(str, shape)), "gflop": flops / 1e9, "path": path,
                     "native_ms": [t * 1e3 for t in times["native"]], "gankit_ms": [t * 1e3 for t in times["gankit"]],
                     "per_step": counts[key]})
    return {"rows": rows, "reps": reps}


KERNEL_PRESETS = ("digits", "acgan-digits", "vae-digits", "pix2pix", "cyclegan", "srgan", "inpaint")


def bench_kernel_presets(rounds: int, steps: int, warmup: int, tmp: Path) -> dict:
    """``train.kernels=auto`` against ``native`` on the shipped bf16 image presets, each pair alternating: the rule
    (GEMM only where it measured faster) should leave no preset slower."""
    out = {}
    for preset in KERNEL_PRESETS:
        ts = {k: Trainer(load_preset(preset, [*COMMON, f"train.kernels={k}"]), tmp / f"kp-{preset}-{k}") for k in ("native", "auto")}
        med = alternate({k: t.train_step for k, t in ts.items()}, rounds, steps, warmup)
        switched = sum(type(m).__name__.startswith("Gemm") for t in ts.values() for net in t.nets.values() for m in net.modules())
        out[preset] = {"native_ms": med["native"] * 1e3, "auto_ms": med["auto"] * 1e3, "speedup": med["native"] / med["auto"],
                       "precision": ts["auto"].precision, "switched": switched}
    return out


def bench_families(rounds: int, steps: int, warmup: int, tmp: Path) -> dict:
    """Seconds per thousand real images of the style-based and progressive presets, and of the like-for-like plain
    loop (same networks, loss and regularizers, precision, memory format, fused Adam) where one writes it out; the two
    alternate in every round."""
    out = {}
    for label, (preset, extra, with_plain) in FAMILIES.items():
        cfg = load_preset(preset, COMMON + extra)
        t = Trainer(cfg, tmp / f"fam-{len(out)}")
        loops = {"gankit": t.train_step, **({"plain": PlainLoop(t, tuned=True).step} if with_plain else {})}
        med = alternate(loops, rounds, steps, warmup)
        images = cfg.train.batch_size * cfg.train.n_critic
        row = {"batch": cfg.train.batch_size, "params_G": sum(p.numel() for p in t.nets["G"].parameters()), "precision": t.precision}
        for k in loops:
            row[f"{k}_s_per_kimg"], row[f"{k}_img_s"] = med[k] / images * 1000, images / med[k]
        if with_plain:
            row["ratio"] = row["gankit_img_s"] / row["plain_img_s"]
        out[label] = row
    return out


def bench_eval(tmp: Path, quick: bool, rounds: int = 3) -> dict:
    """Sampling G_ema and feature extraction, images per second (inference mode, batched), each against its plain
    equivalent: the same network called by hand on the same chunks under ``torch.inference_mode`` (for features: the
    extractor's own function, without gankit's float64 NumPy result); the two alternate in ``rounds`` rounds."""
    from gankit.metrics import inception
    from gankit.metrics.features import Extractor, build_extractor

    def versus(gankit_fn, plain_fn, n: int, batch: int) -> dict:  # noqa: ANN001
        gankit_fn(), plain_fn()  # warm-up
        tg, tp = [], []
        for _ in range(rounds):
            tp.append(time_steps(plain_fn, 1))
            tg.append(time_steps(gankit_fn, 1))
        g, p = n / statistics.median(tg), n / statistics.median(tp)
        return {"img_s": g, "plain_img_s": p, "ratio": g / p, "batch": batch}

    def by_hand(fn, x: torch.Tensor, batch: int):  # noqa: ANN001, ANN202 - what a user writes
        with torch.inference_mode():
            return torch.cat([fn(chunk) for chunk in x.split(batch)])

    out = {}
    t = Trainer(load_preset("digits", COMMON), tmp / "eval")
    z = torch.randn(2048, 100)
    G = copy.deepcopy(t.nets["G_ema"]).to(memory_format=torch.contiguous_format)
    use_gemm_kernels(G, on=False)
    out["sample G_ema (digits DCGAN, 32×32)"] = versus(lambda: t.sample((z, None)), lambda: by_hand(G, z, 512), len(z), 512)
    x = t.sample((z, None))
    ext = build_extractor("digits-cnn")
    out["digits-cnn features + classes"] = versus(lambda: ext(x), lambda: by_hand(lambda b: ext.fn(b)[0], x, ext.batch_size),
                                                  len(x), ext.batch_size)
    net = inception.FIDInceptionV3().eval()  # random weights: the same work as the real network
    inc = Extractor("inception-v3-fid (random weights)", lambda b: (net(b)["pool3"], None), batch_size=64)
    n = 128 if quick else 256
    out["inception-v3-fid pool3 (299×299)"] = versus(lambda: inc(x[:n]), lambda: by_hand(lambda b: net(b)["pool3"], x[:n], 64), n, 64)
    return out


STYLE_DATA = ["data.name=digits", "data.path=null", "data.channels=3", "eval.metrics=[]"]
# StyleGAN2-ADA's "auto" configuration at 128² (its README's s/kimg table): mapping 2 layers, channels 128 at 128²
# doubling to 512, batch 32, R1 γ = 0.0002·128²/32 = 0.1, G_ema 10 kimg; and its paper256 configuration (the preset).
STYLE128 = [*STYLE_DATA, "data.resolution=128", "model.mapping_layers=2", "model.g_width=128", "model.d_width=128", "train.batch_size=32",
            "reg.r1=0.1", "train.ema_kimg=10"]
STYLE256 = [*STYLE_DATA, "data.resolution=256"]
OFF = ["augment.ada=none", "reg.pl=0"]
GPU_ROWS = {  # label -> (preset, overrides, whether the plain loop runs beside it)
    "dcgan32, bf16": ("digits", [*MODELS["dcgan32"][1], "train.precision=bf16"], True),
    "dcgan32, tf32": ("digits", [*MODELS["dcgan32"][1], "train.precision=tf32"], True),
    "dcgan32, bf16, batch 256": ("digits", [*MODELS["dcgan32"][1], "train.precision=bf16", "train.batch_size=256"], True),
    "stylegan2 128² (auto config; ADA, path length), bf16": ("stylegan2-256", [*STYLE128, "train.precision=bf16"], False),
    "stylegan2 128², ADA and path length off, bf16": ("stylegan2-256", [*STYLE128, *OFF, "train.precision=bf16"], True),
    "stylegan2 128², ADA and path length off, tf32": ("stylegan2-256", [*STYLE128, *OFF, "train.precision=tf32"], True),
    "stylegan2 256² (paper256; ADA, path length), bf16": ("stylegan2-256", [*STYLE256, "train.precision=bf16"], False),
    "stylegan2 256², ADA and path length off, bf16": ("stylegan2-256", [*STYLE256, *OFF, "train.precision=bf16"], True),
}


def bench_gpu(rounds: int, steps: int, warmup: int, tmp: Path, device: str = "cuda", rows: dict | None = None) -> dict:
    """The same comparisons on a GPU: gankit against the like-for-like plain loop (same precision: bf16 autocast, or
    TF32 with fp32 tensors; channels_last, fused Adam), s/kimg of StyleGAN2 at 128² and 256², utilization against
    the GPU's measured bf16 / TF32 GEMM peaks. ``device="cpu"`` runs the same code at whatever sizes ``rows`` gives
    (the test does, with tiny rows)."""
    n = 8192 if device == "cuda" else 512
    peak = {"bf16": gemm_peak_gflops(n, dtype=torch.bfloat16, device=device)}
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        peak["tf32"] = gemm_peak_gflops(n, device=device)
    else:  # fp32 rows against the fp32 peak: a CPU without native bf16 (AVX2) multiplies bf16 far slower than fp32
        peak["fp32"] = gemm_peak_gflops(n, device=device)
    out = {"device": torch.cuda.get_device_name() if device == "cuda" else device, "peak_gflops": peak, "rows": {}}
    for label, (preset, extra, with_plain) in (rows or GPU_ROWS).items():
        cfg = load_preset(preset, [*COMMON, *extra, f"train.device={device}"])
        t = Trainer(cfg, tmp / f"gpu-{len(out['rows'])}")
        loops = {"gankit": t.train_step, **({"plain": PlainLoop(t, tuned=True).step} if with_plain else {})}
        flops = count_flops(t.train_step) or float("nan")  # a step without the lazy penalties
        med = alternate(loops, rounds, steps, warmup)
        images = cfg.train.batch_size * cfg.train.n_critic
        ran = peak.get(t.precision, peak["bf16"])
        out["rows"][label] = {"batch": cfg.train.batch_size, "precision": t.precision, "gankit_img_s": images / med["gankit"],
                              "s_per_kimg": med["gankit"] / images * 1000, "gflop_per_step": flops / 1e9,
                              "utilization": flops / med["gankit"] / (ran * 1e9),
                              **({"plain_img_s": images / med["plain"], "ratio": med["plain"] / med["gankit"]} if with_plain else {})}
        print(f"gpu {label}: {json.dumps(out['rows'][label])}", file=sys.stderr)
        del t, loops
        if device == "cuda":
            torch.cuda.empty_cache()
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


def merged_note(result: dict) -> str:
    """Which tables an earlier run measured (``--merge``), grouped by run."""
    runs: dict[str, list[str]] = {}
    for section, date in result.get("from", {}).items():
        runs.setdefault(date, []).append(section)
    if not runs:
        return ""
    return " Tables kept from earlier runs (`--merge`): " + "; ".join(f"{', '.join(v)} from the run of {k}" for k, v in sorted(runs.items())) + "."


def findings(result: dict) -> list[str]:
    """The page's summary, computed from the tables of this result (issue 24's goals: dcgan32 at batch 64)."""
    out = []
    m = result.get("models", {}).get("dcgan32", {})
    if "tuned_ratio" in m:
        line = (f"- **dcgan32, batch 64, {m['precision']}**: gankit {m['gankit_img_s']:.0f} img/s = **{m['tuned_ratio']:.2f}×** the "
                f"same-precision plain loop ({m['tuned_img_s']:.0f} img/s) and {m['ratio']:.2f}× the fp32 one")
        opts = result.get("options", {}).get("options", {})
        parts = [f"{v['ratio']:.2f}× with {k.split(' (')[0]}" for k, v in opts.items()
                 if k.startswith(("kernels native", "reuse_fake off, kernels native", "the whole loop turn"))]
        out.append(line + (f" ({'; '.join(parts)}; same-run ratios of the options table)." if parts else "."))
        out.append(f"- **Utilization**: {m['utilization']:.0%} of the bf16 GEMM peak for gankit's step (the plain loop "
                   f"{m['tuned_utilization']:.0%}); the goal of 50 % is not reached.")
    k = result.get("kernels")
    if k:
        peak = result["gemm_peak_bf16_gflops"]
        big = [r for r in k["rows"] if r["gflop"] >= 0.5]
        span_of = lambda i, key: [r["gflop"] / r[key][i] * 1e3 / peak for r in big]  # noqa: E731
        fmt = lambda xs: f"{min(xs):.0%}–{max(xs):.0%}"  # noqa: E731
        out.append(f"- **What holds it back** (Kernels table, the {len(big)} layers of ≥ 0.5 GFLOP): their forward passes run at "
                   f"{fmt(span_of(0, 'native_ms'))} of the bf16 peak and their input gradients at {fmt(span_of(1, 'native_ms'))}, "
                   f"but oneDNN's weight gradients at {fmt(span_of(2, 'native_ms'))}; gankit's GEMM path raises those to "
                   f"{fmt(span_of(2, 'gankit_ms'))}.")
        if all("per_step" in r for r in k["rows"]) and "gankit_s_per_step" in m:
            conv = lambda key, w=None: sum(  # noqa: E731 - ms per step of the convolutions at their isolated speeds
                n * t for r in k["rows"] for n, t in zip(r["per_step"], [*r[key][:2], r[key][0] if w else r[key][2]]))
            step_ms = m["gankit_s_per_step"] * 1e3
            ideal = conv("gankit_ms", w="forward rate")
            best = m["flops_per_step"] / ((step_ms - conv("gankit_ms") + ideal) / 1e3) / (peak * 1e9)
            target_ms, rest_ms = m["flops_per_step"] / (0.5 * peak * 1e9) * 1e3, step_ms - conv("gankit_ms")
            out.append(f"- **By how much**: counted per step (each layer's forward passes, input and weight gradients in one "
                       f"dcgan32 step) at their isolated speeds, the convolutions take {conv('native_ms'):.1f} ms with oneDNN and "
                       f"{conv('gankit_ms'):.1f} ms with gankit's kernels, of a {step_ms:.1f} ms step; the other "
                       f"{step_ms - conv('gankit_ms'):.1f} ms is memory-bound work (batch norm, activations, casts and copies, Adam, "
                       f"bookkeeping). Were every weight gradient as fast as its layer's forward pass, the convolutions would take "
                       f"{ideal:.1f} ms and the step would reach {best:.0%} of the peak, because on these small maps (4×4 to 16×16, "
                       f"batch 64) the forward and input-gradient kernels themselves run at "
                       f"{fmt(span_of(0, 'native_ms') + span_of(1, 'native_ms'))} of it. 50 % would need the step in "
                       f"{target_ms:.1f} ms: with the memory-bound part as it is, every convolution at "
                       f"{m['flops_per_step'] / 1e9 / ((target_ms - rest_ms) / 1e3) / peak:.0%} of the peak.")
    pr = result.get("profile")
    if pr and len(pr["ops"][0]) == 4:
        conv = sum(g for name, g, *_ in pr["ops"] if any(w in name for w in ("conv", "aten::mm", "addmm")))
        out.append(f"- **Where the rest goes** (profile, gankit): convolutions and matrix products take {conv:.1f} of "
                   f"{pr['total_ms']['gankit']:.1f} profiled ms per step among the top ops; batch norm, activations, copies "
                   "(weight casts to bf16, the GEMM's patch matrices), Adam and the step's own bookkeeping the rest.")
    return ["## Findings", "", *out, ""] if out else []


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
        *findings(result),
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
        if isinstance(o["plain_img_s"], dict):
            plain = ", ".join(f"{k} {v:.0f} img/s" for k, v in o["plain_img_s"].items())
            lines += ["", "## Training options on dcgan32", "",
                      "Each option alone on top of gankit's defaults, alternating in every round with the like-for-like plain loops "
                      f"(channels_last, fused Adam; {plain}); `ratio` is against the plain loop of the precision the row runs in "
                      f"(warm-up, including any compilation: {o['warmup_s']:.0f} s). On by default: fake-batch reuse (G's update "
                      "reuses the D update's fake batch: same G weights, so the same gradients, one G forward pass fewer), "
                      "channels_last for image models, fused Adam, `train.precision=auto` (bf16 autocast for image models where "
                      "the hardware computes bf16 natively: this CPU has AVX-512 BF16 and AMX; fp32 otherwise) and "
                      "`train.kernels=auto` (in bf16 on the CPU, convolution weight gradients as one GEMM where that is faster, "
                      "see Kernels below). torch.compile is opt-in (it costs the warm-up above and needs a C++ compiler).", "",
                      "| option | precision | img/s | ratio to same-precision plain |", "|---|---|---:|---:|"]
            lines += [f"| {k} | {v['precision']} | {v['img_s']:.0f} | {v['ratio']:.2f} |" for k, v in o["options"].items()]
        else:  # a table kept from a run before the same-precision plain loops
            lines += ["", "## Training options on dcgan32", "", f"Each option against the fp32 plain loop ({o['plain_img_s']:.0f} img/s).", "",
                      "| option | img/s | ratio to plain |", "|---|---:|---:|"]
            lines += [f"| {k} | {v['img_s']:.0f} | {v['ratio']:.2f} |" for k, v in o["options"].items()]
    if "batches" in result:
        peak = result["gemm_peak_bf16_gflops"]
        lines += _section("Batch size on dcgan32",
                          "gankit's defaults and the like-for-like plain loop at each batch size, alternating in every round. More "
                          "work per step raises utilization; the batch is a protocol choice (it changes the optimization), so the "
                          "main table keeps DCGAN's 64. Utilization: gankit's FLOPs per step ÷ step time ÷ the bf16 GEMM peak.",
                          ["batch", "plain img/s", "gankit img/s", "ratio", "GFLOP/step", "utilization"],
                          [[b, f"{v['plain_img_s']:.0f}", f"{v['gankit_img_s']:.0f}", f"{v['ratio']:.2f}", f"{v['gflop_per_step']:.1f}",
                            f"{v['gflop_per_step'] / v['gankit_s_per_step'] / peak:.0%}"] for b, v in result["batches"].items()])
    if "profile" in result:
        pr = result["profile"]
        cell = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
        if "ranges" in pr:
            lines += _section("Where the time goes: dcgan32's phases under torch.profiler",
                              f"Inclusive CPU time per step (ms) of each part of the step, over {pr['steps']} steps after warm-up, from "
                              "the loop's own `torch.profiler` ranges (`gankit.<phase>.<part>`; free when no profiler runs): gankit "
                              "with its default kernels, with `train.kernels=native`, and the like-for-like plain loop with the "
                              "same ranges. `forward` includes the loss; D's forward includes G's forward pass for the fake batch; "
                              "`grad_norm` is gankit's per-step gradient-norm statistic (the health checks and the divergence guard "
                              "read it); `—`: the loop has no such part.",
                              ["part", "gankit ms/step", "gankit, native kernels", "plain ms/step"],
                              [[f"`{k}`", *map(cell, v)] for k, *v in ((r[0], *r[1:]) for r in pr["ranges"])])
        native = len(pr["ops"][0]) == 4
        lines += _section("Where the time goes: dcgan32's ops under torch.profiler",
                          f"Self CPU time per step (ms) of the ops that take the most in any loop, over {pr['steps']} steps after "
                          "warm-up: gankit's step " + ("(default kernels, and `train.kernels=native`) " if native else "")
                          + "against the like-for-like plain loop's (bf16, channels_last, fused Adam). The profiler adds its own "
                          "overhead to every op, so totals exceed the timed steps above; the split between ops is what to read. "
                          "Totals: " + ", ".join(f"{k} {v:.1f} ms" for k, v in pr["total_ms"].items()) + ".",
                          ["op", "gankit ms/step", *(["gankit, native kernels"] if native else []), "plain ms/step"],
                          [[f"`{k}`", *(f"{v:.2f}" for v in vals)] for k, *vals in pr["ops"]])
    if "kernels" in result:
        peak = result["gemm_peak_bf16_gflops"]
        rate = lambda gflop, ms: f"{gflop / ms:.2f} ({gflop / ms * 1e3 / peak:.0%})"  # noqa: E731 - TFLOP/s and share of peak
        lines += _section("Kernels: dcgan32's convolutions alone (bf16, channels_last, batch 64)",
                          "Each layer of the training step timed alone: its forward pass, input gradient and weight gradient, in "
                          "TFLOP/s and as a share of the bf16 GEMM peak above, with PyTorch's kernels (oneDNN) and with the path "
                          "`train.kernels=auto` takes (`GEMM`: the weight gradient as one patch-matrix product; `fully connected`: "
                          "a 4×4 layer of one pixel as a matrix product; `oneDNN`: unchanged). Backward times are "
                          f"(forward + backward) − forward, medians of {result['kernels']['reps']}; the input gradient is timed with "
                          "the layer's weights frozen (as through D in G's update), the weight gradient without an input gradient. The weight gradient is the kernel that holds "
                          "the step back: oneDNN computes it at a fraction of the rate of the forward pass on the same shapes.",
                          ["layer", "input", "GFLOP", "path", "forward oneDNN", "input grad oneDNN", "weight grad oneDNN",
                           "weight grad gankit", "layer fwd+bwd ms oneDNN / gankit"],
                          [[r["layer"], r["input"], f"{r['gflop']:.3f}", r["path"], rate(r["gflop"], r["native_ms"][0]),
                            rate(r["gflop"], r["native_ms"][1]), rate(r["gflop"], r["native_ms"][2]), rate(r["gflop"], r["gankit_ms"][2]),
                            f"{sum(r['native_ms']):.2f} / {sum(r['gankit_ms']):.2f}"] for r in result["kernels"]["rows"]])
    if "kernel_presets" in result:
        lines += _section("train.kernels across the presets",
                          "Each shipped image preset's training step with `train.kernels=auto` (gankit's GEMM paths where they "
                          "pay) and `native` (PyTorch's kernels), alternating in every round, at the preset's own batch and "
                          "precision. `layers switched`: convolutions of the preset's networks that may take a GEMM path (each "
                          "call still decides by its shapes).",
                          ["preset", "precision", "layers switched", "native ms/step", "auto ms/step", "speed-up"],
                          [[k, v["precision"], v["switched"], f"{v['native_ms']:.1f}", f"{v['auto_ms']:.1f}", f"{v['speedup']:.2f}"]
                           for k, v in result["kernel_presets"].items()])
    if "families" in result:
        fam = result["families"]
        if all("gankit_s_per_kimg" in v for v in fam.values()):
            lines += _section("Style-based and progressive presets against a plain loop (CPU)",
                              "Seconds per thousand real images shown to D at each preset's own batch, precision and regularization "
                              "schedule (lazy R1 γ/2 every 16 D updates for StyleGAN2, WGAN-GP and drift for ProGAN; ADA and path "
                              "length where named), median over rounds in which gankit and the like-for-like plain loop alternate. "
                              "The plain loop writes out the same losses and penalties around copies of the same networks (bf16 "
                              "autocast, channels_last, fused Adam); it has no ADA or path-length term, so those rows are gankit's "
                              "alone. `ratio` = gankit img/s ÷ plain img/s.",
                              ["preset", "batch", "precision", "G params", "plain s/kimg", "gankit s/kimg", "gankit img/s", "ratio"],
                              [[k, v["batch"], v["precision"], f"{v['params_G'] / 1e6:.2f} M",
                                f"{v['plain_s_per_kimg']:.2f}" if "plain_s_per_kimg" in v else "—", f"{v['gankit_s_per_kimg']:.2f}",
                                f"{v['gankit_img_s']:.0f}", f"{v['ratio']:.2f}" if "ratio" in v else "—"] for k, v in fam.items()])
        else:  # a table kept from a run before the plain rows
            lines += _section("Style-based and progressive presets (CPU)",
                              "Seconds per thousand real images shown to D at each preset's own batch and regularization schedule "
                              "(lazy R1, ADA; path length where named), median step time after warm-up.",
                              ["preset", "batch", "G params", "img/s", "s/kimg"],
                              [[k, v["batch"], f"{v['params_G'] / 1e6:.2f} M", f"{v['img_s']:.0f}", f"{v['s_per_kimg']:.1f}"]
                               for k, v in fam.items()])
    if "eval" in result:
        ev = result["eval"]
        with_plain = all("plain_img_s" in v for v in ev.values())
        lines += _section("Evaluation throughput",
                          "Inference mode, batched in chunks (the batch column); images per second including the transfer to NumPy "
                          "float64. Inception-v3 runs with random weights of the real shapes (the same work as the real network)."
                          + (" The plain equivalent calls the same network by hand on the same chunks under `torch.inference_mode` "
                             "(fp32, contiguous) and keeps the torch tensor; `ratio` = gankit ÷ plain." if with_plain else ""),
                          ["stage", "batch", *(["plain img/s"] if with_plain else []), "img/s", *(["ratio"] if with_plain else [])],
                          [[k, v["batch"], *([f"{v['plain_img_s']:.0f}"] if with_plain else []), f"{v['img_s']:.0f}",
                            *([f"{v['ratio']:.2f}"] if with_plain else [])] for k, v in ev.items()])
    if "ddp" in result:
        lines += _section("Data parallel on this machine (gloo, torchrun)",
                          "dcgan32 with the global batch of 64 split over the processes (gradients all-reduced every update); "
                          "the same two cores either way.", ["layout", "img/s"],
                          [[k, f"{v['img_s']:.0f}" if "img_s" in v else f"failed: {v['error']}"] for k, v in result["ddp"].items()])
    if "gpu" in result:
        g = result["gpu"]
        peaks = ", ".join(f"{k} {v / 1e3:.0f} TFLOP/s" for k, v in g["peak_gflops"].items())
        lines += _section(f"GPU: {g['device']}",
                          f"The same comparisons on the GPU (measured GEMM peaks, 8192²: {peaks}): gankit against the like-for-like "
                          "plain loop at the same precision (bf16 autocast, or TF32 with fp32 tensors; channels_last, fused Adam), "
                          "alternating in every round; StyleGAN2 at 128² in StyleGAN2-ADA's auto configuration (batch 32) and at "
                          "256² in its paper256 configuration (batch 64), on the bundled digits upscaled to 3 channels (the work "
                          "per image is the resolution's). StyleGAN2-ADA's README reports 12.8 s/kimg for 128² on one V100. "
                          "Utilization: gankit's FLOPs per step (torch.utils.flop_counter, on a step without the lazy penalties, "
                          "which it cannot follow) ÷ step time ÷ the peak of the precision that ran.",
                          ["configuration", "batch", "precision", "plain img/s", "gankit img/s", "ratio", "s/kimg", "utilization"],
                          [[k, v["batch"], v["precision"], f"{v['plain_img_s']:.0f}" if "plain_img_s" in v else "—",
                            f"{v['gankit_img_s']:.0f}", f"{v['ratio']:.2f}" if "ratio" in v else "—", f"{v['s_per_kimg']:.2f}",
                            f"{v['utilization']:.0%}"] for k, v in g["rows"].items()])
    lines += ["", f"Load average at start / end: {result['load'][0]:.2f} / {result['load'][1]:.2f}."
              + merged_note(result), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and steps (a few minutes)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--sections", default="train,options,batches,profile,kernels,kernel-presets,families,eval,ddp,gpu", help="which tables to measure")
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
        if "batches" in sections:
            extra["batches"] = bench_batches(rounds, steps, warmup, Path(tmp))
            print(f"batches: {json.dumps(extra['batches'])}", file=sys.stderr)
        if "kernel-presets" in sections:
            extra["kernel_presets"] = bench_kernel_presets(rounds, steps, warmup, Path(tmp))
            print(f"kernel presets: {json.dumps(extra['kernel_presets'])}", file=sys.stderr)
        if "profile" in sections:
            extra["profile"] = bench_profile(steps, warmup, Path(tmp))
        if "kernels" in sections:
            extra["kernels"] = bench_kernels(Path(tmp))
        if "families" in sections:
            extra["families"] = bench_families(rounds, steps, warmup, Path(tmp))
            print(f"families: {json.dumps(extra['families'])}", file=sys.stderr)
        if "eval" in sections:
            extra["eval"] = bench_eval(Path(tmp), args.quick)
            print(f"eval: {json.dumps(extra['eval'])}", file=sys.stderr)
    if "gpu" in sections:
        if torch.cuda.is_available():
            with tempfile.TemporaryDirectory() as tmp:
                extra["gpu"] = bench_gpu(rounds, steps, warmup, Path(tmp))
        else:  # nothing to measure here; a --merge keeps an earlier GPU table
            print("gpu: no CUDA device on this machine; section skipped", file=sys.stderr)
    if "ddp" in sections:
        extra["ddp"] = bench_ddp(steps * rounds, warmup)
        print(f"ddp: {json.dumps(extra['ddp'])}", file=sys.stderr)
    result = {"date": dt.datetime.now().isoformat(timespec="seconds"), "quick": args.quick, "rounds": rounds, "steps": steps, **extra,
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", "threads": torch.get_num_threads(),
              "gemm_peak_gflops": peak, "gemm_peak_bf16_gflops": peak_bf16, "models": models, "load": (load0, os.getloadavg()[0])}
    if args.merge:
        earlier = json.loads(Path(args.merge).read_text())
        kept = [k for k in ("options", "batches", "profile", "kernels", "kernel_presets", "families", "eval", "ddp", "gpu") if k in earlier and k not in result]
        if not result["models"] and earlier.get("models"):  # the main table, with the peak its utilization used
            kept.insert(0, "models")
            result["gemm_peak_gflops"] = earlier["gemm_peak_gflops"]
            result["gemm_peak_bf16_gflops"] = earlier.get("gemm_peak_bf16_gflops")
        result["from"] = {}  # section -> the run that measured it
        for k in kept:
            result[k] = earlier[k]
            result["from"][k] = earlier.get("from", {}).get(k, earlier["date"])
    write_markdown(Path(args.out), result)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
