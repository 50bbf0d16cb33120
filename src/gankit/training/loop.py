"""The training loop: n_critic D updates, one G update, EMA, then the hooks (log, samples, checkpoint).

Read it top to bottom: :meth:`Trainer.__init__` builds everything from the config, :meth:`Trainer.run`
is the loop. The math of a step lives in the objective (training/objectives.py); periodic work lives in
hooks (training/hooks.py). Counting: ``step`` is one G update; ``d_updates`` and ``images_seen`` (real
images shown to D) are counted separately.
"""
from __future__ import annotations

import copy
import json
import random
import signal
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
from ..losses import build_loss
from ..models import build_models
from ..models.pretrained import export_generator
from .checkpoint import latest_checkpoint, load_checkpoint
from .ema import ema_beta, update_ema
from .distributed import check_batch, from_environment
from .evaluation import eval_hooks
from .health import DivergenceGuard, HealthHook
from .hooks import CheckpointHook, LogHook, MetricsLog, SampleHook
from .snapshots import ReportHook, snapshot_hooks
from .tensorboard import tensorboard_hooks
from .objectives import build_objective
from .performance import apply_lr_schedule, compile_targets, lr_factor, precision_context, resolve_precision


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
    """Adam(β1, β2), RMSprop or SGD(momentum=β1) with the given learning rate.

    Adam and SGD use PyTorch's fused kernels (one kernel over all parameters; on this project's 2-core CPU a DCGAN's
    Adam step takes 1.6 ms fused against 6.0 ms with foreach kernels), RMSprop the foreach ones.
    """
    params = list(params)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return torch.optim.SGD(params, lr=lr, momentum=cfg.beta1, fused=True)


