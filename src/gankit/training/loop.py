"""The training loop: the task's phases, the moving averages, then the hooks (log, samples, checkpoint, ...).

Read it top to bottom: :meth:`Trainer.__init__` builds everything from the config, :meth:`Trainer.run` is the loop.
What a step computes belongs to the task (gankit.tasks: its networks, phases and their losses); periodic work
belongs to hooks (training/hooks.py). The loop knows no network by name: it moves, averages, checkpoints, rolls
back, syncs and compiles whatever the task names. Counting: ``step`` is one update of the task's main phase (a GAN's
G update); the other phases' updates (a GAN's ``d_updates``) and ``images_seen`` (real samples drawn) apart.
"""
from __future__ import annotations

import contextlib
import copy
import json
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..config import Config
from ..data import build_dataset, info_of
from ..data.batches import make_batches
from ..errors import ConfigError
from ..io.checkpoint import latest_checkpoint, load_checkpoint
from ..io.export import export_generator
from ..io.rundir import MetricsLog
from ..tasks import TASKS, Clock, Phase
from ..types import schema
from .distributed import check_batch, from_environment
from .ema import EMA, ema_beta
from .evaluation import eval_hooks
from .health import DivergenceGuard, HealthHook
from .hooks import CheckpointHook, LogHook, SampleHook
from .kernels import select_kernels
from .performance import apply_lr_schedule, lr_factor, precision_context, resolve_precision, span
from .probes import probe_hooks
from .snapshots import snapshot_hooks
from .tensorboard import tensorboard_hooks


