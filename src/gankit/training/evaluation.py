"""Evaluation during training: every ``eval.every`` steps (and at the end), score the averaged network's samples from
fixed latents, log an ``eval`` event with provenance, and keep the best model (RUN/best/)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ..metrics.evaluate import METRICS, evaluate_samples, is_better
from ..metrics.features import build_extractor
from .hooks import Hook

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer


class EvalHook(Hook):
    """Runs the configured metrics; tracks the best value of ``eval.best_metric``."""

    def __init__(self, trainer: "Trainer") -> None:
        ec = trainer.cfg.eval
        super().__init__(ec.every)
        self.metrics = list(ec.metrics)
        self.best_key = ec.best_metric or METRICS.get(self.metrics[0]).primary
        self.best: float | None = None
        self.best_step: int | None = None
        self.patience, self.since_best = ec.patience, 0
        self._extractor = None
        self.latents = trainer.task.latents(ec.n, torch.Generator().manual_seed(ec.seed + 1))

    def extractor(self, t: "Trainer") -> Any:
        if self._extractor is None:
            ec = t.cfg.eval
            name = t.info.extractor_name if ec.extractor == "auto" else ec.extractor
            # Building a network draws its initial weights from the global RNG; fork it so that evaluating
            # never changes the training's random stream (resume stays bitwise exact).
            with torch.random.fork_rng(devices=[t.device] if t.device.type == "cuda" else []):
                self._extractor = build_extractor(name, device=t.device, weights=ec.weights)
        return self._extractor

    def fire(self, t: "Trainer") -> None:
        ec = t.cfg.eval
        fake = t.task.scored(self.latents)
        result = evaluate_samples(fake, t.info, t.cfg.data, self.metrics, extractor=self.extractor(t), n_real=ec.n, seed=ec.seed)
        t.log.write("eval", step=t.step, **result)
        value = result.get(self.best_key)
        if value is not None and is_better(self.best_key, value, self.best):
            self.best, self.best_step = value, t.step
            t.export(t.run_dir / "best", extra={self.best_key: value})
            t.log.write("best", step=t.step, metric=self.best_key, value=value)
            self.since_best = 0
        else:
            self.since_best += 1
            if self.patience and self.since_best >= self.patience:
                t.log.write("early_stop", step=t.step, metric=self.best_key, best=self.best, best_step=self.best_step,
                            evaluations_without_improvement=self.since_best)
                t.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "since_best": self.since_best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = state.get("best"), state.get("best_step")
        self.since_best = state.get("since_best", 0)


def eval_hooks(trainer: "Trainer") -> list[Hook]:
    """[EvalHook] when metrics are configured, else []."""
    return [EvalHook(trainer)] if trainer.cfg.eval.metrics else []