def grad_norm(module: nn.Module) -> torch.Tensor:
    """L2 norm of all gradients of ``module`` (a 0-d tensor; no device sync)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class Trainer:
    """One run: data, networks, optimizers, objective, hooks and counters.

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

        # Data: an endless stream of batches on the device, and what the models need to know about it.
        data = build_dataset(cfg.data)
        self.info = info_of(data, cfg.data.name)
        if cfg.model.conditional and not self.info.num_classes:
            raise ConfigError(f"model.conditional: {cfg.data.name!r} has no labels; set model.conditional=false")
        shard = (self.dist.rank, self.dist.world)
        self.batches = make_batches(data, tc.batch_size, self.device, tc.seed, shard)

        # Networks: G, D and G_ema (a slowly moving average of G, used for samples and export).
        G, D, self.g_kwargs, self.d_kwargs = build_models(cfg.model, self.info, pack=cfg.trick.pack)
        self.G, self.D = G.to(self.device), D.to(self.device)
        images = len(self.info.shape) == 3  # C×H×W samples (toys are flat vectors)
        self.memory_format = torch.channels_last if tc.channels_last and images else torch.contiguous_format
        if self.memory_format == torch.channels_last:
            self.G, self.D = self.G.to(memory_format=self.memory_format), self.D.to(memory_format=self.memory_format)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.precision = resolve_precision(tc.precision, self.device, images)
        self.autocast, self.scalers = precision_context(self.precision, self.device)
        self.opt_g = make_optimizer(tc, self.G.parameters(), tc.lr_g)
        self.opt_d = make_optimizer(tc, self.D.parameters(), tc.lr_d)
        # The math of a step: adversarial loss + penalties (cfg.reg), D's view (cfg.augment, cfg.trick), tricks.
        self.objective = build_objective(cfg, build_loss(cfg.loss), self.info.num_classes if cfg.model.conditional else 0,
                                         shard, self.D, self.opt_d)
        if tc.compile:  # after the objective saw the eager D (feature-matching checks); state-dict keys are unchanged
            for net in compile_targets(cfg, self.G, self.D):
                net.compile()

        self.step = self.d_updates = self.images_seen = 0
        self._wall_before, self._t_start = 0.0, None
        self.last_log: dict[str, Any] = {}
        if self.dist.is_main:  # only rank 0 writes
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.run_dir / "metrics.jsonl" if self.dist.is_main else None)
        # Periodic work, in order: log, evaluate, samples, checkpoint (which saves the others' state),
        # toy snapshots, TensorBoard, and the report last, after everything.
        self.log_hook = LogHook(tc.log_every)
        self.guard = DivergenceGuard(self)
        self.health = HealthHook(self) if cfg.health.monitor else None
        self.hooks = [self.log_hook, *([self.health] if self.health else []), *eval_hooks(self), SampleHook(tc.sample_every, self),
                      CheckpointHook(tc.checkpoint_every), *snapshot_hooks(self), *tensorboard_hooks(self), ReportHook()]
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
                       params_G=sum(p.numel() for p in self.G.parameters()),
                       params_D=sum(p.numel() for p in self.D.parameters()))
        self.guard.start(self)
        stop = _StopFlag()
        self._t_start = time.perf_counter()
        bar = tqdm(total=tc.steps, initial=self.step, disable=not (tc.progress and self.dist.is_main), unit="step", dynamic_ncols=True)
        with stop.installed():
            while self.step < tc.steps:
                stats = self.train_step()
                # The divergence guard: NaN/inf or an exploding D rolls back before anything is logged or saved.
                if self.guard.check(self, stats):
                    continue
                # Hooks: log, health, evaluation, samples, checkpoint (each decides whether it is due).
                self.log_hook.accumulate(stats)
                for hook in self.hooks:
                    hook(self)
                bar.update(1)
                if self.step % 10 == 0 or self.step == tc.steps:
                    bar.set_postfix_str(_postfix(self.last_log))
                if self.dist.any(stop.signal is not None or self.should_stop, self.device):
                    break
        bar.close()
        self._wall_before, self._t_start = self.wall_time(), None
        for hook in self.hooks:  # final samples and checkpoint (skipped where just written)
            if not hook.due(self):
                hook(self, final=True)
        if self.dist.is_main:
            self.export()
        self.dist.close()
        summary = {"step": self.step, "d_updates": self.d_updates, "images_seen": self.images_seen,
                   "wall_s": round(self._wall_before, 2), "run_dir": str(self.run_dir), "rollbacks": self.guard.retries,
                   "health": self.health.summary() if self.health else {}, "early_stopped": self.should_stop}
        self.log.write("end", **summary, interrupted=stop.signal is not None)
        if stop.signal is not None:
            raise Interrupted(f"stopped by {signal.Signals(stop.signal).name} at step {self.step} (checkpoint written); "
                              f"resume with: gankit train --resume {self.run_dir}", stop.signal)
        return summary

    def train_step(self) -> dict[str, torch.Tensor]:
        """One step: n_critic D updates, one G update, the EMA of G. Returns the step's statistics
        (averaged over processes, so every rank sees the same numbers)."""
        tc = self.cfg.train
        # 0. the learning-rate schedule; growing networks (ProGAN) set their resolution and fade-in from the images shown.
        if tc.lr_decay != "none":
            apply_lr_schedule((self.opt_g, self.opt_d), lr_factor(tc, self.step))
        for net in (self.G, self.D):
            if hasattr(net, "progress"):
                net.progress(self.images_seen)
        # 1. n_critic discriminator updates, each on a fresh real batch.
        for _ in range(tc.n_critic):
            real, labels = self.batches.next()
            if self.memory_format == torch.channels_last:
                real = real.contiguous(memory_format=torch.channels_last)
            with self.autocast():
                d_loss, d_stats = self.objective.d_loss(self.G, self.D, real, labels, d_update=self.d_updates, step=self.step)
            d_stats["d_grad_norm"] = self._update(self.D, self.opt_d, d_loss, "D")
            self.objective.after_d_step(self.D)  # constraints (weight clipping)
            self.d_updates += 1
            self.images_seen += tc.batch_size
        # 2. one generator update.
        with self.autocast():
            g_loss, g_stats = self.objective.g_loss(self.G, self.D, tc.batch_size // self.dist.world, self.device, step=self.step)
        g_stats["g_grad_norm"] = self._update(self.G, self.opt_g, g_loss, "G")
        # 3. the moving average of G.
        update_ema(self.G_ema, self.G, ema_beta(tc.batch_size, self.images_seen, tc.ema_kimg, tc.ema_rampup))
        self.step += 1
        return self.dist.average({**d_stats, **g_stats})

    def _update(self, net: nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, name: str) -> torch.Tensor:
        """Backward, all-reduce, gradient norm, optimizer step (through the fp16 gradient scaler when there is one)."""
        opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(name)
        if scaler is None:
            loss.backward()
            self.dist.sync_grads(net)
            norm = grad_norm(net)
            opt.step()
            return norm
        scaler.scale(loss).backward()
        self.dist.sync_grads(net)
        scaler.unscale_(opt)
        norm = grad_norm(net)
        scaler.step(opt)  # skipped when the scaled gradients overflowed
        scaler.update()
        return norm

    # ------------------------------------------------------------------ helpers used by hooks and the API

    @torch.inference_mode()
    def generate(self, z: torch.Tensor, c: torch.Tensor | None = None, batch: int = 512) -> torch.Tensor:
        """G_ema(z, c) on CPU, in chunks: N×... samples in data space."""
        out = []
        for i in range(0, len(z), batch):
            zc = z[i:i + batch].to(self.device)
            cc = c[i:i + batch].to(self.device) if c is not None else None
            out.append(self.G_ema(zc, cc).float().cpu())
        return torch.cat(out)

    @staticmethod
    def device_is_cpu(name: str) -> bool:
        return name == "cpu" or (name == "auto" and not torch.cuda.is_available())

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema}

    def wall_time(self) -> float:
        """Seconds spent in the loop so far, over all resumed segments."""
        running = time.perf_counter() - self._t_start if self._t_start is not None else 0.0
        return self._wall_before + running

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready counters and data order (networks, optimizers and RNGs are saved by the checkpoint)."""
        hooks = {type(h).__name__: h.state_dict() for h in [*self.hooks, self.guard] if hasattr(h, "state_dict")}
        return {"d_updates": self.d_updates, "images_seen": self.images_seen, "wall_s": self.wall_time(),
                "batches": self.batches.state_dict(), "hooks": hooks, "objective": self.objective.state_dict(),
                "scalers": {k: {n: float(v) if isinstance(v, float) else v for n, v in sc.state_dict().items()}
                            for k, sc in self.scalers.items()}}

    def export(self) -> Path:
        """RUN/generator/: config.json + model.safetensors of G_ema, enough to sample without the run config."""
        return export_generator(self.G_ema, self.cfg.model.name, self.g_kwargs, self.info.to_dict(),
                                self.run_dir / "generator", extra={"step": self.step, "run_config": self.cfg.to_dict()})

    def _restore(self) -> None:
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            raise ConfigError(f"--resume: {self.run_dir} has no complete checkpoint to resume from")
        doc = load_checkpoint(ckpt, self.networks(), {"G": self.opt_g, "D": self.opt_d})
        self.step, self.d_updates, self.images_seen = doc["step"], doc["d_updates"], doc["images_seen"]
        self._wall_before = doc.get("wall_s", 0.0)
        self.batches.load_state_dict(doc["batches"])
        self.objective.load_state_dict(doc.get("objective", {}))  # penalty weights the guard may have raised
        for name, state in doc.get("scalers", {}).items():
            if name in self.scalers:
                self.scalers[name].load_state_dict(state)
        for h in [*self.hooks, self.guard]:
            if hasattr(h, "load_state_dict") and type(h).__name__ in doc.get("hooks", {}):
                h.load_state_dict(doc["hooks"][type(h).__name__])
        for group, lr in ((self.opt_g.param_groups, self.cfg.train.lr_g), (self.opt_d.param_groups, self.cfg.train.lr_d)):
            for g in group:  # learning rates may be overridden on resume (the schedule then scales them)
                g["lr"] = lr
                if "lr_peak" in g:
                    g["lr_peak"] = lr
        self.log.write("resume", step=self.step, checkpoint=str(ckpt.relative_to(self.run_dir)))


def _postfix(rec: dict[str, Any]) -> str:
    if not rec:
        return ""
    return f"D {rec.get('d_loss', float('nan')):.3f} G {rec.get('g_loss', float('nan')):.3f} {rec.get('img_s', 0):.0f} img/s"


class _StopFlag:
    """Catches SIGINT / SIGTERM so the loop can finish its step and checkpoint before exiting."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def installed(self):  # noqa: ANN201 - context manager
        import contextlib
        import threading

        @contextlib.contextmanager
        def ctx():  # noqa: ANN202
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

        return ctx()