class Interrupted(Exception):
    """SIGINT / SIGTERM arrived; the step was finished and a checkpoint written (CLI exit code 128 + signal)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device: {name!r} but no CUDA device is available here; use train.device=cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(cfg: Any, params: Any, lr: float) -> torch.optim.Optimizer:
    """Adam(β1, β2), RMSprop or SGD(momentum=β1) with the given learning rate and ``train.weight_decay`` (an L2 term
    added to the gradient, as torch.optim's weight_decay; 0 by default).

    Adam and SGD use PyTorch's fused kernels (one kernel over all parameters; on this project's 2-core CPU a DCGAN's
    Adam step takes 1.6 ms fused against 6.0 ms with foreach kernels), RMSprop the foreach ones.
    """
    params = list(params)
    wd = cfg.weight_decay
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), weight_decay=wd, fused=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd, foreach=True)
    return torch.optim.SGD(params, lr=lr, momentum=cfg.beta1, weight_decay=wd, fused=True)


def grad_norm(modules: list[nn.Module] | list[nn.Parameter]) -> torch.Tensor:
    """L2 norm of all gradients of ``modules`` (or of a list of parameters; a 0-d tensor; no device sync)."""
    grads = [p.grad for p in _params(modules) if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def _params(modules: list[nn.Module] | list[nn.Parameter]) -> list[nn.Parameter]:
    return [q for m in modules for q in ((m,) if isinstance(m, torch.Tensor) else m.parameters())]


def clip_grads(modules: list[nn.Module] | list[nn.Parameter], norm: torch.Tensor, max_norm: float) -> None:
    """Scale the gradients of ``modules`` (or of a list of parameters) by min(1, max_norm / norm) (``norm``: their
    global L2 norm; as torch.nn.utils.clip_grad_norm_, without a device sync)."""
    grads = [p.grad for p in _params(modules) if p.grad is not None]
    if grads:
        torch._foreach_mul_(grads, torch.clamp(max_norm / (norm + 1e-6), max=1.0).to(grads[0].device))


class Trainer:
    """One run: data, the task (networks, phases), optimizers, hooks and counters.

    Args:
        cfg: the resolved, validated config.
        run_dir: the run directory (created; must be empty unless resuming).
        resume: continue from the run's latest complete checkpoint.
    """

    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        tc = cfg.train
        if tc.threads:
            torch.set_num_threads(tc.threads)
        self.dist = from_environment(tc.device)  # rank 0 of 1 unless launched by torchrun
        check_batch(tc.batch_size, self.dist)
        self.device = resolve_device(tc.device if self.dist.world == 1 or self.device_is_cpu(tc.device) else f"cuda:{self.dist.local_rank}")
        seed_everything(tc.seed)

        # Data: an endless stream of batches on the device, and what the task needs to know about it.
        data = build_dataset(cfg.data)
        self.info = info_of(data, cfg.data.name)
        self.schema = schema(self.info.schema)
        shard = (self.dist.rank, self.dist.world)
        self.batches = make_batches(data, tc.batch_size, self.device, tc.seed, shard)

        # The task: its networks on the device, their moving averages (e.g. G_ema), optimizers and phases.
        self.task = TASKS.get(cfg.task.name, "task.name")(cfg, self.info, shard)
        self.nets = self.task.networks
        images = self.schema.name == "image"
        self.memory_format = torch.channels_last if tc.channels_last and images else torch.contiguous_format
        for name, net in self.nets.items():
            self.nets[name] = net.to(self.device, memory_format=self.memory_format) if images else net.to(self.device)
        self.precision = resolve_precision(tc.precision, self.device, images)
        select_kernels(self.nets, list(self.nets), tc.kernels, self.precision, self.device)
        for avg, src in self.task.ema.items():
            self.nets[avg] = copy.deepcopy(self.nets[src]).eval().requires_grad_(False)
        self.optimizers = {name: make_optimizer(tc, params, lr) for name, (params, lr) in self.task.param_groups().items()}
        self.autocast, self.scalers = precision_context(self.precision, self.device, list(self.optimizers))
        self.task.bind(self.optimizers, self.device)
        if tc.compile:  # state-dict keys are unchanged by compiling in place
            for name in self.task.compile_targets():
                self.nets[name].compile()

        self.step = self.images_seen = 0
        self.updates = {p.name: 0 for p in self.task.phases}  # per phase; the main phase's count is the step
        self.batch: Any = None  # the last batch drawn (phases with data="last" reuse it)
        self._params: dict[str, list[nn.Parameter]] = {}  # per phase, for the gradient norm
        self._ema = [EMA(self.nets[avg], self.nets[src]) for avg, src in self.task.ema.items()]
        self._wall_before, self._t_start = 0.0, None
        self.last_log: dict[str, Any] = {}
        if self.dist.is_main:  # only rank 0 writes
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.run_dir / "metrics.jsonl" if self.dist.is_main else None)
        # Periodic work, in order: log, health, evaluate, samples, checkpoint (which saves the others' state),
        # toy snapshots, TensorBoard, adversarial probes.
        self.log_hook = LogHook(tc.log_every)
        self.guard = DivergenceGuard(self)
        self.health = HealthHook(self) if cfg.health.monitor else None
        self.hooks = [self.log_hook, *([self.health] if self.health else []), *eval_hooks(self), SampleHook(tc.sample_every, self),
                      CheckpointHook(tc.checkpoint_every), *snapshot_hooks(self), *tensorboard_hooks(self), *probe_hooks(self),
                      *self.task.hooks(self)]
        if not self.dist.is_main:
            self.hooks = []
        self.should_stop = False  # set by a hook (early stopping) to end the run after this step
        if resume:
            self._restore()
        elif self.dist.is_main:
            (self.run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))

    # ------------------------------------------------------------------ the loop

    def run(self) -> dict[str, Any]:
        tc = self.cfg.train
        self.log.write("start", step=self.step, device=str(self.device), precision=self.precision, resumed=self.step > 0,
                       task=self.task.name, **({"notes": self.task.notes} if self.task.notes else {}), **{f"params_{k}": sum(p.numel() for p in self.nets[k].parameters()) for k in self.task.trained})
        self.guard.start(self)
        stop = _StopFlag()
        self._t_start = time.perf_counter()
        bar = tqdm(total=tc.steps, initial=self.step, disable=not (tc.progress and self.dist.is_main), unit="step", dynamic_ncols=True)
        with stop.installed():
            while self.step < tc.steps:
                if not self.iteration():
                    continue
                bar.update(1)
                if self.step % 10 == 0 or self.step == tc.steps:
                    bar.set_postfix_str(_postfix(self.last_log, self.task.shown))
                out_of_time = bool(tc.budget_s) and self.wall_time() >= tc.budget_s
                if self.dist.any(stop.signal is not None or self.should_stop or out_of_time, self.device):
                    break
        bar.close()
        self._wall_before, self._t_start = self.wall_time(), None
        for hook in self.hooks:  # final samples and checkpoint (skipped where just written)
            if not hook.due(self):
                hook(self, final=True)
        if self.dist.is_main:
            self.export()
        self.dist.close()
        summary = {"step": self.step, "task": self.task.name, **self.counters(), "images_seen": self.images_seen, "wall_s": round(self._wall_before, 2),
                   "run_dir": str(self.run_dir), "rollbacks": self.guard.retries,
                   "health": self.health.summary() if self.health else {}, "early_stopped": self.should_stop,
                   "main_process": self.dist.is_main}
        self.log.write("end", **{k: v for k, v in summary.items() if k != "main_process"}, interrupted=stop.signal is not None)
        if stop.signal is not None:
            raise Interrupted(f"stopped by {signal.Signals(stop.signal).name} at step {self.step} (checkpoint written); "
                              f"resume with: gankit train --resume {self.run_dir}", stop.signal)
        return summary

    def iteration(self) -> bool:
        """One turn of :meth:`run`'s loop: a training step, the divergence guard (NaN/inf or an exploding output rolls
        back before anything is logged or saved: returns False), then the hooks (log, health, evaluation, samples,
        checkpoint; each decides whether it is due)."""
        stats = self.train_step()
        with span("gankit.guard"):
            if self.guard.check(self, stats):
                return False
        with span("gankit.hooks"):
            self.log_hook.accumulate(stats)
            for hook in self.hooks:
                hook(self)
        return True

    def train_step(self) -> dict[str, torch.Tensor]:
        """One step: each of the task's phases that is due, as often as it repeats, then the moving averages.
        Returns the step's statistics (averaged over processes, so every rank sees the same numbers)."""
        tc = self.cfg.train
        # 0. the learning-rate schedule; growing networks (ProGAN) set their resolution and fade-in from the images shown.
        if tc.lr_decay != "none":
            apply_lr_schedule(self.optimizers.values(), lr_factor(tc, self.step))
        for name in self.task.trained:
            if hasattr(self.nets[name], "progress"):
                self.nets[name].progress(self.images_seen)
        # 1. the phases (a GAN: n_critic D updates on fresh real batches, then one G update).
        stats: dict[str, torch.Tensor] = {}
        for phase in self.task.phases:
            if self.step % phase.every or (phase.active is not None and not phase.active(self.step)):
                continue
            for _ in range(phase.repeat):
                with span(f"gankit.{phase.name}.data"):
                    if phase.data == "fresh":
                        self.batch = self.next_batch()
                with span(f"gankit.{phase.name}.forward"), self.autocast():
                    loss, phase_stats = phase.loss(self.batch, Clock(self.step, self.updates[phase.name], self.images_seen))
                phase_stats[phase.grad_stat] = self._update(phase, loss)
                if phase.after is not None:
                    phase.after()  # constraints (weight clipping)
                self.updates[phase.name] += 1
                if phase.data == "fresh":
                    self.images_seen += tc.batch_size
            stats.update(phase_stats)  # the last update's statistics of each phase
        # 2. the moving averages (G_ema).
        with span("gankit.ema"):
            beta = ema_beta(tc.batch_size, self.images_seen, tc.ema_kimg, tc.ema_rampup)
            for ema in self._ema:
                ema.update(beta)
        self.step += 1
        with span("gankit.stats"):
            return self.dist.average(stats)

    def next_batch(self) -> Any:
        """The next batch of the data stream, image tensors in the networks' memory format."""
        batch = self.batches.next()
        if self.memory_format == torch.channels_last:
            batch["x"] = batch["x"].contiguous(memory_format=torch.channels_last)
        return batch

    def _update(self, phase: Phase, loss: torch.Tensor) -> torch.Tensor:
        """Backward, all-reduce, gradient norm, optimizer step (through the fp16 gradient scaler when there is one)."""
        opt = self.optimizers[phase.optimizer]
        nets = [self.nets[n] for n in phase.networks]
        if phase.name not in self._params:  # the phase's parameters, listed once (the same tensors all run long)
            self._params[phase.name] = _params(nets)
        params = self._params[phase.name]
        opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(phase.optimizer)
        with span(f"gankit.{phase.name}.backward"):
            (loss if scaler is None else scaler.scale(loss)).backward()
            for net in nets:
                self.dist.sync_grads(net)
        with span(f"gankit.{phase.name}.grad_norm"):
            if scaler is not None:
                scaler.unscale_(opt)
            norm = grad_norm(params)
            if phase.clip:
                clip_grads(params, norm, phase.clip)
        with span(f"gankit.{phase.name}.optimizer"):
            if scaler is None:
                opt.step()
            else:
                scaler.step(opt)  # skipped when the scaled gradients overflowed
                scaler.update()
        return norm

    # ------------------------------------------------------------------ helpers used by hooks and the API

    def sample(self, latents: tuple, batch: int = 512) -> torch.Tensor:
        """The averaged network's samples of fixed ``latents`` (from ``task.latents``): N×... in data space, on CPU."""
        return self.task.decode(latents, batch)

    def counters(self) -> dict[str, int]:
        """The update counts of the phases that name one (a GAN's ``d_updates``)."""
        return {p.counter: self.updates[p.name] for p in self.task.phases if p.counter}

    def set_counters(self, step: int, counters: dict[str, int], images_seen: int) -> None:
        self.step, self.images_seen = step, images_seen
        for p in self.task.phases:
            self.updates[p.name] = counters.get(p.counter, 0) if p.counter else step

    @staticmethod
    def device_is_cpu(name: str) -> bool:
        return name == "cpu" or (name == "auto" and not torch.cuda.is_available())

    def networks(self) -> dict[str, nn.Module]:
        return dict(self.nets)

    def wall_time(self) -> float:
        """Seconds spent in the loop so far, over all resumed segments."""
        running = time.perf_counter() - self._t_start if self._t_start is not None else 0.0
        return self._wall_before + running

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready counters and data order (networks, optimizers and RNGs are saved by the checkpoint)."""
        hooks = {type(h).__name__: h.state_dict() for h in [*self.hooks, self.guard] if hasattr(h, "state_dict")}
        return {**self.counters(), "images_seen": self.images_seen, "wall_s": self.wall_time(),
                "batches": self.batches.state_dict(), "hooks": hooks,
                "objective": self.task.state_dict(),  # the task's state (its key predates tasks: older checkpoints resume)
                "scalers": {k: {n: float(v) if isinstance(v, float) else v for n, v in sc.state_dict().items()}
                            for k, sc in self.scalers.items()}}

    def export(self, out: Path | None = None, extra: dict[str, Any] | None = None) -> Path:
        """RUN/generator/ (or ``out``): config.json + model.safetensors of the task's sampling network (G_ema), with its
        task, family and constructor arguments: enough to sample without the run config."""
        network, module, kwargs = self.task.export_spec()
        meta = {"step": self.step, **self.task.export_meta(), **(extra if extra is not None else {"run_config": self.cfg.to_dict()})}
        return export_generator(module, self.cfg.model.name, kwargs, self.info.to_dict(), out or self.run_dir / "generator",
                                extra=meta, task=self.task.name, network=network)

    def _restore(self) -> None:
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            raise ConfigError(f"--resume: {self.run_dir} has no complete checkpoint to resume from")
        doc = load_checkpoint(ckpt, self.networks(), self.optimizers)
        self.set_counters(doc["step"], doc, doc["images_seen"])
        self._wall_before = doc.get("wall_s", 0.0)
        self.batches.load_state_dict(doc["batches"])
        self.task.load_state_dict(doc.get("objective", {}))  # penalty weights the guard may have raised
        for name, state in doc.get("scalers", {}).items():
            if name in self.scalers:
                self.scalers[name].load_state_dict(state)
        for h in [*self.hooks, self.guard]:
            if hasattr(h, "load_state_dict") and type(h).__name__ in doc.get("hooks", {}):
                h.load_state_dict(doc["hooks"][type(h).__name__])
        lrs = {name: lr for name, (_, lr) in self.task.param_groups().items()}
        for name, opt in self.optimizers.items():
            for g in opt.param_groups:  # learning rates may be overridden on resume (the schedule then scales them)
                g["lr"] = lrs[name]
                if "lr_peak" in g:
                    g["lr_peak"] = lrs[name]
        self.log.write("resume", step=self.step, checkpoint=str(ckpt.relative_to(self.run_dir)))


def _postfix(rec: dict[str, Any], keys: dict[str, str]) -> str:
    """The progress bar's text: the task's headline statistics ({log key: label}) and images/s."""
    if not rec:
        return ""
    return " ".join([f"{label} {rec.get(k, float('nan')):.3f}" for k, label in keys.items()] + [f"{rec.get('img_s', 0):.0f} img/s"])


class _StopFlag:
    """Catches SIGINT / SIGTERM so the loop can finish its step and checkpoint before exiting."""

    def __init__(self) -> None:
        self.signal: int | None = None

    @contextlib.contextmanager
    def installed(self):  # noqa: ANN201 - context manager
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):  # noqa: ANN001, ARG001
            self.signal = signum

        for s in old:
            signal.signal(s, handler)
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)
